package builder

import (
	"context"
	"fmt"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/content/proxy"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// openSource opens containerd's content store at address, in namespace,
// for buildkitd to read the fat image's blobs through the BuildKit session
// (client.SolveOpt.OCIStores is typed with containerd's content.Store, so
// this package speaks that one API of containerd's, and nothing else of it).
// Close the connection when the solve is over.
func openSource(address, namespace string) (content.Store, *grpc.ClientConn, error) {
	conn, err := grpc.NewClient("unix://"+address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// containerd's own client allows 16 MiB messages; reads of large
		// blobs come in chunks below that.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to containerd at %s: %w", address, err)
	}
	return sourceStore{store: proxy.NewContentStore(contentapi.NewContentClient(conn)), ns: namespace}, conn, nil
}

// sourceStore reads one namespace of a content store, whatever namespace a
// call's context names (a BuildKit session's context may carry
// buildkitd's), and refuses every change: buildkitd, which may call any
// method through the session, can only read the user's image store.
type sourceStore struct {
	store content.Store
	ns    string
}

func (s sourceStore) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, s.ns)
}

func (s sourceStore) Info(ctx context.Context, d digest.Digest) (content.Info, error) {
	return s.store.Info(s.ctx(ctx), d)
}

func (s sourceStore) Walk(ctx context.Context, fn content.WalkFunc, filters ...string) error {
	return s.store.Walk(s.ctx(ctx), fn, filters...)
}

func (s sourceStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	return s.store.ReaderAt(s.ctx(ctx), desc)
}

func (s sourceStore) Status(ctx context.Context, ref string) (content.Status, error) {
	return s.store.Status(s.ctx(ctx), ref)
}

func (s sourceStore) ListStatuses(ctx context.Context, filters ...string) ([]content.Status, error) {
	return s.store.ListStatuses(s.ctx(ctx), filters...)
}

func denied(what string) error {
	return fmt.Errorf("%s: source content store is read-only: %w", what, errdefs.ErrPermissionDenied)
}

func (sourceStore) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, denied("update")
}

func (sourceStore) Delete(context.Context, digest.Digest) error { return denied("delete") }

func (sourceStore) Writer(context.Context, ...content.WriterOpt) (content.Writer, error) {
	return nil, denied("write")
}

func (sourceStore) Abort(context.Context, string) error { return denied("abort") }
