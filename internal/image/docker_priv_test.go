package image

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/docker"
	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestDockerEngine: with a real dockerd (Debian's 20.10, started for the
// test), a bare name only Docker holds is found there and exported into
// the store, a second lookup reuses that copy while Docker has the same
// image, and ToDocker loads an image of the store into Docker under its
// name; Docker's own image is never changed.
func TestDockerEngine(t *testing.T) {
	rt, ctx := testRuntime(t)
	host := privtest.Dockerd(t)
	fixture := privtest.Fixture(t, "busybox-httpd")
	if out, err := privtest.Docker(t, host, "load", "-i", fixture); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	name := fmt.Sprintf("slimtrace-test/docker-only:%d", time.Now().UnixNano())
	if out, err := privtest.Docker(t, host, "tag", "slimtrace-fixtures/busybox-httpd:latest", name); err != nil {
		t.Fatalf("docker tag: %v\n%s", err, out)
	}
	dockerID, err := privtest.Docker(t, host, "image", "inspect", "--format", "{{.Id}}", name)
	if err != nil {
		t.Fatal(dockerID, err)
	}
	st, err := Connect(ctx, Options{Address: rt.Address(), Namespace: rt.Namespace(), StatePath: t.TempDir(),
		Docker: docker.Options{Host: host}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	full := "docker.io/" + name
	t.Cleanup(func() { st.Remove(ctx, full) })

	img, err := st.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != full || img.Origin.Kind != FromDocker || !strings.Contains(img.Origin.Where, host) || img.Reused {
		t.Errorf("resolved %s from %+v (reused %v)", img.Name, img.Origin, img.Reused)
	}
	if img.ID().String() != dockerID {
		t.Errorf("config digest %s, Docker's image ID %s", img.ID(), dockerID)
	}
	again, err := st.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.Origin.Kind != FromDocker || again.ID() != img.ID() {
		t.Errorf("second lookup: reused %v, origin %+v, id %s", again.Reused, again.Origin, again.ID())
	}

	// Without Docker, the name is not found and the error says where it
	// looked.
	none, err := Connect(ctx, Options{Address: rt.Address(), Namespace: rt.Namespace(), StatePath: t.TempDir(),
		Docker: docker.Options{Host: "unix:///nonexistent/docker.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	_, err = none.Resolve(ctx, "slimtrace-test/nowhere:1")
	for _, w := range []string{"not found", rt.Namespace(), "Docker Engine at unix:///nonexistent/docker.sock (not reachable)", "--pull"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing image: error %v lacks %q", err, w)
		}
	}

	// Into Docker: an image of the store under a new name.
	src, err := st.Resolve(ctx, "docker-archive:"+privtest.Fixture(t, "go-static"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ToDocker(ctx, src); err != nil {
		t.Fatal(err)
	}
	listed, err := privtest.Docker(t, host, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if err != nil {
		t.Fatal(listed, err)
	}
	short := strings.TrimPrefix(src.ID().String(), "sha256:")[:12]
	if !strings.Contains(listed, "slimtrace-fixtures/go-static:latest "+short) {
		t.Errorf("docker images lacks %s (%s):\n%s", src.Name, short, listed)
	}
	if after, _ := privtest.Docker(t, host, "image", "inspect", "--format", "{{.Id}}", name); after != dockerID {
		t.Errorf("Docker's image changed: %s, was %s", after, dockerID)
	}
}

// TestDockerContainerdStore: Docker >= 29 with its containerd image store
// keeps images in this containerd's "moby" namespace; a bare name found
// there is copied into the store's namespace.
func TestDockerContainerdStore(t *testing.T) {
	rt, ctx := testRuntime(t)
	fixture := privtest.Fixture(t, "busybox-httpd")
	name := fmt.Sprintf("slimtrace-test/moby-only:%d", time.Now().UnixNano())
	ctr := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ctr", append([]string{"-a", rt.Address(), "-n", DockerNamespace}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ctr("images", "import", "--index-name", "docker.io/"+name, fixture)
	t.Cleanup(func() {
		exec.Command("ctr", "-a", rt.Address(), "-n", DockerNamespace, "images", "rm", "docker.io/"+name).Run()
		rt.Remove(ctx, "docker.io/"+name)
	})
	st, err := Connect(ctx, Options{Address: rt.Address(), Namespace: rt.Namespace(), StatePath: t.TempDir(),
		Docker: docker.Options{Host: "unix:///nonexistent/docker.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	img, err := st.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if img.Origin.Kind != FromDocker || !strings.Contains(img.Origin.Where, "namespace moby") {
		t.Errorf("origin %+v", img.Origin)
	}
	if _, err := rt.client.ImageService().Get(rt.nsctx(ctx), "docker.io/"+name); err != nil {
		t.Errorf("not in the store's namespace after the copy: %v", err)
	}
}
