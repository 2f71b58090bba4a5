package profile

import (
	"strings"
	"time"

	"github.com/slimtrace/slimtrace/internal/trace"
)

var (
	traceStart = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	traceEnd   = traceStart.Add(30 * time.Second)
)

// fileEv is a FileEvent of process pid (its own lineage, 1) that succeeded.
func fileEv(pid uint32, syscall string, access trace.Access, path, opened string) *trace.FileEvent {
	return &trace.FileEvent{Header: trace.Header{Pid: pid, Tid: pid, Lineage: 1}, Syscall: syscall,
		Access: access, Path: path, Opened: opened}
}

// failed is fileEv for a call that failed with errno.
func failed(pid uint32, syscall string, access trace.Access, path string, errno int) *trace.FileEvent {
	e := fileEv(pid, syscall, access, path, "")
	e.Errno = errno
	return e
}

func syscalls(compat bool, names ...string) []trace.Syscall {
	out := make([]trace.Syscall, len(names))
	for i, n := range names {
		out[i] = trace.Syscall{Name: n, Number: i, Count: 1, Compat: compat}
	}
	return out
}

// pythonServer is the trace of `python3 -m http.server 8000` in
// python:3.12-slim (x86_64), serving /srv: runc init's last steps, the
// interpreter starting, a few requests, and files the server wrote.
func pythonServer() *trace.Report {
	const initPid, py = 1, 1
	c := trace.NewCollector(trace.Limits{}, nil)
	for _, e := range []trace.Event{
		// runc init, before it execs the entrypoint.
		fileEv(initPid, "openat", trace.AccessRead, "/etc/passwd", "/etc/passwd"),
		fileEv(initPid, "openat", trace.AccessRead, "/etc/group", "/etc/group"),
		fileEv(initPid, "openat", trace.AccessRead, "/proc/self/setgroups", "/proc/1/setgroups"),
		fileEv(initPid, "openat", trace.AccessRead, "/proc/thread-self/fd", "/proc/1/task/1/fd"),
		fileEv(initPid, "newfstatat", trace.AccessStat, "/dev/null", ""),
		&trace.ExecEvent{Header: trace.Header{Pid: py, Tid: py, Lineage: 1}, Filename: "/usr/local/bin/python3",
			Binary: "/usr/local/bin/python3.12", Argv: []string{"python3", "-m", "http.server", "8000"}},
		// The dynamic loader; /lib is a symlink to usr/lib.
		fileEv(py, "openat", trace.AccessRead, "/etc/ld.so.cache", "/etc/ld.so.cache"),
		fileEv(py, "openat", trace.AccessRead, "/usr/local/lib/libpython3.12.so.1.0", "/usr/local/lib/libpython3.12.so.1.0"),
		fileEv(py, "openat", trace.AccessRead, "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
		fileEv(py, "openat", trace.AccessRead, "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6"),
		failed(py, "openat", trace.AccessRead, "/usr/lib/locale/locale-archive", 2),
		// The interpreter finding its standard library.
		fileEv(py, "readlink", trace.AccessReadlink, "/usr/local/bin/python3", ""),
		failed(py, "newfstatat", trace.AccessStat, "/usr/local/lib/python312.zip", 2),
		fileEv(py, "newfstatat", trace.AccessStat, "/usr/local/lib/python3.12", ""),
		fileEv(py, "openat", trace.AccessRead, "/usr/local/lib/python3.12/lib-dynload", "/usr/local/lib/python3.12/lib-dynload"),
		fileEv(py, "newfstatat", trace.AccessStat, "/usr/local/lib/python3.12/os.py", ""),
		fileEv(py, "openat", trace.AccessRead, "/usr/local/lib/python3.12/__pycache__/os.cpython-312.pyc",
			"/usr/local/lib/python3.12/__pycache__/os.cpython-312.pyc"),
		fileEv(py, "openat", trace.AccessRead, "/usr/local/lib/python3.12/encodings/__pycache__/__init__.cpython-312.pyc",
			"/usr/local/lib/python3.12/encodings/__pycache__/__init__.cpython-312.pyc"),
		fileEv(py, "openat", trace.AccessRead, "/usr/local/lib/python3.12/lib-dynload/_socket.cpython-312-x86_64-linux-gnu.so",
			"/usr/local/lib/python3.12/lib-dynload/_socket.cpython-312-x86_64-linux-gnu.so"),
		fileEv(py, "openat", trace.AccessRead, "/sys/devices/system/cpu/online", "/sys/devices/system/cpu/online"),
		fileEv(py, "openat", trace.AccessRead, "/etc/mime.types", "/etc/mime.types"),
		fileEv(py, "openat", trace.AccessRead, "/etc/hosts", "/etc/hosts"),
		fileEv(py, "openat", trace.AccessRead, "/etc/localtime", "/usr/share/zoneinfo/Etc/UTC"),
		// Serving: listing /srv, sending files, logging to stderr.
		fileEv(py, "openat", trace.AccessRead, "/srv", "/srv"),
		fileEv(py, "openat", trace.AccessRead, "/srv/index.html", "/srv/index.html"),
		fileEv(py, "openat", trace.AccessRead, "/srv/static/style.css", "/srv/static/style.css"),
		failed(py, "openat", trace.AccessRead, "/srv/favicon.ico", 2),
		fileEv(py, "write", trace.AccessWrite, "/proc/self/fd/2", "/dev/pts/0"),
		// Files the server made: a cache directory, a pid file, a socket
		// named by a UUID, a temporary file already unlinked, a hash-named
		// cache entry, and a hard link.
		fileEv(py, "openat", trace.AccessCreate, "/srv/cache/a1.tmp", "/srv/cache/a1.tmp"),
		fileEv(py, "write", trace.AccessWrite, "/srv/cache/a1.tmp", "/srv/cache/a1.tmp"),
		fileEv(py, "openat", trace.AccessCreate, "/srv/cache/b2.tmp", "/srv/cache/b2.tmp"),
		fileEv(py, "unlinkat", trace.AccessDelete, "/srv/cache/b2.tmp", ""),
		fileEv(py, "openat", trace.AccessRead, "/srv/cache/index", "/srv/cache/index"),
		fileEv(py, "linkat", trace.AccessCreate, "/srv/data/current.tmp", ""),
		fileEv(py, "openat", trace.AccessCreate, "/run/http-server-48213.pid", "/run/http-server-48213.pid"),
		fileEv(py, "bind", trace.AccessCreate, "/run/app/3f2504e0-4f89-11d3-9a0c-0305e82c3301.sock", ""),
		fileEv(py, "write", trace.AccessWrite, "/tmp/pymp-q1w2e3r4", "/tmp/pymp-q1w2e3r4 (deleted)"),
		fileEv(py, "openat", trace.AccessRead, "/var/cache/app/http/1f2e3d4c5b6a79880f1e2d3c4b5a6978",
			"/var/cache/app/http/1f2e3d4c5b6a79880f1e2d3c4b5a6978"),
		fileEv(py, "mkdirat", trace.AccessCreate, "/var/cache/app/new", ""),
		&trace.ExitEvent{Header: trace.Header{Pid: py, Tid: py, Lineage: 1}, Code: -1, Signal: 15},
	} {
		c.Add(e)
	}
	// runc init's syscalls after prctl(PR_GET_PDEATHSIG), then the
	// interpreter's. A few of the baseline (close_range, fstatfs, capset,
	// setgroups, getppid...) are missing, as in a trace that attached late.
	sc := syscalls(false,
		"accept4", "access", "arch_prctl", "bind", "brk", "capget", "chdir", "clone3", "close", "connect",
		"dup", "epoll_create1", "epoll_ctl", "epoll_pwait", "execve", "exit_group", "fcntl", "fstat", "futex",
		"getcwd", "getdents64", "getegid", "geteuid", "getgid", "getpid", "getrandom", "getsockname", "gettid",
		"getuid", "ioctl", "listen", "lseek", "madvise", "mmap", "mprotect", "munmap", "nanosleep",
		"newfstatat", "openat", "poll", "prctl", "pread64", "prlimit64", "read", "readlink", "recvfrom",
		"rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "select", "sendto",
		"set_robust_list", "set_tid_address", "setgid", "setsockopt", "setuid", "sigaltstack", "socket",
		"sysinfo", "tgkill", "uname", "unlinkat", "wait4", "write")
	return c.Report(trace.Target{Cgroup: "/sys/fs/cgroup/slimtrace/python", CgroupID: 4242,
		Command: []string{"python3", "-m", "http.server", "8000"}},
		trace.Tracer{Arch: "x86_64", ProgramType: "tp_btf"}, traceStart, traceEnd, sc, trace.Lost{})
}

// arm64Static is a small aarch64 trace of a static server that also ran an
// AArch32 helper (compat syscalls).
func arm64Static() *trace.Report {
	c := trace.NewCollector(trace.Limits{}, nil)
	c.Add(&trace.ExecEvent{Header: trace.Header{Pid: 1, Tid: 1, Lineage: 1}, Filename: "/server", Binary: "/server",
		Argv: []string{"/server"}})
	sc := append(syscalls(false, "accept4", "bind", "close", "epoll_pwait", "execve", "exit_group", "futex",
		"listen", "mmap", "openat", "read", "socket", "write"),
		syscalls(true, "_llseek", "fstat64", "mmap2", "read")...)
	return c.Report(trace.Target{Command: []string{"/server"}}, trace.Tracer{Arch: "aarch64", ProgramType: "raw_tp"},
		traceStart, traceEnd, sc, trace.Lost{Events: 3})
}

// awkwardNames are file names that need quoting or escaping in a profile.
var awkwardNames = []string{
	"my files/report 2024.txt",
	"@{HOME}/x",
	"star*file",
	`quote"d`,
	"ünïcödé/ファイル.txt",
	"comma,brace{a,b}[x]^?.txt",
	"hash#tag",
	`back\slash`,
	"tab\tname",
	"bad\xe9byte",
	"dollar$var !",
	"new\nline",
	"trailing\\",
	"emoji-🙂",
	"semi;colon=eq'apos(paren)",
}

// awkwardPaths is a trace whose files have awkward names, all read below
// /data.
func awkwardPaths() *trace.Report {
	c := trace.NewCollector(trace.Limits{}, nil)
	for _, n := range awkwardNames {
		p := "/data/" + n
		c.Add(fileEv(1, "openat", trace.AccessRead, p, p))
	}
	c.Add(fileEv(1, "openat", trace.AccessCreate, "/data/out put/a b", "/data/out put/a b"))
	c.Add(fileEv(1, "openat", trace.AccessCreate, "/data/out put/c,d", "/data/out put/c,d"))
	return c.Report(trace.Target{Command: []string{"/bin/cat", "weird\nname"}}, trace.Tracer{Arch: "x86_64"},
		traceStart, traceEnd, nil, trace.Lost{})
}

func emptyReport(arch string) *trace.Report {
	return trace.NewCollector(trace.Limits{}, nil).Report(trace.Target{}, trace.Tracer{Arch: arch}, traceStart, traceEnd, nil, trace.Lost{})
}

// lines returns the lines of s that start (after spaces) with prefix.
func lines(s, prefix string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}
