package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

func TestParse(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
		cmd  []string
	}{
		{[]string{"trace", "--", "ls", "-l", "/"}, true, []string{"--", "ls", "-l", "/"}},
		{[]string{"trace", "-q", "-o", "x.json", "--", "ls"}, true, []string{"--", "ls"}},
		{[]string{"trace", "--cgroup", "/x", "--duration", "3s"}, true, nil},
		{[]string{"--log-format", "yaml", "version"}, false, nil},
		{[]string{"trace", "--nope"}, false, nil},
	}
	for _, c := range cases {
		var cl cli
		p, err := kong.New(&cl, kong.Name("slimtrace"), kong.Exit(func(int) {}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Parse(c.args)
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v, want ok=%v", c.args, err, c.ok)
			continue
		}
		if c.ok && strings.Join(cl.Trace.Command, " ") != strings.Join(c.cmd, " ") {
			t.Errorf("%v: command %q, want %q", c.args, cl.Trace.Command, c.cmd)
		}
	}
}

// binary is the slimtrace binary the tests run, built once into binDir.
var binary, binDir string

// TestMain removes the binary's directory after the tests, and stops the
// Kubernetes node if a test here started it.
func TestMain(m *testing.M) {
	code := m.Run()
	privtest.StopK8sNode()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func build(t *testing.T) string {
	t.Helper()
	if binary == "" {
		// A directory of this run's own: a fixed name in /tmp would clash with another user's
		// run (the unprivileged and the root run of CI) or a concurrent one.
		dir, err := os.MkdirTemp("", "slimtrace-test-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
		// TestBadInputs runs it as nobody.
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "slimtrace"), ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		binary = filepath.Join(dir, "slimtrace")
	}
	return binary
}

func run(t *testing.T, cred *syscall.Credential, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runAs(t, cred, nil, args...)
}

// runAs runs the binary as cred (nil: this user) with env added to this
// process's environment.
func runAs(t *testing.T, cred *syscall.Credential, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(build(t), args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}
