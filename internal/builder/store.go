package builder

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// readOnly passes reads to a content store and refuses every change, so
// that buildkitd, which may call any method through the session, can only
// read the user's image store.
type readOnly struct{ content.Store }

func denied(what string) error {
	return fmt.Errorf("%s: source content store is read-only: %w", what, errdefs.ErrPermissionDenied)
}

func (readOnly) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, denied("update")
}

func (readOnly) Delete(context.Context, digest.Digest) error { return denied("delete") }

func (readOnly) Writer(context.Context, ...content.WriterOpt) (content.Writer, error) {
	return nil, denied("write")
}

func (readOnly) Abort(context.Context, string) error { return denied("abort") }
