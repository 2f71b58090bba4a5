package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Defaults for Options.
const (
	DefaultAddress           = "unix:///run/buildkit/buildkitd.sock"
	DefaultContainerdAddress = "/run/containerd/containerd.sock"
	DefaultStateDir          = "/run/slimtrace/builder"
	// DefaultWorkerNamespace is the containerd namespace a started
	// buildkitd keeps its cache in (pruned before it stops).
	DefaultWorkerNamespace = "slimtrace-buildkit"
)

// How long a started buildkitd may take to answer, and to stop.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// buildkitd is a connection to a buildkitd, and the daemon itself when we
// started it.
type buildkitd struct {
	client *client.Client
	addr   string
	// Set when we started the daemon.
	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
}

// connect connects to the buildkitd at opts' address, or starts one of our
// own when nothing answers there.
func connect(ctx context.Context, opts Options) (*buildkitd, error) {
	addr := opts.address()
	c, err := dial(ctx, addr, 5*time.Second)
	if err == nil {
		logger(ctx).Debug().Str("address", addr).Msg("connected to buildkitd")
		return &buildkitd{client: c, addr: addr}, nil
	}
	howto := fmt.Sprintf("start one (e.g. buildkitd --oci-worker=false --containerd-worker=true --containerd-worker-addr %s) or point --buildkit / BUILDKIT_HOST at a running one",
		opts.containerdAddress())
	if opts.NoStart {
		return nil, fmt.Errorf("no buildkitd answers at %s: %w; %s", addr, err, howto)
	}
	bin, lerr := findBuildkitd()
	if lerr != nil {
		return nil, fmt.Errorf("no buildkitd answers at %s (%w) and none can be started (%w); %s", addr, err, lerr, howto)
	}
	logger(ctx).Info().Str("address", addr).Str("buildkitd", bin).Msg("no buildkitd answers, starting one for this build")
	return start(ctx, bin, opts)
}

// dial connects to addr and checks that buildkitd answers within timeout.
func dial(ctx context.Context, addr string, timeout time.Duration) (*client.Client, error) {
	c, err := client.New(ctx, addr)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.ListWorkers(pctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// findBuildkitd looks for a buildkitd binary on PATH, then in slimtrace's
// cache.
func findBuildkitd() (string, error) {
	if p, err := exec.LookPath("buildkitd"); err == nil {
		return p, nil
	}
	cache := os.Getenv("SLIMTRACE_CACHE")
	if cache == "" {
		cache = "/var/cache/slimtrace"
	}
	p := filepath.Join(cache, "bin", "buildkitd")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", fmt.Errorf("buildkitd is neither on PATH nor at %s", p)
}

// start runs a buildkitd with a containerd worker, its root, socket, temp
// files and mounts all under a new directory in the state dir, and waits
// until it answers. Nothing is left behind when it fails.
func start(ctx context.Context, bin string, opts Options) (_ *buildkitd, err error) {
	if err := os.MkdirAll(opts.stateDir(), 0o711); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	dir, err := os.MkdirTemp(opts.stateDir(), "buildkitd-")
	if err != nil {
		return nil, fmt.Errorf("creating buildkitd state dir: %w", err)
	}
	d := &buildkitd{dir: dir, addr: "unix://" + filepath.Join(dir, "buildkitd.sock"), exited: make(chan struct{})}
	defer func() {
		if err != nil {
			d.close(ctx)
		}
	}()
	for _, sub := range []string{"root", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("creating buildkitd state dir: %w", err)
		}
	}
	// An empty config, so that /etc/buildkit/buildkitd.toml does not apply.
	config := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(config, nil, 0o600); err != nil {
		return nil, fmt.Errorf("writing buildkitd config: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		return nil, fmt.Errorf("creating buildkitd log: %w", err)
	}
	defer logf.Close()

	cmd := exec.Command(bin,
		"--config", config,
		"--root", filepath.Join(dir, "root"),
		"--addr", d.addr,
		"--oci-worker=false",
		"--containerd-worker=true",
		"--containerd-worker-addr", opts.containerdAddress(),
		"--containerd-worker-namespace", opts.workerNamespace(),
		"--containerd-worker-gc=false",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its temporary mounts go under our directory, so that none can
	// outlive it unseen.
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"))
	// Its own process group keeps a terminal's Ctrl-C away from it (we stop
	// it ourselves, after pruning); Pdeathsig ends it if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	d.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(d.exited)
	}()
	logger(ctx).Debug().Int("pid", cmd.Process.Pid).Str("address", d.addr).Msg("started buildkitd")

	if err := d.waitReady(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// waitReady polls the started daemon until it answers, exits or the start
// timeout passes.
func (d *buildkitd) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	sock := strings.TrimPrefix(d.addr, "unix://")
	delay := 10 * time.Millisecond
	for {
		if _, err := os.Stat(sock); err == nil {
			c, err := dial(ctx, d.addr, 2*time.Second)
			if err == nil {
				d.client = c
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-d.exited:
			t.Stop()
			return fmt.Errorf("buildkitd exited during start-up (%s): %s", d.cmd.ProcessState, d.logTail())
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("buildkitd did not answer within %s: %s", startTimeout, d.logTail())
			}
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// logTail is the end of a started daemon's log, for errors.
func (d *buildkitd) logTail() string {
	b, err := os.ReadFile(filepath.Join(d.dir, "buildkitd.log"))
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b, nil))), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return "log: " + strings.Join(lines, " | ")
}

// started reports whether we started the daemon.
func (d *buildkitd) started() bool { return d.cmd != nil }

// close disconnects. A daemon we started gets its cache pruned, is stopped,
// and its directory unmounted and removed. It works when ctx is already
// cancelled, and logs what it cannot undo.
func (d *buildkitd) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	log := logger(ctx)
	if d.client != nil {
		if d.started() {
			// Its cache lives in containerd, under leases only it knows.
			if err := d.client.Prune(ctx, nil, client.PruneAll); err != nil {
				log.Warn().Err(err).Msg("pruning the started buildkitd's cache")
			}
		}
		d.client.Close()
		d.client = nil
	}
	if !d.started() {
		return
	}
	d.stop(ctx)
	if d.dir == "" {
		return
	}
	if err := unmountUnder(d.dir); err != nil {
		log.Warn().Err(err).Str("dir", d.dir).Msg("unmounting buildkitd's leftovers; keeping its directory")
		return
	}
	if err := os.RemoveAll(d.dir); err != nil {
		log.Warn().Err(err).Str("dir", d.dir).Msg("removing buildkitd's directory")
	}
	d.dir = ""
}

// stop sends SIGTERM and, after stopTimeout, SIGKILL.
func (d *buildkitd) stop(ctx context.Context) {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-d.exited:
		logger(ctx).Debug().Int("pid", d.cmd.Process.Pid).Msg("stopped buildkitd")
		return
	case <-t.C:
	}
	logger(ctx).Warn().Int("pid", d.cmd.Process.Pid).Msg("buildkitd did not stop in time, killing it")
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
