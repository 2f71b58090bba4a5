package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/safefs"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// Start-up of attached workloads, as creport's run.startup says it.
const (
	StartupTraced = "traced"
	StartupMissed = "missed"
	StartupPartly = "partly"
)

// Attach traces running workloads without stopping, pausing or
// restarting them: profile container:ID, pod:NS/NAME, pod:NS/-l SEL and
// docker-container:NAME. Workloads of one group (replicas of a pod's
// container) share one tracer and make one Run, their traces merged; the
// HTTP probes (opts.HTTPProbe) go to the ports each one listens on,
// dialled inside its network namespace. It returns when
// opts.ContinueAfter says (enter, signal, probe, timeout or N seconds).
// Runs hold no image: Run.Name names their artifacts.
func Attach(ctx context.Context, ws []container.Workload, opts Options) (_ []*Run, err error) {
	log := zerolog.Ctx(ctx)
	step := progressFunc(opts)
	if len(ws) == 0 {
		return nil, errors.New("no workload to attach to")
	}
	if opts.ContinueAfter == "" {
		if !opts.HTTPProbe {
			return nil, errors.New("say when to stop tracing: --continue-after N (seconds), signal or enter")
		}
		opts.ContinueAfter = ContinueProbe
	}
	mode, wait, err := ParseContinueAfter(opts.ContinueAfter)
	if err != nil {
		return nil, err
	}
	if mode == ContinueExit {
		return nil, errors.New("--continue-after exit waits for a container slimtrace started: attached, use N, signal, enter or probe")
	}
	if err := tracer.CheckHost(); err != nil {
		return nil, err
	}
	names, groups := groupWorkloads(ws)
	var watchers []*watcher
	defer func() {
		for _, x := range watchers {
			if x != nil {
				x.tr.Close() // error paths; the normal path closed them
			}
		}
	}()
	for _, name := range names {
		g := groups[name]
		var dirs []string
		for _, w := range g {
			dirs = append(dirs, filepath.Dir(w.CgroupPath))
		}
		parent, err := cgroup.Open(commonDir(dirs))
		if err != nil {
			return nil, err
		}
		x, err := openWatcher(parent, opts, *log)
		if err != nil {
			return nil, err
		}
		watchers = append(watchers, x)
		for _, w := range g {
			step("attached to %s (pid %d, cgroup %s)", w.Ref, w.Pid, w.CgroupPath)
			if err := x.running(w, false); err != nil {
				return nil, err
			}
		}
	}
	started := time.Now()

	probes := map[string]*creport.Probes{}
	listening := map[string]bool{}
	for _, name := range names {
		probes[name] = &creport.Probes{}
		if !opts.HTTPProbe {
			continue
		}
		for _, w := range groups[name] {
			l, err := probeWorkload(ctx, w, opts, probes[name], step)
			if err != nil {
				return nil, err
			}
			listening[name] = listening[name] || l
		}
	}

	var exit *container.ExitStatus
	if err := waitContinue(ctx, mode, wait, opts.Stdin, nil, &exit, step); err != nil {
		return nil, err
	}
	var runs []*Run
	defer func() {
		if err != nil {
			for _, r := range runs {
				_ = r.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i, name := range names {
		x := watchers[i]
		watchers[i] = nil
		tr, ws, err := x.close()
		if err != nil {
			return nil, fmt.Errorf("collecting the trace of %s: %w", name, err)
		}
		run := attachedRun(opts, name, tr, ws, ws, started)
		run.Probes, run.Listening = *probes[name], listening[name]
		runs = append(runs, run)
	}
	return runs, nil
}

// groupWorkloads groups ws by Workload.Group, in order of first
// appearance.
func groupWorkloads(ws []container.Workload) ([]string, map[string][]container.Workload) {
	var names []string
	groups := map[string][]container.Workload{}
	for _, w := range ws {
		n := w.Group()
		if _, ok := groups[n]; !ok {
			names = append(names, n)
		}
		groups[n] = append(groups[n], w)
	}
	return names, groups
}

// commonDir is the deepest directory holding every one of dirs.
func commonDir(dirs []string) string {
	parts := strings.Split(dirs[0], "/")
	for _, d := range dirs[1:] {
		p := strings.Split(d, "/")
		n := 0
		for n < len(parts) && n < len(p) && parts[n] == p[n] {
			n++
		}
		parts = parts[:n]
	}
	if len(parts) <= 1 {
		return "/"
	}
	return strings.Join(parts, "/")
}

// probeWorkload sends the HTTP probes to the ports w listens on (or the
// user's), inside its network namespace; it says whether it had ports.
func probeWorkload(ctx context.Context, w container.Workload, opts Options, into *creport.Probes,
	step func(string, ...any)) (bool, error) {
	ports, err := container.ListeningPorts(w.CgroupPath)
	if err != nil {
		return false, err
	}
	po := opts.Probe
	po.Host, po.Ports = "127.0.0.1", ports
	po.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return container.DialInNetNS(ctx, w.NetNS, network, addr)
	}
	if len(ports) == 0 && len(po.OnlyPorts) == 0 && !cmdsHavePorts(po.Cmds) {
		step("%s listens on no TCP port: no HTTP probes", w.Ref)
		return false, nil
	}
	step("probing %s over HTTP (ports %v)", w.Ref, ports)
	res, err := probe.Run(ctx, po)
	if res != nil {
		for _, q := range res.Requests {
			into.HTTP = append(into.HTTP, creport.HTTPProbe{
				Port: q.Port, Proto: q.Proto, Method: q.Method, Resource: q.Resource, Source: string(q.Source),
				Status: q.Status, Size: q.Size, LatencyMS: q.Latency.Milliseconds(), SHA256: q.SHA256,
				Error: q.Error, Body: q.Body,
			})
		}
		into.Passed += res.Passed
		into.Failed += res.Failed
	}
	if err != nil && !errors.Is(err, probe.ErrNoPorts) {
		return true, fmt.Errorf("probing %s: %w", w.Ref, err)
	}
	return true, nil
}

// A watcher is one watching tracer and the workloads it follows.
type watcher struct {
	tr *tracer.Tracer

	mu   sync.Mutex
	ws   []watched
	pods map[string]bool // pod cgroups watched
	flat string          // the parent whose new cgroups are watched (spawn)
}

type watched struct {
	container.Workload
	// adopted: it ran before it was watched (its start-up is missed).
	adopted bool
	// cgroupID is its cgroup's id (0 when unknown): a watching tracer
	// counts syscalls, sockets and capabilities per cgroup.
	cgroupID uint64
}

func openWatcher(parent *cgroup.Group, opts Options, log zerolog.Logger) (*watcher, error) {
	tr, err := tracer.Open(tracer.Options{Cgroup: parent, Watch: true, RingBufferSize: opts.RingBufferSize,
		Limits: opts.TraceLimits, Logger: log})
	if err != nil {
		return nil, err
	}
	return &watcher{tr: tr, pods: map[string]bool{}}, nil
}

// running follows a workload that already runs: its processes are
// adopted into its lineage. With pod, its whole pod's cgroup is watched
// (so a restart of the container is seen from its start).
func (x *watcher) running(w container.Workload, pod bool) error {
	g, err := cgroup.Open(w.CgroupPath)
	if err != nil {
		return err
	}
	if pod {
		if err := x.watchPod(filepath.Dir(w.CgroupPath)); err != nil {
			return err
		}
		err = x.tr.Adopt(g, uint32(w.Pid))
	} else {
		err = x.tr.Watch(g, uint32(w.Pid))
	}
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ws = append(x.ws, watched{Workload: w, adopted: true, cgroupID: g.ID})
	return nil
}

// watchPod watches a pod's cgroup: the containers started in it from now
// on are traced from their first exec.
func (x *watcher) watchPod(dir string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.pods[dir] {
		return nil
	}
	g, err := cgroup.Open(dir)
	if err != nil {
		return err
	}
	if err := x.tr.Watch(g, 0); err != nil {
		return err
	}
	x.pods[dir] = true
	return nil
}

// starting follows a workload whose task was just created, in a pod
// watchPod watches.
func (x *watcher) starting(w container.Workload) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !slices.ContainsFunc(x.ws, func(o watched) bool { return o.ID == w.ID && o.Pid == w.Pid }) {
		id, _ := cgroup.ID(w.CgroupPath)
		x.ws = append(x.ws, watched{Workload: w, cgroupID: id})
	}
}

// close ends tracing and returns the trace with the workloads followed.
func (x *watcher) close() (*trace.Report, []watched, error) {
	tr, err := x.tr.Close()
	x.mu.Lock()
	defer x.mu.Unlock()
	return tr, x.ws, err
}

// attachedRun makes the Run of one group of workloads, ws, from the part of
// tr that their lineages hold (files, execs, processes) and their cgroups
// (syscall, socket and capability counts); all are the workloads tr
// watched, ws among them.
func attachedRun(opts Options, name string, tr *trace.Report, ws, all []watched, started time.Time) *Run {
	lineages := map[uint32]bool{}
	cgroups := map[uint64]bool{} // true: the group's; false: another's
	for _, w := range all {
		cgroups[w.cgroupID] = false
	}
	for _, w := range ws {
		cgroups[w.cgroupID] = true
	}
	delete(cgroups, 0)
	run := &Run{Options: opts, StartedAt: started, Name: name}
	traced, missed := 0, 0
	for _, w := range ws {
		lineages[uint32(w.Pid)] = true
		cw := creport.Workload{Ref: w.Ref, ID: w.ID, Namespace: w.Namespace, Image: w.Image, Container: w.Name,
			Pid: w.Pid, StartedAt: w.StartedAt, Startup: StartupMissed}
		if w.Pod != nil {
			cw.PodNamespace, cw.Pod = w.Pod.Namespace, w.Pod.Name
		}
		if st, err := container.ProcessStart(w.Pid); err == nil && st.Equal(w.StartedAt) {
			cw.Kept = true
		}
		// A container seen from its cgroup's creation may have its
		// lineage started by a process of the runtime's that entered the
		// cgroup before the one that execs the entrypoint (runc init's
		// stages): the lineage of that exec is the workload's too.
		i := slices.IndexFunc(tr.Execs, func(e trace.Exec) bool { return e.Pid == uint32(w.Pid) })
		if i >= 0 {
			lineages[tr.Execs[i].Lineage] = true
		}
		if !w.adopted && i >= 0 {
			cw.Startup = StartupTraced
			traced++
		} else {
			missed++
		}
		run.Container.Workloads = append(run.Container.Workloads, cw)
	}
	run.Trace = onlyLineages(tr, lineages, cgroups)
	first := ws[0]
	run.Container.ContainerID, run.Container.Args = first.ID, first.Args
	run.Container.Network = "container:" + first.ID
	run.Container.ContinueAfter, run.Container.Attached = opts.ContinueAfter, true
	switch {
	case missed == 0:
		run.Container.Startup = StartupTraced
	case traced == 0:
		run.Container.Startup = StartupMissed
	default:
		run.Container.Startup = StartupPartly
	}
	run.imageName = first.Image
	switch {
	case first.Namespace == "moby":
		run.foundIn = "Docker Engine"
	case first.Namespace != "":
		run.foundIn = "containerd namespace " + first.Namespace
	}
	// What the paths are: the container's own filesystem, read through
	// its init process while it runs (opened once, by fd, and read in it).
	for _, w := range ws {
		if r, err := safefs.Open(fmt.Sprintf("/proc/%d/root", w.Pid)); err == nil {
			run.root = r
			break
		}
	}
	return run
}

// onlyLineages returns the part of tr made by processes of the given
// lineages (and the runtime's setup, lineage 0, of their files) and, when
// tr counted per cgroup, by the cgroups the group owns (cgroups[id] true).
// Counts of a cgroup no workload owns (a pod's sandbox, a cgroup a
// container made below its own) are kept: what it did may have been the
// group's, and a profile allowing too much fails nothing.
func onlyLineages(tr *trace.Report, lineages map[uint32]bool, cgroups map[uint64]bool) *trace.Report {
	c := *tr
	keep := func(l uint32) bool { return lineages[l] }
	c.Files = nil
	for _, f := range tr.Files {
		if slices.ContainsFunc(f.Lineages, keep) {
			f.Lineages = slices.DeleteFunc(slices.Clone(f.Lineages), func(l uint32) bool { return l != 0 && !keep(l) })
			c.Files = append(c.Files, f)
		}
	}
	if c.Files == nil {
		c.Files = []trace.File{}
	}
	c.Execs = slices.DeleteFunc(slices.Clone(tr.Execs), func(e trace.Exec) bool { return !keep(e.Lineage) })
	c.Processes = slices.DeleteFunc(slices.Clone(tr.Processes), func(p trace.Process) bool { return !keep(p.Lineage) })
	other := func(id uint64) bool { own, known := cgroups[id]; return known && !own }
	c.Syscalls = slices.DeleteFunc(slices.Clone(tr.Syscalls), func(s trace.Syscall) bool { return other(s.CgroupID) })
	c.NetworkFamilies = slices.DeleteFunc(slices.Clone(tr.NetworkFamilies), func(n trace.NetworkFamily) bool { return other(n.CgroupID) })
	c.Capabilities = slices.DeleteFunc(slices.Clone(tr.Capabilities), func(k trace.Capability) bool { return other(k.CgroupID) })
	for i := range c.Syscalls {
		c.Syscalls[i].CgroupID = 0
	}
	for i := range c.NetworkFamilies {
		c.NetworkFamilies[i].CgroupID = 0
	}
	for i := range c.Capabilities {
		c.Capabilities[i].CgroupID = 0
	}
	// One row per syscall, socket kind and capability again, counts added.
	m := trace.Merge(&c)
	m.Execs, m.Processes = c.Execs, c.Processes
	return m
}
