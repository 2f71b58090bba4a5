package tracer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// The test binary doubles as the traced program: with helperEnv set it runs
// one of helpers and exits, so each test controls exactly which syscalls the
// traced process makes.
const helperEnv = "SLIMTRACE_TRACER_HELPER"

var helpers = map[string]func(args []string) error{
	// relative DIR: chdir into DIR, open a relative path, then openat with
	// a dirfd.
	"relative": func(args []string) error {
		if err := os.Chdir(args[0]); err != nil {
			return err
		}
		if err := readFile("sub/rel.txt"); err != nil {
			return err
		}
		dirfd, err := unix.Open("sub", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dirfd)
		fd, err := unix.Openat(dirfd, "at.txt", unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		if err := unix.Close(fd); err != nil {
			return err
		}
		// Relative chdirs: one that fails, one that succeeds.
		if err := unix.Chdir("missing"); err != unix.ENOENT {
			return fmt.Errorf("chdir missing: want ENOENT, got %v", err)
		}
		// One name relative to two directories: two files.
		if err := readFile("same.txt"); err != nil {
			return err
		}
		if err := unix.Chdir("sub"); err != nil {
			return err
		}
		return readFile("same.txt")
	},
	// signal-then-wait: take a signal in a handler (its return is a
	// sigreturn), then start `sleep 60` and block in wait4 for it.
	"signal-then-wait": func(args []string) error {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		if err := unix.Kill(unix.Getpid(), unix.SIGUSR1); err != nil {
			return err
		}
		<-c
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			return err
		}
		var ws unix.WaitStatus
		_, err := unix.Wait4(cmd.Process.Pid, &ws, 0, nil)
		return err
	},
	// thread FILE: open FILE from a second OS thread.
	"thread": func(args []string) error {
		runtime.LockOSThread() // keep main on its own thread
		errc := make(chan error)
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				errc <- fmt.Errorf("second goroutine runs on the main thread")
				return
			}
			errc <- readFile(args[0])
		}()
		return <-errc
	},
	// wait-then-open FIFO FILE: block on FIFO, then open FILE.
	"wait-then-open": func(args []string) error {
		if err := readFile(args[0]); err != nil {
			return err
		}
		return readFile(args[1])
	},
	// open-many DIR N: open and close DIR/f0 ... DIR/f<N-1>.
	"open-many": func(args []string) error {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		for i := range n {
			fd, err := unix.Open(filepath.Join(args[0], "f"+strconv.Itoa(i)), unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		return nil
	},
	// same-file PATH N: open and close PATH N times.
	"same-file": func(args []string) error {
		n, err := strconv.Atoi(args[1])
		if err != nil {
			return err
		}
		for range n {
			fd, err := unix.Open(args[0], unix.O_RDONLY, 0)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		return nil
	},
	"security": securityHelper,
	// stat-relative DIR NAME...: chdir into DIR, stat each NAME.
	"stat-relative": func(args []string) error {
		if err := os.Chdir(args[0]); err != nil {
			return err
		}
		for _, name := range args[1:] {
			var st unix.Stat_t
			if err := unix.Stat(name, &st); err != unix.ENOENT {
				return fmt.Errorf("stat %s: want ENOENT, got %v", name, err)
			}
		}
		return nil
	},
	// bad-families N: socket(2) of N families no kernel has, each failing
	// with EAFNOSUPPORT before any module is looked for.
	"bad-families": func(args []string) error {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		for f := range n {
			if _, err := unix.Socket(firstBadFamily+f, unix.SOCK_STREAM, 0); err != unix.EAFNOSUPPORT {
				return fmt.Errorf("socket family %d: want EAFNOSUPPORT, got %v", firstBadFamily+f, err)
			}
		}
		return nil
	},
	// missing PATH: open a file that does not exist.
	// move DIR IN OUT: stats DIR/before many times, moves itself into the
	// cgroup directory IN, opens DIR/inside, moves to OUT, opens DIR/after.
	"move": func(args []string) error {
		dir, in, out := args[0], args[1], args[2]
		// On one CPU: the memo is per CPU.
		runtime.LockOSThread()
		var one unix.CPUSet
		one.Set(0)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			return err
		}
		var st syscall.Stat_t
		for range 10_000 {
			_ = syscall.Stat(filepath.Join(dir, "before"), &st)
		}
		self := []byte(strconv.Itoa(os.Getpid()))
		if err := os.WriteFile(filepath.Join(in, "cgroup.procs"), self, 0); err != nil {
			return err
		}
		if _, err := os.ReadFile(filepath.Join(dir, "inside")); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "cgroup.procs"), self, 0); err != nil {
			return err
		}
		_, err := os.ReadFile(filepath.Join(dir, "after"))
		return err
	},
	// fd-itself DIR: calls about an fd itself: fstat as glibc makes it
	// (newfstatat(fd, "", AT_EMPTY_PATH)), three times, of DIR/a and of
	// DIR/b, and fchdir to DIR.
	"fd-itself": func(args []string) error {
		for _, name := range []string{"a", "b"} {
			fd, err := unix.Open(filepath.Join(args[0], name), unix.O_PATH, 0)
			if err != nil {
				return err
			}
			var st unix.Stat_t
			for range 3 {
				if err := unix.Fstatat(fd, "", &st, unix.AT_EMPTY_PATH); err != nil {
					return err
				}
			}
			unix.Close(fd)
		}
		fd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		return unix.Fchdir(fd)
	},
	"missing": func(args []string) error {
		_, err := unix.Open(args[0], unix.O_RDONLY, 0)
		if err != unix.ENOENT {
			return fmt.Errorf("open %s: want ENOENT, got %v", args[0], err)
		}
		return nil
	},
}

func readFile(p string) error {
	_, err := os.ReadFile(p)
	return err
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		if err := helpers[name](os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper traces the test binary running helper name.
func runHelper(t *testing.T, opts Options, name string, args ...string) *trace.Report {
	t.Helper()
	return runTraced(t, RunOptions{Options: opts, Args: append([]string{os.Args[0]}, args...),
		Env: append(os.Environ(), helperEnv+"="+name)})
}

func runTraced(t *testing.T, opts RunOptions) *trace.Report {
	t.Helper()
	privtest.Root(t)
	var stderr bytes.Buffer
	opts.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("traced command exited %d: %s", res.ExitCode, stderr.String())
	}
	if !res.Report.Complete() {
		t.Errorf("trace incomplete: %+v", res.Report.Lost)
	}
	assertNothingAttached(t)
	return res.Report
}

// assertNothingAttached checks that no program of ours is still attached.
func assertNothingAttached(t *testing.T) {
	t.Helper()
	names, err := Attached()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) > 0 {
		t.Errorf("programs still attached after Close: %v", names)
	}
}

func wantFile(t *testing.T, r *trace.Report, path string, kind trace.Access, result string) *trace.File {
	t.Helper()
	f := r.File(path)
	if f == nil {
		t.Errorf("%s missing from the trace; files: %v", path, paths(r))
		return nil
	}
	for _, a := range f.Accesses {
		if a.Kind == kind && a.Result == result {
			return f
		}
	}
	t.Errorf("%s: no %s access with result %s; got %+v", path, kind, result, f.Accesses)
	return f
}

func paths(r *trace.Report) []string {
	var p []string
	for _, f := range r.Files {
		p = append(p, f.Path)
	}
	return p
}

func TestCat(t *testing.T) {
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Fatal(err)
	}
	cat, _ = filepath.EvalSymlinks(cat)
	r := runTraced(t, RunOptions{Args: []string{cat, "/etc/hostname"},
		Stdout: new(bytes.Buffer)})
	if r.Tracer.ProgramType != ProgramType {
		t.Errorf("program type %s, want %s", r.Tracer.ProgramType, ProgramType)
	}
	wantFile(t, r, "/etc/hostname", trace.AccessRead, "ok")
	wantFile(t, r, cat, trace.AccessExec, "ok")
	wantFile(t, r, "/etc/ld.so.cache", trace.AccessRead, "ok")
	libc := false
	for _, f := range r.Files {
		if strings.Contains(f.Path, "libc.so") && f.Has(trace.AccessRead) && f.OK() {
			libc = true
		}
	}
	if !libc {
		t.Errorf("libc not read; files: %v", paths(r))
	}
	// The loader is mapped by the kernel, not opened: it is named by
	// the exec's binary's PT_INTERP, not by a syscall. The exec is there.
	if len(r.Execs) != 1 || r.Execs[0].Binary != cat ||
		strings.Join(r.Execs[0].Argv, " ") != "cat /etc/hostname" && strings.Join(r.Execs[0].Argv, " ") != cat+" /etc/hostname" {
		t.Errorf("execs: %+v", r.Execs)
	}
	for _, s := range []string{"execve", "openat", "read", "write", "exit_group"} {
		if !r.HasSyscall(s) {
			t.Errorf("syscall %s missing", s)
		}
	}
	if r.HasSyscall("ptrace") || r.HasSyscall("mount") {
		t.Errorf("syscalls cat never makes were counted: %+v", r.Syscalls)
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "sub", "rel.txt"))
	mustWrite(t, filepath.Join(dir, "sub", "at.txt"))
	mustWrite(t, filepath.Join(dir, "same.txt"))
	mustWrite(t, filepath.Join(dir, "sub", "same.txt"))
	r := runHelper(t, Options{}, "relative", dir)
	wantFile(t, r, filepath.Join(dir, "same.txt"), trace.AccessRead, "ok")
	wantFile(t, r, filepath.Join(dir, "sub", "same.txt"), trace.AccessRead, "ok")
	wantFile(t, r, filepath.Join(dir, "sub", "rel.txt"), trace.AccessRead, "ok")
	wantFile(t, r, filepath.Join(dir, "sub", "at.txt"), trace.AccessRead, "ok")
	wantFile(t, r, filepath.Join(dir, "sub"), trace.AccessRead, "ok")
	wantFile(t, r, dir, trace.AccessStat, "ok") // the chdir
	// Relative chdirs, named at their exit: a failed one against the cwd
	// it left unchanged, one that succeeded by the cwd it made.
	wantFile(t, r, filepath.Join(dir, "missing"), trace.AccessStat, "ENOENT")
	wantFile(t, r, filepath.Join(dir, "sub"), trace.AccessStat, "ok")
	if r.File(filepath.Join(dir, "sub", "sub")) != nil {
		t.Errorf("a relative chdir was resolved against the cwd it made: %v", paths(r))
	}
}

// waitBlocked waits until threads of g (not below it) are blocked in each
// of the syscalls named.
func waitBlocked(t *testing.T, tr *Tracer, g *cgroup.Group, names ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		blocked := map[string]bool{}
		tids, _ := threads(g.Path)
		for _, tid := range tids {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", tid)); err == nil {
				nr, _ := strconv.Atoi(strings.Fields(string(b) + " x")[0])
				blocked[tr.native.syscallName(nr)] = true
			}
		}
		if !slices.ContainsFunc(names, func(n string) bool { return !blocked[n] }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads of %s never blocked in all of %v: %v", g.Path, names, blocked)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSyscallsWithoutEntry: the syscalls are counted at their exit, so
// those that never exit are counted otherwise: a signal handler's return
// (sigreturn, whose exit has no number) and the calls still blocked when
// tracing stops (wait4 and the child's sleep, read from /proc). The end of
// a process (exit_group) is in TestCat.
// helperIn is the test binary as helper name, to be started in cgroup g.
func helperIn(t *testing.T, g *cgroup.Group, name string, args ...string) *exec.Cmd {
	t.Helper()
	fd, err := g.OpenFD()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fd.Close() })
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(fd.Fd())}
	return cmd
}

// TestMovedTasks: a process is traced from the moment it moves into the
// target and not after it moves out (sys_exit memoizes who is traced, per
// task: a move must undo it at once).
func TestMovedTasks(t *testing.T) {
	privtest.Root(t)
	g := newCgroup(t, fmt.Sprintf("slimtrace-moved-in-%d", os.Getpid()))
	other := newCgroup(t, fmt.Sprintf("slimtrace-moved-out-%d", os.Getpid()))
	dir := t.TempDir()
	for _, f := range []string{"before", "inside", "after"} {
		mustWrite(t, filepath.Join(dir, f))
	}
	tr, err := Open(Options{Cgroup: g})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := helperIn(t, other, "move", dir, g.Path, other.Path).Run(); err != nil {
		t.Fatal(err)
	}
	r, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	if f := r.File(filepath.Join(dir, "before")); f != nil {
		t.Errorf("a file the process read before it moved in is in the trace: %+v", f)
	}
	wantFile(t, r, filepath.Join(dir, "inside"), trace.AccessRead, "ok")
	if f := r.File(filepath.Join(dir, "after")); f != nil {
		t.Errorf("a file the process read after it moved out is in the trace: %+v", f)
	}
}

// TestFdItself: a call about an fd itself (the file is known by its
// identity before its path is walked) reports the fd's file, each file's.
func TestFdItself(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "a"))
	mustWrite(t, filepath.Join(dir, "b"))
	r := runHelper(t, Options{}, "fd-itself", dir)
	for _, name := range []string{"a", "b"} {
		if f := wantFile(t, r, filepath.Join(dir, name), trace.AccessStat, "ok"); f != nil &&
			!slices.ContainsFunc(f.Accesses, func(a trace.FileAccess) bool { return a.Syscall == "newfstatat" }) {
			t.Errorf("%s: no newfstatat access: %+v", name, f.Accesses)
		}
	}
	wantFile(t, r, dir, trace.AccessStat, "ok")
}

func TestSyscallsWithoutEntry(t *testing.T) {
	privtest.Root(t)
	g := newCgroup(t, fmt.Sprintf("slimtrace-inflight-%d", os.Getpid()))
	tr, err := Open(Options{Cgroup: g})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	cmd := helperIn(t, g, "signal-then-wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// Wait until the helper is blocked in wait4 and its child in its sleep.
	waitBlocked(t, tr, g, "wait4", "clock_nanosleep")
	r, err := tr.Close()
	if err != nil {
		t.Fatal(err)
	}
	assertNothingAttached(t)
	for _, s := range []string{"rt_sigreturn", "wait4", "clock_nanosleep", "execve"} {
		if !r.HasSyscall(s) {
			t.Errorf("syscall %s missing: %+v", s, r.Syscalls)
		}
	}
	for _, s := range r.Syscalls {
		if s.Number < 0 {
			t.Errorf("a syscall counted without a number: %+v", s)
		}
	}
}

func TestThreadsChildrenAndOutsiders(t *testing.T) {
	dir := t.TempDir()
	threadFile := filepath.Join(dir, "thread.txt")
	childFile := filepath.Join(dir, "child.txt")
	outside := filepath.Join(dir, "outside.txt")
	fifo := filepath.Join(dir, "fifo")
	for _, p := range []string{threadFile, childFile, outside} {
		mustWrite(t, p)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("thread", func(t *testing.T) {
		var mu sync.Mutex
		var tids []uint32
		var pid uint32
		r := runHelper(t, Options{OnEvent: func(ev trace.Event) {
			if f, ok := ev.(*trace.FileEvent); ok && f.Path == threadFile {
				mu.Lock()
				tids, pid = append(tids, f.Tid), f.Pid
				mu.Unlock()
			}
		}}, "thread", threadFile)
		wantFile(t, r, threadFile, trace.AccessRead, "ok")
		if len(tids) == 0 || tids[0] == pid {
			t.Errorf("thread.txt was opened by tid %v of pid %d, want a second thread", tids, pid)
		}
	})

	t.Run("child and outsider", func(t *testing.T) {
		// The traced shell's child (cat) opens the fifo, which blocks this
		// process's open for writing until then: from there on tracing is
		// attached and cat waits for data. Meanwhile this process (outside
		// the cgroup) opens the outside marker; then it writes and closes
		// the fifo, and cat goes on to open its own file.
		done := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				done <- err
				return
			}
			defer w.Close()
			if err := readFile(outside); err != nil {
				done <- err
				return
			}
			_, err = w.WriteString("go\n")
			done <- err
		}()
		r := runTraced(t, RunOptions{Args: []string{"/bin/sh", "-c", "cat " + fifo + " " + childFile + " >/dev/null; true"}})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		f := wantFile(t, r, childFile, trace.AccessRead, "ok")
		if r.File(outside) != nil {
			t.Errorf("%s was opened outside the cgroup but is in the trace", outside)
		}
		// The child (cat) is a forked process of the shell, with the shell's lineage.
		var shell, cat *trace.Exec
		for i := range r.Execs {
			switch filepath.Base(r.Execs[i].Binary) {
			case "cat":
				cat = &r.Execs[i]
			case "dash", "sh", "bash":
				shell = &r.Execs[i]
			}
		}
		if shell == nil || cat == nil {
			t.Fatalf("execs: %+v", r.Execs)
		}
		if cat.PPid != shell.Pid || cat.Lineage != shell.Lineage {
			t.Errorf("cat %+v is not the shell's %+v child in its lineage", cat, shell)
		}
		if f != nil && (len(f.Lineages) != 1 || f.Lineages[0] != shell.Lineage) {
			t.Errorf("child file lineages %v, want [%d]", f.Lineages, shell.Lineage)
		}
	})
}

// TestChroot runs a process in its own mount namespace chrooted into a test
// rootfs: its paths are inside that root, never host paths.
func TestChroot(t *testing.T) {
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		privtest.Skip(t, "busybox-static is not installed (/bin/busybox)")
	}
	root := t.TempDir()
	bin, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(root, "data", "inside.txt"))
	r := runTraced(t, RunOptions{
		Args:        []string{"/bin/busybox", "sh", "-c", "cd /data && /bin/busybox cat inside.txt /nope; true"},
		Dir:         "/",
		Stdout:      os.Stderr,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Chroot: root, Cloneflags: syscall.CLONE_NEWNS},
	})
	wantFile(t, r, "/data/inside.txt", trace.AccessRead, "ok")
	wantFile(t, r, "/nope", trace.AccessRead, "ENOENT")
	if f := r.File("/data/inside.txt"); f != nil && (len(f.Opened) != 1 || f.Opened[0] != "/data/inside.txt") {
		t.Errorf("opened path %v, want /data/inside.txt", f.Opened)
	}
	for _, f := range r.Files {
		if f.Has(trace.AccessStat) && f.Accesses[0].Syscall == "chroot" {
			// Made by the launcher, before its root changed and before
			// the exec: no lineage yet.
			if len(f.Lineages) != 1 || f.Lineages[0] != 0 {
				t.Errorf("pre-exec chroot has lineages %v, want [0]", f.Lineages)
			}
			continue
		}
		if strings.HasPrefix(f.Path, root) || slicesHasPrefix(f.Opened, root) {
			t.Errorf("host path in a chrooted trace: %+v", f)
		}
	}
	found := false
	for _, e := range r.Execs {
		if e.Binary == "/bin/busybox" {
			found = true
		}
	}
	if !found {
		t.Errorf("exec of /bin/busybox inside the root missing: %+v", r.Execs)
	}
}

func slicesHasPrefix(s []string, prefix string) bool {
	for _, p := range s {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

func TestFailedOpen(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "does-not-exist")
	r := runHelper(t, Options{}, "missing", missing)
	wantFile(t, r, missing, trace.AccessRead, "ENOENT")
}

func TestManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 files")
	}
	const n = 100_000
	dir := t.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runHelper(t, Options{}, "open-many", dir, strconv.Itoa(n))
	if r.Lost != (trace.Lost{}) {
		t.Errorf("lost: %+v", r.Lost)
	}
	got := 0
	for _, f := range r.Files {
		if filepath.Dir(f.Path) == dir && strings.HasPrefix(filepath.Base(f.Path), "f") && f.OK() {
			got++
		}
	}
	if got != n {
		t.Errorf("%d of %d files in the trace", got, n)
	}
}

func TestReportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "sub", "rel.txt"))
	mustWrite(t, filepath.Join(dir, "sub", "at.txt"))
	mustWrite(t, filepath.Join(dir, "same.txt"))
	mustWrite(t, filepath.Join(dir, "sub", "same.txt"))
	r := runHelper(t, Options{}, "relative", dir)
	wantFile(t, r, filepath.Join(dir, "same.txt"), trace.AccessRead, "ok")
	wantFile(t, r, filepath.Join(dir, "sub", "same.txt"), trace.AccessRead, "ok")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back trace.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("report changed in a JSON round trip:\n%s\n%s", b, b2)
	}
	if len(back.Files) == 0 || len(back.Syscalls) == 0 || len(back.Execs) != 1 {
		t.Errorf("round-tripped report is missing parts: %s", b)
	}
}

func TestHostChecks(t *testing.T) {
	privtest.Root(t)
	if err := CheckHost(); err != nil {
		t.Fatalf("this host should trace: %v", err)
	}
	if _, err := cgroup.Open("/slimtrace-no-such-cgroup"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing cgroup: %v", err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without a cgroup succeeded")
	}
}

func mustWrite(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMountAndUpperFlags: a file on another mount is flagged OnMount, and on
// an overlayfs a file created during the run is flagged Upper while one that
// came from the lower layer is not.
func TestMountAndUpperFlags(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"lower", "upper", "work", "merged", "tmpfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(dir, "lower", "image.txt"))
	mustWrite(t, filepath.Join(dir, "root.txt"))
	script := fmt.Sprintf(`set -e
cd %[1]s
mount -t tmpfs none tmpfs
echo v > tmpfs/volume.txt
mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged
cd merged
cat image.txt %[1]s/root.txt %[1]s/tmpfs/volume.txt >/dev/null
echo new > created.txt
cat created.txt >/dev/null
`, dir)
	r := runTraced(t, RunOptions{Args: []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}})
	cases := []struct {
		path           string
		onMount, upper bool
	}{
		{filepath.Join(dir, "root.txt"), false, false},
		{filepath.Join(dir, "tmpfs", "volume.txt"), true, false},
		{filepath.Join(dir, "merged", "image.txt"), true, false},
		{filepath.Join(dir, "merged", "created.txt"), true, true},
	}
	for _, c := range cases {
		f := wantFile(t, r, c.path, trace.AccessRead, "ok")
		if f != nil && (f.OnMount != c.onMount || f.Upper != c.upper) {
			t.Errorf("%s: on_mount=%v upper=%v, want %v %v", c.path, f.OnMount, f.Upper, c.onMount, c.upper)
		}
	}
}

// TestDedup: a process opening one file over and over sends it once.
func TestDedup(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hot.txt")
	mustWrite(t, p)
	const n = 10_000
	r := runHelper(t, Options{}, "same-file", p, strconv.Itoa(n))
	wantFile(t, r, p, trace.AccessRead, "ok")
	if r.Tracer.EventsDeduped < n-1 {
		t.Errorf("deduped %d events, want at least %d", r.Tracer.EventsDeduped, n-1)
	}
	// The whole run (Go runtime start-up included) sends few events.
	if r.Tracer.EventsSent > 200 {
		t.Errorf("sent %d events for %d identical opens", r.Tracer.EventsSent, n)
	}
}

// TestLongNamesNotDeduped: two names longer than 4 KiB that differ only past
// their first 4 KiB are two files, not one deduplicated (the dedup hash
// covers the whole name).
func TestLongNamesNotDeduped(t *testing.T) {
	// A cwd of about 2.8 KiB and relative names of about 1.8 KiB.
	long := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, strings.Repeat(string(rune('a'+i)), 200))
		}
		return filepath.Join(parts...)
	}
	cwd := filepath.Join(t.TempDir(), long(14))
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	rel := long(9)
	names := []string{rel + "/one", rel + "/two"}
	r := runHelper(t, Options{}, "stat-relative", cwd, names[0], names[1])
	for _, n := range names {
		p := filepath.Join(cwd, n)
		if len(p) <= 4096 || p[:4096] != filepath.Join(cwd, names[0])[:4096] {
			t.Fatalf("test names do not share their first 4 KiB")
		}
		wantFile(t, r, p, trace.AccessStat, "ENOENT")
	}
}

// firstBadFamily is far above AF_MAX: socket(2) refuses it at once.
const firstBadFamily = 1000

// TestSocketTableFull: socket kinds past the socket_calls map's room are
// counted as lost, so the trace says it is incomplete.
func TestSocketTableFull(t *testing.T) {
	privtest.Root(t)
	const kinds, room = 300, 256 // room: SOCK_KEYS in bpf/slimtrace.h
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	res, err := Run(ctx, RunOptions{Args: []string{os.Args[0], strconv.Itoa(kinds)},
		Env: append(os.Environ(), helperEnv+"=bad-families"), Stderr: &stderr})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v, exit %v: %s", err, res, stderr.String())
	}
	r := res.Report
	if r.Lost.Events < kinds-room || r.Complete() {
		t.Errorf("lost %+v, want at least %d events lost and an incomplete trace", r.Lost, kinds-room)
	}
	assertNothingAttached(t)
}
