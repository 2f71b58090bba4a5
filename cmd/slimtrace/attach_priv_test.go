package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

// TestProfileDockerContainer is a user with a web server running in
// Docker: `slimtrace profile docker-container:NAME` attaches to it (a real
// dockerd), probes the port it listens on, and writes the profiles; the
// container keeps running, as the same process.
func TestProfileDockerContainer(t *testing.T) {
	fixture := privtest.Fixture(t, "busybox-httpd")
	host := privtest.Dockerd(t)
	docker := func(args ...string) string {
		t.Helper()
		out, err := privtest.Docker(t, host, args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(out)
	}
	docker("load", "-i", fixture)
	name := "slimtrace-attach-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	docker("run", "-d", "--network", "none", "--name", name, "slimtrace-fixtures/busybox-httpd:latest")
	defer privtest.Docker(t, host, "rm", "-f", name)
	inspect := func() (int, string) {
		pid, err := strconv.Atoi(docker("inspect", "--format", "{{.State.Pid}}", name))
		if err != nil {
			t.Fatal(err)
		}
		return pid, docker("inspect", "--format", "{{.State.Running}} {{.State.StartedAt}}", name)
	}
	pid, state := inspect()
	dir, err := cgroup.ProcessDir(pid)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ports, err := container.ListeningPorts(dir)
		if err == nil && slices.Contains(ports, 8080) {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := privtest.Docker(t, host, "logs", name)
			t.Fatalf("%s never listened on 8080 (%v, %v); logs:\n%s", name, ports, err, logs)
		}
	}

	out := t.TempDir()
	stdout, stderr, code := run(t, nil, "--state-path", t.TempDir(), "--host", host, "profile", "--continue-after", "probe",
		"--copy-meta-artifacts", out, "docker-container:"+name)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "creport.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep creport.Container
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Run.Attached || len(rep.Run.Workloads) != 1 || rep.Run.Workloads[0].Pid != pid || !rep.Run.Workloads[0].Kept {
		t.Errorf("run: %+v", rep.Run)
	}
	if rep.Probe.Passed == 0 || rep.Probe.Failed != 0 {
		t.Errorf("probes: %+v\n%s", rep.Probe, stderr)
	}
	if !slices.ContainsFunc(rep.Files, func(f creport.File) bool { return f.Path == "/www/index.html" && f.InImage }) {
		t.Errorf("/www/index.html not in the files: %+v", rep.Files)
	}
	sec, err := os.ReadFile(filepath.Join(out, name+"-seccomp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sec), `"accept"`) && !strings.Contains(string(sec), `"accept4"`) {
		t.Errorf("the seccomp profile does not allow accept:\n%s", sec)
	}
	if p2, s2 := inspect(); p2 != pid || s2 != state || !strings.HasPrefix(s2, "true ") {
		t.Errorf("the container changed: pid %d, %q; was %d, %q", p2, s2, pid, state)
	}
	if names, err := tracer.Attached(); err != nil || len(names) > 0 {
		t.Errorf("programs still attached: %v %v", names, err)
	}
}
