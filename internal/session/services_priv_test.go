package session

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
)

// sideOptions runs redis-app with the Redis it needs as a side service.
func sideOptions(t *testing.T, addr string) Options {
	o := options(t, addr, "docker-archive:"+privtest.Fixture(t, "redis-app"))
	o.Sidecars = []SideService{{Name: "redis", Image: "docker-archive:" + privtest.Fixture(t, "redis-db")}}
	o.Probe.Cmds = []probe.Cmd{{Resource: "/"}, {Resource: "/healthz"}}
	return o
}

// noMounts checks that nothing is left mounted under the run's state path
// (the shared network namespace is a bind mount there).
func noMounts(t *testing.T, o Options) {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, o.Store.StatePath) {
			t.Errorf("left mounted: %s", l)
		}
	}
}

// TestSidecar: a web app whose / reads from Redis is slimmed with Redis as
// a side service in its network namespace (reached as redis:6379 through
// its /etc/hosts): the slim image passes --verify with Redis up, and
// nothing of Redis is in the trace, the slim image or the profiles.
// Without Redis the same app fails its probe, so the side service is what
// makes it work.
func TestSidecar(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	defer assertClean(t, addr)
	ctx := testContext(t)

	alone := sideOptions(t, addr)
	alone.Sidecars = nil
	res, err := profileRun(ctx, alone)
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Probe.HTTP[0].Status != 500 {
		t.Fatalf("without Redis / answered %d, want 500", res.Report.Probe.HTTP[0].Status)
	}

	o := sideOptions(t, addr)
	b := buildOptions(t)
	b.Tag = "docker.io/slimtrace-test/redis-app:slim"
	built, err := buildRun(ctx, o, b)
	if err != nil {
		t.Fatal(err)
	}
	rep := built.Report
	for _, p := range rep.Probe.HTTP {
		if p.Status != 200 {
			t.Errorf("with Redis %s answered %d (%s)", p.Resource, p.Status, p.Error)
		}
	}
	if len(rep.Run.SideServices) != 1 || !strings.HasPrefix(rep.Run.SideServices[0], "redis=") {
		t.Errorf("side services in the report: %q", rep.Run.SideServices)
	}
	redis := regexp.MustCompile(`redis-(server|cli|check)|/var/lib/redis|/etc/redis`)
	for _, f := range append(slices.Clone(rep.Files), rep.ExecFiles...) {
		if redis.MatchString(f.Path) {
			t.Errorf("Redis's file %s is in the trace", f.Path)
		}
	}
	for _, f := range rep.Slim.Files {
		if redis.MatchString(f.Path) {
			t.Errorf("Redis's file %s is in the slim image", f.Path)
		}
	}
	if redis.MatchString(built.Profiles.AppArmor) {
		t.Errorf("the AppArmor profile names Redis's files")
	}
	v, err := Verify(ctx, built.Run, rep.Slim.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Passed {
		t.Errorf("verify with Redis up: %q", v.Diffs)
	}
	noMounts(t, o)
}

// TestSidecarFailures: a side service that never becomes ready fails the
// run with an error naming it and its last output, and Ctrl-C while it is
// awaited returns at once; neither leaves a container, task, snapshot or
// mount behind.
func TestSidecarFailures(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	defer assertClean(t, addr)

	o := sideOptions(t, addr)
	o.Sidecars[0].Wait = Wait{Kind: WaitPort, Port: 6390, Timeout: 2 * time.Second}
	start := time.Now()
	_, err := profileRun(testContext(t), o)
	var nr *NotReadyError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "side service redis") ||
		!strings.Contains(err.Error(), "port 6390") || !strings.Contains(err.Error(), "Ready to accept connections") {
		t.Errorf("never ready: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %s", took)
	}
	assertClean(t, addr)
	noMounts(t, o)

	o = sideOptions(t, addr)
	o.Sidecars[0].Wait = Wait{Kind: WaitLog, Log: regexp.MustCompile("never printed")}
	ctx, cancel := context.WithCancel(testContext(t))
	o.Progress = &syncWriter{w: &strings.Builder{}, onWrite: func(s string) {
		if strings.Contains(s, "waiting for side service") {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	}}
	start = time.Now()
	if _, err := profileRun(ctx, o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: %v", err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("cancel took %s", took)
	}
	assertClean(t, addr)
	noMounts(t, o)
}

// TestLink: --link reaches a running container under an alias, through
// its network namespace: one run by containerd (in another namespace of
// it), one by Docker Engine (a real dockerd, --network none); and
// --network container:ID joins one without an alias.
func TestLink(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	defer assertClean(t, addr)
	ctx := testContext(t)
	db := privtest.Fixture(t, "redis-db")
	served := func(res *result) bool {
		return len(res.Report.Probe.HTTP) > 0 && res.Report.Probe.HTTP[0].Status == 200
	}

	// A Redis under containerd, in a namespace of its own.
	st, err := image.Connect(ctx, image.Options{Address: addr, Namespace: testNamespace + "-peer", StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	img, err := st.Resolve(ctx, "docker-archive:"+db)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := container.NewRuntime(st).Create(ctx, img, container.RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close(context.WithoutCancel(ctx))
	if err := peer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	o := sideOptions(t, addr)
	o.Sidecars = nil
	o.Links = []Link{{Ref: "container:" + peer.ID, Alias: "redis"}}
	res, err := profileRun(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !served(res) {
		t.Errorf("--link container:%s:redis: %+v", peer.ID, res.Report.Probe.HTTP)
	}
	o.Links = nil
	o.Run.Network, o.Run.Env = NetworkContainer+"container:"+peer.ID, []string{"REDIS_HOST=127.0.0.1"}
	if res, err = profileRun(ctx, o); err != nil || !served(res) {
		t.Errorf("--network container:container:%s: %v", peer.ID, err)
	}

	// A pod's sandbox as the kubelet's CRI plugin makes it: in containerd's
	// k8s.io namespace, labelled with the pod's namespace and name.
	sandbox := "slimtrace-test-sandbox-" + strings.ReplaceAll(t.Name(), "/", "-")
	ctr := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ctr", append([]string{"-a", addr, "-n", "k8s.io"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ctr %v: %v\n%s", args, err, out)
		}
	}
	ctr("images", "import", db)
	ctr("run", "-d", "--label", "io.kubernetes.pod.namespace=default", "--label", "io.kubernetes.pod.name=cache-pod",
		"--label", "io.cri-containerd.kind=sandbox", "docker.io/slimtrace-fixtures/redis-db:latest", sandbox)
	defer func() {
		exec.Command("ctr", "-a", addr, "-n", "k8s.io", "tasks", "rm", "-f", sandbox).Run()
		if out, err := exec.Command("ctr", "-a", addr, "-n", "k8s.io", "containers", "rm", sandbox).CombinedOutput(); err != nil {
			t.Errorf("removing the sandbox: %v\n%s", err, out)
		}
	}()
	o = sideOptions(t, addr)
	o.Sidecars = nil
	o.Links = []Link{{Ref: "pod:default/cache-pod", Alias: "redis"}}
	if res, err = profileRun(ctx, o); err != nil || !served(res) {
		t.Errorf("--link pod:default/cache-pod:redis: %v", err)
	}

	// A Redis under Docker.
	host := privtest.Dockerd(t)
	if out, err := privtest.Docker(t, host, "load", "-i", db); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	if out, err := privtest.Docker(t, host, "run", "-d", "--network", "none", "--name", "cache",
		"slimtrace-fixtures/redis-db:latest"); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	defer privtest.Docker(t, host, "rm", "-f", "cache")
	o = sideOptions(t, addr)
	o.Sidecars = nil
	o.Store.Docker.Host = host
	o.Links = []Link{{Ref: "cache", Alias: "redis"}}
	if res, err = profileRun(ctx, o); err != nil || !served(res) {
		t.Errorf("--link cache:redis (Docker): %v", err)
	}
}

// TestSidecarCancelEachPhase cancels a build with a side service (as Ctrl-C
// does) when each phase begins: it returns the cancellation and leaves no
// container, task, snapshot or mount of the app's or the service's.
func TestSidecarCancelEachPhase(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	defer assertClean(t, addr)
	for _, phase := range []string{"starting side service", "waiting for side service", "creating the container",
		"probing over HTTP", "stopping the container", "computing the file set", "building"} {
		t.Run(phase, func(t *testing.T) {
			o := sideOptions(t, addr)
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			o.Progress = &syncWriter{w: &strings.Builder{}, onWrite: func(s string) {
				if strings.Contains(s, phase) {
					cancel()
				}
			}}
			b := buildOptions(t)
			b.Tag = "docker.io/slimtrace-test/cancelled:slim"
			_, err := buildRun(ctx, o, b)
			if err == nil {
				t.Fatal("the cancelled build succeeded")
			}
			if !errors.Is(err, context.Canceled) {
				t.Logf("error (not context.Canceled, acceptable when the phase ends on its own first): %v", err)
			}
			assertClean(t, addr)
			noMounts(t, o)
		})
	}
}
