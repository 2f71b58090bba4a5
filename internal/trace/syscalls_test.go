package trace

import (
	"maps"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

func TestSyscallNames(t *testing.T) {
	for _, c := range []struct {
		abi  string
		nr   int
		name string
	}{
		{ABIX86_64, 262, "newfstatat"},
		{ABIAArch64, 79, "newfstatat"},
		{ABII386, 300, "fstatat64"},
		{ABIARM, 327, "fstatat64"},
	} {
		names, err := SyscallNames(c.abi)
		if err != nil {
			t.Fatal(err)
		}
		if names[c.nr] != c.name {
			t.Errorf("%s %d named %q, want %q", c.abi, c.nr, names[c.nr], c.name)
		}
	}
	if _, err := SyscallNames("mips"); err == nil {
		t.Error("a table for mips")
	}
}

// Every correction renames a syscall the table has to a name libseccomp
// uses elsewhere, and leaves the table's own copy untouched.
func TestLibseccompNames(t *testing.T) {
	for abi, fixes := range libseccompNames {
		names, err := SyscallNames(abi)
		if err != nil {
			t.Fatal(err)
		}
		for nr, to := range fixes {
			if _, ok := abiTables[abi].SyscallNumbers[nr]; !ok {
				t.Errorf("%s: %d is not in the table", abi, nr)
			}
			if _, ok := arch.X86_64.SyscallNames[to]; !ok {
				t.Errorf("%s: %s is no syscall name elsewhere", abi, to)
			}
			if from := abiTables[abi].SyscallNumbers[nr]; slices.Contains(slices.Collect(maps.Values(names)), from) {
				t.Errorf("%s: %s is still named", abi, from)
			}
		}
	}
	if arch.AARCH64.SyscallNumbers[79] != "fstatat" {
		t.Error("the aarch64 table no longer says fstatat: is the correction still needed?")
	}
}
