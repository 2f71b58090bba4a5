package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestBuildRegistryRoundTrip is a CI pipeline: a fat image only a registry
// has (a real docker-registry, started for the test), `slimtrace build
// --push docker://HOST/app:1`, the slim image in the registry (skopeo
// inspect), and a fresh pull of it that runs and answers the probes. Once
// over plain HTTP on 127.0.0.1, once over TLS with a CA of the test's and
// basic auth, the credentials only in a Docker config file.
func TestBuildRegistryRoundTrip(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	fixture := privtest.Fixture(t, "busybox-httpd")
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "tls+auth"}[secure], func(t *testing.T) {
			var reg *privtest.Registry
			var env []string
			if secure {
				reg = privtest.StartTLSRegistry(t)
				cfg := t.TempDir()
				auth := base64.StdEncoding.EncodeToString([]byte(reg.User + ":" + reg.Password))
				if err := os.WriteFile(filepath.Join(cfg, "config.json"),
					[]byte(`{"auths":{"`+reg.Host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
					t.Fatal(err)
				}
				env = []string{"DOCKER_CONFIG=" + cfg, "SSL_CERT_FILE=" + reg.CAFile}
			} else {
				reg = privtest.StartRegistry(t)
			}
			fat := reg.Push(t, fixture, "app:1")
			// Namespaces of their own: nothing local to find first.
			ns := "slimtrace-cli-registry-" + map[bool]string{false: "http", true: "tls"}[secure]
			stdout, stderr, code := runAs(t, nil, env, "--state-path", t.TempDir(), "build", "--containerd", addr,
				"--namespace", ns, "--continue-after", "probe", "--push", "docker://"+fat)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			slim := reg.Host + "/app.slim:1"
			defer exec.Command("ctr", "-a", addr, "-n", ns, "images", "rm", fat, slim).Run()
			for _, w := range []string{"from registry " + reg.Host, slim, "registry " + reg.Host} {
				if !strings.Contains(stdout, w) {
					t.Errorf("summary lacks %q:\n%s", w, stdout)
				}
			}
			if strings.Contains(stdout+stderr, reg.Password) && secure {
				t.Error("the registry password is in slimtrace's output")
			}
			if _, err := reg.Inspect(t, slim); err != nil {
				t.Fatalf("the slim image is not in the registry: %v", err)
			}
			fresh := ns + "-fresh"
			stdout, stderr, code = runAs(t, nil, env, "--state-path", t.TempDir(), "profile", "--containerd", addr,
				"--namespace", fresh, "--continue-after", "probe", "docker://"+slim)
			defer exec.Command("ctr", "-a", addr, "-n", fresh, "images", "rm", slim).Run()
			if code != 0 || !strings.Contains(stdout, "probes:    1 passed, 0 failed") {
				t.Errorf("the pulled slim image: exit %d\n%s\n%s", code, stdout, stderr)
			}
		})
	}
}

// TestBuildCompose is a user with a Compose file: the web service, whose /
// reads Redis, is slimmed with the redis service started first (waited for
// until healthy, as depends_on says) and passes --verify with it up.
func TestBuildCompose(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	privtest.Fixture(t, "redis-app")
	privtest.Fixture(t, "redis-db")
	const ns = "slimtrace-cli-compose"
	// The compose file names the images as the fixtures are tagged; load
	// them into the namespace as a user's store would hold them.
	for _, f := range []string{"redis-app", "redis-db"} {
		if out, err := exec.Command("ctr", "-a", addr, "-n", ns, "images", "import", privtest.Fixture(t, f)).CombinedOutput(); err != nil {
			t.Fatalf("ctr import: %v\n%s", err, out)
		}
	}
	compose, err := filepath.Abs("../../testdata/apps/redis-app/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := run(t, nil, "--state-path", t.TempDir(), "build", "--containerd", addr, "--namespace", ns,
		"--continue-after", "probe", "--compose-file", compose, "--target-compose-svc", "web", "--verify",
		"--tag", "slimtrace-test/compose-web:slim")
	defer exec.Command("ctr", "-a", addr, "-n", ns, "images", "rm", "docker.io/slimtrace-test/compose-web:slim").Run()
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"verify:    passed", "probes:    1 passed, 0 failed"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "waiting for side service redis: its healthcheck") {
		t.Errorf("redis was not awaited as healthy:\n%s", stderr)
	}
	out, _ := exec.Command("ctr", "-a", addr, "-n", ns, "containers", "ls", "-q").CombinedOutput()
	if strings.Contains(string(out), "slimtrace-") {
		t.Errorf("containers left: %s", out)
	}
}
