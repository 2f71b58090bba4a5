package safefs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tree makes a root holding hostile shapes, and a canary file outside it
// (a host file) that every link points at.
func tree(t *testing.T) (root, canary string) {
	t.Helper()
	base := t.TempDir()
	canary = filepath.Join(base, "canary")
	must(t, os.WriteFile(canary, []byte("HOST-CANARY"), 0o600))
	root = filepath.Join(base, "root")
	rel, err := filepath.Rel(filepath.Join(root, "a", "b"), canary)
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc-passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "canary"), []byte("image's own"), 0o644))
	must(t, os.Symlink(canary, filepath.Join(root, "abs")))                   // absolute, to a host path
	must(t, os.Symlink(rel, filepath.Join(root, "a", "b", "rel")))            // relative, climbing out
	must(t, os.Symlink(filepath.Dir(canary), filepath.Join(root, "dirlink"))) // a directory link
	must(t, os.Symlink("/proc/self/root"+canary, filepath.Join(root, "magic")))
	must(t, unix.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return root, canary
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func openFS(t *testing.T, root string) *FS {
	t.Helper()
	f, err := Open(root)
	must(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestConfined(t *testing.T) {
	root, canary := tree(t)
	f := openFS(t, root)
	host, err := os.Stat(canary)
	must(t, err)
	// Every way of naming the canary through a link reads nothing of the
	// host: links resolve inside the root, the last link is not followed.
	for _, name := range []string{"abs", "a/b/rel", "dirlink/canary", "magic"} {
		t.Run(name, func(t *testing.T) {
			b, err := f.ReadFile(name)
			if err == nil {
				if strings.Contains(string(b), "HOST-CANARY") {
					t.Fatalf("ReadFile(%s) read the host's canary", name)
				}
			}
			if info, err := f.Stat(name); err == nil && os.SameFile(info.(renamed).FileInfo, host) {
				t.Errorf("Stat(%s) reached the host's canary", name)
			}
			if rf, err := f.Open(name); err == nil {
				b, _ := io.ReadAll(rf)
				rf.Close()
				if strings.Contains(string(b), "HOST-CANARY") {
					t.Fatalf("Open(%s) read the host's canary", name)
				}
			}
		})
	}
	// Through a directory link, the name resolves in the root: the image's
	// own /canary when the link's target directory is read as the image's.
	if _, err := f.Stat("dirlink/canary"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(dirlink/canary): %v", err)
	}
	if info, err := f.Lstat("abs"); err != nil || info.Mode()&fs.ModeSymlink == 0 || info.Name() != "abs" {
		t.Errorf("Lstat(abs) = %v, %v; want a symlink named abs", info, err)
	}
	if target, err := f.ReadLink("abs"); err != nil || target != canary {
		t.Errorf("ReadLink(abs) = %q, %v; want %q", target, err, canary)
	}
	if _, err := f.ReadFile("abs"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("ReadFile(abs) = %v; want ELOOP (the last link is not followed)", err)
	}
	must(t, os.Symlink("/etc-passwd", filepath.Join(root, "passwd-link")))
	if b, err := f.ReadFileFollow("passwd-link"); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Errorf("ReadFileFollow(passwd-link) = %q, %v", b, err)
	}
	if b, err := f.ReadFileFollow("abs"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFileFollow(abs) = %q, %v; want not found (resolved in the root)", b, err)
	}
	if b, err := f.ReadFile("etc-passwd"); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Errorf("ReadFile(etc-passwd) = %q, %v", b, err)
	}
}

func TestRefusesFIFO(t *testing.T) {
	root, _ := tree(t)
	f := openFS(t, root)
	done := make(chan error, 3)
	go func() {
		_, err := f.ReadFile("fifo")
		done <- err
		_, err = f.Open("fifo")
		done <- err
		_, err = f.ReadDir("fifo")
		done <- err
	}()
	for range 3 {
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "FIFO") {
				t.Errorf("reading a FIFO: %v; want ErrNotRegular naming a FIFO", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("reading a FIFO blocked")
		}
	}
	// Stat and Lstat open nothing: they work on a FIFO.
	if info, err := f.Lstat("fifo"); err != nil || info.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("Lstat(fifo) = %v, %v", info, err)
	}
}

func TestReadDir(t *testing.T) {
	root, _ := tree(t)
	f := openFS(t, root)
	ents, err := f.ReadDir(".")
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil || info.Name() != e.Name() || info.Mode().Type() != e.Type() {
			t.Errorf("%s: Info() = %v, %v; type %v", e.Name(), info, err, e.Type())
			continue
		}
		// What the entry says is what an lstat of the host path says.
		host, err := os.Lstat(filepath.Join(root, e.Name()))
		must(t, err)
		got, want := info.Sys().(*syscall.Stat_t), host.Sys().(*syscall.Stat_t)
		if info.Mode() != host.Mode() || info.Size() != host.Size() || !info.ModTime().Equal(host.ModTime()) ||
			info.IsDir() != host.IsDir() || got.Ino != want.Ino || got.Dev != want.Dev || got.Uid != want.Uid ||
			got.Gid != want.Gid || got.Mode != want.Mode || got.Nlink != want.Nlink || got.Size != want.Size {
			t.Errorf("%s: Info() %v %d %v %+v; lstat %v %d %v %+v", e.Name(), info.Mode(), info.Size(), info.ModTime(), got,
				host.Mode(), host.Size(), host.ModTime(), want)
		}
	}
	if got, want := strings.Join(names, " "), "a abs canary dirlink etc-passwd fifo magic"; got != want {
		t.Errorf("ReadDir(.) = %s; want %s", got, want)
	}
	// A directory link is not listed through (the last component is not followed).
	if _, err := f.ReadDir("dirlink"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("ReadDir(dirlink) = %v; want ELOOP", err)
	}
	// fs.WalkDir sees the whole tree, the links as links.
	var walked int
	must(t, fs.WalkDir(f, ".", func(p string, d fs.DirEntry, err error) error {
		walked++
		return err
	}))
	if walked != 10 {
		t.Errorf("WalkDir visited %d names; want 10", walked)
	}
}

func TestReadFileCap(t *testing.T) {
	root, _ := tree(t)
	f := openFS(t, root)
	f.MaxRead = 4
	if _, err := f.ReadFile("etc-passwd"); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Errorf("ReadFile over the cap: %v", err)
	}
}

func TestContext(t *testing.T) {
	root, _ := tree(t)
	f := openFS(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	g := f.WithContext(ctx)
	if _, err := g.ReadFile("etc-passwd"); err != nil {
		t.Fatal(err)
	}
	file, err := g.Open("etc-passwd")
	must(t, err)
	defer file.Close()
	cancel()
	for name, err := range map[string]error{
		"ReadFile": func() error { _, err := g.ReadFile("etc-passwd"); return err }(),
		"Lstat":    func() error { _, err := g.Lstat("etc-passwd"); return err }(),
		"ReadDir":  func() error { _, err := g.ReadDir("."); return err }(),
		"Read":     func() error { _, err := file.Read(make([]byte, 1)); return err }(),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s after cancel: %v; want context.Canceled", name, err)
		}
	}
	// The FS it came from is not bound to that context.
	if _, err := f.ReadFile("etc-passwd"); err != nil {
		t.Errorf("ReadFile on the parent: %v", err)
	}
}
