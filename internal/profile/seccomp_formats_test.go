package profile

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"sigs.k8s.io/yaml"

	"github.com/slimtrace/slimtrace/internal/golden"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// TestSeccompFormatsGolden renders the kubelet file, the pod snippet and the
// operator's SeccompProfile for an x86_64 and an aarch64 trace.
func TestSeccompFormatsGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		trace func() *trace.Report
		// native is a name only the architecture's own table has.
		native, foreign string
		arches          []string
	}{
		{"python-http-server", pythonServer, "arch_prctl", "newfstatat_aarch64_only",
			[]string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
		{"aarch64-static", arm64Static, "epoll_pwait", "arch_prctl",
			[]string{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Seccomp(tc.trace(), SeccompOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var k8s bytes.Buffer
			if err := WriteKubelet(&k8s, p); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".k8s.json", k8s.Bytes())
			var back specs.LinuxSeccomp // containerd's CRI decodes the file into this
			if err := json.Unmarshal(k8s.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			var arches []string
			for _, a := range back.Architectures {
				arches = append(arches, string(a))
			}
			if !slices.Equal(arches, tc.arches) {
				t.Errorf("kubelet file architectures %v, want %v", arches, tc.arches)
			}
			if back.DefaultAction != specs.ActErrno || len(back.Syscalls) < 1 ||
				!slices.Contains(back.Syscalls[0].Names, tc.native) || slices.Contains(back.Syscalls[0].Names, tc.foreign) {
				t.Errorf("kubelet file: %+v", back)
			}

			var pod bytes.Buffer
			if err := KubernetesPod(&pod, PodOptions{Name: KubernetesName(tc.name), Image: "registry.example/" + tc.name + ":1.0",
				LocalhostProfile: KubeletProfilePath(tc.name)}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".pod.yaml", pod.Bytes())

			var spo bytes.Buffer
			if err := WriteSPO(&spo, p, SPOOptions{Name: KubernetesName(tc.name), Namespace: "default"}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".spo.yaml", spo.Bytes())
			for _, a := range tc.arches {
				if !strings.Contains(spo.String(), "  - "+a+"\n") {
					t.Errorf("SeccompProfile lacks architecture %s", a)
				}
			}
			if !strings.Contains(spo.String(), "    - "+tc.native+"\n") {
				t.Errorf("SeccompProfile lacks %s", tc.native)
			}
		})
	}
}

func TestKubernetesPodErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    PodOptions
		want string
	}{
		{"bad name", PodOptions{Name: "My_App", Image: "x", LocalhostProfile: "profiles/x.json"}, "DNS-1123"},
		{"absolute", PodOptions{Name: "app", Image: "x", LocalhostProfile: "/var/lib/kubelet/seccomp/x.json"}, "descending"},
		{"escapes", PodOptions{Name: "app", Image: "x", LocalhostProfile: "profiles/../../x.json"}, "descending"},
		{"no image", PodOptions{Name: "app", LocalhostProfile: "profiles/x.json"}, "image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := KubernetesPod(&bytes.Buffer{}, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestKubernetesName(t *testing.T) {
	for in, want := range map[string]string{
		"python-app": "python-app", "My_App.v2": "my-app-v2", "__": "app", strings.Repeat("a", 70): strings.Repeat("a", 63),
	} {
		if got := KubernetesName(in); got != want || !dnsLabel.MatchString(got) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestSPOErrors(t *testing.T) {
	p, err := Seccomp(pythonServer(), SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enosys := uint(38)
	q := *p
	q.DefaultErrnoRet = &enosys
	if err := WriteSPO(&bytes.Buffer{}, &q, SPOOptions{Name: "x"}); err == nil || !strings.Contains(err.Error(), "defaultErrnoRet") {
		t.Errorf("another default errno: %v", err)
	}
	if err := WriteSPO(&bytes.Buffer{}, p, SPOOptions{Name: "X"}); err == nil {
		t.Error("an invalid name was accepted")
	}
	args := &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno},
		ArchMap: []seccomp.Architecture{{Arch: specs.ArchX86_64}},
		Syscalls: []*seccomp.Syscall{{LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"},
			Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}}}
	var b bytes.Buffer
	if err := WriteSPO(&b, args, SPOOptions{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "    args:\n    - index: 0\n      op: SCMP_CMP_EQ\n      value: 8\n") {
		t.Errorf("args not rendered:\n%s", b.String())
	}
}

func allowRule(names ...string) *seccomp.Syscall {
	return &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{Names: names, Action: specs.ActAllow}, Comment: "c"}
}

func profileOf(arch seccomp.Architecture, rules ...*seccomp.Syscall) *seccomp.Seccomp {
	eperm := errnoEPERM
	return &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &eperm},
		ArchMap: []seccomp.Architecture{arch}, Syscalls: rules}
}

var (
	x86  = seccomp.Architecture{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86}}
	x32  = seccomp.Architecture{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX32}}
	arm8 = seccomp.Architecture{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}}
)

func TestMerge(t *testing.T) {
	errnoRule := &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno,
		ErrnoRet: new(uint(38))}}
	a := profileOf(x86, allowRule("read", "write", "openat"), errnoRule)
	b := profileOf(x32, allowRule("accept4", "read"), allowRule("sendfile"))
	c := profileOf(arm8, allowRule("epoll_pwait"))
	before, _ := json.Marshal(a)
	m, err := Merge(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(a); !bytes.Equal(before, after) {
		t.Error("Merge changed its argument")
	}
	if len(m.Syscalls) != 2 {
		t.Fatalf("rules %d, want 2 (one allow, one errno): %+v", len(m.Syscalls), m.Syscalls)
	}
	want := []string{"accept4", "epoll_pwait", "openat", "read", "sendfile", "write"}
	if !slices.Equal(m.Syscalls[0].Names, want) || m.Syscalls[0].Action != specs.ActAllow {
		t.Errorf("allowed %v, want %v", m.Syscalls[0].Names, want)
	}
	if r := m.Syscalls[1]; r.Action != specs.ActErrno || *r.ErrnoRet != 38 || !slices.Equal(r.Names, []string{"clone3"}) {
		t.Errorf("errno rule %+v", r)
	}
	if len(m.ArchMap) != 2 || m.ArchMap[0].Arch != specs.ArchX86_64 ||
		!slices.Equal(m.ArchMap[0].SubArches, []specs.Arch{specs.ArchX86, specs.ArchX32}) || m.ArchMap[1].Arch != specs.ArchAARCH64 {
		t.Errorf("archMap %+v", m.ArchMap)
	}
	if m.DefaultAction != specs.ActErrno || *m.DefaultErrnoRet != errnoEPERM {
		t.Errorf("default %s %v", m.DefaultAction, m.DefaultErrnoRet)
	}
	if !strings.Contains(m.Syscalls[0].Comment, "merged from 3 profiles") {
		t.Errorf("comment %q", m.Syscalls[0].Comment)
	}

	// One profile allows clone3 outright (its app makes namespaces), the
	// other gives it ENOSYS and clone only without namespace flags: the
	// merge allows both outright, with no conflicting rule left.
	withNS := pythonServer()
	withNS.Syscalls = append(withNS.Syscalls, trace.Syscall{Name: "unshare", Count: 1}, trace.Syscall{Name: "clone", Count: 1})
	open, _ := Seccomp(withNS, SeccompOptions{})
	closed, _ := Seccomp(pythonServer(), SeccompOptions{})
	if len(closed.Syscalls) != 3 {
		t.Fatalf("want clone and clone3 rules in %+v", closed.Syscalls)
	}
	m, err = Merge(closed, open)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Syscalls) != 1 || !slices.Contains(m.Syscalls[0].Names, "clone3") || !slices.Contains(m.Syscalls[0].Names, "clone") {
		t.Errorf("merged namespace rules: %+v", m.Syscalls)
	}

	// Merging the profiles of two traces allows what either saw.
	p1, _ := Seccomp(pythonServer(), SeccompOptions{})
	p2, _ := Seccomp(pythonServer(), SeccompOptions{})
	p2.Syscalls[0].Names = append(p2.Syscalls[0].Names, "sendfile")
	m, err = Merge(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Syscalls[0].Names; len(got) != len(p1.Syscalls[0].Names)+1 || !slices.Contains(got, "sendfile") ||
		!slices.IsSorted(got) {
		t.Errorf("merged names %v", got)
	}
	if _, err := OCI(m); err != nil {
		t.Errorf("the merged profile does not convert: %v", err)
	}
}

func TestMergeErrors(t *testing.T) {
	allow := profileOf(x86, allowRule("read"))
	allow.DefaultAction = specs.ActAllow
	enosys := profileOf(x86, allowRule("read"))
	enosys.DefaultErrnoRet = new(uint(38))
	flat := &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64}}, Syscalls: []*seccomp.Syscall{allowRule("read")}}
	for _, tc := range []struct {
		name string
		ps   []*seccomp.Seccomp
		want string
	}{
		{"none", nil, "no profiles"},
		{"nil", []*seccomp.Seccomp{profileOf(x86), nil}, "profile 2 is empty"},
		{"not a profile", []*seccomp.Seccomp{profileOf(x86), {}}, "profile 2 has no defaultAction"},
		{"default action", []*seccomp.Seccomp{profileOf(x86), allow}, "same default action"},
		{"default errno", []*seccomp.Seccomp{profileOf(x86), enosys}, "errno 38"},
		{"forms", []*seccomp.Seccomp{profileOf(x86), flat}, "archMap"},
		{"empty rule", []*seccomp.Seccomp{profileOf(x86, allowRule())}, "names no syscall"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.ps...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDockerDefaultAllowed(t *testing.T) {
	for _, tc := range []struct {
		arch        specs.Arch
		has, hasNot []string
	}{
		// mount needs CAP_SYS_ADMIN; personality, clone and socket (not
		// AF_VSOCK) are filtered by argument; clone3 returns ENOSYS;
		// io_uring is no longer allowed; chown32 is 32-bit only,
		// arch_prctl x86 only.
		{specs.ArchX86_64, []string{"read", "openat", "arch_prctl", "accept4", "ptrace"},
			[]string{"mount", "personality", "clone", "clone3", "socket", "io_uring_setup", "chown32", "_llseek",
				"bpf", "keyctl", "unshare", "kexec_load"}},
		{specs.ArchAARCH64, []string{"read", "openat", "newfstatat"},
			[]string{"arch_prctl", "open", "mount", "chown32", "unshare"}},
	} {
		t.Run(string(tc.arch), func(t *testing.T) {
			names, err := DockerDefaultAllowed(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) < 250 || len(names) > 400 || !slices.IsSorted(names) {
				t.Errorf("%d names (sorted %v)", len(names), slices.IsSorted(names))
			}
			for _, n := range tc.has {
				if !slices.Contains(names, n) {
					t.Errorf("lacks %s", n)
				}
			}
			for _, n := range tc.hasNot {
				if slices.Contains(names, n) {
					t.Errorf("has %s", n)
				}
			}
		})
	}
	if _, err := DockerDefaultAllowed(specs.ArchS390X); err == nil {
		t.Error("s390x accepted")
	}
}

func TestSeccompTightness(t *testing.T) {
	docker, err := DockerDefaultAllowed(specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	p := profileOf(x86, allowRule("read", "write", "openat", "bpf", "keyctl", "chown32"),
		&seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{Names: []string{"mount"}, Action: specs.ActErrno}},
		&seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}})
	tt, err := SeccompTightness(p)
	if err != nil {
		t.Fatal(err)
	}
	// chown32 is no x86_64 syscall; mount is denied; personality is
	// conditional.
	if tt.Allowed != 5 || tt.DockerDefault != len(docker) || !slices.Equal(tt.NotInDockerDefault, []string{"bpf", "keyctl"}) ||
		tt.Arch != specs.ArchX86_64 {
		t.Errorf("%+v", tt)
	}
	if want := 5 / float64(len(docker)); tt.Fraction != want {
		t.Errorf("fraction %v, want %v", tt.Fraction, want)
	}

	// A generated profile: everything it allows natively is counted.
	for _, tr := range []*trace.Report{pythonServer(), arm64Static()} {
		p, sum, err := SeccompWithSummary(tr, SeccompOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tt, err := SeccompTightness(p)
		if err != nil {
			t.Fatal(err)
		}
		if tt.Allowed == 0 || tt.Allowed > len(sum.Allowed) || tt.Fraction <= 0 || tt.Fraction >= 0.5 {
			t.Errorf("%s: %+v (allowed %d)", tr.Tracer.Arch, tt, len(sum.Allowed))
		}
		t.Logf("%s: %d allowed of Docker's %d (%.2f), not in Docker's: %v", tr.Tracer.Arch, tt.Allowed,
			tt.DockerDefault, tt.Fraction, tt.NotInDockerDefault)
	}
	if _, err := SeccompTightness(&seccomp.Seccomp{}); err == nil {
		t.Error("a profile without architecture was accepted")
	}
}

// TestSeccompSocketFamilies: with the families the trace saw, socket is
// allowed only for them; without (a tracer that did not record them), for
// any.
func TestSeccompSocketFamilies(t *testing.T) {
	r := pythonServer()
	r.NetworkFamilies = []trace.NetworkFamily{{Family: "inet", Type: "stream"}, {Family: "inet6", Type: "stream"},
		{Family: "unix", Type: "dgram", Setup: true}, {Family: "inet", Type: "dgram"}, {Family: "family_250", Type: "raw"}}
	p, sum, err := SeccompWithSummary(r, SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.SocketFamilies, []uint64{1, 2, 10, 250}) || !slices.Contains(sum.Allowed, "socket") {
		t.Errorf("families %v, allowed has socket: %v", sum.SocketFamilies, slices.Contains(sum.Allowed, "socket"))
	}
	if slices.Contains(p.Syscalls[0].Names, "socket") || !slices.Contains(p.Syscalls[0].Names, "accept4") {
		t.Errorf("the unconditional rule: %v", p.Syscalls[0].Names)
	}
	var sockets []*seccomp.Syscall
	for _, s := range p.Syscalls[1:] {
		if slices.Contains(s.Names, "socket") {
			sockets = append(sockets, s)
		}
	}
	if len(sockets) != 4 {
		t.Fatalf("%d socket rules, want 4: %+v", len(sockets), p.Syscalls)
	}
	for i, want := range []uint64{1, 2, 10, 250} {
		s := sockets[i]
		if !slices.Equal(s.Names, []string{"socket"}) || s.Action != specs.ActAllow || len(s.Args) != 1 ||
			s.Args[0] != (specs.LinuxSeccompArg{Index: 0, Value: want, Op: specs.OpEqualTo}) {
			t.Errorf("rule %d: %+v", 1+i, s)
		}
	}
	if !strings.Contains(sockets[0].Comment, "AF_UNIX") {
		t.Errorf("comment %q", sockets[0].Comment)
	}
	oci, err := OCI(p)
	if err != nil || len(oci.Syscalls) != len(p.Syscalls) || oci.Syscalls[len(p.Syscalls)-3].Args[0].Value != 2 {
		t.Errorf("OCI: %+v %v", oci, err)
	}
	var spo bytes.Buffer
	if err := WriteSPO(&spo, p, SPOOptions{Name: "x"}); err != nil || !strings.Contains(spo.String(),
		"    args:\n    - index: 0\n      op: SCMP_CMP_EQ\n      value: 10\n    names:\n    - socket\n") {
		t.Errorf("SPO (%v):\n%s", err, spo.String())
	}
	tt, err := SeccompTightness(p)
	if err != nil || slices.Contains(tt.NotInDockerDefault, "socket") {
		t.Errorf("tightness counts a filtered socket as unconditional: %+v %v", tt, err)
	}

	// Two runs that saw different families merge into a profile that
	// allows both.
	r2 := pythonServer()
	r2.NetworkFamilies = []trace.NetworkFamily{{Family: "netlink", Type: "raw"}}
	p2, _ := Seccomp(r2, SeccompOptions{})
	m, err := Merge(p, p2)
	if err != nil {
		t.Fatal(err)
	}
	var fams []uint64
	for _, s := range m.Syscalls[1:] {
		if slices.Equal(s.Names, []string{"socket"}) {
			fams = append(fams, s.Args[0].Value)
		}
	}
	if !slices.Equal(fams, []uint64{1, 2, 10, 250, 16}) {
		t.Errorf("merged socket families %v", fams)
	}

	// No families recorded: socket for any family, as before.
	p, sum, _ = SeccompWithSummary(pythonServer(), SeccompOptions{})
	if slices.ContainsFunc(p.Syscalls[1:], func(s *seccomp.Syscall) bool { return slices.Contains(s.Names, "socket") }) ||
		!slices.Contains(p.Syscalls[0].Names, "socket") || sum.SocketFamilies != nil {
		t.Errorf("without families: %+v %v", p.Syscalls, sum.SocketFamilies)
	}
}

// TestKubernetesPodQuoting checks that values YAML would read as something
// other than a string come back as the strings written.
func TestKubernetesPodQuoting(t *testing.T) {
	for _, image := range []string{"true", "1.0", "null", "x: y", "#x", "'q'"} {
		var b bytes.Buffer
		if err := KubernetesPod(&b, PodOptions{Name: "app", Image: image, LocalhostProfile: "profiles/no.json"}); err != nil {
			t.Fatal(err)
		}
		var pod struct {
			Spec struct{ Containers []podContainer } `json:"spec"`
		}
		if err := yaml.Unmarshal(b.Bytes(), &pod); err != nil || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Image != image {
			t.Errorf("image %q: %+v %v\n%s", image, pod, err, b.String())
		}
	}
}
