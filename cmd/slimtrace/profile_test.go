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
		{"link", []string{"profile", "--link", "db:db", "busybox"}, []string{"--link", "--etc-hosts-map"}},
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

// seccompFile writes a profile in moby's form with one allow rule.
func seccompFile(t *testing.T, dir, name, defaultAction string, arch string, names ...string) string {
	t.Helper()
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	body := `{"defaultAction": "` + defaultAction + `", "defaultErrnoRet": 1,
  "archMap": [{"architecture": "` + arch + `", "subArchitectures": []}],
  "syscalls": [{"names": [` + strings.Join(quoted, ", ") + `], "action": "SCMP_ACT_ALLOW", "comment": "slimtrace: test"}]}`
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileMerge(t *testing.T) {
	dir := t.TempDir()
	a := seccompFile(t, dir, "a.json", "SCMP_ACT_ERRNO", "SCMP_ARCH_X86_64", "read", "write", "openat")
	b := seccompFile(t, dir, "b.json", "SCMP_ACT_ERRNO", "SCMP_ARCH_X86_64", "accept4", "read")
	c := seccompFile(t, dir, "c.json", "SCMP_ACT_ERRNO", "SCMP_ARCH_AARCH64", "epoll_pwait")

	type merged struct {
		DefaultAction string
		ArchMap       []struct{ Architecture string }
		Syscalls      []struct {
			Names  []string
			Action string
		}
	}
	stdout, stderr, code := run(t, nil, "profile", "--merge", a, b, c)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m merged
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("stdout is not a profile: %v\n%s", err, stdout)
	}
	if len(m.Syscalls) != 1 || strings.Join(m.Syscalls[0].Names, " ") != "accept4 epoll_pwait openat read write" ||
		m.DefaultAction != "SCMP_ACT_ERRNO" || len(m.ArchMap) != 2 {
		t.Errorf("merged: %+v", m)
	}

	out := filepath.Join(dir, "merged.json")
	if stdout, stderr, code := run(t, nil, "profile", "--merge", a, b, "-o", out); code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
	}
	var fromFile merged
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &fromFile) != nil ||
		strings.Join(fromFile.Syscalls[0].Names, " ") != "accept4 openat read write" {
		t.Errorf("--output: %+v %v", fromFile, err)
	}
}

func TestProfileMergeErrors(t *testing.T) {
	dir := t.TempDir()
	a := seccompFile(t, dir, "a.json", "SCMP_ACT_ERRNO", "SCMP_ARCH_X86_64", "read")
	allow := seccompFile(t, dir, "allow.json", "SCMP_ACT_ALLOW", "SCMP_ARCH_X86_64", "read")
	apparmor := filepath.Join(dir, "app-apparmor")
	report := filepath.Join(dir, "creport.json")
	for p, body := range map[string]string{apparmor: "profile app flags=(attach_disconnected) {\n}\n",
		report: `{"version": 1, "tool": "slimtrace"}`} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"one profile", []string{"--merge", a}, []string{"at least two"}},
		{"missing file", []string{"--merge", a, filepath.Join(dir, "nope.json")}, []string{"nope.json", "no such file"}},
		{"apparmor", []string{"--merge", a, apparmor}, []string{"app-apparmor is not a seccomp profile"}},
		{"report", []string{"--merge", a, report}, []string{"creport.json is not a seccomp profile"}},
		{"default actions", []string{"--merge", a, allow}, []string{"SCMP_ACT_ALLOW", "same default action"}},
		{"many images", []string{"busybox", "python"}, []string{"one image", "--merge"}},
		{"output without merge", []string{"-o", filepath.Join(dir, "x.json"), "busybox"}, []string{"--output is for --merge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, nil, append([]string{"--state-path", dir, "profile"}, tc.args...)...)
			if code == 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q", code, stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
		})
	}
}
