package image

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images/archive"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/docker"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tartest"
)

func TestResolveSources(t *testing.T) {
	rt, ctx := testRuntime(t)
	tarPath := fixture(t, "busybox-httpd")
	base, err := rt.Resolve(ctx, "docker-archive:"+tarPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s digest %s id %s size %d platform %s", base.Name, base.Digest(), base.ID(), base.Size, base.Platform())

	same := func(t *testing.T, img *Image) {
		t.Helper()
		if img.Digest() != base.Digest() || img.ID() != base.ID() {
			t.Errorf("%s: digest %s id %s, want %s %s", img.Name, img.Digest(), img.ID(), base.Digest(), base.ID())
		}
	}
	t.Run("store names", func(t *testing.T) {
		short := strings.TrimPrefix(base.Name, "docker.io/")
		for _, name := range []string{base.Name, short, strings.TrimSuffix(short, ":latest")} {
			img, err := rt.Resolve(ctx, name)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			same(t, img)
		}
	})
	t.Run("archive with ref", func(t *testing.T) {
		img, err := rt.Resolve(ctx, "docker-archive:"+tarPath+":"+base.Name)
		if err != nil {
			t.Fatal(err)
		}
		same(t, img)
		_, err = rt.Resolve(ctx, "docker-archive:"+tarPath+":no/such:ref")
		if err == nil || !strings.Contains(err.Error(), "no image") {
			t.Errorf("wrong ref: %v", err)
		}
	})

	// An OCI archive and an OCI layout directory exported from the store,
	// the directory tagged only by ref.name as skopeo writes it.
	ociTar := filepath.Join(t.TempDir(), "busybox-oci.tar")
	w, err := os.Create(ociTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.client.Export(rt.nsctx(ctx), w, archive.WithImage(rt.client.ImageService(), base.Name), archive.WithSkipDockerManifest()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Run("oci-archive", func(t *testing.T) {
		img, err := rt.Resolve(ctx, "oci-archive:"+ociTar)
		if err != nil {
			t.Fatal(err)
		}
		same(t, img)
	})
	t.Run("oci dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "Busybox Layout")
		tartest.Extract(t, ociTar, dir)
		var idx ocispec.Index
		readJSON(t, filepath.Join(dir, "index.json"), &idx)
		for i := range idx.Manifests {
			idx.Manifests[i].Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
		}
		writeJSON(t, filepath.Join(dir, "index.json"), idx)
		for _, src := range []string{"oci:" + dir, "oci:" + dir + ":v1"} {
			img, err := rt.Resolve(ctx, src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			same(t, img)
			if img.Name != "slimtrace-import/busybox-layout:v1" {
				t.Errorf("%s: name %q", src, img.Name)
			}
		}
		if _, err := rt.Resolve(ctx, "oci:"+dir+":v2"); err == nil {
			t.Error("oci dir with a missing tag resolved")
		}
	})
	t.Run("untagged archive", func(t *testing.T) {
		p := privtest.RewriteArchive(t, tarPath, func(ms *[]privtest.DockerManifest, _ map[string]map[string]any) {
			(*ms)[0].RepoTags = nil
		})
		img, err := rt.Resolve(ctx, "docker-archive:"+p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := img.Config.Config.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("exposed ports %v", img.Config.Config.ExposedPorts)
		}
		if !strings.HasPrefix(img.Name, "slimtrace-import/rewritten@sha256:") {
			t.Errorf("name %q", img.Name)
		}
	})
	t.Run("two images in one archive", func(t *testing.T) {
		p := privtest.RewriteArchive(t, tarPath, func(ms *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
			m := (*ms)[0]
			c := map[string]any{}
			for k, v := range cfgs[m.Config] {
				c[k] = v
			}
			c["author"] = "second"
			cfgs["second.json"] = c
			// Tag the first one anew too: the fixture's name must keep
			// pointing where it did.
			(*ms)[0].RepoTags = []string{"slimtrace-test/first:latest"}
			*ms = append(*ms, privtest.DockerManifest{Config: "second.json", RepoTags: []string{"slimtrace-test/second:latest"}, Layers: m.Layers})
		})
		before, _ := storeState(t, ctx, rt)
		_, err := rt.Resolve(ctx, "docker-archive:"+p)
		if err == nil || !strings.Contains(err.Error(), "2 images") {
			t.Errorf("ambiguous archive: %v", err)
		}
		_, err = rt.Resolve(ctx, "docker-archive:"+p+":slimtrace-test/third")
		if err == nil || !strings.Contains(err.Error(), "slimtrace-test/second") {
			t.Errorf("archive without the ref asked for: %v", err)
		}
		if after, _ := storeState(t, ctx, rt); !slices.Equal(before, after) {
			t.Errorf("failed picks changed the store: before %v after %v", before, after)
		}
		img, err := rt.Resolve(ctx, "docker-archive:"+p+":slimtrace-test/second")
		if err != nil {
			t.Fatal(err)
		}
		if img.Name != "docker.io/slimtrace-test/second:latest" || img.ID() == base.ID() {
			t.Errorf("picked %s (%s)", img.Name, img.ID())
		}
	})
	t.Run("docker-daemon", func(t *testing.T) {
		host := privtest.Dockerd(t)
		if out, err := privtest.Docker(t, host, "load", "-i", tarPath); err != nil {
			t.Fatalf("docker load: %v\n%s", err, out)
		}
		rt2, err := Connect(ctx, Options{Address: rt.Address(), Namespace: rt.Namespace(), StatePath: t.TempDir(), Docker: docker.Options{Host: host}})
		if err != nil {
			t.Fatal(err)
		}
		defer rt2.Close()
		for _, name := range []string{"slimtrace-fixtures/busybox-httpd:latest", base.ID().String()} {
			img, err := rt2.Resolve(ctx, "docker-daemon:"+name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			same(t, img)
		}
		_, err = rt2.Resolve(ctx, "docker-daemon:nosuch:latest")
		if err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Errorf("missing image: %v", err)
		}
		rt3, err := Connect(ctx, Options{Address: rt.Address(), Namespace: rt.Namespace(), Docker: docker.Options{Host: "unix:///nonexistent/docker.sock"}})
		if err != nil {
			t.Fatal(err)
		}
		defer rt3.Close()
		_, err = rt3.Resolve(ctx, "docker-daemon:busybox")
		if err == nil || !strings.Contains(err.Error(), "unix:///nonexistent/docker.sock") {
			t.Errorf("unreachable dockerd: %v", err)
		}
	})
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolveBadInputs checks that bad sources fail clearly and leave the
// store as it was.
func TestResolveBadInputs(t *testing.T) {
	rt, ctx := testRuntime(t)
	junk := filepath.Join(t.TempDir(), "junk.tar")
	b := make([]byte, 64*1024)
	rand.Read(b)
	if err := os.WriteFile(junk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A tar that starts well and then stops: blobs get written first.
	half := filepath.Join(t.TempDir(), "half.tar")
	if src, err := os.ReadFile(fixture(t, "busybox-httpd")); err == nil {
		os.WriteFile(half, src[:len(src)/2], 0o644)
	}
	emptyDir := t.TempDir()
	missingBlob := ociLayoutMissingLayer(t)
	noVersion, mf, _, _ := testLayout(t, nil)
	writeLayoutJSON(t, noVersion, ocispec.Index{Manifests: []ocispec.Descriptor{mf}}, `{}`)
	hostLink, _, _, layer := testLayout(t, nil)
	os.Remove(blobPath(hostLink, layer))
	if err := os.Symlink("/etc/shadow", blobPath(hostLink, layer)); err != nil {
		t.Fatal(err)
	}

	imgsBefore, leasesBefore := storeState(t, ctx, rt)
	cases := []struct {
		src  string
		want []string // substrings of the error
	}{
		{"", []string{"empty image name"}},
		{"docker-archive:", []string{"missing PATH"}},
		{"slimtrace-test/does-not-exist:1", []string{"is in none of", rt.Namespace(), rt.Address(), "docker.io/slimtrace-test/does-not-exist:1", "Docker Engine", "--pull", "docker-archive:PATH"}},
		{"docker-archive:/nonexistent/image.tar", []string{"/nonexistent/image.tar", "no such file"}},
		{"oci-archive:/nonexistent/image.tar", []string{"/nonexistent/image.tar"}},
		{"oci:/nonexistent/layout", []string{"not an OCI layout"}},
		{"oci:" + emptyDir, []string{"not an OCI layout"}},
		{"docker-archive:" + emptyDir, []string{"is a directory"}},
		{"docker-archive:" + junk, []string{"importing " + junk, "docker-archive or OCI layout"}},
		{"docker-archive:" + half, []string{"importing " + half}},
		{"docker://127.0.0.1:1/app:1", []string{"pulling 127.0.0.1:1/app:1 from registry 127.0.0.1:1", "connection refused"}},
		{"oci:" + missingBlob, []string{"lacks 1 blob"}},
		{"oci:" + noVersion, []string{"not an OCI layout", "no imageLayoutVersion"}},
		{"oci:" + hostLink, []string{"reading OCI layout " + hostLink, "escapes"}},
	}
	for _, c := range cases {
		_, err := rt.Resolve(ctx, c.src)
		if err == nil {
			t.Errorf("%q: no error", c.src)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", c.src, err, w)
			}
		}
		if c.src == "slimtrace-test/does-not-exist:1" && !errors.Is(err, ErrImageNotFound) {
			t.Errorf("%q: not ErrImageNotFound", c.src)
		}
	}
	imgsAfter, leasesAfter := storeState(t, ctx, rt)
	if !slices.Equal(imgsBefore, imgsAfter) {
		t.Errorf("images changed: before %v after %v", imgsBefore, imgsAfter)
	}
	if !slices.Equal(leasesBefore, leasesAfter) {
		t.Errorf("leases changed: before %v after %v", leasesBefore, leasesAfter)
	}
	st, err := rt.client.ContentStore().ListStatuses(rt.nsctx(ctx))
	if err != nil || len(st) != 0 {
		t.Errorf("ingests left: %v %v", st, err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	_, err := Connect(context.Background(), Options{Address: sock})
	if err == nil || !strings.Contains(err.Error(), sock) || !strings.Contains(err.Error(), "start containerd") {
		t.Errorf("error %v", err)
	}
	// A socket file nobody listens on.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.WriteFile(sock, nil, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err = Connect(ctx, Options{Address: sock})
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("error %v", err)
	}
}

// ociLayoutMissingLayer writes an OCI layout whose manifest names a layer
// that is neither in the layout nor in any store.
func ociLayoutMissingLayer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	blob := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	layer := make([]byte, 32)
	rand.Read(layer)
	cfg := blob([]byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() + `"]}}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{Versioned: specsVersioned, MediaType: ocispec.MediaTypeImageManifest, Config: cfg,
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(layer), Size: 32}}}
	mb, _ := json.Marshal(m)
	md := blob(mb)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{ocispec.AnnotationRefName: "latest"}
	md.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	writeJSON(t, filepath.Join(dir, "index.json"), ocispec.Index{Versioned: specsVersioned, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}})
	writeJSON(t, filepath.Join(dir, ocispec.ImageLayoutFile), ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	return dir
}

var specsVersioned = specs.Versioned{SchemaVersion: 2}
