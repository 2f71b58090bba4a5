package tartest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Walk calls fn for each entry of the tar file at path, with a reader of the entry's contents,
// and fails t on a read error or an error from fn.
func Walk(t testing.TB, path string, fn func(h *tar.Header, r io.Reader) error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if err := fn(h, tr); err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
	}
}

// Files returns the regular files of the tar file at path: their contents by name, and their
// names in the archive's order. It holds the whole archive in memory; Walk reads a few entries.
func Files(t testing.TB, path string) (contents map[string][]byte, names []string) {
	t.Helper()
	contents = map[string][]byte{}
	Walk(t, path, func(h *tar.Header, r io.Reader) error {
		if h.Typeflag != tar.TypeReg {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if _, seen := contents[h.Name]; !seen {
			names = append(names, h.Name)
		}
		contents[h.Name] = b
		return nil
	})
	return contents, names
}

// Extract writes the directories (mode 0755) and regular files (0644) of the tar file at path
// under dir; owners, modes, links and other entries are not kept. Names cannot escape dir.
func Extract(t testing.TB, path, dir string) {
	t.Helper()
	Walk(t, path, func(h *tar.Header, r io.Reader) error {
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			return os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, r)
			return errors.Join(err, f.Close())
		}
		return nil
	})
}
