package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxMetadataBytes caps a layout's index, manifest and config blobs (and
// its oci-layout file), as containers/image does: they are read whole into
// memory, layers are streamed.
const MaxMetadataBytes = 4 << 20

// layoutReader reads an OCI layout directory that may be hostile: every
// file is opened through an os.Root of the directory (symlinks may point
// inside it, never out), only as a regular file, blobs only by a validated
// digest, and never past the size their descriptor gives.
type layoutReader struct {
	root     *os.Root
	tw       *tar.Writer
	seen     map[digest.Digest]bool
	platform platforms.MatchComparer

	layout, index []byte // the oci-layout and index.json files
	idx           ocispec.Index
}

// openLayout opens the OCI layout in dir and checks its oci-layout file
// and index before anything is imported. Close it when done.
func openLayout(dir string) (_ *layoutReader, err error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout directory: %w", dir, err)
	}
	l := &layoutReader{root: root, seen: map[digest.Digest]bool{}, platform: platforms.Default()}
	defer func() {
		if err != nil {
			root.Close()
		}
	}()
	b, err := l.readSmall(ocispec.ImageLayoutFile, MaxMetadataBytes)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout directory: %w", dir, err)
	}
	var lay ocispec.ImageLayout
	if err := json.Unmarshal(b, &lay); err != nil {
		return nil, fmt.Errorf("%s is not an OCI layout directory: decoding %s: %w", dir, ocispec.ImageLayoutFile, err)
	}
	if lay.Version == "" {
		return nil, fmt.Errorf("%s is not an OCI layout directory: %s has no imageLayoutVersion", dir, ocispec.ImageLayoutFile)
	}
	if lay.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("OCI layout %s: unsupported imageLayoutVersion %q (want %q)", dir, lay.Version, ocispec.ImageLayoutVersion)
	}
	l.layout = b
	if l.index, err = l.readSmall(ocispec.ImageIndexFile, MaxMetadataBytes); err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := json.Unmarshal(l.index, &l.idx); err != nil {
		return nil, fmt.Errorf("OCI layout %s: decoding %s: %w", dir, ocispec.ImageIndexFile, err)
	}
	return l, nil
}

// Close releases the layout directory.
func (l *layoutReader) Close() error { return l.root.Close() }

// writeTar writes the layout to w as a tar holding only what its index
// reaches for this platform: oci-layout, index.json, and the blobs of its
// manifests, configs and layers. A blob the layout lacks is left out (the
// import reports it); anything else amiss is an error.
func (l *layoutReader) writeTar(w io.Writer) error {
	l.tw = tar.NewWriter(w)
	if err := l.writeFile(ocispec.ImageLayoutFile, l.layout); err != nil {
		return err
	}
	if err := l.writeFile(ocispec.ImageIndexFile, l.index); err != nil {
		return err
	}
	if err := l.children(l.idx.Manifests); err != nil {
		return err
	}
	return l.tw.Close()
}

// children copies the blobs an index lists for this platform.
func (l *layoutReader) children(ds []ocispec.Descriptor) error {
	for _, d := range ds {
		if d.Platform != nil && !l.platform.Match(*d.Platform) {
			continue
		}
		if err := l.blob(d); err != nil {
			return err
		}
	}
	return nil
}

// blob copies the blob d names and, for an index or manifest, what it
// reaches.
func (l *layoutReader) blob(d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("descriptor digest %q: %w", d.Digest, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("blob %s: negative size %d", d.Digest, d.Size)
	}
	if l.seen[d.Digest] {
		return nil
	}
	l.seen[d.Digest] = true
	name := "blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded()
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, images.MediaTypeDockerSchema2ManifestList:
		var idx ocispec.Index
		if ok, err := l.metadata(name, d, &idx); !ok || err != nil {
			return err
		}
		return l.children(idx.Manifests)
	case ocispec.MediaTypeImageManifest, images.MediaTypeDockerSchema2Manifest:
		var m ocispec.Manifest
		if ok, err := l.metadata(name, d, &m); !ok || err != nil {
			return err
		}
		if l.seen[m.Config.Digest] {
			// shared by another manifest: copied already
		} else if _, err := l.metadata("blobs/"+m.Config.Digest.Algorithm().String()+"/"+m.Config.Digest.Encoded(), m.Config, nil); err != nil {
			return err
		}
		for _, layer := range m.Layers {
			if err := l.blob(layer); err != nil {
				return err
			}
		}
		return nil
	}
	return l.stream(name, d)
}

// metadata copies a small blob (index, manifest, config) after checking
// its size and digest, and decodes it into v when v is not nil. It reports
// false when the layout lacks the blob.
func (l *layoutReader) metadata(name string, d ocispec.Descriptor, v any) (bool, error) {
	if err := d.Digest.Validate(); err != nil {
		return false, fmt.Errorf("descriptor digest %q: %w", d.Digest, err)
	}
	if d.Size > MaxMetadataBytes {
		return false, fmt.Errorf("blob %s (%s) is %d bytes: over the %d-byte cap on indexes, manifests and configs", d.Digest, d.MediaType, d.Size, MaxMetadataBytes)
	}
	if d.Size < 0 {
		return false, fmt.Errorf("blob %s: negative size %d", d.Digest, d.Size)
	}
	l.seen[d.Digest] = true
	b, err := l.readSmall(name, d.Size)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if int64(len(b)) != d.Size || d.Digest.Algorithm().FromBytes(b) != d.Digest {
		return false, fmt.Errorf("blob %s: content does not match its descriptor (size %d, digest %s)", name, d.Size, d.Digest)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return false, fmt.Errorf("decoding %s: %w", name, err)
		}
	}
	return true, l.writeFile(name, b)
}

// stream copies a layer (or any other blob) of exactly d.Size bytes; the
// import checks its digest as it stores it.
func (l *layoutReader) stream(name string, d ocispec.Descriptor) error {
	f, size, err := l.open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if size != d.Size {
		return fmt.Errorf("blob %s is %d bytes, its descriptor says %d", name, size, d.Size)
	}
	if err := l.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: d.Size, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(l.tw, f, d.Size); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// readSmall reads a file of at most max bytes.
func (l *layoutReader) readSmall(name string, max int64) ([]byte, error) {
	f, size, err := l.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > max {
		return nil, fmt.Errorf("%s is %d bytes: over the %d-byte cap", name, size, max)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%s grew over the %d-byte cap while read", name, max)
	}
	return buf.Bytes(), nil
}

// open opens a regular file of the layout without blocking on a FIFO or
// device and without leaving the layout, and returns its size.
func (l *layoutReader) open(name string) (*os.File, int64, error) {
	f, err := l.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s in the OCI layout: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s in the OCI layout is not a regular file (%s)", name, fi.Mode().Type())
	}
	return f, fi.Size(), nil
}

func (l *layoutReader) writeFile(name string, b []byte) error {
	if err := l.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := l.tw.Write(b)
	return err
}
