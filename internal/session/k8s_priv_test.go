package session

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/docker"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	privtest.StopK8sNode()
	os.Exit(code)
}

// webDeployment is a Deployment of the busybox httpd fixture, container
// "httpd", pods labelled app=NAME.
func webDeployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: docker.io/slimtrace-fixtures/busybox-httpd:latest
        imagePullPolicy: Never
`, name, replicas)
}

// criRuntime connects to the node's CRI containerd.
func criRuntime(t *testing.T, ctx context.Context, n *privtest.K8sNode) *container.Runtime {
	t.Helper()
	st, err := image.Connect(ctx, image.Options{Address: n.CRI, Namespace: container.CRINamespace, StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return container.NewRuntime(st)
}

// podNames lists the pods of ns with label app=app.
func podNames(t *testing.T, n *privtest.K8sNode, ns, app string) []string {
	out := n.MustKubectl(t, ns, "", "-n", ns, "get", "pods", "-l", "app="+app, "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

// TestK8sProfilePods: on a real node, profile pod:NS/NAME attaches to one
// running pod and pod:NS/-l app=web to both replicas at once, which make
// one merged report; the pods keep their processes.
func TestK8sProfilePods(t *testing.T) {
	n := privtest.K8s(t)
	ctx := testContext(t)
	n.ImportImage(t, privtest.Fixture(t, "busybox-httpd"))
	ns := n.Namespace(t, "st-attach")
	n.MustKubectl(t, ns, webDeployment("web", 2), "-n", ns, "apply", "-f", "-")
	n.WaitRollout(t, ns, "deployment/web", 3*time.Minute)
	rt := criRuntime(t, ctx, n)
	pods := podNames(t, n, ns, "web")
	if len(pods) != 2 {
		t.Fatalf("pods %v, want 2", pods)
	}
	opts := Options{HTTPProbe: true, ContinueAfter: ContinueProbe, Tool: "slimtrace test", Command: "profile"}
	opts.Probe.RetryCount, opts.Probe.RetryWait = 4, 250*time.Millisecond

	for _, tc := range []struct {
		target string
		want   int // workloads merged
	}{
		{"pod:" + ns + "/" + pods[0], 1},
		{"pod:" + ns + "/" + pods[1] + "/httpd", 1},
		{"pod:" + ns + "/-l app=web", 2},
	} {
		t.Run(tc.target, func(t *testing.T) {
			ws, err := rt.FindWorkloads(ctx, tc.target, docker.Options{})
			if err != nil {
				n.Dump(t, ns)
				t.Fatal(err)
			}
			runs, err := Attach(ctx, ws, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range runs {
				defer r.Close(ctx)
			}
			if len(runs) != 1 || runs[0].Name != "web-httpd" {
				t.Fatalf("%d runs (%v), want one named web-httpd", len(runs), runs)
			}
			prof, err := MakeProfiles(runs[0])
			if err != nil {
				t.Fatal(err)
			}
			rep := Report(runs[0], nil, prof, nil, creport.Artifacts{})
			if len(rep.Run.Workloads) != tc.want || !rep.Run.Attached {
				t.Errorf("workloads %+v, want %d", rep.Run.Workloads, tc.want)
			}
			for _, w := range rep.Run.Workloads {
				if !w.Kept || w.Startup != StartupMissed || w.PodNamespace != ns {
					t.Errorf("workload %+v", w)
				}
			}
			if rep.Probe.Passed < tc.want || rep.Probe.Failed != 0 {
				t.Errorf("probes: %+v", rep.Probe)
			}
			if !seccompAllows(prof, "accept", "accept4") {
				t.Errorf("accept not allowed; syscalls %v", runs[0].Trace.Syscalls)
			}
			if f := fileOf(rep, "/www/index.html"); f == nil || !f.InImage {
				t.Errorf("/www/index.html: %+v", f)
			}
			if names, err := tracer.Attached(); err != nil || len(names) > 0 {
				t.Errorf("programs still attached: %v %v", names, err)
			}
		})
	}
	if now := podNames(t, n, ns, "web"); !slices.Equal(now, pods) {
		t.Errorf("pods now %v, were %v", now, pods)
	}
}

// TestK8sRecord: on a real node, record --selector app=rec follows a
// Deployment rolled out while it records: both replicas traced from their
// entrypoint's exec, one merged report, requests seen.
func TestK8sRecord(t *testing.T) {
	n := privtest.K8s(t)
	ctx := testContext(t)
	n.ImportImage(t, privtest.Fixture(t, "busybox-httpd"))
	ns := n.Namespace(t, "st-record")
	rt := criRuntime(t, ctx, n)

	end := startRecording(t, ctx, RecordOptions{Runtime: rt, Selector: map[string]string{"app": "rec"}, Namespace: ns})
	n.MustKubectl(t, ns, webDeployment("rec", 2), "-n", ns, "apply", "-f", "-")
	n.WaitRollout(t, ns, "deployment/rec", 3*time.Minute)
	ips := strings.Fields(n.MustKubectl(t, ns, "", "-n", ns, "get", "pods", "-l", "app=rec", "-o",
		"jsonpath={.items[*].status.podIP}"))
	if len(ips) != 2 {
		t.Fatalf("pod IPs %v, want 2", ips)
	}
	for _, ip := range ips {
		n.WaitFor(t, ns, "GET / on "+ip, time.Minute, func() (bool, string, error) {
			resp, err := http.Get("http://" + ip + ":8080/")
			if err != nil {
				return false, "", err
			}
			resp.Body.Close()
			return resp.StatusCode == 200, resp.Status, nil
		})
	}
	runs := end()
	if len(runs) != 1 || runs[0].Name != "rec-httpd" {
		var names []string
		for _, run := range runs {
			names = append(names, run.Name)
		}
		n.Dump(t, ns)
		t.Fatalf("runs %v, want one: rec-httpd", names)
	}
	run := runs[0]
	rep := Report(run, nil, nil, nil, creport.Artifacts{})
	// Every replica says truly whether its start was traced (its
	// entrypoint's exec in the report), and the rollout's start was: at
	// least one replica from its first exec. (Under heavy load one
	// replica of two was seen missed in about one run of four; the cause
	// is not known yet, so the report, not this test, says which.)
	traced := 0
	if len(rep.Run.Workloads) != 2 {
		t.Errorf("workloads %+v, want 2", rep.Run.Workloads)
	}
	for _, w := range rep.Run.Workloads {
		if !w.Kept || w.PodNamespace != ns || w.Container != "httpd" {
			t.Errorf("workload %+v", w)
		}
		exec := slices.ContainsFunc(rep.Execs, func(e trace.Exec) bool {
			return e.Pid == uint32(w.Pid) && slices.Contains(e.Argv, "httpd")
		})
		if exec != (w.Startup == StartupTraced) {
			t.Errorf("workload %s: startup %q, its entrypoint's exec in the report: %v", w.Pod, w.Startup, exec)
		}
		if exec {
			traced++
		} else {
			t.Logf("the entrypoint exec of %s (pid %d) is not in the report: %+v; processes %+v; lost %+v",
				w.Pod, w.Pid, rep.Execs, rep.Processes, rep.Lost)
		}
	}
	if traced == 0 || (traced == 2) != (rep.Run.Startup == StartupTraced) {
		t.Errorf("%d replicas traced from their start; run.startup %q", traced, rep.Run.Startup)
	}
	if f := fileOf(rep, "/www/index.html"); f == nil || !slices.Contains(f.Kinds, "read") {
		t.Errorf("/www/index.html: %+v", f)
	}
	if !syscallSeen(run.Trace, "accept", "accept4") {
		t.Errorf("no accept in %v", run.Trace.Syscalls)
	}
	if names, err := tracer.Attached(); err != nil || len(names) > 0 {
		t.Errorf("programs still attached: %v %v", names, err)
	}
}

// TestK8sRecordSidecar: a pod of two containers recorded at once gets a
// profile per container, each with its own syscalls: the sidecar calls
// personality(2) (busybox linux32), which the web server's profile must not
// allow; the web server accepts connections, which the sidecar never does.
func TestK8sRecordSidecar(t *testing.T) {
	n := privtest.K8s(t)
	ctx := testContext(t)
	n.ImportImage(t, privtest.Fixture(t, "busybox-cgi"))
	ns := n.Namespace(t, "st-sidecar")
	rt := criRuntime(t, ctx, n)
	end := startRecording(t, ctx, RecordOptions{Runtime: rt, Selector: map[string]string{"app": "sc"}, Namespace: ns})
	n.MustKubectl(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: sc}
spec:
  replicas: 1
  selector: {matchLabels: {app: sc}}
  template:
    metadata: {labels: {app: sc}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: docker.io/slimtrace-fixtures/busybox-cgi:latest
        imagePullPolicy: Never
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
      - name: side
        image: docker.io/slimtrace-fixtures/busybox-cgi:latest
        imagePullPolicy: Never
        command: [/bin/busybox, sh, -c, 'while :; do linux32 true; /bin/busybox sleep 0.2; done']
`, "-n", ns, "apply", "-f", "-")
	n.WaitRollout(t, ns, "deployment/sc", 3*time.Minute)
	ip := strings.TrimSpace(n.MustKubectl(t, ns, "", "-n", ns, "get", "pods", "-l", "app=sc", "-o",
		"jsonpath={.items[0].status.podIP}"))
	n.WaitFor(t, ns, "GET / on "+ip, time.Minute, func() (bool, string, error) {
		resp, err := http.Get("http://" + ip + ":8080/")
		if err != nil {
			return false, "", err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status, nil
	})
	time.Sleep(time.Second) // a few rounds of the sidecar's loop
	runs := end()
	byName := map[string]*Run{}
	for _, run := range runs {
		byName[run.Name] = run
	}
	web, side := byName["sc-web"], byName["sc-side"]
	if len(runs) != 2 || web == nil || side == nil {
		n.Dump(t, ns)
		t.Fatalf("runs %v, want sc-web and sc-side", slices.Collect(maps.Keys(byName)))
	}
	if !syscallSeen(web.Trace, "accept", "accept4") || syscallSeen(web.Trace, "personality") {
		t.Errorf("sc-web: accept %v, personality %v; want accept only", syscallSeen(web.Trace, "accept", "accept4"),
			syscallSeen(web.Trace, "personality"))
	}
	if !syscallSeen(side.Trace, "personality") || syscallSeen(side.Trace, "accept", "accept4") {
		t.Errorf("sc-side: personality %v, accept %v; want personality only", syscallSeen(side.Trace, "personality"),
			syscallSeen(side.Trace, "accept", "accept4"))
	}
	for _, run := range runs {
		for _, s := range run.Trace.Syscalls {
			if s.CgroupID != 0 {
				t.Errorf("%s: syscall %s keeps its cgroup %d", run.Name, s.Name, s.CgroupID)
			}
		}
	}
}
