package container

import (
	"context"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/slimtrace/slimtrace/internal/image"
)

// Runtime makes containers from the images of one image store, in its
// containerd namespace, with per-run state under its state path.
type Runtime struct {
	client *containerd.Client
	opts   image.Options
	store  *image.Store // records what runs create (image.Store.Track)
}

// NewRuntime returns a runtime over store's connection; close the store
// after the containers.
func NewRuntime(store *image.Store) *Runtime {
	return &Runtime{client: store.Client(), opts: store.Options(), store: store}
}

// nsctx returns ctx carrying the runtime's namespace.
func (r *Runtime) nsctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.opts.Namespace)
}

// image is img as containerd's client takes it.
func (r *Runtime) image(img *image.Image) containerd.Image {
	return containerd.NewImage(r.client, images.Image{Name: img.Name, Target: img.Target})
}

// cleanupContext returns a context for cleanup that works even when ctx is
// already cancelled: it keeps ctx's values (logger, namespace) and gets its
// own timeout.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
