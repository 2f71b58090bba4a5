package tracer

import (
	"fmt"
	"runtime"

	"github.com/elastic/go-seccomp-bpf/arch"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// Wire values of bpf/slimtrace.h's enum sys_op and NR_MAX.
const (
	opPath     = 1
	opOpen     = 2
	opOpenat2  = 3
	opExec     = 4
	opChdir    = 5
	opFD       = 6
	opSocket   = 7
	opSockcall = 8

	nrMax      = 512
	countSlots = 2 * nrMax
)

// abi is one syscall numbering: names come from a maintained table
// (elastic/go-seccomp-bpf/arch), never typed by hand.
type abi struct {
	name  string // x86_64, i386, aarch64, arm
	names map[int]string
	nums  map[string]int
}

// abis returns the native and the compat (32-bit) ABI of this build's
// architecture.
func abis() (native, compat abi, err error) {
	switch runtime.GOARCH {
	case "amd64":
		return newABI(arch.X86_64, nil), newABI(arch.I386, nil), nil
	case "arm64":
		return newABI(arch.AARCH64, aarch64Names), newABI(arch.ARM, nil), nil
	}
	return abi{}, abi{}, fmt.Errorf("architecture %s is not supported (x86_64 and aarch64 are)", runtime.GOARCH)
}

// aarch64Names corrects the table where it names a syscall by its generic
// __NR3264_ name rather than the name the kernel and libseccomp use on a
// 64-bit ABI (seccomp profiles must carry libseccomp's names).
var aarch64Names = map[int]string{79: "newfstatat"}

func newABI(i *arch.Info, fixes map[int]string) abi {
	a := abi{name: i.Name, names: map[int]string{}, nums: map[string]int{}}
	for nr, name := range i.SyscallNumbers {
		if fixed, ok := fixes[nr]; ok {
			name = fixed
		}
		a.names[nr], a.nums[name] = name, nr
	}
	return a
}

// syscallName names syscall nr of the ABI, or "syscall_N" when the table
// does not know it (a number newer than the table).
func (a abi) syscallName(nr int) string {
	if n, ok := a.names[nr]; ok {
		return n
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// d builds a descriptor; -1 marks "no such argument".
func d(op uint8, access trace.Access, dirfd, path, flags int8) slimtraceSysDesc {
	return slimtraceSysDesc{Op: op, Access: uint8(access), Dirfd: dirfd, Path: path, Flags: flags, Dirfd2: -1, Path2: -1}
}

// d2 adds a second path to a descriptor.
func d2(first slimtraceSysDesc, access trace.Access, dirfd, path int8) slimtraceSysDesc {
	first.Access2, first.Dirfd2, first.Path2 = uint8(access), dirfd, path
	return first
}

// fileSyscalls says, by name, how sys_exit finds the paths of every syscall
// that names one. Names missing from an ABI's table are ignored.
var fileSyscalls = map[string]slimtraceSysDesc{
	// open family: access from the flags, and the opened file from the fd
	"open":    d(opOpen, 0, -1, 0, 1),
	"openat":  d(opOpen, 0, 0, 1, 2),
	"openat2": d(opOpenat2, 0, 0, 1, 2),
	"creat":   d(opOpen, trace.AccessCreate, -1, 0, -1),
	// exec: successes come from sched_process_exec
	"execve":   d(opExec, trace.AccessExec, -1, 0, -1),
	"execveat": d(opExec, trace.AccessExec, 0, 1, -1),
	"uselib":   d(opPath, trace.AccessRead, -1, 0, -1),
	// stat family
	"stat":       d(opPath, trace.AccessStat, -1, 0, -1),
	"lstat":      d(opPath, trace.AccessStat, -1, 0, -1),
	"oldstat":    d(opPath, trace.AccessStat, -1, 0, -1),
	"oldlstat":   d(opPath, trace.AccessStat, -1, 0, -1),
	"stat64":     d(opPath, trace.AccessStat, -1, 0, -1),
	"lstat64":    d(opPath, trace.AccessStat, -1, 0, -1),
	"newfstatat": d(opPath, trace.AccessStat, 0, 1, -1),
	"fstatat64":  d(opPath, trace.AccessStat, 0, 1, -1),
	"statx":      d(opPath, trace.AccessStat, 0, 1, -1),
	"statfs":     d(opPath, trace.AccessStat, -1, 0, -1),
	"statfs64":   d(opPath, trace.AccessStat, -1, 0, -1),
	"access":     d(opPath, trace.AccessStat, -1, 0, -1),
	"faccessat":  d(opPath, trace.AccessStat, 0, 1, -1),
	"faccessat2": d(opPath, trace.AccessStat, 0, 1, -1),
	"readlink":   d(opPath, trace.AccessReadlink, -1, 0, -1),
	"readlinkat": d(opPath, trace.AccessReadlink, 0, 1, -1),
	"chroot":     d(opPath, trace.AccessStat, -1, 0, -1),
	// directories
	"chdir":  d(opChdir, trace.AccessStat, -1, 0, -1),
	"fchdir": d(opFD, trace.AccessStat, -1, 0, -1),
	// writes to metadata
	"truncate":   d(opPath, trace.AccessWrite, -1, 0, -1),
	"truncate64": d(opPath, trace.AccessWrite, -1, 0, -1),
	"chmod":      d(opPath, trace.AccessWrite, -1, 0, -1),
	"fchmodat":   d(opPath, trace.AccessWrite, 0, 1, -1),
	"fchmodat2":  d(opPath, trace.AccessWrite, 0, 1, -1),
	"chown":      d(opPath, trace.AccessWrite, -1, 0, -1),
	"lchown":     d(opPath, trace.AccessWrite, -1, 0, -1),
	"chown32":    d(opPath, trace.AccessWrite, -1, 0, -1),
	"lchown32":   d(opPath, trace.AccessWrite, -1, 0, -1),
	"fchownat":   d(opPath, trace.AccessWrite, 0, 1, -1),
	"utime":      d(opPath, trace.AccessWrite, -1, 0, -1),
	"utimes":     d(opPath, trace.AccessWrite, -1, 0, -1),
	"futimesat":  d(opPath, trace.AccessWrite, 0, 1, -1),
	"utimensat":  d(opPath, trace.AccessWrite, 0, 1, -1),
	// extended attributes
	"getxattr":      d(opPath, trace.AccessRead, -1, 0, -1),
	"lgetxattr":     d(opPath, trace.AccessRead, -1, 0, -1),
	"listxattr":     d(opPath, trace.AccessRead, -1, 0, -1),
	"llistxattr":    d(opPath, trace.AccessRead, -1, 0, -1),
	"setxattr":      d(opPath, trace.AccessWrite, -1, 0, -1),
	"lsetxattr":     d(opPath, trace.AccessWrite, -1, 0, -1),
	"removexattr":   d(opPath, trace.AccessWrite, -1, 0, -1),
	"lremovexattr":  d(opPath, trace.AccessWrite, -1, 0, -1),
	"getxattrat":    d(opPath, trace.AccessRead, 0, 1, -1),
	"listxattrat":   d(opPath, trace.AccessRead, 0, 1, -1),
	"setxattrat":    d(opPath, trace.AccessWrite, 0, 1, -1),
	"removexattrat": d(opPath, trace.AccessWrite, 0, 1, -1),
	"fgetxattr":     d(opFD, trace.AccessRead, -1, 0, -1),
	"flistxattr":    d(opFD, trace.AccessRead, -1, 0, -1),
	"fsetxattr":     d(opFD, trace.AccessWrite, -1, 0, -1),
	"fremovexattr":  d(opFD, trace.AccessWrite, -1, 0, -1),
	// creating and removing names
	"mkdir":     d(opPath, trace.AccessCreate, -1, 0, -1),
	"mkdirat":   d(opPath, trace.AccessCreate, 0, 1, -1),
	"mknod":     d(opPath, trace.AccessCreate, -1, 0, -1),
	"mknodat":   d(opPath, trace.AccessCreate, 0, 1, -1),
	"rmdir":     d(opPath, trace.AccessDelete, -1, 0, -1),
	"unlink":    d(opPath, trace.AccessDelete, -1, 0, -1),
	"unlinkat":  d(opPath, trace.AccessDelete, 0, 1, -1),
	"symlink":   d(opPath, trace.AccessCreate, -1, 1, -1),
	"symlinkat": d(opPath, trace.AccessCreate, 1, 2, -1),
	"rename":    d2(d(opPath, trace.AccessDelete, -1, 0, -1), trace.AccessCreate, -1, 1),
	"renameat":  d2(d(opPath, trace.AccessDelete, 0, 1, -1), trace.AccessCreate, 2, 3),
	"renameat2": d2(d(opPath, trace.AccessDelete, 0, 1, -1), trace.AccessCreate, 2, 3),
	"link":      d2(d(opPath, trace.AccessStat, -1, 0, -1), trace.AccessCreate, -1, 1),
	"linkat":    d2(d(opPath, trace.AccessStat, 0, 1, -1), trace.AccessCreate, 2, 3),
}

// socketSyscalls are the calls whose (family, type) sys_exit counts.
var socketSyscalls = map[string]slimtraceSysDesc{
	"socket":     d(opSocket, 0, -1, -1, -1),
	"socketpair": d(opSocket, 0, -1, -1, -1),
	"socketcall": d(opSockcall, 0, -1, -1, -1),
}

// descTable lays fileSyscalls and socketSyscalls out by number for one ABI.
func descTable(a abi) [nrMax]slimtraceSysDesc {
	var t [nrMax]slimtraceSysDesc
	for _, table := range []map[string]slimtraceSysDesc{fileSyscalls, socketSyscalls} {
		for name, desc := range table {
			if nr, ok := a.nums[name]; ok && nr >= 0 && nr < nrMax {
				t[nr] = desc
			}
		}
	}
	return t
}
