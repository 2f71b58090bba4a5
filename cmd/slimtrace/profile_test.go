package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
