package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Merge unions seccomp profiles in moby's form, made by runs of the same
// application with different probes, into one that allows what any of them
// allows. Every profile must have the same default action and default
// errno: merging a deny-by-default profile with an allow-by-default one has
// no meaning. Architectures (archMap, sub-architectures, or the flat list)
// are unioned. Rules with the same action, errno, arguments and conditions
// become one rule whose names are the union, sorted; other rules are kept
// as they are, in the order they first appear. Merge does not change its
// arguments.
func Merge(ps ...*seccomp.Seccomp) (*seccomp.Seccomp, error) {
	if len(ps) == 0 {
		return nil, errors.New("no profiles to merge")
	}
	for i, p := range ps {
		if p == nil {
			return nil, fmt.Errorf("profile %d is empty", i+1)
		}
		if p.DefaultAction == "" {
			return nil, fmt.Errorf("profile %d has no defaultAction: not a seccomp profile", i+1)
		}
		if len(p.LinuxSeccomp.Syscalls) > 0 {
			return nil, fmt.Errorf("profile %d: syscall rules must be in the profile's syscalls", i+1)
		}
	}
	first := ps[0]
	out := &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{
		DefaultAction:    first.DefaultAction,
		DefaultErrnoRet:  cloneUint(first.DefaultErrnoRet),
		Flags:            slices.Clone(first.Flags),
		ListenerPath:     first.ListenerPath,
		ListenerMetadata: first.ListenerMetadata,
	}}
	for i, p := range ps[1:] {
		if p.DefaultAction != first.DefaultAction {
			return nil, fmt.Errorf("profile %d denies with %s, profile 1 with %s: only profiles with the same default action merge",
				i+2, p.DefaultAction, first.DefaultAction)
		}
		if errno(p.DefaultErrnoRet) != errno(first.DefaultErrnoRet) {
			return nil, fmt.Errorf("profile %d returns errno %d by default, profile 1 errno %d", i+2,
				errno(p.DefaultErrnoRet), errno(first.DefaultErrnoRet))
		}
		if p.ListenerPath != first.ListenerPath {
			return nil, fmt.Errorf("profile %d has another listener path", i+2)
		}
		for _, f := range p.Flags {
			if !slices.Contains(out.Flags, f) {
				out.Flags = append(out.Flags, f)
			}
		}
	}

	subs := map[specs.Arch]int{} // archMap index of each native arch
	for _, p := range ps {
		for _, a := range p.Architectures {
			if !slices.Contains(out.Architectures, a) {
				out.Architectures = append(out.Architectures, a)
			}
		}
		for _, m := range p.ArchMap {
			i, ok := subs[m.Arch]
			if !ok {
				i = len(out.ArchMap)
				subs[m.Arch] = i
				out.ArchMap = append(out.ArchMap, seccomp.Architecture{Arch: m.Arch})
			}
			for _, s := range m.SubArches {
				if !slices.Contains(out.ArchMap[i].SubArches, s) {
					out.ArchMap[i].SubArches = append(out.ArchMap[i].SubArches, s)
				}
			}
		}
	}
	if len(out.Architectures) > 0 && len(out.ArchMap) > 0 {
		return nil, errors.New("some profiles list architectures, others an archMap: convert them to one form first")
	}

	rules := map[string]*seccomp.Syscall{}
	for pi, p := range ps {
		for ri, s := range p.Syscalls {
			if s == nil {
				return nil, fmt.Errorf("profile %d: syscall rule %d is empty", pi+1, ri+1)
			}
			names := slices.Clone(s.Names)
			if s.Name != "" {
				names = append(names, s.Name)
			}
			if len(names) == 0 {
				return nil, fmt.Errorf("profile %d: syscall rule %d names no syscall", pi+1, ri+1)
			}
			key, err := ruleKey(s)
			if err != nil {
				return nil, fmt.Errorf("profile %d: syscall rule %d: %w", pi+1, ri+1, err)
			}
			r, ok := rules[key]
			if !ok {
				r = &seccomp.Syscall{
					LinuxSyscall: specs.LinuxSyscall{Action: s.Action, ErrnoRet: cloneUint(s.ErrnoRet),
						Args: slices.Clone(s.Args)},
					Comment:  s.Comment,
					Includes: s.Includes,
					Excludes: s.Excludes,
				}
				rules[key] = r
				out.Syscalls = append(out.Syscalls, r)
			}
			for _, n := range names {
				if !slices.Contains(r.Names, n) {
					r.Names = append(r.Names, n)
				}
			}
		}
	}
	// A name one profile allows outright is allowed: rules that only
	// allow it under conditions, or refuse it with another errno (clone
	// without namespace flags, clone3's ENOSYS), would conflict.
	plain := map[string]bool{}
	for _, r := range out.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 && r.Includes == nil && r.Excludes == nil {
			for _, n := range r.Names {
				plain[n] = true
			}
		}
	}
	out.Syscalls = slices.DeleteFunc(out.Syscalls, func(r *seccomp.Syscall) bool {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			return false
		}
		r.Names = slices.DeleteFunc(r.Names, func(n string) bool { return plain[n] })
		return len(r.Names) == 0
	})
	for _, r := range out.Syscalls {
		slices.Sort(r.Names)
	}
	if len(ps) > 1 {
		for _, r := range out.Syscalls {
			if r.Action == specs.ActAllow && r.Comment != "" {
				r.Comment = fmt.Sprintf("slimtrace: merged from %d profiles", len(ps))
			}
		}
	}
	return out, nil
}

// ruleKey is what two rules must share to be one rule with more names.
func ruleKey(s *seccomp.Syscall) (string, error) {
	b, err := json.Marshal(struct {
		Action   specs.LinuxSeccompAction
		ErrnoRet *uint
		Args     []specs.LinuxSeccompArg
		Includes *seccomp.Filter
		Excludes *seccomp.Filter
	}{s.Action, s.ErrnoRet, s.Args, s.Includes, s.Excludes})
	return string(b), err
}

func errno(p *uint) uint {
	if p == nil {
		return errnoEPERM // what runc returns for SCMP_ACT_ERRNO without one
	}
	return *p
}
