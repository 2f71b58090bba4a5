package target

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Config is the part of an image's configuration that decides how it runs.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts []Port
	// Volumes are the image's VOLUME paths, sorted.
	Volumes     []string
	Labels      map[string]string
	StopSignal  string
	Healthcheck *Healthcheck
	// OS and Architecture of the image (linux, amd64).
	OS           string
	Architecture string
}

// Healthcheck is the image's HEALTHCHECK, from the docker config's
// Healthcheck field. Test is as stored: ["CMD", args...], ["CMD-SHELL",
// command] or ["NONE"].
type Healthcheck dockerspec.HealthcheckConfig

// Command returns the argument vector to run through Exec: the arguments of
// CMD, or /bin/sh -c COMMAND for CMD-SHELL. It returns nil for NONE, an
// empty test, or an unknown form.
func (h *Healthcheck) Command() []string {
	if h == nil || len(h.Test) == 0 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) < 2 {
			return nil
		}
		return slices.Clone(h.Test[1:])
	case "CMD-SHELL":
		if len(h.Test) < 2 {
			return nil
		}
		return []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}
	}
	return nil
}

// Port is a container port, such as 8080/tcp.
type Port struct {
	Number   uint16
	Protocol string // tcp, udp or sctp
}

func (p Port) String() string { return strconv.Itoa(int(p.Number)) + "/" + p.Protocol }

// ParsePort parses docker's --expose syntax: PORT[/PROTO] or a range
// FIRST-LAST[/PROTO]; the protocol defaults to tcp.
func ParsePort(s string) ([]Port, error) {
	num, proto, _ := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	switch proto {
	case "":
		proto = "tcp"
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("port %q: unknown protocol %q", s, proto)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	first, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || first == 0 {
		return nil, fmt.Errorf("port %q: bad port number %q", s, lo)
	}
	last := first
	if isRange {
		if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
			return nil, fmt.Errorf("port %q: bad port range", s)
		}
	}
	ports := make([]Port, 0, last-first+1)
	for n := first; n <= last; n++ {
		ports = append(ports, Port{Number: uint16(n), Protocol: proto})
	}
	return ports, nil
}

// sortPorts sorts and deduplicates ports.
func sortPorts(ps []Port) []Port {
	slices.SortFunc(ps, func(a, b Port) int {
		if a.Number != b.Number {
			return int(a.Number) - int(b.Number)
		}
		return strings.Compare(a.Protocol, b.Protocol)
	})
	return slices.Compact(ps)
}

// imageConfigJSON is the OCI image config with docker's Healthcheck, which
// the OCI types leave out.
type imageConfigJSON struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		WorkingDir   string              `json:"WorkingDir"`
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Volumes      map[string]struct{} `json:"Volumes"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
		Healthcheck  *struct {
			Test          []string `json:"Test"`
			Interval      int64    `json:"Interval"`
			Timeout       int64    `json:"Timeout"`
			StartPeriod   int64    `json:"StartPeriod"`
			StartInterval int64    `json:"StartInterval"`
			Retries       int      `json:"Retries"`
		} `json:"Healthcheck"`
	} `json:"config"`
}

// parseImageConfig decodes an image config blob.
func parseImageConfig(b []byte) (Config, error) {
	var j imageConfigJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Config{}, fmt.Errorf("decoding image config: %w", err)
	}
	c := j.Config
	cfg := Config{
		Entrypoint:   c.Entrypoint,
		Cmd:          c.Cmd,
		Env:          c.Env,
		WorkingDir:   c.WorkingDir,
		User:         c.User,
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
		OS:           j.OS,
		Architecture: j.Architecture,
	}
	for p := range c.ExposedPorts {
		ps, err := ParsePort(p)
		if err != nil {
			return Config{}, fmt.Errorf("image config ExposedPorts: %w", err)
		}
		cfg.ExposedPorts = append(cfg.ExposedPorts, ps...)
	}
	cfg.ExposedPorts = sortPorts(cfg.ExposedPorts)
	for v := range c.Volumes {
		cfg.Volumes = append(cfg.Volumes, v)
	}
	slices.Sort(cfg.Volumes)
	if h := c.Healthcheck; h != nil {
		cfg.Healthcheck = &Healthcheck{
			Test:          h.Test,
			Interval:      time.Duration(h.Interval),
			Timeout:       time.Duration(h.Timeout),
			StartPeriod:   time.Duration(h.StartPeriod),
			StartInterval: time.Duration(h.StartInterval),
			Retries:       h.Retries,
		}
	}
	return cfg, nil
}
