package privtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// K8sNode is the real single-node Kubernetes of testdata/k8s/k8s-node.sh:
// etcd, kube-apiserver, controller-manager, scheduler and a kubelet on a
// private containerd's CRI, pods on the host-only bridge k8s0 (10.244.0.0/24).
type K8sNode struct {
	// Dir is the node's state directory ($SLIMTRACE_K8S_DIR, default /var/tmp/slimtrace-k8s).
	Dir string
	// Bin holds the binaries of testdata/k8s/build-k8s.sh ($SLIMTRACE_CACHE/k8s-bin).
	Bin string
	// Kubeconfig is the admin kubeconfig.
	Kubeconfig string
	// CRI is the node containerd's socket (the kubelet's CRI endpoint).
	CRI string
	// SeccompDir is the kubelet's seccomp/profiles/ directory: a file FILE in it
	// is `seccompProfile: {type: Localhost, localhostProfile: profiles/FILE}`
	// (relative to the kubelet's seccomp/).
	SeccompDir string

	script string
}

var k8s struct {
	once    sync.Once
	node    *K8sNode
	err     error
	started bool   // this test binary started the node: StopK8sNode stops it
	script  string // k8s-node.sh
	env     []string
}

// K8s returns the node, starting it when it is not running (the first call
// in a test binary; later calls reuse it). A node that was already running
// is shared (with other test binaries, or a developer's `make k8s-node`) and
// left running; one started here is stopped by StopK8sNode, which a TestMain
// calls after m.Run. It skips (fails, under Strict) without root or without
// the binaries (make k8s-bin).
func K8s(t testing.TB) *K8sNode {
	t.Helper()
	Root(t)
	cache := os.Getenv("SLIMTRACE_CACHE")
	if cache == "" {
		cache = "/var/cache/slimtrace"
	}
	bin := filepath.Join(cache, "k8s-bin")
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			Skip(t, "Kubernetes binary "+filepath.Join(bin, b)+" is missing (make k8s-bin)")
		}
	}
	for _, tool := range []string{"ctr", "umoci", "skopeo", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			Skip(t, tool+" is not installed (make deps)")
		}
	}
	k8s.once.Do(func() { k8s.node, k8s.err = startK8s(bin) })
	if k8s.err != nil {
		t.Fatalf("starting the Kubernetes node: %v", k8s.err)
	}
	return k8s.node
}

// StopK8sNode stops the node if this test binary started it (and
// SLIMTRACE_K8S_KEEP is not 1). Call it from TestMain after m.Run.
func StopK8sNode() {
	if !k8s.started || os.Getenv("SLIMTRACE_K8S_KEEP") == "1" {
		return
	}
	cmd := exec.Command(k8s.script, "stop")
	cmd.Env = k8s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "privtest: stopping the Kubernetes node: %v\n%s", err, out)
	}
}

func startK8s(bin string) (*K8sNode, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir := os.Getenv("SLIMTRACE_K8S_DIR")
	if dir == "" {
		dir = "/var/tmp/slimtrace-k8s"
	}
	n := &K8sNode{
		Dir:        dir,
		Bin:        bin,
		Kubeconfig: filepath.Join(dir, "admin.kubeconfig"),
		CRI:        filepath.Join(dir, "ctrd", "containerd.sock"),
		SeccompDir: filepath.Join(dir, "kubelet", "seccomp", "profiles"),
		script:     filepath.Join(root, "testdata", "k8s", "k8s-node.sh"),
	}
	env := append(os.Environ(), "K="+dir, "BIN="+bin)
	status := exec.Command(n.script, "status")
	status.Env = env
	if status.Run() == nil {
		return n, nil
	}
	start := exec.Command(n.script, "start")
	start.Env = env
	out, err := start.CombinedOutput()
	// Whatever start left running is ours to stop, even when it failed halfway.
	k8s.started, k8s.script, k8s.env = true, n.script, env
	if err != nil {
		return nil, fmt.Errorf("%s start: %w\n%s%s", n.script, err, out, tailFile(filepath.Join(dir, "logs", "kubelet.log"), 40))
	}
	return n, nil
}

// repoRoot is the directory holding go.mod, above the test's working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Kubectl runs kubectl against the node with stdin (may be empty) and
// returns its stdout; the error carries stderr.
func (n *K8sNode) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.Bin, "kubectl"), append([]string{"--request-timeout", "30s"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+n.Kubeconfig)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// MustKubectl is Kubectl failing the test on an error (with the namespace's
// diagnostics when ns is not empty).
func (n *K8sNode) MustKubectl(t testing.TB, ns, stdin string, args ...string) string {
	t.Helper()
	out, err := n.Kubectl(context.Background(), stdin, args...)
	if err != nil {
		if ns != "" {
			n.Dump(t, ns)
		}
		t.Fatal(err)
	}
	return out
}

// Namespace creates a namespace named prefix-RANDOM and deletes it (and
// waits for its pods to go) when the test ends.
func (n *K8sNode) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	ns := prefix + "-" + hex.EncodeToString(b)
	n.MustKubectl(t, "", "", "create", "namespace", ns)
	t.Cleanup(func() {
		if _, err := n.Kubectl(context.Background(), "", "delete", "namespace", ns, "--wait=true", "--timeout=90s"); err != nil {
			t.Logf("deleting namespace %s: %v", ns, err)
		}
	})
	return ns
}

// ImportImage imports a docker-archive into the node containerd's k8s.io
// namespace, where the kubelet finds it with imagePullPolicy Never.
func (n *K8sNode) ImportImage(t testing.TB, archive string) {
	t.Helper()
	out, err := exec.Command("ctr", "-a", n.CRI, "-n", "k8s.io", "images", "import", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("importing %s into the node: %v\n%s", archive, err, out)
	}
}

// WaitFor polls cond every 500 ms until it reports done, for up to d. On
// timeout it dumps the namespace's diagnostics (Dump) and fails the test
// with what cond last said. An error from cond is a state, not a failure:
// a resource the controllers have not made yet is not found for a while.
func (n *K8sNode) WaitFor(t testing.TB, ns, what string, d time.Duration, cond func() (done bool, state string, err error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var state string
	for {
		done, s, err := cond()
		if err != nil {
			s = "error: " + err.Error()
		}
		if done {
			return
		}
		state = s
		if time.Now().After(deadline) {
			n.Dump(t, ns)
			t.Fatalf("timed out after %v waiting for %s; last state: %s", d, what, state)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// WaitRollout waits until the workload (deployment/NAME, daemonset/NAME) in
// ns has every replica updated and ready: `kubectl rollout status` polled.
func (n *K8sNode) WaitRollout(t testing.TB, ns, workload string, d time.Duration) {
	t.Helper()
	n.WaitFor(t, ns, workload+" rolled out", d, func() (bool, string, error) {
		out, err := n.Kubectl(context.Background(), "", "-n", ns, "rollout", "status", workload, "--watch=false")
		return err == nil && strings.Contains(out, "successfully rolled out"), strings.TrimSpace(out), err
	})
}

// Dump logs what helps explain a stuck namespace: its objects, the pods
// described, events in time order and the tail of the kubelet's log.
func (n *K8sNode) Dump(t testing.TB, ns string) {
	t.Helper()
	ctx := context.Background()
	for _, args := range [][]string{
		{"get", "nodes", "-o", "wide"},
		{"-n", ns, "get", "all", "-o", "wide"},
		{"-n", ns, "describe", "pods"},
		{"-n", ns, "get", "events", "--sort-by", ".lastTimestamp"},
	} {
		out, err := n.Kubectl(ctx, "", args...)
		if err != nil {
			out += "\n" + err.Error()
		}
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
	t.Logf("kubelet log tail:\n%s", tailFile(filepath.Join(n.Dir, "logs", "kubelet.log"), 60))
}

// tailFile returns the last n lines of a file, or why it cannot.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return tail(string(b), n)
}
