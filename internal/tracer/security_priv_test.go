package tracer

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// lowPort is below ip_unprivileged_port_start (1024 unless changed): bind
// checks CAP_NET_BIND_SERVICE before it looks whether the port is free.
const lowPort = 1000

// securityHelper (helper "security" FILE) makes sockets of three families,
// binds a low port, chowns FILE to another user (CAP_CHOWN, granted to
// root), then drops its effective capabilities and tries again (denied).
func securityHelper(args []string) error {
	for _, s := range []struct{ family, typ int }{{unix.AF_INET, unix.SOCK_STREAM}, {unix.AF_INET6, unix.SOCK_DGRAM}} {
		fd, err := unix.Socket(s.family, s.typ|unix.SOCK_CLOEXEC, 0)
		if err != nil && !(s.family == unix.AF_INET6 && err == unix.EAFNOSUPPORT) {
			return err
		}
		if err == nil && s.family == unix.AF_INET {
			err := unix.Bind(fd, &unix.SockaddrInet4{Port: lowPort, Addr: [4]byte{127, 0, 0, 1}})
			if err != nil && err != unix.EADDRINUSE {
				return err
			}
		}
		unix.Close(fd)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		return err
	}
	unix.Close(fds[0])
	unix.Close(fds[1])

	// Capabilities are per thread: capset and the second chown on one.
	runtime.LockOSThread()
	if err := unix.Chown(args[0], 12345, -1); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective, data[1].Effective = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return err
	}
	if err := unix.Chown(args[0], 23456, -1); err != unix.EPERM {
		return errors.New("chown without CAP_CHOWN: want EPERM, got " + errString(err))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// TestNetworkAndCapabilities traces the security helper and checks the
// socket families and capability checks the kernel saw: what the helper
// did, the launcher's chroot before the exec as setup, and nothing of this
// (untraced) test process.
func TestNetworkAndCapabilities(t *testing.T) {
	if err := capsSupported(); err != nil {
		privtest.Skip(t, err.Error())
	}
	file := filepath.Join(t.TempDir(), "owned")
	mustWrite(t, file)
	// This process, outside the cgroup, lowers a thread's nice
	// value (CAP_SYS_NICE) while the helper runs: it must not count.
	var once sync.Once
	var outsideErr error
	r := runTraced(t, RunOptions{
		Options: Options{OnEvent: func(ev trace.Event) {
			if _, ok := ev.(*trace.ExecEvent); ok {
				once.Do(func() { outsideErr = lowerNice() })
			}
		}},
		Args:        []string{os.Args[0], file},
		Env:         append(os.Environ(), helperEnv+"=security"),
		SysProcAttr: &syscall.SysProcAttr{Chroot: "/"},
	})
	t.Logf("network families: %+v", r.NetworkFamilies)
	t.Logf("capabilities: %+v", r.Capabilities)
	if outsideErr != nil {
		t.Fatalf("outside the cgroup: %v", outsideErr)
	}
	if !r.Tracer.CapabilitiesRecorded {
		t.Fatal("capabilities not recorded on a kernel with the tracepoint")
	}
	for _, want := range []trace.NetworkFamily{{Family: "inet", Type: "stream"}, {Family: "inet6", Type: "dgram"},
		{Family: "unix", Type: "seqpacket"}} {
		i := slices.IndexFunc(r.NetworkFamilies, func(f trace.NetworkFamily) bool {
			return f.Family == want.Family && f.Type == want.Type && !f.Setup
		})
		if i < 0 || r.NetworkFamilies[i].Calls+r.NetworkFamilies[i].Failed == 0 {
			t.Errorf("no %s %s socket in %+v", want.Family, want.Type, r.NetworkFamilies)
		}
	}
	if len(r.NetworkFamilies) != 3 {
		t.Errorf("want exactly the helper's three socket kinds, got %+v", r.NetworkFamilies)
	}
	capOf := func(name string, setup bool) *trace.Capability {
		for i, c := range r.Capabilities {
			if c.Name == name && c.Setup == setup && !c.OtherCreds && !c.Unmediated {
				return &r.Capabilities[i]
			}
		}
		return nil
	}
	if c := capOf("chown", false); c == nil || c.Granted == 0 || c.Denied == 0 || c.Number != unix.CAP_CHOWN {
		t.Errorf("chown: %+v, want granted and denied checks; all: %+v", c, r.Capabilities)
	}
	if c := capOf("net_bind_service", false); c == nil || c.Granted == 0 {
		t.Errorf("net_bind_service: %+v; all: %+v", c, r.Capabilities)
	}
	if c := capOf("sys_chroot", true); c == nil || c.Granted == 0 {
		t.Errorf("the launcher's chroot before the exec is not setup: %+v; all: %+v", c, r.Capabilities)
	}
	if c := capOf("sys_chroot", false); c != nil {
		t.Errorf("the chroot is counted for the helper: %+v", c)
	}
	// The Go runtime's mappings are tested for overcommit
	// (CAP_SYS_ADMIN, which no security module sees); the helper
	// makes no other sys_admin check.
	if !slices.ContainsFunc(r.Capabilities, func(c trace.Capability) bool {
		return c.Name == "sys_admin" && c.Unmediated && c.Granted > 0
	}) {
		t.Errorf("no overcommit test of sys_admin: %+v", r.Capabilities)
	}
	if c := capOf("sys_admin", false); c != nil {
		t.Errorf("the helper's sys_admin checks are not all the overcommit test: %+v", c)
	}
	if c := capOf("sys_nice", false); c != nil {
		t.Errorf("a check made outside the cgroup was counted: %+v", c)
	}
	if c := capOf("sys_nice", true); c != nil {
		t.Errorf("a check made outside the cgroup was counted: %+v", c)
	}
}

// lowerNice lowers this thread's nice value by one and restores it: the
// first needs CAP_SYS_NICE, the second nothing.
func lowerNice() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	// getpriority returns 20 - nice.
	prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	nice := 20 - prio
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice-1); err != nil {
		return err
	}
	return unix.Setpriority(unix.PRIO_PROCESS, tid, nice)
}

// TestCapabilityOtherCreds: overlayfs reads its trusted.* attributes with
// the mounter's credentials (CAP_SYS_ADMIN checks); those count apart from
// the process's own checks.
func TestCapabilityOtherCreds(t *testing.T) {
	if err := capsSupported(); err != nil {
		privtest.Skip(t, err.Error())
	}
	dir := t.TempDir()
	for _, d := range []string{"lower/sub", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(dir, "lower", "sub", "file.txt"))
	script := "set -e; cd " + dir + "; mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged; " +
		"cat merged/sub/file.txt >/dev/null; echo x > merged/sub/new.txt"
	r := runTraced(t, RunOptions{Args: []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}})
	t.Logf("capabilities: %+v", r.Capabilities)
	other := slices.IndexFunc(r.Capabilities, func(c trace.Capability) bool {
		return c.OtherCreds && c.Name == "sys_admin" && c.Granted > 0
	})
	if other < 0 {
		t.Errorf("no sys_admin check with the overlay mounter's credentials: %+v", r.Capabilities)
	}
	// The mount itself is the shell's own check.
	own := slices.IndexFunc(r.Capabilities, func(c trace.Capability) bool {
		return !c.OtherCreds && !c.Setup && c.Name == "sys_admin" && c.Granted > 0
	})
	if own < 0 {
		t.Errorf("the mount's own sys_admin check is missing: %+v", r.Capabilities)
	}
}

// TestNoCapTracepoint: where the kernel has no capability:cap_capable
// tracepoint (stood in for by a name no kernel has), tracing works and the
// report says capabilities were not recorded; sockets are still counted.
func TestNoCapTracepoint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "owned")
	mustWrite(t, file)
	r := runTraced(t, RunOptions{
		Options: Options{capTracepoint: "slimtrace_no_such_tracepoint"},
		Args:    []string{os.Args[0], file},
		Env:     append(os.Environ(), helperEnv+"=security"),
	})
	if r.Tracer.CapabilitiesRecorded || len(r.Capabilities) != 0 {
		t.Errorf("capabilities recorded without the tracepoint: %v %+v", r.Tracer.CapabilitiesRecorded, r.Capabilities)
	}
	if !slices.ContainsFunc(r.NetworkFamilies, func(f trace.NetworkFamily) bool { return f.Family == "inet" }) {
		t.Errorf("sockets not counted: %+v", r.NetworkFamilies)
	}
	if r.File(file) == nil {
		t.Errorf("%s missing from the trace", file)
	}
}

// The overcommit test's callers are found in /proc/kallsyms, each a range
// of text that holds its own start.
func TestOvercommitText(t *testing.T) {
	privtest.Root(t) // addresses are hidden from other users
	text, err := overcommitText()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range text {
		if r[0] == 0 || r[1] <= r[0] || r[1]-r[0] > 1<<16 {
			t.Errorf("%s: text [%#x, %#x)", overcommitFuncs[i], r[0], r[1])
		}
	}
	if _, err := kernelSymbols([]string{"slimtrace_no_such_function"}); err != nil {
		t.Errorf("a missing symbol is an error of overcommitText, not of kernelSymbols: %v", err)
	}
}
