package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tracer"
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
		state := "no log file yet"
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if m := re.Find(b); m != nil {
				line = string(m)
				return true, "", nil
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			state = f + " ends:\n" + strings.Join(lines[max(0, len(lines)-15):], "\n")
		}
		return false, state, nil
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

// webPod is one replica of the test's Deployment as the kubelet runs it.
type webPod struct {
	name, ip, containerID, startedAt string
	restarts                         int
	pid                              int
}

// webPods lists the Deployment's ready pods (label test=ns) with their
// container's ID, start time, restarts and host PID; done is false while
// there are not want of them, each running and ready.
func webPods(node *privtest.K8sNode, ns string, want int) ([]webPod, bool, string, error) {
	out, err := node.Kubectl(context.Background(), "", "-n", ns, "get", "pods", "-l", "test="+ns, "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].state.running.startedAt} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready} {.metadata.deletionTimestamp}{"\n"}{end}`)
	if err != nil {
		return nil, false, "", err
	}
	tasks, err := exec.Command("ctr", "-a", node.CRI, "-n", "k8s.io", "tasks", "ls").Output()
	if err != nil {
		return nil, false, "", fmt.Errorf("ctr tasks ls: %w", err)
	}
	pids := map[string]int{}
	for _, l := range strings.Split(string(tasks), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[2] == "RUNNING" {
			pids[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	var pods []webPod
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 6 || f[5] != "true" { // not ready, or terminating (a 7th field)
			continue
		}
		p := webPod{name: f[0], ip: f[1], containerID: strings.TrimPrefix(f[2], "containerd://"), startedAt: f[3]}
		p.restarts, _ = strconv.Atoi(f[4])
		p.pid = pids[p.containerID]
		if p.pid == 0 {
			continue
		}
		pods = append(pods, p)
	}
	return pods, len(pods) == want && strings.Count(strings.TrimSpace(out), "\n")+1 == want, strings.TrimSpace(out), nil
}

// get fetches http://IP:8080/PATH, with a short timeout and no keep-alive.
func getPod(ip, path string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + ip + ":8080" + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web, test: NS}}
  template:
    metadata: {labels: {app: web, test: NS}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: httpd
          image: IMAGE
          imagePullPolicy: Never
          readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
`

// TestK8sRecordDeployment is issue 19's done-when on the real node: the
// slimtrace DaemonSet of deploy/kubernetes, with the repo's image, records a
// Deployment of two replicas of busybox-cgi (no EXPOSE; httpd forks a shell
// per request) while the test sends requests to both pods, which keep their
// PIDs and start times; a rollout during the recording puts start-up in the
// trace too. One merged profile comes out, allowing accept, listing the app's
// files, and not allowing personality, which only the endpoint never
// requested while recording calls. The Deployment restarted with that
// profile as its Localhost seccomp profile serves, and that endpoint fails
// with EPERM.
func TestK8sRecordDeployment(t *testing.T) {
	node := privtest.K8s(t)
	image := slimtraceImage(t, node)
	node.ImportImage(t, privtest.Fixture(t, "busybox-cgi"))
	ns := node.Namespace(t, "st-web")
	node.MustKubectl(t, ns, strings.NewReplacer("NS", ns, "IMAGE", "docker.io/slimtrace-fixtures/busybox-cgi:latest").Replace(webDeployment),
		"apply", "-f", "-")
	node.WaitRollout(t, ns, "deployment/web", 3*time.Minute)
	var before []webPod
	node.WaitFor(t, ns, "two ready web pods", 2*time.Minute, func() (bool, string, error) {
		pods, done, state, err := webPods(node, ns, 2)
		before = pods
		return done, state, err
	})
	// Unconfined, the test endpoint works: under the profile its failure is the profile's doing.
	for _, p := range before {
		code, body, err := getPod(p.ip, "/cgi-bin/personality")
		if err != nil || code != 200 || body != "personality: ok\n" {
			t.Fatalf("%s /cgi-bin/personality unconfined: %d %q %v", p.name, code, body, err)
		}
	}

	// The recorder, in a namespace of its own, writing to a host directory of the test's.
	recNS := node.Namespace(t, "st-rec")
	out := t.TempDir()
	args := []string{"--log-level", "info", "record", "--selector", "test=" + ns, "--namespace", ns, "--duration", "0",
		"--cri", "/run/cri/containerd.sock", "--output-dir", "/var/lib/slimtrace/out"}
	node.MustKubectl(t, recNS, daemonSet(t, node, recNS, "slimtrace", image, args, nil, out), "apply", "-f", "-")
	// Attached is when record logs both running containers; its log is the kubelet's file.
	podLog(t, node, recNS, "slimtrace", regexp.MustCompile(`(?s)recording a running container.*recording a running container`), 2*time.Minute)
	// Requests to both pods: every route but the test endpoint, a few rounds.
	for round := 0; round < 5; round++ {
		for _, p := range before {
			for _, path := range []string{"/", "/cgi-bin/hello"} {
				if code, body, err := getPod(p.ip, path); err != nil || code != 200 {
					t.Fatalf("%s %s while recording: %d %q %v", p.name, path, code, body, err)
				}
			}
		}
	}
	// The pods were not restarted: same containers, PIDs and start times.
	after, _, state, err := webPods(node, ns, 2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the pods changed while recording:\nbefore %+v\nafter  %+v\n%s", before, after, state)
	}

	// A rollout while recording: its new pods are traced from their entrypoint's exec, so the
	// profile holds start-up too, and they get the same requests.
	node.MustKubectl(t, ns, "", "-n", ns, "rollout", "restart", "deployment/web")
	node.WaitRollout(t, ns, "deployment/web", 3*time.Minute)
	rolled := newWebPods(t, node, ns, before)
	podLog(t, node, recNS, "slimtrace", regexp.MustCompile(`(?s)recording a new container.*recording a new container`), time.Minute)
	for round := 0; round < 5; round++ {
		for _, p := range rolled {
			for _, path := range []string{"/", "/cgi-bin/hello"} {
				if code, body, err := getPod(p.ip, path); err != nil || code != 200 {
					t.Fatalf("%s %s while recording: %d %q %v", p.name, path, code, body, err)
				}
			}
		}
	}

	// Deleting the DaemonSet sends SIGTERM: record writes what it saw and exits.
	node.MustKubectl(t, recNS, "", "-n", recNS, "delete", "daemonset", "slimtrace", "--wait=true", "--timeout=90s")
	var reports []string
	node.WaitFor(t, recNS, "the recording's creport.json", time.Minute, func() (bool, string, error) {
		reports, _ = filepath.Glob(filepath.Join(out, "*creport.json"))
		return len(reports) > 0, fmt.Sprint(reports), nil
	})
	if len(reports) != 1 {
		entries, _ := os.ReadDir(out)
		t.Fatalf("want one merged report for the replicas, got %v (dir: %v)", reports, entries)
	}
	prefix := strings.TrimSuffix(reports[0], "creport.json")
	report, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/bin/busybox", "/www/cgi-bin/hello", "/www/index.html"} {
		if !strings.Contains(string(report), `"`+f+`"`) {
			t.Errorf("creport.json does not list %s", f)
		}
	}
	// Nothing of slimtrace is left on the node: no program attached, only the artifacts written.
	node.WaitFor(t, recNS, "slimtrace's programs unloaded after the DaemonSet ended", 30*time.Second, func() (bool, string, error) {
		names, err := tracer.Loaded()
		return len(names) == 0, fmt.Sprint("still loaded: ", names), err
	})
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(filepath.Join(out, e.Name()), prefix) || e.IsDir() {
			t.Errorf("left in the output directory: %s", e.Name())
		}
	}
	var rep struct {
		Run struct {
			Startup   string `json:"startup"`
			Workloads []struct {
				Pod     string `json:"pod"`
				Pid     int    `json:"pid"`
				Startup string `json:"startup"`
			} `json:"workloads"`
		} `json:"run"`
	}
	if err := json.Unmarshal(report, &rep); err != nil {
		t.Fatal(err)
	}
	startup := map[string]string{}
	for _, w := range rep.Run.Workloads {
		startup[w.Pod] = w.Startup
	}
	for _, p := range before {
		if startup[p.name] != "missed" {
			t.Errorf("creport run.workloads: %s (running when recording began) has startup %q, want missed", p.name, startup[p.name])
		}
	}
	for _, p := range rolled {
		if startup[p.name] != "traced" {
			t.Errorf("creport run.workloads: %s (created while recording) has startup %q, want traced", p.name, startup[p.name])
		}
	}
	if rep.Run.Startup != "partly" {
		t.Errorf("creport run.startup = %q, want partly", rep.Run.Startup)
	}
	allowed := seccompAllowed(t, prefix+"seccomp.json")
	if !allowed["accept4"] && !allowed["accept"] {
		t.Errorf("seccomp allows neither accept4 nor accept")
	}
	if allowed["personality"] {
		t.Fatalf("seccomp allows personality, which only the unrequested endpoint calls")
	}

	// The Deployment restarted with the recorded profile as its Localhost seccomp profile, as the
	// README says: the kubelet's file in its seccomp/profiles/, the pod naming it.
	profile, err := os.ReadFile(prefix + "seccomp-k8s.json")
	if err != nil {
		t.Fatal(err)
	}
	enforced := confinedWeb(t, node, ns, profile, ns+".json", rolled)
	for _, p := range enforced {
		for _, path := range []string{"/", "/cgi-bin/hello"} {
			if code, body, err := getPod(p.ip, path); err != nil || code != 200 {
				t.Errorf("%s %s under the recorded profile: %d %q %v", p.name, path, code, body, err)
			}
		}
		code, body, err := getPod(p.ip, "/cgi-bin/personality")
		if err != nil || code != 200 || !strings.HasPrefix(body, "personality: failed") || !strings.Contains(body, "not permitted") {
			t.Errorf("%s /cgi-bin/personality under the recorded profile: %d %q %v; want EPERM from personality", p.name, code, body, err)
		}
		if p.restarts != 0 {
			t.Errorf("%s restarted %d times under the recorded profile", p.name, p.restarts)
		}
	}
}

// confinedWeb applies webDeployment of busybox-cgi in ns with profile as its
// Localhost seccomp profile, as the README says (the kubelet's file FILE in
// its seccomp/profiles/, the pod naming it), and returns its two new ready
// pods (none in old), each checked to run under a seccomp filter.
func confinedWeb(t *testing.T, node *privtest.K8sNode, ns string, profile []byte, file string, old []webPod) []webPod {
	t.Helper()
	if err := os.WriteFile(filepath.Join(node.SeccompDir, file), profile, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(node.SeccompDir, file)) })
	confined := strings.Replace(webDeployment, "      containers:\n",
		"      securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/"+file+"}}\n      containers:\n", 1)
	node.MustKubectl(t, ns, strings.NewReplacer("NS", ns, "IMAGE", "docker.io/slimtrace-fixtures/busybox-cgi:latest").Replace(confined),
		"apply", "-f", "-")
	node.WaitRollout(t, ns, "deployment/web", 3*time.Minute)
	pods := newWebPods(t, node, ns, old)
	for _, p := range pods {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^Seccomp:\s+2$`).Match(status) {
			t.Errorf("%s (pid %d) is not under a seccomp filter:\n%s", p.name, p.pid, status)
		}
	}
	return pods
}

// newWebPods waits for the Deployment's two ready pods none of which is in old.
func newWebPods(t *testing.T, node *privtest.K8sNode, ns string, old []webPod) []webPod {
	t.Helper()
	var pods []webPod
	node.WaitFor(t, ns, "two new ready web pods", 2*time.Minute, func() (bool, string, error) {
		var done bool
		var state string
		var err error
		pods, done, state, err = webPods(node, ns, 2)
		for _, p := range pods {
			for _, o := range old {
				done = done && p.containerID != o.containerID
			}
		}
		return done, state, err
	})
	return pods
}

// seccompAllowed reads a moby seccomp profile: the syscalls it allows.
func seccompAllowed(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		DefaultAction string `json:"defaultAction"`
		Syscalls      []struct {
			Names  []string `json:"names"`
			Action string   `json:"action"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if p.DefaultAction == "SCMP_ACT_ALLOW" {
		t.Fatalf("%s allows by default", path)
	}
	allowed := map[string]bool{}
	for _, s := range p.Syscalls {
		if s.Action == "SCMP_ACT_ALLOW" {
			for _, n := range s.Names {
				allowed[n] = true
			}
		}
	}
	return allowed
}

// TestK8sProfileNoExpose is the case issue 19 began with: busybox-cgi has
// no EXPOSE and its httpd forks per request. `slimtrace profile` with the
// default probe finds the port it listens on, probes it, and its kubelet
// profile, put in the node's seccomp/profiles/ as the pod snippet names it,
// is enforced on a pod that serves.
func TestK8sProfileNoExpose(t *testing.T) {
	node := privtest.K8s(t)
	addr, tar := privtest.ContainerdAddress(t), privtest.Fixture(t, "busybox-cgi")
	state, copyTo := t.TempDir(), t.TempDir()
	stdout, stderr, code := run(t, nil, "--state-path", state, "profile", "--containerd", addr,
		"--namespace", "slimtrace-cli-test", "--copy-meta-artifacts", copyTo, "docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "probes:    1 passed, 0 failed") || strings.Contains(stdout, "START-UP ONLY") {
		t.Fatalf("the default probe did not reach the port busybox-cgi listens on:\n%s\n%s", stdout, stderr)
	}
	profile, err := os.ReadFile(filepath.Join(copyTo, "busybox-cgi-seccomp-k8s.json"))
	if err != nil {
		t.Fatal(err)
	}
	snippet, err := os.ReadFile(filepath.Join(copyTo, "busybox-cgi-seccomp-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`localhostProfile: profiles/(\S+)`).FindSubmatch(snippet)
	if m == nil {
		t.Fatalf("pod snippet names no Localhost profile:\n%s", snippet)
	}
	ns := node.Namespace(t, "st-noexp")
	node.ImportImage(t, tar)
	for _, p := range confinedWeb(t, node, ns, profile, ns+"-"+string(m[1]), nil) {
		for i := 0; i < 3; i++ {
			if code, body, err := getPod(p.ip, "/"); err != nil || code != 200 || !strings.Contains(body, "busybox-cgi") {
				t.Fatalf("%s / under the profile: %d %q %v", p.name, code, body, err)
			}
		}
	}
}
