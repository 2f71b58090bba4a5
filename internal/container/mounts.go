package container

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Mount is a bind mount into the container, parsed from docker's -v syntax.
type Mount struct {
	// Source is the absolute host path; empty for an anonymous volume (an
	// empty directory that lives as long as the run).
	Source string
	// Destination is the absolute path inside the container.
	Destination string
	ReadOnly    bool
	// Propagation is one of docker's propagation modes (rprivate by default).
	Propagation string
}

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// ParseMount parses docker's -v syntax: HOST:CONTAINER[:OPTIONS] or
// CONTAINER alone for an anonymous volume. OPTIONS is a comma-separated list
// of ro, rw, a propagation mode, or the SELinux relabel flags z and Z (which
// are accepted and ignored). HOST must be an absolute path or start with "."
// (made absolute against the working directory); named volumes are not
// supported.
func ParseMount(spec string) (Mount, error) {
	if spec == "" {
		return Mount{}, fmt.Errorf("empty mount spec")
	}
	parts := strings.Split(spec, ":")
	var m Mount
	var opts string
	switch len(parts) {
	case 1:
		m.Destination = parts[0]
	case 2:
		m.Source, m.Destination = parts[0], parts[1]
	case 3:
		m.Source, m.Destination, opts = parts[0], parts[1], parts[2]
	default:
		return Mount{}, fmt.Errorf("mount %q: want HOST:CONTAINER[:ro]", spec)
	}
	if len(parts) > 1 {
		switch {
		case m.Source == "":
			return Mount{}, fmt.Errorf("mount %q: empty host path", spec)
		case strings.HasPrefix(m.Source, "."):
			abs, err := filepath.Abs(m.Source)
			if err != nil {
				return Mount{}, fmt.Errorf("mount %q: %w", spec, err)
			}
			m.Source = abs
		case !filepath.IsAbs(m.Source):
			return Mount{}, fmt.Errorf("mount %q: host path %q is not absolute (named volumes are not supported)", spec, m.Source)
		}
		m.Source = filepath.Clean(m.Source)
	}
	if m.Destination == "" {
		return Mount{}, fmt.Errorf("mount %q: empty container path", spec)
	}
	if !path.IsAbs(m.Destination) {
		return Mount{}, fmt.Errorf("mount %q: container path %q is not absolute", spec, m.Destination)
	}
	m.Destination = path.Clean(m.Destination)
	if m.Destination == "/" {
		return Mount{}, fmt.Errorf("mount %q: cannot mount over /", spec)
	}
	if len(parts) == 3 && opts == "" {
		return Mount{}, fmt.Errorf("mount %q: empty options", spec)
	}
	seenMode := false
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "" && opts == "":
		case o == "ro" || o == "rw":
			if seenMode {
				return Mount{}, fmt.Errorf("mount %q: ro and rw given more than once", spec)
			}
			seenMode = true
			m.ReadOnly = o == "ro"
		case propagations[o]:
			if m.Propagation != "" {
				return Mount{}, fmt.Errorf("mount %q: more than one propagation mode", spec)
			}
			m.Propagation = o
		case o == "z" || o == "Z":
		default:
			return Mount{}, fmt.Errorf("mount %q: unknown option %q (want ro, rw, z, Z or a propagation mode)", spec, o)
		}
	}
	if m.Propagation == "" {
		m.Propagation = "rprivate"
	}
	return m, nil
}

// String renders m back in -v syntax.
func (m Mount) String() string {
	s := m.Destination
	if m.Source != "" {
		s = m.Source + ":" + s
	}
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}
