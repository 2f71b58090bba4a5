package profile

import (
	"errors"
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// OCI converts a profile in moby's form to the OCI runtime-spec
// linux.seccomp form: archMap entries become architectures (each followed by
// its sub-architectures), the deprecated "name" becomes "names", errno
// returns and arguments are copied. Unlike moby's own conversion it does not
// pick the host's architecture: every archMap entry is kept, since the
// profile may be meant for another machine. Rules conditional on
// capabilities, architecture or kernel (includes/excludes) are an error:
// deciding them needs the host and the container config.
func OCI(p *seccomp.Seccomp) (*specs.LinuxSeccomp, error) {
	if p == nil {
		return nil, errors.New("no seccomp profile")
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, errors.New("both architectures and archMap are set")
	}
	if len(p.LinuxSeccomp.Syscalls) > 0 {
		return nil, errors.New("syscall rules must be in the profile's syscalls, not the embedded runtime-spec field")
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  cloneUint(p.DefaultErrnoRet),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	seen := map[specs.Arch]bool{}
	addArch := func(a specs.Arch) {
		if !seen[a] {
			seen[a] = true
			out.Architectures = append(out.Architectures, a)
		}
	}
	for _, a := range p.Architectures {
		addArch(a)
	}
	for _, m := range p.ArchMap {
		addArch(m.Arch)
		for _, a := range m.SubArches {
			addArch(a)
		}
	}
	for i, s := range p.Syscalls {
		if s == nil {
			return nil, fmt.Errorf("syscall rule %d is empty", i)
		}
		if conditional(s.Includes) || conditional(s.Excludes) {
			return nil, fmt.Errorf("syscall rule %d: conditional rules (includes/excludes) are not supported", i)
		}
		names := slices.Clone(s.Names)
		if s.Name != "" {
			if len(names) > 0 {
				return nil, fmt.Errorf("syscall rule %d: both name and names are set", i)
			}
			names = []string{s.Name}
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("syscall rule %d names no syscall", i)
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:    names,
			Action:   s.Action,
			ErrnoRet: cloneUint(s.ErrnoRet),
			Args:     slices.Clone(s.Args),
		})
	}
	return out, nil
}

func conditional(f *seccomp.Filter) bool {
	return f != nil && (len(f.Caps) > 0 || len(f.Arches) > 0 || f.MinKernel != nil)
}

func cloneUint(p *uint) *uint {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
