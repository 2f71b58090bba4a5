package tartest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTar writes a tar of the given entries (a name ending in / is a directory, one holding
// "->" a symlink) to a file in a temporary directory, gzip-compressed if zip.
func writeTar(t *testing.T, zip bool, entries ...[2]string) string {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if zip {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o600, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		switch {
		case strings.HasSuffix(e[0], "/"):
			h.Typeflag, h.Size = tar.TypeDir, 0
		case strings.Contains(e[0], "->"):
			name, target, _ := strings.Cut(e[0], "->")
			h.Name, h.Linkname, h.Typeflag, h.Size = name, target, tar.TypeSymlink, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e[1]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		zw.Close()
	}
	p := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFiles(t *testing.T) {
	for _, zip := range []bool{false, true} {
		p := writeTar(t, zip, [2]string{"manifest.json", "[]"}, [2]string{"blobs/"}, [2]string{"blobs/x", "layer"},
			[2]string{"link->blobs/x"})
		files, names := Files(t, p)
		if strings.Join(names, " ") != "manifest.json blobs/x" || string(files["manifest.json"]) != "[]" ||
			string(files["blobs/x"]) != "layer" || len(files) != 2 {
			t.Errorf("gzip %v: Files = %q, %q", zip, files, names)
		}
	}
}

func TestExtract(t *testing.T) {
	p := writeTar(t, true, [2]string{"etc/"}, [2]string{"etc/hostname", "box\n"}, [2]string{"../../escape", "no"},
		[2]string{"bin/sh->busybox"})
	dir := t.TempDir()
	Extract(t, p, dir)
	if b, err := os.ReadFile(filepath.Join(dir, "etc/hostname")); err != nil || string(b) != "box\n" {
		t.Errorf("etc/hostname: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); err != nil {
		t.Errorf("../../escape not kept inside dir: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin/sh")); !os.IsNotExist(err) {
		t.Errorf("symlink extracted: %v", err)
	}
}
