package session

import (
	"context"
	"fmt"
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
