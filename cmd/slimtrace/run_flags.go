package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker/go-units"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/session"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// runFlags are the flags of the commands that run the image (profile,
// build), named as the predecessor's users know them.
type runFlags struct {
	Image string `arg:"" optional:"" help:"The image: a name (looked up in containerd, then Docker Engine; with --pull, in its registry), or docker://REF, docker-daemon:NAME, docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG]. Left out with --compose-file."`
	imageFlags
	composeFlags

	HTTPProbe              bool          `help:"Probe every exposed port with GET / (http, then https) and the --http-probe-cmd commands. --http-probe=false turns it off." default:"true" group:"Probes"`
	HTTPProbeCmd           []string      `help:"Extra probe command [proto:][method:]resource, e.g. /api/info, POST:/submit, http:POST:/submit (repeatable)." placeholder:"CMD" group:"Probes"`
	HTTPProbeCmdFile       string        `help:"JSON file of probe commands: {\"commands\":[{\"protocol\",\"method\",\"resource\",\"body\",\"body_file\",\"headers\",\"port\"}]}." type:"existingfile" placeholder:"FILE" group:"Probes"`
	HTTPProbeCrawl         bool          `help:"Follow same-origin links (a, link, script, img) of the HTML pages probed." group:"Probes"`
	HTTPProbeCrawlMaxDepth int           `help:"Link depth the crawl follows." default:"3" group:"Probes"`
	HTTPProbeCrawlMaxPages int           `help:"Pages the crawl fetches per port." default:"100" group:"Probes"`
	HTTPProbePorts         []int         `help:"Probe only these ports (comma-separated); they need not be exposed." sep:"," placeholder:"PORT,..." group:"Probes"`
	HTTPProbeRetryCount    int           `help:"Times to retry a request that cannot connect; a port that does not accept connections yet is given as long as these retries take, and dialed every 10-250 ms meanwhile." default:"5" group:"Probes"`
	HTTPProbeRetryWait     int           `help:"Seconds before the first retry; the wait doubles, up to 8 times this." default:"1" group:"Probes"`
	HTTPProbeStartWait     int           `help:"Seconds to wait before the first probe (the readiness wait usually makes it unneeded)." default:"0" group:"Probes"`
	ExecProbe              []string      `help:"Host command (a shell line) run against the target, e.g. your integration tests; SLIMTRACE_TARGET_HOST, SLIMTRACE_TARGET_PORT(S) and SLIMTRACE_NETNS tell it where the target is (repeatable)." placeholder:"CMD" group:"Probes"`
	Exec                   []string      `help:"Command run inside the target through containerd (no shell unless you write one); what it touches is kept apart from the app's files (repeatable)." placeholder:"CMD" group:"Probes"`
	ContinueAfter          string        `help:"When to stop the target and collect: enter, signal (SIGUSR1), probe, timeout (60 s), a number of seconds, or exit (when it exits by itself). Default: enter on a terminal; otherwise probe when probing, else exit." placeholder:"MODE" group:"Probes"`
	StopTimeout            time.Duration `help:"Time the target has to stop after its stop signal before it is killed. One that uses next to no CPU for 1 s after the signal ignores it and is killed then (creport.json: exit.killed)." default:"10s" group:"Probes"`

	Entrypoint         string   `help:"Override ENTRYPOINT while tracing (shell words or a JSON array)." group:"Container"`
	Cmd                string   `help:"Override CMD while tracing (shell words or a JSON array)." group:"Container"`
	Env                []string `help:"Set KEY=VALUE in the container (repeatable)." group:"Container"`
	Workdir            string   `help:"Override WORKDIR." group:"Container"`
	User               string   `help:"Run as this user: name, uid, name:group or uid:gid." group:"Container"`
	Mount              []string `help:"Bind mount HOST:CONTAINER[:ro] as docker -v (repeatable); its contents are never part of the results." group:"Container"`
	Expose             []string `help:"Extra port to expose and probe: PORT[/PROTO] or a range (repeatable)." group:"Container"`
	Hostname           string   `help:"Container hostname." group:"Container"`
	EtcHostsMap        []string `help:"Add HOST:IP to /etc/hosts (repeatable)." group:"Container"`
	ContainerDNS       []string `help:"DNS server for the container (repeatable)." group:"Container"`
	ContainerDNSSearch []string `help:"DNS search domain for the container (repeatable)." group:"Container"`
	Memory             string   `help:"Memory limit of the traced container, as docker's --memory (512m, 2g); 0 for none. Recorded in creport.json (run.memory_limit)." default:"4g" group:"Container"`
	PidsLimit          int64    `help:"Most processes and threads the traced container may have at once, as docker's --pids-limit; 0 for none. Recorded in creport.json (run.pids_limit)." default:"4096" group:"Container"`
	Network            string   `help:"private (a network namespace with only loopback; probes reach it from inside), host, or container:REF to join a running container's network namespace as docker's --network container:ID (REF as --link's NAME)." default:"private" group:"Container"`
	Link               []string `help:"Reach a running container as ALIAS: NAME[:ALIAS], NAME a Docker container's name or ID, container:ID (containerd, any namespace) or pod:NAMESPACE/NAME. The target joins its network namespace (ALIAS is 127.0.0.1), or with --network host uses its address (repeatable)." placeholder:"NAME[:ALIAS]" group:"Services"`
	Sidecar            []string `help:"Start a service the app needs first, untraced, in the app's network namespace (reached on localhost and by its name): IMAGE[,name=N][,env=K=V...][,wait=port:N|log:REGEX|health|started]; removed afterwards (repeatable)." placeholder:"IMAGE[,...]" sep:"none" group:"Services"`

	TraceMaxFiles       int    `help:"Most distinct paths the trace lists (about 550 bytes of memory each); past it, paths are counted, not listed, and the trace is incomplete. 0: no cap." default:"1000000" group:"Output"`
	TraceMaxExecs       int    `help:"Most distinct command lines the trace lists (identical ones fold); past it, they are counted. 0: no cap." default:"100000" group:"Output"`
	ReportEnvValues     bool   `help:"Keep in creport.json the values of environment variables whose names look secret (*TOKEN*, *SECRET*, *PASSWORD*, *PASSWD*, *KEY*, *CREDENTIAL*, *AUTH*); by default they read <redacted>. The slim image keeps its environment as it is either way." group:"Output"`
	FailOnUnexercised   bool   `help:"Exit with status 4 when the app serves (it had a port, exposed or listened on) but no request reached it: its trace and profiles are of start-up only." group:"Output"`
	ShowClogs           bool   `help:"Stream the container's stdout and stderr, prefixed." group:"Output"`
	CopyMetaArtifacts   string `help:"Also copy the artifacts (creport.json, profiles) to this directory." type:"path" placeholder:"DIR" group:"Output"`
	RemoveFileArtifacts bool   `help:"Remove the artifacts after printing the summary." group:"Output"`
}

// sessionOptions checks every flag and turns them into session options,
// before anything is started.
func (f *runFlags) sessionOptions(ctx context.Context, g *Globals, command string) (session.Options, error) {
	var errs []error
	memory, err := units.RAMInBytes(f.Memory)
	if err != nil || memory < 0 || memory > 0 && memory < 6<<20 {
		errs = append(errs, fmt.Errorf("--memory %q: want a size of at least 6m (as docker's: 512m, 2g), or 0 for no limit", f.Memory))
	}
	if f.PidsLimit < 0 {
		errs = append(errs, fmt.Errorf("--pids-limit %d: want a count, or 0 for no limit", f.PidsLimit))
	}
	if f.TraceMaxFiles < 0 || f.TraceMaxExecs < 0 {
		errs = append(errs, fmt.Errorf("--trace-max-files and --trace-max-execs: want a count, or 0 for no cap"))
	}
	var links []session.Link
	for _, l := range f.Link {
		link, err := session.ParseLink(l)
		errs = append(errs, err)
		links = append(links, link)
	}
	var sides []session.SideService
	for _, sc := range f.Sidecar {
		side, err := session.ParseSidecar(sc)
		errs = append(errs, err)
		sides = append(sides, side)
	}
	switch {
	case f.Network == container.NetworkPrivate, f.Network == container.NetworkHost:
	case strings.HasPrefix(f.Network, session.NetworkContainer) && len(f.Network) > len(session.NetworkContainer):
	default:
		errs = append(errs, fmt.Errorf("--network %q: want private, host or container:REF", f.Network))
	}
	var cmds []probe.Cmd
	for _, s := range f.HTTPProbeCmd {
		c, err := probe.ParseCmd(s)
		if err != nil {
			errs = append(errs, err)
		}
		cmds = append(cmds, c)
	}
	if f.HTTPProbeCmdFile != "" {
		fc, err := probe.ParseFile(f.HTTPProbeCmdFile)
		if err != nil {
			errs = append(errs, err)
		}
		cmds = append(cmds, fc...)
	}
	for _, m := range f.Mount {
		if _, err := container.ParseMount(m); err != nil {
			errs = append(errs, fmt.Errorf("--mount %q: %w", m, err))
		}
	}
	for _, p := range f.Expose {
		if _, err := container.ParsePort(p); err != nil {
			errs = append(errs, fmt.Errorf("--expose %q: %w", p, err))
		}
	}
	for _, h := range f.EtcHostsMap {
		if _, err := container.ParseHostEntry(h); err != nil {
			errs = append(errs, fmt.Errorf("--etc-hosts-map %q: %w", h, err))
		}
	}
	entrypoint, err := parseArgv("--entrypoint", f.Entrypoint)
	errs = append(errs, err)
	cmd, err := parseArgv("--cmd", f.Cmd)
	errs = append(errs, err)
	var execs [][]string
	for _, e := range f.Exec {
		argv, err := parseArgv("--exec", e)
		if err == nil && len(argv) == 0 {
			err = errors.New("--exec: empty command")
		}
		errs = append(errs, err)
		execs = append(execs, argv)
	}
	probing := f.HTTPProbe || len(f.ExecProbe) > 0 || len(f.Exec) > 0
	continueAfter := f.ContinueAfter
	if continueAfter == "" {
		continueAfter = session.DefaultContinueAfter(isatty.IsTerminal(os.Stdin.Fd()), probing)
	}
	if _, _, err := session.ParseContinueAfter(continueAfter); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return session.Options{}, err
	}
	var progress io.Writer = escapeWriter{os.Stderr}
	o := session.Options{
		Store: f.storeOptions(g),
		Image: f.Image,
		Run: container.RunConfig{Entrypoint: entrypoint, Cmd: cmd, Env: f.Env, Workdir: f.Workdir, User: f.User,
			Mounts: f.Mount, Expose: f.Expose, Hostname: f.Hostname, EtcHostsMap: f.EtcHostsMap, DNS: f.ContainerDNS,
			DNSSearch: f.ContainerDNSSearch, Network: f.Network, LogWriter: logWriter(f.ShowClogs),
			LogPrefix: "container: ", Memory: memory, PidsLimit: f.PidsLimit},
		HTTPProbe: f.HTTPProbe,
		Probe: probe.Options{OnlyPorts: f.HTTPProbePorts, Cmds: cmds, StartWait: seconds(f.HTTPProbeStartWait),
			RetryCount: f.HTTPProbeRetryCount, RetryWait: seconds(f.HTTPProbeRetryWait), Crawl: f.HTTPProbeCrawl,
			CrawlMaxDepth: f.HTTPProbeCrawlMaxDepth, CrawlMaxPages: f.HTTPProbeCrawlMaxPages},
		Links:           links,
		Sidecars:        sides,
		ExecProbes:      f.ExecProbe,
		Execs:           execs,
		ContinueAfter:   continueAfter,
		Stdin:           os.Stdin,
		StopTimeout:     f.StopTimeout,
		Progress:        progress,
		ReportEnvValues: f.ReportEnvValues,
		TraceLimits:     trace.Limits{Files: capFlag(f.TraceMaxFiles), Execs: capFlag(f.TraceMaxExecs)},
		Tool:            "slimtrace " + version,
		Command:         command,
	}
	if err := f.composeFlags.apply(ctx, f, &o); err != nil {
		return session.Options{}, err
	}
	if o.Image == "" {
		return session.Options{}, errors.New("name the image to run, or a --compose-file")
	}
	return o, nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func logWriter(show bool) io.Writer {
	if show {
		return escapeWriter{os.Stderr}
	}
	return nil
}

// parseArgv reads a command given as a JSON array (["a","b"]) or as shell
// words (a 'b c' "d"). Empty means not given.
func parseArgv(flag, s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			return nil, fmt.Errorf("%s %s: not a JSON array of strings: %w", flag, s, err)
		}
		return argv, nil
	}
	argv, err := shellWords(s)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, s, err)
	}
	return argv, nil
}

// shellWords splits s like a POSIX shell would split words: blanks
// separate, single quotes keep everything, double quotes keep all but \" \\
// \$ \`, a backslash escapes the next character. No expansions.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
