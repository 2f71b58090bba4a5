package container

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// newNetNS creates a network namespace with only loopback, up, and keeps it
// alive by bind-mounting it on path (like `ip netns add`).
func newNetNS(path string) (err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating netns mount point: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			removeNetNS(path)
		}
	}()

	errc := make(chan error, 1)
	go func() {
		// The thread enters a new namespace; if it cannot come back, it
		// stays locked and dies with this goroutine.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("getting current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		merr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("restoring netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		if merr != nil {
			merr = fmt.Errorf("bind-mounting netns on %s: %w", path, merr)
		}
		errc <- merr
	}()
	if err := <-errc; err != nil {
		return err
	}

	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", path, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in netns: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}

// removeNetNS unmounts and removes a netns made by newNetNS. A missing one is
// not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("unmounting netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing netns %s: %w", path, err)
	}
	return nil
}

// dialInNetNS dials addr from inside the network namespace at nsPath. The
// socket is created while the calling thread is in that namespace and stays
// there, so the connection works from any goroutine afterwards. addr must
// hold an IP address (or localhost): name resolution inside the namespace is
// not attempted.
func dialInNetNS(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return nil, fmt.Errorf("dial %s %s: want an IP address inside the target's network namespace", network, addr)
	}
	addr = net.JoinHostPort(host, port)

	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", nsPath, err)
	}
	defer target.Close()

	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("getting current netns: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering netns %s: %w", nsPath, err)}
			return
		}
		// A negative FallbackDelay keeps the dial on this goroutine (no
		// parallel happy-eyeballs dials from other threads).
		d := net.Dialer{FallbackDelay: -1}
		conn, err := d.DialContext(ctx, network, addr)
		if rerr := netns.Set(orig); rerr != nil {
			// Leave the thread locked: it exits with the goroutine.
			if conn != nil {
				conn.Close()
			}
			done <- result{err: fmt.Errorf("restoring netns: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}
