package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// The slimtrace image of deploy/, built by deploy/build-image.sh (and slimmed
// by slimtrace) once per test binary, imported into the node.
var deployImage struct {
	once sync.Once
	ref  string
	err  string
}

const deployTag = "slimtrace:k8s-test"

func slimtraceImage(t *testing.T, node *privtest.K8sNode) string {
	t.Helper()
	privtest.ContainerdAddress(t)
	if os.Getenv("BUILDKIT_HOST") == "" {
		privtest.Skip(t, "BUILDKIT_HOST is not set (make services)")
	}
	deployImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "slimtrace-deploy-")
		if err != nil {
			deployImage.err = err.Error()
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("../../deploy/build-image.sh", dir)
		cmd.Env = append(os.Environ(), "TAG="+deployTag, "VERSION=k8s-test")
		if out, err := cmd.CombinedOutput(); err != nil {
			deployImage.err = "deploy/build-image.sh: " + err.Error() + "\n" + string(out)
			return
		}
		out, err := exec.Command("ctr", "-a", node.CRI, "-n", "k8s.io", "images", "import", filepath.Join(dir, "slimtrace.tar")).CombinedOutput()
		if err != nil {
			deployImage.err = "importing the slimtrace image: " + err.Error() + "\n" + string(out)
			return
		}
		deployImage.ref = "docker.io/library/" + deployTag
	})
	if deployImage.err != "" {
		t.Fatal(deployImage.err)
	}
	return deployImage.ref
}

// daemonSet is deploy/kubernetes/daemonset.yaml made to run in namespace ns
// as NAME, with the test's image, args, CRI socket and output directory;
// caps, when not nil, replaces the capabilities it adds. Each edit must
// find what it replaces: a changed manifest fails here, not later.
func daemonSet(t *testing.T, node *privtest.K8sNode, ns, name, image string, args, caps []string, outDir string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	quote := func(l []string) string {
		q := make([]string, len(l))
		for i, v := range l {
			q[i] = `"` + v + `"`
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	edits := []struct{ re, to string }{
		{`(?m)^  name: slimtrace\n  namespace: slimtrace$`, "  name: " + name + "\n  namespace: " + ns},
		{`app\.kubernetes\.io/name: slimtrace`, "app.kubernetes.io/name: " + name},
		{`image: slimtrace:latest`, "image: " + image},
		{`imagePullPolicy: IfNotPresent`, "imagePullPolicy: Never"},
		{`(?s)args: \[[^\]]*\]`, "args: " + quote(args)},
		{`path: /run/containerd/containerd.sock`, "path: " + node.CRI},
		{`path: /var/lib/slimtrace/out`, "path: " + outDir},
	}
	if caps != nil {
		edits = append(edits, struct{ re, to string }{`add: \[[^\]]*\]`, "add: " + quote(caps)})
	}
	for _, e := range edits {
		re := regexp.MustCompile(e.re)
		if !re.MatchString(s) {
			t.Fatalf("deploy/kubernetes/daemonset.yaml: no match for %q", e.re)
		}
		s = re.ReplaceAllLiteralString(s, e.to)
	}
	return s
}

// manifestCaps are the capabilities deploy/kubernetes/daemonset.yaml adds.
func manifestCaps(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kubernetes/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`add: \[([^\]]*)\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/kubernetes/daemonset.yaml adds no capabilities")
	}
	var caps []string
	for _, c := range strings.Split(string(m[1]), ",") {
		caps = append(caps, strings.Trim(strings.TrimSpace(c), `"`))
	}
	return caps
}

// podLog waits for a line matching re in the logs the kubelet writes for
// the DaemonSet NAME's pods in ns (kubectl logs needs a node address this
// node lacks), and returns the line.
func podLog(t *testing.T, node *privtest.K8sNode, ns, name string, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	var line string
	node.WaitFor(t, ns, "a log line of "+name+" matching "+re.String(), d, func() (bool, string, error) {
		files, _ := filepath.Glob(filepath.Join("/var/log/pods", ns+"_"+name+"-*", "slimtrace", "*.log"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if m := re.Find(b); m != nil {
				line = string(m)
				return true, "", nil
			}
		}
		return false, "log files " + strings.Join(files, ", "), nil
	})
	return line
}

// TestK8sDaemonSetCapabilities runs the DaemonSet of deploy/kubernetes with
// the repo's slimmed image and `slimtrace version`, which loads and attaches
// the tracing programs: with the capabilities the manifest adds they are
// usable; without BPF, or without PERFMON, they are not.
func TestK8sDaemonSetCapabilities(t *testing.T) {
	node := privtest.K8s(t)
	image := slimtraceImage(t, node)
	ns := node.Namespace(t, "st-caps")
	out := t.TempDir()
	caps := manifestCaps(t)
	for _, need := range []string{"BPF", "PERFMON"} {
		found := false
		for _, c := range caps {
			found = found || c == need
		}
		if !found {
			t.Fatalf("deploy/kubernetes/daemonset.yaml does not add %s: %v", need, caps)
		}
	}
	cases := []struct {
		name   string
		caps   []string
		usable bool
	}{{"shipped", caps, true}}
	for _, drop := range []string{"BPF", "PERFMON"} {
		var less []string
		for _, c := range caps {
			if c != drop {
				less = append(less, c)
			}
		}
		cases = append(cases, struct {
			name   string
			caps   []string
			usable bool
		}{"no-" + strings.ToLower(drop), less, false})
	}
	for _, c := range cases {
		node.MustKubectl(t, ns, daemonSet(t, node, ns, c.name, image, []string{"version"}, c.caps, out), "apply", "-f", "-")
	}
	// Without CAP_BPF, version stops at raising the memlock limit and prints no tp_btf line.
	re := regexp.MustCompile(`eBPF (memlock|tp_btf): [^\n]*`)
	for _, c := range cases {
		line := podLog(t, node, ns, c.name, re, 2*time.Minute)
		if got := strings.HasPrefix(line, "eBPF tp_btf: usable"); got != c.usable {
			t.Errorf("%s (capabilities %v): %q; want usable=%v", c.name, c.caps, line, c.usable)
		}
	}
}
