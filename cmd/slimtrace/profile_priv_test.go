package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

func TestProfileBadFlags(t *testing.T) {
	privtest.Root(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "probes.json")
	if err := os.WriteFile(bad, []byte("{\n  \"commands\": [\n    {\"resource\": \"/ok\"},\n    {\"method\": \"post\", \"resource\": \"/x\"}\n  ]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"malformed probe file", []string{"profile", "--http-probe-cmd-file", bad, "busybox"}, []string{"probes.json:4", "method"}},
		{"bad probe command", []string{"profile", "--http-probe-cmd", "ftp:/x", "busybox"}, []string{"ftp"}},
		{"bad link", []string{"profile", "--link", ":db", "busybox"}, []string{"--link", "container:ID"}},
		{"bad network", []string{"profile", "--network", "bridge", "busybox"}, []string{"--network", "container:REF"}},
		{"bad sidecar", []string{"profile", "--sidecar", "redis,wait=tcp:1", "busybox"}, []string{"--sidecar", "port:N"}},
		{"bad mount", []string{"profile", "--mount", "relative:/x", "busybox"}, []string{"--mount"}},
		{"bad continue-after", []string{"profile", "--continue-after", "later", "busybox"}, []string{"--continue-after"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// An unreachable containerd proves nothing was started first.
			_, stderr, code := run(t, nil, append([]string{"--state-path", dir}, c.args...)...)
			if code == 0 {
				t.Fatalf("exit 0; stderr %s", stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
			if strings.Contains(stderr, "containerd.sock") || strings.Contains(stderr, "resolving") {
				t.Errorf("containerd was contacted before the flags were checked: %s", stderr)
			}
		})
	}
}

func TestProfileArtifacts(t *testing.T) {
	addr, tar := privtest.ContainerdAddress(t), privtest.Fixture(t, "busybox-httpd")
	state, copyTo := t.TempDir(), t.TempDir()
	stdout, stderr, code := run(t, nil, "--state-path", state, "profile", "--containerd", addr,
		"--namespace", "slimtrace-cli-test", "--continue-after", "probe", "--copy-meta-artifacts", copyTo,
		"--remove-file-artifacts", "docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"probes:    1 passed, 0 failed", "busybox-httpd-seccomp.json", "creport.json",
		"seccomp:   ", "of Docker's default"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	for _, f := range []string{"creport.json", "busybox-httpd-seccomp.json", "busybox-httpd-seccomp-k8s.json",
		"busybox-httpd-seccomp-pod.yaml", "busybox-httpd-seccomp-spo.yaml", "busybox-httpd-apparmor"} {
		if _, err := os.Stat(filepath.Join(copyTo, f)); err != nil {
			t.Errorf("not copied: %v", err)
		}
	}
	var rep struct {
		Seccomp struct {
			Arch                 string
			Allowed              int
			DockerDefaultAllowed int      `json:"docker_default_allowed"`
			NotInDockerDefault   []string `json:"not_in_docker_default"`
		}
		Artifacts struct {
			SeccompKubelet string `json:"seccomp_kubelet"`
			SeccompPod     string `json:"seccomp_pod"`
			SeccompSPO     string `json:"seccomp_spo"`
		}
	}
	if b, err := os.ReadFile(filepath.Join(copyTo, "creport.json")); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("creport.json: %v", err)
	}
	if s := rep.Seccomp; s.Allowed < 20 || s.Allowed >= s.DockerDefaultAllowed || s.Arch == "" {
		t.Errorf("creport.json seccomp: %+v", s)
	}
	if a := rep.Artifacts; !strings.HasSuffix(a.SeccompKubelet, "busybox-httpd-seccomp-k8s.json") ||
		!strings.HasSuffix(a.SeccompPod, "-seccomp-pod.yaml") || !strings.HasSuffix(a.SeccompSPO, "-seccomp-spo.yaml") {
		t.Errorf("creport.json artifacts: %+v", a)
	}
	pod, _ := os.ReadFile(filepath.Join(copyTo, "busybox-httpd-seccomp-pod.yaml"))
	if !strings.Contains(string(pod), "localhostProfile: profiles/busybox-httpd.json") {
		t.Errorf("pod snippet:\n%s", pod)
	}
	left, _ := filepath.Glob(filepath.Join(state, "images", "*", "artifacts", "*"))
	if len(left) > 0 {
		t.Errorf("--remove-file-artifacts left %v", left)
	}
	if !strings.Contains(stderr, "probing over HTTP") {
		t.Errorf("no progress on stderr: %s", stderr)
	}
}

// TestFailOnUnexercised: a server no request reached is marked start-up
// only in the summary and creport.json, and --fail-on-unexercised makes
// that exit 4.
func TestFailOnUnexercised(t *testing.T) {
	addr, tar := privtest.ContainerdAddress(t), privtest.Fixture(t, "busybox-httpd")
	state := t.TempDir()
	stdout, stderr, code := run(t, nil, "--state-path", state, "profile", "--containerd", addr,
		"--namespace", "slimtrace-cli-test", "--http-probe=false", "--continue-after", "2", "--fail-on-unexercised",
		"docker-archive:"+tar)
	if code != 4 || !strings.Contains(stderr, "never exercised") || !strings.Contains(stdout, "START-UP ONLY") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	reports, _ := filepath.Glob(filepath.Join(state, "images", "*", "artifacts", "creport.json"))
	if len(reports) != 1 {
		t.Fatalf("creport.json files: %q", reports)
	}
	b, err := os.ReadFile(reports[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		StartupOnly bool `json:"startup_only"`
	}
	if err := json.Unmarshal(b, &rep); err != nil || !rep.StartupOnly {
		t.Errorf("creport.json startup_only: %v %v", rep.StartupOnly, err)
	}
}
