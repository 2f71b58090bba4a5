package trace

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a//b/./c/":  "/a/b/c",
		"/a/../b":     "/a/../b",
		"/":           "/",
		"/./":         "/",
		"/usr/bin/sh": "/usr/bin/sh",
		"/usr/bin/":   "/usr/bin",
		"/a/.":        "/a",
		"/a/./b":      "/a/b",
		"/.a/b./c.d":  "/.a/b./c.d",
		"/a/..":       "/a/..",
		"usr/lib":     "/usr/lib",
		"//x":         "/x",
	} {
		if got := CleanPath(in); got != want {
			t.Errorf("CleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A path already clean is returned as is: no copy.
func TestCleanPathKeepsClean(t *testing.T) {
	p := strings.Clone("/usr/lib/x86_64-linux-gnu/libc.so.6")
	if q := CleanPath(p); unsafe.StringData(q) != unsafe.StringData(p) {
		t.Errorf("CleanPath copied a clean path")
	}
	if a := testing.AllocsPerRun(100, func() { _ = CleanPath(p) }); a != 0 {
		t.Errorf("CleanPath of a clean path: %.0f allocations", a)
	}
}

// The collector's report holds the table's strings: the paths the events
// carried, and a cleaned path once.
func TestCollectorSharesPaths(t *testing.T) {
	paths := NewPaths(0)
	ev := paths.String("/etc/passwd")
	c := NewCollector(Limits{}, paths)
	h := Header{Pid: 10, Lineage: 10}
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: ev, Opened: ev})
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: "/etc//hosts", Opened: "/etc/hosts"})
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: "/etc/./hosts", Opened: paths.String("/etc/hosts")})
	r := c.Report(Target{}, Tracer{}, time.Time{}, time.Time{}, nil, Lost{})
	if len(r.Files) != 2 {
		t.Fatalf("files: %+v", r.Files)
	}
	for _, f := range r.Files {
		if want := paths.String(f.Path); unsafe.StringData(f.Path) != unsafe.StringData(want) {
			t.Errorf("%s: not the table's string", f.Path)
		}
		if len(f.Opened) != 1 || unsafe.StringData(f.Opened[0]) != unsafe.StringData(f.Path) {
			t.Errorf("%s: opened %q is another string", f.Path, f.Opened)
		}
	}
	if n, b := paths.Len(); n != 2 || b != len("/etc/passwd")+len("/etc/hosts") {
		t.Errorf("table: %d paths, %d bytes", n, b)
	}
}

func TestPaths(t *testing.T) {
	var paths Paths // the zero value is usable
	b := []byte("/app/main.py")
	s := paths.Bytes(b)
	b[1] = 'X' // the caller's buffer is its own
	if s != "/app/main.py" || paths.Bytes([]byte("/app/main.py")) != s {
		t.Fatalf("got %q", s)
	}
	if unsafe.StringData(paths.String("/app/main.py")) != unsafe.StringData(s) {
		t.Error("String returned another copy")
	}
	long := strings.Clone("/srv/data/file and more")
	if p := paths.String(long[:len("/srv/data/file")]); p != "/srv/data/file" || unsafe.StringData(p) == unsafe.StringData(long) {
		t.Error("a substring was kept with its string")
	}
	if paths.Bytes(nil) != "" || paths.String("") != "" {
		t.Error("empty path")
	}
	if a := testing.AllocsPerRun(100, func() { _ = paths.Bytes(b[:4]) }); a != 0 {
		t.Errorf("a known path: %.0f allocations", a)
	}
}

// A table holds no more than its limit: past it, paths are copies for
// their callers, and the report's limits bound it.
func TestPathsLimit(t *testing.T) {
	paths := NewPaths(2)
	a, b := paths.Bytes([]byte("/a")), paths.String("/b")
	c1, c2 := paths.Bytes([]byte("/c")), paths.Bytes([]byte("/c"))
	if c1 != "/c" || c2 != "/c" || unsafe.StringData(c1) == unsafe.StringData(c2) {
		t.Errorf("past the limit: %q, %q, shared %t", c1, c2, unsafe.StringData(c1) == unsafe.StringData(c2))
	}
	if n, _ := paths.Len(); n != 2 || paths.Shared("/c") != "/c" {
		t.Errorf("table holds %d paths, want 2", n)
	}
	if unsafe.StringData(paths.Bytes([]byte("/a"))) != unsafe.StringData(a) || paths.String("/b") != b {
		t.Error("the paths within the limit are no longer shared")
	}
	for _, c := range []struct {
		l    Limits
		want int
	}{
		{Limits{}, 2*DefaultMaxFiles + 2*DefaultMaxExecs},
		{Limits{Files: 50, Execs: 1}, 102},
		{Limits{Files: -1}, 0},
	} {
		if got := c.l.Paths(); got != c.want {
			t.Errorf("%+v.Paths() = %d, want %d", c.l, got, c.want)
		}
	}
	// A collector's own table is bounded by its limits.
	col := NewCollector(Limits{Files: 3, Execs: 1}, nil)
	for i := range 100 {
		col.Add(&FileEvent{Header: Header{Pid: 1}, Syscall: "openat", Access: AccessRead, Path: fmt.Sprintf("/f%d", i)})
	}
	if n, _ := col.paths.Len(); n != 3 {
		t.Errorf("collector's table holds %d paths past its limits, want 3", n)
	}
}

func TestCollector(t *testing.T) {
	c := NewCollector(Limits{}, nil)
	h := Header{Pid: 10, Tid: 10, Lineage: 10}
	c.Add(&ExecEvent{Header: h, PPid: 1, Filename: "/bin/sh", Binary: "/usr/bin/dash", Argv: []string{"sh"}})
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: "/etc//passwd", Opened: "/etc/passwd"})
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: "/etc/passwd", Opened: "/etc/passwd"})
	c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: "/nope", Errno: 2})
	c.Add(&ForkEvent{Header: h, Child: 11})
	c.Add(&FileEvent{Header: Header{Pid: 11, Lineage: 10}, Syscall: "newfstatat", Access: AccessStat, Path: "/etc/passwd", OnMount: true})
	c.Add(&ExitEvent{Header: Header{Pid: 11, Lineage: 10}, Code: 3})
	r := c.Report(Target{Cgroup: "/x"}, Tracer{Arch: "x86_64"}, time.Unix(0, 0), time.Unix(1, 0),
		[]Syscall{{Name: "write", Count: 2}, {Name: "openat", Count: 3}}, Lost{})

	f := r.File("/etc/passwd")
	if f == nil || len(f.Accesses) != 2 || !f.OnMount || len(f.Opened) != 1 || !f.OK() || !f.Has(AccessStat) {
		t.Fatalf("/etc/passwd: %+v", f)
	}
	if n := r.File("/nope"); n == nil || n.OK() || n.Accesses[0].Result != "ENOENT" {
		t.Errorf("/nope: %+v", n)
	}
	if b := r.File("/bin/sh"); b == nil || !b.Has(AccessExec) || b.Opened[0] != "/usr/bin/dash" {
		t.Errorf("exec file: %+v", b)
	}
	if len(r.Processes) != 2 || r.Processes[1].PPid != 10 || !r.Processes[1].Exited || r.Processes[1].Code != 3 {
		t.Errorf("processes: %+v", r.Processes)
	}
	if r.Syscalls[0].Name != "openat" || !r.HasSyscall("write") || r.HasSyscall("read") {
		t.Errorf("syscalls: %+v", r.Syscalls)
	}
	if !r.Complete() {
		t.Error("complete report says incomplete")
	}
	r.Lost.Events = 1
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/", "passwd", "read, stat", "nope", "read:ENOENT", "INCOMPLETE", "/bin/sh -> /usr/bin/dash"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
}

// A server running a program per request: its identical execs fold into
// one with their repeats, and past MaxExitedProcesses exited processes are
// counted, not listed; those still running always are.
func TestCollectorFolds(t *testing.T) {
	c := NewCollector(Limits{}, nil)
	server := Header{Pid: 10, Lineage: 10}
	c.Add(&ExecEvent{Header: server, PPid: 1, Filename: "/bin/httpd", Binary: "/bin/busybox", Argv: []string{"httpd"}})
	const n = MaxExitedProcesses + 500
	for i := range n {
		pid := uint32(100 + i)
		c.Add(&ForkEvent{Header: server, Child: pid})
		h := Header{Pid: pid, Lineage: 10}
		c.Add(&ExecEvent{Header: h, PPid: 10, Filename: "/www/cgi-bin/hello", Binary: "/bin/busybox", Argv: []string{"hello"}})
		c.Add(&ExitEvent{Header: h})
	}
	c.Add(&ExecEvent{Header: Header{Pid: 99, Lineage: 10}, PPid: 10, Filename: "/www/cgi-bin/hello", Binary: "/bin/busybox",
		Argv: []string{"hello", "x"}})
	r := c.Report(Target{}, Tracer{}, time.Time{}, time.Time{}, nil, Lost{})
	if len(r.Execs) != 3 || r.Execs[1].Repeats != n-1 || r.Execs[1].Pid != 100 || r.Execs[0].Repeats != 0 {
		t.Errorf("execs %+v, want httpd, hello (%d repeats) and hello x", r.Execs, n-1)
	}
	exited := 0
	for _, p := range r.Processes {
		if p.Exited {
			exited++
		}
	}
	if exited != MaxExitedProcesses || r.ProcessesNotListed != 500 || len(r.Processes) != MaxExitedProcesses+2 {
		t.Errorf("%d processes, %d exited, %d not listed; want %d exited, 500 not listed, the server and pid 99 running",
			len(r.Processes), exited, r.ProcessesNotListed, MaxExitedProcesses)
	}
	// A pid used again is a new process.
	c = NewCollector(Limits{}, nil)
	c.Add(&ExitEvent{Header: Header{Pid: 5, Lineage: 1}, Code: 1})
	c.Add(&ForkEvent{Header: Header{Pid: 1, Lineage: 1}, Child: 5})
	if r := c.Report(Target{}, Tracer{}, time.Time{}, time.Time{}, nil, Lost{}); len(r.Processes) != 2 || r.Processes[1].Exited {
		t.Errorf("reused pid: %+v", r.Processes)
	}
}

// TestCollectorLimits: past Limits, new paths and execs are counted in
// Lost.Unlisted, known ones still gain accesses, and the report is
// incomplete.
func TestCollectorLimits(t *testing.T) {
	c := NewCollector(Limits{Files: 3, Execs: 1}, nil)
	h := Header{Pid: 10, Tid: 10, Lineage: 10}
	for i := range 5 {
		c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: fmt.Sprintf("/data/f%d", i)})
	}
	c.Add(&FileEvent{Header: h, Syscall: "newfstatat", Access: AccessStat, Path: "/data/f0"}) // known: still folded in
	c.Add(&ExecEvent{Header: h, Filename: "/data/f1", Binary: "/data/f1", Argv: []string{"a"}})
	c.Add(&ExecEvent{Header: h, Filename: "/data/f1", Binary: "/data/f1", Argv: []string{"a"}}) // identical: folds
	c.Add(&ExecEvent{Header: h, Filename: "/data/f1", Binary: "/data/f1", Argv: []string{"b"}}) // a second distinct one
	r := c.Report(Target{}, Tracer{}, time.Unix(0, 0), time.Unix(1, 0), nil, Lost{})
	if len(r.Files) != 3 || len(r.Execs) != 1 || r.Execs[0].Repeats != 1 {
		t.Errorf("%d files, %d execs (%+v)", len(r.Files), len(r.Execs), r.Execs)
	}
	if f := r.File("/data/f0"); f == nil || !f.Has(AccessStat) {
		t.Errorf("/data/f0: %+v", f)
	}
	if r.Lost.Unlisted != 3 || r.Complete() {
		t.Errorf("unlisted %d, complete %v; want 3 (f3, f4, the second exec), incomplete", r.Lost.Unlisted, r.Complete())
	}
	// No cap.
	c = NewCollector(Limits{Files: -1, Execs: -1}, nil)
	for i := range 5 {
		c.Add(&FileEvent{Header: h, Syscall: "openat", Access: AccessRead, Path: fmt.Sprintf("/data/f%d", i)})
	}
	if r := c.Report(Target{}, Tracer{}, time.Unix(0, 0), time.Unix(1, 0), nil, Lost{}); len(r.Files) != 5 || !r.Complete() {
		t.Errorf("uncapped: %d files, complete %v", len(r.Files), r.Complete())
	}
}
