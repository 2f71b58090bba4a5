package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// maxArchiveJSON bounds the manifest and config files read from an archive.
const maxArchiveJSON = 4 << 20

// storedArchiveImage returns the image a docker-archive file names when the
// store already holds it under that name with the same config: the config
// digest pins every layer by its diff ID, so importing the archive again
// would write the same content (seconds for a large image). ok is false
// when the archive must be imported; an archive that cannot be read this
// way is left to the import, which reports what is wrong with it.
//
// Only the tar's headers and its small JSON files are read: the layers are
// skipped by seeking.
func (r *Store) storedArchiveImage(ctx context.Context, s source) (img images.Image, ok bool) {
	if s.kind != fromDockerArchive {
		return images.Image{}, false
	}
	f, err := os.Open(s.path)
	if err != nil {
		return images.Image{}, false
	}
	defer f.Close()
	small := map[string][]byte{}
	tr := tar.NewReader(f) // skips entries' data with Seek: f is an *os.File
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return images.Image{}, false
		}
		if h.Typeflag == tar.TypeReg && h.Size <= maxArchiveJSON && path.Ext(h.Name) == ".json" {
			b, err := io.ReadAll(tr)
			if err != nil {
				return images.Image{}, false
			}
			small[path.Clean(h.Name)] = b
		}
	}
	var ms []struct {
		Config   string
		RepoTags []string
	}
	if err := json.Unmarshal(small["manifest.json"], &ms); err != nil || len(ms) != 1 || len(ms[0].RepoTags) == 0 {
		return images.Image{}, false // several images, or none named: leave the choice to the import
	}
	cfg, found := small[path.Clean(ms[0].Config)]
	if !found {
		return images.Image{}, false
	}
	name := ms[0].RepoTags[0]
	if s.ref != "" {
		name = s.ref
	}
	if n, err := reference.ParseDockerRef(name); err == nil {
		name = n.String()
	}
	if !namedIn(ms[0].RepoTags, name) {
		return images.Image{}, false
	}
	stored, err := r.client.ImageService().Get(ctx, name)
	if err != nil {
		return images.Image{}, false // not there (or the store cannot say): import
	}
	cs := r.client.ContentStore()
	desc, err := images.Config(ctx, cs, stored.Target, platforms.Default())
	if err != nil || desc.Digest != digest.FromBytes(cfg) {
		return images.Image{}, false
	}
	available, _, _, missing, err := images.Check(ctx, cs, stored.Target, platforms.Default())
	if err != nil || !available || len(missing) > 0 {
		return images.Image{}, false
	}
	logger(ctx).Info().Str("image", name).Str("config", desc.Digest.String()).Str("archive", s.path).
		Msg("image already in the store with the archive's config: not imported again")
	return stored, true
}

// namedIn reports whether name is one of tags, normalised.
func namedIn(tags []string, name string) bool {
	for _, t := range tags {
		if n, err := reference.ParseDockerRef(t); err == nil && n.String() == name {
			return true
		}
	}
	return false
}
