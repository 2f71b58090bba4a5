package image

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Kinds of what a run creates, for Store.Track.
const (
	// TrackMount is a mount point on the host: unmounted (detached).
	TrackMount = "mount"
	// TrackDir is an empty directory (a mount point): removed.
	TrackDir = "dir"
	// TrackTree is a directory and all it holds: removed unless a mount
	// is still below it.
	TrackTree = "tree"
	// TrackSnapshot is a snapshot key of the store's snapshotter.
	TrackSnapshot = "snapshot"
	// TrackLease is a containerd lease ID.
	TrackLease = "lease"
	// TrackContainer is a containerd container ID: its task is killed and
	// deleted, then the container with its snapshot.
	TrackContainer = "container"
)

// runsDir is where each process's record of what it created lives.
const runsDir = "runs"

// tracked is one line of a run record: op "add" or "del".
type tracked struct {
	Op        string `json:"op"`
	Kind      string `json:"kind"`
	Value     string `json:"value"`
	Namespace string `json:"namespace,omitempty"`
}

// runRecord is the file, under the state path, that lists what this
// process created and has not removed yet, so that a later run can remove
// it when this process is killed (kill -9, the OOM killer).
type runRecord struct {
	mu   sync.Mutex
	path string
	f    *os.File
	live int
}

// Track records that this process created something of kind (a Track*
// constant) named value, before or as it creates it; Untrack it once it is
// removed. A record whose process is gone is cleaned by PruneStale.
func (r *Store) Track(ctx context.Context, kind, value string) {
	r.track(ctx, tracked{Op: "add", Kind: kind, Value: value, Namespace: r.opts.Namespace})
}

// Untrack records that what Track recorded is gone.
func (r *Store) Untrack(ctx context.Context, kind, value string) {
	r.track(ctx, tracked{Op: "del", Kind: kind, Value: value, Namespace: r.opts.Namespace})
}

func (r *Store) track(ctx context.Context, t tracked) {
	rec := &r.runs
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if t.Op == "del" && rec.f == nil {
		return
	}
	if rec.f == nil {
		dir := filepath.Join(r.opts.StatePath, runsDir)
		var f *os.File
		var err error
		// Another process may remove the directory once its record is
		// gone, between the two calls: try again then.
		for try := 0; try < 3; try++ {
			if err = os.MkdirAll(dir, 0o700); err != nil {
				continue
			}
			if f, err = os.CreateTemp(dir, OwnerID(os.Getpid())+"-*"); err == nil || !errors.Is(err, os.ErrNotExist) {
				break
			}
		}
		if err != nil {
			logger(ctx).Warn().Err(err).Msg("creating the run record")
			return
		}
		rec.f, rec.path = f, f.Name()
	}
	b, _ := json.Marshal(t)
	if _, err := rec.f.Write(append(b, '\n')); err != nil {
		logger(ctx).Warn().Err(err).Msg("writing the run record")
	}
	if t.Op == "add" {
		rec.live++
	} else {
		rec.live--
	}
	if rec.live <= 0 {
		// Everything recorded is gone: so is the record.
		rec.f.Close()
		os.Remove(rec.path)
		os.Remove(filepath.Dir(rec.path)) // when no other record is there: the state path stays clean
		rec.f, rec.path, rec.live = nil, "", 0
	}
}

// OwnerID identifies a process across pid reuse: pid@start time (in clock
// ticks since boot, field 22 of /proc/<pid>/stat). It is "" when the
// process does not exist.
func OwnerID(pid int) string {
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

// OwnerAlive reports whether the process an OwnerID names still runs.
func OwnerAlive(owner string) bool {
	pid, _, ok := strings.Cut(owner, "@")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	return OwnerID(n) == owner
}

// PruneStale removes what processes that are gone recorded with Track and
// did not remove: last created first (containers, then mounts, then
// directories, snapshots and leases). Records of live processes are left
// alone. It returns how many things it removed.
func (r *Store) PruneStale(ctx context.Context) (int, error) {
	dir := filepath.Join(r.opts.StatePath, runsDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("listing run records: %w", err)
	}
	n := 0
	var errs []error
	for _, e := range ents {
		owner, _, _ := strings.Cut(e.Name(), "-")
		if !e.Type().IsRegular() || OwnerAlive(owner) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		items, err := readRecord(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var failed []error
		for _, it := range slices.Backward(items) {
			if err := r.removeTracked(ctx, it); err != nil {
				failed = append(failed, fmt.Errorf("removing %s %s: %w", it.Kind, it.Value, err))
				continue
			}
			n++
		}
		if len(failed) == 0 {
			logger(ctx).Info().Str("owner", owner).Int("removed", len(items)).Msg("cleaned up after a run that was killed")
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
			}
			os.Remove(dir) // when it was the last record
		}
		errs = append(errs, failed...)
	}
	return n, errors.Join(errs...)
}

// readRecord returns what a run record lists as still there, in the order
// it was created.
func readRecord(path string) ([]tracked, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []tracked
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var t tracked
		if json.Unmarshal(sc.Bytes(), &t) != nil {
			continue // a line cut by the kill
		}
		if t.Op == "del" {
			out = slices.DeleteFunc(out, func(o tracked) bool { return o.Kind == t.Kind && o.Value == t.Value && o.Namespace == t.Namespace })
			continue
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// removeTracked removes one recorded thing; what is already gone is not an
// error.
func (r *Store) removeTracked(ctx context.Context, t tracked) error {
	ctx, cancel := cleanupContext(namespaces.WithNamespace(ctx, cmpOr(t.Namespace, r.opts.Namespace)))
	defer cancel()
	switch t.Kind {
	case TrackMount:
		err := unix.Unmount(t.Value, unix.MNT_DETACH)
		if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	case TrackDir:
		if err := os.Remove(t.Value); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	case TrackTree:
		if m := mountsUnder(t.Value); len(m) > 0 {
			return fmt.Errorf("still mounted below it: %s", strings.Join(m, ", "))
		}
		return os.RemoveAll(t.Value)
	case TrackSnapshot:
		if err := r.client.SnapshotService(r.opts.Snapshotter).Remove(ctx, t.Value); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		return nil
	case TrackLease:
		if err := r.client.LeasesService().Delete(ctx, leases.Lease{ID: t.Value}); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		return nil
	case TrackContainer:
		c, err := r.client.LoadContainer(ctx, t.Value)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if task, err := c.Task(ctx, nil); err == nil {
			if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("deleting task: %w", err)
			}
		} else if !errdefs.IsNotFound(err) {
			return fmt.Errorf("loading task: %w", err)
		}
		if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown kind %q", t.Kind)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// mountsUnder lists the mount points at or below dir in this process's
// mount namespace.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	dir = filepath.Clean(dir)
	var out []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
