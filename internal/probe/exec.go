package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/creport"
)

// Environment variables set for an exec probe. All are always set, empty
// when unknown, so that values inherited from the caller cannot leak in.
const (
	EnvTargetHost  = "SLIMTRACE_TARGET_HOST"  // the target's address, e.g. 127.0.0.1
	EnvTargetPorts = "SLIMTRACE_TARGET_PORTS" // its ports, comma-separated: 8080,8443
	EnvTargetPort  = "SLIMTRACE_TARGET_PORT"  // the first of them
	EnvNetNS       = "SLIMTRACE_NETNS"        // its network namespace, for nsenter --net=
)

const (
	// DefaultExecKeepLines is how many output lines ExecResult keeps.
	DefaultExecKeepLines = 50
	// maxLineBytes splits longer output lines.
	maxLineBytes = 4096
	// execWaitDelay bounds how long output pipes held open by a command's
	// leftover children can delay its end.
	execWaitDelay = time.Second
)

// ExecOptions configure RunExec.
type ExecOptions struct {
	// Command is a shell line, run on the host by sh -c.
	Command string
	// Host and Ports locate the target; see the Env* variables.
	Host  string
	Ports []int
	// NetNS is the path of the target's network namespace, e.g.
	// /proc/PID/ns/net, so that the command can nsenter --net= into it.
	NetNS string
	// Env holds extra KEY=VALUE variables; the caller's environment is
	// inherited.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// KeepLines is how many of the last output lines are kept. Default 50.
	KeepLines int
	// Logger receives the output lines (debug) and the outcome. Nil uses
	// zerolog.Ctx(ctx).
	Logger *zerolog.Logger
}

// ExecResult records an exec probe.
type ExecResult struct {
	Command  string        `json:"command"`
	ExitCode int           `json:"exit_code"`        // -1 when it did not exit by itself
	Signal   string        `json:"signal,omitempty"` // what killed it, if anything did
	Duration time.Duration `json:"duration"`
	Output   []string      `json:"output,omitempty"` // the last lines of stdout and stderr, interleaved
	Error    string        `json:"error,omitempty"`
}

// RunExec runs an exec probe: opts.Command under sh -c, on the host, with
// the target's address in its environment, until it ends or ctx is done
// (then its whole process group is killed at once). The result is non-nil
// once the command started; the error says why it did not succeed (it did
// not start, it exited non-zero, or ctx ended it) and is also in
// ExecResult.Error.
func RunExec(ctx context.Context, opts ExecOptions) (*ExecResult, error) {
	if strings.TrimSpace(opts.Command) == "" {
		return nil, errors.New("no exec probe command")
	}
	log := opts.Logger
	if log == nil {
		log = zerolog.Ctx(ctx)
	}
	keep := opts.KeepLines
	if keep <= 0 {
		keep = DefaultExecKeepLines
	}
	out := &tail{keep: keep, log: log}

	cmd := exec.CommandContext(ctx, "sh", "-c", opts.Command)
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Env = append(cmd.Env, targetEnv(opts)...)
	cmd.Dir = opts.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that cancelling kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = execWaitDelay

	log.Info().Str("command", creport.RedactText(opts.Command)).Msg("running exec probe")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting exec probe %q: %w", opts.Command, err)
	}
	err := cmd.Wait()
	res := &ExecResult{
		Command:  opts.Command,
		ExitCode: cmd.ProcessState.ExitCode(),
		Duration: time.Since(start),
	}
	out.flush()
	res.Output = out.lines
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal().String()
	}
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("exec probe %q stopped: %w", opts.Command, context.Cause(ctx))
	case errors.Is(err, exec.ErrWaitDelay) && res.ExitCode == 0:
		// It succeeded; a child it left behind kept the output open.
		log.Warn().Str("command", creport.RedactText(opts.Command)).Msg("exec probe left processes holding its output")
		err = nil
	case err != nil:
		err = fmt.Errorf("exec probe %q failed: %w", opts.Command, err)
	}
	if err != nil {
		res.Error = err.Error()
		log.Warn().Str("command", creport.RedactText(opts.Command)).Int("exit_code", res.ExitCode).Err(err).Msg("exec probe failed")
		return res, err
	}
	log.Info().Str("command", creport.RedactText(opts.Command)).Dur("duration", res.Duration).Msg("exec probe done")
	return res, nil
}

// targetEnv is the environment telling a command where the target is.
func targetEnv(o ExecOptions) []string {
	ports := make([]string, len(o.Ports))
	for i, p := range o.Ports {
		ports[i] = strconv.Itoa(p)
	}
	first := ""
	if len(ports) > 0 {
		first = ports[0]
	}
	return []string{
		EnvTargetHost + "=" + o.Host,
		EnvTargetPorts + "=" + strings.Join(ports, ","),
		EnvTargetPort + "=" + first,
		EnvNetNS + "=" + o.NetNS,
	}
}

// tail splits output into lines, logs them and keeps the last keep. exec
// calls Write from one goroutine at a time when Stdout and Stderr are the
// same writer.
type tail struct {
	keep    int
	log     *zerolog.Logger
	partial []byte
	lines   []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 && len(t.partial) < maxLineBytes {
			return len(p), nil
		}
		if i < 0 || i > maxLineBytes {
			i = maxLineBytes
		}
		t.add(string(t.partial[:i]))
		if i < len(t.partial) && t.partial[i] == '\n' {
			i++
		}
		t.partial = t.partial[i:]
	}
}

// flush keeps a last line that did not end in a newline.
func (t *tail) flush() {
	if len(t.partial) > 0 {
		t.add(string(t.partial))
		t.partial = nil
	}
}

func (t *tail) add(line string) {
	line = strings.TrimSuffix(line, "\r")
	t.log.Debug().Str("line", line).Msg("exec probe output")
	if len(t.lines) == t.keep {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, line)
}
