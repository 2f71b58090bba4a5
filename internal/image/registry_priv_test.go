package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tartest"
)

// Registry tests: a real docker-registry (privtest.StartRegistry) holding
// the busybox-httpd fixture, pushed there with skopeo. They use a containerd
// namespace of their own (the test namespace's name, then -registry), so
// that the images and leases they count are theirs while other tests share
// the test containerd.
func registryRuntime(t *testing.T, opts Options) (*Store, context.Context) {
	t.Helper()
	opts.Namespace = os.Getenv("CONTAINERD_NAMESPACE")
	if opts.Namespace == "" {
		opts.Namespace = testNamespace
	}
	opts.Namespace += "-registry"
	return testRuntimeWith(t, opts)
}

// forgetImages removes the image records names from the store when the
// test ends, so that registry names (their ports change) do not pile up.
func forgetImages(t *testing.T, rt *Store, ctx context.Context, names ...string) {
	t.Cleanup(func() {
		cctx, cancel := cleanupContext(rt.nsctx(ctx))
		defer cancel()
		for _, n := range names {
			if err := rt.client.ImageService().Delete(cctx, n); err != nil && !errdefs.IsNotFound(err) {
				t.Logf("removing image %s: %v", n, err)
			}
		}
	})
}

// checkUnpacked checks that the store has img under its name, unpacked.
func checkUnpacked(t *testing.T, rt *Store, ctx context.Context, img *Image) {
	t.Helper()
	ctx = rt.nsctx(ctx)
	rec, err := rt.client.ImageService().Get(ctx, img.Name)
	if err != nil {
		t.Fatalf("image record %s: %v", img.Name, err)
	}
	if rec.Target.Digest != img.Digest() {
		t.Errorf("record %s points to %s, want %s", img.Name, rec.Target.Digest, img.Digest())
	}
	ok, err := containerd.NewImage(rt.client, rec).IsUnpacked(ctx, rt.opts.Snapshotter)
	if err != nil || !ok {
		t.Errorf("image %s unpacked: %v %v", img.Name, ok, err)
	}
}

func TestRegistryPull(t *testing.T) {
	rt, ctx := registryRuntime(t, Options{})
	tarPath := fixture(t, "busybox-httpd")
	reg := privtest.StartRegistry(t)
	ref := reg.Push(t, tarPath, "app:1")
	forgetImages(t, rt, ctx, ref)
	base, err := rt.Resolve(ctx, "docker-archive:"+tarPath)
	if err != nil {
		t.Fatal(err)
	}

	_, leasesBefore := storeState(t, ctx, rt)
	img, err := rt.Resolve(ctx, "docker://"+ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != ref {
		t.Errorf("name %s, want %s", img.Name, ref)
	}
	if want := (Origin{FromRegistry, "registry " + reg.Host}); img.Origin != want {
		t.Errorf("origin %+v, want %+v", img.Origin, want)
	}
	if img.ID() != base.ID() || !slices.Equal(img.Config.Config.Cmd, base.Config.Config.Cmd) {
		t.Errorf("pulled config %s cmd %q, want the fixture's %s %q", img.ID(), img.Config.Config.Cmd, base.ID(), base.Config.Config.Cmd)
	}
	checkUnpacked(t, rt, ctx, img)
	if _, leases := storeState(t, ctx, rt); !slices.Equal(leases, leasesBefore) {
		t.Errorf("leases %v after the pull, %v before", leases, leasesBefore)
	}

	t.Run("docker source pulls again", func(t *testing.T) {
		again, err := rt.Resolve(ctx, "docker://"+ref)
		if err != nil {
			t.Fatal(err)
		}
		if again.Origin.Kind != FromRegistry || again.Digest() != img.Digest() {
			t.Errorf("origin %v digest %s, want the registry's %s", again.Origin, again.Digest(), img.Digest())
		}
	})
}

func TestRegistryPullPolicy(t *testing.T) {
	never, ctx := registryRuntime(t, Options{})
	tarPath := fixture(t, "busybox-httpd")
	reg := privtest.StartRegistry(t)
	name := reg.Push(t, tarPath, "app:1")
	forgetImages(t, never, ctx, name)
	missing, _ := registryRuntime(t, Options{Pull: PullMissing})
	always, _ := registryRuntime(t, Options{Pull: PullAlways})

	if _, err := never.Resolve(ctx, name); !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("without pull: %v, want ErrImageNotFound", err)
	}
	first, err := missing.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if first.Origin.Kind != FromRegistry || first.Name != name {
		t.Errorf("pull missing: %s from %v, want %s from the registry", first.Name, first.Origin, name)
	}
	checkUnpacked(t, missing, ctx, first)

	// The tag moves to another image: a local copy still wins unless
	// pulling always.
	other := privtest.RewriteArchive(t, tarPath, func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			c["config"].(map[string]any)["Labels"] = map[string]any{"io.slimtrace.test": "moved"}
		}
	})
	reg.Push(t, other, "app:1")
	for _, rt := range []*Store{never, missing} {
		img, err := rt.Resolve(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if img.Origin.Kind != FromContainerd || img.Digest() != first.Digest() {
			t.Errorf("pull %s: %s from %v, want the local %s", rt.opts.Pull, img.Digest(), img.Origin, first.Digest())
		}
	}
	moved, err := always.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Origin.Kind != FromRegistry || moved.Digest() == first.Digest() || moved.Config.Config.Labels["io.slimtrace.test"] != "moved" {
		t.Errorf("pull always: %s from %v labels %v, want the moved tag from the registry", moved.Digest(), moved.Origin, moved.Config.Config.Labels)
	}
	checkUnpacked(t, always, ctx, moved)
}

func TestRegistryFailedPull(t *testing.T) {
	rt, ctx := registryRuntime(t, Options{})
	tarPath := fixture(t, "busybox-httpd")
	reg := privtest.StartRegistry(t)
	ref := reg.Push(t, tarPath, "app:1")
	forgetImages(t, rt, ctx, ref)

	t.Run("no such tag", func(t *testing.T) {
		imgs, leases := storeState(t, ctx, rt)
		_, err := rt.Resolve(ctx, "docker://"+reg.Host+"/app:nosuchtag")
		if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), reg.Host) {
			t.Errorf("error %v, want ErrImageNotFound naming %s", err, reg.Host)
		}
		checkUnchanged(t, ctx, rt, imgs, leases)
	})
	t.Run("config lost", func(t *testing.T) {
		// A config no store has seen, lost by the registry: the pull
		// fails after it fetched the manifest.
		archive := privtest.RewriteArchive(t, tarPath, func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
			for _, c := range cfgs {
				c["config"].(map[string]any)["Labels"] = map[string]any{"io.slimtrace.test": NewID()}
			}
		})
		lost := reg.Push(t, archive, "app:lost")
		files, _ := tartest.Files(t, archive)
		var ms []privtest.DockerManifest
		if err := json.Unmarshal(files["manifest.json"], &ms); err != nil {
			t.Fatal(err)
		}
		hex := strings.TrimSuffix(ms[0].Config, ".json")
		if err := os.Remove(filepath.Join(reg.Storage, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")); err != nil {
			t.Fatal(err)
		}
		imgs, leases := storeState(t, ctx, rt)
		_, err := rt.Resolve(ctx, "docker://"+lost)
		if err == nil || !strings.Contains(err.Error(), "registry "+reg.Host) {
			t.Errorf("error %v, want one naming registry %s", err, reg.Host)
		} else {
			t.Log(err)
		}
		checkUnchanged(t, ctx, rt, imgs, leases)
	})
}

func checkUnchanged(t *testing.T, ctx context.Context, rt *Store, imgs, leases []string) {
	t.Helper()
	imgs2, leases2 := storeState(t, ctx, rt)
	if !slices.Equal(imgs, imgs2) {
		t.Errorf("images changed: %v, then %v", imgs, imgs2)
	}
	if !slices.Equal(leases, leases2) {
		t.Errorf("leases changed: %v, then %v", leases, leases2)
	}
}

func TestRegistryPush(t *testing.T) {
	rt, ctx := registryRuntime(t, Options{})
	reg := privtest.StartRegistry(t)
	base, err := rt.Resolve(ctx, "docker-archive:"+fixture(t, "busybox-httpd"))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/pushed:2"
	if err := rt.Push(ctx, base, ref); err != nil {
		t.Fatal(err)
	}
	out, err := reg.Inspect(t, ref)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Digest string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got.Digest != base.Digest().String() {
		t.Errorf("registry has %s as %s, want %s", ref, got.Digest, base.Digest())
	}

	forgetImages(t, rt, ctx, ref)
	back, err := rt.Resolve(ctx, "docker://"+ref)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != base.ID() {
		t.Errorf("pulled back config %s, want %s", back.ID(), base.ID())
	}
}

// The TLS registry's CA is trusted as a user would trust it, through
// SSL_CERT_FILE, which Go reads once per process: the checks that need it
// run in a child of the test binary, started with it set.
const (
	envTLSRegistry = "SLIMTRACE_TEST_TLS_REGISTRY" // the pushed image's name
	envTLSAuthDir  = "SLIMTRACE_TEST_TLS_AUTH"     // good.json, wrong.json, none.json
)

func TestRegistryTLSAuth(t *testing.T) {
	if ref := os.Getenv(envTLSRegistry); ref != "" {
		registryTLSChild(t, ref, os.Getenv(envTLSAuthDir))
		return
	}
	privtest.ContainerdAddress(t) // the child needs it
	tarPath := fixture(t, "busybox-httpd")
	reg := privtest.StartTLSRegistry(t)
	ref := reg.Push(t, tarPath, "app:1")

	dir := t.TempDir()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for name, body := range map[string]string{
		"good.json":  `{"auths":{"https://` + reg.Host + `":{"auth":"` + b64(reg.User+":"+reg.Password) + `"}}}`,
		"wrong.json": `{"auths":{"` + reg.Host + `":{"username":"` + reg.User + `","password":"wrong-password"}}}`,
		"none.json":  `{"auths":{}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The CA was made for this test: no system store trusts it.
	t.Run("untrusted CA", func(t *testing.T) {
		rt, ctx := registryRuntime(t, Options{RegistryAuth: filepath.Join(dir, "good.json")})
		imgs, leases := storeState(t, ctx, rt)
		_, err := rt.Resolve(ctx, "docker://"+ref)
		if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), reg.Host) {
			t.Errorf("error %v, want a certificate error naming %s", err, reg.Host)
		} else {
			t.Log(err)
		}
		checkUnchanged(t, ctx, rt, imgs, leases)
	})
	t.Run("insecure registry", func(t *testing.T) {
		rt, ctx := registryRuntime(t, Options{RegistryAuth: filepath.Join(dir, "good.json"), InsecureRegistries: []string{reg.Host}})
		forgetImages(t, rt, ctx, ref)
		if _, err := rt.Resolve(ctx, "docker://"+ref); err != nil {
			t.Errorf("with %s an insecure registry: %v", reg.Host, err)
		}
	})

	cmd := exec.Command(os.Args[0], "-test.run=^TestRegistryTLSAuth$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+reg.CAFile, "SLIMTRACE_TEST_PRIVILEGED=1",
		envTLSRegistry+"="+ref, envTLSAuthDir+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("child with SSL_CERT_FILE=%s:\n%s", reg.CAFile, out.String())
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.Contains(out.String(), "--- PASS: TestRegistryTLSAuth") {
		t.Fatal("the child ran no test")
	}
	if strings.Contains(out.String(), reg.Password) {
		t.Error("the registry password appears in the log")
	}
	if _, err := reg.Inspect(t, reg.Host+"/pushed:tls"); err != nil {
		t.Errorf("the child's push: %v", err)
	}
}

// registryTLSChild runs in the child TestRegistryTLSAuth starts, which
// trusts the registry's CA.
func registryTLSChild(t *testing.T, ref, dir string) {
	host, err := registryHost(ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("good credentials", func(t *testing.T) {
		rt, ctx := registryRuntime(t, Options{RegistryAuth: filepath.Join(dir, "good.json")})
		forgetImages(t, rt, ctx, ref)
		img, err := rt.Resolve(ctx, "docker://"+ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Origin{FromRegistry, "registry " + host}); img.Origin != want || img.Name != ref {
			t.Errorf("%s from %+v, want %s from %+v", img.Name, img.Origin, ref, want)
		}
		checkUnpacked(t, rt, ctx, img)
		if err := rt.Push(ctx, img, host+"/pushed:tls"); err != nil {
			t.Error(err)
		}
	})
	for _, file := range []string{"wrong.json", "none.json"} {
		t.Run(file, func(t *testing.T) {
			rt, ctx := registryRuntime(t, Options{RegistryAuth: filepath.Join(dir, file)})
			imgs, leases := storeState(t, ctx, rt)
			_, err := rt.Resolve(ctx, "docker://"+ref)
			if err == nil || !strings.Contains(err.Error(), "registry "+host) || !strings.Contains(err.Error(), "credentials") {
				t.Errorf("error %v, want one about the credentials for registry %s", err, host)
			} else {
				t.Log(err)
			}
			checkUnchanged(t, ctx, rt, imgs, leases)
		})
	}
}

// TestRegistryPullIndex pulls a two-platform index: only this platform's
// manifest comes.
func TestRegistryPullIndex(t *testing.T) {
	rt, ctx := registryRuntime(t, Options{})
	tarPath := fixture(t, "busybox-httpd")
	reg := privtest.StartRegistry(t)
	reg.Push(t, tarPath, "app:here")
	// The other platform's image: its own config, never seen by the store.
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	other := privtest.RewriteArchive(t, tarPath, func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			c["architecture"] = otherArch
			c["config"].(map[string]any)["Labels"] = map[string]any{"io.slimtrace.test": NewID()}
		}
	})
	reg.Push(t, other, "app:there")

	const listType = "application/vnd.docker.distribution.manifest.list.v2+json"
	head := func(tag string) ocispec.Descriptor {
		req, _ := http.NewRequest(http.MethodHead, "http://"+reg.Host+"/v2/app/manifests/"+tag, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return ocispec.Descriptor{MediaType: resp.Header.Get("Content-Type"), Size: resp.ContentLength,
			Digest: digest.Digest(resp.Header.Get("Docker-Content-Digest"))}
	}
	here, there := head("here"), head("there")
	here.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		here.Platform.Variant = "v8"
	}
	there.Platform = &ocispec.Platform{OS: "linux", Architecture: otherArch}
	idx, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: listType,
		Manifests: []ocispec.Descriptor{there, here}})
	req, _ := http.NewRequest(http.MethodPut, "http://"+reg.Host+"/v2/app/manifests/multi", bytes.NewReader(idx))
	req.Header.Set("Content-Type", listType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("putting the index: %s", resp.Status)
	}

	ref := reg.Host + "/app:multi"
	forgetImages(t, rt, ctx, ref)
	img, err := rt.Resolve(ctx, "docker://"+ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.Target.MediaType != listType || img.Platform() != platforms.DefaultString() {
		t.Errorf("target %s platform %s, want the index and %s", img.Target.MediaType, img.Platform(), platforms.DefaultString())
	}
	checkUnpacked(t, rt, ctx, img)
	cs := rt.client.ContentStore()
	if _, err := cs.Info(rt.nsctx(ctx), here.Digest); err != nil {
		t.Errorf("this platform's manifest: %v", err)
	}
	if _, err := cs.Info(rt.nsctx(ctx), there.Digest); !errdefs.IsNotFound(err) {
		t.Errorf("the other platform's manifest was fetched (%v)", err)
	}

	t.Run("push", func(t *testing.T) {
		pushed := reg.Host + "/app:single"
		if err := rt.Push(ctx, img, pushed); err != nil {
			t.Fatal(err)
		}
		if got := head("single"); got.Digest != here.Digest {
			t.Errorf("pushed %s, want this platform's manifest %s", got.Digest, here.Digest)
		}
	})
}
