package session

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/image"
)

// A SideService is a container the target needs (a database, a cache): it
// runs untraced in the target's network namespace, as the containers of a
// pod do, so the target reaches it on localhost and by its name (127.0.0.1
// in the target's /etc/hosts). Its files and syscalls are never part of
// the trace, the slim image or the profiles.
type SideService struct {
	// Name is its host name for the target; default the image's short
	// name.
	Name string
	// Image is any source Resolve takes.
	Image string
	// Run overrides its image's command, environment, mounts, user;
	// Network is set by the run.
	Run container.RunConfig
	// Wait says when it is ready; the target starts after every side
	// service is.
	Wait Wait
}

// Readiness checks of a Wait.
const (
	WaitDefault = ""        // health with a HEALTHCHECK, else port with an exposed port, else started
	WaitStarted = "started" // as soon as it runs
	WaitPort    = "port"    // Port accepts TCP connections
	WaitLog     = "log"     // a line of its output matches Log
	WaitHealth  = "health"  // its HEALTHCHECK (or Health) passes
	WaitExit0   = "exit0"   // it exited with status 0 (compose's service_completed_successfully)
)

// DefaultWaitTimeout bounds how long a side service may take to be ready.
const DefaultWaitTimeout = 2 * time.Minute

// Wait is when a side service counts as ready.
type Wait struct {
	Kind string
	Port int
	Log  *regexp.Regexp
	// Health replaces the image's HEALTHCHECK (a compose file's).
	Health *dockerspec.HealthcheckConfig
	// Timeout; default DefaultWaitTimeout.
	Timeout time.Duration
}

func (w Wait) String() string {
	switch w.Kind {
	case WaitPort:
		return "port " + strconv.Itoa(w.Port)
	case WaitLog:
		return "a log line matching " + strconv.Quote(w.Log.String())
	case WaitHealth:
		return "its healthcheck"
	case WaitExit0:
		return "it to exit with status 0"
	}
	return "it to start"
}

// ParseSidecar parses --sidecar IMAGE[,name=N][,env=K=V...][,wait=port:N|log:REGEX|health|started].
// A part that names no known key continues the one before it, so an env
// value or a regular expression may hold commas.
func ParseSidecar(s string) (SideService, error) {
	parts := strings.Split(s, ",")
	sc := SideService{Image: strings.TrimSpace(parts[0])}
	if sc.Image == "" {
		return SideService{}, fmt.Errorf("--sidecar %q: no image", s)
	}
	var fields []string
	for _, p := range parts[1:] {
		k, _, _ := strings.Cut(p, "=")
		if k == "name" || k == "env" || k == "wait" || len(fields) == 0 {
			fields = append(fields, p)
		} else {
			fields[len(fields)-1] += "," + p
		}
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return SideService{}, fmt.Errorf("--sidecar %q: %q is not KEY=VALUE (keys: name, env, wait)", s, f)
		case k == "name":
			if v == "" || strings.ContainsAny(v, " \t/:") {
				return SideService{}, fmt.Errorf("--sidecar %q: name %q is not a host name", s, v)
			}
			sc.Name = v
		case k == "env":
			if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
				return SideService{}, fmt.Errorf("--sidecar %q: env %q: want KEY=VALUE", s, v)
			}
			sc.Run.Env = append(sc.Run.Env, v)
		case k == "wait":
			w, err := parseWait(v)
			if err != nil {
				return SideService{}, fmt.Errorf("--sidecar %q: %w", s, err)
			}
			sc.Wait = w
		default:
			return SideService{}, fmt.Errorf("--sidecar %q: unknown key %q (keys: name, env, wait)", s, k)
		}
	}
	return sc, nil
}

func parseWait(v string) (Wait, error) {
	kind, arg, _ := strings.Cut(v, ":")
	switch kind {
	case WaitHealth, WaitStarted:
		if arg != "" {
			return Wait{}, fmt.Errorf("wait=%s takes no argument", kind)
		}
		return Wait{Kind: kind}, nil
	case WaitPort:
		n, err := strconv.Atoi(arg)
		if err != nil || n <= 0 || n > 65535 {
			return Wait{}, fmt.Errorf("wait=port:%s: want a port number", arg)
		}
		return Wait{Kind: WaitPort, Port: n}, nil
	case WaitLog:
		re, err := regexp.Compile(arg)
		if err != nil || arg == "" {
			return Wait{}, fmt.Errorf("wait=log:%s: want a regular expression: %v", arg, err)
		}
		return Wait{Kind: WaitLog, Log: re}, nil
	}
	return Wait{}, fmt.Errorf("wait=%s: want port:N, log:REGEX, health or started", v)
}

// pod is the side services of a run, started and ready.
type pod struct {
	sides []*container.Container
	netns string
	hosts []string // NAME:127.0.0.1 for the target's /etc/hosts
	names []string // NAME=IMAGE, for the report
}

// startSides resolves and starts the side services in order, each after
// the one before is ready, in one network namespace: netns when it is set
// (a linked container's), else the first's. On an error what was started
// is removed.
func startSides(ctx context.Context, store *image.Store, rt *container.Runtime, sides []SideService, netns string,
	step func(string, ...any)) (_ *pod, err error) {
	p := &pod{netns: netns}
	defer func() {
		if err != nil {
			p.close(context.WithoutCancel(ctx))
		}
	}()
	for _, sd := range sides {
		img, err := store.Resolve(ctx, sd.Image)
		if err != nil {
			return nil, fmt.Errorf("side service %s: %w", sd.Image, err)
		}
		name := sd.Name
		if name == "" {
			name = ArtifactName(img.Name)
		}
		cfg := sd.Run
		cfg.Network, cfg.NetNS = container.NetworkPrivate, ""
		if p.netns != "" {
			cfg.Network, cfg.NetNS = container.NetworkJoin, p.netns
		}
		if cfg.Hostname == "" {
			cfg.Hostname = name
		}
		cfg.EtcHostsMap = append(cfg.EtcHostsMap, p.hosts...)
		if cfg.LogWriter != nil {
			cfg.LogPrefix = "side " + name + ": "
		}
		step("starting side service %s (%s, untraced)", name, img.Name)
		c, err := rt.Create(ctx, img, cfg)
		if err != nil {
			return nil, fmt.Errorf("side service %s: %w", name, err)
		}
		p.sides = append(p.sides, c)
		if p.netns == "" {
			p.netns = c.NetNSPath
		}
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("side service %s: %w", name, err)
		}
		w := sd.Wait
		if w.Kind == WaitDefault {
			w = defaultWait(img, c)
		}
		step("waiting for side service %s: %s", name, w)
		if err := waitReady(ctx, c, img, w); err != nil {
			return nil, &NotReadyError{Err: fmt.Errorf("side service %s (%s) is not ready: %w", name, img.Name, err),
				Exit: exitOf(c), Logs: logLines(c)}
		}
		p.hosts = append(p.hosts, name+":127.0.0.1")
		p.names = append(p.names, name+"="+img.Name)
	}
	return p, nil
}

// close removes the side services, last first.
func (p *pod) close(ctx context.Context) error {
	var errs []error
	for i := len(p.sides) - 1; i >= 0; i-- {
		if err := p.sides[i].Close(ctx); err != nil {
			errs = append(errs, err)
			zerolog.Ctx(ctx).Warn().Err(err).Str("run", p.sides[i].ID).Msg("removing a side service")
		}
	}
	p.sides = nil
	return errors.Join(errs...)
}

func defaultWait(img *image.Image, c *container.Container) Wait {
	if container.HealthcheckArgs(img.Config.Config.Healthcheck) != nil {
		return Wait{Kind: WaitHealth}
	}
	for _, p := range c.Ports {
		if p.Protocol == "tcp" {
			return Wait{Kind: WaitPort, Port: int(p.Number)}
		}
	}
	return Wait{Kind: WaitStarted}
}

func exitOf(c *container.Container) *container.ExitStatus {
	select {
	case st := <-c.Wait():
		return &st
	default:
		return nil
	}
}

// waitReady blocks until c is ready as w says, it exits (unless that is
// what w waits for), ctx ends or w's timeout passes.
func waitReady(ctx context.Context, c *container.Container, img *image.Image, w Wait) error {
	if w.Kind == WaitStarted {
		return nil
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	// The checks themselves (a healthcheck exec, a dial) end with it too.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	health := w.Health
	if health == nil {
		health = img.Config.Config.Healthcheck
	}
	check := func() (bool, error) {
		switch w.Kind {
		case WaitPort:
			conn, err := c.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(w.Port))
			if err == nil {
				conn.Close()
			}
			return err == nil, nil
		case WaitLog:
			for _, l := range c.Logs() {
				if w.Log.MatchString(l.Text) {
					return true, nil
				}
			}
			return false, nil
		case WaitHealth:
			args := container.HealthcheckArgs(health)
			if args == nil {
				return false, errors.New("it has no healthcheck to wait for")
			}
			_, st, err := c.Exec(ctx, container.ExecConfig{Args: args})
			return err == nil && st.Code == 0, nil
		}
		return false, fmt.Errorf("unknown wait %q", w.Kind)
	}
	if w.Kind == WaitExit0 {
		select {
		case st := <-c.Wait():
			if st.Code != 0 {
				return fmt.Errorf("it exited with status %d", st.Code)
			}
			return nil
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("waited %s for %s", timeout, w)
			}
			return ctx.Err()
		}
	}
	switch err := poll(ctx, timeout, c.Exited(), check); {
	case errors.Is(err, errPollExited):
		return fmt.Errorf("it exited while slimtrace waited for %s", w)
	case errors.Is(err, errPollTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("waited %s for %s", timeout, w)
	default:
		return err
	}
}

// A Link names a running container the target reaches by Alias (--link
// NAME[:ALIAS]): container:ID (containerd, any namespace), pod:NS/NAME, or
// a Docker container's name or ID.
type Link struct {
	Ref, Alias string
}

// ParseLink parses --link NAME[:ALIAS]; ALIAS defaults to the container's
// ID or name (a pod's name).
func ParseLink(s string) (Link, error) {
	prefix := ""
	rest := s
	for _, p := range []string{"container:", "pod:"} {
		if r, ok := strings.CutPrefix(s, p); ok {
			prefix, rest = p, r
		}
	}
	name, alias, _ := strings.Cut(rest, ":")
	if name == "" {
		return Link{}, fmt.Errorf("--link %q: want NAME[:ALIAS], NAME a Docker container, container:ID or pod:NAMESPACE/NAME", s)
	}
	if alias == "" {
		alias = name
		if prefix == "pod:" {
			_, alias, _ = strings.Cut(name, "/")
		}
	}
	if alias == "" || strings.ContainsAny(alias, " \t/:") {
		return Link{}, fmt.Errorf("--link %q: alias %q is not a host name", s, alias)
	}
	return Link{Ref: prefix + name, Alias: alias}, nil
}

// NetworkContainer is the prefix of --network container:REF: the target
// joins that running container's network namespace (REF as --link's NAME).
const NetworkContainer = "container:"

// linkPeers finds the linked containers and says how the target reaches
// them: the network namespace it joins (a peer reachable only from inside
// its own, or --network container:REF) and the /etc/hosts entries.
func linkPeers(ctx context.Context, rt *container.Runtime, o Options) (netns string, hosts []string, err error) {
	same := func(a, b string) bool {
		var sa, sb unix.Stat_t
		return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
	}
	join := func(p *container.Peer) error {
		if netns != "" && !same(netns, p.NetNS) {
			return fmt.Errorf("%s is in another network namespace than the one the target already joins: the target can share one", p.Ref)
		}
		netns = p.NetNS
		return nil
	}
	if ref, ok := strings.CutPrefix(o.Run.Network, NetworkContainer); ok {
		p, err := rt.FindPeer(ctx, ref, o.Store.Docker)
		if err != nil {
			return "", nil, err
		}
		if err := join(p); err != nil {
			return "", nil, err
		}
	}
	for _, l := range o.Links {
		p, err := rt.FindPeer(ctx, l.Ref, o.Store.Docker)
		if err != nil {
			return "", nil, err
		}
		if o.Run.Network == container.NetworkHost {
			if len(p.IPs) == 0 {
				return "", nil, fmt.Errorf("--link %s: it has no address the host's network reaches; use --network private to share its network namespace", l.Ref)
			}
			hosts = append(hosts, l.Alias+":"+p.IPs[0])
			continue
		}
		// A private namespace has loopback only: the target reaches the
		// peer from inside the peer's own namespace.
		if err := join(p); err != nil {
			return "", nil, fmt.Errorf("--link %s: %w", l.Ref, err)
		}
		hosts = append(hosts, l.Alias+":127.0.0.1")
	}
	return netns, hosts, nil
}
