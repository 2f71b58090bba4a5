package session

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/docker"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/trace"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// workloadEnv is a store in namespace ns with the busybox-httpd fixture,
// and a runtime over it.
func workloadEnv(t *testing.T, ctx context.Context, ns string) (*image.Image, *container.Runtime) {
	t.Helper()
	addr, tar := env(t, "busybox-httpd")
	st, err := image.Connect(ctx, image.Options{Address: addr, Namespace: ns, StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	img, err := st.Resolve(ctx, "docker-archive:"+tar)
	if err != nil {
		t.Fatal(err)
	}
	return img, container.NewRuntime(st)
}

// startServer starts a busybox httpd container (cfg says how) and waits,
// polled with a deadline, until it listens.
func startServer(t *testing.T, ctx context.Context, rt *container.Runtime, img *image.Image, cfg container.RunConfig) *container.Container {
	t.Helper()
	c, err := rt.Create(ctx, img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("removing %s: %v", c.ID, err)
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg.Cmd != nil {
		return c
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ports, err := c.ListeningPorts()
		if err == nil && slices.Contains(ports, 8080) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened on 8080 (ports %v, err %v); logs: %v", c.ID, ports, err, c.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get sends one request to the container's port 8080 and returns the
// status.
func get(t *testing.T, ctx context.Context, c *container.Container, path string) int {
	t.Helper()
	cl := http.Client{Transport: &http.Transport{DialContext: c.DialContext}, Timeout: 10 * time.Second}
	resp, err := cl.Get("http://127.0.0.1:8080" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func syscallSeen(tr *trace.Report, names ...string) bool {
	return slices.ContainsFunc(tr.Syscalls, func(s trace.Syscall) bool { return slices.Contains(names, s.Name) })
}

// TestAttachContainer: profile container:ID on a running server traces
// the requests sent while attached, never stops it, and leaves nothing.
func TestAttachContainer(t *testing.T) {
	ctx := testContext(t)
	img, rt := workloadEnv(t, ctx, testNamespace)
	c := startServer(t, ctx, rt, img, container.RunConfig{})
	before, err := container.ProcessStart(c.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := rt.FindWorkloads(ctx, "container:"+c.ID[:len(c.ID)-4], docker.Options{}) // a unique prefix
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Pid != c.Pid || ws[0].CgroupPath != c.CgroupPath {
		t.Fatalf("found %+v, want pid %d cgroup %s", ws, c.Pid, c.CgroupPath)
	}
	opts := Options{HTTPProbe: true, ContinueAfter: ContinueProbe, Tool: "slimtrace test", Command: "profile"}
	opts.Probe.RetryCount, opts.Probe.RetryWait = 4, 250*time.Millisecond
	runs, err := Attach(ctx, ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer runs[0].Close(ctx)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	run := runs[0]
	prof, err := MakeProfiles(run)
	if err != nil {
		t.Fatal(err)
	}
	rep := Report(run, nil, prof, nil, creport.Artifacts{})
	if !rep.Run.Attached || rep.Run.Startup != StartupMissed || len(rep.Run.Workloads) != 1 || !rep.Run.Workloads[0].Kept {
		t.Errorf("run: attached %v, startup %q, workloads %+v", rep.Run.Attached, rep.Run.Startup, rep.Run.Workloads)
	}
	if rep.Probe.Passed == 0 || rep.Probe.Failed != 0 {
		t.Errorf("probes: %+v", rep.Probe)
	}
	if !syscallSeen(run.Trace, "accept", "accept4") || !seccompAllows(prof, "accept", "accept4") {
		t.Errorf("accept/accept4 not traced or not allowed: %v", run.Trace.Syscalls)
	}
	if f := fileOf(rep, "/www/index.html"); f == nil || !f.InImage || !slices.Contains(f.Kinds, "read") {
		t.Errorf("/www/index.html: %+v; files %+v", f, rep.Files)
	}
	if len(rep.SetupFiles) > 0 {
		t.Errorf("the server's files are counted as setup: %v", rep.SetupFiles)
	}
	// Still the same process, still serving.
	select {
	case <-c.Exited():
		t.Fatal("the container exited while attached")
	default:
	}
	if after, err := container.ProcessStart(c.Pid); err != nil || !after.Equal(before) {
		t.Errorf("pid %d started at %v, now %v (%v)", c.Pid, before, after, err)
	}
	if st := get(t, ctx, c, "/"); st != 200 {
		t.Errorf("GET / after detaching: %d", st)
	}
	if names, err := tracer.Attached(); err != nil || len(names) > 0 {
		t.Errorf("programs still attached: %v %v", names, err)
	}
}

func seccompAllows(p *Profiles, names ...string) bool {
	for _, s := range p.Seccomp.Syscalls {
		if s.Action == "SCMP_ACT_ALLOW" && slices.ContainsFunc(s.Names, func(n string) bool { return slices.Contains(names, n) }) {
			return true
		}
	}
	return false
}

// kubelet labels a container as the kubelet does: a pod's sandbox, or one
// of its containers.
func kubelet(ns, pod, uid, cname string, podLabels map[string]string) map[string]string {
	l := map[string]string{"io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.name": pod,
		"io.kubernetes.pod.uid": uid}
	if cname == "" {
		l["io.cri-containerd.kind"] = "sandbox"
		for k, v := range podLabels {
			l[k] = v
		}
	} else {
		l["io.cri-containerd.kind"] = "container"
		l["io.kubernetes.container.name"] = cname
	}
	return l
}

// progressWatch is a Progress writer that closes ready at the first line
// holding want.
// startRecording starts Record with o (and a test's Options) and returns
// once it records; the function returned ends the recording and returns
// its runs, which the test's cleanup closes.
func startRecording(t *testing.T, ctx context.Context, o RecordOptions) func() []*Run {
	t.Helper()
	progress := &progressWatch{want: "recording the containers", ready: make(chan struct{})}
	ready := progress.ready
	rctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	type result struct {
		runs []*Run
		err  error
	}
	done := make(chan result, 1)
	o.Options.Tool, o.Options.Progress = "slimtrace test", progress
	go func() {
		runs, err := Record(rctx, o)
		done <- result{runs, err}
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("record ended before it was ready: %v", r.err)
	case <-time.After(time.Minute):
		t.Fatalf("record never became ready; progress: %s", progress.buf.String())
	}
	return func() []*Run {
		t.Helper()
		stop()
		var r result
		select {
		case r = <-done:
		case <-time.After(time.Minute):
			t.Fatal("record did not end after its context did")
		}
		for _, run := range r.runs {
			t.Cleanup(func() { run.Close(context.WithoutCancel(ctx)) })
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.runs
	}
}

type progressWatch struct {
	mu    sync.Mutex
	want  string
	ready chan struct{}
	buf   strings.Builder
}

func (p *progressWatch) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	if strings.Contains(p.buf.String(), p.want) && p.ready != nil {
		close(p.ready)
		p.ready = nil
	}
	return len(b), nil
}

// TestRecordPods: record --selector follows a pod already running (from
// now on) and a pod created while recording, from its entrypoint's first
// exec, merges the replicas into one report per owner and container, and
// leaves out a pod the selector does not match. The kubelet is played by
// the test: containers with its labels in a pod cgroup layout.
func TestRecordPods(t *testing.T) {
	ctx := testContext(t)
	img, rt := workloadEnv(t, ctx, container.CRINamespace)
	parent, err := cgroup.Create(fmt.Sprintf("slimtrace-test-kubepods-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := parent.Remove(); err != nil {
			t.Errorf("removing %s: %v", parent.Path, err)
		}
	})
	rel := "/" + filepath.Base(parent.Path)
	web := map[string]string{"app": "web", "pod-template-hash": "5d9c7b"}
	sleep := []string{"/bin/busybox", "sleep", "600"}
	pod := func(name, uid string, labels map[string]string) *container.Container {
		startServer(t, ctx, rt, img, container.RunConfig{Labels: kubelet("default", name, uid, "", labels),
			CgroupsPath: rel + "/pod" + uid + "/sandbox", Entrypoint: sleep, Cmd: []string{}})
		return startServer(t, ctx, rt, img, container.RunConfig{Labels: kubelet("default", name, uid, "httpd", nil),
			CgroupsPath: rel + "/pod" + uid + "/httpd"})
	}
	old := pod("web-5d9c7b-aaaaa", "a1", web)

	end := startRecording(t, ctx, RecordOptions{Runtime: rt, Selector: map[string]string{"app": "web"},
		Namespace: "default", CgroupParent: parent.Path})
	fresh := pod("web-5d9c7b-bbbbb", "b2", web)
	other := pod("db-77f-ccccc", "c3", map[string]string{"app": "db"})
	for _, c := range []*container.Container{old, fresh, other} {
		if st := get(t, ctx, c, "/"); st != 200 {
			t.Errorf("GET / on %s: %d", c.ID, st)
		}
	}
	runs := end()
	var names []string
	for _, run := range runs {
		names = append(names, run.Name)
	}
	if len(runs) != 1 || runs[0].Name != "web-httpd" {
		t.Fatalf("runs %v, want one: web-httpd", names)
	}
	run := runs[0]
	rep := Report(run, nil, nil, nil, creport.Artifacts{})
	byPid := map[int]creport.Workload{}
	for _, w := range rep.Run.Workloads {
		byPid[w.Pid] = w
	}
	if w := byPid[old.Pid]; w.Startup != StartupMissed || !w.Kept {
		t.Errorf("the running pod's container: %+v", w)
	}
	if w := byPid[fresh.Pid]; w.Startup != StartupTraced || !w.Kept {
		t.Errorf("the new pod's container: %+v", w)
	}
	if _, ok := byPid[other.Pid]; ok || len(rep.Run.Workloads) != 2 {
		t.Errorf("workloads %+v, want the two web pods' only", rep.Run.Workloads)
	}
	if rep.Run.Startup != StartupPartly {
		t.Errorf("run.startup %q, want %q", rep.Run.Startup, StartupPartly)
	}
	if !slices.ContainsFunc(rep.Execs, func(e trace.Exec) bool {
		return e.Pid == uint32(fresh.Pid) && slices.Equal(e.Argv, fresh.Args)
	}) {
		t.Errorf("the new pod's entrypoint exec (pid %d, %v) is not in the report: %+v", fresh.Pid, fresh.Args, rep.Execs)
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
