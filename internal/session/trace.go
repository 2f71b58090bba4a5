package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/safefs"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// Continue-after modes.
const (
	ContinueEnter   = "enter"
	ContinueSignal  = "signal"
	ContinueProbe   = "probe"
	ContinueTimeout = "timeout"
	ContinueExit    = "exit"
)

// DefaultTimeout is what --continue-after=timeout waits.
const DefaultTimeout = 60 * time.Second

// Options configure a traced run. The zero value runs the image as it is,
// with no probes, until it exits.
type Options struct {
	Store image.Options
	Image string
	Run   container.RunConfig

	// HTTPProbe enables the default GET / and the Probe commands on the
	// target's ports.
	HTTPProbe bool
	// Probe holds the HTTP probe settings; DialContext, Host and Ports are
	// filled from the container.
	Probe probe.Options
	// Sidecars are services the target needs, started first in its network
	// namespace and removed with it (see SideService).
	Sidecars []SideService
	// Links are running containers the target reaches by name (--link);
	// Run.Network may be NetworkContainer+REF to join one's network
	// namespace.
	Links []Link
	// ListenWait bounds how long an app with no exposed port is given to
	// listen on one before the HTTP probes give up on it; default
	// DefaultListenWait.
	ListenWait time.Duration
	// ExecProbes are host commands (shell lines) run against the target.
	ExecProbes []string
	// Execs are commands run inside the target, each an argument vector.
	Execs [][]string
	// SkipHealthcheck leaves the image's HEALTHCHECK out.
	SkipHealthcheck bool

	// ContinueAfter: enter, signal, probe, timeout, exit, or a number of
	// seconds. Empty picks DefaultContinueAfter.
	ContinueAfter string
	// Stdin is read for --continue-after=enter.
	Stdin io.Reader
	// StopTimeout is how long the stop signal has before SIGKILL.
	StopTimeout time.Duration

	// Progress gets one line per stage (stderr); nil discards them.
	Progress io.Writer
	// ReportEnvValues keeps in creport.json the values of environment
	// variables whose names look secret (*TOKEN*, *PASSWORD*, *KEY*, ...);
	// by default they read "<redacted>". The slim image's own config
	// always keeps them.
	ReportEnvValues bool
	// Tool names this program in reports ("slimtrace v1").
	Tool    string
	Command string // profile, build or verify
	// RingBufferSize for the tracer, in bytes (0: its default).
	RingBufferSize int
	// TraceLimits bound the paths and execs the trace lists.
	TraceLimits trace.Limits
}

// Run is what Trace produced: the image, how its container ran and ended,
// the probes' results and the trace. The image store and a read-only view
// of the image's filesystem stay open for the stages after it (Slim,
// Profiles, Report) until Close.
type Run struct {
	Options   Options
	StartedAt time.Time
	Image     *image.Image
	// Container says how the container ran; Exit how it ended.
	Container creport.Run
	Exit      *creport.Exit
	Probes    creport.Probes
	// Logs are the container's last output lines.
	Logs  []string
	Trace *trace.Report
	// AppLineage is the lineage of the application's processes;
	// ExecLineages those of --exec commands, HealthLineage the
	// healthcheck's (its files belong in a slim image, --exec's do not).
	AppLineage    uint32
	ExecLineages  []uint32
	HealthLineage uint32
	Timings       creport.Timings
	// Listening is true when the app had ports to serve on: exposed, or
	// seen listening.
	Listening bool

	// Name names an attached run's artifacts: its workloads' group
	// ("web-nginx"); Image is nil then, imageName and foundIn say what
	// the runtime ran.
	Name      string
	imageName string
	foundIn   string

	store *image.Store
	view  *image.View
	root  *safefs.FS
	// paths holds the trace's path strings, shared with the file set.
	paths *trace.Paths
}

// DefaultContinueAfter is the mode used when none is given: wait for Enter
// on a terminal, as the predecessor did; otherwise never hang: continue
// after the probes when there are any, or when the target exits.
func DefaultContinueAfter(interactive, probing bool) string {
	switch {
	case interactive:
		return ContinueEnter
	case probing:
		return ContinueProbe
	}
	return ContinueExit
}

// ParseContinueAfter checks a --continue-after value.
func ParseContinueAfter(s string) (mode string, wait time.Duration, err error) {
	switch s {
	case ContinueEnter, ContinueSignal, ContinueProbe, ContinueExit:
		return s, 0, nil
	case ContinueTimeout:
		return s, DefaultTimeout, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return "", 0, fmt.Errorf("--continue-after %q: want enter, signal, probe, timeout, exit or a number of seconds", s)
	}
	return ContinueTimeout, time.Duration(n) * time.Second, nil
}

// DefaultListenWait is how long an app with no exposed port is given to
// listen on one.
const DefaultListenWait = 30 * time.Second

// waitListening polls the ports the container's processes listen on until
// there are some, it exits, ctx ends or d passes (then it returns none).
func waitListening(ctx context.Context, c *container.Container, d time.Duration) ([]int, error) {
	if d <= 0 {
		d = DefaultListenWait
	}
	var ports []int
	err := poll(ctx, d, c.Exited(), func() (bool, error) {
		var err error
		ports, err = c.ListeningPorts()
		return len(ports) > 0, err
	})
	if errors.Is(err, errPollExited) || errors.Is(err, errPollTimeout) {
		return nil, nil
	}
	return ports, err
}

// Why poll gave up.
var (
	errPollExited  = errors.New("the container exited")
	errPollTimeout = errors.New("timed out")
)

// poll calls check until it says done or fails, the container exits
// (errPollExited), d passes (errPollTimeout) or ctx ends (its error). What
// it waits for has no event to wait on, so the checks back off from 50 ms
// to 1 s.
func poll(ctx context.Context, d time.Duration, exited <-chan struct{}, check func() (bool, error)) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	delay := 50 * time.Millisecond
	for {
		if ok, err := check(); err != nil || ok {
			return err
		}
		select {
		case <-exited:
			return errPollExited
		case <-deadline.C:
			return errPollTimeout
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// errExited says the container exited while it was probed.
var errExited = errors.New("the container exited")

// NotReadyError is returned when the target never answered on a port, or
// exited while it was probed: it carries what the user needs to see why.
type NotReadyError struct {
	Err  error
	Exit *container.ExitStatus
	Logs []string
}

func (e *NotReadyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Exit != nil {
		fmt.Fprintf(&b, "\nthe container exited with status %d", e.Exit.Code)
	} else {
		b.WriteString("\nthe container is still running")
	}
	if len(e.Logs) > 0 {
		b.WriteString("; its last output:\n  ")
		b.WriteString(strings.Join(e.Logs, "\n  "))
	} else {
		b.WriteString("; it wrote nothing")
	}
	return b.String()
}

func (e *NotReadyError) Unwrap() error { return e.Err }

// Trace resolves the image, creates its container (not started), attaches
// the tracer to the container's cgroup, starts it, probes it, waits as
// --continue-after says, stops it and collects the trace. The container,
// its task, snapshot and network namespace and the tracer's programs are
// gone when Trace returns, on success, error and cancellation; on success
// the image store and a view of the image stay open until Run.Close.
func Trace(ctx context.Context, opts Options) (_ *Run, err error) {
	log := zerolog.Ctx(ctx)
	step := progressFunc(opts)
	run := &Run{Options: opts, StartedAt: time.Now(), paths: trace.NewPaths(opts.TraceLimits.Paths())}
	mark := run.StartedAt
	lap := func() int64 {
		now := time.Now()
		d := now.Sub(mark)
		mark = now
		return d.Milliseconds()
	}

	if run.Options.ContinueAfter == "" {
		run.Options.ContinueAfter = DefaultContinueAfter(false, opts.HTTPProbe || len(opts.ExecProbes) > 0 || len(opts.Execs) > 0)
	}
	mode, wait, err := ParseContinueAfter(run.Options.ContinueAfter)
	if err != nil {
		return nil, err
	}
	if err := tracer.CheckHost(); err != nil {
		return nil, err
	}
	if run.store, err = image.Connect(ctx, opts.Store); err != nil {
		return nil, err
	}
	if _, err := container.PruneStale(ctx, run.store); err != nil {
		log.Warn().Err(err).Msg("cleaning up after killed runs")
	}
	defer func() {
		if err != nil {
			if cerr := run.Close(context.WithoutCancel(ctx)); cerr != nil {
				log.Warn().Err(cerr).Msg("closing the run")
			}
		}
	}()

	step("resolving %s", opts.Image)
	if run.Image, err = run.store.Resolve(ctx, opts.Image); err != nil {
		return nil, err
	}
	run.Timings.ResolveMS = lap()
	if h := run.store.Options().Docker.Host; run.Image.Origin.Kind == image.FromDocker && !strings.HasPrefix(h, "unix://") {
		step("the image came from the Docker Engine at %s; the app runs here, under containerd, where the tracer sees it: a remote Docker is only where images come from and go", h)
	}

	crt := container.NewRuntime(run.store)
	runCfg := opts.Run
	joinNS, linkHosts, err := linkPeers(ctx, crt, opts)
	if err != nil {
		return nil, err
	}
	if joinNS != "" {
		runCfg.Network, runCfg.NetNS = container.NetworkJoin, joinNS
	}
	runCfg.EtcHostsMap = append(slices.Clone(runCfg.EtcHostsMap), linkHosts...)
	if len(opts.Sidecars) > 0 {
		if runCfg.Network == container.NetworkHost {
			return nil, errors.New("side services share the target's network namespace: they need --network private, not host")
		}
		for i := range opts.Sidecars {
			opts.Sidecars[i].Run.LogWriter = opts.Run.LogWriter
		}
		p, err := startSides(ctx, run.store, crt, opts.Sidecars, joinNS, step)
		if err != nil {
			return nil, err
		}
		defer func() {
			if cerr := p.close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
				err = cerr
			}
		}()
		runCfg.Network, runCfg.NetNS = container.NetworkJoin, p.netns
		runCfg.EtcHostsMap = append(runCfg.EtcHostsMap, p.hosts...)
		run.Container.SideServices = p.names
	}

	step("creating the container")
	c, err := crt.Create(ctx, run.Image, runCfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := c.Close(context.WithoutCancel(ctx)); cerr != nil {
			log.Warn().Err(cerr).Msg("removing the container")
			if err == nil {
				err = cerr
			}
		}
	}()
	sides := run.Container.SideServices
	run.Container = containerReport(c, run.Options)
	run.Container.SideServices = sides
	g, err := cgroup.Open(c.CgroupPath)
	if err != nil {
		return nil, err
	}
	tr, err := tracer.Open(tracer.Options{Cgroup: g, Command: c.Args, RingBufferSize: opts.RingBufferSize, Limits: opts.TraceLimits,
		Paths: run.paths, Logger: *log})
	if err != nil {
		return nil, err
	}
	defer tr.Close() // on error paths; the normal path closes it below
	run.Timings.CreateMS = lap()

	step("starting %s (traced, %s programs)", strings.Join(creport.RedactArgs(c.Args), " "), tracer.ProgramType)
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	run.Timings.StartMS = lap()

	run.AppLineage = uint32(c.Pid)
	exitc := c.Wait()
	var exit *container.ExitStatus
	exited := func() bool {
		if exit != nil {
			return true
		}
		select {
		case st := <-exitc:
			exit = &st
			return true
		default:
			return false
		}
	}

	if err := run.probe(ctx, c, step); err != nil {
		var nr *probe.NotReadyError
		if errors.As(err, &nr) || errors.Is(err, errExited) {
			if !exited() {
				select {
				case st := <-exitc:
					exit = &st
				case <-time.After(100 * time.Millisecond):
				}
			}
			return nil, &NotReadyError{Err: err, Exit: exit, Logs: logLines(c)}
		}
		return nil, err
	}
	run.Timings.ProbeMS = lap()

	if err := waitContinue(ctx, mode, wait, opts.Stdin, exitc, &exit, step); err != nil {
		return nil, err
	}
	run.Timings.WaitMS = lap()

	if exit != nil || exited() {
		run.Exit = &creport.Exit{Code: exit.Code, Reason: "exited by itself"}
	} else {
		step("stopping the container")
		st, err := c.Stop(ctx, opts.StopTimeout)
		if err != nil {
			return nil, err
		}
		run.Exit = &creport.Exit{Code: st.Code, Reason: "stopped by slimtrace", Killed: st.Killed}
	}
	run.Timings.StopMS = lap()
	run.Logs = logLines(c)

	if run.Trace, err = tr.Close(); err != nil {
		return nil, fmt.Errorf("collecting the trace: %w", err)
	}
	run.Timings.CollectMS = lap()

	// What the files are in the image, for the stages after this one.
	if run.view, err = run.store.View(ctx, run.Image); err != nil {
		return nil, err
	}
	if run.root, err = safefs.Open(run.view.Dir); err != nil {
		return nil, fmt.Errorf("opening the image view: %w", err)
	}
	return run, nil
}

// FS is the image's filesystem, read through safefs: no lookup can leave
// it, and only its regular files and directories are ever opened.
func (r *Run) FS() fs.FS { return r.root }

// Close releases the image view and the store. It can be called again.
func (r *Run) Close(ctx context.Context) error {
	var errs []error
	if r.root != nil {
		errs = append(errs, r.root.Close())
		r.root = nil
	}
	if r.view != nil {
		errs = append(errs, r.view.Close(ctx))
		r.view = nil
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
		r.store = nil
	}
	return errors.Join(errs...)
}

func logLines(c *container.Container) []string {
	var out []string
	for _, l := range c.Logs() {
		out = append(out, l.String())
	}
	return out
}

// waitContinue blocks as mode says, or until the target exits.
func waitContinue(ctx context.Context, mode string, d time.Duration, stdin io.Reader,
	exitc <-chan container.ExitStatus, exit **container.ExitStatus, step func(string, ...any)) error {
	if *exit != nil {
		return nil
	}
	var until <-chan struct{}
	switch mode {
	case ContinueProbe:
		return nil
	case ContinueEnter:
		step("the target runs traced: use it, then press Enter to collect the results")
		c := make(chan struct{})
		go func() {
			if stdin != nil {
				_, _ = bufio.NewReader(stdin).ReadString('\n')
			}
			close(c)
		}()
		until = c
	case ContinueSignal:
		step("the target runs traced: send SIGUSR1 to slimtrace (kill -USR1 %d) to collect the results", os.Getpid())
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		defer signal.Stop(sig)
		c := make(chan struct{})
		go func() {
			select {
			case <-sig:
			case <-ctx.Done():
			}
			close(c)
		}()
		until = c
	case ContinueTimeout:
		step("the target runs traced for %s", d)
		c := make(chan struct{})
		timer := time.AfterFunc(d, func() { close(c) })
		defer timer.Stop()
		until = c
	case ContinueExit:
		step("waiting for the target to exit")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case st := <-exitc:
		*exit = &st
	case <-until:
	}
	return nil
}

// probe exercises the container: HTTP probes, --exec commands inside it,
// its HEALTHCHECK, and --exec-probe commands on the host.
func (r *Run) probe(ctx context.Context, c *container.Container, step func(string, ...any)) error {
	opts := r.Options
	var ports []int
	for _, p := range c.Ports {
		if p.Protocol == "tcp" {
			ports = append(ports, int(p.Number))
		}
	}
	if opts.HTTPProbe && len(ports) == 0 && len(opts.Probe.OnlyPorts) == 0 && !cmdsHavePorts(opts.Probe.Cmds) {
		// No EXPOSE: probe what the app listens on, once it does.
		step("no exposed ports: waiting for the app to listen")
		seen, err := waitListening(ctx, c, opts.ListenWait)
		if err != nil {
			return err
		}
		if len(seen) > 0 {
			step("the app listens on %v: probing those ports", seen)
			ports = seen
		}
	}
	r.Listening = len(ports) > 0
	if opts.HTTPProbe {
		po := opts.Probe
		po.DialContext, po.Host, po.Ports = c.DialContext, c.IP, ports
		if len(ports) == 0 && len(po.OnlyPorts) == 0 && !cmdsHavePorts(po.Cmds) {
			step("no exposed ports and none listened on: no HTTP probes")
		} else {
			step("probing over HTTP")
			// An app that exits stops the probes at once: nothing will
			// ever answer on its ports.
			pctx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			go func() {
				select {
				case <-c.Exited():
					cancel(errExited)
				case <-pctx.Done():
				}
			}()
			res, err := probe.Run(pctx, po)
			if res != nil {
				for _, q := range res.Requests {
					r.Probes.HTTP = append(r.Probes.HTTP, creport.HTTPProbe{
						Port: q.Port, Proto: q.Proto, Method: q.Method, Resource: q.Resource, Source: string(q.Source),
						Status: q.Status, Size: q.Size, LatencyMS: q.Latency.Milliseconds(), SHA256: q.SHA256,
						Error: q.Error, Body: q.Body,
					})
				}
				r.Probes.Passed += res.Passed
				r.Probes.Failed += res.Failed
			}
			if context.Cause(pctx) == errExited && ctx.Err() == nil {
				return fmt.Errorf("%w while the HTTP probes ran (ports %v)", errExited, ports)
			}
			if err != nil && !errors.Is(err, probe.ErrNoPorts) {
				return err
			}
		}
	}

	for _, args := range opts.Execs {
		step("running %s inside the container", strings.Join(creport.RedactArgs(args), " "))
		ep, lineage, err := execInside(ctx, c, args)
		if err != nil {
			return err
		}
		r.Probes.Exec = append(r.Probes.Exec, ep)
		r.ExecLineages = append(r.ExecLineages, lineage)
		r.count(ep)
	}
	if args := container.HealthcheckArgs(r.Image.Config.Config.Healthcheck); args != nil && !opts.SkipHealthcheck {
		step("running the image's HEALTHCHECK")
		ep, lineage, err := execInside(ctx, c, args)
		if err != nil {
			return err
		}
		r.Probes.Healthcheck = &ep
		r.HealthLineage = lineage
		r.count(ep)
	}
	for _, cmd := range opts.ExecProbes {
		step("running exec probe %q", creport.RedactText(cmd))
		res, err := probe.RunExec(ctx, probe.ExecOptions{Command: cmd, Host: c.IP, Ports: ports, NetNS: c.NetNSPath})
		if res == nil {
			return err
		}
		ep := creport.ExecProbe{Where: "host", Command: []string{"sh", "-c", cmd}, ExitCode: res.ExitCode,
			DurationMS: res.Duration.Milliseconds(), Output: res.Output, Error: res.Error}
		r.Probes.Exec = append(r.Probes.Exec, ep)
		r.count(ep)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func cmdsHavePorts(cmds []probe.Cmd) bool {
	return slices.ContainsFunc(cmds, func(c probe.Cmd) bool { return c.Port != 0 })
}

func (r *Run) count(ep creport.ExecProbe) {
	if ep.ExitCode == 0 && ep.Error == "" {
		r.Probes.Passed++
	} else {
		r.Probes.Failed++
	}
}

// execInside runs args in the container; its processes get their own
// lineage (the exec'd process's pid), which keeps their files apart from
// the app's.
func execInside(ctx context.Context, c *container.Container, args []string) (creport.ExecProbe, uint32, error) {
	var out lastLines
	start := time.Now()
	pid, st, err := c.Exec(ctx, container.ExecConfig{Args: args, Stdout: &out, Stderr: &out})
	ep := creport.ExecProbe{Where: "container", Command: args, Pid: pid, ExitCode: st.Code,
		DurationMS: time.Since(start).Milliseconds(), Output: out.lines()}
	if err != nil {
		if ctx.Err() != nil {
			return ep, 0, ctx.Err()
		}
		ep.Error = err.Error()
	} else if st.Code != 0 {
		ep.Error = fmt.Sprintf("exit status %d", st.Code)
	}
	return ep, uint32(pid), nil
}

// lastLines keeps the last 50 lines written to it.
type lastLines struct {
	buf []byte
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if len(l.buf) > 64<<10 {
		l.buf = l.buf[len(l.buf)-32<<10:]
	}
	return len(p), nil
}

func (l *lastLines) lines() []string {
	s := strings.Split(strings.TrimRight(string(l.buf), "\n"), "\n")
	if len(s) == 1 && s[0] == "" {
		return nil
	}
	if len(s) > 50 {
		s = s[len(s)-50:]
	}
	return s
}

func containerReport(c *container.Container, opts Options) creport.Run {
	r := creport.Run{ContainerID: c.ID, Args: c.Args, Env: c.Env, Workdir: c.Workdir, User: c.User,
		Hostname: c.Hostname, Network: opts.Run.Network, ContinueAfter: opts.ContinueAfter, Mounts: opts.Run.Mounts,
		MemoryLimit: opts.Run.Memory, PidsLimit: opts.Run.PidsLimit}
	if r.Network == "" {
		r.Network = container.NetworkPrivate
	}
	for _, p := range c.Ports {
		r.Ports = append(r.Ports, p.String())
	}
	return r
}

func progressFunc(opts Options) func(string, ...any) {
	return func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "slimtrace: "+format+"\n", a...)
		}
	}
}
