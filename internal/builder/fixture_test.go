package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fixtureTime is the mtime of every entry of a synthetic image: far from
// any build's clock, so that a time that is not copied shows.
var fixtureTime = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// writeOCIArchive writes a one-layer image holding entries (tar headers,
// with file contents in contents by name) as an OCI archive named name.
func writeOCIArchive(t testing.TB, file, name string, entries []*tar.Header, contents map[string][]byte) {
	t.Helper()
	var layer bytes.Buffer
	zw := gzip.NewWriter(&layer)
	diff := digest.SHA256.Digester()
	tw := tar.NewWriter(io.MultiWriter(zw, diff.Hash()))
	for _, h := range entries {
		if h.ModTime.IsZero() {
			h.ModTime = fixtureTime
		}
		h.Format = tar.FormatPAX
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(contents[h.Name]))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(contents[h.Name]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	blobs := map[digest.Digest][]byte{}
	add := func(mt string, b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		blobs[d] = b
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	layerDesc := add(ocispec.MediaTypeImageLayerGzip, layer.Bytes())
	created := fixtureTime
	cfg, _ := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   ocispec.ImageConfig{Cmd: []string{"/bin/true"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diff.Digest()}},
	})
	man, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    add(ocispec.MediaTypeImageConfig, cfg),
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	manDesc := add(ocispec.MediaTypeImageManifest, man)
	manDesc.Annotations = map[string]string{"io.containerd.image.name": name, ocispec.AnnotationRefName: "latest"}
	idx, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manDesc},
	})

	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := tar.NewWriter(f)
	put := func(name string, b []byte) {
		if err := out.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: fixtureTime, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := out.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	put(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put(ocispec.ImageIndexFile, idx)
	for d, b := range blobs {
		put("blobs/sha256/"+d.Encoded(), b)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
