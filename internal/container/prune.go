package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// ownerID identifies a process across pid reuse: pid@start time (in clock
// ticks since boot, field 22 of /proc/<pid>/stat). It is "" when the process
// does not exist.
func ownerID(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return fmt.Sprintf("%d@%s", pid, f[19])
}

// ownerAlive reports whether the process an owner label names still runs.
func ownerAlive(owner string) bool {
	pid, _, ok := strings.Cut(owner, "@")
	if !ok {
		return false
	}
	var n int
	if _, err := fmt.Sscan(pid, &n); err != nil {
		return false
	}
	return ownerID(n) == owner
}

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
		if ownerAlive(labels[labelOwner]) {
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
