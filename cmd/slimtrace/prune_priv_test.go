package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestKilledRunCleaned: a build killed with SIGKILL while its container runs,
// and one killed once its image view is mounted, leave nothing behind after
// the next run (info) or `slimtrace prune`: no container, task, active
// snapshot or lease in the namespace, no mount under the state path, no run
// directory.
func TestKilledRunCleaned(t *testing.T) {
	addr, tar := privtest.ContainerdAddress(t), privtest.Fixture(t, "busybox-httpd")
	ns := "slimtrace-cli-kill"
	state := t.TempDir()
	ctr := func(args ...string) []string {
		out, err := exec.Command("ctr", append([]string{"-a", addr, "-n", ns}, args...)...).Output()
		if err != nil {
			t.Fatalf("ctr %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	// Snapshots the image's layers hold are the image's, committed; a run's
	// are active (container) or views.
	runSnapshots := func() (out []string) {
		raw, _ := exec.Command("ctr", "-a", addr, "-n", ns, "snapshots", "ls").Output()
		for _, l := range strings.Split(string(raw), "\n")[1:] {
			if f := strings.Fields(l); len(f) == 3 && f[2] != "Committed" {
				out = append(out, f[0])
			}
		}
		return out
	}
	mountsUnder := func() (out []string) {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], state) {
				out = append(out, f[4])
			}
		}
		return out
	}
	assertClean := func(when string) {
		t.Helper()
		for what, left := range map[string][]string{
			"containers": ctr("containers", "ls", "-q"), "tasks": ctr("tasks", "ls", "-q"),
			"leases": ctr("leases", "ls", "-q"), "snapshots": runSnapshots(), "mounts": mountsUnder(),
		} {
			if len(left) > 0 {
				t.Errorf("%s: %s left: %v", when, what, left)
			}
		}
		ents, _ := os.ReadDir(state)
		for _, e := range ents {
			switch e.Name() {
			case "images": // artifacts
			case "buildkit": // a started buildkitd's state; no build's temporary directory
				if left, _ := filepath.Glob(filepath.Join(state, "buildkit", "build-*")); len(left) > 0 {
					t.Errorf("%s: build directories left: %v", when, left)
				}
			case "views": // the views' 0700 parent; no view may be left in it
				if left, _ := os.ReadDir(filepath.Join(state, "views")); len(left) > 0 {
					t.Errorf("%s: image views left: %v", when, left)
				}
			case "runs":
				if recs, _ := os.ReadDir(filepath.Join(state, "runs")); len(recs) > 0 {
					t.Errorf("%s: run records left: %v", when, recs)
				}
			default:
				t.Errorf("%s: %s left in the state path", when, e.Name())
			}
		}
	}
	// killAt starts a build and kills it with SIGKILL once ready says so
	// (given what the build printed so far).
	killAt := func(what string, ready func(stderr string) bool) {
		t.Helper()
		cmd := exec.Command(build(t), "--state-path", state, "build", "--containerd", addr, "--namespace", ns,
			"--continue-after", "3", "docker-archive:"+tar)
		var errb lockedBuffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(2 * time.Minute)
		for !ready(errb.String()) {
			select {
			case err := <-done:
				t.Fatalf("the build ended (%v) before %s:\n%s", err, what, errb.String())
			case <-deadline:
				cmd.Process.Kill()
				<-done
				t.Fatalf("no %s after 2 minutes:\n%s", what, errb.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		if len(ctr("containers", "ls", "-q"))+len(mountsUnder()) == 0 {
			t.Fatalf("killed at %s, the build left nothing to clean: the test tests nothing", what)
		}
	}
	defer func() {
		// Whatever the test left, prune takes it (and the image goes).
		run(t, nil, "--state-path", state, "prune", "--containerd", addr, "--namespace", ns)
		if imgs := ctr("images", "ls", "-q"); len(imgs) > 0 {
			exec.Command("ctr", append([]string{"-a", addr, "-n", ns, "images", "rm"}, imgs...)...).Run()
		}
	}()

	killAt("the container's task", func(string) bool { return len(ctr("tasks", "ls", "-q")) > 0 })
	if _, stderr, code := run(t, nil, "--state-path", state, "info", "--containerd", addr, "--namespace", ns, "docker-archive:"+tar); code != 0 {
		t.Fatalf("info: exit %d\n%s", code, stderr)
	}
	assertClean("after a kill while the container ran, then info")

	killAt("the image view", func(string) bool {
		for _, m := range mountsUnder() {
			if strings.HasSuffix(m, "-view") {
				return true
			}
		}
		return false
	})
	stdout, stderr, code := run(t, nil, "--state-path", state, "prune", "--containerd", addr, "--namespace", ns)
	if code != 0 || !strings.Contains(stdout, "removed") {
		t.Fatalf("prune: exit %d\n%s%s", code, stdout, stderr)
	}
	assertClean("after a kill with the image view mounted, then prune")

	// Killed while BuildKit builds the slim image: the view is still
	// mounted, and a build's lease or temporary directory may be held.
	killAt("the BuildKit build", func(stderr string) bool { return strings.Contains(stderr, "with BuildKit") })
	if _, stderr, code := run(t, nil, "--state-path", state, "info", "--containerd", addr, "--namespace", ns, "docker-archive:"+tar); code != 0 {
		t.Fatalf("info: exit %d\n%s", code, stderr)
	}
	assertClean("after a kill while BuildKit built, then info")
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
