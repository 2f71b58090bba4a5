package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/slimtrace/slimtrace/internal/image"
)

// Prune removes what runs left behind when their slimtrace process died
// without closing them: the task, container, snapshot, network namespace and
// run directory of every run whose owner is gone. Runs of live processes are
// left alone. It returns the IDs of the runs it removed.
func (r *Runtime) Prune(ctx context.Context) ([]string, error) {
	ctx = r.nsctx(ctx)
	cs, err := r.client.Containers(ctx, "labels."+LabelRun)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	var pruned []string
	var errs []error
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if image.OwnerAlive(labels[labelOwner]) {
			continue
		}
		if err := r.pruneRun(ctx, c, labels); err != nil {
			errs = append(errs, fmt.Errorf("pruning %s: %w", c.ID(), err))
			continue
		}
		pruned = append(pruned, c.ID())
	}
	return pruned, errors.Join(errs...)
}

// pruneRun rebuilds enough of a Container to Close it.
func (r *Runtime) pruneRun(ctx context.Context, c containerd.Container, labels map[string]string) error {
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return err
	}
	t := &Container{ID: c.ID(), rt: r, container: c, snapshot: info.SnapshotKey}
	task, err := c.Task(ctx, nil)
	switch {
	case err == nil:
		t.task = task
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("loading task: %w", err)
	}
	if dir := labels[labelRunDir]; dir != "" && filepath.Base(dir) == c.ID() {
		t.runDir = dir
		if _, err := os.Stat(filepath.Join(dir, "netns")); err == nil {
			t.netns = filepath.Join(dir, "netns")
		}
	}
	logger(ctx).Info().Str("run", t.ID).Str("owner", labels[labelOwner]).Msg("pruning run left behind")
	return t.Close(ctx)
}

// PruneStale removes everything runs of processes that are gone left
// behind: their containers (found by label, as Prune does), then what their
// records under the state path list (image views with their mounts,
// snapshots and leases, network namespaces, run and build directories; see
// image.Store.Track). It returns how many things it removed.
func PruneStale(ctx context.Context, st *image.Store) (int, error) {
	ids, err := NewRuntime(st).Prune(ctx)
	n, serr := st.PruneStale(ctx)
	return len(ids) + n, errors.Join(err, serr)
}
