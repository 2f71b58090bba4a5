package target

// This file is what internal/builder needs from containerd, kept in one
// place (written by the builder's owner):
//
//   - ContentStore lets buildkitd read the fat image's blobs through the
//     BuildKit session (llb.OCILayout + client.SolveOpt.OCIStores), so the
//     image may sit in any namespace and no registry is ever involved;
//   - ImportSlim puts the OCI archive the builder exported into this
//     runtime's namespace, unpacked, under the name the archive carries.

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContentStore returns containerd's content store in the runtime's
// namespace. Calls use that namespace whatever namespace their context
// names (a BuildKit session's context may carry buildkitd's).
func (r *Runtime) ContentStore() content.Store {
	return nsStore{store: r.client.ContentStore(), ns: r.opts.Namespace}
}

// ImportSlim imports an OCI or docker archive holding one image, unpacks it
// for the snapshotter and names it as the archive does; the name appears
// only once the image is unpacked. want, when set, is the name the archive
// must carry.
func (r *Runtime) ImportSlim(ctx context.Context, archive, want string) (*Image, error) {
	img, err := r.Resolve(ctx, "oci-archive:"+archive)
	if err != nil {
		return nil, err
	}
	if want != "" && img.Name != want {
		return img, fmt.Errorf("imported image is named %q, want %q", img.Name, want)
	}
	return img, nil
}

// nsStore pins a content store to one namespace.
type nsStore struct {
	store content.Store
	ns    string
}

func (s nsStore) ctx(ctx context.Context) context.Context { return namespaces.WithNamespace(ctx, s.ns) }

func (s nsStore) Info(ctx context.Context, d digest.Digest) (content.Info, error) {
	return s.store.Info(s.ctx(ctx), d)
}

func (s nsStore) Update(ctx context.Context, info content.Info, fieldpaths ...string) (content.Info, error) {
	return s.store.Update(s.ctx(ctx), info, fieldpaths...)
}

func (s nsStore) Walk(ctx context.Context, fn content.WalkFunc, filters ...string) error {
	return s.store.Walk(s.ctx(ctx), fn, filters...)
}

func (s nsStore) Delete(ctx context.Context, d digest.Digest) error {
	return s.store.Delete(s.ctx(ctx), d)
}

func (s nsStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	return s.store.ReaderAt(s.ctx(ctx), desc)
}

func (s nsStore) Status(ctx context.Context, ref string) (content.Status, error) {
	return s.store.Status(s.ctx(ctx), ref)
}

func (s nsStore) ListStatuses(ctx context.Context, filters ...string) ([]content.Status, error) {
	return s.store.ListStatuses(s.ctx(ctx), filters...)
}

func (s nsStore) Abort(ctx context.Context, ref string) error {
	return s.store.Abort(s.ctx(ctx), ref)
}

func (s nsStore) Writer(ctx context.Context, opts ...content.WriterOpt) (content.Writer, error) {
	return s.store.Writer(s.ctx(ctx), opts...)
}
