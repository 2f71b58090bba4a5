package tracer

import (
	"iter"
	"maps"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// Every syscall the file table describes exists in at least one ABI, so a
// typo cannot silently disable path capture for a syscall.
func TestFileSyscallNamesExist(t *testing.T) {
	abis := []abi{newABI(arch.X86_64, nil), newABI(arch.I386, nil), newABI(arch.AARCH64, aarch64Names), newABI(arch.ARM, nil)}
	for name := range joinKeys(fileSyscalls, socketSyscalls) {
		found := false
		for _, a := range abis {
			if _, ok := a.nums[name]; ok {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is in no syscall table", name)
		}
	}
}

func TestDescTables(t *testing.T) {
	cases := []struct {
		abi  abi
		name string
		nr   int
		op   slimtraceSysOp
	}{
		{newABI(arch.X86_64, nil), "openat", 257, opOpen},
		{newABI(arch.X86_64, nil), "newfstatat", 262, opPath},
		{newABI(arch.I386, nil), "open", 5, opOpen},
		{newABI(arch.I386, nil), "fstatat64", 300, opPath},
		{newABI(arch.AARCH64, aarch64Names), "openat", 56, opOpen},
		{newABI(arch.AARCH64, aarch64Names), "newfstatat", 79, opPath},
		{newABI(arch.X86_64, nil), "socket", 41, opSocket},
		{newABI(arch.X86_64, nil), "socketpair", 53, opSocket},
		{newABI(arch.I386, nil), "socketcall", 102, opSockcall},
		{newABI(arch.I386, nil), "socket", 359, opSocket},
		{newABI(arch.AARCH64, aarch64Names), "socket", 198, opSocket},
		{newABI(arch.AARCH64, aarch64Names), "socketpair", 199, opSocket},
	}
	for _, c := range cases {
		if got := c.abi.syscallName(c.nr); got != c.name {
			t.Errorf("%s %d named %s, want %s", c.abi.name, c.nr, got, c.name)
		}
		if tab := descTable(c.abi); slimtraceSysOp(tab[c.nr].Op) != c.op {
			t.Errorf("%s %s: op %d, want %d", c.abi.name, c.name, tab[c.nr].Op, c.op)
		}
	}
	if got := newABI(arch.X86_64, nil).syscallName(9999); got != "syscall_9999" {
		t.Errorf("unknown number named %q", got)
	}
}

func joinKeys[V any](ms ...map[string]V) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, m := range ms {
			for k := range maps.Keys(m) {
				if !yield(k) {
					return
				}
			}
		}
	}
}
