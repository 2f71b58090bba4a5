package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestBuildFromDocker is a user with Docker Engine: `slimtrace build NAME`
// on an image only Docker holds (a real dockerd 20.10, started for the
// test) finds it there, and NAME.slim appears in `docker images`, runs
// under `docker run --network host` and answers the app's probes; the fat
// image is unchanged and no copy of the slim one is left in containerd.
func TestBuildFromDocker(t *testing.T) {
	addr := privtest.ContainerdAddress(t)
	fixture := privtest.Fixture(t, "busybox-httpd")
	host := privtest.Dockerd(t)
	docker := func(args ...string) string {
		t.Helper()
		out, err := privtest.Docker(t, host, args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		return out
	}
	docker("load", "-i", fixture)
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	name, slim := "slimtrace-test/web:"+tag, "slimtrace-test/web.slim:"+tag
	docker("tag", "slimtrace-fixtures/busybox-httpd:latest", name)
	fatID := docker("image", "inspect", "--format", "{{.Id}}", name)
	const ns = "slimtrace-cli-test"
	// The copy of Docker's image slimtrace keeps in containerd.
	defer exec.Command("ctr", "-a", addr, "-n", ns, "images", "rm", "docker.io/"+name).Run()

	stdout, stderr, code := run(t, nil, "--state-path", t.TempDir(), "--host", host, "build", "--containerd", addr,
		"--namespace", ns, "--continue-after", "probe", "--http-probe-cmd", "/about.html", name)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"from Docker Engine at " + host, "in Docker Engine at " + host, "docker.io/" + slim} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q:\n%s", w, stdout)
		}
	}
	if got := docker("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(got, slim) {
		t.Fatalf("docker images lacks %s:\n%s", slim, got)
	}
	if after := docker("image", "inspect", "--format", "{{.Id}}", name); after != fatID {
		t.Errorf("the fat image changed: %s, was %s", after, fatID)
	}
	if out, _ := exec.Command("ctr", "-a", addr, "-n", ns, "images", "ls", "-q").CombinedOutput(); strings.Contains(string(out), "web.slim") {
		t.Errorf("a copy of the slim image is left in containerd:\n%s", out)
	}

	// The app's own command, on a free port of the host's network.
	port := privtest.FreePort(t)
	id := docker("run", "-d", "--network", "host", "--entrypoint", "/bin/busybox", slim,
		"httpd", "-f", "-p", strconv.Itoa(port), "-h", "/www")
	defer privtest.Docker(t, host, "rm", "-f", id)
	for _, path := range []string{"/", "/about.html"} {
		if body := get(t, fmt.Sprintf("http://127.0.0.1:%d%s", port, path)); len(body) == 0 {
			t.Errorf("GET %s: empty body", path)
		}
	}
}

// get fetches url, waiting up to 20 s for the server to answer 200.
func get(t *testing.T, url string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return b
			}
			err = fmt.Errorf("status %s, %v", resp.Status, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
