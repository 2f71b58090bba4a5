package main

import (
	"archive/tar"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestBuildHostileMetadata: `slimtrace build` of images whose metadata
// would block or read the host (a FIFO as /etc/group, which containerd
// reads on the host to create the container; a FIFO as dpkg's status and a
// character device as a Python distribution's RECORD, which the file set
// reads) ends within a deadline: the first with one clear error naming the
// file, the second with a slim image and warnings naming both files; no
// container, task or mount is left, and no device byte is read.
func TestBuildHostileMetadata(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	if os.Getenv("BUILDKIT_HOST") == "" {
		privtest.Skip(t, "BUILDKIT_HOST is not set (make services)")
	}
	ns := "canary-cli-hostile-metadata"
	state := t.TempDir()
	defer run(t, nil, "--state-path", state, "prune", "--containerd", addr, "--namespace", ns)
	defer func() {
		out, _ := exec.Command("ctr", "-a", addr, "-n", ns, "images", "ls", "-q").Output()
		if imgs := strings.Fields(string(out)); len(imgs) > 0 {
			exec.Command("ctr", append([]string{"-a", addr, "-n", ns, "images", "rm"}, imgs...)...).Run()
		}
	}()
	leftovers := func() string {
		var left []string
		for _, what := range []string{"containers", "tasks"} {
			out, _ := exec.Command("ctr", "-a", addr, "-n", ns, what, "ls", "-q").Output()
			left = append(left, strings.Fields(string(out))...)
		}
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, state) {
				left = append(left, l)
			}
		}
		return strings.Join(left, "\n")
	}
	dir := func(name string) privtest.LayerEntry {
		return privtest.LayerEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
	}
	build := func(archive string, extra ...string) (string, string, int, time.Duration) {
		start := time.Now()
		args := append([]string{"--state-path", state, "build", "--containerd", addr, "--namespace", ns,
			"--continue-after", "probe"}, extra...)
		stdout, stderr, code := run(t, nil, append(args, "docker-archive:"+archive)...)
		return stdout, stderr, code, time.Since(start)
	}

	t.Run("group FIFO", func(t *testing.T) {
		archive := privtest.AddLayer(t, privtest.Fixture(t, "busybox-httpd"),
			privtest.LayerEntry{Header: tar.Header{Name: "etc/group", Typeflag: tar.TypeFifo, Mode: 0o644}})
		_, stderr, code, took := build(archive)
		if code == 0 {
			t.Fatal("built an image whose /etc/group is a FIFO")
		}
		if took > 60*time.Second {
			t.Errorf("failing took %s", took)
		}
		if !strings.Contains(stderr, "/etc/group") || !strings.Contains(stderr, "FIFO") {
			t.Errorf("the error does not name /etc/group as a FIFO:\n%s", stderr)
		}
		if l := leftovers(); l != "" {
			t.Errorf("left behind:\n%s", l)
		}
	})

	t.Run("dpkg status FIFO, RECORD device", func(t *testing.T) {
		site := "usr/lib/python3/dist-packages/"
		archive := privtest.AddLayer(t, privtest.Fixture(t, "busybox-httpd"),
			dir("var/"), dir("var/lib/"), dir("var/lib/dpkg/"),
			privtest.LayerEntry{Header: tar.Header{Name: "var/lib/dpkg/status", Typeflag: tar.TypeFifo, Mode: 0o644}},
			dir("usr/"), dir("usr/lib/"), dir("usr/lib/python3/"), dir(site), dir(site+"evil/"), dir(site+"evil-1.0.dist-info/"),
			privtest.LayerEntry{Header: tar.Header{Name: site + "evil-1.0.dist-info/RECORD", Typeflag: tar.TypeChar,
				Devmajor: 1, Devminor: 8, Mode: 0o644}}, // /dev/random
			privtest.LayerEntry{Header: tar.Header{Name: site + "evil/__init__.py", Mode: 0o644}, Data: "x = 1\n"},
			// The app serves the package's file, so the distribution is touched.
			privtest.LayerEntry{Header: tar.Header{Name: "www/evil.py", Typeflag: tar.TypeSymlink, Linkname: "/" + site + "evil/__init__.py"}},
		)
		stdout, stderr, code, took := build(archive, "--http-probe-cmd", "/evil.py")
		if code != 0 {
			t.Fatalf("build: exit %d\n%s\n%s", code, stdout, stderr)
		}
		if took > 120*time.Second {
			t.Errorf("the build took %s", took)
		}
		for _, w := range []string{"var/lib/dpkg/status", "FIFO", "evil-1.0.dist-info/RECORD", "character device"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("no warning names %q:\n%s", w, stdout)
			}
		}
		if l := leftovers(); l != "" {
			t.Errorf("left behind:\n%s", l)
		}
	})
}
