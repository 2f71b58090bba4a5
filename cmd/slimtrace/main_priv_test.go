package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/trace"
)

func TestBadInputs(t *testing.T) {
	privtest.Root(t)
	cases := []struct {
		name string
		cred *syscall.Credential
		args []string
		want string
	}{
		{"not root", &syscall.Credential{Uid: 65534, Gid: 65534}, []string{"trace", "--", "true"}, "needs root"},
		{"missing cgroup", nil, []string{"trace", "--cgroup", "/no/such/cgroup"}, "does not exist"},
		{"command and cgroup", nil, []string{"trace", "--cgroup", "/", "--", "true"}, "either a command"},
		{"nothing to trace", nil, []string{"trace"}, "either a command"},
		{"missing command", nil, []string{"trace", "--", "/no/such/binary"}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := run(t, c.cred, c.args...)
			if code == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q: want one line with %q", code, stderr, c.want)
			}
		})
	}
	assertNoCgroupsLeft(t)
}

func TestTraceCommand(t *testing.T) {
	privtest.Root(t)
	out := filepath.Join(t.TempDir(), "r.json")
	stdout, stderr, code := run(t, nil, "trace", "-o", out, "--", "sh", "-c", "cat /etc/hostname; exit 3", "--password=trace-pw-secret")
	if code != 3 {
		t.Errorf("exit %d, want the command's 3; stderr %s", code, stderr)
	}
	for _, want := range []string{"Files (", "hostname", "Execs (", "Syscalls (", "(complete)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	r, b := readTrace(t, out)
	if r.File("/etc/hostname") == nil {
		t.Errorf("JSON report lacks /etc/hostname")
	}
	// A secret-looking flag's value is redacted on stdout and in the JSON,
	// and shown with --show-secret-args.
	if strings.Contains(stdout, "trace-pw-secret") || strings.Contains(string(b), "trace-pw-secret") ||
		!strings.Contains(stdout, "--password=<redacted>") {
		t.Errorf("the exec's --password value is not redacted:\n%s", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the JSON report's mode: %v %v", fi.Mode(), err)
	}
	stdout, _, _ = run(t, nil, "trace", "--show-secret-args", "--", "sh", "-c", "true", "--password=trace-pw-secret")
	if !strings.Contains(stdout, "--password=trace-pw-secret") {
		t.Errorf("--show-secret-args does not show the value:\n%s", stdout)
	}
	assertNoCgroupsLeft(t)
}

// TestTraceExistingCgroup attaches to a cgroup whose process is already
// running and stops after --duration.
func TestTraceExistingCgroup(t *testing.T) {
	privtest.Root(t)
	g, err := cgroup.Create(fmt.Sprintf("slimtrace-cli-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	dir, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	marker := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	loop := exec.Command("sh", "-c", "while :; do cat "+marker+" >/dev/null; sleep 0.1; done")
	loop.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = loop.Process.Kill(); _ = loop.Wait() }()

	out := filepath.Join(t.TempDir(), "r.json")
	start := time.Now()
	_, stderr, code := run(t, nil, "trace", "-q", "-o", out, "--cgroup", g.Path, "--duration", "1s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if d := time.Since(start); d < time.Second || d > 20*time.Second {
		t.Errorf("--duration 1s took %s", d)
	}
	r, _ := readTrace(t, out)
	if f := r.File(marker); f == nil || !f.OK() {
		t.Errorf("marker not in the trace of the running cgroup; files: %d", len(r.Files))
	}
	if r.Target.CgroupID != g.ID {
		t.Errorf("cgroup id %d, want %d", r.Target.CgroupID, g.ID)
	}
}

func assertNoCgroupsLeft(t *testing.T) {
	t.Helper()
	root, err := cgroup.Mountpoint()
	if err != nil {
		t.Fatal(err)
	}
	// tracer.Run names its cgroups slimtrace-<12 hex digits>.
	entries, _ := filepath.Glob(filepath.Join(root, "slimtrace-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]"))
	for _, e := range entries {
		t.Errorf("cgroup left behind: %s", e)
	}
}

// TestTraceMaxFiles: a command opening more distinct files than
// --trace-max-files gets an incomplete trace that says so and how many
// paths it did not list.
func TestTraceMaxFiles(t *testing.T) {
	privtest.Root(t)
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "r.json")
	_, stderr, code := run(t, nil, "trace", "-q", "--trace-max-files", "50", "-o", out, "--", "sh", "-c",
		`for i in $(seq 300); do : > "$0/f$i"; done`, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "THE TRACE IS INCOMPLETE") || !strings.Contains(stderr, "past --trace-max-files") {
		t.Errorf("stderr does not say the trace was cut:\n%s", stderr)
	}
	r, _ := readTrace(t, out)
	if len(r.Files) != 50 || r.Lost.Unlisted < 250 {
		t.Errorf("%d files listed, %d unlisted; want 50 and at least 250", len(r.Files), r.Lost.Unlisted)
	}
	assertNoCgroupsLeft(t)
}

// readTrace reads the JSON report `trace -o` wrote, and its bytes.
func readTrace(t *testing.T, path string) (*trace.Report, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r trace.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r, b
}
