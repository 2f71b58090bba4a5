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

var binary string

func build(t *testing.T) string {
	t.Helper()
	if binary == "" {
		binary = filepath.Join(os.TempDir(), "slimtrace-test-"+strings.TrimPrefix(t.Name(), "Test"))
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	return binary
}

func run(t *testing.T, cred *syscall.Credential, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(build(t), args...)
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
