package container

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
)

// runAndClean creates a target, hands it to check, closes it and checks
// nothing is left.
func runAndClean(t *testing.T, rt testRT, ctx context.Context, img *image.Image, cfg RunConfig, check func(tg *Container)) {
	t.Helper()
	tg, err := rt.Create(ctx, img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	left := track(tg)
	defer func() {
		if err := tg.Close(ctx); err != nil {
			t.Error(err)
		}
		assertClean(t, ctx, rt, left)
	}()
	check(tg)
}

func waitExit(t *testing.T, tg *Container, d time.Duration) ExitStatus {
	t.Helper()
	select {
	case st := <-tg.Wait():
		return st
	case <-time.After(d):
		t.Fatalf("task did not exit in %s; logs %v", d, tg.Logs())
		return ExitStatus{}
	}
}

// TestExitAtOnce runs an app that exits right away: Wait, registered before
// Start, still sees it.
func TestExitAtOnce(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("true", func(t *testing.T) {
		runAndClean(t, rt, ctx, img, RunConfig{Entrypoint: []string{}, Cmd: []string{"/bin/busybox", "true"}}, func(tg *Container) {
			if !slices.Equal(tg.Args, []string{"/bin/busybox", "true"}) {
				t.Errorf("args %q", tg.Args)
			}
			if err := tg.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if st := waitExit(t, tg, 20*time.Second); st.Code != 0 || st.Err != nil || st.ExitedAt.IsZero() {
				t.Errorf("status %+v", st)
			}
			// Stop after the exit just reports it.
			if st, err := tg.Stop(ctx, time.Second); err != nil || st.Code != 0 {
				t.Errorf("stop after exit: %+v %v", st, err)
			}
		})
	})
	t.Run("exit code and logs", func(t *testing.T) {
		var stream bytes.Buffer
		cfg := RunConfig{
			Entrypoint: []string{"/bin/busybox", "sh", "-c"},
			Cmd:        []string{"echo to-stdout; echo to-stderr >&2; printf no-newline; exit 7"},
			LogLines:   2,
			LogWriter:  &stream,
			LogPrefix:  "app| ",
		}
		runAndClean(t, rt, ctx, img, cfg, func(tg *Container) {
			if err := tg.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if st := waitExit(t, tg, 20*time.Second); st.Code != 7 {
				t.Errorf("status %+v", st)
			}
			// Output is copied asynchronously; give it a moment.
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(stream.String(), "to-stderr") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			logs := tg.Logs()
			if len(logs) < 2 || !slices.Contains(logs, LogLine{"stderr", "to-stderr"}) || slices.Contains(logs, LogLine{"stdout", "to-stdout"}) && len(logs) < 3 {
				t.Errorf("logs %v", logs)
			}
			if !slices.Contains(logs, LogLine{"stdout", "no-newline"}) {
				t.Errorf("partial last line missing from logs %v", logs)
			}
			for _, w := range []string{"app| to-stdout\n", "app| to-stderr\n"} {
				if !strings.Contains(stream.String(), w) {
					t.Errorf("streamed logs %q lack %q", stream.String(), w)
				}
			}
		})
	})
}

// TestCreateFailures checks that bad run configs, and creates that fail
// half-way, fail clearly and leave nothing behind.
func TestCreateFailures(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	snapsBefore := runSnapshots(t, ctx, rt)
	cases := []struct {
		name string
		cfg  RunConfig
		want string
	}{
		{"relative mount", RunConfig{Mounts: []string{"data:/data"}}, "not absolute"},
		{"bad mount option", RunConfig{Mounts: []string{"/tmp:/data:rx"}}, `unknown option "rx"`},
		{"missing mount source", RunConfig{Mounts: []string{"/nonexistent/dir:/data"}}, "/nonexistent/dir"},
		{"too many colons", RunConfig{Mounts: []string{"/a:/b:ro:x"}}, "HOST:CONTAINER"},
		{"bad network", RunConfig{Network: "bridge"}, `network "bridge"`},
		{"bad host entry", RunConfig{EtcHostsMap: []string{"db"}}, "HOST:IP"},
		{"bad dns", RunConfig{DNS: []string{"resolver.example"}}, "not an IP"},
		{"bad expose", RunConfig{Expose: []string{"http"}}, "bad port"},
		{"no command", RunConfig{Entrypoint: []string{}}, "no ENTRYPOINT or CMD"},
		// These fail after the run directory, netns, snapshot or container
		// exist.
		{"unknown user", RunConfig{User: "nosuchuser"}, "nosuchuser"},
		{"missing entrypoint", RunConfig{Entrypoint: []string{"/nonexistent/app"}}, "creating task"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg, err := rt.Create(ctx, img, c.cfg)
			if err == nil {
				tg.Close(ctx)
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			assertNoRuns(t, ctx, rt, snapsBefore)
		})
	}
}

// runSnapshots lists the snapshots named like run IDs.
func runSnapshots(t *testing.T, ctx context.Context, rt testRT) []string {
	t.Helper()
	var keys []string
	err := rt.client.SnapshotService(rt.opts.Snapshotter).Walk(rt.nsctx(ctx), func(_ context.Context, i snapshots.Info) error {
		if strings.HasPrefix(i.Name, "slimtrace-") {
			keys = append(keys, i.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// assertNoRuns checks that no run of rt is left: no run directory, no mount
// under the state path, no labelled container, no new snapshot.
func assertNoRuns(t *testing.T, ctx context.Context, rt testRT, snapsBefore []string) {
	t.Helper()
	ents, err := os.ReadDir(rt.opts.StatePath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left in state path: %s", e.Name())
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(rt.opts.StatePath)) {
		t.Errorf("mounts left under %s:\n%s", rt.opts.StatePath, grepLines(mi, rt.opts.StatePath))
	}
	cs, err := rt.client.Containers(rt.nsctx(ctx), "labels."+LabelRun)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Errorf("container left: %s", c.ID())
	}
	if after := runSnapshots(t, ctx, rt); !slices.Equal(after, snapsBefore) {
		t.Errorf("snapshots: before %v after %v", snapsBefore, after)
	}
}

// TestCloseCancelled closes a created, never started target with a context
// that is already cancelled, twice.
func TestCloseCancelled(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	tg, err := rt.Create(cctx, img, RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	left := track(tg)
	cancel()
	if err := tg.Close(cctx); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := tg.Close(cctx); err != nil {
		t.Errorf("second close: %v", err)
	}
	assertClean(t, ctx, rt, left)
	select {
	case st := <-tg.Wait():
		t.Logf("status after close: %+v", st)
	case <-time.After(10 * time.Second):
		t.Error("Wait did not return after Close")
	}
	if err := tg.Start(ctx); err == nil {
		t.Error("start after close worked")
	}
}

// TestHostNetwork runs on the host's network: no netns of our own, but the
// hostname and etc files are still the run's.
func TestHostNetwork(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := RunConfig{Network: NetworkHost, Entrypoint: []string{"/bin/busybox", "sleep", "60"}, EtcHostsMap: []string{"db:10.9.8.7"}}
	runAndClean(t, rt, ctx, img, cfg, func(tg *Container) {
		if tg.NetNSPath != "" {
			t.Errorf("netns %q on the host network", tg.NetNSPath)
		}
		if err := tg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/hostname"}}); got != tg.ID+"\n" {
			t.Errorf("hostname %q, want %q", got, tg.ID)
		}
		if got := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/hosts"}}); !strings.Contains(got, "10.9.8.7\tdb\n") {
			t.Errorf("hosts %q", got)
		}
		hostNS, _ := os.Readlink("/proc/self/ns/net")
		if ns, _ := os.Readlink(filepath.Join("/proc", itoa(tg.Pid), "ns/net")); ns != hostNS {
			t.Errorf("task netns %s, host %s", ns, hostNS)
		}
		if st, err := tg.Stop(ctx, 2*time.Second); err != nil || st.Code != 137 {
			t.Errorf("stop: %+v %v", st, err)
		}
	})
}

// TestHealthcheck runs an image's HEALTHCHECK through Exec.
func TestHealthcheck(t *testing.T) {
	rt, ctx := testRuntime(t)
	p := privtest.RewriteArchive(t, fixture(t, "busybox-httpd"), func(ms *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		(*ms)[0].RepoTags = []string{"slimtrace-test/healthcheck:latest"}
		c := cfgs[(*ms)[0].Config]["config"].(map[string]any)
		c["Healthcheck"] = map[string]any{
			"Test":     []string{"CMD-SHELL", "/bin/busybox wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"},
			"Interval": int64(2 * time.Second), "Timeout": int64(time.Second), "Retries": 3,
		}
		c["StopSignal"] = "SIGKILL"
	})
	img, err := rt.Resolve(ctx, "docker-archive:"+p)
	if err != nil {
		t.Fatal(err)
	}
	hc := img.Config.Config.Healthcheck
	if hc == nil || hc.Interval != 2*time.Second || hc.Retries != 3 {
		t.Fatalf("healthcheck %+v", hc)
	}
	cmd := HealthcheckArgs(hc)
	if !slices.Equal(cmd[:2], []string{"/bin/sh", "-c"}) {
		t.Fatalf("command %q", cmd)
	}
	runAndClean(t, rt, ctx, img, RunConfig{}, func(tg *Container) {
		if err := tg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		httpGet(t, ctx, tg, "http://127.0.0.1:8080/")
		if _, st, err := tg.Exec(ctx, ExecConfig{Args: cmd}); err != nil || st.Code != 0 {
			t.Errorf("healthcheck: %+v %v", st, err)
		}
		// StopSignal SIGKILL: stops at once.
		start := time.Now()
		if st, err := tg.Stop(ctx, 30*time.Second); err != nil || st.Code != 137 || time.Since(start) > 10*time.Second {
			t.Errorf("stop with SIGKILL: %+v %v after %s", st, err, time.Since(start))
		}
	})
}

// TestImageUnchanged checks that a run does not change the image: same
// digest and ID after it, and a new run does not see the old run's files.
func TestImageUnchanged(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	runAndClean(t, rt, ctx, img, RunConfig{}, func(tg *Container) {
		if err := tg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "echo changed > /www/index.html; echo new > /new-file"}})
		if _, err := tg.Stop(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	})
	again, err := rt.Resolve(ctx, img.Name)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest() != img.Digest() || again.ID() != img.ID() || again.Size != img.Size {
		t.Errorf("image changed: %s %s %d, was %s %s %d", again.Digest(), again.ID(), again.Size, img.Digest(), img.ID(), img.Size)
	}
	runAndClean(t, rt, ctx, again, RunConfig{}, func(tg *Container) {
		if err := tg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, st, _ := tg.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "test", "-e", "/new-file"}}); st.Code == 0 {
			t.Error("a new run sees the last run's file")
		}
		if got := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "cat", "/www/index.html"}}); got == "changed\n" {
			t.Error("a new run sees the last run's change")
		}
		tg.Stop(ctx, time.Second)
	})
}

// TestPythonApp runs the python-app fixture and reaches it.
func TestPythonApp(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "python-app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.Config.Config.ExposedPorts["8000/tcp"]; !ok {
		t.Errorf("exposed ports %v", img.Config.Config.ExposedPorts)
	}
	runAndClean(t, rt, ctx, img, RunConfig{}, func(tg *Container) {
		if err := tg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if got := httpGet(t, ctx, tg, "http://127.0.0.1:8000/healthz"); got != "ok\n" {
			t.Errorf("GET /healthz = %q", got)
		}
		start := time.Now()
		st, err := tg.Stop(ctx, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped in %s: %+v", time.Since(start), st)
	})
}

// TestPrune removes a run whose owner died and leaves a live one alone.
func TestPrune(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	live, err := rt.Create(ctx, img, RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(ctx)
	dead, err := rt.Create(ctx, img, RunConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Start(ctx); err != nil {
		t.Fatal(err)
	}
	left := track(dead)
	// Make the run look like one whose slimtrace died.
	if _, err := dead.container.SetLabels(rt.nsctx(ctx), map[string]string{labelOwner: "999999999@1"}); err != nil {
		t.Fatal(err)
	}
	if image.OwnerID(os.Getpid()) == "" || !image.OwnerAlive(image.OwnerID(os.Getpid())) || image.OwnerAlive("999999999@1") {
		t.Fatal("owner identity does not work")
	}
	pruned, err := rt.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pruned, []string{dead.ID}) {
		t.Errorf("pruned %v, want [%s]", pruned, dead.ID)
	}
	assertClean(t, ctx, rt, left)
	if _, err := rt.client.LoadContainer(rt.nsctx(ctx), live.ID); err != nil {
		t.Errorf("live run pruned: %v", err)
	}
	if _, err := os.Stat(live.NetNSPath); err != nil {
		t.Errorf("live run's netns: %v", err)
	}
}

// TestStopIdle: an app that catches its stop signal and then does nothing
// (as php -S does) is killed once it has used no CPU for StopIdle, not
// after the whole stop timeout; one that works through its shutdown is
// left to finish it and exits by itself.
func TestStopIdle(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, script string
		killed       string
		code         int
	}{
		{"ignores", `trap 'echo term' TERM; while :; do /bin/busybox sleep 5; done`, KilledIdle, 137},
		{"shuts down", `trap 'i=0; while [ $i -lt 1500000 ]; do i=$((i+1)); done; exit 7' TERM; while :; do /bin/busybox sleep 0.1; done`, "", 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			runAndClean(t, rt, ctx, img, RunConfig{Entrypoint: []string{"/bin/busybox", "sh", "-c", c.script}}, func(tg *Container) {
				if err := tg.Start(ctx); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond) // the shell sets its trap
				start := time.Now()
				st, err := tg.Stop(ctx, 30*time.Second)
				took := time.Since(start)
				t.Logf("%s: exit %d, killed %q, after %s", c.name, st.Code, st.Killed, took)
				if err != nil || st.Killed != c.killed || st.Code != c.code {
					t.Errorf("stop: %+v %v, want killed %q code %d", st, err, c.killed, c.code)
				}
				if took > 10*time.Second || c.killed == "" && took < StopIdle {
					t.Errorf("stop took %s (a shutdown that works longer than StopIdle proves it is not cut short)", took)
				}
			})
		})
	}
}
