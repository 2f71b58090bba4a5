package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// RecordOptions configure Record.
type RecordOptions struct {
	// Options give the tracer's ring size, the report's tool and command
	// and where progress goes; nothing is probed.
	Options Options
	// Runtime is the CRI runtime's containerd, in namespace k8s.io.
	Runtime *container.Runtime
	// Selector: the pod labels a container's pod must all have.
	Selector map[string]string
	// Namespace, when set, is the only Kubernetes namespace recorded.
	Namespace string
	// Duration bounds the recording; 0 records until ctx ends.
	Duration time.Duration
	// CgroupParent is the cgroup the kubelet's pods are below; empty
	// finds it (kubepods.slice or kubepods under the v2 root, else the
	// kubepods ancestor of a running pod's cgroup, else the root).
	CgroupParent string
}

// Record watches the kubelet's containers until o.Duration has passed or
// ctx ends (SIGINT, SIGTERM: the recording is kept, not lost), and traces
// every container whose pod matches: those already running from now on
// (their start-up missed), and those created meanwhile from their
// entrypoint's first exec, their pod's cgroup being watched from its
// sandbox's creation on. It returns one Run per pod owner and container
// name, replicas merged.
func Record(ctx context.Context, o RecordOptions) (_ []*Run, err error) {
	log := zerolog.Ctx(ctx)
	opts := o.Options
	opts.HTTPProbe = false
	opts.ContinueAfter = "record"
	step := progressFunc(opts)
	match := func(p *container.Pod) bool {
		return p != nil && (o.Namespace == "" || p.Namespace == o.Namespace) && container.Matches(p.Labels, o.Selector)
	}
	if err := tracer.CheckHost(); err != nil {
		return nil, err
	}
	// Subscribe first: nothing created while the running ones are listed
	// is missed.
	evctx, stop := context.WithCancel(ctx)
	defer stop()
	events, evErr := o.Runtime.TaskEvents(evctx)

	existing, err := o.Runtime.Running(ctx, func(*container.Pod) bool { return true })
	if err != nil {
		return nil, err
	}
	parent, flat, err := kubeParent(o.CgroupParent, existing)
	if err != nil {
		return nil, err
	}
	if parent.Level == 0 {
		log.Warn().Msg("no kubepods cgroup found: watching below the cgroup root (--cgroup-parent names it)")
	}
	x, err := openWatcher(parent, opts, *log)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			x.tr.Close()
		}
	}()
	if flat != "" {
		if err := x.spawn(flat); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	for _, w := range existing {
		if !match(w.Pod) {
			continue
		}
		if err := x.running(w, isPodDir(filepath.Dir(w.CgroupPath), w.Pod.UID)); err != nil {
			return nil, fmt.Errorf("attaching to %s: %w", w.Ref, err)
		}
		log.Info().Str("container", w.Ref).Int("pid", w.Pid).Msg("recording a running container (its start-up is missed)")
	}
	step("recording the containers of pods with %s below cgroup %s", selectorString(o.Selector), parent.Path)

	var until <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		until = t.C
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-until:
			break loop
		case err := <-evErr:
			return nil, err
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			x.event(ctx, o.Runtime, ev, match)
		}
	}
	stop()

	tr, ws, err := x.close()
	closed = true
	if err != nil {
		return nil, fmt.Errorf("collecting the trace: %w", err)
	}
	var plain []container.Workload
	for _, w := range ws {
		plain = append(plain, w.Workload)
	}
	names, _ := groupWorkloads(plain)
	var runs []*Run
	for _, name := range names {
		var g []watched
		for _, w := range ws {
			if w.Group() == name {
				g = append(g, w)
			}
		}
		runs = append(runs, attachedRun(opts, name, tr, g, ws, started))
	}
	return runs, nil
}

// event follows a task creation or start: a matching pod's sandbox gets
// its pod's cgroup watched, a matching container is followed; a cgroup
// watched from its creation below a runtime's flat parent (spawn) that
// is not wanted is dropped.
func (x *watcher) event(ctx context.Context, rt *container.Runtime, ev container.TaskEvent, match func(*container.Pod) bool) {
	log := zerolog.Ctx(ctx)
	w, sandbox, err := rt.LoadWorkload(ctx, ev.ContainerID, ev.Pid)
	if err != nil {
		// Kept watched if it was: a trace too wide beats a start missed.
		log.Info().Err(err).Str("id", ev.ContainerID).Msg("skipping a task event")
		return
	}
	dir := filepath.Dir(w.CgroupPath)
	if w.Pod != nil && !isPodDir(dir, w.Pod.UID) && x.flat == "" {
		// The first container shows a flat layout: its siblings to come
		// are watched from their cgroup's creation.
		if err := x.spawn(dir); err != nil {
			log.Warn().Err(err).Msg("cannot watch new containers from their start")
		}
	}
	if !match(w.Pod) || sandbox {
		x.drop(w.CgroupPath)
	}
	if !match(w.Pod) {
		return
	}
	if isPodDir(dir, w.Pod.UID) {
		if err := x.watchPod(dir); err != nil {
			log.Warn().Err(err).Str("container", w.Ref).Msg("cannot watch its pod")
			return
		}
	} else if !sandbox {
		if err := x.watchPod(w.CgroupPath); err != nil { // too late for its start, unless spawned
			log.Warn().Err(err).Str("container", w.Ref).Msg("cannot watch it")
			return
		}
	}
	if sandbox {
		log.Debug().Str("pod", w.Pod.Namespace+"/"+w.Pod.Name).Msg("watching a new pod")
		return
	}
	x.starting(*w)
	log.Info().Str("container", w.Ref).Int("pid", w.Pid).Str("event", ev.Topic).Msg("recording a new container")
}

// spawn watches the cgroups made below dir from their creation on.
func (x *watcher) spawn(dir string) error {
	g, err := cgroup.Open(dir)
	if err != nil {
		return err
	}
	if err := x.tr.Spawn(g); err != nil {
		return err
	}
	x.mu.Lock()
	x.flat = dir
	x.mu.Unlock()
	return nil
}

// drop stops tracing a cgroup that spawn watched and that is not wanted
// (another application's container, a sandbox).
func (x *watcher) drop(dir string) {
	x.mu.Lock()
	flat, wanted := x.flat, x.pods[dir]
	x.mu.Unlock()
	if flat == "" || filepath.Dir(dir) != flat || wanted {
		return
	}
	if id, err := cgroup.ID(dir); err == nil {
		_ = x.tr.Unwatch(id)
	}
}

// isPodDir says whether a container's parent cgroup is its pod's own
// (the kubelet's pod<uid> or kubepods-*-pod<uid>.slice), not a directory
// every container shares (a kubelet with cgroupsPerQOS off).
func isPodDir(dir, uid string) bool {
	return uid != "" && strings.Contains(strings.ReplaceAll(filepath.Base(dir), "_", "-"), uid)
}

// kubeParent finds the cgroup the kubelet's pods are below, and, when
// its containers share one parent instead of one per pod (flat), that
// parent.
func kubeParent(given string, running []container.Workload) (_ *cgroup.Group, flat string, err error) {
	for _, w := range running {
		if d := filepath.Dir(w.CgroupPath); w.Pod != nil && !isPodDir(d, w.Pod.UID) {
			flat = d
			break
		}
	}
	if flat == "" && len(running) == 0 {
		// No container to tell the layout: containerd's own default, one
		// directory named after its namespace, when the kubelet has no
		// pod cgroups.
		root, err := cgroup.Mountpoint()
		if err != nil {
			return nil, "", err
		}
		_, errPods := os.Stat(filepath.Join(root, "kubepods"))
		_, errSlice := os.Stat(filepath.Join(root, "kubepods.slice"))
		if st, err := os.Stat(filepath.Join(root, container.CRINamespace)); err == nil && st.IsDir() &&
			errPods != nil && errSlice != nil {
			flat = filepath.Join(root, container.CRINamespace)
		}
	}
	var g *cgroup.Group
	switch {
	case given != "":
		g, err = cgroup.Open(given)
	case flat != "":
		g, err = cgroup.Open(flat)
	default:
		g, err = findKubepods(running)
	}
	return g, flat, err
}

func findKubepods(running []container.Workload) (*cgroup.Group, error) {
	root, err := cgroup.Mountpoint()
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"kubepods.slice", "kubepods"} {
		if st, err := os.Stat(filepath.Join(root, n)); err == nil && st.IsDir() {
			return cgroup.Open(filepath.Join(root, n))
		}
	}
	for _, w := range running {
		// The highest ancestor named kubepods*: the kubelet's root.
		for d := w.CgroupPath; d != "/" && d != "."; d = filepath.Dir(d) {
			if strings.HasPrefix(filepath.Base(d), "kubepods") && !strings.HasPrefix(filepath.Base(filepath.Dir(d)), "kubepods") {
				return cgroup.Open(d)
			}
		}
	}
	return cgroup.Open(root)
}

func selectorString(sel map[string]string) string {
	var kv []string
	for k, v := range sel {
		kv = append(kv, k+"="+v)
	}
	if len(kv) == 0 {
		return "any labels"
	}
	return strings.Join(kv, ",")
}
