package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// secretImage is the busybox-httpd fixture with a secret in its ENV and in
// the build step that set it.
func secretImage(t *testing.T) string {
	return privtest.RewriteArchive(t, privtest.Fixture(t, "busybox-httpd"), func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			conf, _ := c["config"].(map[string]any)
			env, _ := conf["Env"].([]any)
			conf["Env"] = append(env, "API_TOKEN=img-env-secret", "LANG=C.UTF-8")
			hist, _ := c["history"].([]any)
			c["history"] = append(hist, map[string]any{"created_by": "/bin/sh -c #(nop) ENV API_TOKEN=img-env-secret", "empty_layer": true})
		}
	})
}

// grepTree fails the test when a file under dir holds one of secrets, and
// checks that files are 0600 in 0700 directories when private is set.
func grepTree(t *testing.T, dir string, private bool, secrets ...string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		if private && d.IsDir() && p != dir && filepath.Base(p) != "buildkit" && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700", p, fi.Mode().Perm())
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if private && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return nil
	})
}

// TestSecretsStayIn: info's output and Dockerfile.fat, and a profile run's
// artifacts, summary and debug log, show no secret-looking env value of the
// image or the run, no probe-file credential and no Authorization or
// Cookie header; artifacts are 0600 in 0700 directories. With
// --report-env-values, info shows the image's.
func TestSecretsStayIn(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	tar := secretImage(t)
	ns := "slimtrace-cli-secrets"
	state, copyTo := t.TempDir(), t.TempDir()
	defer run(t, nil, "--state-path", state, "prune", "--containerd", addr, "--namespace", ns)

	stdout, stderr, code := run(t, nil, "--log-level", "debug", "--state-path", state, "info", "--containerd", addr,
		"--namespace", ns, "--no-trunc", "docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "img-env-secret") || !strings.Contains(stdout, "API_TOKEN=<redacted>") {
		t.Errorf("info shows the secret, or not its redacted name:\n%s\n%s", stdout, stderr)
	}
	jout, _, _ := run(t, nil, "--state-path", state, "info", "--containerd", addr, "--namespace", ns, "--output", "json", "docker-archive:"+tar)
	if strings.Contains(jout, "img-env-secret") {
		t.Errorf("info --output json shows the secret:\n%s", jout)
	}
	grepTree(t, filepath.Join(state, "images"), true, "img-env-secret")
	shown, _, _ := run(t, nil, "--state-path", t.TempDir(), "info", "--containerd", addr, "--namespace", ns, "--report-env-values", "docker-archive:"+tar)
	if strings.Count(shown, "API_TOKEN=img-env-secret") < 2 { // config and history
		t.Errorf("--report-env-values hides the value:\n%s", shown)
	}

	probes := filepath.Join(t.TempDir(), "probes.json")
	if err := os.WriteFile(probes, []byte(`{"commands": [
		{"resource": "/", "headers": ["Authorization: Bearer hdr-auth-secret", "Cookie: session=hdr-cookie-secret"]},
		{"resource": "/index.html", "username": "admin", "password": "probe-pw-secret"}
	]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "slimtrace.log")
	stdout, stderr, code = run(t, nil, "--log-level", "debug", "--log", logFile, "--state-path", state, "profile",
		"--containerd", addr, "--namespace", ns, "--continue-after", "probe", "--http-probe-cmd-file", probes,
		"--env", "DB_PASSWORD=run-env-secret", "--copy-meta-artifacts", copyTo, "docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("profile: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "probes:    3 passed") {
		t.Errorf("the probes did not all run:\n%s", stdout)
	}
	secrets := []string{"img-env-secret", "run-env-secret", "hdr-auth-secret", "hdr-cookie-secret", "probe-pw-secret",
		"YWRtaW46cHJvYmUtcHctc2VjcmV0"} // base64 of admin:probe-pw-secret
	for _, s := range secrets {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("the summary or log shows %q", s)
		}
	}
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), "probe request") {
		t.Fatalf("debug log: %v\n%s", err, b)
	}
	grepTree(t, filepath.Dir(logFile), false, secrets...)
	grepTree(t, filepath.Join(state, "images"), true, secrets...)
	grepTree(t, copyTo, false, secrets...)
	rep, _ := os.ReadFile(filepath.Join(copyTo, "creport.json"))
	if r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(rep)); !strings.Contains(r, "API_TOKEN=<redacted>") ||
		!strings.Contains(r, "DB_PASSWORD=<redacted>") {
		t.Errorf("creport.json lacks the redacted names")
	}
	// The default limits of the traced container are recorded.
	if !strings.Contains(string(rep), `"memory_limit": 4294967296`) || !strings.Contains(string(rep), `"pids_limit": 4096`) {
		t.Errorf("creport.json lacks the run's memory and pids limits")
	}
}

// argvSecretImage is the busybox-httpd fixture whose entrypoint and
// HEALTHCHECK carry secrets as flag values (`--password=x`, `--token x`,
// and inside a shell command line), as does the history step that set the
// entrypoint.
func argvSecretImage(t *testing.T) string {
	return privtest.RewriteArchive(t, privtest.Fixture(t, "busybox-httpd"), func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			conf, _ := c["config"].(map[string]any)
			conf["Entrypoint"] = []any{"/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -v -p 8080 -h /www",
				"--password=argv-pw-secret", "--token", "argv-token-secret"}
			conf["Healthcheck"] = map[string]any{"Test": []any{"CMD-SHELL", "/bin/busybox true --api-key hc-key-secret"}}
			hist, _ := c["history"].([]any)
			c["history"] = append(hist, map[string]any{"empty_layer": true, "created_by": `/bin/sh -c #(nop)  ENTRYPOINT ["/bin/busybox","sh","-c","exec /bin/busybox httpd -f -v -p 8080 -h /www","--password=argv-pw-secret","--token","argv-token-secret"]`})
		}
	})
}

// TestArgvSecretsStayIn: the values of secret-looking flags in the image's
// entrypoint and HEALTHCHECK, and in the user's --exec and --exec-probe
// commands, are in neither info's output, Dockerfile.fat, nor a profile
// run's artifacts (creport.json: config, run args, execs, probes), summary
// or debug log; the flag names stay, and the app still serves.
func TestArgvSecretsStayIn(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	tar := argvSecretImage(t)
	ns := "canary-cli-argv-secrets"
	state, copyTo := t.TempDir(), t.TempDir()
	defer run(t, nil, "--state-path", state, "prune", "--containerd", addr, "--namespace", ns)
	secrets := []string{"argv-pw-secret", "argv-token-secret", "hc-key-secret", "exec-pw-secret", "exec-probe-token-secret"}

	stdout, stderr, code := run(t, nil, "--log-level", "debug", "--state-path", state, "info", "--containerd", addr,
		"--namespace", ns, "--no-trunc", "--copy-meta-artifacts", copyTo, "docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("info: exit %d\n%s", code, stderr)
	}
	for _, s := range secrets {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("info shows %q:\n%s\n%s", s, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, "--password=<redacted>") {
		t.Errorf("info does not show the redacted flag name:\n%s", stdout)
	}
	fat, _ := os.ReadFile(filepath.Join(copyTo, "Dockerfile.fat"))
	if !strings.Contains(string(fat), "ENTRYPOINT") || !strings.Contains(string(fat), "--token") {
		t.Errorf("Dockerfile.fat lacks the entrypoint:\n%s", fat)
	}

	logFile := filepath.Join(t.TempDir(), "slimtrace.log")
	stdout, stderr, code = run(t, nil, "--log-level", "debug", "--log", logFile, "--state-path", state, "profile",
		"--containerd", addr, "--namespace", ns, "--continue-after", "probe", "--copy-meta-artifacts", copyTo,
		"--exec", "/bin/busybox true --password=exec-pw-secret", "--exec-probe", "true --token exec-probe-token-secret",
		"docker-archive:"+tar)
	if code != 0 {
		t.Fatalf("profile: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "passed") || strings.Contains(stdout, " 0 passed") {
		t.Errorf("the app did not serve the probes:\n%s", stdout)
	}
	for _, s := range secrets {
		if strings.Contains(stdout+stderr, s) {
			t.Errorf("the summary or log shows %q:\n%s\n%s", s, stdout, stderr)
		}
	}
	grepTree(t, filepath.Dir(logFile), false, secrets...)
	grepTree(t, filepath.Join(state, "images"), true, secrets...)
	grepTree(t, copyTo, false, secrets...)
	rep, _ := os.ReadFile(filepath.Join(copyTo, "creport.json"))
	if r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(string(rep)); !strings.Contains(r, `"--token",`) ||
		!strings.Contains(r, "--password=<redacted>") {
		t.Errorf("creport.json lacks the redacted flags")
	}
}
