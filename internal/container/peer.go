package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/slimtrace/slimtrace/internal/docker"
)

// A Peer is a running container the target links to (--link) or shares a
// network namespace with (--network container:ID).
type Peer struct {
	// Ref is how it was named: container:ID, pod:NS/NAME or a Docker
	// container's name or ID.
	Ref string
	// Pid is its init process; NetNS its network namespace
	// (/proc/PID/ns/net).
	Pid   int
	NetNS string
	// IPs are its addresses other than loopback, as its own namespace has
	// them: empty when it is reachable only from inside that namespace.
	IPs []string
}

// Kubernetes' labels on the containers the kubelet makes through CRI.
const (
	labelPodNamespace = "io.kubernetes.pod.namespace"
	labelPodName      = "io.kubernetes.pod.name"
	labelCRIKind      = "io.cri-containerd.kind"
)

// FindPeer finds a running container: container:ID in any namespace of
// this containerd, pod:NAMESPACE/NAME (the pod's sandbox, which holds its
// network namespace, in the kubelet's "k8s.io" namespace), or else a
// Docker Engine container's name or ID (dockerOpts say where Docker is).
func (r *Runtime) FindPeer(ctx context.Context, ref string, dockerOpts docker.Options) (*Peer, error) {
	var pid int
	var err error
	switch {
	case strings.HasPrefix(ref, "container:"):
		pid, err = r.containerPid(ctx, strings.TrimPrefix(ref, "container:"))
	case strings.HasPrefix(ref, "pod:"):
		pid, err = r.podPid(ctx, strings.TrimPrefix(ref, "pod:"))
	default:
		pid, err = dockerPid(ctx, ref, dockerOpts)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ref, err)
	}
	p := &Peer{Ref: ref, Pid: pid, NetNS: fmt.Sprintf("/proc/%d/ns/net", pid)}
	if p.IPs, err = addrsIn(p.NetNS); err != nil {
		return nil, fmt.Errorf("container %s: %w", ref, err)
	}
	return p, nil
}

// containerPid finds the task of container id in any namespace.
func (r *Runtime) containerPid(ctx context.Context, id string) (int, error) {
	nss, err := r.client.NamespaceService().List(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing containerd namespaces: %w", err)
	}
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		c, err := r.client.LoadContainer(nctx, id)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		task, err := c.Task(nctx, nil)
		if err != nil {
			return 0, fmt.Errorf("it has no running task in namespace %s: %w", ns, err)
		}
		return int(task.Pid()), nil
	}
	return 0, fmt.Errorf("no such container in any namespace of containerd at %s", r.opts.Address)
}

// podPid finds the sandbox of pod NAMESPACE/NAME among the kubelet's
// containers.
func (r *Runtime) podPid(ctx context.Context, ref string) (int, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return 0, errors.New("want pod:NAMESPACE/NAME")
	}
	kctx := namespaces.WithNamespace(ctx, "k8s.io")
	cs, err := r.client.Containers(kctx, fmt.Sprintf("labels.%q==%s,labels.%q==%s,labels.%q==sandbox",
		labelPodNamespace, ns, labelPodName, name, labelCRIKind))
	if err != nil {
		return 0, fmt.Errorf("listing the kubelet's containers: %w", err)
	}
	for _, c := range cs {
		if task, err := c.Task(kctx, nil); err == nil {
			return int(task.Pid()), nil
		}
	}
	return 0, fmt.Errorf("no running sandbox of pod %s/%s in containerd's k8s.io namespace", ns, name)
}

func dockerPid(ctx context.Context, name string, o docker.Options) (int, error) {
	dc, err := docker.New(o)
	if err != nil {
		return 0, err
	}
	c, err := dc.InspectContainer(ctx, name)
	if err != nil {
		return 0, err
	}
	if !c.Running || c.Pid == 0 {
		return 0, fmt.Errorf("docker container %s is not running", c.Name)
	}
	return c.Pid, nil
}

// addrsIn lists the addresses other than loopback in the network
// namespace at path.
func addrsIn(path string) ([]string, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("opening its network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("reading its network namespace: %w", err)
	}
	defer h.Close()
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing its addresses: %w", err)
	}
	var out []string
	for _, a := range addrs {
		if ip := a.IP; ip != nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && ip.To16() != nil {
			out = append(out, ip.String())
		}
	}
	return out, nil
}
