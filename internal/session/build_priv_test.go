package session

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/slimtrace/slimtrace/internal/builder"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
)

func buildkitAddress(t *testing.T) string {
	t.Helper()
	if a := os.Getenv("BUILDKIT_HOST"); a != "" {
		return a
	}
	if _, err := exec.LookPath("buildkitd"); err != nil {
		privtest.Skip(t, "no BUILDKIT_HOST and no buildkitd binary (make services)")
	}
	return "" // the builder starts one
}

func buildOptions(t *testing.T) BuildOptions {
	return BuildOptions{Builder: builder.Options{Address: buildkitAddress(t), StateDir: t.TempDir()}}
}

// entry is what a test compares of one path of an image.
type entry struct {
	mode     fs.FileMode
	uid, gid uint32
	link     string
	size     int64
}

// listImage mounts image and lists every path in it.
func listImage(t *testing.T, addr, name string) map[string]entry {
	t.Helper()
	ctx := testContext(t)
	rt, err := image.Connect(ctx, image.Options{Address: addr, Namespace: testNamespace, StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	img, err := rt.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.View(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	out := map[string]entry{}
	err = filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		e := entry{mode: info.Mode(), uid: st.Uid, gid: st.Gid}
		if info.Mode().IsRegular() {
			e.size = info.Size()
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			e.link, _ = os.Readlink(p)
		}
		rel := strings.TrimPrefix(p, v.Dir)
		if rel == "" {
			rel = "/"
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertSubset: every path of the slim image is in the fat one, alike.
func assertSubset(t *testing.T, fat, slim map[string]entry) {
	t.Helper()
	for p, s := range slim {
		if p == "/" {
			continue
		}
		f, ok := fat[p]
		if !ok {
			t.Errorf("%s is in the slim image but not in the fat one", p)
			continue
		}
		if f != s {
			t.Errorf("%s differs: fat %+v, slim %+v", p, f, s)
		}
	}
}

func TestBuild(t *testing.T) {
	for _, c := range []struct {
		fixture  string
		cmds     []string
		minRatio float64
	}{
		{"busybox-httpd", nil, 1}, // one static binary: only the unused pages go
		{"python-app", []string{"/api/info"}, 5},
	} {
		t.Run(c.fixture, func(t *testing.T) {
			addr, tar := env(t, c.fixture)
			defer assertClean(t, addr)
			o := options(t, addr, "docker-archive:"+tar)
			for _, s := range c.cmds {
				cmd, err := probe.ParseCmd(s)
				if err != nil {
					t.Fatal(err)
				}
				o.Probe.Cmds = append(o.Probe.Cmds, cmd)
			}
			ctx := testContext(t)
			res, err := buildRun(ctx, o, buildOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			slim := res.Report.Slim
			if slim.Ratio < c.minRatio || slim.Size >= slim.FatSize {
				t.Errorf("%s: %d -> %d bytes (%.1fx), want at least %.1fx", c.fixture, slim.FatSize, slim.Size, slim.Ratio, c.minRatio)
			}
			v, err := Verify(ctx, res.Run, slim.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Passed {
				t.Errorf("the slim image answers differently: %v", v.Diffs)
			}
			fat, thin := listImage(t, addr, res.Image.Name), listImage(t, addr, slim.Name)
			assertSubset(t, fat, thin)
			for _, f := range slim.Files {
				if len(f.Reasons) == 0 {
					t.Errorf("%s kept for no reason", f.Path)
				}
				if _, ok := thin[f.Path]; !ok {
					t.Errorf("%s is in the file set but not in the slim image", f.Path)
				}
			}
		})
	}
}

// TestBuildControls proves the user's controls on the busybox image:
// --include-path (with an owner override), --exclude-path, --include-shell,
// --new-cmd and --output type=docker.
func TestBuildControls(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	o := options(t, addr, "docker-archive:"+tar)
	b := buildOptions(t)
	inc, err := fileset.ParseIncludePath("/www/about.html:0600#1234#")
	if err != nil {
		t.Fatal(err)
	}
	b.Files = fileset.Options{IncludePaths: []fileset.IncludePath{inc}, ExcludePaths: []string{"/etc/**"},
		IncludeShell: true, NoAppDirs: true}
	b.Tag = "docker.io/slimtrace-test/controls:slim"
	b.Changes = ConfigChanges{Cmd: []string{"-p", "9090"}, Labels: map[string]string{"slimmed": "yes"}}
	out := filepath.Join(t.TempDir(), "slim.tar")
	b.Builder.Outputs = []builder.Output{{Type: "docker", Dest: out}}
	res, err := buildRun(testContext(t), o, b)
	if err != nil {
		t.Fatal(err)
	}
	files := listImage(t, addr, b.Tag)
	// The gid was not given: it stays the fat image's (0).
	if e, ok := files["/www/about.html"]; !ok || e.mode.Perm() != 0o600 || e.uid != 1234 || e.gid != 0 {
		t.Errorf("--include-path /www/about.html:0600#1234# gave %+v (present %v)", e, ok)
	}
	for p := range files {
		if strings.HasPrefix(p, "/etc/") {
			t.Errorf("%s kept despite --exclude-path /etc/**", p)
		}
	}
	if e, ok := files["/bin/sh"]; !ok || e.mode&fs.ModeSymlink == 0 {
		t.Errorf("--include-shell: /bin/sh %+v present %v", e, ok)
	}
	if res.Report.Slim.Output != out {
		t.Errorf("output %q, want %q", res.Report.Slim.Output, out)
	}
	// The tarball loads where docker images are loaded.
	load := exec.Command("ctr", "-a", addr, "-n", testNamespace, "images", "import", out)
	if b, err := load.CombinedOutput(); err != nil {
		t.Errorf("ctr images import of --output type=docker: %v\n%s", err, b)
	}
	// --new-cmd is the slim image's: it serves on 9090 now.
	o.Image = b.Tag
	o.Run.Expose = []string{"9090"}
	o.Probe.OnlyPorts = []int{9090}
	run, err := profileRun(testContext(t), o)
	if err != nil {
		t.Fatalf("running the slim image with its new CMD: %v", err)
	}
	if run.Report.Probe.Passed == 0 {
		t.Errorf("the slim image's new CMD does not serve on 9090: %+v", run.Report.Probe)
	}
	if !strings.Contains(strings.Join(run.Report.Run.Args, " "), "9090") {
		t.Errorf("slim image ran %v", run.Report.Run.Args)
	}
}

// TestBuildFailureLeavesNoTag: a build that cannot finish leaves no .slim
// image behind.
func TestBuildFailureLeavesNoTag(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	o := options(t, addr, "docker-archive:"+tar)
	b := buildOptions(t)
	b.Tag = "docker.io/slimtrace-test/never:slim"
	b.Builder.Address = "unix:///nonexistent/buildkitd.sock"
	b.Builder.NoStart = true
	_, err := buildRun(testContext(t), o, b)
	if err == nil {
		t.Fatal("build without buildkitd succeeded")
	}
	out, _ := exec.Command("ctr", "-a", addr, "-n", testNamespace, "images", "ls", "-q").CombinedOutput()
	if strings.Contains(string(out), "never:slim") {
		t.Errorf("a failed build left the tag: %s", out)
	}
	var notSmaller = errors.Is(err, ErrNotSmaller)
	if notSmaller {
		t.Errorf("unexpected error: %v", err)
	}
}

// TestBuildTagForms builds with --tag in every form users type, the short
// ones included (the README's `--tag my/app:slim` used to fail after the
// build and leave docker.io/my/app:slim behind), and from a source named by
// digest: each slim image is in the store under the name Docker would give
// it, and nothing else is tagged.
func TestBuildTagForms(t *testing.T) {
	addr, tar := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	ctx := testContext(t)
	ls := func() []string {
		out, err := exec.Command("ctr", "-a", addr, "-n", testNamespace, "images", "ls", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("ctr images ls: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	src, err := profileRun(ctx, options(t, addr, "docker-archive:"+tar))
	if err != nil {
		t.Fatal(err)
	}
	byDigest := "docker.io/slimtrace-fixtures/busybox-httpd@" + src.Image.Digest().String()
	for _, c := range []struct{ source, tag, want string }{
		{"docker-archive:" + tar, "tagform", "docker.io/library/tagform:latest"},
		{"docker-archive:" + tar, "tagform:1", "docker.io/library/tagform:1"},
		{"docker-archive:" + tar, "slimtrace-test/tagform:slim", "docker.io/slimtrace-test/tagform:slim"},
		{"docker-archive:" + tar, "localhost:5000/tagform:1", "localhost:5000/tagform:1"},
		{"docker-archive:" + tar, "docker.io/library/tagform2", "docker.io/library/tagform2:latest"},
		{byDigest, "", "docker.io/slimtrace-fixtures/busybox-httpd.slim:latest"},
	} {
		t.Run(c.tag, func(t *testing.T) {
			before := ls()
			b := buildOptions(t)
			b.Tag = c.tag
			res, err := buildRun(ctx, options(t, addr, c.source), b)
			if err != nil {
				t.Fatal(err)
			}
			defer exec.Command("ctr", "-a", addr, "-n", testNamespace, "images", "rm", c.want).Run()
			if res.Report.Slim.Name != c.want || !slices.Contains(res.Report.Slim.DeliveredTo, "containerd namespace "+testNamespace) {
				t.Errorf("slim image %q in %q, want %q in containerd", res.Report.Slim.Name, res.Report.Slim.DeliveredTo, c.want)
			}
			var added []string
			for _, n := range ls() {
				if !slices.Contains(before, n) {
					added = append(added, n)
				}
			}
			if !slices.Equal(added, []string{c.want}) && !(slices.Contains(before, c.want) && len(added) == 0) {
				t.Errorf("tags added: %q, want only %q", added, c.want)
			}
		})
	}
}
