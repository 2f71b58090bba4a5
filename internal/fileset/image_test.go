package fileset

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/slimtrace/slimtrace/internal/safefs"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// newImage makes an image from relative names; missing parent directories
// are added with mode 0755.
func newImage(files map[string]*fstest.MapFile) fstest.MapFS {
	m := fstest.MapFS{".": {Mode: fs.ModeDir | 0o755}}
	for name, f := range files {
		m[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := m[d]; !ok {
				m[d] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
		}
	}
	return m
}

// openRootImage reads an image unpacked in a host directory through
// safefs, as the session does (links are not followed where a file or a
// directory is opened: the reader resolves them in the image).
func openRootImage(t *testing.T, dir string) fs.FS {
	t.Helper()
	r, err := safefs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
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
