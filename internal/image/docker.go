package image

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/platforms"

	"github.com/slimtrace/slimtrace/internal/docker"
)

// ToDocker loads img, which the store holds, into Docker Engine under its
// name, as `docker load` would: containerd exports it as a docker-archive
// (with this platform's manifest only) and the Engine API loads that.
func (r *Store) ToDocker(ctx context.Context, img *Image) error {
	ctx = r.nsctx(ctx)
	dc, err := docker.New(r.opts.Docker)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(r.client.Export(ctx, pw, archive.WithImage(r.client.ImageService(), img.Name),
			archive.WithPlatform(platforms.DefaultStrict())))
	}()
	defer pr.Close()
	loaded, err := dc.Load(ctx, pr)
	if err != nil {
		return fmt.Errorf("loading %s into Docker: %w", img.Name, err)
	}
	logger(ctx).Info().Str("image", img.Name).Strs("docker", loaded).Str("host", dc.Host()).Msg("loaded into Docker Engine")
	return nil
}

// RemoveFromDocker removes the tag name from Docker Engine (a failed
// delivery leaves no tag behind).
func (r *Store) RemoveFromDocker(ctx context.Context, name string) error {
	dc, err := docker.New(r.opts.Docker)
	if err != nil {
		return err
	}
	return dc.RemoveImage(ctx, name)
}
