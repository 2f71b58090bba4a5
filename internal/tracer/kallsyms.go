package tracer

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// overcommitFuncs call cap_capable for the memory overcommit test of
// CAP_SYS_ADMIN, which no security module sees: cap_vm_enough_memory, and
// security_vm_enough_memory_mm where the kernel inlines its static call.
var overcommitFuncs = [2]string{"cap_vm_enough_memory", "security_vm_enough_memory_mm"}

// overcommitText returns the [start, end) addresses of overcommitFuncs for
// bpf/slimtrace.bpf.c's overcommit_text.
func overcommitText() ([2][2]uint64, error) {
	var out [2][2]uint64
	syms, err := kernelSymbols(overcommitFuncs[:])
	if err != nil {
		return out, err
	}
	for i, name := range overcommitFuncs {
		r, ok := syms[name]
		if !ok {
			return out, fmt.Errorf("%s not in /proc/kallsyms", name)
		}
		out[i] = r
	}
	return out, nil
}

// kernelSymbols returns the text of kernel functions, [start, end), from
// /proc/kallsyms: the end is the address of the next symbol above the
// start. Addresses hidden (kptr_restrict) are an error.
func kernelSymbols(names []string) (map[string][2]uint64, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	starts := map[string]uint64{}
	var addrs []uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ffffffff81abd680 T cap_vm_enough_memory" (modules add "\t[name]")
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		a, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || a == 0 {
			continue
		}
		addrs = append(addrs, a)
		for _, n := range names {
			if fields[2] == n && starts[n] == 0 {
				starts[n] = a
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /proc/kallsyms: %w", err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("/proc/kallsyms hides its addresses (kptr_restrict)")
	}
	out := map[string][2]uint64{}
	for n, lo := range starts {
		var hi uint64
		for _, a := range addrs {
			if a > lo && (hi == 0 || a < hi) {
				hi = a
			}
		}
		if hi != 0 {
			out[n] = [2]uint64{lo, hi}
		}
	}
	return out, nil
}
