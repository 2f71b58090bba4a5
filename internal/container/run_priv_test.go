package container

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/cgroup"
)

// TestBusyboxRun goes through a whole run of the busybox-httpd fixture with
// every override, then checks Close left nothing.
func TestBusyboxRun(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(img.Name, "slimtrace-fixtures/busybox-httpd") {
		t.Errorf("name %q", img.Name)
	}
	if img.Digest().Algorithm() != "sha256" || img.ID().Algorithm() != "sha256" || img.Size <= 0 {
		t.Errorf("digest %q id %q size %d", img.Digest(), img.ID(), img.Size)
	}
	if _, ok := img.Config.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", img.Config.Config.ExposedPorts)
	}

	rwDir, roDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(roDir, "ro.txt"), []byte("read only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := rt.Create(ctx, img, RunConfig{
		Env:         []string{"SLIMTRACE_TEST=hello world", "PATH=/bin:/usr/bin"},
		Workdir:     "/tmp",
		Hostname:    "probe-host",
		Mounts:      []string{rwDir + ":/mnt/rw", roDir + ":/mnt/ro:ro", "/mnt/anon"},
		Expose:      []string{"9000/udp"},
		EtcHostsMap: []string{"db.internal:10.1.2.3"},
		DNS:         []string{"192.0.2.53"},
		DNSSearch:   []string{"example.test"},
	})
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

	// Created, not started: the cgroup exists and holds the init pid.
	if _, err := os.Stat(tg.CgroupPath); err != nil {
		t.Fatalf("cgroup before start: %v", err)
	}
	procs, err := os.ReadFile(filepath.Join(tg.CgroupPath, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(procs)), itoa(tg.Pid)) {
		t.Errorf("pid %d not in %s/cgroup.procs: %q", tg.Pid, tg.CgroupPath, procs)
	}
	if g, err := cgroup.Open(tg.CgroupPath); err != nil || g.ID != tg.CgroupID || tg.CgroupID == 0 {
		t.Errorf("cgroup id %d, cgroup.Open says %+v, %v", tg.CgroupID, g, err)
	}
	if got, _ := cgroup.ProcessDir(tg.Pid); got != tg.CgroupPath {
		t.Errorf("cgroup of pid %d is %s, want %s", tg.Pid, got, tg.CgroupPath)
	}
	if !slices.Contains(tg.Ports, Port{8080, "tcp"}) || !slices.Contains(tg.Ports, Port{9000, "udp"}) {
		t.Errorf("ports %v", tg.Ports)
	}
	select {
	case <-tg.Exited():
		t.Fatal("task exited before start")
	default:
	}

	if err := tg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	body := httpGet(t, ctx, tg, "http://"+tg.IP+":8080/index.html")
	if want := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "cat", "/www/index.html"}}); body != want || body == "" {
		t.Errorf("GET /index.html = %q, file holds %q", body, want)
	}

	checks := []struct {
		name string
		cfg  ExecConfig
		want string // substring of stdout
	}{
		{"hostname file", ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/hostname"}}, "probe-host\n"},
		{"hostname", ExecConfig{Args: []string{"/bin/busybox", "hostname"}}, "probe-host"},
		{"env", ExecConfig{Args: []string{"/bin/busybox", "env"}}, "SLIMTRACE_TEST=hello world"},
		{"exec env", ExecConfig{Args: []string{"/bin/busybox", "env"}, Env: []string{"EXTRA=1"}}, "EXTRA=1"},
		{"workdir", ExecConfig{Args: []string{"/bin/busybox", "pwd"}}, "/tmp\n"},
		{"exec workdir", ExecConfig{Args: []string{"/bin/busybox", "pwd"}, Workdir: "/etc"}, "/etc\n"},
		{"exec user", ExecConfig{Args: []string{"/bin/busybox", "id", "-u"}, User: "www-data"}, "33\n"},
		{"hosts", ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/hosts"}}, "10.1.2.3\tdb.internal"},
		{"hosts hostname", ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/hosts"}}, "127.0.0.1\tprobe-host"},
		{"dns", ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/resolv.conf"}}, "nameserver 192.0.2.53\n"},
		{"dns search", ExecConfig{Args: []string{"/bin/busybox", "cat", "/etc/resolv.conf"}}, "search example.test\n"},
		{"ro mount", ExecConfig{Args: []string{"/bin/busybox", "cat", "/mnt/ro/ro.txt"}}, "read only"},
		{"rw mount", ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "echo written > /mnt/rw/out.txt && echo ok"}}, "ok"},
		{"anon volume", ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "echo x > /mnt/anon/f && echo ok"}, User: "33:33"}, "ok"},
		{"only loopback", ExecConfig{Args: []string{"/bin/busybox", "ls", "/sys/class/net"}}, "lo\n"},
	}
	for _, c := range checks {
		if got := execOut(t, ctx, tg, c.cfg); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q: got %q, want it to contain %q", c.name, c.cfg.Args, got, c.want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rwDir, "out.txt")); err != nil || string(b) != "written\n" {
		t.Errorf("rw mount: host sees %q, %v", b, err)
	}
	_, st, err := tg.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "touch", "/mnt/ro/nope"}})
	if err != nil || st.Code == 0 {
		t.Errorf("writing to a :ro mount: exit %d, err %v; want a failure", st.Code, err)
	}
	if _, err := os.Stat(filepath.Join(roDir, "nope")); err == nil {
		t.Error("write went through the :ro mount")
	}

	var started int
	pid, st, err := tg.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c", "exit 3"}, Started: func(p int) { started = p }})
	if err != nil || st.Code != 3 || pid == 0 || pid != started {
		t.Errorf("exit 3: pid %d (started %d) status %+v err %v", pid, started, st, err)
	}

	// Exec honours its context: the process is killed.
	sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, _, err = tg.Exec(sctx, ExecConfig{Args: []string{"/bin/busybox", "sleep", "30"}})
	cancel()
	if err == nil {
		t.Error("exec outliving its context returned no error")
	}

	st, err = tg.Stop(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped: %+v", st)
	if got := <-tg.Wait(); got.Code != st.Code {
		t.Errorf("Wait after Stop: %+v, Stop said %+v", got, st)
	}
	if logs := tg.Logs(); len(logs) == 0 {
		t.Error("no logs captured (httpd -v logs each request)")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// The container's /etc/passwd, not the host's, names an exec's user, even
// when the image makes it an absolute symlink pointing at a host path.
func TestExecUserStaysInContainer(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(host, []byte("hostonly:x:4242:4242::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := rt.Create(ctx, img, RunConfig{})
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
	if err := tg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "id", "-u"}, User: "www-data"}); got != "33\n" {
		t.Fatalf("www-data from the image's /etc/passwd: uid %q", got)
	}
	execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "ln", "-sf", host, "/etc/passwd"}})
	_, _, err = tg.Exec(ctx, ExecConfig{Args: []string{"/bin/busybox", "id", "-u"}, User: "hostonly"})
	if err == nil || !strings.Contains(err.Error(), "hostonly") {
		t.Errorf("user hostonly, defined only in the host file the container's /etc/passwd points at: err %v", err)
	}
	// A relative symlink inside the container is followed as the container would.
	execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "sh", "-c",
		"echo 'inside:x:4343:4343::/:/bin/sh' > /etc/passwd.real && ln -sf passwd.real /etc/passwd"}})
	if got := execOut(t, ctx, tg, ExecConfig{Args: []string{"/bin/busybox", "id", "-u"}, User: "inside"}); got != "4343\n" {
		t.Errorf("user through a relative link: uid %q", got)
	}
}

// TestLimits: Memory and PidsLimit reach the container's cgroup (v2, or
// the v1 memory and pids hierarchies of a hybrid host), and a fork bomb
// inside stops at the pids limit.
func TestLimits(t *testing.T) {
	rt, ctx := testRuntime(t)
	img, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := rt.Create(ctx, img, RunConfig{Memory: 64 << 20, PidsLimit: 20,
		Entrypoint: []string{"sh", "-c", "for i in $(seq 40); do sleep 30 & done; wait"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// dir is a controller's directory of the task's cgroup: its unified
	// cgroup when the controller is there, else its v1 hierarchy's.
	dir := func(controller string) string {
		t.Helper()
		if ctl, _ := os.ReadFile(filepath.Join(c.CgroupPath, "cgroup.controllers")); slices.Contains(strings.Fields(string(ctl)), controller) {
			return c.CgroupPath
		}
		cg, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(cg), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), controller) {
				return filepath.Join("/sys/fs/cgroup", controller, f[2])
			}
		}
		t.Fatalf("no %s cgroup for the task", controller)
		return ""
	}
	memDir, pidsDir := dir("memory"), dir("pids")
	read := func(dir string, names ...string) string {
		t.Helper()
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		t.Fatalf("none of %v in %s", names, dir)
		return ""
	}
	if got := read(memDir, "memory.max", "memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory limit %q, want 67108864", got)
	}
	if got := read(pidsDir, "pids.max"); got != "20" {
		t.Errorf("pids limit %q, want 20", got)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	// The shell's fork fails at the limit (it may then give up and exit).
	if ev := read(pidsDir, "pids.events"); !strings.HasPrefix(ev, "max ") || ev == "max 0" {
		t.Errorf("pids.events %q: the limit was never hit", ev)
	}
}
