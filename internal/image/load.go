package image

import (
	"context"
	"fmt"

	"github.com/distribution/reference"
)

// Load imports an OCI or docker archive holding one image (the slim image
// the builder exported), unpacks it for the snapshotter and names it as the
// archive does; the name appears only once the image is unpacked. want,
// when set, is the name the archive must carry, normalised as docker does;
// an archive named otherwise is removed again.
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
			// Leave no tag behind: a failed build tags nothing.
			if rerr := r.Remove(context.WithoutCancel(ctx), img.Name); rerr != nil {
				logger(ctx).Warn().Err(rerr).Msg("removing the mis-named import")
			}
			return nil, fmt.Errorf("imported image is named %q, want %q", img.Name, n.String())
		}
	}
	return img, nil
}
