package container

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// HealthcheckArgs returns the argument vector that runs an image's
// HEALTHCHECK through Exec: the arguments of CMD, or /bin/sh -c COMMAND for
// CMD-SHELL. It returns nil for none, NONE, an empty test, or an unknown
// form.
func HealthcheckArgs(h *dockerspec.HealthcheckConfig) []string {
	if h == nil || len(h.Test) < 2 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		return slices.Clone(h.Test[1:])
	case "CMD-SHELL":
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

// ImagePorts returns the ports an image config exposes, sorted.
func ImagePorts(c dockerspec.DockerOCIImageConfig) ([]Port, error) {
	var ps []Port
	for p := range c.ExposedPorts {
		pp, err := ParsePort(p)
		if err != nil {
			return nil, fmt.Errorf("image config ExposedPorts: %w", err)
		}
		ps = append(ps, pp...)
	}
	return sortPorts(ps), nil
}
