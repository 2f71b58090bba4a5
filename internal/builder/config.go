package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultHistory is the history step a slim image records when the
// config given to Build has none.
const DefaultHistory = "slimtrace: files the app used, copied from the original image"

// imageConfig renders c, the slim image's config, as the image config JSON
// BuildKit's exporters take (containerimage.config). BuildKit fills in
// rootfs and keeps every other field, Healthcheck included. The platform's
// os and architecture are required; a nil Created means the build's time,
// and no history one step naming slimtrace.
func imageConfig(c dockerspec.DockerOCIImage, now time.Time) ([]byte, error) {
	if c.OS == "" || c.Architecture == "" {
		return nil, errors.New("image config needs the platform's os and architecture")
	}
	created := now
	if c.Created != nil {
		created = *c.Created
	}
	created = created.UTC()
	c.Created = &created
	c.RootFS = ocispec.RootFS{Type: "layers"}
	if len(c.History) == 0 {
		c.History = []ocispec.History{{Created: &created, CreatedBy: DefaultHistory}}
	}
	dt, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	return dt, nil
}
