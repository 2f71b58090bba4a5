package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"

	"github.com/slimtrace/slimtrace/internal/docker"
)

// Kinds of Origin.
const (
	FromContainerd = "containerd"
	FromDocker     = "docker"
	FromRegistry   = "registry"
	FromArchive    = "archive"
)

// DockerNamespace is where Docker >= 29 keeps images when it uses
// containerd's image store.
const DockerNamespace = "moby"

// Origin says where Resolve found an image: the slim image goes back there
// unless the user says otherwise.
type Origin struct {
	// Kind is FromContainerd, FromDocker, FromRegistry or FromArchive.
	Kind string
	// Where, in words: "containerd namespace default",
	// "Docker Engine at unix:///var/run/docker.sock", "registry
	// 127.0.0.1:5000", "archive app.tar".
	Where string
}

func (o Origin) String() string { return o.Where }

// Labels slimtrace puts on the copy of a Docker image it keeps in
// containerd, so a later run reuses it while Docker still has the same
// image.
const (
	labelOrigin   = "io.slimtrace.origin"
	labelDockerID = "io.slimtrace.docker-id"
)

// Normalize returns name as docker normalises it (my/app is
// docker.io/my/app:latest).
func Normalize(name string) (string, error) {
	n, err := reference.ParseDockerRef(name)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", name, err)
	}
	return n.String(), nil
}

// find looks a bare name up where the user's images live, in order: the
// store's containerd namespace, Docker Engine (Docker 29's containerd image
// store in this containerd's "moby" namespace, then the Engine API, which
// serves the classic store), then, with Options.Pull, its registry.
// imported is true when the image came from elsewhere and is not yet named
// in the store.
func (r *Store) find(ctx context.Context, name string) (img images.Image, origin Origin, imported bool, err error) {
	norm, err := Normalize(name)
	if err != nil {
		return images.Image{}, Origin{}, false, err
	}
	if r.opts.Pull == PullAlways {
		img, origin, err := r.pull(ctx, norm)
		return img, origin, true, err
	}
	var where []string
	local, err := r.client.ImageService().Get(ctx, norm)
	if errdefs.IsNotFound(err) {
		local, err = r.byDigest(ctx, norm)
	}
	switch {
	case err == nil && local.Labels[labelOrigin] != FromDocker:
		return local, Origin{FromContainerd, "containerd namespace " + r.opts.Namespace}, false, nil
	case err != nil && !errdefs.IsNotFound(err):
		return images.Image{}, Origin{}, false, fmt.Errorf("looking up image %q: %w", norm, err)
	}
	where = append(where, fmt.Sprintf("containerd namespace %q at %s", r.opts.Namespace, r.opts.Address))

	if r.opts.Namespace != DockerNamespace {
		img, ok, err := r.fromNamespace(ctx, DockerNamespace, norm, local)
		if err != nil {
			return images.Image{}, Origin{}, false, err
		}
		if ok {
			return img, Origin{FromDocker, "Docker Engine's containerd image store (containerd namespace " + DockerNamespace + ")"},
				img.Target.Digest != local.Target.Digest, nil
		}
		where = append(where, fmt.Sprintf("containerd namespace %q (Docker >= 29)", DockerNamespace))
	}

	dockerOrigin := Origin{FromDocker, "Docker Engine at " + r.opts.Docker.Host}
	dc, err := docker.New(r.opts.Docker)
	if err != nil {
		return images.Image{}, Origin{}, false, err
	}
	id, ok, err := dc.InspectImage(ctx, norm)
	switch {
	case errors.Is(err, docker.ErrUnreachable):
		logger(ctx).Debug().Err(err).Msg("no Docker Engine to look the image up in")
		where = append(where, "Docker Engine at "+r.opts.Docker.Host+" (not reachable)")
	case err != nil:
		return images.Image{}, Origin{}, false, err
	case ok && local.Labels[labelDockerID] == id:
		logger(ctx).Info().Str("image", norm).Str("id", id).Msg("Docker's image already in the store: not exported again")
		return local, dockerOrigin, false, nil
	case ok:
		img, err := r.importDocker(ctx, source{kind: fromDockerDaemon, ref: norm})
		if err != nil {
			return images.Image{}, Origin{}, false, err
		}
		img.Labels = map[string]string{labelOrigin: FromDocker, labelDockerID: id}
		return img, dockerOrigin, true, nil
	default:
		where = append(where, "Docker Engine at "+r.opts.Docker.Host)
	}

	if local.Name != "" {
		// A copy of a Docker image Docker no longer has: still the user's.
		return local, Origin{FromContainerd, "containerd namespace " + r.opts.Namespace}, false, nil
	}
	if r.opts.Pull == PullMissing {
		img, origin, err := r.pull(ctx, norm)
		return img, origin, true, err
	}
	return images.Image{}, Origin{}, false, fmt.Errorf("%w: %s is in none of: %s; pass --pull to pull it from its registry, or name a source: %s",
		ErrImageNotFound, norm, strings.Join(where, ", "), Sources)
}

// fromNamespace copies the image name from another namespace of the same
// containerd into the store's, through containerd's own export and import
// (the blobs stay on containerd's side), unless local, the store's copy,
// already is that image.
func (r *Store) fromNamespace(ctx context.Context, ns, name string, local images.Image) (images.Image, bool, error) {
	octx := namespaces.WithNamespace(ctx, ns)
	there, err := r.client.ImageService().Get(octx, name)
	if errdefs.IsNotFound(err) {
		return images.Image{}, false, nil
	} else if err != nil {
		return images.Image{}, false, fmt.Errorf("looking up %s in containerd namespace %s: %w", name, ns, err)
	}
	if local.Target.Digest == there.Target.Digest {
		return local, true, nil
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(r.client.Export(octx, pw, archive.WithImage(r.client.ImageService(), name),
			archive.WithPlatform(platforms.DefaultStrict())))
	}()
	defer pr.Close()
	img, err := r.importStream(ctx, pr, source{kind: fromDockerDaemon, ref: name}, "containerd namespace "+ns)
	img.Labels = map[string]string{labelOrigin: FromDocker}
	return img, err == nil, err
}

// byDigest finds the image a reference by digest (repo@sha256:...) names:
// a record of the same repository whose target has that digest, as Docker
// resolves it. It returns a not-found error when there is none.
func (r *Store) byDigest(ctx context.Context, ref string) (images.Image, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return images.Image{}, err
	}
	d, ok := n.(reference.Digested)
	if !ok {
		return images.Image{}, errdefs.ErrNotFound
	}
	imgs, err := r.client.ImageService().List(ctx, "target.digest=="+d.Digest().String())
	if err != nil {
		return images.Image{}, fmt.Errorf("looking up %s: %w", ref, err)
	}
	for _, img := range imgs {
		if m, err := reference.ParseNormalizedNamed(img.Name); err == nil && m.Name() == n.Name() {
			return img, nil
		}
	}
	return images.Image{}, errdefs.ErrNotFound
}
