package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testLayout writes a one-image OCI layout to a temp dir and returns the
// dir and the digests of its manifest, config and layer.
func testLayout(t *testing.T, config []byte) (dir string, mf, cfg, layer ocispec.Descriptor) {
	t.Helper()
	dir = t.TempDir()
	put := func(mt string, b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	if config == nil {
		config = []byte(`{"architecture":"` + platforms.DefaultSpec().Architecture + `","os":"linux"}`)
	}
	cfg = put(ocispec.MediaTypeImageConfig, config)
	layer = put(ocispec.MediaTypeImageLayer, []byte("not really a tar, never unpacked here"))
	m, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	mf = put(ocispec.MediaTypeImageManifest, m)
	writeLayoutJSON(t, dir, ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{mf}}, `{"imageLayoutVersion":"1.0.0"}`)
	return dir, mf, cfg, layer
}

func writeLayoutJSON(t *testing.T, dir string, idx ocispec.Index, layout string) {
	t.Helper()
	idx.SchemaVersion = 2
	b, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(layout), 0o644); err != nil {
		t.Fatal(err)
	}
}

func blobPath(dir string, d ocispec.Descriptor) string {
	return filepath.Join(dir, "blobs", "sha256", d.Digest.Encoded())
}

// layoutTar reads a layout as importDir does and returns the tar's file
// names and contents.
func layoutTar(dir string) (map[string][]byte, error) {
	l, err := openLayout(dir)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var buf bytes.Buffer
	if err := l.writeTar(&buf); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

// TestLayoutGood: a plain layout, and one whose blob is a symlink to
// another file inside the layout, give the same tar of every blob.
func TestLayoutGood(t *testing.T) {
	dir, mf, cfg, layer := testLayout(t, nil)
	want := []string{"blobs/sha256/" + cfg.Digest.Encoded(), "blobs/sha256/" + layer.Digest.Encoded(), "blobs/sha256/" + mf.Digest.Encoded(), "index.json", "oci-layout"}
	check := func(name string) {
		files, err := layoutTar(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for n := range files {
			got = append(got, n)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: tar holds %v, want %v", name, got, want)
		}
		if b := files["blobs/sha256/"+layer.Digest.Encoded()]; digest.FromBytes(b) != layer.Digest {
			t.Errorf("%s: layer content changed", name)
		}
	}
	check("plain")
	// A link that stays inside the layout is followed.
	p := blobPath(dir, layer)
	if err := os.Rename(p, filepath.Join(dir, "layer.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../layer.bin", p); err != nil {
		t.Fatal(err)
	}
	check("inner symlink")
}

// TestLayoutHostile: layouts that name host files, lie about sizes or
// digests, or are too big are refused with an error that says why, and no
// byte of a host file is read into the tar.
func TestLayoutHostile(t *testing.T) {
	host := filepath.Join(t.TempDir(), "shadow")
	secret := "root:$6$hostsecret:19000:0:99999:7:::\n"
	if err := os.WriteFile(host, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor)
		want  string
	}{
		{"layer symlink to a host file", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			p := blobPath(dir, layer)
			os.Remove(p)
			if err := os.Symlink(host, p); err != nil {
				t.Fatal(err)
			}
		}, "path escapes from parent"},
		{"config symlink out by ..", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			p := blobPath(dir, cfg)
			os.Remove(p)
			rel, _ := filepath.Rel(filepath.Dir(p), host)
			if err := os.Symlink(rel, p); err != nil {
				t.Fatal(err)
			}
		}, "path escapes from parent"},
		{"blobs dir symlink to a host dir", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			os.RemoveAll(filepath.Join(dir, "blobs"))
			if err := os.Symlink(filepath.Dir(host), filepath.Join(dir, "blobs")); err != nil {
				t.Fatal(err)
			}
		}, "path escapes from parent"},
		{"no imageLayoutVersion", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			writeLayoutJSON(t, dir, ocispec.Index{Manifests: []ocispec.Descriptor{mf}}, `{}`)
		}, "has no imageLayoutVersion"},
		{"digest with a path", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			mf.Digest = "sha256:../../../../etc/shadow"
			writeLayoutJSON(t, dir, ocispec.Index{Manifests: []ocispec.Descriptor{mf}}, `{"imageLayoutVersion":"1.0.0"}`)
		}, "invalid checksum digest"},
		{"unknown digest algorithm", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			mf.Digest = "x/../..:abc"
			writeLayoutJSON(t, dir, ocispec.Index{Manifests: []ocispec.Descriptor{mf}}, `{"imageLayoutVersion":"1.0.0"}`)
		}, "descriptor digest"},
		{"layer bigger than its descriptor", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			if err := os.WriteFile(blobPath(dir, layer), bytes.Repeat([]byte("x"), 1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "its descriptor says"},
		{"manifest not matching its digest", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			b, _ := os.ReadFile(blobPath(dir, mf))
			b[len(b)-1] = ' '
			os.WriteFile(blobPath(dir, mf), b, 0o644)
		}, "does not match its descriptor"},
		{"layer is a FIFO", func(t *testing.T, dir string, mf, cfg, layer ocispec.Descriptor) {
			p := blobPath(dir, layer)
			os.Remove(p)
			if err := mkfifo(p); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, "not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, mf, cfg, layer := testLayout(t, nil)
			c.setup(t, dir, mf, cfg, layer)
			files, err := layoutTar(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
			for n, b := range files {
				if strings.Contains(string(b), "hostsecret") {
					t.Errorf("host file's bytes in %s", n)
				}
			}
		})
	}

	t.Run("oversize config", func(t *testing.T) {
		big := append([]byte(`{"os":"linux","x":"`), bytes.Repeat([]byte("a"), MaxMetadataBytes)...)
		big = append(big, `"}`...)
		dir, _, _, _ := testLayout(t, big)
		_, err := layoutTar(dir)
		if err == nil || !strings.Contains(err.Error(), "over the 4194304-byte cap") {
			t.Errorf("error %v, want the 4 MiB cap", err)
		}
	})
	t.Run("oversize index", func(t *testing.T) {
		dir, _, _, _ := testLayout(t, nil)
		big := bytes.Repeat([]byte(" "), MaxMetadataBytes+1)
		if err := os.WriteFile(filepath.Join(dir, "index.json"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := layoutTar(dir)
		if err == nil || !strings.Contains(err.Error(), "cap") {
			t.Errorf("error %v, want the cap", err)
		}
	})
}

func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }
