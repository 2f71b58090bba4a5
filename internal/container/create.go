package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/moby/sys/signal"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
)

// Network modes for RunConfig.Network.
const (
	// NetworkPrivate gives the container its own network namespace with
	// only loopback, up. Probes reach it through Container.DialContext.
	NetworkPrivate = "private"
	// NetworkHost shares the host's network namespace.
	NetworkHost = "host"
	// NetworkJoin joins the network namespace at RunConfig.NetNS, another
	// container's (as docker's --network container:ID, or the containers
	// of a pod); it is not removed with this container.
	NetworkJoin = "join"
)

// DefaultLogLines is how many output lines a Container keeps by default.
const DefaultLogLines = 200

// Labels on the containers slimtrace makes.
const (
	// LabelRun marks a run's container; its value is the run ID.
	LabelRun = "io.slimtrace.run"
	// labelOwner names the process that made the run (pid@start time), so
	// Prune can tell runs whose owner died.
	labelOwner = "io.slimtrace.owner"
	// labelRunDir is the run's directory on the host.
	labelRunDir = "io.slimtrace.run-dir"
)

// RunConfig holds the overrides a run applies on top of the image's config.
// The zero value runs the image as it is, on a private network.
type RunConfig struct {
	// Labels are added to the container's (tests: the kubelet's labels).
	Labels map[string]string
	// CgroupsPath, when set, is the container's cgroup below the v2 root
	// (tests: a pod's cgroup layout).
	CgroupsPath string
	// Entrypoint replaces the image's ENTRYPOINT when non-nil (an empty
	// non-nil slice clears it) and, like docker, drops the image's CMD.
	Entrypoint []string
	// Cmd replaces the image's CMD when non-nil.
	Cmd []string
	// Env entries KEY=VAL override the image's; a bare KEY takes the
	// host's value and is skipped when the host has none.
	Env []string
	// Workdir replaces the image's WORKDIR.
	Workdir string
	// User replaces the image's USER: name, uid, name:group or uid:gid.
	User string
	// Mounts in docker -v syntax (see ParseMount).
	Mounts []string
	// Expose adds ports in docker --expose syntax (see ParsePort).
	Expose []string
	// Hostname of the container; default the run ID.
	Hostname string
	// EtcHostsMap adds /etc/hosts entries, HOST:IP each.
	EtcHostsMap []string
	// DNS servers and DNSSearch domains for /etc/resolv.conf; default the
	// host's (loopback servers dropped on a private network).
	DNS       []string
	DNSSearch []string
	// Network is NetworkPrivate (default, also for ""), NetworkHost or
	// NetworkJoin.
	Network string
	// NetNS is the network namespace NetworkJoin joins: a bind-mounted
	// namespace (another Container's NetNSPath) or /proc/PID/ns/net.
	NetNS string
	// LogLines is how many lines of output to keep (DefaultLogLines when 0).
	LogLines int
	// LogWriter, if set, gets every output line prefixed with LogPrefix.
	LogWriter io.Writer
	LogPrefix string
	// Seccomp, when set, is enforced on the container's processes (runc
	// installs it just before the entrypoint's exec). Nil: unconfined.
	Seccomp *specs.LinuxSeccomp
	// NewPrivileges clears the spec's noNewPrivileges, as docker run does by
	// default: runc then installs Seccomp before it drops privileges, not
	// just before the exec.
	NewPrivileges bool
	// Memory caps the container's memory in bytes (cgroup memory.max), and
	// PidsLimit its number of tasks (pids.max); 0 leaves either unlimited.
	Memory    int64
	PidsLimit int64
}

// runPlan is a RunConfig checked and parsed, before anything is created.
type runPlan struct {
	args    []string
	env     []string
	mounts  []Mount
	ports   []Port
	hosts   []HostEntry
	dns     []string
	network string
}

// plan checks cfg against img and parses it. It creates nothing.
func plan(img *image.Image, cfg RunConfig) (*runPlan, error) {
	p := &runPlan{network: cfg.Network}
	switch cfg.Network {
	case "", NetworkPrivate:
		p.network = NetworkPrivate
	case NetworkHost:
	case NetworkJoin:
		if cfg.NetNS == "" {
			return nil, errors.New("joining a network namespace needs its path")
		}
		if _, err := os.Stat(cfg.NetNS); err != nil {
			return nil, fmt.Errorf("network namespace to join: %w", err)
		}
	default:
		return nil, fmt.Errorf("network %q: want %q, %q or %q", cfg.Network, NetworkPrivate, NetworkHost, NetworkJoin)
	}

	ep, cmd := img.Config.Config.Entrypoint, img.Config.Config.Cmd
	if cfg.Entrypoint != nil {
		ep, cmd = cfg.Entrypoint, nil
	}
	if cfg.Cmd != nil {
		cmd = cfg.Cmd
	}
	p.args = append(append([]string(nil), ep...), cmd...)
	if len(p.args) == 0 {
		return nil, fmt.Errorf("image %s has no ENTRYPOINT or CMD: give a command", img.Name)
	}

	for _, e := range cfg.Env {
		k, _, ok := strings.Cut(e, "=")
		switch {
		case k == "":
			return nil, fmt.Errorf("env %q: empty name", e)
		case ok:
			p.env = append(p.env, e)
		default:
			if v, set := os.LookupEnv(k); set {
				p.env = append(p.env, k+"="+v)
			}
		}
	}

	for _, s := range cfg.Mounts {
		m, err := ParseMount(s)
		if err != nil {
			return nil, err
		}
		if m.Source != "" {
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("mount %q: %w", s, err)
			}
		}
		p.mounts = append(p.mounts, m)
	}

	ports, err := ImagePorts(img.Config.Config)
	if err != nil {
		return nil, err
	}
	p.ports = append(p.ports, ports...)
	for _, s := range cfg.Expose {
		ps, err := ParsePort(s)
		if err != nil {
			return nil, err
		}
		p.ports = append(p.ports, ps...)
	}
	p.ports = sortPorts(p.ports)

	for _, s := range cfg.EtcHostsMap {
		h, err := ParseHostEntry(s)
		if err != nil {
			return nil, err
		}
		p.hosts = append(p.hosts, h)
	}
	for _, s := range cfg.DNS {
		if net.ParseIP(s) == nil {
			return nil, fmt.Errorf("dns server %q is not an IP address", s)
		}
		p.dns = append(p.dns, s)
	}
	for _, s := range cfg.DNSSearch {
		if s == "" || strings.ContainsAny(s, " \t") {
			return nil, fmt.Errorf("dns search domain %q is not valid", s)
		}
	}
	if cfg.Hostname != "" && (len(cfg.Hostname) > 64 || strings.ContainsAny(cfg.Hostname, " \t/")) {
		return nil, fmt.Errorf("hostname %q is not valid", cfg.Hostname)
	}
	return p, nil
}

// Create makes a container and its task for img, created but not started:
// the init process exists (Container.Pid) in its cgroup (Container.CgroupPath),
// waiting for Start. A failed Create leaves nothing behind.
func (r *Runtime) Create(ctx context.Context, img *image.Image, cfg RunConfig) (_ *Container, err error) {
	if img == nil {
		return nil, errors.New("no image")
	}
	p, err := plan(img, cfg)
	if err != nil {
		return nil, err
	}
	ctx = r.nsctx(ctx)
	id := image.NewID()
	t := &Container{
		ID:       id,
		Image:    img,
		Ports:    p.ports,
		Hostname: cfg.Hostname,
		Args:     p.args,
		rt:       r,
		exited:   make(chan struct{}),
	}
	if t.Hostname == "" {
		t.Hostname = id
	}
	log := logger(ctx).With().Str("run", id).Logger()
	ctx = log.WithContext(ctx)
	defer func() {
		if err != nil {
			if cerr := t.Close(ctx); cerr != nil {
				log.Warn().Err(cerr).Msg("cleaning up after failed create")
			}
		}
	}()

	// Per-run directory: netns mount point, etc files, fifos, volumes.
	if err := os.MkdirAll(r.opts.StatePath, 0o711); err != nil {
		return nil, fmt.Errorf("creating state path: %w", err)
	}
	runDir := filepath.Join(r.opts.StatePath, id)
	r.store.Track(ctx, image.TrackTree, runDir)
	if err := os.Mkdir(runDir, 0o711); err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	t.RunDir, t.runDir = runDir, runDir

	var specOpts []oci.SpecOpts
	// First: containerd's lookups below read /etc/passwd and /etc/group.
	specOpts = append(specOpts, withUserDBCheck, oci.WithImageConfig(r.image(img)))

	if p.network == NetworkPrivate {
		nsPath := filepath.Join(runDir, "netns")
		r.store.Track(ctx, image.TrackMount, nsPath)
		if err := newNetNS(nsPath); err != nil {
			return nil, fmt.Errorf("creating network namespace: %w", err)
		}
		t.NetNSPath, t.netns = nsPath, nsPath
		specOpts = append(specOpts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath}))
	} else if p.network == NetworkJoin {
		t.NetNSPath = cfg.NetNS // not ours: not removed on Close
		specOpts = append(specOpts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: cfg.NetNS}))
	} else {
		specOpts = append(specOpts, oci.WithHostNamespace(specs.NetworkNamespace))
	}
	t.IP = "127.0.0.1"

	etc, err := writeEtcFiles(runDir, t.Hostname, p, cfg.DNSSearch)
	if err != nil {
		return nil, err
	}
	t.Mounts = etc
	for i, m := range p.mounts {
		if m.Source == "" {
			dir := filepath.Join(runDir, "volumes", fmt.Sprint(i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("creating anonymous volume: %w", err)
			}
			if err := os.Chmod(dir, 0o1777); err != nil {
				return nil, fmt.Errorf("creating anonymous volume: %w", err)
			}
			m.Source = dir
		}
		t.Mounts = append(t.Mounts, m)
	}
	specOpts = append(specOpts,
		oci.WithHostname(t.Hostname),
		oci.WithMounts(specMounts(t.Mounts)),
		oci.WithProcessArgs(p.args...),
	)
	if len(p.env) > 0 {
		specOpts = append(specOpts, oci.WithEnv(p.env))
	}
	if cfg.Workdir != "" {
		specOpts = append(specOpts, oci.WithProcessCwd(cfg.Workdir))
	}
	if cfg.User != "" {
		name, _, _ := strings.Cut(cfg.User, ":")
		specOpts = append(specOpts, oci.WithUser(cfg.User), oci.WithAdditionalGIDs(name))
	}
	if cfg.NewPrivileges {
		specOpts = append(specOpts, oci.WithNewPrivileges)
	}
	if cfg.CgroupsPath != "" {
		specOpts = append(specOpts, oci.WithCgroup(cfg.CgroupsPath))
	}
	if cfg.Memory > 0 {
		specOpts = append(specOpts, oci.WithMemoryLimit(uint64(cfg.Memory)))
	}
	if cfg.PidsLimit > 0 {
		specOpts = append(specOpts, oci.WithPidsLimit(cfg.PidsLimit))
	}
	if cfg.Seccomp != nil {
		profile := cfg.Seccomp
		specOpts = append(specOpts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			s.Linux.Seccomp = profile
			return nil
		})
	}

	t.stopSignal = syscall.SIGTERM
	if s := img.Config.Config.StopSignal; s != "" {
		sig, err := signal.ParseSignal(s)
		if err != nil {
			log.Warn().Str("stop_signal", s).Msg("image stop signal not understood, using SIGTERM")
		} else {
			t.stopSignal = sig
		}
	}

	r.store.Track(ctx, image.TrackSnapshot, id)
	r.store.Track(ctx, image.TrackContainer, id)
	container, err := r.client.NewContainer(ctx, id,
		containerd.WithImage(r.image(img)),
		containerd.WithSnapshotter(r.opts.Snapshotter),
		containerd.WithNewSnapshot(id, r.image(img)),
		containerd.WithContainerLabels(runLabels(cfg.Labels, map[string]string{LabelRun: id, labelOwner: image.OwnerID(os.Getpid()), labelRunDir: runDir})),
		containerd.WithNewSpec(specOpts...),
	)
	if err != nil {
		// NewContainer may have made the snapshot before failing.
		t.snapshot = id
		r.store.Untrack(ctx, image.TrackContainer, id)
		if cfg.User != "" {
			return nil, fmt.Errorf("creating container as user %q: %w", cfg.User, err)
		}
		return nil, fmt.Errorf("creating container: %w", err)
	}
	t.container, t.snapshot = container, id

	spec, err := container.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading container spec: %w", err)
	}
	t.Env, t.Workdir = spec.Process.Env, spec.Process.Cwd
	t.User = fmt.Sprintf("%d:%d", spec.Process.User.UID, spec.Process.User.GID)

	n := cfg.LogLines
	if n == 0 {
		n = DefaultLogLines
	}
	t.logs = newLogRing(n, cfg.LogWriter, cfg.LogPrefix)
	t.stdout = &lineWriter{ring: t.logs, stream: "stdout"}
	t.stderr = &lineWriter{ring: t.logs, stream: "stderr"}
	task, err := container.NewTask(ctx, cio.NewCreator(
		cio.WithStreams(nil, t.stdout, t.stderr),
		cio.WithFIFODir(filepath.Join(runDir, "fifo")),
	))
	if err != nil {
		return nil, fmt.Errorf("creating task: %w", err)
	}
	t.task = task
	t.Pid = int(task.Pid())

	// Register for the exit before anything can start the task.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.waitCancel = cancel
	exitc, err := task.Wait(wctx)
	if err != nil {
		return nil, fmt.Errorf("waiting on task: %w", err)
	}
	go t.watch(exitc)

	t.CgroupPath, err = cgroup.ProcessDir(t.Pid)
	if err != nil {
		return nil, fmt.Errorf("finding task cgroup: %w", err)
	}
	if t.CgroupID, err = cgroup.ID(t.CgroupPath); err != nil {
		return nil, fmt.Errorf("task cgroup: %w", err)
	}
	log.Info().Str("image", img.Name).Int("pid", t.Pid).Str("cgroup", t.CgroupPath).Uint64("cgroup_id", t.CgroupID).
		Strs("args", creport.RedactArgs(t.Args)).Str("network", p.network).Msg("created task")
	return t, nil
}

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into runDir and returns the bind mounts for them.
func writeEtcFiles(runDir, hostname string, p *runPlan, search []string) ([]Mount, error) {
	var hostsBase []byte
	if p.network == NetworkHost {
		b, err := os.ReadFile("/etc/hosts")
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("reading host /etc/hosts: %w", err)
		}
		hostsBase = append([]byte{}, b...)
	}
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading host /etc/resolv.conf: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"hostname", []byte(hostname + "\n")},
		{"hosts", hostsFile(hostsBase, hostname, p.hosts)},
		{"resolv.conf", resolvConf(hostResolv, p.dns, search, p.network != NetworkHost)},
	}
	var mounts []Mount
	for _, f := range files {
		path := filepath.Join(runDir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing container /etc/%s: %w", f.name, err)
		}
		mounts = append(mounts, Mount{Source: path, Destination: "/etc/" + f.name, Propagation: "rprivate"})
	}
	return mounts, nil
}

// specMounts turns mounts into OCI bind mounts.
func specMounts(ms []Mount) []specs.Mount {
	out := make([]specs.Mount, 0, len(ms))
	for _, m := range ms {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		out = append(out, specs.Mount{
			Destination: m.Destination,
			Type:        "bind",
			Source:      m.Source,
			Options:     []string{"rbind", m.Propagation, mode},
		})
	}
	return out
}

// runLabels are the extra labels with slimtrace's own over them.
func runLabels(extra, own map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
