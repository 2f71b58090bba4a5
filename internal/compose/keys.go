package compose

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
)

// The keys are screened on the loaded model (after interpolation, extends
// and merging) with the library's fail-closed check: the supported paths
// are the specification's own (schema.AttributePaths) under the keys
// below, and every other attribute is reported, including those a newer
// specification adds. Checking the typed ServiceConfig instead would need
// a test per field and would miss the ones added later.

// serviceKeys are the service keys slimtrace honours, or ignores on
// purpose (the comment says so).
var serviceKeys = []string{
	"image", "command", "entrypoint", "environment", "env_file", "working_dir", "user", "hostname",
	"ports", "expose", "volumes", "depends_on", "healthcheck", "profiles",
	"labels", "label_file", // allowed, ignored: the slim image keeps the image's labels
	"restart",        // ignored: a traced run is never restarted
	"container_name", // ignored: slimtrace names its containers
	"networks",       // the default network only (see checkNetworks)
}

// volumeKeys are the attributes of a long-syntax volume slimtrace honours:
// bind mounts and volumes, read-only or not.
var volumeKeys = []string{"type", "source", "target", "read_only", "bind", "bind.create_host_path",
	"volume", "volume.nocopy"}

// reasons say why the most common keys are refused.
var reasons = map[string]string{
	"build":          "images are not built; build it first and name it",
	"network_mode":   "side services share one network namespace",
	"networks":       "side services share one network namespace: only the default network",
	"cap_add":        "the container runs with the default capabilities",
	"cap_drop":       "the container runs with the default capabilities",
	"privileged":     "the container runs with the default capabilities",
	"devices":        "no devices are passed to the container",
	"secrets":        "secrets are not mounted; use a bind volume",
	"configs":        "configs are not mounted; use a bind volume",
	"deploy":         "one container per service, no resource limits",
	"scale":          "one container per service",
	"tmpfs":          "tmpfs mounts are not supported",
	"volumes_from":   "volumes are not shared between containers",
	"links":          "side services are reached on localhost",
	"external_links": "side services are reached on localhost",
	"extra_hosts":    "the hosts file is slimtrace's",
	"dns":            "the resolver configuration is slimtrace's",
	"security_opt":   "slimtrace sets the seccomp and AppArmor profiles",
	"pid":            "each container has its own PID namespace",
	"ipc":            "each container has its own IPC namespace",
	"models":         "models are not supported",
}

// supportedPaths are the specification's attribute paths slimtrace
// accepts.
func supportedPaths() []tree.Path {
	var out []tree.Path
	for _, p := range schema.AttributePaths() {
		parts := p.Parts()
		switch {
		case parts[0] == "name",
			parts[0] == "services" && (len(parts) <= 2 || serviceKey(parts[2:])),
			parts[0] == "volumes" && (len(parts) <= 2 || parts[2] == "name" || parts[2] == "labels"),
			parts[0] == "networks" && len(parts) <= 2:
			out = append(out, p)
		}
	}
	return out
}

// serviceKey says whether a path below services.NAME is supported.
func serviceKey(parts []string) bool {
	if !slices.Contains(serviceKeys, parts[0]) {
		return false
	}
	if parts[0] == "volumes" && len(parts) > 2 { // volumes.[].KEY...
		return slices.Contains(volumeKeys, strings.Join(parts[2:], "."))
	}
	return true
}

// refuse turns the findings on enabled services and on the top level into
// errors, one per key, and checks networks.
func refuse(p *types.Project, findings []loader.UnsupportedAttribute) error {
	var errs []error
	for _, f := range findings {
		parts := f.Path.Parts()
		if parts[0] != "services" {
			errs = append(errs, unsupported("compose file", parts, ""))
			continue
		}
		if len(parts) < 3 {
			continue
		}
		if _, enabled := p.Services[parts[1]]; !enabled {
			continue // a profile keeps it out: it never runs
		}
		errs = append(errs, unsupported(fmt.Sprintf("compose service %q", parts[1]), parts[2:], ""))
	}
	for name := range p.Networks {
		if name != "default" {
			errs = append(errs, unsupported("compose file", []string{"networks", name}, reasons["networks"]))
		}
	}
	for _, s := range p.Services {
		for name := range s.Networks {
			if name != "default" {
				errs = append(errs, unsupported(fmt.Sprintf("compose service %q", s.Name), []string{"networks", name},
					reasons["networks"]))
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// unsupported names one refused key; parts is its path (list markers
// dropped), reason defaults to the key's entry in reasons.
func unsupported(where string, parts []string, reason string) error {
	parts = slices.DeleteFunc(slices.Clone(parts), func(s string) bool { return s == tree.PathMatchList })
	if reason == "" {
		reason = reasons[parts[0]]
	}
	reason = cmp.Or(reason, "slimtrace would ignore it")
	return fmt.Errorf("%s: key %q is not supported by slimtrace (%s)", where, strings.Join(parts, "."), reason)
}
