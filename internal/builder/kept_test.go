package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tonistiigi/fsutil"
	"github.com/tonistiigi/fsutil/types"
)

// keptTree makes a small image root: a kept file with a hardlink in another
// directory, a symlink, a directory kept without its contents, and a
// directory of many files of which one is kept.
func keptTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "a-b", "b", "empty/inside", "data"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(root, "a/f"), []byte("kept"), 0o640))
	must(os.Link(filepath.Join(root, "a/f"), filepath.Join(root, "b/h")))
	must(os.WriteFile(filepath.Join(root, "a-b/g"), []byte("g"), 0o644))
	must(os.Symlink("../a/f", filepath.Join(root, "b/l")))
	must(os.WriteFile(filepath.Join(root, "empty/inside/x"), []byte("not kept"), 0o644))
	for i := range 500 {
		must(os.WriteFile(filepath.Join(root, "data", fmt.Sprint(i)), []byte("d"), 0o644))
	}
	return root
}

// TestKeptFS: the session is sent exactly the kept paths and their parents,
// in the order fsutil's receiver checks, with hardlinks and symlinks as
// such; only kept regular files can be opened.
func TestKeptFS(t *testing.T) {
	root := keptTree(t)
	set, err := newFileSet([]string{"/a/f", "/a-b/g", "/b/h", "/b/l", "/empty", "/data/7"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := newKeptFS(root, set)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	stats := map[string]*types.Stat{}
	var v fsutil.Validator
	err = k.Walk(context.Background(), "/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := v.HandleChange(fsutil.ChangeKindAdd, p, fi, nil); err != nil {
			return err
		}
		got = append(got, p)
		stats[p] = fi.Sys().(*types.Stat)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "a/f", "a-b", "a-b/g", "b", "b/h", "b/l", "data", "data/7", "empty"}
	if !slices.Equal(got, want) {
		t.Errorf("walked %v, want %v", got, want)
	}
	if s := stats["a/f"]; s.Linkname != "" || s.Size != 4 || fs.FileMode(s.Mode).Perm() != 0o640 {
		t.Errorf("a/f: %+v", s)
	}
	if s := stats["b/h"]; s.Linkname != "a/f" || s.Size != 0 {
		t.Errorf("b/h: %+v, want a hardlink to a/f", s)
	}
	if s := stats["b/l"]; s.Linkname != "../a/f" || fs.FileMode(s.Mode)&fs.ModeSymlink == 0 {
		t.Errorf("b/l: %+v, want the symlink", s)
	}

	rc, err := k.Open("a/f")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "kept" {
		t.Errorf("a/f reads %q", b)
	}
	for _, p := range []string{"data/8", "empty/inside/x", "b/l", "a", "../a/f", "/etc/passwd"} {
		if rc, err := k.Open(p); !errors.Is(err, fs.ErrPermission) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want refused", p, err)
		}
	}
}

func TestKeptFSErrors(t *testing.T) {
	root := keptTree(t)
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{[]string{"/a/f", "/a/nope"}, "/a/nope is not in the image"},
		{[]string{"/a/f/x"}, "/a/f/x lies below /a/f, which is not a directory (a file)"},
		{[]string{"/b/l/x"}, "/b/l/x lies below /b/l, which is not a directory (a symlink)"},
	} {
		set, err := newFileSet(c.paths)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newKeptFS(root, set); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.paths, err, c.want)
		}
	}
	set, _ := newFileSet([]string{"/a/f"})
	if _, err := newKeptFS("", set); err == nil {
		t.Error("no root accepted")
	}
}
