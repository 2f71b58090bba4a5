package profile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// errnoEPERM is what a denied syscall returns, as in moby's default profile.
const errnoEPERM uint = 1

// SeccompOptions tunes Seccomp. The zero value is the recommended setting.
type SeccompOptions struct {
	// OmitRuntime leaves the runtime baseline (RuntimeSyscalls) out, so that
	// the profile allows exactly the syscalls in the trace. By default the
	// baseline is added: a trace normally holds runc init's syscalls already,
	// but a profile without them cannot start the container at all.
	OmitRuntime bool
}

// SeccompSummary says where the names a profile allows came from.
type SeccompSummary struct {
	// Arch is the native architecture of the profile; SubArches are allowed
	// with the same names.
	Arch      specs.Arch
	SubArches []specs.Arch
	// Observed are the syscalls the trace saw through the native ABI, by
	// their libseccomp names.
	Observed []string
	// Compat are the syscalls the trace saw through the 32-bit compat ABI
	// (ia32 on x86_64, AArch32 on aarch64). Their names are allowed as well:
	// seccomp resolves each name for each architecture of the filter.
	Compat []string
	// RuntimeOnly are the names allowed only because of the runtime
	// baseline: the trace did not see them.
	RuntimeOnly []string
	// Skipped are trace entries that could not be allowed by name: numbers
	// the tracer could not name ("syscall_451", "out_of_range"). A profile
	// with skipped entries may deny something the application needs.
	Skipped []trace.Syscall
	// Allowed is every name the profile allows, sorted ("socket" included
	// when it is allowed only for SocketFamilies).
	Allowed []string
	// SocketFamilies, when set, are the address families (AF_ numbers)
	// socket(2) is allowed for: those the trace saw. Empty: socket, if
	// allowed, is allowed for any family.
	SocketFamilies []uint64
	// NamespacesDenied: the application showed no sign of making
	// namespaces, so clone is allowed only without CLONE_NEW* flags and
	// clone3 fails with ENOSYS (see namespaceRules).
	NamespacesDenied bool
	// Complete is false when the trace lost events (trace.Report.Complete).
	Complete bool
}

// arches maps the tracer's architecture names to the seccomp architecture
// and sub-architectures moby's default profile uses for it.
var arches = map[string]seccomp.Architecture{
	"x86_64":  {Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
	"amd64":   {Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
	"aarch64": {Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
	"arm64":   {Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
}

// syscallName is what libseccomp accepts as a name ("_llseek" included).
var syscallName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// unnamed matches the names the tracer gives syscalls its table does not
// know ("syscall_451") and numbers past its table ("out_of_range").
var unnamed = regexp.MustCompile(`^(syscall_[0-9]+|out_of_range)$`)

// runtimeBaseline is what runc's container init does after it installs the
// seccomp filter and before it execs the entrypoint, read from runc v1.1-v1.3
// (github.com/opencontainers/runc):
//
//   - libcontainer/standard_init_linux.go, (*linuxStandardInit).Init: without
//     NoNewPrivileges the filter goes in (seccomp.InitSeccomp) before
//     finalizeNamespace; then pdeath.Restore, unix.Getppid, exec.LookPath,
//     closing the init and log pipes, opening and writing the exec fifo
//     through /proc/thread-self/fd, unix.Getpid, utils.UnsafeCloseFrom and
//     system.Exec. With NoNewPrivileges the filter goes in just before the
//     pipes are closed, so the list below is a superset for that case.
//   - libcontainer/init_linux.go: finalizeNamespace (utils.CloseExecFrom,
//     chdir, capabilities.New / ApplyBoundingSet / SetKeepCaps / setupUser /
//     verifyCwd / ClearKeepCaps / ApplyCaps), setupUser (reads /etc/passwd,
//     /etc/group and /proc/self/setgroups; setgroups, setgid, setuid) and
//     fixStdioPermissions (stat /dev/null, fstat and fchown of stdio).
//   - libcontainer/utils/utils_unix.go: CloseExecFrom (fcntl F_DUPFD_CLOEXEC
//     probe, close_range CLOSE_RANGE_CLOEXEC, else the /proc/thread-self/fd
//     walk), fdRangeFrom and EnsureProcHandle (fstatfs: a profile without it
//     fails with "close exec fds: ensure /proc/self/fd is on procfs:
//     operation not permitted").
//   - libcontainer/capabilities/capabilities.go and the capability package
//     it uses: capget, /proc/self/status, prctl(PR_CAPBSET_DROP,
//     PR_CAP_AMBIENT), capset.
//   - the Go runtime, which runs under the filter too (futex, signals for
//     preemption and for setuid/setgid on every thread, the netpoller, the
//     heap).
//
// Where the filter goes in decides how much of this list runc needs.
// Measured with runc 1.1.5 (Debian 12) by removing each name in turn from a
// profile of the baseline and a static entrypoint that makes only write and
// exit_group (internal/session BenchmarkSeccompRuntimeBaseline):
//
//   - with noNewPrivileges (containerd's default spec; Kubernetes with
//     allowPrivilegeEscalation: false) the filter goes in after
//     finalizeNamespace, and runc needs only close (the pipes), openat and
//     write (the exec fifo through /proc/self/fd), fstatfs and getdents64
//     (UnsafeCloseFrom's walk of /proc/self/fd), futex (the Go runtime) and
//     execve;
//   - without it (docker run's default) the filter goes in first, and runc
//     also needs capget, capset, prctl and read (/proc/self/status; the
//     bounding set), setgroups, setgid, setuid, fstat and newfstatat
//     (setupUser, fixStdioPermissions), chdir and getcwd (the cwd and its
//     CVE-2024-21626 check), getppid, and rt_sigreturn (a Go signal
//     handler returning, needed in one run of two).
//
// Without any of these the container never runs its entrypoint: runc
// create fails ("unable to apply caps: operation not permitted") or init
// dies. The other names (close_range, fcntl, getpid, tgkill, the Go
// runtime's memory and scheduling calls) were not needed by this runc; they
// stay for runc 1.2 and later (close_range), other Go versions and the
// runtime's timing-dependent paths.
//
// Peers do not keep such a list: inspektor-gadget's advise_seccomp gadget
// and containers/oci-seccomp-bpf-hook record runc's syscalls from its first
// prctl (PR_GET_PDEATHSIG) on instead. slimtrace's tracer counts every
// syscall of the cgroup, so these are normally in the trace already; the
// baseline covers a trace that missed them (a late attach, a runc built
// another way). Hooks (StartContainer), runc-dmz (execveat, runc 1.2.0-rc
// only), personality and SCMP_ACT_NOTIFY are not covered.
var runtimeBaseline = []string{
	"capget",      // capabilities.New: Load; Apply reads the sets again
	"capset",      // ApplyCaps
	"chdir",       // finalizeNamespace: process.cwd
	"close",       // init pipe, log pipe, exec fifo, UnsafeCloseFrom
	"close_range", // CloseExecFrom: close_range(CLOSE_RANGE_CLOEXEC)
	"epoll_ctl",   // Go poller when an os.File is opened or closed
	"epoll_pwait", // Go netpoller
	"execve",      // system.Exec of the entrypoint
	"exit_group",  // runc init exits after reporting a failed start
	"faccessat",   // eaccess with Go < 1.20 (older runc builds)
	"faccessat2",  // exec.LookPath: unix.Eaccess (Go >= 1.20)
	"fchown",      // fixStdioPermissions
	"fcntl",       // CloseExecFrom: F_DUPFD_CLOEXEC probe, F_SETFD fallback
	"fstat",       // fixStdioPermissions; os.ReadFile(/proc/self/setgroups)
	"fstatfs",     // EnsureProcHandle: /proc/self/fd must be on procfs
	"futex",       // Go runtime
	"getcwd",      // verifyCwd (CVE-2024-21626 check)
	"getdents64",  // fdRangeFrom: reading /proc/thread-self/fd
	"getpid",      // StartContainer state; Go runtime signals (tgkill)
	"getppid",     // parent-death check before exec
	"gettid",      // Go runtime
	"madvise",     // Go runtime
	"mmap",        // Go runtime
	"munmap",      // Go runtime
	"nanosleep",   // Go runtime (usleep)
	"newfstatat",  // stat(/dev/null); os.Stat in exec.LookPath
	"openat",      // /etc/passwd, /etc/group, /proc/self/*, exec fifo
	"prctl",       // PR_CAPBSET_DROP, PR_SET_KEEPCAPS, PR_CAP_AMBIENT, PR_SET_PDEATHSIG
	"read",        // /etc/passwd, /etc/group, /proc/self/*, sync pipe
	"rt_sigprocmask",
	"rt_sigreturn", // Go runtime signal handlers (preemption, all-threads setuid)
	"sched_yield",  // Go runtime
	"setgid",       // setupUser
	"setgroups",    // setupUser
	"setuid",       // setupUser
	"sigaltstack",  // Go runtime
	"tgkill",       // Go runtime: preemption, all-threads setuid/setgid
	"write",        // exec fifo, sync pipe, log pipe
}

// RuntimeSyscalls returns the runtime baseline Seccomp adds by default: the
// syscalls runc's container init makes between installing the seccomp
// filter and executing the entrypoint. The names exist on both x86_64 and
// aarch64.
func RuntimeSyscalls() []string { return slices.Clone(runtimeBaseline) }

// Seccomp renders the seccomp profile of a trace: deny with EPERM by
// default, allow the syscalls the trace saw (native and compat names) and,
// unless opts.OmitRuntime, the runtime baseline. The architectures are the
// trace's and the sub-architectures moby's default profile pairs with it.
func Seccomp(r *trace.Report, opts SeccompOptions) (*seccomp.Seccomp, error) {
	p, _, err := SeccompWithSummary(r, opts)
	return p, err
}

// SeccompWithSummary is Seccomp, and also says where each allowed name came
// from.
func SeccompWithSummary(r *trace.Report, opts SeccompOptions) (*seccomp.Seccomp, *SeccompSummary, error) {
	if r == nil {
		return nil, nil, errors.New("no trace report")
	}
	arch, ok := arches[r.Tracer.Arch]
	if !ok {
		return nil, nil, fmt.Errorf("unsupported architecture %q", r.Tracer.Arch)
	}
	sum := &SeccompSummary{Arch: arch.Arch, SubArches: slices.Clone(arch.SubArches), Complete: r.Complete()}
	allowed := map[string]bool{}
	for _, s := range r.Syscalls {
		if !syscallName.MatchString(s.Name) || unnamed.MatchString(s.Name) {
			sum.Skipped = append(sum.Skipped, s)
			continue
		}
		// The tracer names syscalls as libseccomp does (trace.SyscallNames).
		name := s.Name
		if s.Compat {
			sum.Compat = append(sum.Compat, name)
		} else {
			sum.Observed = append(sum.Observed, name)
		}
		allowed[name] = true
	}
	if !opts.OmitRuntime {
		for _, n := range runtimeBaseline {
			if !allowed[n] {
				sum.RuntimeOnly = append(sum.RuntimeOnly, n)
				allowed[n] = true
			}
		}
	}
	if len(allowed) == 0 {
		return nil, nil, errors.New("no syscalls to allow: the trace has none")
	}
	for _, l := range []*[]string{&sum.Observed, &sum.Compat, &sum.RuntimeOnly} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	for n := range allowed {
		sum.Allowed = append(sum.Allowed, n)
	}
	slices.Sort(sum.Allowed)

	names := sum.Allowed
	if (allowed["clone"] || allowed["clone3"]) && !makesNamespaces(r, allowed) {
		sum.NamespacesDenied = true
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "clone" || n == "clone3" })
		if !allowed["clone"] {
			// libc falls back to clone when clone3 fails with ENOSYS.
			allowed["clone"] = true
			sum.Allowed = append(sum.Allowed, "clone")
			slices.Sort(sum.Allowed)
		}
	}
	if allowed["socket"] {
		if fams, ok := socketFamilies(r); ok {
			sum.SocketFamilies = fams
			names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "socket" })
		}
	}

	errno := errnoEPERM
	p := &seccomp.Seccomp{
		LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &errno},
		ArchMap:      []seccomp.Architecture{{Arch: arch.Arch, SubArches: slices.Clone(arch.SubArches)}},
		Syscalls: []*seccomp.Syscall{{
			LinuxSyscall: specs.LinuxSyscall{Names: names, Action: specs.ActAllow},
			Comment:      seccompComment(sum),
		}},
	}
	if sum.NamespacesDenied {
		p.Syscalls = append(p.Syscalls, namespaceRules(allowed)...)
	}
	for _, f := range sum.SocketFamilies {
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, Op: specs.OpEqualTo}}},
			Comment: fmt.Sprintf("slimtrace: socket(AF_%s, ...) seen in the trace", strings.ToUpper(trace.FamilyName(uint32(f)))),
		})
	}
	return p, sum, nil
}

// socketFamilies returns the address families the trace saw socket(2) or
// socketpair(2) ask for, as numbers, the way Docker's default profile
// filters socket's first argument (it refuses AF_VSOCK). ok is false when
// the trace has socket calls but no families: a tracer that did not record
// them, so socket stays allowed for every family. socketpair is left
// unfiltered (its families are AF_UNIX in practice), and so is a 32-bit
// socketcall, whose arguments are behind a pointer a filter cannot read.
// cloneNewFlags are clone's namespace flags: CLONE_NEWNS, CLONE_NEWCGROUP,
// CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET
// (moby's default profile masks the same bits).
const cloneNewFlags = 0x7E020000

// errnoENOSYS is what clone3 returns when namespaces are denied: its flags
// are in a struct seccomp cannot read, and on ENOSYS glibc falls back to
// clone, whose flags it can.
const errnoENOSYS uint = 38

// makesNamespaces reports whether the application may make namespaces
// with clone: it called unshare or setns, or the kernel granted it
// CAP_SYS_ADMIN (which every namespace but a user namespace needs). The
// trace does not hold clone's flags, so this is what tells.
func makesNamespaces(r *trace.Report, allowed map[string]bool) bool {
	if allowed["unshare"] || allowed["setns"] {
		return true
	}
	return slices.ContainsFunc(r.Capabilities, func(c trace.Capability) bool {
		return c.Name == "sys_admin" && c.Granted > 0 && !c.Setup && !c.OtherCreds && !c.Unmediated
	})
}

// namespaceRules allow clone without namespace flags and make clone3 fail
// with ENOSYS, as moby's default profile does for a container without
// CAP_SYS_ADMIN: a process of the application cannot make a namespace
// (clone(CLONE_NEWUSER) gets EPERM), every thread and child still can be
// made. clone's flags are its first argument on x86_64, aarch64 and their
// 32-bit ABIs alike. An application seen using only clone3 gets clone too
// (allowed["clone"] is set by the caller): glibc falls back to it.
func namespaceRules(allowed map[string]bool) []*seccomp.Syscall {
	var rules []*seccomp.Syscall
	if allowed["clone"] {
		rules = append(rules, &seccomp.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneNewFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			Comment: "slimtrace: clone without CLONE_NEW* flags: the application made no namespace (no unshare, setns or CAP_SYS_ADMIN in the trace)",
		})
	}
	if allowed["clone3"] {
		enosys := errnoENOSYS
		rules = append(rules, &seccomp.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
			Comment:      "slimtrace: clone3 fails with ENOSYS, so that libc falls back to clone, whose flags the filter can read",
		})
	}
	return rules
}

func socketFamilies(r *trace.Report) (fams []uint64, ok bool) {
	if len(r.NetworkFamilies) == 0 {
		return nil, false
	}
	numbers := map[string]uint64{}
	for n := range uint32(256) {
		numbers[trace.FamilyName(n)] = uint64(n)
	}
	for _, f := range r.NetworkFamilies {
		n, known := numbers[f.Family]
		if !known {
			return nil, false
		}
		if !slices.Contains(fams, n) {
			fams = append(fams, n)
		}
	}
	slices.Sort(fams)
	return fams, true
}

// seccompComment says, inside the profile, where its names came from.
func seccompComment(s *SeccompSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "slimtrace: %d syscalls seen in the trace", len(s.Observed))
	if len(s.Compat) > 0 {
		fmt.Fprintf(&b, "; 32-bit compat syscalls seen and allowed by name: %s", strings.Join(s.Compat, ", "))
	}
	if len(s.RuntimeOnly) > 0 {
		fmt.Fprintf(&b, "; added for runc init between seccomp and execve: %s", strings.Join(s.RuntimeOnly, ", "))
	}
	if s.NamespacesDenied {
		b.WriteString("; clone is allowed without namespace flags only, clone3 gets ENOSYS (rules below)")
	}
	if len(s.SocketFamilies) > 0 {
		fmt.Fprintf(&b, "; socket is allowed only for the %d address families seen (rules below)", len(s.SocketFamilies))
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "; %d unnamed syscalls could not be allowed", len(s.Skipped))
	}
	if !s.Complete {
		b.WriteString("; the trace lost events, so this profile may be missing syscalls")
	}
	return b.String()
}
