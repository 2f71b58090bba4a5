package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config is the slim image's configuration: the fat image's, with the
// caller's changes.
type Config struct {
	// ImageConfig holds Entrypoint, Cmd, Env, WorkingDir, User,
	// ExposedPorts, Volumes, Labels and StopSignal.
	ocispec.ImageConfig
	// Healthcheck is docker's HEALTHCHECK, which the OCI config lacks.
	Healthcheck *Healthcheck
	// Platform of the image; OS and Architecture are required.
	Platform ocispec.Platform
	// Created is the image's creation time; zero means the build's time.
	Created time.Time
	// History is one line saying how the image was made, for
	// `docker history`; empty means a default naming slimtrace.
	History string
}

// Healthcheck is docker's HEALTHCHECK as stored in an image config.
type Healthcheck = dockerspec.HealthcheckConfig

// imageConfig renders c as the image config JSON BuildKit's exporters take
// (containerimage.config). BuildKit fills in rootfs and keeps every other
// field, Healthcheck included.
func imageConfig(c Config, now time.Time) ([]byte, error) {
	if c.Platform.OS == "" || c.Platform.Architecture == "" {
		return nil, errors.New("image config needs the platform's os and architecture")
	}
	created := c.Created
	if created.IsZero() {
		created = now
	}
	created = created.UTC()
	comment := c.History
	if comment == "" {
		comment = "slimtrace: files the app used, copied from the original image"
	}
	img := dockerspec.DockerOCIImage{
		Image: ocispec.Image{
			Created:  &created,
			Platform: c.Platform,
			RootFS:   ocispec.RootFS{Type: "layers"},
			History:  []ocispec.History{{Created: &created, CreatedBy: comment}},
		},
		Config: dockerspec.DockerOCIImageConfig{ImageConfig: c.ImageConfig},
	}
	if h := c.Healthcheck; h != nil {
		hc := *h
		img.Config.Healthcheck = &hc
	}
	dt, err := json.Marshal(img)
	if err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	return dt, nil
}
