package container

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
)

// Privileged tests: real containerd (CONTAINERD_ADDRESS) and runc, as root,
// with the fixture tarballs from testdata/images/build.sh.

// testNamespace is the containerd namespace tests use unless
// CONTAINERD_NAMESPACE names another.
const testNamespace = "slimtrace-test"

func testContext(t *testing.T) context.Context { return privtest.Context(t, 3*time.Minute) }

// testRT is an image store and the runtime over it: tests resolve images
// and run containers through one value.
type testRT struct {
	*image.Store
	*Runtime
}

// testRuntime connects to the containerd under test, with a state path
// private to the test.
func testRuntime(t *testing.T) (testRT, context.Context) {
	t.Helper()
	privtest.Root(t)
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		privtest.Skip(t, "CONTAINERD_ADDRESS is not set (start one with .ci/services.sh start)")
	}
	ns := os.Getenv("CONTAINERD_NAMESPACE")
	if ns == "" {
		ns = testNamespace
	}
	ctx := testContext(t)
	st, err := image.Connect(ctx, image.Options{Address: addr, Namespace: ns, StatePath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return testRT{st, NewRuntime(st)}, ctx
}

// fixture returns the path of a fixture image tarball.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("SLIMTRACE_FIXTURES")
	if dir == "" {
		cache := os.Getenv("SLIMTRACE_CACHE")
		if cache == "" {
			cache = "/var/cache/slimtrace"
		}
		dir = filepath.Join(cache, "fixtures")
	}
	p := filepath.Join(dir, name+".tar")
	if _, err := os.Stat(p); err != nil {
		privtest.Skip(t, fmt.Sprintf("fixture %s missing (make fixtures): %v", p, err))
	}
	return p
}

// execOut runs args in tg and returns stdout, failing on a non-zero exit.
func execOut(t *testing.T, ctx context.Context, tg *Container, cfg ExecConfig) string {
	t.Helper()
	var out, errb bytes.Buffer
	cfg.Stdout, cfg.Stderr = &out, &errb
	pid, st, err := tg.Exec(ctx, cfg)
	if err != nil {
		t.Fatalf("exec %q: %v", cfg.Args, err)
	}
	if pid <= 0 {
		t.Errorf("exec %q: pid %d", cfg.Args, pid)
	}
	if st.Code != 0 {
		t.Fatalf("exec %q: exit %d, stderr %q", cfg.Args, st.Code, errb.String())
	}
	return out.String()
}

// httpGet fetches url through tg's network namespace, retrying until the
// server answers or 20s pass.
func httpGet(t *testing.T, ctx context.Context, tg *Container, url string) string {
	t.Helper()
	c := &http.Client{
		Transport: &http.Transport{DialContext: tg.DialContext, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %s, read error %v", resp.Status, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v; logs: %v", url, err, tg.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leftovers are what a run could leave behind.
type leftovers struct {
	id, netns, runDir, cgroup string
}

func track(tg *Container) leftovers { return leftovers{tg.ID, tg.NetNSPath, tg.RunDir, tg.CgroupPath} }

// assertClean checks, through the client and the host, that nothing of a
// run is left.
func assertClean(t *testing.T, ctx context.Context, rt testRT, l leftovers) {
	t.Helper()
	ctx = rt.nsctx(ctx)
	if _, err := rt.client.LoadContainer(ctx, l.id); !errdefs.IsNotFound(err) {
		t.Errorf("container %s still there (err %v)", l.id, err)
	}
	if _, err := rt.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: l.id}); !errdefs.IsNotFound(errgrpc.ToNative(err)) {
		t.Errorf("task %s still there (err %v)", l.id, err)
	}
	if _, err := rt.client.SnapshotService(rt.opts.Snapshotter).Stat(ctx, l.id); !errdefs.IsNotFound(err) {
		t.Errorf("snapshot %s still there (err %v)", l.id, err)
	}
	cs, err := rt.client.Containers(ctx, fmt.Sprintf("labels.%q==%s", LabelRun, l.id))
	if err != nil || len(cs) != 0 {
		t.Errorf("containers labelled %s: %d (err %v)", l.id, len(cs), err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if l.netns != "" && bytes.Contains(mi, []byte(l.netns)) {
		t.Errorf("netns %s still mounted", l.netns)
	}
	if bytes.Contains(mi, []byte(l.id)) {
		t.Errorf("a mount naming %s is left:\n%s", l.id, grepLines(mi, l.id))
	}
	for _, p := range []string{l.netns, l.runDir, l.cgroup} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (err %v)", p, err)
		}
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return strings.Join(out, "\n")
}
