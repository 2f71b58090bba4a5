package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

const resolveHelperEnv = "SLIMTRACE_CGROUP_RESOLVE_PID"

// TestMain lets the test binary be the helper that resolves a pid's
// cgroup from inside a cgroup namespace of its own.
func TestMain(m *testing.M) {
	if pid := os.Getenv(resolveHelperEnv); pid != "" {
		n, _ := strconv.Atoi(pid)
		dir, err := ProcessDir(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rel, _ := processPath(pid)
		fmt.Print(rel + "\n" + dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestProcessDirInCgroupNamespace: slimtrace in a container with a cgroup
// namespace of its own (a DaemonSet pod) sees /proc/PID/cgroup paths
// relative to it ("/../sibling"); ProcessDir still finds the directory.
func TestProcessDirInCgroupNamespace(t *testing.T) {
	privtest.Root(t)
	base := fmt.Sprintf("slimtrace-cgns-test-%d", os.Getpid())
	parent, err := Create(base)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := parent.Remove(); err != nil {
			t.Errorf("removing %s: %v", parent.Path, err)
		}
	}()
	self, err := Create(base + "/self")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(base + "/pods"); err != nil {
		t.Fatal(err)
	}
	other, err := Create(base + "/pods/other")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := other.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("/bin/sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	err = sleeper.Start()
	fd.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()

	sfd, err := self.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer sfd.Close()
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), resolveHelperEnv+"="+strconv.Itoa(sleeper.Process.Pid))
	helper.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(sfd.Fd()),
		Cloneflags: syscall.CLONE_NEWCGROUP}
	out, err := helper.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	rel, got, _ := strings.Cut(string(out), "\n")
	if rel != "/../pods/other" {
		t.Errorf("the helper saw the sleeper in %q, want /../pods/other: not in a cgroup namespace of its own?", rel)
	}
	if filepath.Clean(got) != other.Path {
		t.Errorf("from a cgroup namespace, ProcessDir(%d) = %q, want %s", sleeper.Process.Pid, got, other.Path)
	}
}
