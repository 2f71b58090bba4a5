package session

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/profile"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

const testNamespace = "slimtrace-session-test"

// env returns the containerd address and a fixture tarball, or skips.
func env(t *testing.T, fixture string) (addr, tar string) {
	t.Helper()
	return privtest.ContainerdAddress(t), privtest.Fixture(t, fixture)
}

func options(t *testing.T, addr, ref string) Options {
	return Options{
		Store:         image.Options{Address: addr, Namespace: testNamespace, StatePath: t.TempDir()},
		Image:         ref,
		HTTPProbe:     true,
		Probe:         probe.Options{RetryCount: 4, RetryWait: 250 * time.Millisecond},
		ContinueAfter: ContinueProbe,
		StopTimeout:   5 * time.Second,
		Tool:          "slimtrace test",
		Command:       "profile",
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	return l.WithContext(ctx)
}

// assertClean checks that no container, task or snapshot of ours is left
// in the test namespace, and no program of ours is attached.
func assertClean(t *testing.T, addr string) {
	t.Helper()
	for _, what := range [][]string{{"containers", "ls", "-q"}, {"tasks", "ls"}, {"snapshots", "ls"}} {
		out, err := exec.Command("ctr", append([]string{"-a", addr, "-n", testNamespace}, what...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %v: %v\n%s", what, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "slimtrace-") {
				t.Errorf("left behind (%s): %s", what[0], line)
			}
		}
	}
	if names, err := tracer.Attached(); err != nil || len(names) > 0 {
		t.Errorf("programs still attached: %v %v", names, err)
	}
}

func fileOf(rep *creport.Container, path string) *creport.File {
	for i := range rep.Files {
		if rep.Files[i].Path == path {
			return &rep.Files[i]
		}
	}
	return nil
}

func TestProfileBusybox(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	res, err := profileRun(testContext(t), options(t, addr, "docker-archive:"+tar))
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Probe.Passed == 0 || rep.Probe.Failed != 0 || rep.Probe.HTTP[0].Status != 200 {
		t.Errorf("probes: %+v", rep.Probe)
	}
	if f := fileOf(rep, "/www/index.html"); f == nil || !f.InImage || f.Size == 0 || !slices.Contains(f.Kinds, "read") {
		t.Errorf("/www/index.html: %+v", f)
	}
	if f := fileOf(rep, "/bin/busybox"); f == nil || !slices.Contains(f.Kinds, "exec") || f.Type != "file" {
		t.Errorf("/bin/busybox: %+v", f)
	}
	if f := fileOf(rep, "/www/about.html"); f != nil {
		t.Errorf("/www/about.html was never requested but is in the files: %+v", f)
	}
	for _, f := range rep.Files {
		if strings.HasPrefix(f.Path, "/proc/self/fd") {
			t.Errorf("runc's own setup is in the app's files: %s", f.Path)
		}
	}
	if !rep.Complete {
		t.Errorf("incomplete trace: %+v", rep.Lost)
	}
	// busybox httpd listens on an IPv6 stream socket; the report says so.
	if !slices.ContainsFunc(rep.NetworkFamilies, func(f trace.NetworkFamily) bool {
		return f.Family == "inet6" && f.Type == "stream" && f.Calls > 0 && !f.Setup
	}) || !rep.Tracer.CapabilitiesRecorded {
		t.Errorf("network families %+v, capabilities recorded %v", rep.NetworkFamilies, rep.Tracer.CapabilitiesRecorded)
	}

	dir := t.TempDir()
	if err := writeArtifacts(res, dir); err != nil {
		t.Fatal(err)
	}
	var sec struct {
		DefaultAction string
		Syscalls      []struct{ Names []string }
	}
	b, err := os.ReadFile(rep.Artifacts.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	allowed := sec.Syscalls[0].Names
	for _, s := range []string{"accept", "bind", "listen", "sendfile", "execve"} {
		if !slices.Contains(allowed, s) {
			t.Errorf("seccomp profile lacks observed %s", s)
		}
	}
	for _, s := range []string{"ptrace", "mount", "unshare", "bpf", "keyctl"} {
		if slices.Contains(allowed, s) {
			t.Errorf("seccomp profile allows %s, which busybox httpd never makes", s)
		}
	}
	if sec.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Errorf("default action %s", sec.DefaultAction)
	}
	for _, p := range []string{rep.Artifacts.Report, rep.Artifacts.AppArmor} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

func TestProfilePython(t *testing.T) {
	addr, tar := env(t, "python-app")
	defer assertClean(t, addr)
	opts := options(t, addr, "docker-archive:"+tar)
	info, err := probe.ParseCmd("/api/info")
	if err != nil {
		t.Fatal(err)
	}
	opts.Probe.Cmds = []probe.Cmd{info}
	res, err := profileRun(testContext(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Probe.Passed != 2 || rep.Probe.Failed != 0 {
		t.Errorf("probes: %+v", rep.Probe)
	}
	want := []string{"/app/server.py", "/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/decimal.py",
		"/usr/lib/python3.11/http/server.py"}
	for _, p := range want {
		if f := fileOf(rep, p); f == nil || !f.InImage || !slices.Contains(f.Results, "ok") {
			t.Errorf("%s: %+v", p, f)
		}
	}
	python := false
	for _, f := range rep.Files {
		if slices.Contains(f.Kinds, "exec") && strings.Contains(f.Path+f.Resolved, "python3") {
			python = true
		}
		for _, never := range []string{"/usr/lib/python3.11/sqlite3/", "/usr/lib/python3.11/tkinter/", "/app/static/"} {
			if strings.HasPrefix(f.Path, never) {
				t.Errorf("%s was never used but is in the files", f.Path)
			}
		}
	}
	if !python {
		t.Errorf("python's exec missing from the files")
	}
}

func TestProfileFailures(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	junk := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(junk, []byte("this is not a tar archive at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(o *Options)
		want []string
	}{
		{"missing image", func(o *Options) { o.Image = "slimtrace-no-such-image:latest" },
			[]string{"not found", testNamespace}},
		{"malformed archive", func(o *Options) { o.Image = "docker-archive:" + junk }, []string{"junk.tar"}},
		{"exits at once", func(o *Options) { o.Run.Cmd = []string{"true"}; o.Run.Entrypoint = []string{"/bin/busybox"} },
			[]string{"8080", "exited with status 0"}},
		{"fails at once", func(o *Options) {
			// As `--entrypoint /bin/false` with the default probe
			// settings (five retries, doubling waits from 1 s): the
			// probes stop when the app exits, not 23 s later.
			o.Run.Entrypoint = []string{"/bin/busybox", "sh", "-c", "echo starting; echo cannot bind >&2; exit 3"}
			o.Probe.RetryCount, o.Probe.RetryWait = 5, time.Second
		}, []string{"exited while the HTTP probes ran", "exited with status 3", "cannot bind"}},
		{"never listens", func(o *Options) {
			o.Run.Entrypoint = []string{"/bin/busybox", "sh", "-c", "echo not listening; exec /bin/busybox sleep 600"}
		}, []string{"8080", "still running", "not listening"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := options(t, addr, "docker-archive:"+tar)
			c.edit(&o)
			start := time.Now()
			_, err := profileRun(testContext(t), o)
			if err == nil {
				t.Fatal("no error")
			}
			if took := time.Since(start); c.name == "fails at once" && took > 3*time.Second {
				t.Errorf("an app that exits at once failed after %s, want under 3 s", took)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			assertClean(t, addr)
		})
	}
}

// TestProfileCancel cancels (as Ctrl-C does) while the probes wait for a
// port that never opens: Profile returns at once and leaves nothing.
func TestProfileCancel(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	o := options(t, addr, "docker-archive:"+tar)
	o.Run.Entrypoint = []string{"/bin/busybox", "sleep", "600"}
	o.Probe.RetryCount, o.Probe.RetryWait = 50, time.Second
	ctx, cancel := context.WithCancel(testContext(t))
	var progress strings.Builder
	o.Progress = &syncWriter{w: &progress, onWrite: func(s string) {
		if strings.Contains(s, "probing") {
			time.AfterFunc(500*time.Millisecond, cancel)
		}
	}}
	start := time.Now()
	_, err := profileRun(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cancel took %s to return", d)
	}
}

type syncWriter struct {
	w       *strings.Builder
	onWrite func(string)
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.onWrite(string(p))
	return s.w.Write(p)
}

// TestExecKeptApart: a command run with --exec inside the target is traced
// as its own lineage; what only it touched is not among the app's files.
func TestExecKeptApart(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	o := options(t, addr, "docker-archive:"+tar)
	o.Execs = [][]string{{"/bin/busybox", "cat", "/www/about.html"}}
	res, err := profileRun(testContext(t), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if len(rep.Probe.Exec) != 1 || rep.Probe.Exec[0].ExitCode != 0 || rep.Probe.Exec[0].Pid == 0 {
		t.Fatalf("exec probe: %+v", rep.Probe.Exec)
	}
	if fileOf(rep, "/www/about.html") != nil {
		t.Error("/www/about.html, read only by --exec, is among the app's files")
	}
	found := false
	for _, f := range rep.ExecFiles {
		if f.Path == "/www/about.html" && f.InImage {
			found = true
		}
	}
	if !found {
		t.Errorf("/www/about.html missing from exec_files: %+v", rep.ExecFiles)
	}
}

// TestSeccompProfileEnforced: the image starts and passes its probes with
// the seccomp profile made from its own trace enforced by runc.
func TestSeccompProfileEnforced(t *testing.T) {
	for _, fixture := range []string{"busybox-httpd", "python-app"} {
		t.Run(fixture, func(t *testing.T) {
			addr, tar := env(t, fixture)
			defer assertClean(t, addr)
			o := options(t, addr, "docker-archive:"+tar)
			first, err := profileRun(testContext(t), o)
			if err != nil {
				t.Fatal(err)
			}
			sec, err := profile.Seccomp(first.Trace, profile.SeccompOptions{})
			if err != nil {
				t.Fatal(err)
			}
			oci, err := profile.OCI(sec)
			if err != nil {
				t.Fatal(err)
			}
			o.Run.Seccomp = oci
			// mkdir(2) was never made by the app: refused under the profile.
			o.Execs = [][]string{{"/bin/busybox", "mkdir", "/slimtrace-test-dir"}}
			second, err := profileRun(testContext(t), o)
			if err != nil {
				t.Fatalf("under its own seccomp profile: %v", err)
			}
			http := func(p creport.Probes) (pass int) {
				for _, q := range p.HTTP {
					if q.Error == "" && q.Status < 400 {
						pass++
					}
				}
				return pass
			}
			if http(second.Report.Probe) != http(first.Report.Probe) || http(first.Report.Probe) == 0 {
				t.Errorf("probes under the profile: %+v, without: %+v", second.Report.Probe, first.Report.Probe)
			}
			if fixture == "busybox-httpd" {
				if ex := second.Report.Probe.Exec; len(ex) != 1 || ex[0].ExitCode == 0 ||
					!strings.Contains(strings.Join(ex[0].Output, " "), "not permitted") {
					t.Errorf("mkdir ran under a profile without mkdir: %+v", ex)
				}
			}
			for i, q := range second.Report.Probe.HTTP {
				if q.SHA256 != first.Report.Probe.HTTP[i].SHA256 {
					t.Errorf("probe %s answered differently under the profile", q.Resource)
				}
			}
		})
	}
}

// TestConcurrentRuns: two runs of different images at once keep their
// traces apart.
func TestConcurrentRuns(t *testing.T) {
	addr, busybox := env(t, "busybox-httpd")
	_, python := env(t, "python-app")
	defer assertClean(t, addr)
	type out struct {
		res *result
		err error
	}
	run := func(img string) chan out {
		c := make(chan out, 1)
		go func() {
			r, err := profileRun(testContext(t), options(t, addr, "docker-archive:"+img))
			c <- out{r, err}
		}()
		return c
	}
	bc, pc := run(busybox), run(python)
	b, p := <-bc, <-pc
	if b.err != nil || p.err != nil {
		t.Fatalf("busybox: %v; python: %v", b.err, p.err)
	}
	for _, f := range b.res.Report.Files {
		if strings.Contains(f.Path, "python") || strings.HasPrefix(f.Path, "/app/") {
			t.Errorf("busybox run has a python file: %s", f.Path)
		}
	}
	for _, f := range p.res.Report.Files {
		if strings.HasPrefix(f.Path, "/www/") || f.Path == "/bin/busybox" {
			t.Errorf("python run has a busybox file: %s", f.Path)
		}
	}
	if fileOf(p.res.Report, "/app/server.py") == nil || fileOf(b.res.Report, "/www/index.html") == nil {
		t.Error("a run lost its own files")
	}
}

// TestContinueAfterExit: a command-line tool traced until it exits by
// itself, with a mounted input that never counts as an image file.
func TestContinueAfterExit(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "in.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := options(t, addr, "docker-archive:"+tar)
	o.HTTPProbe = false
	o.ContinueAfter = ContinueExit
	o.Run.Entrypoint = []string{"/bin/busybox", "cat", "/data/in.txt", "/www/about.html"}
	o.Run.Mounts = []string{data + ":/data:ro"}
	res, err := profileRun(testContext(t), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.Exit == nil || rep.Exit.Code != 0 || rep.Exit.Reason != "exited by itself" {
		t.Errorf("exit: %+v", rep.Exit)
	}
	if f := fileOf(rep, "/data/in.txt"); f == nil || !f.Volume || f.InImage {
		t.Errorf("/data/in.txt: %+v", f)
	}
	if f := fileOf(rep, "/www/about.html"); f == nil || f.Volume || !f.InImage {
		t.Errorf("/www/about.html: %+v", f)
	}
}

func TestParseContinueAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"timeout": DefaultTimeout, "15": 15 * time.Second, "probe": 0} {
		if _, d, err := ParseContinueAfter(in); err != nil || d != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "0", "-3", "soon"} {
		if _, _, err := ParseContinueAfter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// noExpose is busybox-httpd without its EXPOSE, as images often come.
func noExpose(t *testing.T) string {
	return privtest.RewriteArchive(t, privtest.Fixture(t, "busybox-httpd"), func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			delete(c["config"].(map[string]any), "ExposedPorts")
		}
	})
}

// TestProbeListeningPorts: an image that exposes no port is probed on the
// ports its app listens on (a server that forks per request: its profile
// must allow what serving needs), and a run in which it served nothing is
// marked start-up only.
func TestProbeListeningPorts(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	defer assertClean(t, addr)
	tar := noExpose(t)
	o := options(t, addr, "docker-archive:"+tar)
	res, err := profileRun(testContext(t), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if len(rep.Probe.HTTP) == 0 || rep.Probe.HTTP[0].Port != 8080 || rep.Probe.Passed == 0 || rep.StartupOnly {
		t.Errorf("probes of the port listened on: %+v (startup only %v)", rep.Probe.HTTP, rep.StartupOnly)
	}
	if !slices.ContainsFunc(rep.Syscalls, func(s trace.Syscall) bool { return s.Name == "accept" || s.Name == "accept4" }) {
		t.Errorf("the trace shows no request accepted: %v", rep.Syscalls)
	}

	// Not probed: start-up only.
	o = options(t, addr, "docker-archive:"+tar)
	o.HTTPProbe, o.ContinueAfter = false, "2"
	res, err = profileRun(testContext(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Report.StartupOnly {
		t.Errorf("a server never probed is not marked start-up only: syscalls %v", res.Report.Syscalls)
	}
	var sum strings.Builder
	res.Report.Summary(&sum)
	if !strings.Contains(sum.String(), "START-UP ONLY: requests were never seen") {
		t.Errorf("summary:\n%s", sum.String())
	}
}
