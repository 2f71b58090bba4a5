package tracer

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/slimtrace/slimtrace/internal/cgroup"
)

// Feature is one kernel eBPF feature slimtrace relies on, and whether it
// works here.
type Feature struct {
	Name string
	Err  error // nil when usable
}

// Features checks, by loading the programs (without attaching them), which
// of the kernel features slimtrace uses work on this kernel.
func Features() []Feature {
	if err := rlimit.RemoveMemlock(); err != nil {
		return []Feature{{Name: "memlock", Err: err}}
	}
	native, compat, err := abis()
	if err != nil {
		return []Feature{{Name: "arch", Err: err}}
	}
	return []Feature{
		{Name: ProgramType, Err: loadOnly(native, compat)},
		{Name: capTracepoint, Err: capsSupported()},
	}
}

// capsSupported tells whether the kernel has the capability:cap_capable
// tracepoint (its BTF type), which capability checks are recorded from.
func capsSupported() error {
	k, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("reading kernel BTF: %w", err)
	}
	var fn *btf.Typedef
	if err := k.TypeByName("btf_trace_"+capTracepoint, &fn); err != nil {
		return fmt.Errorf("no capability:%s tracepoint (Linux 6.14 and later): capability checks are not recorded", capTracepoint)
	}
	return nil
}

// loadOnly loads the programs and unloads them again.
func loadOnly(native, compat abi) error {
	spec, err := loadSlimtrace()
	if err != nil {
		return err
	}
	// A cgroup id no task has: the programs load but match nothing.
	if err := configure(spec, Options{Cgroup: &cgroup.Group{ID: ^uint64(0)}, RingBufferSize: 4096}, native, compat); err != nil {
		return err
	}
	t := &Tracer{}
	if err := t.load(spec); err != nil {
		return err
	}
	t.release()
	return nil
}
