package edges

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readers are the packages that read an image's or a container's files.
// They open that content only through internal/safefs, the accessor that
// cannot leave the image root and opens only regular files and
// directories; the pure ones among them cannot call os at all (TestEdges).
var readers = []string{"internal/fileset", "internal/imports", "internal/session", "internal/container"}

// pathCalls are the calls that open, stat, list or resolve a path by name.
var pathCalls = map[string][]string{
	"os":                    {"Open", "OpenFile", "ReadFile", "Stat", "Lstat", "ReadDir", "Readlink", "OpenRoot", "OpenInRoot", "DirFS", "CopyFS"},
	"path/filepath":         {"EvalSymlinks", "Walk", "WalkDir", "Glob"},
	"golang.org/x/sys/unix": {"Open", "Openat", "Openat2", "Stat", "Lstat", "Readlink", "Readlinkat", "Fstatat"},
	"syscall":               {"Open", "Openat", "Stat", "Lstat", "Readlink"},
}

// accessorAllowed names each remaining call in a reader ("file func
// pkg.Call"), none of them on a path from the image or the container.
var accessorAllowed = map[string]string{
	"internal/session/artifacts.go CopyArtifacts os.ReadFile": "slimtrace's own artifacts, under its state path",
	"internal/session/services.go linkPeers unix.Stat":        "network namespace files (/proc/PID/ns/net), compared by inode",
	"internal/container/container.go cpuUsage os.ReadFile":    "cgroup v2 cpu.stat of the container's cgroup, written by the kernel",
	"internal/container/container.go lookupUser os.Stat":      "the container's mount namespace (/proc/PID/ns/mnt) before and after reading its files",
	"internal/container/container.go catches os.ReadFile":     "/proc/PID/status, written by the kernel",
	"internal/container/create.go plan os.Stat":               "the user's --network netns path and bind-mount sources: host paths the user named",
	"internal/container/create.go writeEtcFiles os.ReadFile":  "the host's /etc/hosts and /etc/resolv.conf, for a container on the host network",
	"internal/container/listen.go ListeningPorts os.ReadFile": "cgroup.procs, written by the kernel",
	"internal/container/listen.go ListeningPorts os.ReadDir":  "/proc/PID/fd, listed by the kernel",
	"internal/container/listen.go ListeningPorts os.Readlink": "/proc/PID/fd links (socket:[inode]), written by the kernel",
	"internal/container/listen.go ListeningPorts os.Open":     "/proc/PID/net/tcp, written by the kernel",
	"internal/container/netns.go newNetNS os.OpenFile":        "creating slimtrace's own netns mount point",
	"internal/container/attach.go fill os.ReadFile":           "/proc/PID/cmdline, written by the kernel",
	"internal/container/attach.go ProcessStart os.ReadFile":   "/proc/PID/stat, written by the kernel",
	"internal/container/attach.go bootTime os.ReadFile":       "/proc/stat, written by the kernel",
	"internal/session/record.go kubeParent os.Stat":           "the host's cgroup v2 hierarchy (kubepods, k8s.io), made by the kubelet and the kernel",
	"internal/session/record.go findKubepods os.Stat":         "the host's cgroup v2 hierarchy, made by the kubelet and the kernel",
	"internal/session/artifacts.go WritePrivate os.OpenFile":  "writing slimtrace's own artifacts (O_NOFOLLOW)",
	"internal/container/prune.go pruneRun os.Stat":            "slimtrace's own run directory",
}

// pathCallSites lists "file func pkg.Call" for every path call in the Go
// files (tests excluded) of dir, relative to root.
func pathCallSites(t *testing.T, root, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, callSites(f, filepath.ToSlash(filepath.Join(dir, filepath.Base(name))))...)
	}
	return out
}

func callSites(f *ast.File, file string) []string {
	imported := map[string]string{} // local name -> import path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		imported[name] = p
	}
	var out []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			p := imported[x.Name]
			if slices.Contains(pathCalls[p], sel.Sel.Name) {
				out = append(out, fmt.Sprintf("%s %s %s.%s", file, fn.Name.Name, x.Name, sel.Sel.Name))
			}
			return true
		})
	}
	return out
}

// TestAccessor fails when a package that reads images opens, stats, lists
// or resolves a path itself instead of through internal/safefs.
func TestAccessor(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, dir := range readers {
		for _, site := range pathCallSites(t, root, dir) {
			if seen[site] {
				continue
			}
			seen[site] = true
			if _, ok := accessorAllowed[site]; !ok {
				t.Errorf("%s: read image and container files through internal/safefs (or add the call to accessorAllowed, saying why it reads no image path)", site)
			}
		}
	}
	for site := range accessorAllowed {
		if !seen[site] {
			t.Errorf("accessorAllowed names %q, which no longer exists: remove it", site)
		}
	}
}

// TestAccessorCatch shows the scan finding a planted call, under any
// import name.
func TestAccessorCatch(t *testing.T) {
	src := `package fileset
import (
	"os"
	fp "path/filepath"
)
func status() ([]byte, error) { return os.ReadFile("/view/var/lib/dpkg/status") }
func real(p string) (string, error) { return fp.EvalSymlinks(p) }
func fine() string { return os.Getenv("X") }
`
	f, err := parser.ParseFile(token.NewFileSet(), "planted.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := callSites(f, "internal/fileset/planted.go")
	want := []string{"internal/fileset/planted.go status os.ReadFile", "internal/fileset/planted.go real fp.EvalSymlinks"}
	if !slices.Equal(got, want) {
		t.Errorf("call sites %q; want %q", got, want)
	}
	for _, s := range got {
		if _, ok := accessorAllowed[s]; ok {
			t.Errorf("%s allowed", s)
		}
	}
}
