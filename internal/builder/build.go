package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Options says where and how to build.
type Options struct {
	// Address of buildkitd; default $BUILDKIT_HOST, else DefaultAddress.
	Address string
	// NoStart forbids starting a buildkitd when none answers at Address.
	NoStart bool
	// ContainerdAddress is the containerd socket a started buildkitd's
	// worker uses; default $CONTAINERD_ADDRESS, else
	// DefaultContainerdAddress.
	ContainerdAddress string
	// WorkerNamespace is the containerd namespace a started buildkitd keeps
	// its cache in; default DefaultWorkerNamespace.
	WorkerNamespace string
	// StateDir holds a started buildkitd's directory and the build's
	// temporary archive; default DefaultStateDir.
	StateDir string

	// Name tags the slim image, e.g. docker.io/library/app:latest.slim.
	Name string
	// Load puts the built image, an OCI archive (tar) named Name, into the
	// user's image store, unpacked; nil skips it. It runs only after the
	// build succeeded, so a failed build tags nothing: wire it to
	// target.Runtime.ImportSlim(ctx, archive, Name).
	Load func(ctx context.Context, archive string) error
	// Outputs are image tarballs to write as well.
	Outputs []Output
	// Compression of the layer: "gzip", which every runtime reads, "zstd",
	// about twice as fast to make and a little smaller, which needs
	// containerd 1.5 or docker 23 and later, or "uncompressed". The loaded
	// image and the tarballs are one image, with one digest. Default: zstd
	// when the image only goes to the local containerd, gzip when Outputs
	// are written (for older docker load).
	Compression string
	// NoCache redoes every step, even those buildkitd has cached.
	NoCache bool
	// Progress receives BuildKit's progress display (--show-blogs); nil
	// keeps quiet but for a log line per phase.
	Progress io.Writer
	// Track, when set, is told of the build's temporary directory once
	// made (made true) and once removed, so that what a killed build left
	// can be removed by a later run.
	Track func(ctx context.Context, dir string, made bool)
}

func (o Options) track(ctx context.Context, dir string, made bool) {
	if o.Track != nil {
		o.Track(ctx, dir, made)
	}
}

func (o Options) address() string {
	return pick(o.Address, os.Getenv("BUILDKIT_HOST"), DefaultAddress)
}

func (o Options) containerdAddress() string {
	return pick(o.ContainerdAddress, os.Getenv("CONTAINERD_ADDRESS"), DefaultContainerdAddress)
}

func (o Options) workerNamespace() string { return pick(o.WorkerNamespace, DefaultWorkerNamespace) }

func (o Options) compression() string {
	if len(o.Outputs) > 0 {
		return pick(o.Compression, "gzip")
	}
	return pick(o.Compression, "zstd")
}

func (o Options) stateDir() string { return pick(o.StateDir, DefaultStateDir) }

func pick(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Output is an image tarball to write.
type Output struct {
	// Type is "oci" (an OCI layout tar, for ctr images import or podman) or
	// "docker" (a docker-archive, for docker load).
	Type string
	// Dest is the file to write; it appears only when the build succeeds.
	Dest string
}

// ParseOutput parses docker's --output syntax: type=oci|docker,dest=FILE.
func ParseOutput(s string) (Output, error) {
	var o Output
	for f := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Output{}, fmt.Errorf("output %q: %q is not KEY=VALUE", s, f)
		}
		switch strings.TrimSpace(k) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return Output{}, fmt.Errorf("output %q: unknown key %q (want type and dest)", s, k)
		}
	}
	if o.Type != client.ExporterOCI && o.Type != client.ExporterDocker {
		return Output{}, fmt.Errorf("output %q: type must be %s or %s", s, client.ExporterOCI, client.ExporterDocker)
	}
	if o.Dest == "" || o.Dest == "-" {
		return Output{}, fmt.Errorf("output %q: needs dest=FILE", s)
	}
	return o, nil
}

// Result describes a built slim image.
type Result struct {
	// Name the image was exported under.
	Name string
	// Digest of the image manifest.
	Digest digest.Digest
	// ConfigDigest is the image ID.
	ConfigDigest digest.Digest
	// Size is the image's content as stored: manifest, config and
	// compressed layers.
	Size int64
	// UnpackedSize is the uncompressed size of the layers (tar streams).
	UnpackedSize int64
	// FileBytes is the sum of the regular files' sizes in the image, and
	// Entries the number of files, directories and links.
	FileBytes int64
	Entries   int
	Timings   Timings
	// Steps are BuildKit's steps, in the order they ended.
	Steps []Step
	// Outputs written, as asked.
	Outputs []Output
}

// Step is one of BuildKit's build steps (a vertex of its progress).
type Step struct {
	Name     string
	Duration time.Duration
	Cached   bool
}

// Timings splits a build's wall time.
type Timings struct {
	// Resolve: connecting (or starting buildkitd) and sending the kept
	// paths of the fat image through the session (only what changed since
	// the last build of the same image).
	Resolve time.Duration
	// Copy: the file operation that makes the slim filesystem, with the
	// cache key's checksums of the kept files it needs first.
	Copy time.Duration
	// Export: layer, manifest and tarballs, plus Load.
	Export time.Duration
	// Total wall time of Build, connecting to buildkitd included.
	Total time.Duration
}

// Build builds the slim image of spec through BuildKit, then loads it and
// writes the outputs. When it fails, no image is tagged, no output file
// appears, and no daemon, mount or file of the build is left.
func Build(ctx context.Context, spec Spec, opts Options) (_ *Result, err error) {
	begin := time.Now()
	if err := check(spec, opts); err != nil {
		return nil, err
	}
	var co []llb.ConstraintsOpt
	if opts.NoCache {
		co = append(co, llb.IgnoreCache)
	}
	def, set, err := marshal(ctx, spec, co...)
	if err != nil {
		return nil, err
	}
	if err := checkInert(def); err != nil {
		return nil, err
	}
	cfg, err := imageConfig(spec.Config, begin)
	if err != nil {
		return nil, err
	}
	ops, err := classifyOps(def)
	if err != nil {
		return nil, err
	}
	kept, err := newKeptFS(spec.Source.Dir, set)
	if err != nil {
		return nil, fmt.Errorf("building slim image of %s: %w", spec.Source.Name, err)
	}

	bk, err := connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer bk.close(ctx)
	if err := os.MkdirAll(opts.stateDir(), 0o711); err != nil {
		return nil, fmt.Errorf("creating state dir: %w", err)
	}
	tmp, err := os.MkdirTemp(opts.stateDir(), "build-")
	if err != nil {
		return nil, fmt.Errorf("creating build dir: %w", err)
	}
	opts.track(ctx, tmp, true)
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			logger(ctx).Warn().Err(err).Msg("removing build dir")
		} else {
			opts.track(ctx, tmp, false)
		}
	}()

	// The image for Load first, then the outputs, all written into tmp.
	files := []string{filepath.Join(tmp, "image.oci.tar")}
	exports := []client.ExportEntry{export(client.ExporterOCI, opts.Name, opts.compression(), files[0])}
	for i, o := range opts.Outputs {
		files = append(files, filepath.Join(tmp, fmt.Sprintf("output-%d.tar", i)))
		exports = append(exports, export(o.Type, opts.Name, opts.compression(), files[i+1]))
	}
	tl := newTimeline(ops, logger(ctx))
	logger(ctx).Info().Str("source", spec.Source.Name).Int("paths", len(spec.Paths)).Str("buildkitd", bk.addr).Msg("building slim image")
	if err := solve(ctx, bk, def, cfg, client.SolveOpt{
		Exports: exports,
		// Not LocalMounts: the client would make every file root's.
		Session: []session.Attachable{filesync.NewFSSyncProvider(filesync.StaticDirSource{localName: kept})},
	}, tl, opts.Progress); err != nil {
		return nil, fmt.Errorf("building slim image of %s: %w", spec.Source.Name, err)
	}
	solved := time.Now()

	res := &Result{Name: opts.Name}
	if err := res.readArchive(files[0]); err != nil {
		return nil, err
	}
	if err := finish(ctx, opts, files, res); err != nil {
		return nil, err
	}
	res.Timings = tl.timings(begin, solved, time.Now())
	res.Steps = tl.steps()
	logger(ctx).Info().Str("image", res.Name).Str("digest", res.Digest.String()).Int64("size", res.Size).
		Int64("unpacked_size", res.UnpackedSize).Dur("resolve", res.Timings.Resolve).Dur("copy", res.Timings.Copy).
		Dur("export", res.Timings.Export).Msg("built slim image")
	return res, nil
}

// check refuses what cannot work before anything starts.
func check(spec Spec, opts Options) error {
	if spec.Source.Dir == "" {
		return errors.New("source image has no directory to read it from")
	}
	if opts.Load != nil && opts.Name == "" {
		return errors.New("loading the slim image needs a name for it")
	}
	switch opts.Compression {
	case "", "gzip", "zstd", "uncompressed":
	default:
		return fmt.Errorf("unknown layer compression %q (want gzip, zstd or uncompressed)", opts.Compression)
	}
	for _, o := range opts.Outputs {
		if o.Type != client.ExporterOCI && o.Type != client.ExporterDocker {
			return fmt.Errorf("output type %q: want %s or %s", o.Type, client.ExporterOCI, client.ExporterDocker)
		}
		if fi, err := os.Stat(filepath.Dir(o.Dest)); err != nil || !fi.IsDir() {
			return fmt.Errorf("output %s: no directory to write it in", o.Dest)
		}
	}
	return nil
}

// solve runs the build and its exports, and follows its progress, under one
// errgroup. The image config goes to the exporters as the result's
// metadata, as a frontend would hand it over.
func solve(ctx context.Context, bk *buildkitd, def *llb.Definition, cfg []byte, opt client.SolveOpt, tl *timeline, progress io.Writer) error {
	status := make(chan *client.SolveStatus)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		_, err := bk.client.Build(ectx, opt, "slimtrace", func(ctx context.Context, c gateway.Client) (*gateway.Result, error) {
			res, err := c.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB(), Evaluate: true})
			if err != nil {
				return nil, err
			}
			res.AddMeta(exptypes.ExporterImageConfigKey, cfg)
			return res, nil
		}, status)
		return err
	})
	eg.Go(func() error { return watch(ectx, status, tl, progress) })
	return eg.Wait()
}

// finish loads the image and puts the outputs in place. The outputs are
// staged beside their destinations first and renamed only once the image is
// loaded, so a failure leaves neither.
func finish(ctx context.Context, opts Options, files []string, res *Result) (err error) {
	staged := make([]string, len(opts.Outputs))
	defer func() {
		for _, f := range staged {
			if f != "" {
				os.Remove(f)
			}
		}
	}()
	for i, o := range opts.Outputs {
		if staged[i], err = stage(files[i+1], o.Dest); err != nil {
			return fmt.Errorf("writing %s output: %w", o.Type, err)
		}
	}
	if opts.Load != nil {
		if err := opts.Load(ctx, files[0]); err != nil {
			return fmt.Errorf("loading slim image %s: %w", opts.Name, err)
		}
	}
	for i, o := range opts.Outputs {
		if err := os.Rename(staged[i], o.Dest); err != nil {
			return fmt.Errorf("writing %s output: %w", o.Type, err)
		}
		staged[i] = ""
		res.Outputs = append(res.Outputs, o)
	}
	return nil
}

// export is an exporter writing a tarball to file.
func export(typ, name, compression, file string) client.ExportEntry {
	attrs := map[string]string{
		string(exptypes.OptKeyLayerCompression): compression,
		string(exptypes.OptKeyForceCompression): "true",
	}
	if compression == "zstd" {
		attrs[string(exptypes.OptKeyOCITypes)] = "true" // docker's media types have no zstd
	}
	if name != "" {
		attrs[string(exptypes.OptKeyName)] = name
	}
	return client.ExportEntry{
		Type:  typ,
		Attrs: attrs,
		Output: func(map[string]string) (io.WriteCloser, error) {
			return os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		},
	}
}

// watch follows the build's progress: it records phase times, and feeds
// BuildKit's display when out is set. It drains status until the solve
// closes it.
func watch(ctx context.Context, status <-chan *client.SolveStatus, tl *timeline, out io.Writer) error {
	if out == nil {
		for s := range status {
			tl.update(s)
		}
		return nil
	}
	d, err := progressui.NewDisplay(out, progressui.AutoMode)
	if err != nil {
		for range status {
		}
		return fmt.Errorf("progress display: %w", err)
	}
	fwd := make(chan *client.SolveStatus)
	eg := errgroup.Group{}
	eg.Go(func() error {
		defer close(fwd)
		for s := range status {
			tl.update(s)
			fwd <- s
		}
		return nil
	})
	eg.Go(func() error {
		// The display returns on ctx's end; the forwarder must not block.
		_, err := d.UpdateFrom(context.WithoutCancel(ctx), fwd)
		for range fwd {
		}
		return err
	})
	return eg.Wait()
}

// stage moves src to a temporary file beside dst (renaming when they share
// a file system, copying otherwise) and returns its name.
func stage(src, dst string) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	if err := os.Rename(src, name); err == nil {
		tmp.Close()
		return name, os.Chmod(name, 0o644)
	}
	err = copyInto(tmp, src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func copyInto(w *os.File, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return w.Chmod(0o644)
}

// logger returns the logger carried in ctx (a disabled one when none is).
func logger(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }
