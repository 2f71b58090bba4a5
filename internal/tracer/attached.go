package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// Attached lists slimtrace's programs that this process still holds
// attached (by kernel program name, cut at 15 characters), from the BPF
// link file descriptors in /proc/self/fdinfo. Every tracer closed cleanly
// leaves it empty. Other processes' tracers do not count.
func Attached() ([]string, error) {
	infos, err := filepath.Glob("/proc/self/fdinfo/*")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range infos {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "link_type:") {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "prog_id:")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
			if err != nil {
				continue
			}
			if pi, err := prog.Info(); err == nil && ours(pi.Name) {
				names = append(names, pi.Name)
			}
			prog.Close()
		}
	}
	return names, nil
}

// ours reports whether a kernel program name is one of slimtrace's:
// tp_btf_sys_enter, tp_btf_cap_capable, tp_btf_cgroup_mkdir... cut at 15
// characters.
func ours(name string) bool {
	for _, p := range []string{"tp_btf_s", "tp_btf_cap", "tp_btf_cgroup"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Loaded lists slimtrace's programs loaded anywhere in the kernel (by any
// process, attached or not), by kernel program name. With no slimtrace
// running it is empty: a program left loaded is a link or descriptor some
// process, or a pin, still holds. The kernel frees a program after an RCU
// grace period: callers checking for leaks allow it a moment.
func Loaded() ([]string, error) {
	var names []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // freed meanwhile
		}
		if pi, err := prog.Info(); err == nil && ours(pi.Name) {
			names = append(names, fmt.Sprintf("%s (id %d)", pi.Name, id))
		}
		prog.Close()
	}
}
