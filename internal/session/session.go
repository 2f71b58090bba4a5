// Package session runs one image under trace: it resolves the image,
// creates the container (not started), attaches the tracer to its cgroup,
// starts it, exercises it with probes, waits as --continue-after says,
// stops it, and turns what was seen into the container report and the
// security profiles. It owns the order of the stages and their cleanup;
// each stage's work lives in its own package.
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
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/report"
	"github.com/slimtrace/slimtrace/internal/target"
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

// Options configure a run. The zero value runs the image as it is, with no
// probes, until it exits.
type Options struct {
	Target target.Options
	Image  string
	Run    target.RunConfig

	// HTTPProbe enables the default GET / and the Probe commands on the
	// target's ports.
	HTTPProbe bool
	// Probe holds the HTTP probe settings; DialContext, Host and Ports are
	// filled from the target.
	Probe probe.Options
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
	// Tool names this program in reports ("slimtrace v1").
	Tool    string
	Command string // profile or build
	// RingBufferSize for the tracer, in bytes (0: its default).
	RingBufferSize int

	// inspect, when set, runs once the trace is in, with the fat image's
	// filesystem mounted read-only and the runtime open (build computes
	// its file set and builds there).
	inspect func(ctx context.Context, env inspectEnv) error
}

// inspectEnv is what the inspect stage works with.
type inspectEnv struct {
	fs  fs.FS
	rt  *target.Runtime
	res *Result
}

// Result is what a run produced.
type Result struct {
	Report *report.Container
	Trace  *trace.Report
	// AppLineage is the lineage of the application's processes.
	AppLineage uint32
	// ExecLineages are those of --exec commands; HealthLineage the
	// healthcheck's (its files belong in a slim image, --exec's do not).
	ExecLineages  []uint32
	HealthLineage uint32
	Image         *target.Image
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

// NotReadyError is returned when the target never answered on a port: it
// carries what the user needs to see why.
type NotReadyError struct {
	Err  error
	Exit *target.ExitStatus
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

// Profile runs the image under trace and returns the report. It always
// removes the container, its task, snapshot and network namespace, and the
// tracer's programs, on success, error and cancellation.
func Profile(ctx context.Context, opts Options) (_ *Result, err error) {
	log := zerolog.Ctx(ctx)
	step := progressFunc(opts)
	began := time.Now()
	rep := &report.Container{Version: report.Version, Tool: opts.Tool, Command: opts.Command, StartedAt: began}
	mark := began
	lap := func() int64 {
		now := time.Now()
		d := now.Sub(mark)
		mark = now
		return d.Milliseconds()
	}

	if opts.ContinueAfter == "" {
		opts.ContinueAfter = DefaultContinueAfter(false, opts.HTTPProbe || len(opts.ExecProbes) > 0 || len(opts.Execs) > 0)
	}
	mode, wait, err := ParseContinueAfter(opts.ContinueAfter)
	if err != nil {
		return nil, err
	}
	if err := tracer.CheckHost(); err != nil {
		return nil, err
	}
	rt, err := target.Connect(ctx, opts.Target)
	if err != nil {
		return nil, err
	}
	defer rt.Close()

	step("resolving %s", opts.Image)
	img, err := rt.Resolve(ctx, opts.Image)
	if err != nil {
		return nil, err
	}
	rep.Image = imageReport(img)
	rep.Timings.ResolveMS = lap()

	step("creating the container")
	t, err := rt.Create(ctx, img, opts.Run)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := t.Close(context.WithoutCancel(ctx)); cerr != nil {
			log.Warn().Err(cerr).Msg("removing the container")
			if err == nil {
				err = cerr
			}
		}
	}()
	rep.Run = runReport(t, opts)
	g, err := cgroup.Open(t.CgroupPath)
	if err != nil {
		return nil, err
	}
	tr, err := tracer.Open(tracer.Options{Cgroup: g, Command: t.Args, RingBufferSize: opts.RingBufferSize,
		Logger: *log})
	if err != nil {
		return nil, err
	}
	defer tr.Close() // on error paths; the normal path closes it below
	rep.Timings.CreateMS = lap()

	step("starting %s (traced, %s programs)", strings.Join(t.Args, " "), tr.ProgramType())
	if err := t.Start(ctx); err != nil {
		return nil, err
	}
	rep.Timings.StartMS = lap()

	res := &Result{AppLineage: uint32(t.Pid), Image: img}
	exitc := t.Wait()
	var exit *target.ExitStatus
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

	// Probes.
	if err := runProbes(ctx, opts, t, rep, res, step); err != nil {
		var nr *probe.NotReadyError
		if errors.As(err, &nr) {
			if !exited() {
				select {
				case st := <-exitc:
					exit = &st
				case <-time.After(100 * time.Millisecond):
				}
			}
			return nil, &NotReadyError{Err: err, Exit: exit, Logs: logLines(t)}
		}
		return nil, err
	}
	rep.Timings.ProbeMS = lap()

	// Wait as --continue-after says, or until the target exits.
	if err := waitContinue(ctx, mode, wait, opts.Stdin, exitc, &exit, step); err != nil {
		return nil, err
	}
	rep.Timings.WaitMS = lap()

	if exit != nil || exited() {
		rep.Exit = &report.Exit{Code: exit.Code, Reason: "exited by itself"}
	} else {
		step("stopping the container")
		st, err := t.Stop(ctx, opts.StopTimeout)
		if err != nil {
			return nil, err
		}
		rep.Exit = &report.Exit{Code: st.Code, Reason: "stopped by slimtrace"}
	}
	rep.Timings.StopMS = lap()
	rep.Logs = logLines(t)

	tracked, err := tr.Close()
	if err != nil {
		return nil, fmt.Errorf("collecting the trace: %w", err)
	}
	res.Trace = tracked
	rep.Timings.CollectMS = lap()

	// What the files are in the image.
	view, err := rt.View(ctx, img)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := view.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	}()
	root, err := os.OpenRoot(view.Dir)
	if err != nil {
		return nil, fmt.Errorf("opening the image view: %w", err)
	}
	defer root.Close()
	fillTrace(rep, tracked, res, root.FS())
	res.Report = rep
	if opts.inspect != nil {
		if err := opts.inspect(ctx, inspectEnv{fs: root.FS(), rt: rt, res: res}); err != nil {
			return nil, err
		}
	}
	rep.Timings.TotalMS = time.Since(began).Milliseconds()
	return res, nil
}

func logLines(t *target.Target) []string {
	var out []string
	for _, l := range t.Logs() {
		out = append(out, l.String())
	}
	return out
}

// waitContinue blocks as mode says, or until the target exits.
func waitContinue(ctx context.Context, mode string, d time.Duration, stdin io.Reader,
	exitc <-chan target.ExitStatus, exit **target.ExitStatus, step func(string, ...any)) error {
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

func runProbes(ctx context.Context, opts Options, t *target.Target, rep *report.Container, res *Result,
	step func(string, ...any)) error {
	var ports []int
	for _, p := range t.Ports {
		if p.Protocol == "tcp" {
			ports = append(ports, int(p.Number))
		}
	}
	if opts.HTTPProbe {
		po := opts.Probe
		po.DialContext, po.Host, po.Ports = t.DialContext, t.IP, ports
		if len(ports) == 0 && len(po.OnlyPorts) == 0 && !cmdsHavePorts(po.Cmds) {
			step("no exposed ports: no HTTP probes")
		} else {
			step("probing over HTTP")
			r, err := probe.Run(ctx, po)
			if r != nil {
				for _, q := range r.Requests {
					rep.Probe.HTTP = append(rep.Probe.HTTP, report.HTTPProbe{
						Port: q.Port, Proto: q.Proto, Method: q.Method, Resource: q.Resource, Source: string(q.Source),
						Status: q.Status, Size: q.Size, LatencyMS: q.Latency.Milliseconds(), SHA256: q.SHA256,
						Error: q.Error, Body: q.Body,
					})
				}
				rep.Probe.Passed += r.Passed
				rep.Probe.Failed += r.Failed
			}
			if err != nil && !errors.Is(err, probe.ErrNoPorts) {
				return err
			}
		}
	}

	for _, args := range opts.Execs {
		step("running %s inside the container", strings.Join(args, " "))
		ep, lineage, err := execInside(ctx, t, args)
		if err != nil {
			return err
		}
		rep.Probe.Exec = append(rep.Probe.Exec, ep)
		res.ExecLineages = append(res.ExecLineages, lineage)
		count(rep, ep)
	}
	if hc := t.Image.Config.Healthcheck; hc != nil && hc.Command() != nil && !opts.SkipHealthcheck {
		step("running the image's HEALTHCHECK")
		ep, lineage, err := execInside(ctx, t, hc.Command())
		if err != nil {
			return err
		}
		rep.Probe.Healthcheck = &ep
		res.HealthLineage = lineage
		count(rep, ep)
	}
	for _, cmd := range opts.ExecProbes {
		step("running exec probe %q", cmd)
		r, err := probe.RunExec(ctx, probe.ExecOptions{Command: cmd, Host: t.IP, Ports: ports, NetNS: t.NetNSPath})
		if r == nil {
			return err
		}
		ep := report.ExecProbe{Where: "host", Command: []string{"sh", "-c", cmd}, ExitCode: r.ExitCode,
			DurationMS: r.Duration.Milliseconds(), Output: r.Output, Error: r.Error}
		rep.Probe.Exec = append(rep.Probe.Exec, ep)
		count(rep, ep)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func cmdsHavePorts(cmds []probe.Cmd) bool {
	return slices.ContainsFunc(cmds, func(c probe.Cmd) bool { return c.Port != 0 })
}

func count(rep *report.Container, ep report.ExecProbe) {
	if ep.ExitCode == 0 && ep.Error == "" {
		rep.Probe.Passed++
	} else {
		rep.Probe.Failed++
	}
}

// execInside runs args in the target; its processes get their own lineage
// (the exec'd process's pid), which keeps their files apart from the app's.
func execInside(ctx context.Context, t *target.Target, args []string) (report.ExecProbe, uint32, error) {
	var out lastLines
	start := time.Now()
	pid, st, err := t.Exec(ctx, target.ExecConfig{Args: args, Stdout: &out, Stderr: &out})
	ep := report.ExecProbe{Where: "container", Command: args, Pid: pid, ExitCode: st.Code,
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

func imageReport(img *target.Image) report.Image {
	c := img.Config
	ic := report.ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir,
		User: c.User, Volumes: c.Volumes, Labels: c.Labels, StopSignal: c.StopSignal}
	for _, p := range c.ExposedPorts {
		ic.ExposedPorts = append(ic.ExposedPorts, p.String())
	}
	if c.Healthcheck != nil {
		ic.Healthcheck = c.Healthcheck.Test
	}
	return report.Image{Name: img.Name, ID: img.ID, Digest: img.Digest, Size: img.Size, Platform: img.Platform,
		Config: ic}
}

func runReport(t *target.Target, opts Options) report.Run {
	r := report.Run{ContainerID: t.ID, Args: t.Args, Env: t.Env, Workdir: t.Workdir, User: t.User,
		Hostname: t.Hostname, Network: opts.Run.Network, ContinueAfter: opts.ContinueAfter}
	if r.Network == "" {
		r.Network = target.NetworkPrivate
	}
	for _, p := range t.Ports {
		r.Ports = append(r.Ports, p.String())
	}
	for _, m := range opts.Run.Mounts {
		r.Mounts = append(r.Mounts, m)
	}
	return r
}
