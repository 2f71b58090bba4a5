package profile

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func uintp(v uint) *uint { return &v }

func TestOCIRoundTripsNames(t *testing.T) {
	for name, r := range map[string]func() (*seccomp.Seccomp, error){
		"x86_64":  func() (*seccomp.Seccomp, error) { return Seccomp(pythonServer(), SeccompOptions{}) },
		"aarch64": func() (*seccomp.Seccomp, error) { return Seccomp(arm64Static(), SeccompOptions{}) },
	} {
		t.Run(name, func(t *testing.T) {
			p, err := r()
			if err != nil {
				t.Fatal(err)
			}
			o, err := OCI(p)
			if err != nil {
				t.Fatal(err)
			}
			if o.DefaultAction != p.DefaultAction || *o.DefaultErrnoRet != *p.DefaultErrnoRet {
				t.Errorf("default %s/%d, want %s/%d", o.DefaultAction, *o.DefaultErrnoRet, p.DefaultAction, *p.DefaultErrnoRet)
			}
			if o.DefaultErrnoRet == p.DefaultErrnoRet {
				t.Error("errnoRet pointer shared with the input")
			}
			wantArches := append([]specs.Arch{p.ArchMap[0].Arch}, p.ArchMap[0].SubArches...)
			if !slices.Equal(o.Architectures, wantArches) {
				t.Errorf("architectures %v, want %v", o.Architectures, wantArches)
			}
			if len(o.Syscalls) != len(p.Syscalls) || !slices.Equal(o.Syscalls[0].Names, p.Syscalls[0].Names) ||
				o.Syscalls[0].Action != specs.ActAllow {
				t.Errorf("syscalls %+v, want the profile's names allowed", o.Syscalls)
			}
			o.Syscalls[0].Names[0] = "changed"
			if p.Syscalls[0].Names[0] == "changed" {
				t.Error("names slice shared with the input")
			}
		})
	}
}

func TestOCIConversion(t *testing.T) {
	args := []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}
	for _, tc := range []struct {
		name string
		in   *seccomp.Seccomp
		want *specs.LinuxSeccomp
	}{
		{
			name: "architectures as given",
			in: &seccomp.Seccomp{
				LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
					Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
					Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}},
				Syscalls: []*seccomp.Syscall{{Name: "ptrace", LinuxSyscall: specs.LinuxSyscall{
					Action: specs.ActErrno, ErrnoRet: uintp(38)}}},
			},
			want: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
				Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"ptrace"}, Action: specs.ActErrno,
					ErrnoRet: uintp(38)}}},
		},
		{
			name: "every archMap entry, duplicates once",
			in: &seccomp.Seccomp{
				LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno},
				ArchMap: []seccomp.Architecture{
					{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
					{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
					{Arch: specs.ArchX86, SubArches: []specs.Arch{specs.ArchX86_64}},
				},
				Syscalls: []*seccomp.Syscall{
					{LinuxSyscall: specs.LinuxSyscall{Names: []string{"read", "write"}, Action: specs.ActAllow}},
					{LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow, Args: args},
						Comment: "dropped", Includes: &seccomp.Filter{}},
				},
			},
			want: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
				Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"read", "write"}, Action: specs.ActAllow},
					{Names: []string{"personality"}, Action: specs.ActAllow, Args: args},
				}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OCI(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !ociEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func ociEqual(a, b *specs.LinuxSeccomp) bool {
	eqUint := func(x, y *uint) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	if a.DefaultAction != b.DefaultAction || !eqUint(a.DefaultErrnoRet, b.DefaultErrnoRet) ||
		!slices.Equal(a.Architectures, b.Architectures) || !slices.Equal(a.Flags, b.Flags) ||
		a.ListenerPath != b.ListenerPath || a.ListenerMetadata != b.ListenerMetadata || len(a.Syscalls) != len(b.Syscalls) {
		return false
	}
	for i := range a.Syscalls {
		x, y := a.Syscalls[i], b.Syscalls[i]
		if !slices.Equal(x.Names, y.Names) || x.Action != y.Action || !eqUint(x.ErrnoRet, y.ErrnoRet) ||
			!slices.Equal(x.Args, y.Args) {
			return false
		}
	}
	return true
}

func TestOCIErrors(t *testing.T) {
	allow := specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow}
	for _, tc := range []struct {
		name string
		in   *seccomp.Seccomp
		want string
	}{
		{"nil", nil, "no seccomp profile"},
		{"both architecture forms", &seccomp.Seccomp{
			LinuxSeccomp: specs.LinuxSeccomp{Architectures: []specs.Arch{specs.ArchX86}},
			ArchMap:      []seccomp.Architecture{{Arch: specs.ArchX86_64}}}, "both architectures and archMap"},
		{"embedded syscalls", &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{allow}}},
			"embedded runtime-spec field"},
		{"nil rule", &seccomp.Seccomp{Syscalls: []*seccomp.Syscall{nil}}, "syscall rule 0 is empty"},
		{"name and names", &seccomp.Seccomp{Syscalls: []*seccomp.Syscall{{Name: "write", LinuxSyscall: allow}}},
			"both name and names"},
		{"no names", &seccomp.Seccomp{Syscalls: []*seccomp.Syscall{{LinuxSyscall: specs.LinuxSyscall{Action: specs.ActAllow}}}},
			"names no syscall"},
		{"includes caps", &seccomp.Seccomp{Syscalls: []*seccomp.Syscall{
			{LinuxSyscall: allow, Includes: &seccomp.Filter{Caps: []string{"CAP_SYS_ADMIN"}}}}}, "conditional rules"},
		{"excludes kernel", &seccomp.Seccomp{Syscalls: []*seccomp.Syscall{
			{LinuxSyscall: allow, Excludes: &seccomp.Filter{MinKernel: &seccomp.KernelVersion{Kernel: 5, Major: 8}}}}},
			"conditional rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OCI(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
