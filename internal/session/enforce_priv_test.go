package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/profile"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// attackPath is where the attack binary is mounted in the container.
const attackPath = "/slimtrace-attack"

// attacks are the calls testdata/attack.c makes, with what each returns
// without seccomp (as root without CAP_SYS_ADMIN, containerd's default
// capabilities): never EPERM.
var attacks = map[string]int{
	"unshare": 0,     // unshare(0)
	"mount":   -2,    // ENOENT: the mount point does not exist
	"ptrace":  -3,    // ESRCH: PTRACE_ATTACH to a pid that cannot exist
	"keyctl":  -95,   // EOPNOTSUPP: no such operation
	"bpf":     -22,   // EINVAL: no such command
	"socket":  anyFD, // socket(AF_PACKET, SOCK_RAW): CAP_NET_RAW allows it
	"clone":   anyFD, // clone(CLONE_NEWUSER): a child's pid; user namespaces need no capability
}

const (
	eperm = -1
	// anyFD stands for a file descriptor or a pid (any number >= 0).
	anyFD = 1 << 30
)

// attackOK says whether ret is what want describes.
func attackOK(want, ret int) bool {
	if want == anyFD {
		return ret >= 0
	}
	return ret == want
}

// buildAttack compiles testdata/attack.c for this machine: static, no
// libc, so the only syscalls it makes are its attacks, write and
// exit_group.
func buildAttack(t testing.TB) string {
	t.Helper()
	cc := ""
	for _, c := range []string{"cc", "gcc", "clang"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		privtest.Skip(t, "no C compiler (cc, gcc or clang) to build testdata/attack.c")
	}
	out := filepath.Join(t.TempDir(), "attack")
	cmd := exec.Command(cc, "-static", "-nostdlib", "-fno-pie", "-no-pie", "-fno-stack-protector", "-ffreestanding",
		"-O2", "-o", out, filepath.Join("testdata", "attack.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	return out
}

// attackResults parses the attack's output ("NAME RET" lines).
func attackResults(t *testing.T, lines []string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, l := range lines {
		name, ret, ok := strings.Cut(strings.TrimSpace(l), " ")
		if _, known := attacks[name]; !ok || !known {
			continue
		}
		n, err := strconv.Atoi(ret)
		if err != nil {
			t.Fatalf("attack output %q", l)
		}
		got[name] = n
	}
	if len(got) != len(attacks) {
		t.Fatalf("attack output lacks results: %q", lines)
	}
	return got
}

// expected is an app's expect.json.
type expected struct {
	Port      int
	Responses []struct {
		Method, Resource, Body, Contains, SHA256 string
		Status                                   int
	}
}

func readExpected(t *testing.T, app string) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appDir(app), "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// checkExpected compares the probes of a run with expect.json: every route
// answered with its status, and with its exact body where expect.json has
// one (by digest: the report keeps the body's SHA-256).
func checkExpected(t *testing.T, what string, exp expected, probes creport.Probes) {
	t.Helper()
	if probes.Failed != 0 {
		t.Errorf("%s: %d probes failed: %+v", what, probes.Failed, probes)
	}
	for _, r := range exp.Responses {
		i := slices.IndexFunc(probes.HTTP, func(p creport.HTTPProbe) bool {
			return p.Method == r.Method && p.Resource == r.Resource && p.Port == exp.Port
		})
		if i < 0 {
			t.Errorf("%s: %s %s was not probed", what, r.Method, r.Resource)
			continue
		}
		p := probes.HTTP[i]
		want := r.SHA256
		if r.Body != "" {
			sum := sha256.Sum256([]byte(r.Body))
			want = hex.EncodeToString(sum[:])
		}
		if p.Status != r.Status || p.Error != "" || (want != "" && p.SHA256 != want) {
			t.Errorf("%s: %s %s: status %d (want %d), sha256 %s (want %q), error %q", what, r.Method, r.Resource,
				p.Status, r.Status, p.SHA256, want, p.Error)
		}
	}
}

// loadLine is a bounded sustained load on the target's first port, from
// inside its network namespace; stillUp checks afterwards that it answers.
const (
	loadLine    = `nsenter --net="$SLIMTRACE_NETNS" wrk -t2 -c16 -d4s "http://127.0.0.1:$SLIMTRACE_TARGET_PORT/"`
	stillUpLine = `nsenter --net="$SLIMTRACE_NETNS" curl -fsS -o /dev/null -m 5 "http://127.0.0.1:$SLIMTRACE_TARGET_PORT/"`
)

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrkLoad reads wrk's output: requests made, non-2xx/3xx answers and
// socket errors.
type wrkLoad struct{ requests, non2xx, connect, read, write, timeout int }

func parseWrk(t *testing.T, lines []string) wrkLoad {
	t.Helper()
	out := strings.Join(lines, "\n")
	var w wrkLoad
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no wrk summary in %q", out)
	}
	w.requests, _ = strconv.Atoi(m[1])
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		w.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := wrkErrors.FindStringSubmatch(out); m != nil {
		w.connect, _ = strconv.Atoi(m[1])
		w.read, _ = strconv.Atoi(m[2])
		w.write, _ = strconv.Atoi(m[3])
		w.timeout, _ = strconv.Atoi(m[4])
	}
	return w
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			privtest.Skip(t, tool+" is not installed (apt-get install "+tool+")")
		}
	}
}

// kubeletForm renders p as the kubelet's Localhost file and decodes it as
// containerd's CRI does (straight into the runtime-spec struct): the
// profile enforced below is the one a cluster would load.
func kubeletForm(t *testing.T, p *seccomp.Seccomp) *specs.LinuxSeccomp {
	t.Helper()
	var b bytes.Buffer
	if err := profile.WriteKubelet(&b, p); err != nil {
		t.Fatal(err)
	}
	var out specs.LinuxSeccomp
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// dockerForm renders p as the moby JSON file and loads it as dockerd does
// for docker run --security-opt seccomp=FILE (moby/profiles LoadProfile,
// which picks the host's architecture from the archMap).
func dockerForm(t *testing.T, p *seccomp.Seccomp) *specs.LinuxSeccomp {
	t.Helper()
	var b bytes.Buffer
	if err := profile.WriteJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}}
	out, err := seccomp.LoadProfile(b.String(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeccompEnforcedApps profiles three sample apps, builds their slim
// images, and runs the fat and the slim image with the generated profile
// enforced by runc: every probe answers as expect.json says, a bounded
// sustained load (wrk) gets no errors and the app still answers after it,
// and calls the app never made (unshare, mount, ptrace, keyctl, bpf,
// socket for AF_PACKET, clone with CLONE_NEWUSER) get EPERM, which they do
// not get without the profile.
//
// The fat image runs as docker run --security-opt seccomp=FILE would run
// it: the moby JSON loaded by moby's loader, noNewPrivileges off, so runc
// installs the filter before it drops privileges. The slim image runs as a
// kubelet would run it with a Localhost profile and
// allowPrivilegeEscalation: false: the kubelet file decoded into the
// runtime-spec struct, noNewPrivileges on (containerd's default).
func TestSeccompEnforcedApps(t *testing.T) {
	needTools(t, "wrk", "nsenter", "curl")
	attack := buildAttack(t)
	for _, app := range []string{"python-app", "go-static", "nginx-static"} {
		t.Run(app, func(t *testing.T) {
			addr, tar := env(t, app)
			defer assertClean(t, addr)
			ctx := testContext(t)
			exp := readExpected(t, app)
			cmds, err := probe.ParseFile(filepath.Join(appDir(app), "probes.json"))
			if err != nil {
				t.Fatal(err)
			}
			o := options(t, addr, "docker-archive:"+tar)
			o.Probe.Cmds = cmds
			built, err := buildRun(ctx, o, buildOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			slim := built.Report.Slim.Name
			defer removeImage(t, addr, slim)
			sec, sum, err := profile.SeccompWithSummary(built.Trace, profile.SeccompOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for name := range attacks {
				if slices.Contains(sum.Allowed, name) && name != "socket" && name != "clone" {
					t.Fatalf("the profile allows %s: the app made it, so it cannot be attacked with it", name)
				}
			}
			// clone is allowed without namespace flags: the app made no
			// namespace.
			if !sum.NamespacesDenied {
				t.Fatalf("the profile lets clone make namespaces")
			}
			// socket is allowed for the families the app used, which
			// AF_PACKET is not.
			if len(sum.SocketFamilies) == 0 || slices.Contains(sum.SocketFamilies, 17) {
				t.Fatalf("socket families %v: want some, not AF_PACKET", sum.SocketFamilies)
			}
			tight, err := profile.SeccompTightness(sec)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d syscalls allowed (%d only for runc, socket for families %v), Docker's default %d (%.2f); not in Docker's: %v",
				app, len(sum.Allowed), len(sum.RuntimeOnly), sum.SocketFamilies, tight.DockerDefault, tight.Fraction,
				tight.NotInDockerDefault)
			run := func(img string, sec *specs.LinuxSeccomp, newPrivs, load bool) *result {
				r := o
				r.Image = img
				r.Run.Seccomp = sec
				r.Run.NewPrivileges = newPrivs
				r.Run.Mounts = []string{attack + ":" + attackPath + ":ro"}
				r.Execs = [][]string{{attackPath}}
				if load {
					r.ExecProbes = []string{loadLine, stillUpLine}
				}
				res, err := profileRun(ctx, r)
				if err != nil {
					t.Fatalf("%s: %v", img, err)
				}
				return res
			}

			for _, c := range []struct {
				image    string
				sec      *specs.LinuxSeccomp
				newPrivs bool
			}{
				{o.Image, dockerForm(t, sec), true},
				{slim, kubeletForm(t, sec), false},
			} {
				image := c.image
				res := run(image, c.sec, c.newPrivs, true)
				rep := res.Report
				checkExpected(t, image, exp, rep.Probe)
				if len(rep.Probe.Exec) != 3 {
					t.Fatalf("%s: exec probes %+v", image, rep.Probe.Exec)
				}
				for name, ret := range attackResults(t, rep.Probe.Exec[0].Output) {
					if ret != eperm {
						t.Errorf("%s: %s returned %d under the profile, want EPERM (-1)", image, name, ret)
					}
				}
				l := parseWrk(t, rep.Probe.Exec[1].Output)
				t.Logf("%s under the profile: %d requests in 4 s, %d non-2xx, socket errors %d/%d/%d/%d", image,
					l.requests, l.non2xx, l.connect, l.read, l.write, l.timeout)
				if rep.Probe.Exec[1].ExitCode != 0 || l.requests < 100 || l.non2xx != 0 ||
					l.connect+l.read+l.write+l.timeout != 0 {
					t.Errorf("%s: load under the profile: %+v\n%s", image, l, strings.Join(rep.Probe.Exec[1].Output, "\n"))
				}
				if up := rep.Probe.Exec[2]; up.ExitCode != 0 {
					t.Errorf("%s: not answering after the load: %+v", image, up)
				}
				if rep.Exit == nil || rep.Exit.Reason != "stopped by slimtrace" {
					t.Errorf("%s: the app did not stay up: %+v, logs %q", image, rep.Exit, rep.Logs)
				}
			}

			// The same calls without the profile: none is refused with
			// EPERM, so the EPERM above came from the filter.
			res := run(o.Image, nil, true, false)
			got := attackResults(t, res.Report.Probe.Exec[0].Output)
			for name, want := range attacks {
				if !attackOK(want, got[name]) {
					t.Errorf("without the profile %s returned %d, want %d", name, got[name], want)
				}
			}
		})
	}
}

func removeImage(t *testing.T, addr, name string) {
	t.Helper()
	if name == "" {
		return
	}
	if b, err := exec.Command("ctr", "-a", addr, "-n", testNamespace, "images", "rm", name).CombinedOutput(); err != nil {
		t.Logf("removing %s: %v %s", name, err, b)
	}
}

// attackRun runs the attack binary as the entrypoint of a busybox-httpd
// container, with sec enforced, untraced: what runc needs between the
// filter and the exec is all that runs besides the attack itself.
type attackRun struct {
	st     *image.Store
	img    *image.Image
	attack string
}

func newAttackRun(ctx context.Context, t testing.TB) *attackRun {
	t.Helper()
	addr, tar := privtest.ContainerdAddress(t), privtest.Fixture(t, "busybox-httpd")
	attack := buildAttack(t)
	rt, err := image.Connect(ctx, image.Options{Address: addr, Namespace: testNamespace, StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	img, err := rt.Resolve(ctx, "docker-archive:"+tar)
	if err != nil {
		t.Fatal(err)
	}
	return &attackRun{st: rt, img: img, attack: attack}
}

// run starts the container; it returns the exit code and output, or the
// error that kept it from starting.
func (a *attackRun) run(ctx context.Context, sec *specs.LinuxSeccomp, newPrivs bool) (code int, out []string, err error) {
	tg, err := container.NewRuntime(a.st).Create(ctx, a.img, container.RunConfig{Entrypoint: []string{attackPath},
		Mounts: []string{a.attack + ":" + attackPath + ":ro"}, Network: container.NetworkHost, Seccomp: sec,
		NewPrivileges: newPrivs})
	if err != nil {
		return 0, nil, err
	}
	defer tg.Close(context.WithoutCancel(ctx))
	exitc := tg.Wait()
	if err := tg.Start(ctx); err != nil {
		return 0, nil, err
	}
	select {
	case st := <-exitc:
		// The output is read from the container's pipes after the exit.
		deadline := time.Now().Add(2 * time.Second)
		for len(tg.Logs()) < len(attacks) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		for _, l := range tg.Logs() {
			out = append(out, l.Text)
		}
		return st.Code, out, nil
	case <-time.After(30 * time.Second):
		return 0, nil, fmt.Errorf("the attack did not exit")
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
}

// lateTrace is what a tracer attached as runc init execs the entrypoint
// would see of the attack binary: the execve, its writes and exit_group.
func lateTrace() *trace.Report {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	return trace.NewCollector(trace.Limits{}, nil).Report(trace.Target{}, trace.Tracer{Arch: arch}, time.Now(), time.Now(),
		[]trace.Syscall{{Name: "execve", Count: 1}, {Name: "write", Count: 5}, {Name: "exit_group", Count: 1}}, trace.Lost{})
}

// privilegeModes are where runc installs the filter: with
// noNewPrivileges (containerd's default, Kubernetes with
// allowPrivilegeEscalation: false) just before the exec; without it
// (docker run's default) before it drops privileges and capabilities.
var privilegeModes = []struct {
	name     string
	newPrivs bool
}{
	{"no-new-privileges", false},
	{"new-privileges", true},
}

// TestSeccompRuntimeBaseline: a profile of only what the entrypoint made
// (OmitRuntime, from a trace that missed runc init) keeps the container
// from starting; the same trace with the runtime baseline starts it, and
// the attack is still refused. Both ways runc may install the filter.
func TestSeccompRuntimeBaseline(t *testing.T) {
	ctx := testContext(t)
	a := newAttackRun(ctx, t)
	defer assertClean(t, a.st.Address())
	for _, mode := range privilegeModes {
		for _, tc := range []struct {
			name  string
			opts  profile.SeccompOptions
			start bool
		}{
			{"without the baseline", profile.SeccompOptions{OmitRuntime: true}, false},
			{"with the baseline", profile.SeccompOptions{}, true},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				p, err := profile.Seccomp(lateTrace(), tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				oci, err := profile.OCI(p)
				if err != nil {
					t.Fatal(err)
				}
				code, out, err := a.run(ctx, oci, mode.newPrivs)
				switch {
				case !tc.start:
					if err == nil && code == 0 && len(out) > 0 {
						t.Fatalf("the entrypoint ran (exit %d, %q) without runc's syscalls", code, out)
					}
					// runc init dies under the filter; how it is reported
					// depends on where (runc create's error, the init gone
					// before its cgroup is read, a start that fails).
					t.Logf("refused as expected: exit %d, output %q, %v", code, out, err)
				case err != nil:
					t.Fatalf("did not start with the baseline: %v", err)
				default:
					if code != 0 {
						t.Errorf("exit %d, output %q", code, out)
					}
					for name, ret := range attackResults(t, out) {
						if ret != eperm {
							t.Errorf("%s returned %d, want EPERM", name, ret)
						}
					}
				}
			})
		}
	}
}

// BenchmarkSeccompRuntimeBaseline measures which names of the runtime
// baseline this machine's runc really needs, in each privilege mode: it
// removes each in turn from a profile of the baseline plus the attack's
// write and exit_group and starts the attack under it. A measurement, not a
// test (2 x 38 container starts):
//
//	go test -run '^$' -bench SeccompRuntimeBaseline -benchtime 1x ./internal/session
func BenchmarkSeccompRuntimeBaseline(b *testing.B) {
	for _, mode := range privilegeModes {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				measureBaseline(b, mode.newPrivs)
			}
		})
	}
}

func measureBaseline(b *testing.B, newPrivs bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a := newAttackRun(ctx, b)
	full, err := profile.Seccomp(lateTrace(), profile.SeccompOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var needed, spare []string
	for _, name := range profile.RuntimeSyscalls() {
		p := *full
		rule := *p.Syscalls[0]
		rule.Names = slices.DeleteFunc(slices.Clone(rule.Names), func(n string) bool { return n == name })
		p.Syscalls = []*seccomp.Syscall{&rule}
		oci, err := profile.OCI(&p)
		if err != nil {
			b.Fatal(err)
		}
		code, out, err := a.run(ctx, oci, newPrivs)
		if err == nil && code == 0 && len(out) == len(attacks) {
			spare = append(spare, name)
		} else {
			needed = append(needed, name)
			msg := ""
			if err != nil {
				msg = err.Error()
				if i := strings.LastIndex(msg, ": "); i > 0 && len(msg) > 160 {
					msg = msg[len(msg)-160:]
				}
			}
			b.Logf("without %s: exit %d, output %d lines, %s", name, code, len(out), msg)
		}
	}
	b.Logf("runc needs %d of the %d baseline names here: %v", len(needed), len(profile.RuntimeSyscalls()), needed)
	b.Logf("not needed here: %v", spare)
	b.ReportMetric(float64(len(needed)), "needed")
}
