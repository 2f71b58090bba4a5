package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Check compares got with testdata/name, or writes got there under -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (go test -update writes it): %v", err)
	}
	if line, g, w, differ := firstDiff(got, want); differ {
		t.Errorf("%s differs from line %d (go test -update rewrites it):\ngot:  %s\nwant: %s", path, line, g, w)
	}
}

// firstDiff returns the first line (1-based) where got and want differ, and the two lines quoted,
// or "end of file" for a line one of them lacks.
func firstDiff(got, want []byte) (line int, g, w string, differ bool) {
	if bytes.Equal(got, want) {
		return 0, "", "", false
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	quoted := func(lines []string, i int) string {
		if i < len(lines) {
			return strconv.Quote(lines[i])
		}
		return "end of file"
	}
	i := 0
	for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
		i++
	}
	return i + 1, quoted(gl, i), quoted(wl, i), true
}
