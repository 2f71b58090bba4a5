// Command slimtrace makes container images small and secure without changing
// them: it traces a container from the host with eBPF, keeps only the files
// the application used, and writes seccomp and AppArmor profiles that fit it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are the flags every command takes.
type Globals struct {
	Debug     bool   `help:"Log debug messages (same as --log-level=debug)."`
	Verbose   bool   `help:"Log info messages (same as --log-level=info)."`
	LogLevel  string `help:"Log level: debug, info, warn, error." enum:"debug,info,warn,error" default:"warn"`
	LogFormat string `help:"Log format: text (console) or json. Default: text on a terminal, json otherwise." enum:"text,json," default:""`
	Log       string `help:"Write logs to this file instead of stderr." type:"path" placeholder:"FILE"`
	StatePath string `help:"Where slimtrace keeps state and artifacts." default:"/var/lib/slimtrace" type:"path" env:"SLIMTRACE_STATE_PATH"`
	// Docker Engine, where images are looked for after containerd and where
	// the slim image of a Docker image goes: the predecessor's connection
	// flags and Docker's variables.
	Host        string `help:"Docker Engine: unix:///PATH or tcp://HOST:PORT. Default: $DOCKER_HOST, the current Docker context ($DOCKER_CONTEXT), else unix:///var/run/docker.sock. A remote Docker is a source and target of images only: the app always runs here, under containerd." env:"DOCKER_HOST" placeholder:"URL" group:"Docker"`
	TLS         bool   `help:"Connect to Docker over TLS." group:"Docker"`
	TLSVerify   bool   `help:"Connect to Docker over TLS and check its certificate against --tls-cert-path's ca.pem (--tls-verify=false to not check)." env:"DOCKER_TLS_VERIFY" group:"Docker"`
	TLSCertPath string `help:"Directory with Docker's TLS ca.pem, cert.pem and key.pem. Default: $DOCKER_CERT_PATH, else ~/.docker." env:"DOCKER_CERT_PATH" type:"path" placeholder:"DIR" group:"Docker"`
	// ShowVersion is the predecessor's global --version; the version
	// command says more (kernel, eBPF features).
	ShowVersion kong.VersionFlag `name:"version" help:"Print the version and exit (the version command also checks the kernel's eBPF features)."`
}

type cli struct {
	Globals

	Info    infoCmd    `cmd:"" help:"Print an image's metadata (layers, config, history) and write its reverse-engineered Dockerfile.fat, without running it."`
	Build   buildCmd   `cmd:"" help:"Profile an image, then build a slim image of only the files the application used (BuildKit)."`
	Profile profileCmd `cmd:"" help:"Run an image traced, probe it, and write its container report and seccomp and AppArmor profiles."`
	Record  recordCmd  `cmd:"" help:"Record the Kubernetes pods matching a selector on this node (a rollout from its start): one merged profile per owner and container."`
	Trace   traceCmd   `cmd:"" help:"Trace a command or a running cgroup and report the files, execs and syscalls it used."`
	Verify  verifyCmd  `cmd:"" help:"Run a fat and a slim image with the same probes and compare their answers."`
	Version versionCmd `cmd:"" help:"Show the version, the kernel, and which eBPF features work here."`
	Prune   pruneCmd   `cmd:"" help:"Remove what slimtrace runs that were killed left behind (containers, mounts, snapshots, leases, directories)."`
}

// exitError carries an exit code out of a command, with a message to print
// when there is one.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func main() {
	var c cli
	kctx := kong.Parse(&c,
		kong.Name("slimtrace"),
		kong.Description("Make container images small and secure without changing them: trace them from the host with eBPF."),
		kong.UsageOnError(),
		kong.Vars{"version": "slimtrace " + version},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	logger, closeLog, err := newLogger(c.Globals)
	if err != nil {
		fmt.Fprintln(os.Stderr, "slimtrace:", err)
		os.Exit(2)
	}
	defer closeLog()

	// The first SIGINT/SIGTERM cancels the context so the command cleans up;
	// a second one is not intercepted.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	ctx = logger.WithContext(ctx)

	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(&c.Globals)
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "slimtrace:", escapeControl(ee.msg))
			}
			closeLog()
			os.Exit(ee.code)
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "slimtrace: interrupted")
			closeLog()
			os.Exit(130)
		}
		fmt.Fprintln(os.Stderr, "slimtrace:", escapeControl(err.Error()))
		closeLog()
		os.Exit(1)
	}
}

func newLogger(g Globals) (zerolog.Logger, func(), error) {
	var out io.Writer = os.Stderr
	closeFn := func() {}
	if g.Log != "" {
		f, err := os.OpenFile(g.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return zerolog.Nop(), closeFn, fmt.Errorf("opening the log file: %w", err)
		}
		out = f
		closeFn = func() { _ = f.Close() }
	}
	format := g.LogFormat
	if format == "" {
		format = "json"
		if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		// Values from the image (paths, output lines) may hold control
		// bytes; JSON escapes them, the console must too.
		esc := func(i any) string { return escapeControl(fmt.Sprint(i)) }
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05", FormatMessage: func(i any) string {
			if i == nil {
				return ""
			}
			return esc(i)
		}, FormatFieldValue: esc, FormatErrFieldValue: esc}
	}
	level, _ := zerolog.ParseLevel(g.LogLevel)
	if g.Verbose {
		level = min(level, zerolog.InfoLevel)
	}
	if g.Debug {
		level = zerolog.DebugLevel
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger(), closeFn, nil
}
