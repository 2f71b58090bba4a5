package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/docker"
)

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	os.WriteFile(archive, nil, 0o644)
	colon := filepath.Join(dir, "odd:name.tar")
	os.WriteFile(colon, nil, 0o644)
	cases := []struct {
		in   string
		want source
		err  string
	}{
		{in: "busybox", want: source{kind: fromStore, ref: "busybox"}},
		{in: "busybox:1.36", want: source{kind: fromStore, ref: "busybox:1.36"}},
		{in: "localhost:5000/app:v1", want: source{kind: fromStore, ref: "localhost:5000/app:v1"}},
		{in: "docker.io/library/busybox@sha256:abc", want: source{kind: fromStore, ref: "docker.io/library/busybox@sha256:abc"}},
		{in: "docker-archive:" + archive, want: source{kind: fromDockerArchive, path: archive}},
		{in: "docker-archive:" + archive + ":app:v1", want: source{kind: fromDockerArchive, path: archive, ref: "app:v1"}},
		{in: "docker-archive:" + colon, want: source{kind: fromDockerArchive, path: colon}},
		{in: "oci-archive:" + archive + ":latest", want: source{kind: fromOCIArchive, path: archive, ref: "latest"}},
		{in: "oci:" + dir, want: source{kind: fromOCIDir, path: dir}},
		{in: "oci:" + dir + ":v2", want: source{kind: fromOCIDir, path: dir, ref: "v2"}},
		{in: "oci:/missing:v2", want: source{kind: fromOCIDir, path: "/missing:v2"}},
		{in: "docker-daemon:nginx:1.27", want: source{kind: fromDockerDaemon, ref: "nginx:1.27"}},
		{in: "", err: "empty image name"},
		{in: "docker-daemon:", err: "missing NAME"},
		{in: "oci:", err: "missing PATH"},
		{in: "docker://busybox", want: source{kind: fromRegistry, ref: "busybox"}},
		{in: "docker://127.0.0.1:5000/app:1", want: source{kind: fromRegistry, ref: "127.0.0.1:5000/app:1"}},
		{in: "docker://", err: "missing the image reference"},
		{in: "containers-storage:busybox", err: "not supported"},
	}
	for _, c := range cases {
		got, err := parseSource(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
}

func TestImportName(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/My App_v2.tar":          "slimtrace-import/my-app-v2",
		"/x/app.tar.gz":               "slimtrace-import/app",
		"/x/...":                      "slimtrace-import/image",
		"docker-daemon:nginx:latest":  "slimtrace-import/nginx-latest",
		"/layouts/busybox-oci-layout": "slimtrace-import/busybox-oci-layout",
	} {
		if got := importName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Setenv("CONTAINERD_ADDRESS", "")
	t.Setenv("CONTAINERD_NAMESPACE", "")
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("DOCKER_TLS_VERIFY", "")
	o := Options{}.withDefaults()
	if o.Address != DefaultAddress || o.Namespace != DefaultNamespace || o.StatePath != DefaultStatePath ||
		o.Docker.Host != docker.DefaultHost || o.Snapshotter != DefaultSnapshotter || o.Pull != PullNever || o.Docker.TLS {
		t.Errorf("defaults %+v", o)
	}
	t.Setenv("CONTAINERD_ADDRESS", "/run/x.sock")
	if o := (Options{}).withDefaults(); o.Address != "/run/x.sock" {
		t.Errorf("env address: %q", o.Address)
	}
	if o := (Options{Address: "/a.sock"}).withDefaults(); o.Address != "/a.sock" {
		t.Errorf("explicit address: %q", o.Address)
	}
}
