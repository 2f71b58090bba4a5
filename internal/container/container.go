package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/safefs"
)

// Container is a container run of an image: created by Runtime.Create, started
// by Start, removed by Close.
type Container struct {
	// ID names the container, its task and its snapshot: slimtrace-<hex>.
	ID    string
	Image *image.Image
	// Pid is the task's init process on the host. Before Start it is the
	// runtime's init, which execs the entrypoint on Start.
	Pid int
	// CgroupPath is the absolute host path of the task's cgroup v2
	// directory; it exists before Start.
	CgroupPath string
	// CgroupID is that cgroup's id, as bpf_get_current_cgroup_id returns it.
	CgroupID uint64
	// NetNSPath is the bind-mounted network namespace of a private network;
	// empty on the host network.
	NetNSPath string
	// IP is the address that reaches the container through DialContext.
	IP string
	// Ports are the image's exposed ports and the extra ones, sorted.
	Ports []Port
	// Hostname set in the container.
	Hostname string
	// Mounts are the bind mounts added to the container: its /etc/hostname,
	// /etc/hosts, /etc/resolv.conf and the run's volumes. Files under them
	// do not belong to the image.
	Mounts []Mount
	// Args, Env, Workdir and User (uid:gid) of the init process.
	Args    []string
	Env     []string
	Workdir string
	User    string
	// RunDir holds the run's state on the host; Close removes it.
	RunDir string

	rt         *Runtime
	netns      string // netns still to remove
	runDir     string // run directory still to remove
	container  containerd.Container
	task       containerd.Task
	snapshot   string
	stopSignal syscall.Signal
	waitCancel context.CancelFunc
	exited     chan struct{}
	status     ExitStatus
	logs       *logRing
	stdout     *lineWriter
	stderr     *lineWriter

	closeMu sync.Mutex
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	// Code is the exit code, 128+N for a process killed by signal N.
	Code     int
	ExitedAt time.Time
	// Err is set when the status could not be had.
	Err error
	// Killed says why Stop killed the task instead of letting it exit
	// after its stop signal: KilledIdle or KilledTimeout; empty otherwise.
	Killed string
}

// Why Stop killed a task.
const (
	// KilledIdle: after the stop signal the task used no CPU for
	// StopIdle: it ignores the signal, nothing of a shutdown is running.
	KilledIdle = "idle after the stop signal"
	// KilledTimeout: still busy when the stop timeout ran out.
	KilledTimeout = "stop timeout"
	// KilledNoHandler: its init has no handler for the stop signal.
	KilledNoHandler = "no handler for the stop signal"
)

// StopIdle is how long a task may use (next to) no CPU after its stop
// signal before Stop takes it for one that ignores the signal and kills
// it: an app shutting down works (or it has exited), one that ignores the
// signal sits idle (php -S spent the whole 10 s timeout so).
const StopIdle = time.Second

// watch records the task's exit.
func (t *Container) watch(exitc <-chan containerd.ExitStatus) {
	st := <-exitc
	code, at, err := st.Result()
	t.status = ExitStatus{Code: int(code), ExitedAt: at, Err: err}
	close(t.exited)
}

// Start starts the task: the entrypoint runs.
func (t *Container) Start(ctx context.Context) error {
	task := t.liveTask()
	if task == nil {
		return errors.New("target is closed")
	}
	if err := task.Start(t.rt.nsctx(ctx)); err != nil {
		return fmt.Errorf("starting task %s: %w", t.ID, err)
	}
	logger(ctx).Info().Str("run", t.ID).Int("pid", t.Pid).Msg("started task")
	return nil
}

// liveTask returns the task, nil once Close removed it.
func (t *Container) liveTask() containerd.Task {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	return t.task
}

// Wait returns a channel that gets the task's exit status once it exits.
// The exit is watched from before Start, so a task that exits at once is not
// missed. Each call gets its own channel.
func (t *Container) Wait() <-chan ExitStatus {
	c := make(chan ExitStatus, 1)
	go func() {
		<-t.exited
		c <- t.status
	}()
	return c
}

// Exited is closed when the task has exited.
func (t *Container) Exited() <-chan struct{} { return t.exited }

// Stop sends the image's stop signal (SIGTERM when it names none) and, if the
// task has not exited after timeout, SIGKILL to all its processes. It
// returns the exit status.
func (t *Container) Stop(ctx context.Context, timeout time.Duration) (ExitStatus, error) {
	ctx = t.rt.nsctx(ctx)
	log := logger(ctx).With().Str("run", t.ID).Logger()
	select {
	case <-t.exited:
		return t.status, nil
	default:
	}
	task := t.liveTask()
	if task == nil {
		return ExitStatus{}, errors.New("target is closed")
	}
	why := ""
	if !catches(t.Pid, t.stopSignal) {
		// The container's init is pid 1 of its namespace: the kernel drops
		// a signal it has no handler for, so waiting would only waste the
		// timeout (busybox httpd, many static servers).
		log.Debug().Stringer("signal", t.stopSignal).Msg("init does not handle the stop signal: killing it")
		why = KilledNoHandler
	} else {
		log.Debug().Stringer("signal", t.stopSignal).Msg("stopping task")
		if err := task.Kill(ctx, t.stopSignal); err != nil && !errdefs.IsNotFound(err) {
			return ExitStatus{}, fmt.Errorf("signalling task %s: %w", t.ID, err)
		}
	}
	var ctxErr error
	if why == "" {
		why, ctxErr = t.awaitStop(ctx, timeout)
		if why == "" {
			return t.status, nil
		}
		log.Info().Dur("timeout", timeout).Str("why", why).Msg("task did not stop: killing it")
	}
	kctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := task.Kill(kctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return ExitStatus{}, fmt.Errorf("killing task %s: %w", t.ID, err)
	}
	select {
	case <-t.exited:
		st := t.status
		st.Killed = why
		return st, ctxErr
	case <-kctx.Done():
		return ExitStatus{}, fmt.Errorf("task %s did not exit after SIGKILL", t.ID)
	}
}

// awaitStop waits for the task to exit after its stop signal. It returns
// "" when it did, KilledTimeout when timeout ran out, KilledIdle when its
// cgroup used no CPU for StopIdle (read from cpu.stat, which every cgroup
// v2 directory has: the check needs no controller), and ctx's error
// (with KilledTimeout) when ctx ended first.
func (t *Container) awaitStop(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	const every = 100 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	last, lastErr := cpuUsage(t.CgroupPath)
	idleSince := time.Now()
	for {
		select {
		case <-t.exited:
			return "", nil
		case <-deadline.C:
			return KilledTimeout, nil
		case <-ctx.Done():
			return KilledTimeout, ctx.Err()
		case now := <-tick.C:
			u, err := cpuUsage(t.CgroupPath)
			if err != nil || lastErr != nil {
				continue // no usage to go by: the timeout decides
			}
			// Idle: under a millisecond of CPU since idleSince (a server's
			// event loop may still wake now and then).
			if u-last >= idleCPU {
				last, idleSince = u, now
			} else if now.Sub(idleSince) >= StopIdle {
				return KilledIdle, nil
			}
		}
	}
}

// idleCPU is the CPU time, in µs, under which a task counts as idle for
// StopIdle: 0.1 %.
const idleCPU = 1000

// cpuUsage reads usage_usec from a cgroup v2 directory's cpu.stat.
func cpuUsage(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("cpu.stat has no usage_usec")
}

// ExecConfig describes a process to run inside a started target.
type ExecConfig struct {
	// Args is the command; no shell is added.
	Args []string
	// Env entries KEY=VAL are set on top of the container's environment.
	Env []string
	// Workdir defaults to the container's.
	Workdir string
	// User defaults to the container's: name, uid, name:group or uid:gid,
	// looked up in the container's /etc/passwd and /etc/group.
	User string
	// Stdout and Stderr get the process's output; nil discards it.
	Stdout, Stderr io.Writer
	// Started, if set, is called with the host pid once the process runs,
	// so a tracer can tell its subtree apart.
	Started func(pid int)
}

// Exec runs a process inside the target through containerd and waits for
// it. It returns the process's host pid and exit status. When ctx ends
// first, the process is killed and ctx's error returned.
func (t *Container) Exec(ctx context.Context, cfg ExecConfig) (int, ExitStatus, error) {
	ctx = t.rt.nsctx(ctx)
	if len(cfg.Args) == 0 {
		return 0, ExitStatus{}, errors.New("exec: no command")
	}
	task := t.liveTask()
	if task == nil {
		return 0, ExitStatus{}, errors.New("exec: target is closed")
	}
	spec, err := task.Spec(ctx)
	if err != nil {
		return 0, ExitStatus{}, fmt.Errorf("exec: reading spec: %w", err)
	}
	p := *spec.Process
	p.Terminal = false
	p.Args = cfg.Args
	p.Env = mergeEnv(p.Env, cfg.Env)
	if cfg.Workdir != "" {
		p.Cwd = cfg.Workdir
	}
	if cfg.User != "" {
		u, err := t.lookupUser(cfg.User)
		if err != nil {
			return 0, ExitStatus{}, fmt.Errorf("exec: %w", err)
		}
		p.User = u
	}
	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	execID := "exec-" + image.NewID()[len("slimtrace-"):]
	proc, err := task.Exec(ctx, execID, &p, cio.NewCreator(
		cio.WithStreams(nil, stdout, stderr),
		cio.WithFIFODir(filepath.Join(t.RunDir, "fifo")),
	))
	if err != nil {
		return 0, ExitStatus{}, fmt.Errorf("exec %q: %w", cfg.Args[0], err)
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if _, err := proc.Delete(cctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			logger(ctx).Warn().Err(err).Str("run", t.ID).Str("exec", execID).Msg("deleting exec process")
		}
	}()
	// The wait outlives ctx: after a cancel, the kill's exit is still read.
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWait()
	statusc, err := proc.Wait(wctx)
	if err != nil {
		return 0, ExitStatus{}, fmt.Errorf("exec %q: waiting: %w", cfg.Args[0], err)
	}
	if err := proc.Start(ctx); err != nil {
		return 0, ExitStatus{}, fmt.Errorf("exec %q: %w", cfg.Args[0], err)
	}
	pid := int(proc.Pid())
	logger(ctx).Debug().Str("run", t.ID).Int("pid", pid).Strs("args", creport.RedactArgs(cfg.Args)).Msg("exec started")
	if cfg.Started != nil {
		cfg.Started(pid)
	}
	var ctxErr error
	select {
	case st := <-statusc:
		code, at, err := st.Result()
		drainIO(proc.IO())
		return pid, ExitStatus{Code: int(code), ExitedAt: at, Err: err}, nil
	case <-ctx.Done():
		ctxErr = ctx.Err()
	}
	kctx, cancel := cleanupContext(ctx)
	defer cancel()
	if err := proc.Kill(kctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
		logger(ctx).Warn().Err(err).Str("run", t.ID).Msg("killing exec process")
	}
	select {
	case st := <-statusc:
		code, at, err := st.Result()
		return pid, ExitStatus{Code: int(code), ExitedAt: at, Err: err}, ctxErr
	case <-kctx.Done():
		return pid, ExitStatus{}, ctxErr
	}
}

// drainIO waits until a process's output is copied to the end, which may
// come after its exit status: without it the last lines (all of a short
// process's) can be lost when the process is deleted. A child that kept
// the pipes open (a daemon the command started) bounds it at 2 s.
func drainIO(io cio.IO) {
	done := make(chan struct{})
	go func() {
		io.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// lookupUser resolves a user spec against the running container's
// /etc/passwd and /etc/group, parsed here (never the host's NSS). The
// container's root is opened once and read by descriptor, resolved inside
// it; the lookup fails when the process died or changed mount namespace
// meanwhile.
func (t *Container) lookupUser(spec string) (specs.User, error) {
	mntns := fmt.Sprintf("/proc/%d/ns/mnt", t.Pid)
	before, err := os.Stat(mntns)
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: the container's process: %w", spec, err)
	}
	root, err := safefs.Open(fmt.Sprintf("/proc/%d/root", t.Pid))
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: opening the container's root: %w", spec, err)
	}
	defer root.Close()
	passwd, err := readUserDB(root, "etc/passwd")
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	group, err := readUserDB(root, "etc/group")
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	if after, err := os.Stat(mntns); err != nil || !os.SameFile(before, after) {
		return specs.User{}, fmt.Errorf("user %q: the container's process exited or changed mount namespace while its files were read", spec)
	}
	u, err := user.GetExecUser(spec, &user.ExecUser{}, passwd, group)
	if err != nil {
		return specs.User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	gids := make([]uint32, 0, len(u.Sgids))
	for _, g := range u.Sgids {
		gids = append(gids, uint32(g))
	}
	return specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid), AdditionalGids: gids}, nil
}

// readUserDB reads /etc/passwd or /etc/group through root, resolved inside
// it as the container would (an absolute symlink or ".." never reaches the
// host's files); nil, without an error, when it does not exist. One that
// is not a regular file (a FIFO would block the reader) is an error.
func readUserDB(root *safefs.FS, name string) (io.Reader, error) {
	root.MaxRead = 16 << 20
	b, err := root.ReadFileFollow(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image's /%s: %w", name, err)
	}
	return bytes.NewReader(b), nil
}

// CheckUserDB fails when the image whose root is at dir has an /etc/passwd
// or /etc/group that is not a regular file: containerd's own user lookup,
// which runs before slimtrace sees the container, would block on a FIFO.
func CheckUserDB(dir string) error {
	root, err := safefs.Open(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, name := range []string{"etc/passwd", "etc/group"} {
		if _, err := readUserDB(root, name); err != nil {
			return err
		}
	}
	return nil
}

// withUserDBCheck is a spec option, run before containerd's own user
// lookups, that checks the image's user database in the container's
// snapshot, mounted read-only, nosuid, nodev and noexec.
func withUserDBCheck(ctx context.Context, client oci.Client, c *containers.Container, _ *oci.Spec) error {
	if c.Snapshotter == "" || c.SnapshotKey == "" {
		return nil
	}
	mounts, err := client.SnapshotService(c.Snapshotter).Mounts(ctx, c.SnapshotKey)
	if err != nil {
		return fmt.Errorf("checking the image's user database: %w", err)
	}
	for i := range mounts {
		mounts[i].Options = append(slices.Clone(mounts[i].Options), "nosuid", "nodev", "noexec")
	}
	return mount.WithReadonlyTempMount(ctx, mounts, CheckUserDB)
}

// mergeEnv sets the KEY=VAL entries of over on top of base.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, _ := cutEnv(kv)
		replaced := false
		for i, b := range out {
			if bk, _, _ := cutEnv(b); bk == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// Logs returns the last lines the container wrote, oldest first; a last
// line still missing its newline is included.
func (t *Container) Logs() []LogLine {
	if t.logs == nil {
		return nil
	}
	lines := t.logs.snapshot()
	for _, w := range []*lineWriter{t.stdout, t.stderr} {
		w.mu.Lock()
		if len(w.buf) > 0 {
			lines = append(lines, LogLine{Stream: w.stream, Text: string(w.buf)})
		}
		w.mu.Unlock()
	}
	return lines
}

// DialContext connects to addr from inside the target's network namespace,
// so probes need no published ports. addr takes an IP address (or
// localhost). The connection can be used from any goroutine.
func (t *Container) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.NetNSPath == "" {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return dialInNetNS(ctx, t.NetNSPath, network, addr)
}

// Close removes everything the run made: the task (killed if running), the
// container, its snapshot, the network namespace and the run directory. It
// works when ctx is already cancelled, ignores what is already gone, and can
// be called again to retry what failed.
func (t *Container) Close(ctx context.Context) error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	ctx, cancel := cleanupContext(t.rt.nsctx(ctx))
	defer cancel()
	log := logger(ctx).With().Str("run", t.ID).Logger()
	var errs []error
	fail := func(what string, err error) {
		log.Warn().Err(err).Msg(what)
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}

	if t.task != nil {
		if _, err := t.task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			fail("deleting task", err)
		} else {
			log.Debug().Msg("deleted task")
			t.task = nil
		}
	}
	if t.task == nil && t.waitCancel != nil {
		t.waitCancel()
		t.waitCancel = nil
	}
	if t.stdout != nil {
		t.stdout.flush()
		t.stderr.flush()
	}
	if t.task == nil && t.container != nil {
		if err := t.container.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			fail("deleting container", err)
		} else {
			log.Debug().Msg("deleted container")
			t.rt.store.Untrack(ctx, image.TrackContainer, t.ID)
			t.container = nil
		}
	}
	if t.container == nil && t.snapshot != "" {
		err := t.rt.client.SnapshotService(t.rt.opts.Snapshotter).Remove(ctx, t.snapshot)
		if err != nil && !errdefs.IsNotFound(err) {
			fail("removing snapshot", err)
		} else {
			log.Debug().Msg("removed snapshot")
			t.rt.store.Untrack(ctx, image.TrackSnapshot, t.snapshot)
			t.snapshot = ""
		}
	}
	if t.task == nil && t.netns != "" {
		if err := removeNetNS(t.netns); err != nil {
			fail("removing network namespace", err)
		} else {
			t.rt.store.Untrack(ctx, image.TrackMount, t.netns)
			t.netns = ""
		}
	}
	if t.netns == "" && t.runDir != "" {
		if err := os.RemoveAll(t.runDir); err != nil {
			fail("removing run directory", err)
		} else {
			t.rt.store.Untrack(ctx, image.TrackTree, t.runDir)
			t.runDir = ""
		}
	}
	if len(errs) == 0 {
		log.Debug().Msg("cleaned up")
	}
	return errors.Join(errs...)
}

// catches reports whether process pid has a handler for sig, from the SigCgt
// mask in /proc/PID/status. When it cannot tell, it says yes, so the caller
// sends the signal and waits as usual.
func catches(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			if err != nil || sig < 1 || sig > 64 {
				return true
			}
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return true
}
