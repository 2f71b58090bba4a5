package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

type traceCmd struct {
	Cgroup         string        `help:"Attach to this existing cgroup v2 (a host path, or a path relative to the cgroup v2 root as /proc/PID/cgroup shows it) instead of running a command. Tracing stops on SIGINT/SIGTERM or after --duration." placeholder:"PATH" xor:"target"`
	Duration       time.Duration `help:"With --cgroup: stop after this long (e.g. 30s). 0: until interrupted." default:"0"`
	Output         string        `help:"Also write the report as JSON to this file (its fields are documented in the README)." short:"o" type:"path" placeholder:"FILE"`
	Quiet          bool          `help:"Do not print the readable report on stdout." short:"q"`
	RingSize       int           `help:"Ring buffer size in MiB (a power of two); mapped twice, it counts twice in the resident size." default:"16"`
	MaxFiles       int           `name:"trace-max-files" help:"Most distinct paths listed (about 550 bytes of memory each); past it, paths are counted, not listed, and the trace is incomplete. 0: no cap." default:"1000000"`
	MaxExecs       int           `name:"trace-max-execs" help:"Most distinct command lines listed (identical ones fold); past it, they are counted. 0: no cap." default:"100000"`
	ShowSecretArgs bool          `help:"Show the values of secret-looking command-line flags (--password=…, --token …, *KEY*, *SECRET*…) in the execs; by default they read <redacted>, on stdout and in --output."`

	Command []string `arg:"" optional:"" passthrough:"partial" help:"The command to run and trace, after --." placeholder:"CMD [ARGS]"`
}

func (c *traceCmd) Help() string {
	return `Examples:
  slimtrace trace -- cat /etc/hostname
  slimtrace trace --output trace.json -- python3 app.py
  slimtrace trace --cgroup /sys/fs/cgroup/system.slice/nginx.service --duration 30s

The command runs in a fresh cgroup, traced from its first instruction; its
exit status becomes slimtrace's. The report lists files by directory with how
they were used, the execs, the syscalls with counts, and what was lost.`
}

func (c *traceCmd) Run(ctx context.Context) error {
	log := zerolog.Ctx(ctx)
	if len(c.Command) > 0 && c.Command[0] == "--" {
		c.Command = c.Command[1:]
	}
	if (c.Cgroup == "") == (len(c.Command) == 0) {
		return errors.New("give either a command (slimtrace trace -- CMD ARGS) or --cgroup PATH")
	}
	if c.RingSize <= 0 || c.RingSize&(c.RingSize-1) != 0 {
		return fmt.Errorf("--ring-size %d is not a power of two", c.RingSize)
	}
	if c.MaxFiles < 0 || c.MaxExecs < 0 {
		return fmt.Errorf("--trace-max-files and --trace-max-execs: want a count, or 0 for no cap")
	}
	opts := tracer.Options{RingBufferSize: c.RingSize << 20, Logger: *log,
		Limits: trace.Limits{Files: capFlag(c.MaxFiles), Execs: capFlag(c.MaxExecs)}}

	var report *trace.Report
	exitCode := 0
	if len(c.Command) > 0 {
		res, err := tracer.Run(ctx, tracer.RunOptions{Options: opts, Args: c.Command,
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		report, exitCode = res.Report, res.ExitCode
	} else {
		g, err := cgroup.Open(c.Cgroup)
		if err != nil {
			return err
		}
		opts.Cgroup = g
		t, err := tracer.Open(opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "slimtrace: tracing %s (cgroup id %d); stop with Ctrl-C\n", g.Path, g.ID)
		wait := ctx.Done()
		if c.Duration > 0 {
			timer := time.NewTimer(c.Duration)
			defer timer.Stop()
			select {
			case <-wait:
			case <-timer.C:
			}
		} else {
			<-wait
		}
		report, err = t.Close()
		if err != nil {
			return err
		}
	}

	if !c.ShowSecretArgs {
		report.Target.Command = creport.RedactArgs(report.Target.Command)
		for i := range report.Execs {
			report.Execs[i].Argv = creport.RedactArgs(report.Execs[i].Argv)
		}
	}
	if c.Output != "" {
		if err := writeJSON(c.Output, report); err != nil {
			return err
		}
	}
	if !c.Quiet {
		if err := trace.WriteText(escapeWriter{os.Stdout}, report); err != nil {
			return err
		}
	}
	if !report.Complete() {
		fmt.Fprintf(os.Stderr, "\nslimtrace: WARNING: THE TRACE IS INCOMPLETE: %d events lost (ring buffer full), %d program runs skipped, %d paths truncated, %d paths unreadable, %d paths or execs past --trace-max-files/--trace-max-execs. Retry with a larger --ring-size or caps.\n",
			report.Lost.Events, report.Lost.Skipped, report.Lost.Truncated, report.Lost.Unreadable, report.Lost.Unlisted)
	}
	if exitCode != 0 {
		return exitError{code: max(exitCode, 1)}
	}
	return nil
}

// writeJSON writes the report to path, indented, one list element at a
// time.
func writeJSON(path string, r *trace.Report) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
