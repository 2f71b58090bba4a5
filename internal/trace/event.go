package trace

import (
	"fmt"
	"strings"
)

// Access is the kind of use a syscall made of a path.
type Access uint8

// Access kinds; the zero value is none. They are written by name (JSON,
// text); the tracer maps the kernel's enum access to them.
const (
	AccessRead Access = iota + 1
	AccessWrite
	AccessExec
	AccessStat
	AccessReadlink
	AccessCreate
	AccessDelete
)

var accessNames = map[Access]string{
	AccessRead:     "read",
	AccessWrite:    "write",
	AccessExec:     "exec",
	AccessStat:     "stat",
	AccessReadlink: "readlink",
	AccessCreate:   "create",
	AccessDelete:   "delete",
}

func (a Access) String() string {
	if s, ok := accessNames[a]; ok {
		return s
	}
	return fmt.Sprintf("access(%d)", uint8(a))
}

// MarshalText writes the access kind by name.
func (a Access) MarshalText() ([]byte, error) {
	if _, ok := accessNames[a]; !ok {
		return nil, fmt.Errorf("unknown access kind %d", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText reads an access kind by name.
func (a *Access) UnmarshalText(b []byte) error {
	for k, v := range accessNames {
		if v == string(b) {
			*a = k
			return nil
		}
	}
	return fmt.Errorf("unknown access kind %q", b)
}

// Event is one decoded record from the kernel: *FileEvent, *ExecEvent,
// *ForkEvent or *ExitEvent.
type Event interface {
	// Common returns the fields every event carries.
	Common() *Header
}

// Header holds what every event carries.
type Header struct {
	Time     uint64 // CLOCK_MONOTONIC, ns
	CgroupID uint64 // the cgroup v2 id of the task
	Pid      uint32 // thread group id (the process)
	Tid      uint32 // thread id
	// Lineage tells process trees apart: a process gets one at its first
	// exec (its own pid) and passes it on to the children it forks. 0 means
	// none yet: the runtime's setup before the entrypoint's exec, or a
	// process already running when tracing began. A process that entered
	// the cgroup from outside (a `runc exec`) starts its own lineage.
	Lineage uint32
}

// Common implements Event.
func (h *Header) Common() *Header { return h }

// FileEvent is a syscall that named a path.
type FileEvent struct {
	Header
	Syscall string // syscall name for the task's ABI
	Compat  bool   // made through the 32-bit compat ABI
	Access  Access
	Errno   int // 0 when the call succeeded
	// Path is the path as the process named it, made absolute against the
	// process's cwd or dirfd, as seen inside the process's own root. Symlinks
	// in it are not resolved; ".." and "." are left as named.
	Path string
	// Opened is, for a successful open, the path of the file actually opened
	// (symlinks resolved), as seen inside the process's root.
	Opened string
	// OnMount: the opened file lives on another mount than the process's root
	// (a volume, a bind-mounted /etc/hosts, /proc, /dev, ...).
	OnMount bool
	// Upper: the opened file is in the overlay's upper layer: it was created
	// or copied up during the run, so it did not come from the image as is.
	Upper bool
	// Truncated: a path was longer than the tracer's bound and was cut.
	Truncated bool
	// Unreachable: the opened file is not reachable from the process's root
	// (a memfd, a pipe, or a file outside a chroot); Opened is then empty.
	Unreachable bool
}

// ExecEvent is a successful execve/execveat (sched_process_exec).
type ExecEvent struct {
	Header
	PPid     uint32 // parent's thread group id
	OldPid   uint32 // the tid that called exec, if it was not the leader
	Filename string // as named, made absolute against the cwd
	// Binary is the file the kernel executed, symlinks resolved; for a
	// "#!" script it is the interpreter.
	Binary        string
	Argv          []string
	ArgvTruncated bool
}

// ForkEvent is a new process (not a thread) made by a traced process.
type ForkEvent struct {
	Header        // of the parent
	Child  uint32 // the child's pid
}

// ExitEvent is the end of a traced process (its last thread).
type ExitEvent struct {
	Header
	Code     int // exit status (0-255), or -1 when killed by a signal
	Signal   int // the signal that killed it, or 0
	CoreDump bool
}

// ExitStatus decodes a kernel exit_code into status, signal and core flag.
func ExitStatus(code uint32) (status, signal int, core bool) {
	if code&0x7f != 0 {
		return -1, int(code & 0x7f), code&0x80 != 0
	}
	return int(code>>8) & 0xff, 0, false
}

// SplitArgv splits a NUL-separated argument block.
func SplitArgv(b []byte) []string {
	s := strings.TrimRight(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
