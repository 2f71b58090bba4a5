package compose

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Options say which Compose files to read and how, as docker compose's
// flags do.
type Options struct {
	// Files are the compose files, merged in order (-f a -f b); the first
	// is the main one. At least one is needed.
	Files []string
	// EnvFiles hold variables for interpolation (--env-file). When empty,
	// a .env in the working directory is read if there is one, as Compose
	// does.
	EnvFiles []string
	// ProjectName overrides the name (the compose file's name: key, else
	// the working directory's base name).
	ProjectName string
	// Profiles to enable; when empty, COMPOSE_PROFILES in Environ.
	Profiles []string
	// WorkingDir resolves relative paths (binds, env files, extends);
	// default: the first file's directory.
	WorkingDir string
	// Environ is the process environment (KEY=VALUE) used for
	// interpolation; it wins over EnvFiles.
	Environ []string
}

// Project is a loaded compose project.
type Project struct {
	Name string
	// Services are the enabled services, dependencies before their
	// dependents (ties in name order).
	Services []Service
	// disabled are services a profile not enabled keeps out.
	disabled []string
}

// Service is what slimtrace needs to run one compose service.
type Service struct {
	Name  string
	Image string
	// Entrypoint and Command override the image's when not nil; an empty,
	// non-nil slice clears it (entrypoint: []).
	Entrypoint, Command []string
	// Environment holds KEY=VALUE, sorted, env_file entries included;
	// variables listed without a value and not set anywhere are left out.
	Environment []string
	WorkingDir  string
	User        string
	Hostname    string
	// Ports are the container ports, PORT/PROTO (8080/tcp), from ports
	// (whose published, host side is not slimtrace's business) and
	// expose, in file order without repeats.
	Ports     []string
	Volumes   []Mount
	DependsOn []Dependency
	// Healthcheck is nil when the compose file sets none (the image's
	// applies); a disabled one (disable: true, test: NONE) is Test
	// ["NONE"], Docker's way of turning off the image's; one with
	// durations but no test keeps the image's test.
	Healthcheck *dockerspec.HealthcheckConfig
}

// Mount types.
const (
	Bind   = "bind"   // a host path
	Volume = "volume" // a named volume, or an anonymous one (no Source)
)

// Mount is a service volume.
type Mount struct {
	Type string // Bind or Volume
	// Source is the host path (absolute) of a bind, the name of a named
	// volume as the compose file writes it, empty for an anonymous volume.
	Source   string
	Target   string
	ReadOnly bool
}

// String gives the short syntax: HOST:CONTAINER[:ro], NAME:CONTAINER[:ro]
// or CONTAINER.
func (m Mount) String() string {
	s := m.Target
	if m.Source != "" {
		s = m.Source + ":" + s
	}
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// Dependency conditions.
const (
	ServiceStarted               = types.ServiceConditionStarted
	ServiceHealthy               = types.ServiceConditionHealthy
	ServiceCompletedSuccessfully = types.ServiceConditionCompletedSuccessfully
)

// Dependency is one depends_on entry (restart: is ignored).
type Dependency struct {
	Service   string
	Condition string // ServiceStarted, ServiceHealthy or ServiceCompletedSuccessfully
	// Required false: the service may be missing (disabled by a profile)
	// and is then skipped.
	Required bool
}

// Load reads, interpolates and merges the compose files, applies the
// profiles and checks that slimtrace supports every key the enabled
// services use.
func Load(ctx context.Context, o Options) (*Project, error) {
	if len(o.Files) == 0 {
		return nil, errors.New("no compose file given")
	}
	var findings []loader.UnsupportedAttribute
	report := func(f []loader.UnsupportedAttribute) { findings = f }
	opts, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.WorkingDir),
		cli.WithName(o.ProjectName),
		cli.WithEnv(o.Environ),
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithLoadOptions(loader.WithSupportedAttributes(supportedPaths(), report)),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	cp, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading compose files: %w", err)
	}
	if err := refuse(cp, findings); err != nil {
		return nil, err
	}

	p := &Project{Name: cp.Name}
	for name := range cp.DisabledServices {
		p.disabled = append(p.disabled, name)
	}
	slices.Sort(p.disabled)
	var errs []error
	for _, s := range cp.Services {
		svc, err := service(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Services = append(p.Services, svc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.Services, err = startOrder(p.Services); err != nil {
		return nil, err
	}
	return p, nil
}

// service converts one enabled service.
func service(s types.ServiceConfig) (Service, error) {
	out := Service{
		Name:       s.Name,
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Command:    s.Command,
		WorkingDir: s.WorkingDir,
		User:       s.User,
		Hostname:   s.Hostname,
	}
	if out.Image == "" {
		return out, fmt.Errorf("compose service %q: no image (slimtrace builds no images; build it first and name it)", s.Name)
	}
	for k, v := range s.Environment {
		if v != nil {
			out.Environment = append(out.Environment, k+"="+*v)
		}
	}
	slices.Sort(out.Environment)

	var err error
	if out.Ports, err = ports(s); err != nil {
		return out, fmt.Errorf("compose service %q: %w", s.Name, err)
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind && v.Type != types.VolumeTypeVolume {
			return out, fmt.Errorf("compose service %q: volume %s: type %q is not supported by slimtrace (bind mounts and volumes only)",
				s.Name, v.Target, v.Type)
		}
		out.Volumes = append(out.Volumes, Mount{Type: v.Type, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly})
	}
	for name, d := range s.DependsOn {
		out.DependsOn = append(out.DependsOn, Dependency{Service: name, Condition: d.Condition, Required: d.Required})
	}
	slices.SortFunc(out.DependsOn, func(a, b Dependency) int { return cmp.Compare(a.Service, b.Service) })
	out.Healthcheck = healthcheck(s.HealthCheck)
	return out, nil
}

// ports lists the container ports of ports: and expose:.
func ports(s types.ServiceConfig) ([]string, error) {
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range s.Ports {
		add(fmt.Sprintf("%d/%s", p.Target, cmp.Or(p.Protocol, "tcp")))
	}
	for _, e := range s.Expose {
		port, proto, _ := strings.Cut(e, "/")
		proto = cmp.Or(proto, "tcp")
		lo, hi, isRange := strings.Cut(port, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("expose %q: not a port", e)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
				return nil, fmt.Errorf("expose %q: not a port range", e)
			}
		}
		for n := first; n <= last; n++ {
			add(fmt.Sprintf("%d/%s", n, proto))
		}
	}
	return out, nil
}

// healthcheck converts a compose healthcheck to the image config's.
func healthcheck(h *types.HealthCheckConfig) *dockerspec.HealthcheckConfig {
	if h == nil {
		return nil
	}
	if h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE") {
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
	}
	d := func(v *types.Duration) time.Duration {
		if v == nil {
			return 0
		}
		return time.Duration(*v)
	}
	out := &dockerspec.HealthcheckConfig{
		Test:          slices.Clone([]string(h.Test)),
		Interval:      d(h.Interval),
		Timeout:       d(h.Timeout),
		StartPeriod:   d(h.StartPeriod),
		StartInterval: d(h.StartInterval),
	}
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out
}

// startOrder sorts services so that each comes after those it depends on
// (ties in name order), and refuses a cycle or a missing required
// dependency. Optional dependencies that are missing are dropped.
func startOrder(services []Service) ([]Service, error) {
	slices.SortFunc(services, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	index := map[string]int{}
	for i, s := range services {
		index[s.Name] = i
	}
	for i, s := range services {
		var deps []Dependency
		for _, d := range s.DependsOn {
			if _, ok := index[d.Service]; ok {
				deps = append(deps, d)
			} else if d.Required {
				return nil, fmt.Errorf("compose service %q depends on %q, which is not enabled", s.Name, d.Service)
			}
		}
		services[i].DependsOn = deps
	}

	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(services))
	var out []Service
	var path []string
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			start := slices.Index(path, services[i].Name)
			return fmt.Errorf("compose services depend on each other in a cycle: %s",
				strings.Join(append(path[start:], services[i].Name), " -> "))
		}
		state[i] = visiting
		path = append(path, services[i].Name)
		for _, d := range services[i].DependsOn {
			if err := visit(index[d.Service]); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		out = append(out, services[i])
		return nil
	}
	for i := range services {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Service returns the enabled service with that name.
func (p *Project) Service(name string) (Service, bool) {
	i := slices.IndexFunc(p.Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return p.Services[i], true
}

// Target returns the service to profile and the services it needs,
// transitively, in start order. include and exclude name some of those
// dependencies (--dep-include-compose-svc, --dep-exclude-compose-svc):
//   - include, when not empty, keeps exactly the services it names: their
//     own dependencies are not added unless named too;
//   - exclude drops the services it names and the dependencies reachable
//     only through them (a dependency another kept service needs stays).
//
// Naming a service that is not a dependency of the target is an error.
func (p *Project) Target(name string, include, exclude []string) (Service, []Service, error) {
	target, ok := p.Service(name)
	if !ok {
		if slices.Contains(p.disabled, name) {
			return Service{}, nil, fmt.Errorf("compose service %q is disabled by its profiles (enable one)", name)
		}
		return Service{}, nil, fmt.Errorf("no compose service %q (services: %s)", name, strings.Join(p.names(), ", "))
	}
	all := p.closure(name, nil)
	for _, n := range slices.Concat(include, exclude) {
		if n == name {
			return Service{}, nil, fmt.Errorf("compose service %q is the target, not a dependency", n)
		}
		if !all[n] {
			return Service{}, nil, fmt.Errorf("compose service %q is not a dependency of %q", n, name)
		}
	}
	keep := p.closure(name, exclude)
	var deps []Service
	for _, s := range p.Services {
		if s.Name == name || !keep[s.Name] || (len(include) > 0 && !slices.Contains(include, s.Name)) {
			continue
		}
		deps = append(deps, s)
	}
	return target, deps, nil
}

// closure is the set of services name depends on, transitively, not
// going through the skipped ones.
func (p *Project) closure(name string, skip []string) map[string]bool {
	seen := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		s, _ := p.Service(n)
		for _, d := range s.DependsOn {
			if !seen[d.Service] && !slices.Contains(skip, d.Service) {
				seen[d.Service] = true
				walk(d.Service)
			}
		}
	}
	walk(name)
	return seen
}

func (p *Project) names() []string {
	var out []string
	for _, s := range p.Services {
		out = append(out, s.Name)
	}
	return out
}
