package tracer

import (
	"iter"
	"maps"
	"testing"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// Every syscall the file table describes exists in at least one ABI, so a
// typo cannot silently disable path capture for a syscall.
func TestFileSyscallNamesExist(t *testing.T) {
	abis := []abi{mustABI(trace.ABIX86_64), mustABI(trace.ABII386), mustABI(trace.ABIAArch64), mustABI(trace.ABIARM)}
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
		{mustABI(trace.ABIX86_64), "openat", 257, opOpen},
		{mustABI(trace.ABIX86_64), "newfstatat", 262, opPath},
		{mustABI(trace.ABII386), "open", 5, opOpen},
		{mustABI(trace.ABII386), "fstatat64", 300, opPath},
		{mustABI(trace.ABIAArch64), "openat", 56, opOpen},
		{mustABI(trace.ABIAArch64), "newfstatat", 79, opPath},
		{mustABI(trace.ABIX86_64), "socket", 41, opSocket},
		{mustABI(trace.ABIX86_64), "socketpair", 53, opSocket},
		{mustABI(trace.ABII386), "socketcall", 102, opSockcall},
		{mustABI(trace.ABII386), "socket", 359, opSocket},
		{mustABI(trace.ABIAArch64), "socket", 198, opSocket},
		{mustABI(trace.ABIAArch64), "socketpair", 199, opSocket},
	}
	for _, c := range cases {
		if got := c.abi.syscallName(c.nr); got != c.name {
			t.Errorf("%s %d named %s, want %s", c.abi.name, c.nr, got, c.name)
		}
		if tab := descTable(c.abi); slimtraceSysOp(tab[c.nr].Op) != c.op {
			t.Errorf("%s %s: op %d, want %d", c.abi.name, c.name, tab[c.nr].Op, c.op)
		}
	}
	if got := mustABI(trace.ABIX86_64).syscallName(9999); got != "syscall_9999" {
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

// The calls whose CAP_SYS_ADMIN check is taken for the overcommit test
// without a stack walk (acct_nr), by the numbers of each ABI's own table:
// a wrong name would leave -1 (a walk each time), a wrong table another
// call's checks taken for that test.
func TestAccountingCalls(t *testing.T) {
	cases := []struct {
		abi  abi
		mmap string
		want [5]int32
	}{
		{mustABI(trace.ABIX86_64), "mmap", [5]int32{9, 10, 329, 12, 25}},
		{mustABI(trace.ABII386), "mmap2", [5]int32{192, 125, 380, 45, 163}},
		{mustABI(trace.ABIAArch64), "mmap", [5]int32{222, 226, 288, 214, 216}},
		{mustABI(trace.ABIARM), "mmap2", [5]int32{192, 125, 394, 45, 163}},
	}
	for _, c := range cases {
		if got := c.abi.accounting(c.mmap); got != c.want {
			t.Errorf("%s: %v, want %v (mmap, mprotect, pkey_mprotect, brk, mremap)", c.abi.name, got, c.want)
		}
	}
}
