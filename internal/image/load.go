package image

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
)

// Load imports an OCI or docker archive holding one image (the slim image
// the builder exported), unpacks it for the snapshotter and names it as the
// archive does; the name appears only once the image is unpacked. want,
// when set, is the name the archive must carry, normalised as docker does.
func (r *Store) Load(ctx context.Context, archive, want string) (*Image, error) {
	img, err := r.Resolve(ctx, "oci-archive:"+archive)
	if err != nil {
		return nil, err
	}
	if want != "" {
		n, err := reference.ParseDockerRef(want)
		if err != nil {
			return img, fmt.Errorf("image name %q: %w", want, err)
		}
		if img.Name != n.String() {
			return img, fmt.Errorf("imported image is named %q, want %q", img.Name, n.String())
		}
	}
	return img, nil
}
