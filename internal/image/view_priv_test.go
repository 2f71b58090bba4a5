package image

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// TestView mounts an image's filesystem read-only and unmounts it.
func TestView(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := rt.View(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	dir, leaseID, key := v.Dir, v.lease.ID, v.key
	if fi, err := os.Stat(filepath.Join(dir, "bin/busybox")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("bin/busybox in view: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err == nil {
		t.Error("view is writable")
	}
	// Nothing of the image can act on the host: the mount is ro, nosuid,
	// nodev and noexec, under a directory only root may enter.
	opts := mountOptions(t, dir)
	for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
		if !slices.Contains(opts, o) {
			t.Errorf("view mounted %s: no %s", strings.Join(opts, ","), o)
		}
	}
	if fi, err := os.Stat(filepath.Dir(dir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("view's parent %s: %v, %v; want mode 0700", filepath.Dir(dir), fi, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := v.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("mount point left: %v", err)
	}
	if _, err := rt.client.SnapshotService(rt.opts.Snapshotter).Stat(rt.nsctx(ctx), key); !errdefs.IsNotFound(err) {
		t.Errorf("view snapshot %s left: %v", key, err)
	}
	ls, _ := rt.client.LeasesService().List(rt.nsctx(ctx))
	for _, l := range ls {
		if l.ID == leaseID {
			t.Errorf("lease %s left", l.ID)
		}
	}
}

// mountOptions returns the per-mount options /proc/self/mountinfo lists for
// the mount at dir (the last one, when several are stacked there).
func mountOptions(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var opts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == dir {
			opts = strings.Split(f[5], ",")
		}
	}
	if opts == nil {
		t.Fatalf("%s not in /proc/self/mountinfo", dir)
	}
	return opts
}
