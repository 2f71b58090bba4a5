package profile

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/golden"
	"github.com/slimtrace/slimtrace/internal/trace"
)

func TestSeccompGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report *trace.Report
	}{
		{"python-http-server", pythonServer()},
		{"aarch64-static", arm64Static()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Seccomp(tc.report, SeccompOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := WriteJSON(&b, p); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".seccomp.json", b.Bytes())

			oci, err := OCI(p)
			if err != nil {
				t.Fatal(err)
			}
			b.Reset()
			if err := WriteJSON(&b, oci); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".oci.json", b.Bytes())
		})
	}
}

// observedNames is every valid syscall name in the report, both ABIs.
func observedNames(r *trace.Report) []string {
	var out []string
	for _, s := range r.Syscalls {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestSeccompAllowsObservedAndRuntime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		report    *trace.Report
		opts      SeccompOptions
		arch      specs.Arch
		subArches []specs.Arch
		runtime   bool
	}{
		{"x86_64 with runtime", pythonServer(), SeccompOptions{}, specs.ArchX86_64,
			[]specs.Arch{specs.ArchX86, specs.ArchX32}, true},
		{"x86_64 trace only", pythonServer(), SeccompOptions{OmitRuntime: true}, specs.ArchX86_64,
			[]specs.Arch{specs.ArchX86, specs.ArchX32}, false},
		{"aarch64 with runtime", arm64Static(), SeccompOptions{}, specs.ArchAARCH64,
			[]specs.Arch{specs.ArchARM}, true},
		{"aarch64 trace only", arm64Static(), SeccompOptions{OmitRuntime: true}, specs.ArchAARCH64,
			[]specs.Arch{specs.ArchARM}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, sum, err := SeccompWithSummary(tc.report, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
				t.Errorf("default action %s errno %v, want SCMP_ACT_ERRNO with EPERM (1)", p.DefaultAction, p.DefaultErrnoRet)
			}
			if len(p.ArchMap) != 1 || p.ArchMap[0].Arch != tc.arch || !slices.Equal(p.ArchMap[0].SubArches, tc.subArches) {
				t.Errorf("archMap %+v, want %s with %v", p.ArchMap, tc.arch, tc.subArches)
			}
			if len(p.Architectures) != 0 {
				t.Errorf("architectures %v set next to archMap", p.Architectures)
			}
			// One unconditional rule, then clone's and clone3's own.
			if len(p.Syscalls) < 1 || p.Syscalls[0].Action != specs.ActAllow || len(p.Syscalls[0].Args) != 0 {
				t.Fatalf("want an unconditional allow rule first, got %+v", p.Syscalls)
			}
			want := observedNames(tc.report)
			if tc.runtime {
				want = append(want, RuntimeSyscalls()...)
				slices.Sort(want)
				want = slices.Compact(want)
			}
			var rest []string
			for _, r := range p.Syscalls[1:] {
				rest = append(rest, r.Names...)
			}
			clones := slices.ContainsFunc(observedNames(tc.report), func(n string) bool { return n == "clone" || n == "clone3" })
			if clones != sum.NamespacesDenied || clones && !slices.Equal(rest, []string{"clone", "clone3"}) && !slices.Equal(rest, []string{"clone"}) ||
				!clones && len(rest) > 0 {
				t.Errorf("rules after the first: %v (namespaces denied: %v)", rest, sum.NamespacesDenied)
			}
			if slices.Contains(rest, "clone3") && !slices.Contains(want, "clone") {
				want = append(want, "clone") // the fallback libc uses when clone3 gets ENOSYS
				slices.Sort(want)
			}
			if !slices.Equal(sum.Allowed, want) {
				t.Errorf("summary allows %v, want %v", sum.Allowed, want)
			}
			want = slices.DeleteFunc(want, func(n string) bool { return slices.Contains(rest, n) })
			got := p.Syscalls[0].Names
			if !slices.Equal(got, want) {
				t.Errorf("allowed names:\n got %v\nwant %v", got, want)
			}
			if !slices.IsSorted(got) {
				t.Errorf("names not sorted: %v", got)
			}
			for _, n := range sum.RuntimeOnly {
				if slices.Contains(observedNames(tc.report), n) || !slices.Contains(runtimeBaseline, n) {
					t.Errorf("%s is marked runtime-only but was observed or is not in the baseline", n)
				}
			}
			if !tc.runtime && len(sum.RuntimeOnly) > 0 {
				t.Errorf("runtime-only names %v with OmitRuntime", sum.RuntimeOnly)
			}
			if tc.runtime && len(sum.RuntimeOnly) == 0 {
				t.Error("no runtime-only names, but the fixtures miss some of the baseline")
			}
			if sum.Complete != tc.report.Complete() {
				t.Errorf("summary complete %v, report %v", sum.Complete, tc.report.Complete())
			}
		})
	}
}

func TestSeccompSummary(t *testing.T) {
	r := emptyReport("x86_64")
	r.Syscalls = append(append(syscalls(false, "read", "write", "close_range"), syscalls(true, "socketcall", "read")...),
		trace.Syscall{Name: "", Number: 450}, trace.Syscall{Name: "syscall(452)", Number: 452},
		trace.Syscall{Name: "syscall_451", Number: 451}, trace.Syscall{Name: "out_of_range", Number: -1})
	p, sum, err := SeccompWithSummary(r, SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"close_range", "read", "write"}; !slices.Equal(sum.Observed, want) {
		t.Errorf("observed %v, want %v", sum.Observed, want)
	}
	if want := []string{"read", "socketcall"}; !slices.Equal(sum.Compat, want) {
		t.Errorf("compat %v, want %v", sum.Compat, want)
	}
	if !slices.Contains(p.Syscalls[0].Names, "socketcall") {
		t.Error("compat name socketcall is not allowed")
	}
	for _, n := range []string{"close_range", "read", "write"} {
		if slices.Contains(sum.RuntimeOnly, n) {
			t.Errorf("observed %s marked runtime-only", n)
		}
	}
	var skipped []int
	for _, s := range sum.Skipped {
		skipped = append(skipped, s.Number)
	}
	if want := []int{450, 452, 451, -1}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want the unnamed syscalls %v", skipped, want)
	}
	for _, n := range []string{"", "syscall(452)", "syscall_451", "out_of_range"} {
		if slices.Contains(p.Syscalls[0].Names, n) {
			t.Errorf("invalid name %q allowed: %v", n, p.Syscalls[0].Names)
		}
	}
	comment := p.Syscalls[0].Comment
	for _, s := range []string{"socketcall", "runc init", "fstatfs", "4 unnamed"} {
		if !strings.Contains(comment, s) {
			t.Errorf("comment %q does not mention %q", comment, s)
		}
	}
}

func TestSeccompErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report *trace.Report
		opts   SeccompOptions
		want   string
	}{
		{"nil report", nil, SeccompOptions{}, "no trace report"},
		{"unknown arch", emptyReport("riscv64"), SeccompOptions{}, `unsupported architecture "riscv64"`},
		{"empty arch", emptyReport(""), SeccompOptions{}, `unsupported architecture ""`},
		{"nothing to allow", emptyReport("x86_64"), SeccompOptions{OmitRuntime: true}, "no syscalls to allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Seccomp(tc.report, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSeccompEmptyTraceGetsRuntime(t *testing.T) {
	p, err := Seccomp(emptyReport("aarch64"), SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Syscalls[0].Names, RuntimeSyscalls(); !slices.Equal(got, want) {
		t.Errorf("names %v, want the runtime baseline %v", got, want)
	}
}

func TestRuntimeBaseline(t *testing.T) {
	b := RuntimeSyscalls()
	if !slices.IsSorted(b) || len(slices.Compact(slices.Clone(b))) != len(b) {
		t.Errorf("baseline not sorted and unique: %v", b)
	}
	for _, n := range b {
		if !syscallName.MatchString(n) {
			t.Errorf("baseline name %q is not a syscall name", n)
		}
	}
	// The syscalls behind runc's known start-up failure, and its exec.
	for _, n := range []string{"fstatfs", "close_range", "getdents64", "openat", "execve", "prctl", "setuid"} {
		if !slices.Contains(b, n) {
			t.Errorf("baseline lacks %s", n)
		}
	}
	b[0] = "changed"
	if RuntimeSyscalls()[0] == "changed" {
		t.Error("RuntimeSyscalls returns the package's own slice")
	}
}

// TestSeccompJSONRoundTrip checks that the JSON reads back into moby's type
// unchanged, as docker and containerd load it.
func TestSeccompJSONRoundTrip(t *testing.T) {
	p, err := Seccomp(pythonServer(), SeccompOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("}\n")) || !bytes.Contains(b.Bytes(), []byte("\n  \"defaultAction\"")) {
		t.Errorf("not two-space indented with a trailing newline:\n%s", b.Bytes())
	}
	var back seccomp.Seccomp
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Syscalls[0].Names, p.Syscalls[0].Names) || back.DefaultAction != p.DefaultAction ||
		*back.DefaultErrnoRet != *p.DefaultErrnoRet || back.ArchMap[0].Arch != p.ArchMap[0].Arch {
		t.Errorf("read back %+v, wrote %+v", back, p)
	}
}

// TestSeccompNamesInKernelTables checks the baseline against the syscall
// tables the tracer names syscalls from (libseccomp's names), so a typo
// cannot slip in: every name must exist on x86_64 and on aarch64.
func TestSeccompNamesInKernelTables(t *testing.T) {
	for _, a := range []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64} {
		names := nativeNames(a)
		for _, n := range RuntimeSyscalls() {
			if !names[n] {
				t.Errorf("baseline name %s is not an %s syscall", n, a)
			}
		}
	}
}

// clone may make namespaces only when the trace shows the application
// makes them; otherwise its namespace flags are refused and clone3, whose
// flags seccomp cannot read, gets ENOSYS (libc then uses clone).
func TestSeccompNamespaces(t *testing.T) {
	sysAdmin := func(c trace.Capability) *trace.Report {
		r := pythonServer()
		r.Capabilities = []trace.Capability{c}
		return r
	}
	withUnshare := pythonServer()
	withUnshare.Syscalls = append(withUnshare.Syscalls, trace.Syscall{Name: "unshare", Count: 1})
	for _, c := range []struct {
		name   string
		r      *trace.Report
		denied bool
	}{
		{"no sign", pythonServer(), true},
		{"unshare", withUnshare, false},
		{"sys_admin granted", sysAdmin(trace.Capability{Name: "sys_admin", Number: 21, Granted: 2}), false},
		{"sys_admin denied", sysAdmin(trace.Capability{Name: "sys_admin", Number: 21, Denied: 2}), true},
		{"sys_admin in setup", sysAdmin(trace.Capability{Name: "sys_admin", Number: 21, Granted: 2, Setup: true}), true},
		{"sys_admin overcommit", sysAdmin(trace.Capability{Name: "sys_admin", Number: 21, Granted: 9, Unmediated: true}), true},
		{"sys_admin for overlayfs", sysAdmin(trace.Capability{Name: "sys_admin", Number: 21, Granted: 9, OtherCreds: true}), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, sum, err := SeccompWithSummary(c.r, SeccompOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.NamespacesDenied != c.denied {
				t.Fatalf("namespaces denied %v, want %v", sum.NamespacesDenied, c.denied)
			}
			plain := p.Syscalls[0].Names
			if !c.denied {
				// The trace saw clone3 only; it is allowed as it is.
				if !slices.Contains(plain, "clone3") || slices.Contains(sum.Allowed, "clone") || len(p.Syscalls) != 1 {
					t.Errorf("clone3 not plainly allowed: %+v", p.Syscalls)
				}
				return
			}
			if slices.Contains(plain, "clone") || slices.Contains(plain, "clone3") || len(p.Syscalls) != 3 ||
				!slices.Contains(sum.Allowed, "clone") {
				t.Fatalf("rules %+v", p.Syscalls)
			}
			cl, c3 := p.Syscalls[1], p.Syscalls[2]
			if !slices.Equal(cl.Names, []string{"clone"}) || cl.Action != specs.ActAllow ||
				!slices.Equal(cl.Args, []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, Op: specs.OpMaskedEqual}}) {
				t.Errorf("clone rule %+v", cl)
			}
			if !slices.Equal(c3.Names, []string{"clone3"}) || c3.Action != specs.ActErrno || c3.ErrnoRet == nil || *c3.ErrnoRet != 38 {
				t.Errorf("clone3 rule %+v", c3)
			}
			if !strings.Contains(p.Syscalls[0].Comment, "clone is allowed without namespace flags") {
				t.Errorf("comment %q", p.Syscalls[0].Comment)
			}
		})
	}
}
