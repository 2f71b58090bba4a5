package image

import (
	"context"
	"errors"

	"github.com/containerd/containerd/v2/core/images"
)

// pull fetches the image ref (normalised) from its registry, for this
// platform only, under ctx's lease, not yet named in the store.
func (r *Store) pull(ctx context.Context, ref string) (images.Image, Origin, error) {
	return images.Image{}, Origin{}, errors.New("pulling from registries is not implemented yet")
}

// Push pushes img, which the store holds, to the registry of ref.
func (r *Store) Push(ctx context.Context, img *Image, ref string) error {
	return errors.New("pushing to registries is not implemented yet")
}
