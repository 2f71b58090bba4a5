package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"
)

// View is a read-only mount of an image's filesystem on the host, for
// reading what the image holds (file sets, symlinks, owners, modes).
type View struct {
	// Dir is where the image's root is mounted.
	Dir string

	rt      *Store
	key     string
	lease   leases.Lease
	mounted bool
	mu      sync.Mutex
}

// View mounts img's filesystem read-only under the state path. Close it to
// unmount; the image itself is never changed.
func (r *Store) View(ctx context.Context, img *Image) (_ *View, err error) {
	if img == nil {
		return nil, errors.New("no image")
	}
	ctx = r.nsctx(ctx)
	id := NewID()
	v := &View{rt: r, key: id + "-view"}
	defer func() {
		if err != nil {
			if cerr := v.Close(ctx); cerr != nil {
				logger(ctx).Warn().Err(cerr).Msg("cleaning up after failed view")
			}
		}
	}()
	// The lease keeps the view snapshot from the garbage collector.
	v.lease, err = r.client.LeasesService().Create(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("creating lease: %w", err)
	}
	r.Track(ctx, TrackLease, v.lease.ID)
	lctx := leases.WithLease(ctx, v.lease.ID)
	diffIDs, err := containerd.NewImage(r.client, img.ref()).RootFS(lctx)
	if err != nil {
		return nil, fmt.Errorf("reading layers of %s: %w", img.Name, err)
	}
	r.Track(ctx, TrackSnapshot, v.key)
	mounts, err := r.client.SnapshotService(r.opts.Snapshotter).View(lctx, v.key, identity.ChainID(diffIDs).String())
	if err != nil {
		return nil, fmt.Errorf("viewing %s: %w", img.Name, err)
	}
	// Only root may reach the mount: a setuid binary or a device node of
	// the image is no way in for a local user, and the mount itself is
	// read-only, nosuid, nodev and noexec.
	views := filepath.Join(r.opts.StatePath, "views")
	if err := os.MkdirAll(views, 0o700); err != nil {
		return nil, fmt.Errorf("creating the views directory: %w", err)
	}
	if err := os.Chmod(views, 0o700); err != nil {
		return nil, fmt.Errorf("creating the views directory: %w", err)
	}
	v.Dir = filepath.Join(views, v.key)
	r.Track(ctx, TrackDir, v.Dir)
	if err := os.Mkdir(v.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating mount point: %w", err)
	}
	r.Track(ctx, TrackMount, v.Dir)
	if err := mount.All(inert(mounts), v.Dir); err != nil {
		r.Untrack(ctx, TrackMount, v.Dir)
		return nil, fmt.Errorf("mounting %s: %w", img.Name, err)
	}
	v.mounted = true
	logger(ctx).Debug().Str("image", img.Name).Str("dir", v.Dir).Msg("mounted image view")
	return v, nil
}

// Close unmounts the view and removes its snapshot. It works when ctx is
// already cancelled and can be called again.
func (v *View) Close(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	ctx, cancel := cleanupContext(v.rt.nsctx(ctx))
	defer cancel()
	var errs []error
	if v.mounted {
		if err := mount.UnmountAll(v.Dir, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", v.Dir, err))
		} else {
			v.mounted = false
			v.rt.Untrack(ctx, TrackMount, v.Dir)
		}
	}
	if !v.mounted && v.Dir != "" {
		if err := os.Remove(v.Dir); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		} else {
			v.rt.Untrack(ctx, TrackDir, v.Dir)
			v.Dir = ""
		}
	}
	if !v.mounted && v.key != "" {
		if err := v.rt.client.SnapshotService(v.rt.opts.Snapshotter).Remove(ctx, v.key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing view snapshot: %w", err))
		} else {
			v.rt.Untrack(ctx, TrackSnapshot, v.key)
			v.key = ""
		}
	}
	if v.key == "" && v.lease.ID != "" {
		if err := v.rt.client.LeasesService().Delete(ctx, v.lease); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("releasing lease: %w", err))
		} else {
			v.rt.Untrack(ctx, TrackLease, v.lease.ID)
			v.lease = leases.Lease{}
		}
	}
	for _, err := range errs {
		logger(ctx).Warn().Err(err).Msg("closing image view")
	}
	return errors.Join(errs...)
}

// inert makes every mount of a view read-only, nosuid, nodev and noexec.
func inert(mounts []mount.Mount) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool {
			return o == "rw" || o == "suid" || o == "dev" || o == "exec"
		})
		for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
			if !slices.Contains(m.Options, o) {
				m.Options = append(m.Options, o)
			}
		}
		out[i] = m
	}
	return out
}
