package tracer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// RunOptions configure Run.
type RunOptions struct {
	Options // Cgroup is ignored: Run makes its own
	Args    []string
	Dir     string
	Env     []string // nil: the caller's environment
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// SysProcAttr fields to add (Chroot, Credential, Cloneflags...);
	// CgroupFD and UseCgroupFD are set by Run.
	SysProcAttr *syscall.SysProcAttr
}

// Result is what Run returns: the trace and how the command ended.
type Result struct {
	Report   *trace.Report
	ExitCode int // -1 when killed by a signal
}

// Run starts Args in a new cgroup with tracing attached before the command's
// first instruction (the child is cloned straight into the cgroup), waits
// for it to exit, and returns the trace. Cancelling ctx kills the command.
// The cgroup, and anything left running in it, is removed before Run
// returns.
func Run(ctx context.Context, opts RunOptions) (_ *Result, err error) {
	if len(opts.Args) == 0 {
		return nil, errors.New("no command to run")
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	path, err := exec.LookPath(opts.Args[0])
	if err != nil {
		return nil, fmt.Errorf("command %q: %w", opts.Args[0], err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	g, err := cgroup.Create("slimtrace-" + hex.EncodeToString(suffix[:]))
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := g.Remove(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	dir, err := g.OpenFD()
	if err != nil {
		return nil, err
	}
	defer dir.Close()

	opts.Options.Cgroup = g
	if opts.Options.Command == nil {
		opts.Options.Command = opts.Args
	}
	t, err := Open(opts.Options)
	if err != nil {
		return nil, err
	}
	defer t.Close()

	cmd := exec.CommandContext(ctx, path, opts.Args[1:]...)
	cmd.Args[0] = opts.Args[0]
	cmd.Dir, cmd.Env = opts.Dir, opts.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
	attr := &syscall.SysProcAttr{}
	if opts.SysProcAttr != nil {
		*attr = *opts.SysProcAttr
	}
	attr.UseCgroupFD, attr.CgroupFD = true, int(dir.Fd())
	cmd.SysProcAttr = attr
	runErr := cmd.Run()
	code := 0
	if runErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(runErr, &exitErr) {
			return nil, fmt.Errorf("running %s: %w", opts.Args[0], runErr)
		}
		code = exitErr.ExitCode()
	}
	// Whatever the command left behind in its cgroup is stopped before the
	// trace ends, so its events are in.
	_ = g.Remove()
	report, err := t.Close()
	if err != nil {
		return nil, err
	}
	return &Result{Report: report, ExitCode: code}, nil
}
