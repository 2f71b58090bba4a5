package trace

import (
	"fmt"
	"maps"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// ABIs the tracer names syscalls for: each native ABI and its 32-bit compat
// one.
const (
	ABIX86_64  = "x86_64"
	ABII386    = "i386"
	ABIAArch64 = "aarch64"
	ABIARM     = "arm"
)

var abiTables = map[string]*arch.Info{
	ABIX86_64:  arch.X86_64,
	ABII386:    arch.I386,
	ABIAArch64: arch.AARCH64,
	ABIARM:     arch.ARM,
}

// libseccompNames corrects the kernel tables where they name a syscall
// otherwise than libseccomp does: the generic table calls aarch64's
// syscall 79 by its __NR3264_ name, fstatat, while the kernel, libseccomp
// (and so runc) call it newfstatat, and libseccomp ignores a name it does
// not know. A Report's syscall names, and every profile made from them, are
// libseccomp's. (Found by checking the tables against libseccomp's
// scmp_sys_resolver, Debian package seccomp.)
var libseccompNames = map[string]map[int]string{
	ABIAArch64: {79: "newfstatat"},
}

// SyscallNames returns the syscalls of an ABI by number, named as
// libseccomp names them. The tables are maintained ones
// (elastic/go-seccomp-bpf/arch), never typed by hand.
func SyscallNames(abi string) (map[int]string, error) {
	t, ok := abiTables[abi]
	if !ok {
		return nil, fmt.Errorf("no syscall table for ABI %q", abi)
	}
	names := maps.Clone(t.SyscallNumbers)
	maps.Copy(names, libseccompNames[abi])
	return names, nil
}
