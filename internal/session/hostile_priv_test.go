package session

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestHostileImage builds an image whose files try to act on the host: a
// FIFO as dpkg's status (a reader would block), a character device as a
// package file list (a reader would read the host's device), a setuid
// binary, and links (absolute, relative with "..", through a directory
// link; /etc/passwd, /etc/group, nsswitch.conf, the CA bundle, files the
// app serves) at a canary file that exists only on the host. The build
// ends, names what it skipped, keeps links as links, puts no canary byte
// anywhere, and no process opens the canary meanwhile (its atime).
func TestHostileImage(t *testing.T) {
	addr, fixture := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	dir := t.TempDir()
	canary := filepath.Join(dir, "host-only", "canary")
	const secret = "HOST-CANARY-4b1d"
	if err := os.MkdirAll(filepath.Dir(canary), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(canary, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	// An atime older than the mtime: any read updates it (relatime too).
	old := time.Now().Add(-72 * time.Hour)
	if err := os.Chtimes(canary, old, old.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", 12)
	dirEnt := func(name string) privtest.LayerEntry {
		return privtest.LayerEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
	}
	link := func(name, target string) privtest.LayerEntry {
		return privtest.LayerEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target}}
	}
	archive := privtest.AddLayer(t, fixture,
		dirEnt("var/"), dirEnt("var/lib/"), dirEnt("var/lib/dpkg/"), dirEnt("var/lib/dpkg/status.d/"),
		privtest.LayerEntry{Header: tar.Header{Name: "var/lib/dpkg/status", Typeflag: tar.TypeFifo, Mode: 0o644}},
		privtest.LayerEntry{Header: tar.Header{Name: "var/lib/dpkg/status.d/evil.md5sums", Typeflag: tar.TypeChar,
			Devmajor: 1, Devminor: 5, Mode: 0o644}},
		privtest.LayerEntry{Header: tar.Header{Name: "bin/suid", Mode: 0o4755}, Data: "not a program\n"},
		dirEnt("etc/"), dirEnt("etc/ssl/"), dirEnt("etc/ssl/certs/"),
		link("etc/passwd", canary), link("etc/group", canary), link("etc/nsswitch.conf", canary),
		link("etc/ssl/certs/ca-certificates.crt", up+strings.TrimPrefix(canary, "/")),
		link("hostdir", filepath.Dir(canary)),
		link("www/canary-abs.html", canary),
		link("www/canary-rel.html", up+strings.TrimPrefix(canary, "/")),
		link("www/canary-dir.html", "/hostdir/canary"),
	)
	o := options(t, addr, "docker-archive:"+archive)
	ctx := testContext(t)
	res, err := buildRun(ctx, o, buildOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImages(t, addr, res.Image.Name, res.Report.Slim.Name) })

	// The slim image still serves, as the fat one did.
	if v, err := Verify(ctx, res.Run, res.Report.Slim.Name); err != nil || !v.Passed {
		t.Errorf("the slim image does not serve as the fat one: %v %+v", err, v)
	}
	warnings := strings.Join(res.Report.Slim.Warnings, "\n")
	for _, w := range []string{"var/lib/dpkg/status", "FIFO", "evil.md5sums", "character device"} {
		if !strings.Contains(warnings, w) {
			t.Errorf("no warning names %q:\n%s", w, warnings)
		}
	}
	slim := listImage(t, addr, res.Report.Slim.Name)
	for _, p := range []string{"/www/canary-abs.html", "/www/canary-rel.html", "/www/canary-dir.html"} {
		e, ok := slim[p]
		if !ok {
			t.Errorf("%s is not kept (the app directory is)", p)
			continue
		}
		if e.link == "" {
			t.Errorf("%s is no longer a link: %+v", p, e)
		}
	}
	for p, e := range slim {
		if e.mode.IsRegular() && e.size == int64(len(secret)) {
			t.Errorf("%s has the canary's size", p)
		}
	}
	// No canary byte in the report or the artifacts.
	adir := t.TempDir()
	if err := writeArtifacts(res, adir); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(adir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
				t.Errorf("%s holds the canary's bytes", p)
			}
		}
		return nil
	})
	// No process opened the canary during the build, when this filesystem
	// keeps atimes at all (a second file, read on purpose, says).
	atime := func(p string) time.Time {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Atim.Unix())
	}
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(probe, old, old.Add(time.Hour))
	os.ReadFile(probe)
	switch {
	case !atime(probe).After(old.Add(time.Second)):
		t.Log("this filesystem does not update atimes: the canary's atime proves nothing here")
	case atime(canary).After(old.Add(time.Second)):
		t.Errorf("the canary was read during the build (atime %s)", atime(canary))
	}
}

// removeImages deletes test images from the store.
func removeImages(t *testing.T, addr string, names ...string) {
	ctx := testContext(t)
	st, err := image.Connect(ctx, image.Options{Address: addr, Namespace: testNamespace, StatePath: t.TempDir()})
	if err != nil {
		t.Log(err)
		return
	}
	defer st.Close()
	for _, n := range names {
		if n != "" {
			if err := st.Remove(ctx, n); err != nil {
				t.Logf("removing %s: %v", n, err)
			}
		}
	}
}
