package tracer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// startIn starts args in cgroup g; the process is killed and reaped at
// the end of the test.
func startIn(t *testing.T, g *cgroup.Group, args ...string) *exec.Cmd {
	t.Helper()
	fd, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func newCgroup(t *testing.T, name string) *cgroup.Group {
	t.Helper()
	g, err := cgroup.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Remove(); err != nil {
			t.Errorf("removing cgroup %s: %v", g.Path, err)
		}
	})
	return g
}

// TestWatch: a watching tracer traces only the cgroups added to it: a
// running process's (adopted: its files are its lineage's, not setup's),
// and one added before its first process started (traced from its exec);
// a sibling cgroup stays out.
func TestWatch(t *testing.T) {
	privtest.Root(t)
	dir := t.TempDir()
	running, later, sibling := filepath.Join(dir, "running"), filepath.Join(dir, "later"), filepath.Join(dir, "sibling")
	spawnedFile, droppedFile := filepath.Join(dir, "spawned"), filepath.Join(dir, "dropped")
	for _, p := range []string{running, later, sibling, spawnedFile, droppedFile} {
		mustWrite(t, p)
	}
	fifo := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	parent := newCgroup(t, fmt.Sprintf("slimtrace-watch-%d", os.Getpid()))
	a := newCgroup(t, filepath.Base(parent.Path)+"/a")
	b := newCgroup(t, filepath.Base(parent.Path)+"/b")
	pod := newCgroup(t, filepath.Base(parent.Path)+"/pod")
	c := newCgroup(t, filepath.Base(parent.Path)+"/pod/c")

	// Running before tracing: blocked on the fifo, then reads its file.
	run := startIn(t, a, "/bin/sh", "-c", "read x < "+fifo+"; cat "+running+"; sleep 60")
	seen := make(chan struct{})
	var once sync.Once
	tr, err := Open(Options{Cgroup: parent, Watch: true, OnEvent: func(ev trace.Event) {
		if f, ok := ev.(*trace.FileEvent); ok && f.Path == running {
			once.Do(func() { close(seen) })
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Watch(a, uint32(run.Process.Pid)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Watch(pod, 0); err != nil { // a pod: its containers come later
		t.Fatal(err)
	}
	// A runtime putting containers straight below one parent: its new
	// cgroups are watched from their creation; one is dropped.
	spawner := newCgroup(t, filepath.Base(parent.Path)+"/flat")
	if err := tr.Spawn(spawner); err != nil {
		t.Fatal(err)
	}
	spawned := newCgroup(t, filepath.Base(parent.Path)+"/flat/c1")
	dropped := newCgroup(t, filepath.Base(parent.Path)+"/flat/c2")
	if err := tr.Unwatch(dropped.ID); err != nil {
		t.Fatal(err)
	}
	if err := tr.Watch(&cgroup.Group{Path: "/elsewhere", Level: parent.Level + 1}, 0); err == nil {
		t.Error("Watch took a cgroup outside the target")
	}
	// The fifo releases the running process; the later one starts now.
	if err := os.WriteFile(fifo, []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	late := startIn(t, c, "/bin/cat", later)
	other := startIn(t, b, "/bin/cat", sibling)
	flat := startIn(t, spawned, "/bin/cat", spawnedFile)
	gone := startIn(t, dropped, "/bin/cat", droppedFile)
	for _, cmd := range []*exec.Cmd{late, other, flat, gone} {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Errorf("the running process's read of %s never arrived", running)
	}
	// The running process's sleep, blocked when tracing stops, is counted
	// from /proc for its cgroup; the sibling's calls are not counted.
	waitBlocked(t, tr, a, "clock_nanosleep")
	r, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	assertNothingAttached(t)
	if !slices.ContainsFunc(r.Syscalls, func(s trace.Syscall) bool { return s.Name == "clock_nanosleep" && s.CgroupID == a.ID }) {
		t.Errorf("clock_nanosleep (in flight) not counted for %s: %+v", a.Path, r.Syscalls)
	}
	if i := slices.IndexFunc(r.Syscalls, func(s trace.Syscall) bool { return s.CgroupID == b.ID }); i >= 0 {
		t.Errorf("a syscall of the unwatched %s was counted: %+v", b.Path, r.Syscalls[i])
	}
	f := wantFile(t, r, running, trace.AccessRead, "ok")
	if f != nil && !slices.Contains(f.Lineages, uint32(run.Process.Pid)) {
		t.Errorf("%s has lineages %v, want the adopted %d", running, f.Lineages, run.Process.Pid)
	}
	wantFile(t, r, later, trace.AccessRead, "ok")
	if !slices.ContainsFunc(r.Execs, func(e trace.Exec) bool { return e.Pid == uint32(late.Process.Pid) }) {
		t.Errorf("the exec of cat (pid %d) in the watched pod is not in the trace: %+v", late.Process.Pid, r.Execs)
	}
	wantFile(t, r, spawnedFile, trace.AccessRead, "ok")
	for _, p := range []string{sibling, droppedFile} {
		if r.File(p) != nil {
			t.Errorf("%s is in the trace, from an unwatched cgroup", p)
		}
	}
}

// TestWatchCountsPerCgroup: watching, each cgroup's syscalls are counted
// as its own, and none is lost to an allocation the kernel refuses: 24
// containers started one after another on one CPU, each making a different
// number of execs, with no map entry made on the way (counts kept in
// hot_syscalls, preallocated). Before that, a busy machine lost the first
// calls of a new container now and then (5 runs in 40 beside a loaded
// nginx).
func TestWatchCountsPerCgroup(t *testing.T) {
	privtest.Root(t)
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		privtest.Skip(t, "taskset (util-linux) is missing")
	}
	parent := newCgroup(t, fmt.Sprintf("slimtrace-watch-counts-%d", os.Getpid()))
	pod := newCgroup(t, filepath.Base(parent.Path)+"/pod")
	tr, err := Open(Options{Cgroup: parent, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Watch(pod, 0); err != nil {
		t.Fatal(err)
	}
	const n = 24 // within CGROUP_HOT
	groups := make([]*cgroup.Group, n)
	for i := range groups {
		groups[i] = newCgroup(t, fmt.Sprintf("%s/pod/c%d", filepath.Base(parent.Path), i))
		script := "for x in" + strings.Repeat(" x", i+1) + "; do /bin/true; done"
		cmd := startIn(t, groups[i], taskset, "-c", "0", "/bin/sh", "-c", script)
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	var key uint64
	var perCPU []slimtraceCgroupCounts
	for it := tr.maps.CgroupSyscalls.Iterate(); it.Next(&key, &perCPU); {
		t.Errorf("cgroup %d counted in cgroup_syscalls: an entry made while counting", key)
	}
	r, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r.Lost != (trace.Lost{}) {
		t.Errorf("lost %+v", r.Lost)
	}
	for i, g := range groups {
		// taskset's exec (made by Go in the cgroup), its exec of sh, and
		// one of /bin/true a round; each process's end.
		for name, want := range map[string]uint64{"execve": uint64(i + 3), "exit_group": uint64(i + 2)} {
			got := uint64(0)
			for _, s := range r.Syscalls {
				if s.CgroupID == g.ID && s.Name == name && !s.Compat {
					got += s.Count
				}
			}
			if got != want {
				t.Errorf("%s: %d %s counted, want %d", g.Path, got, name, want)
			}
		}
	}
}
