package profile

import (
	"errors"
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// Tightness compares what a profile allows with Docker's default profile.
type Tightness struct {
	// Arch is the native architecture compared (SCMP_ARCH_*).
	Arch specs.Arch
	// Allowed is how many native syscalls the profile allows without
	// conditions.
	Allowed int
	// DockerDefault is how many names Docker's default profile allows
	// unconditionally on Arch (see DockerDefaultAllowed).
	DockerDefault int
	// NotInDockerDefault are the names the profile allows that Docker's
	// default does not allow unconditionally: sorted.
	NotInDockerDefault []string
	// Fraction is Allowed / DockerDefault.
	Fraction float64
}

// goArches maps a native seccomp architecture to the names moby's default
// profile uses in its per-architecture conditions.
var goArches = map[specs.Arch]string{specs.ArchX86_64: "amd64", specs.ArchAARCH64: "arm64"}

// kernelABIs name the syscall tables the tracer names syscalls from.
var kernelABIs = map[specs.Arch]string{specs.ArchX86_64: trace.ABIX86_64, specs.ArchAARCH64: trace.ABIAArch64}

// nativeNames returns the libseccomp names of arch's native syscalls (none
// for an architecture the tracer does not support).
func nativeNames(a specs.Arch) map[string]bool {
	out := map[string]bool{}
	names, _ := trace.SyscallNames(kernelABIs[a])
	for _, n := range names {
		out[n] = true
	}
	return out
}

// DockerDefaultAllowed returns the names Docker's default seccomp profile
// (moby/profiles/seccomp.DefaultProfile) allows unconditionally for a
// container on arch: rules whose action is SCMP_ACT_ALLOW, with no argument
// filter, needing no capability, and either for every architecture or for
// arch. Minimum kernel versions are taken as met. Names allowed only with a
// capability (mount with CAP_SYS_ADMIN), only for some argument values
// (personality, clone without namespace flags) or only on another
// architecture are not counted, nor names that are no syscall of arch (the
// profile lists chown32 and _llseek for 32-bit machines): the names are
// those of the syscall table the tracer uses, so a syscall newer than that
// table is not counted either.
func DockerDefaultAllowed(a specs.Arch) ([]string, error) {
	goArch, ok := goArches[a]
	if !ok {
		return nil, fmt.Errorf("no Docker default allow-list for architecture %s", a)
	}
	exists := nativeNames(a)
	var out []string
	for _, s := range seccomp.DefaultProfile().Syscalls {
		if s.Action != specs.ActAllow || len(s.Args) > 0 {
			continue
		}
		if in := s.Includes; in != nil && (len(in.Caps) > 0 || (len(in.Arches) > 0 && !slices.Contains(in.Arches, goArch))) {
			continue
		}
		if ex := s.Excludes; ex != nil && (len(ex.Caps) > 0 || slices.Contains(ex.Arches, goArch)) {
			continue
		}
		for _, n := range append(slices.Clone(s.Names), s.Name) {
			if exists[n] {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// SeccompTightness compares the names p allows unconditionally (allow
// rules without argument filters or conditions) on its native
// architecture, the first of its archMap or architectures, with Docker's
// default allow-list for that architecture. Both sides count native
// syscalls only: names allowed for a 32-bit compat ABI alone (mmap2,
// _llseek) are left out of both.
func SeccompTightness(p *seccomp.Seccomp) (*Tightness, error) {
	if p == nil {
		return nil, errors.New("no seccomp profile")
	}
	var arch specs.Arch
	switch {
	case len(p.ArchMap) > 0:
		arch = p.ArchMap[0].Arch
	case len(p.Architectures) > 0:
		arch = p.Architectures[0]
	default:
		return nil, errors.New("the profile names no architecture")
	}
	docker, err := DockerDefaultAllowed(arch)
	if err != nil {
		return nil, err
	}
	exists := nativeNames(arch)
	var allowed []string
	for _, s := range p.Syscalls {
		if s == nil || s.Action != specs.ActAllow || len(s.Args) > 0 || conditional(s.Includes) || conditional(s.Excludes) {
			continue
		}
		for _, n := range append(slices.Clone(s.Names), s.Name) {
			if exists[n] {
				allowed = append(allowed, n)
			}
		}
	}
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	t := &Tightness{Arch: arch, Allowed: len(allowed), DockerDefault: len(docker), NotInDockerDefault: []string{}}
	for _, n := range allowed {
		if _, found := slices.BinarySearch(docker, n); !found {
			t.NotInDockerDefault = append(t.NotInDockerDefault, n)
		}
	}
	if len(docker) > 0 {
		t.Fraction = float64(t.Allowed) / float64(t.DockerDefault)
	}
	return t, nil
}
