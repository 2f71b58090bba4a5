package builder

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxJSONBlob bounds the index, manifests and configs read into memory.
const maxJSONBlob = 16 << 20

// readArchive fills in the digests and sizes from the OCI archive the
// build exported: one pass to read the index, manifest and config, one to
// unpack the layers and count what they hold.
func (r *Result) readArchive(file string) error {
	small := map[string][]byte{}
	err := walkTar(file, func(h *tar.Header, rd io.Reader) error {
		if h.Name == ocispec.ImageIndexFile || h.Size <= maxJSONBlob && strings.HasPrefix(h.Name, "blobs/") {
			b, err := io.ReadAll(rd)
			if err != nil {
				return err
			}
			small[h.Name] = b
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading exported archive: %w", err)
	}
	blob := func(d ocispec.Descriptor, v any) error {
		b, ok := small[path.Join("blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())]
		if !ok {
			return fmt.Errorf("exported archive lacks blob %s", d.Digest)
		}
		return json.Unmarshal(b, v)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(small[ocispec.ImageIndexFile], &idx); err != nil {
		return fmt.Errorf("reading exported archive's index: %w", err)
	}
	if len(idx.Manifests) != 1 {
		return fmt.Errorf("exported archive holds %d manifests, want 1", len(idx.Manifests))
	}
	desc := idx.Manifests[0]
	var m ocispec.Manifest
	if err := blob(desc, &m); err != nil {
		return fmt.Errorf("reading exported manifest: %w", err)
	}
	r.Digest = desc.Digest
	r.ConfigDigest = m.Config.Digest
	r.Size = desc.Size + m.Config.Size
	layers := map[string]ocispec.Descriptor{}
	for _, l := range m.Layers {
		r.Size += l.Size
		layers[path.Join("blobs", l.Digest.Algorithm().String(), l.Digest.Encoded())] = l
	}
	err = walkTar(file, func(h *tar.Header, rd io.Reader) error {
		l, ok := layers[h.Name]
		if !ok {
			return nil
		}
		return r.countLayer(l, rd)
	})
	if err != nil {
		return fmt.Errorf("reading exported layers: %w", err)
	}
	return nil
}

// countLayer adds a layer's unpacked size, files and entries.
func (r *Result) countLayer(l ocispec.Descriptor, rd io.Reader) error {
	var dec io.Reader
	switch {
	case strings.HasSuffix(l.MediaType, "gzip"):
		z, err := gzip.NewReader(rd)
		if err != nil {
			return err
		}
		defer z.Close()
		dec = z
	case strings.HasSuffix(l.MediaType, "zstd"):
		z, err := zstd.NewReader(rd)
		if err != nil {
			return err
		}
		defer z.Close()
		dec = z
	default:
		dec = rd
	}
	cr := &countingReader{r: dec}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		r.Entries++
		if h.Typeflag == tar.TypeReg {
			r.FileBytes += h.Size
		}
	}
	// Trailing padding after the end-of-archive marker.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	r.UnpackedSize += cr.n
	return nil
}

// walkTar calls fn for each entry of the tar file.
func walkTar(file string, fn func(*tar.Header, io.Reader) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h, tr); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
