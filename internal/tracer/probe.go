package tracer

import (
	"github.com/cilium/ebpf/rlimit"

	"github.com/slimtrace/slimtrace/internal/cgroup"
)

// Feature is one eBPF feature slimtrace relies on, and whether it works.
type Feature struct {
	Name string
	Err  error // nil when usable
}

// Probe loads each flavour of the programs (without attaching them) to tell
// which work on this kernel.
func Probe() []Feature {
	if err := rlimit.RemoveMemlock(); err != nil {
		return []Feature{{Name: "memlock", Err: err}}
	}
	native, compat, err := abis()
	if err != nil {
		return []Feature{{Name: "arch", Err: err}}
	}
	var out []Feature
	for _, pt := range []string{TypeTPBTF, TypeRawTP} {
		out = append(out, Feature{Name: pt, Err: probeLoad(pt, native, compat)})
	}
	return out
}

func probeLoad(progType string, native, compat abi) error {
	spec, err := loadSlimtrace()
	if err != nil {
		return err
	}
	// A cgroup id no task has: the programs load but match nothing.
	if err := configure(spec, Options{Cgroup: &cgroup.Group{ID: ^uint64(0)}, RingBufferSize: 4096}, native, compat); err != nil {
		return err
	}
	t := &Tracer{}
	if err := t.load(spec, progType); err != nil {
		return err
	}
	t.release()
	return nil
}
