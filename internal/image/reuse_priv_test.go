package image

import (
	"os"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// An archive whose image the store already holds, config for config, is not
// imported again; one whose config differs under the same name is.
func TestResolveReusesStoredArchive(t *testing.T) {
	rt, ctx := testRuntime(t)
	// A namespace of its own: other tests import the same fixture.
	rt.opts.Namespace = "slimtrace-test-reuse"
	t.Cleanup(func() {
		is := rt.client.ImageService()
		imgs, _ := is.List(rt.nsctx(ctx))
		for _, img := range imgs {
			if err := is.Delete(rt.nsctx(ctx), img.Name, images.SynchronousDelete()); err != nil {
				t.Errorf("deleting %s: %v", img.Name, err)
			}
		}
	})
	src := fixture(t, "busybox-httpd")
	resolve := func(src string) (*Image, time.Duration) {
		t.Helper()
		start := time.Now()
		img, err := rt.Resolve(ctx, "docker-archive:"+src)
		if err != nil {
			t.Fatal(err)
		}
		return img, time.Since(start)
	}
	first, imported := resolve(src)
	if first.Reused {
		t.Fatalf("%s reused from a namespace that was empty", first.Name)
	}
	again, reused := resolve(src)
	if !again.Reused || again.ID() != first.ID() || again.Digest() != first.Digest() || again.Name != first.Name {
		t.Errorf("second resolve: reused %v, %s %s %s; want %s %s %s", again.Reused, again.Name, again.ID(), again.Digest(),
			first.Name, first.ID(), first.Digest())
	}
	t.Logf("busybox-httpd (%d MB archive): imported in %v, found again in %v", size(t, src)>>20, imported, reused)

	// The same name with another config (a label added) is imported.
	changed := privtest.RewriteArchive(t, src, func(_ *[]privtest.DockerManifest, cfgs map[string]map[string]any) {
		for _, c := range cfgs {
			cc, _ := c["config"].(map[string]any)
			cc["Labels"] = map[string]any{"changed": "yes"}
		}
	})
	other, _ := resolve(changed)
	if other.Reused || other.ID() == first.ID() || other.Name != first.Name || other.Config.Config.Labels["changed"] != "yes" {
		t.Errorf("changed archive: reused %v, id %s (first %s), labels %v", other.Reused, other.ID(), first.ID(), other.Config.Config.Labels)
	}
	// And the original again: the name now points elsewhere, so it is imported.
	back, _ := resolve(src)
	if back.Reused || back.ID() != first.ID() {
		t.Errorf("original after the change: reused %v, id %s, want imported %s", back.Reused, back.ID(), first.ID())
	}
}

func size(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
