package fileset

import (
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// memImage is an in-memory image: an fstest.MapFS under absolute names,
// every directory explicit, with an index so ReadDir costs what it does on
// a disk.
type memImage struct {
	m        fstest.MapFS
	children map[string][]string
}

// newImage makes an image from relative names; missing parent directories
// are added with mode 0755.
func newImage(files map[string]*fstest.MapFile) *memImage {
	m := fstest.MapFS{".": {Mode: fs.ModeDir | 0o755}}
	for name, f := range files {
		m[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := m[d]; !ok {
				m[d] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
		}
	}
	img := &memImage{m: m, children: map[string][]string{}}
	for name := range m {
		if name != "." {
			img.children[path.Dir(name)] = append(img.children[path.Dir(name)], path.Base(name))
		}
	}
	return img
}

func rel(name string) string {
	if name = strings.TrimLeft(name, "/"); name == "" {
		return "."
	}
	return name
}

// missing reports a name that is not in the image without asking MapFS,
// which scans every entry for a name it does not hold: the image's
// directories are all explicit, so only a symlink above the name can make
// it exist.
func (i *memImage) missing(name string) bool {
	r := rel(name)
	if _, ok := i.m[r]; ok {
		return false
	}
	for d := path.Dir(r); d != "."; d = path.Dir(d) {
		if f, ok := i.m[d]; ok && f.Mode&fs.ModeSymlink != 0 {
			return false
		}
	}
	return true
}

func (i *memImage) Lstat(name string) (fs.FileInfo, error) {
	if i.missing(name) {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return i.m.Lstat(rel(name))
}

func (i *memImage) Readlink(name string) (string, error) { return i.m.ReadLink(rel(name)) }

func (i *memImage) Open(name string) (fs.File, error) {
	if i.missing(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return i.m.Open(rel(name))
}

func (i *memImage) ReadDir(name string) ([]fs.DirEntry, error) {
	d := rel(name)
	if f, ok := i.m[d]; !ok || !f.Mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for _, c := range i.children[d] {
		fi, err := i.m.Lstat(path.Join(d, c))
		if err != nil {
			return nil, err
		}
		out = append(out, fs.FileInfoToDirEntry(fi))
	}
	return out, nil
}

// rootImage is an image unpacked in a host directory, read through an
// os.Root as the session does.
type rootImage struct{ r *os.Root }

func (i rootImage) Lstat(name string) (fs.FileInfo, error) { return i.r.Lstat(rel(name)) }
func (i rootImage) Readlink(name string) (string, error)   { return i.r.Readlink(rel(name)) }
func (i rootImage) Open(name string) (fs.File, error)      { return i.r.Open(rel(name)) }

func (i rootImage) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := i.r.Open(rel(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

func openRootImage(t *testing.T, dir string) rootImage {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return rootImage{r}
}

// Helpers to write images.

func file(data string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(data), Mode: 0o644} }
func exe(data string) *fstest.MapFile  { return &fstest.MapFile{Data: []byte(data), Mode: 0o755} }
func dir(mode fs.FileMode) *fstest.MapFile {
	return &fstest.MapFile{Mode: fs.ModeDir | mode}
}
func sized(n int) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(strings.Repeat("x", n)), Mode: 0o644}
}

// with returns a copy of base with more files.
func with(base map[string]*fstest.MapFile, more map[string]*fstest.MapFile) map[string]*fstest.MapFile {
	out := maps.Clone(base)
	maps.Copy(out, more)
	return out
}

// read makes Used entries for paths opened for reading.
func read(paths ...string) []Used {
	var out []Used
	for _, p := range paths {
		out = append(out, Used{Path: p, Kinds: []trace.Access{trace.AccessRead}, OK: true})
	}
	return out
}

// checkSet checks that want's paths are kept, each with its reason, and
// that none of not is.
func checkSet(t *testing.T, s *Set, want map[string]Reason, not []string) {
	t.Helper()
	for _, p := range slices.Sorted(maps.Keys(want)) {
		e := s.Find(p)
		switch {
		case e == nil:
			t.Errorf("%s not kept (want %s)", p, want[p])
		case want[p] != "" && !e.Has(want[p]):
			t.Errorf("%s kept for %v (%s), want %s", p, e.Reasons, e.Detail, want[p])
		}
	}
	for _, p := range not {
		if e := s.Find(p); e != nil {
			t.Errorf("%s kept for %v (%s), want it left out", p, e.Reasons, e.Detail)
		}
	}
}

// checkWarnings checks each want is a substring of some warning, and that
// there are no warnings when want is empty.
func checkWarnings(t *testing.T, s *Set, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.ContainsFunc(s.Warnings, func(got string) bool { return strings.Contains(got, w) }) {
			t.Errorf("no warning with %q in %q", w, s.Warnings)
		}
	}
	if len(want) == 0 && len(s.Warnings) > 0 {
		t.Errorf("unexpected warnings %q", s.Warnings)
	}
}
