package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/docker"
)

// The kubelet's labels on the containers it makes through CRI, beside
// labelPodNamespace, labelPodName and labelCRIKind.
const (
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
	labelTemplateHash  = "pod-template-hash"
	// CRINamespace is the containerd namespace of the kubelet's containers.
	CRINamespace = "k8s.io"
)

// A Workload is a running container that slimtrace attaches to without
// stopping, pausing or restarting it.
type Workload struct {
	// Ref is how it was found: container:ID, pod:NS/NAME/CONTAINER or
	// docker-container:NAME.
	Ref string
	// ID is its containerd (or Docker) ID; Namespace its containerd
	// namespace (moby for Docker's).
	ID, Namespace string
	// Image is the image it runs, as its runtime names it.
	Image string
	// Name is the container's name: the kubelet's container name, Docker's
	// name, else the ID.
	Name string
	// Pid is its init process on the host, StartedAt when that started.
	Pid       int
	StartedAt time.Time
	// Args is the init process's command line.
	Args []string
	// CgroupPath is the absolute path of its cgroup v2 directory.
	CgroupPath string
	// NetNS is its network namespace (/proc/PID/ns/net).
	NetNS string
	// Pod is the Kubernetes pod it belongs to; nil outside Kubernetes.
	Pod *Pod
}

// Pod is what the kubelet's labels tell of a workload's pod.
type Pod struct {
	Namespace, Name, UID string
	// Labels are the pod's own labels (from its sandbox).
	Labels map[string]string
	// Owner names what the pod is a replica of (see PodOwner).
	Owner string
}

// Group names the artifacts of a workload: replicas of one pod's
// container share it ("web-nginx"), so their traces merge.
func (w *Workload) Group() string {
	if w.Pod != nil {
		return w.Pod.Owner + "-" + w.Name
	}
	return w.Name
}

var podSuffix = regexp.MustCompile(`-[0-9a-z]{5}$`)

// PodOwner names what a pod is a replica of, from its labels:
// app.kubernetes.io/name, else app, else the pod's name without the
// ReplicaSet's "-<pod-template-hash>-xxxxx" suffix, else the pod's name.
func PodOwner(name string, labels map[string]string) string {
	for _, k := range []string{"app.kubernetes.io/name", "app"} {
		if v := labels[k]; v != "" {
			return v
		}
	}
	if h := labels[labelTemplateHash]; h != "" {
		if base, ok := strings.CutSuffix(podSuffix.ReplaceAllString(name, ""), "-"+h); ok && base != "" {
			return base
		}
	}
	return name
}

// ParseSelector reads KEY=VALUE[,KEY=VALUE...] (every pair must match).
func ParseSelector(s string) (map[string]string, error) {
	sel := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("selector %q: want KEY=VALUE[,KEY=VALUE...]", s)
		}
		sel[k] = v
	}
	return sel, nil
}

// Matches says whether labels hold every pair of sel.
func Matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// FindWorkloads finds the running containers target names:
// container:ID (an ID or a unique prefix, in any namespace of this
// containerd; the runtime's namespace first), pod:NS/NAME[/CONTAINER] or
// pod:NS/-l KEY=VALUE[,...] (the kubelet's containers, in namespace
// k8s.io of this runtime's containerd: make the runtime on the CRI
// socket), docker-container:NAME|ID (Docker Engine, dockerOpts).
func (r *Runtime) FindWorkloads(ctx context.Context, target string, dockerOpts docker.Options) ([]Workload, error) {
	var ws []Workload
	var err error
	switch {
	case strings.HasPrefix(target, "container:"):
		var w *Workload
		w, err = r.findContainer(ctx, strings.TrimPrefix(target, "container:"))
		if w != nil {
			ws = []Workload{*w}
		}
	case strings.HasPrefix(target, "pod:"):
		ws, err = r.findPods(ctx, strings.TrimPrefix(target, "pod:"))
	case strings.HasPrefix(target, "docker-container:"):
		var w *Workload
		w, err = findDocker(ctx, strings.TrimPrefix(target, "docker-container:"), dockerOpts)
		if w != nil {
			ws = []Workload{*w}
		}
	default:
		return nil, fmt.Errorf("%s: want container:ID, pod:NAMESPACE/NAME[/CONTAINER], pod:NAMESPACE/-l KEY=VALUE or docker-container:NAME", target)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return ws, nil
}

func (r *Runtime) findContainer(ctx context.Context, id string) (*Workload, error) {
	if id == "" {
		return nil, errors.New("no container ID")
	}
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containerd namespaces: %w", err)
	}
	// The runtime's own namespace first: it decides between equal IDs.
	slices.SortStableFunc(nss, func(a, b string) int {
		return boolInt(b == r.opts.Namespace) - boolInt(a == r.opts.Namespace)
	})
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		cs, err := r.client.Containers(nctx)
		if err != nil {
			return nil, fmt.Errorf("listing containers in namespace %s: %w", ns, err)
		}
		var found []containerd.Container
		for _, c := range cs {
			if c.ID() == id {
				found = []containerd.Container{c}
				break
			}
			if strings.HasPrefix(c.ID(), id) {
				found = append(found, c)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return r.workload(nctx, ns, found[0], nil)
		}
		return nil, fmt.Errorf("%d containers in namespace %s start with %s: give more of the ID", len(found), ns, id)
	}
	return nil, fmt.Errorf("no such container in any namespace of containerd at %s", r.opts.Address)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// findPods finds NS/NAME[/CONTAINER] or NS/-l SELECTOR.
func (r *Runtime) findPods(ctx context.Context, ref string) ([]Workload, error) {
	ns, rest, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || rest == "" {
		return nil, errors.New("want pod:NAMESPACE/NAME[/CONTAINER] or pod:NAMESPACE/-l KEY=VALUE")
	}
	var match func(*Pod) bool
	var name, cname string
	if sel, ok := strings.CutPrefix(rest, "-l"); ok {
		s, err := ParseSelector(strings.TrimSpace(sel))
		if err != nil {
			return nil, err
		}
		match = func(p *Pod) bool { return Matches(p.Labels, s) }
	} else {
		name, cname, _ = strings.Cut(rest, "/")
		match = func(p *Pod) bool { return p.Name == name }
	}
	kctx := namespaces.WithNamespace(ctx, CRINamespace)
	pods, err := r.Pods(kctx, ns)
	if err != nil {
		return nil, err
	}
	var out []Workload
	for _, p := range pods {
		if !match(p) {
			continue
		}
		cs, err := r.client.Containers(kctx, fmt.Sprintf("labels.%q==%s,labels.%q==container",
			labelPodUID, p.UID, labelCRIKind))
		if err != nil {
			return nil, fmt.Errorf("listing the containers of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		for _, c := range cs {
			info, err := c.Info(kctx, containerd.WithoutRefreshedMetadata)
			if err != nil || (cname != "" && info.Labels[labelContainerName] != cname) {
				continue
			}
			w, err := r.workload(kctx, CRINamespace, c, p)
			if errors.Is(err, errNotRunning) {
				continue // an earlier, exited instance the kubelet keeps
			}
			if err != nil {
				return nil, err
			}
			out = append(out, *w)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no running container matches in containerd's %s namespace at %s", CRINamespace, r.opts.Address)
	}
	return out, nil
}

// Pods lists the pods of Kubernetes namespace ns (all when empty) that
// have a sandbox in containerd's k8s.io namespace; ctx carries that
// namespace.
func (r *Runtime) Pods(ctx context.Context, ns string) ([]*Pod, error) {
	filter := fmt.Sprintf("labels.%q==sandbox", labelCRIKind)
	if ns != "" {
		filter += fmt.Sprintf(",labels.%q==%s", labelPodNamespace, ns)
	}
	cs, err := r.client.Containers(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("listing the kubelet's pod sandboxes: %w", err)
	}
	var out []*Pod
	for _, c := range cs {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, PodOf(info.Labels))
	}
	return out, nil
}

// PodOf reads a pod from its sandbox's labels.
func PodOf(labels map[string]string) *Pod {
	p := &Pod{Namespace: labels[labelPodNamespace], Name: labels[labelPodName], UID: labels[labelPodUID],
		Labels: map[string]string{}}
	for k, v := range labels {
		if !strings.HasPrefix(k, "io.kubernetes.") && !strings.HasPrefix(k, "io.cri-containerd.") {
			p.Labels[k] = v
		}
	}
	p.Owner = PodOwner(p.Name, p.Labels)
	return p
}

// PodSandbox returns the pod of a kubelet container (nil for other
// containers): its sandbox's labels, found by the pod's uid.
func (r *Runtime) PodSandbox(ctx context.Context, labels map[string]string) (*Pod, error) {
	uid := labels[labelPodUID]
	if uid == "" || labels[labelCRIKind] != "container" {
		return nil, nil
	}
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q==%s,labels.%q==sandbox", labelPodUID, uid, labelCRIKind))
	if err != nil {
		return nil, fmt.Errorf("finding the sandbox of pod %s: %w", uid, err)
	}
	for _, c := range cs {
		if info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata); err == nil {
			return PodOf(info.Labels), nil
		}
	}
	return nil, fmt.Errorf("no sandbox of pod %s", uid)
}

var errNotRunning = errors.New("it is not running")

// workload describes container c of namespace ns (ctx carries it).
func (r *Runtime) workload(ctx context.Context, ns string, c containerd.Container, pod *Pod) (*Workload, error) {
	info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return nil, err
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, errNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID(), err)
	}
	if st.Status != containerd.Running {
		return nil, fmt.Errorf("container %s: %w (%s)", c.ID(), errNotRunning, st.Status)
	}
	if pod == nil {
		if pod, err = r.PodSandbox(ctx, info.Labels); err != nil {
			return nil, err
		}
	}
	w := &Workload{Ref: "container:" + c.ID(), ID: c.ID(), Namespace: ns, Image: info.Image, Name: c.ID(),
		Pid: int(task.Pid()), Pod: pod}
	if n := info.Labels[labelContainerName]; n != "" && pod != nil {
		w.Name = n
		w.Ref = "pod:" + pod.Namespace + "/" + pod.Name + "/" + n
	}
	return w, w.fill()
}

func findDocker(ctx context.Context, name string, o docker.Options) (*Workload, error) {
	dc, err := docker.New(o)
	if err != nil {
		return nil, err
	}
	c, err := dc.InspectContainer(ctx, name)
	if err != nil {
		return nil, err
	}
	if !c.Running || c.Pid == 0 {
		return nil, fmt.Errorf("docker container %s: %w", c.Name, errNotRunning)
	}
	w := &Workload{Ref: "docker-container:" + c.Name, ID: c.ID, Namespace: "moby", Image: c.Image, Name: c.Name,
		Pid: c.Pid}
	return w, w.fill()
}

// fill reads what the host tells of the workload's init process: its
// cgroup, start time, command line and network namespace.
func (w *Workload) fill() error {
	var err error
	if w.CgroupPath, err = cgroup.ProcessDir(w.Pid); err != nil {
		return fmt.Errorf("the cgroup of pid %d: %w", w.Pid, err)
	}
	if w.StartedAt, err = ProcessStart(w.Pid); err != nil {
		return err
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", w.Pid)); err == nil {
		w.Args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	w.NetNS = fmt.Sprintf("/proc/%d/ns/net", w.Pid)
	return nil
}

// ProcessStart returns when process pid started (from /proc/PID/stat,
// to the clock tick).
func ProcessStart(pid int) (time.Time, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, fmt.Errorf("reading pid %d: %w", pid, err)
	}
	// Field 22, counted after the command name's closing parenthesis.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 20 {
		return time.Time{}, fmt.Errorf("pid %d: short /proc/PID/stat", pid)
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("pid %d: start time %q: %w", pid, f[19], err)
	}
	boot, err := bootTime()
	if err != nil {
		return time.Time{}, err
	}
	const hz = 100 // USER_HZ on every Linux ABI slimtrace runs on
	return boot.Add(time.Duration(ticks) * time.Second / hz), nil
}

func bootTime() (time.Time, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat btime: %w", err)
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("/proc/stat has no btime")
}

// DialInNetNS dials addr from inside the network namespace at nsPath (a
// workload's /proc/PID/ns/net).
func DialInNetNS(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	return dialInNetNS(ctx, nsPath, network, addr)
}

// TaskEvent is a task's creation or start in containerd.
type TaskEvent struct {
	// Topic is /tasks/create or /tasks/start.
	Topic       string
	ContainerID string
	Pid         int
}

// TaskEvents streams the task creations and starts of the runtime's
// namespace until ctx ends; the error channel gets one error if the
// stream breaks.
func (r *Runtime) TaskEvents(ctx context.Context) (<-chan TaskEvent, <-chan error) {
	out, errc := make(chan TaskEvent, 64), make(chan error, 1)
	envs, errs := r.client.Subscribe(ctx, fmt.Sprintf(`namespace==%s,topic=="/tasks/create"`, r.opts.Namespace),
		fmt.Sprintf(`namespace==%s,topic=="/tasks/start"`, r.opts.Namespace))
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if err != nil && ctx.Err() == nil {
					errc <- fmt.Errorf("containerd's events: %w", err)
				}
				return
			case env := <-envs:
				if env == nil {
					continue
				}
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				var ev TaskEvent
				switch e := v.(type) {
				case *apievents.TaskCreate:
					ev = TaskEvent{Topic: env.Topic, ContainerID: e.ContainerID, Pid: int(e.Pid)}
				case *apievents.TaskStart:
					ev = TaskEvent{Topic: env.Topic, ContainerID: e.ContainerID, Pid: int(e.Pid)}
				default:
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, errc
}

// LoadWorkload describes container id of the runtime's namespace with pid
// as its init process (from a task event: the task may not have started
// yet). sandbox says it is a pod's sandbox (the Workload's Pod is its
// pod).
func (r *Runtime) LoadWorkload(ctx context.Context, id string, pid int) (w *Workload, sandbox bool, err error) {
	nctx := r.nsctx(ctx)
	c, err := r.client.LoadContainer(nctx, id)
	if err != nil {
		return nil, false, err
	}
	info, err := c.Info(nctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return nil, false, err
	}
	w = &Workload{Ref: "container:" + id, ID: id, Namespace: r.opts.Namespace, Image: info.Image, Name: id, Pid: pid}
	if info.Labels[labelCRIKind] == "sandbox" {
		w.Pod, sandbox = PodOf(info.Labels), true
	} else if w.Pod, err = r.PodSandbox(nctx, info.Labels); err != nil {
		return nil, false, err
	}
	if n := info.Labels[labelContainerName]; n != "" && w.Pod != nil {
		w.Name = n
		w.Ref = "pod:" + w.Pod.Namespace + "/" + w.Pod.Name + "/" + n
	}
	return w, sandbox, w.fill()
}

// Running lists the running containers of the runtime's namespace whose
// pods pass match (the kubelet's; sandboxes left out).
func (r *Runtime) Running(ctx context.Context, match func(*Pod) bool) ([]Workload, error) {
	nctx := r.nsctx(ctx)
	pods, err := r.Pods(nctx, "")
	if err != nil {
		return nil, err
	}
	var out []Workload
	for _, p := range pods {
		if !match(p) {
			continue
		}
		cs, err := r.client.Containers(nctx, fmt.Sprintf("labels.%q==%s,labels.%q==container", labelPodUID, p.UID, labelCRIKind))
		if err != nil {
			return nil, fmt.Errorf("listing the containers of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		for _, c := range cs {
			w, err := r.workload(nctx, r.opts.Namespace, c, p)
			if errors.Is(err, errNotRunning) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, *w)
		}
	}
	return out, nil
}
