package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/docker"
)

// Image is an image in containerd's store, unpacked and ready to run: its
// name, manifest and config, each decoded once, here. Every other package
// reads the config through Config (docker's image config, a superset of the
// OCI one: it carries HEALTHCHECK).
type Image struct {
	// Name in containerd's store, normalised as docker does
	// (docker.io/library/busybox:latest).
	Name string
	// Target is what the name points to: an index or a manifest.
	Target ocispec.Descriptor
	// Manifest is the manifest for Config.Platform, picked from Target.
	Manifest ocispec.Manifest
	// Config is the image config, with its history and rootfs.
	Config dockerspec.DockerOCIImage
	// Size of the image's content (manifest, config and layers as stored).
	Size int64
	// Reused is true when an archive named an image the store already held
	// with the same config, or Docker holds the image an earlier run copied
	// into the store: nothing was imported.
	Reused bool
	// Origin is where Resolve found the image.
	Origin Origin
}

// Digest is the digest of what the name points to.
func (i *Image) Digest() digest.Digest { return i.Target.Digest }

// ID is the digest of the image config (docker's image ID).
func (i *Image) ID() digest.Digest { return i.Manifest.Config.Digest }

// Platform is the image's platform as docker writes it: linux/amd64,
// linux/arm64/v8.
func (i *Image) Platform() string { return platforms.Format(i.Config.Platform) }

// ref is the containerd record of the image.
func (i *Image) ref() images.Image { return images.Image{Name: i.Name, Target: i.Target} }

// importPrefix names imported images that carry no name of their own.
const importPrefix = "slimtrace-import/"

// Resolve finds an image in containerd's store or imports it from a
// transport-prefixed source (see Sources), and unpacks it for the
// snapshotter. A plain name is looked up as given and normalised like docker
// does (busybox means docker.io/library/busybox:latest). Resolve never
// changes an image's content.
func (r *Store) Resolve(ctx context.Context, src string) (_ *Image, err error) {
	ctx = r.nsctx(ctx)
	s, err := parseSource(src)
	if err != nil {
		return nil, err
	}
	// The lease keeps imported content and unpacked snapshots from the
	// garbage collector until the image record references them; a failed
	// import leaves nothing behind once it is released.
	ls := r.client.LeasesService()
	lease, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("creating lease: %w", err)
	}
	lctx := leases.WithLease(ctx, lease.ID)
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if err != nil {
			r.abortIngests(cctx, lease)
		}
		if err := ls.Delete(cctx, lease); err != nil && !errdefs.IsNotFound(err) {
			logger(ctx).Warn().Err(err).Str("lease", lease.ID).Msg("releasing import lease")
		}
	}()

	var (
		img    images.Image
		origin Origin
		// name: the image came from elsewhere and is named in the store
		// once it unpacked, so a broken source leaves no image behind.
		name = s.kind != fromStore
	)
	switch s.kind {
	case fromStore:
		img, origin, name, err = r.find(lctx, s.ref)
	case fromDockerArchive, fromOCIArchive:
		origin = Origin{FromArchive, "archive " + s.path}
		var ok bool
		if img, ok = r.storedArchiveImage(lctx, s); ok {
			out, err := r.prepare(lctx, img)
			if out != nil {
				out.Reused, out.Origin = true, origin
			}
			return out, err
		}
		img, err = r.importFile(lctx, s)
	case fromOCIDir:
		origin = Origin{FromArchive, "OCI layout " + s.path}
		img, err = r.importDir(lctx, s)
	case fromDockerDaemon:
		origin = Origin{FromDocker, "Docker Engine at " + r.opts.Docker.Host}
		img, err = r.importDocker(lctx, s)
	case fromRegistry:
		var norm string
		if norm, err = Normalize(s.ref); err == nil {
			img, origin, err = r.pull(lctx, norm)
		}
	}
	if err != nil {
		return nil, err
	}
	out, err := r.prepare(lctx, img)
	if err != nil {
		return nil, err
	}
	out.Origin = origin
	// A copy of a Docker image kept from an earlier run, still the image
	// Docker has: nothing was exported.
	out.Reused = s.kind == fromStore && origin.Kind == FromDocker && !name
	if name {
		is := r.client.ImageService()
		rec, err := is.Update(lctx, img, "target", "labels")
		if errdefs.IsNotFound(err) {
			rec, err = is.Create(lctx, img)
		}
		if err != nil {
			return nil, fmt.Errorf("storing image %s: %w", img.Name, err)
		}
		out.Name, out.Target = rec.Name, rec.Target
		logger(ctx).Info().Str("image", rec.Name).Str("digest", out.Digest().String()).Str("source", src).Msg("imported image")
	}
	return out, nil
}

// abortIngests drops the half-written blobs of a failed import: the
// garbage collector keeps ingests that have no expiry.
func (r *Store) abortIngests(ctx context.Context, lease leases.Lease) {
	rs, err := r.client.LeasesService().ListResources(ctx, lease)
	if err != nil {
		logger(ctx).Warn().Err(err).Msg("listing import lease resources")
		return
	}
	for _, res := range rs {
		if res.Type != "ingests" {
			continue
		}
		// containerd may still be closing the ingest's writer (a failed
		// fetch returns before it did): try again a moment later.
		var err error
		for try := 0; try < 3; try++ {
			if err = r.client.ContentStore().Abort(ctx, res.ID); err == nil || errdefs.IsNotFound(err) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil && !errdefs.IsNotFound(err) {
			logger(ctx).Warn().Err(err).Str("ref", res.ID).Msg("aborting ingest")
		}
	}
}

// importFile imports a docker-archive or oci-archive file.
func (r *Store) importFile(ctx context.Context, s source) (images.Image, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return images.Image{}, fmt.Errorf("opening image archive: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return images.Image{}, fmt.Errorf("image archive %s is a directory (for an OCI layout directory use oci:%s)", s.path, s.path)
	}
	return r.importStream(ctx, f, s, s.path)
}

// importDir imports an OCI layout directory by streaming it as a tar,
// read through an os.Root of the directory (see openLayout).
func (r *Store) importDir(ctx context.Context, s source) (images.Image, error) {
	l, err := openLayout(s.path)
	if err != nil {
		return images.Image{}, err
	}
	defer l.Close()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := l.writeTar(pw)
		errc <- err
		pw.CloseWithError(err)
	}()
	img, err := r.importStream(ctx, pr, s, s.path)
	pr.Close()
	// The layout's own error says more than the import's of a cut tar.
	if werr := <-errc; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return images.Image{}, fmt.Errorf("reading OCI layout %s: %w", s.path, werr)
	}
	return img, err
}

// importDocker imports an image exported by a running Docker daemon.
func (r *Store) importDocker(ctx context.Context, s source) (images.Image, error) {
	dc, err := docker.New(r.opts.Docker)
	if err != nil {
		return images.Image{}, err
	}
	logger(ctx).Info().Str("image", s.ref).Str("docker", r.opts.Docker.Host).Msg("exporting the image from Docker Engine")
	rc, err := dc.Export(ctx, s.ref)
	if err != nil {
		return images.Image{}, fmt.Errorf("exporting %s from Docker: %w", s.ref, err)
	}
	defer rc.Close()
	return r.importStream(ctx, rc, s, "docker-daemon:"+s.ref)
}

// importStream imports the content of a docker-archive or OCI layout tar
// and returns the image s picks, not yet stored under its name: the caller
// names it once it unpacked, so a bad archive leaves no image record, and
// the rest of its content goes with the lease. what names the stream in
// errors.
func (r *Store) importStream(ctx context.Context, rd io.Reader, s source, what string) (images.Image, error) {
	cs := r.client.ContentStore()
	index, err := archive.ImportIndex(ctx, cs, rd)
	if err != nil {
		return images.Image{}, fmt.Errorf("importing %s (want a docker-archive or OCI layout tar): %w", what, err)
	}
	blob, err := content.ReadBlob(ctx, cs, index)
	if err != nil {
		return images.Image{}, fmt.Errorf("importing %s: reading index: %w", what, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(blob, &idx); err != nil {
		return images.Image{}, fmt.Errorf("importing %s: decoding index: %w", what, err)
	}
	img, err := pickImage(archiveImages(idx, importName(what)), s)
	if err != nil {
		return images.Image{}, fmt.Errorf("importing %s: %w", what, err)
	}

	// Label the content as the image's children, so that it outlives the
	// lease, and check that the archive holds all of it.
	handler := images.FilterPlatforms(images.SetChildrenLabels(cs, images.ChildrenHandler(cs)), platforms.Default())
	if err := images.WalkNotEmpty(ctx, handler, img.Target); err != nil {
		if errors.Is(err, images.ErrEmptyWalk) {
			return images.Image{}, fmt.Errorf("importing %s: %s has no image for platform %s", what, img.Name, platforms.DefaultString())
		}
		return images.Image{}, fmt.Errorf("importing %s: %w", what, err)
	}
	_, _, _, missing, err := images.Check(ctx, cs, img.Target, platforms.Default())
	if err != nil {
		return images.Image{}, fmt.Errorf("importing %s: %w", what, err)
	}
	if len(missing) > 0 {
		return images.Image{}, fmt.Errorf("importing %s: archive lacks %d blob(s) of %s", what, len(missing), img.Name)
	}
	return img, nil
}

// archiveImages names the manifests of an imported archive's index: by
// containerd's image name annotation (docker-archive's RepoTags, normalised),
// else by the OCI ref name (a bare tag is put under base), else as
// base@digest.
func archiveImages(idx ocispec.Index, base string) []images.Image {
	var out []images.Image
	for _, m := range idx.Manifests {
		if _, ok := m.Annotations[images.AnnotationManifestSubject]; ok {
			continue // a referrer (signature, attestation), not an image
		}
		name := m.Annotations[images.AnnotationImageName]
		if ref := m.Annotations[ocispec.AnnotationRefName]; name == "" && ref != "" {
			name = base + ":" + ref
			if strings.ContainsAny(ref, "/:@") {
				if n, err := reference.ParseDockerRef(ref); err == nil {
					name = n.String()
				}
			}
		}
		if name == "" {
			name = base + "@" + m.Digest.String()
		}
		out = append(out, images.Image{Name: name, Target: m})
	}
	return out
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// importName is the repository used for imported images that have no name
// of their own, derived from the archive's file name.
func importName(what string) string {
	b := strings.ToLower(filepath.Base(strings.TrimPrefix(what, "docker-daemon:")))
	for _, ext := range []string{".tar.gz", ".tgz", ".tar"} {
		b = strings.TrimSuffix(b, ext)
	}
	b = strings.Trim(nameUnsafe.ReplaceAllString(b, "-"), "-")
	if b == "" {
		b = "image"
	}
	return importPrefix + b
}

// pickImage chooses the image s asks for among those an import created.
func pickImage(imgs []images.Image, s source) (images.Image, error) {
	if len(imgs) == 0 {
		return images.Image{}, errors.New("archive holds no image")
	}
	if s.ref != "" {
		want := s.ref
		if n, err := reference.ParseDockerRef(s.ref); err == nil {
			want = n.String()
		}
		for _, img := range imgs {
			if img.Name == s.ref || img.Name == want || img.Target.Annotations[ocispec.AnnotationRefName] == s.ref {
				return img, nil
			}
		}
		if s.kind != fromDockerDaemon || distinctTargets(imgs) != 1 {
			return images.Image{}, fmt.Errorf("archive has no image %q (it has %s)", s.ref, imageNames(imgs))
		}
		// docker-daemon: an image ID names no tag; the export holds just it.
	}
	if n := distinctTargets(imgs); n > 1 {
		return images.Image{}, fmt.Errorf("archive holds %d images (%s); pick one by adding :REF after the path", n, imageNames(imgs))
	}
	// Prefer a real name over a digest reference of the same manifest.
	for _, img := range imgs {
		if !strings.HasPrefix(img.Name, importPrefix) {
			return img, nil
		}
	}
	return imgs[0], nil
}

func distinctTargets(imgs []images.Image) int {
	seen := map[digest.Digest]bool{}
	for _, img := range imgs {
		seen[img.Target.Digest] = true
	}
	return len(seen)
}

func imageNames(imgs []images.Image) string {
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

// prepare unpacks img for the snapshotter if needed and reads its manifest
// and config.
func (r *Store) prepare(ctx context.Context, ref images.Image) (*Image, error) {
	img := containerd.NewImage(r.client, ref)
	unpacked, err := img.IsUnpacked(ctx, r.opts.Snapshotter)
	if err != nil {
		return nil, fmt.Errorf("checking image %s: %w", ref.Name, err)
	}
	if !unpacked {
		logger(ctx).Info().Str("image", ref.Name).Str("snapshotter", r.opts.Snapshotter).Msg("unpacking image")
	}
	// Also when it is unpacked: Unpack skips the layers whose snapshots
	// exist and (re)labels the config with its snapshot, which keeps the
	// snapshot from containerd's garbage collector. An image imported again
	// over one unpacked earlier could otherwise lose its snapshot between
	// this check and the container's creation ("parent snapshot ... does
	// not exist").
	if err := img.Unpack(ctx, r.opts.Snapshotter); err != nil {
		return nil, fmt.Errorf("unpacking image %s: %w", ref.Name, err)
	}
	manifest, err := images.Manifest(ctx, r.client.ContentStore(), ref.Target, img.Platform())
	if err != nil {
		return nil, fmt.Errorf("reading manifest of image %s: %w", ref.Name, err)
	}
	blob, err := content.ReadBlob(ctx, r.client.ContentStore(), manifest.Config)
	if err != nil {
		return nil, fmt.Errorf("reading config of image %s: %w", ref.Name, err)
	}
	out := &Image{Name: ref.Name, Target: ref.Target, Manifest: manifest}
	if err := json.Unmarshal(blob, &out.Config); err != nil {
		return nil, fmt.Errorf("image %s: decoding image config: %w", ref.Name, err)
	}
	if out.Size, err = img.Size(ctx); err != nil {
		return nil, fmt.Errorf("sizing image %s: %w", ref.Name, err)
	}
	return out, nil
}
