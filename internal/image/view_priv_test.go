package image

import (
	"context"
	"os"
	"path/filepath"
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
