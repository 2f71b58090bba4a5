package container

import (
	"archive/tar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestHostileUserDB: an image whose /etc/passwd or /etc/group is a FIFO
// would block containerd's own user lookup at "creating the container";
// Create fails fast with an error naming the file, and leaves nothing.
func TestHostileUserDB(t *testing.T) {
	rt, ctx := testRuntime(t)
	for _, c := range []struct {
		name, file, user string
	}{
		{"group FIFO", "etc/group", ""},
		{"passwd FIFO, named user", "etc/passwd", "nobody"},
	} {
		t.Run(c.name, func(t *testing.T) {
			archive := privtest.AddLayer(t, fixture(t, "busybox-httpd"),
				privtest.LayerEntry{Header: tar.Header{Name: c.file, Typeflag: tar.TypeFifo, Mode: 0o644}})
			img, err := rt.Resolve(ctx, "docker-archive:"+archive)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rt.client.ImageService().Delete(rt.nsctx(ctx), img.Name) })
			before, err := rt.client.Containers(rt.nsctx(ctx))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tg, err := rt.Create(ctx, img, RunConfig{User: c.user})
			if err == nil {
				tg.Close(ctx)
				t.Fatal("created a container over a FIFO user database")
			}
			t.Logf("error: %v", err)
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("failing took %s", took)
			}
			if !strings.Contains(err.Error(), "/"+c.file) || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("error %q does not name /%s as a FIFO", err, c.file)
			}
			after, err := rt.client.Containers(rt.nsctx(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) {
				t.Errorf("%d containers before, %d after", len(before), len(after))
			}
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mi), "containerd-mount") {
				t.Errorf("a temporary mount is left:\n%s", grepLines(mi, "containerd-mount"))
			}
		})
	}
}
