package image

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// sourceKind says where an image comes from.
type sourceKind int

const (
	fromStore         sourceKind = iota // a name in containerd's image store
	fromDockerArchive                   // docker-archive:PATH[:REF]
	fromOCIArchive                      // oci-archive:PATH[:REF]
	fromOCIDir                          // oci:DIR[:TAG]
	fromDockerDaemon                    // docker-daemon:NAME
	fromRegistry                        // docker://REF
)

var transports = map[string]sourceKind{
	"docker-archive": fromDockerArchive,
	"oci-archive":    fromOCIArchive,
	"oci":            fromOCIDir,
	"docker-daemon":  fromDockerDaemon,
}

// unsupportedTransports are skopeo transports that a user may try; naming
// them gets a clear error instead of a failed store lookup.
var unsupportedTransports = []string{"containers-storage", "dir", "ostree", "sif", "tarball"}

// Sources lists the transport prefixes Resolve accepts, for help texts.
const Sources = "docker://REF (a registry), docker-daemon:NAME, docker-archive:PATH, oci-archive:PATH, oci:DIR[:TAG]"

// source is a parsed image source.
type source struct {
	kind sourceKind
	// path is the archive file or layout directory.
	path string
	// ref picks an image: the store name, the docker-daemon name, or the
	// optional reference or tag after an archive path.
	ref string
}

// parseSource parses an image source as skopeo users write it. An archive
// path may be followed by :REF; when the whole string is not an existing
// path, it is split at the first colon that ends one.
func parseSource(s string) (source, error) {
	if strings.TrimSpace(s) == "" {
		return source{}, fmt.Errorf("empty image name")
	}
	prefix, rest, ok := strings.Cut(s, ":")
	if !ok {
		return source{kind: fromStore, ref: s}, nil
	}
	if ref, ok := strings.CutPrefix(s, "docker://"); ok {
		if ref == "" {
			return source{}, fmt.Errorf("image source %q: missing the image reference after docker://", s)
		}
		return source{kind: fromRegistry, ref: ref}, nil
	}
	kind, known := transports[prefix]
	if !known {
		if slices.Contains(unsupportedTransports, prefix) {
			return source{}, fmt.Errorf("image source %q: transport %q is not supported; use a name (looked up in containerd, then Docker) or %s", s, prefix, Sources)
		}
		return source{kind: fromStore, ref: s}, nil
	}
	if rest == "" {
		return source{}, fmt.Errorf("image source %q: missing %s after %q", s, map[bool]string{true: "NAME", false: "PATH"}[kind == fromDockerDaemon], prefix+":")
	}
	if kind == fromDockerDaemon {
		return source{kind: kind, ref: rest}, nil
	}
	src := source{kind: kind, path: rest}
	if _, err := os.Stat(rest); err != nil {
		// PATH:REF, where REF may itself hold colons (name:tag).
		for i := 0; i < len(rest); i++ {
			if rest[i] != ':' || i == 0 {
				continue
			}
			if _, err := os.Stat(rest[:i]); err == nil {
				src.path, src.ref = rest[:i], rest[i+1:]
				break
			}
		}
	}
	return src, nil
}
