package edges

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/slimtrace/slimtrace/"

// pure are the packages that compute from values: no syscalls, no
// daemons, so they test in milliseconds.
var pure = []string{"internal/trace", "internal/fileset", "internal/imports", "internal/profile", "internal/creport",
	"internal/dockerfile", "internal/compose"}

// io are our packages that talk to the kernel, daemons or the network.
var io_ = []string{"internal/tracer", "internal/image", "internal/container", "internal/builder", "internal/probe", "internal/docker",
	"internal/cgroup", "internal/session", "internal/safefs"}

// rule says which importers may import the packages a prefix names.
type rule struct {
	dep  string   // an import path, or a prefix ending in "/"
	only []string // importers allowed (package paths under the module, or prefixes ending in "/")
	why  string
}

var rules = []rule{
	{"github.com/cilium/ebpf/", []string{"internal/tracer", "internal/tracer/"}, "eBPF lives in the tracer"},
	{"github.com/cilium/ebpf", []string{"internal/tracer", "internal/tracer/"}, "eBPF lives in the tracer"},
	{"github.com/containerd/containerd/", []string{"internal/image", "internal/container"}, "containerd lives in image and container"},
	{"github.com/moby/buildkit/", []string{"internal/builder"}, "BuildKit lives in the builder"},
	{"github.com/tonistiigi/fsutil", []string{"internal/builder"}, "the builder sends the kept files through BuildKit's session"},
	{"github.com/tonistiigi/fsutil/", []string{"internal/builder"}, "the builder sends the kept files through BuildKit's session"},
	{"internal/session", []string{"cmd/slimtrace"}, "the pipeline is driven from the CLI only"},
}

// ioStd are standard library (and x/sys) packages that make syscalls or
// talk to the network.
var ioStd = []string{"os", "os/exec", "os/signal", "net", "net/http", "syscall", "golang.org/x/sys/unix"}

// allowed are exceptions in pure packages, each with its reason.
var allowed = map[string]string{
	"internal/trace golang.org/x/sys/unix": "errno names (unix.ErrnoName), a table lookup",
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func matches(pattern, path string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern
}

// violations lists the edges of pkgs the rules forbid. Import paths of the
// module's own packages are relative to it (internal/x).
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			out = append(out, check(p.ImportPath, imp)...)
		}
	}
	return out
}

func check(from, imp string) []string {
	var out []string
	// The most specific rule that names imp decides.
	var best *rule
	for i, r := range rules {
		if matches(r.dep, imp) && (best == nil || len(r.dep) > len(best.dep)) {
			best = &rules[i]
		}
	}
	if best != nil && !slices.ContainsFunc(best.only, func(o string) bool { return matches(o, from) }) {
		out = append(out, fmt.Sprintf("%s imports %s: %s (allowed in %s)", from, imp, best.why, strings.Join(best.only, ", ")))
	}
	if slices.Contains(pure, from) {
		_, ok := allowed[from+" "+imp]
		switch {
		case ok:
		case slices.Contains(ioStd, imp):
			out = append(out, fmt.Sprintf("%s imports %s: a pure package makes no syscalls", from, imp))
		case slices.ContainsFunc(io_, func(p string) bool { return matches(p, imp) || matches(p+"/", imp) }):
			out = append(out, fmt.Sprintf("%s imports %s: a pure package imports no I/O package", from, imp))
		}
	}
	return out
}

// goList returns the module's packages with their imports (not their
// tests'), module paths made relative.
func goList(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		p.ImportPath = strings.TrimPrefix(p.ImportPath, module)
		for i, imp := range p.Imports {
			p.Imports[i] = strings.TrimPrefix(imp, module)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

func TestEdges(t *testing.T) {
	for _, v := range violations(goList(t)) {
		t.Error(v)
	}
}

// TestEdgesCatch shows the check failing on the edges it forbids.
func TestEdgesCatch(t *testing.T) {
	for _, c := range []struct {
		from, imp string
		bad       bool
	}{
		{"internal/fileset", "internal/image", true},
		{"internal/profile", "os", true},
		{"internal/creport", "net/http", true},
		{"internal/dockerfile", "github.com/moby/buildkit/frontend/dockerfile/parser", true},
		{"internal/session", "github.com/cilium/ebpf", true},
		{"internal/session", "github.com/containerd/containerd/v2/client", true},
		{"internal/builder", "github.com/containerd/containerd/v2/client", true},
		{"internal/probe", "internal/session", true},
		{"internal/tracer", "github.com/cilium/ebpf/link", false},
		{"internal/image", "github.com/containerd/containerd/v2/client", false},
		{"internal/builder", "github.com/containerd/containerd/v2/core/content", true},
		{"internal/builder", "github.com/moby/buildkit/client/llb", false},
		{"internal/trace", "golang.org/x/sys/unix", false},
		{"internal/fileset", "internal/trace", false},
		{"cmd/slimtrace", "internal/session", false},
	} {
		got := violations([]pkg{{ImportPath: c.from, Imports: []string{c.imp}}})
		if (len(got) > 0) != c.bad {
			t.Errorf("%s -> %s: violations %q, want bad=%v", c.from, c.imp, got, c.bad)
		}
	}
}
