package tracer

import (
	"fmt"
	"os"
	"testing"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/privtest"
)

// Attached sees this process's tracer while it is open, and not after.
func TestAttached(t *testing.T) {
	privtest.Root(t)
	g, err := cgroup.Create(fmt.Sprintf("slimtrace-attached-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	tr, err := Open(Options{Cgroup: g})
	if err != nil {
		t.Fatal(err)
	}
	want := 6 // sys_exit (no sys_enter), the three sched_process_*, cgroup_mkdir, cgroup_attach_task
	if capsSupported() == nil {
		want++ // and cap_capable
	}
	names, err := Attached()
	if err != nil || len(names) != want {
		t.Errorf("while open: %v %v, want %d programs", names, err, want)
	}
	// Loaded sees them too (and any other tracer running on the host).
	if loaded, err := Loaded(); err != nil || len(loaded) < want {
		t.Errorf("Loaded while open: %v %v, want at least %d programs", loaded, err, want)
	}
	if _, err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if names, err := Attached(); err != nil || len(names) != 0 {
		t.Errorf("after Close: %v %v", names, err)
	}
}
