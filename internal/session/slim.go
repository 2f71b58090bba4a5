package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/image"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/builder"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/fileset"
)

// BuildOptions are what build adds to a traced run.
type BuildOptions struct {
	// Files are the user's controls over the file set.
	Files fileset.Options
	// Tag names the slim image; empty means the fat image's repository
	// with ".slim" appended (docker.io/library/app.slim:latest).
	Tag string
	// Changes to the slim image's configuration.
	Changes ConfigChanges
	// Builder says where and how to build (buildkitd address, outputs,
	// progress); Name and Load are set by Slim.
	Builder builder.Options
	// Deliver says where the slim image goes once built (see Deliver).
	Deliver DeliverOptions
	// FilesetTimeout bounds the file-set computation (DefaultFilesetTimeout
	// when 0): a hostile image cannot keep the build there.
	FilesetTimeout time.Duration
}

// DefaultFilesetTimeout is the default bound on the file-set computation.
const DefaultFilesetTimeout = 5 * time.Minute

// ConfigChanges edit the configuration the slim image carries over from the
// fat one. --entrypoint and --cmd used while tracing do not change it; these
// do.
type ConfigChanges struct {
	Entrypoint, Cmd []string // nil: keep
	Env             []string // KEY=VALUE, added or replacing
	Workdir         string
	Expose          []string // PORT[/PROTO]
	Labels          map[string]string
	RemoveExpose    []string
	RemoveEnv       []string // names
	RemoveLabels    []string
	RemoveVolumes   []string
}

// ErrNotSmaller is returned when the slim image would not be smaller than
// the fat one: nothing is built or tagged.
var ErrNotSmaller = errors.New("the slim image would not be smaller than the fat one")

// SlimResult is the slim image Slim built: the report's account of it and the
// time each of its phases took.
type SlimResult struct {
	Report                       creport.Slim
	FilesetMS, SolveMS, ExportMS int64

	image   *image.Image // as loaded into the store
	deliver DeliverOptions
}

// Slim computes the set of files the slim image keeps from the run's trace
// and the image's filesystem, then builds the image through BuildKit from
// the fat one, into the same containerd namespace.
func Slim(ctx context.Context, run *Run, b BuildOptions) (*SlimResult, error) {
	step := progressFunc(run.Options)
	start := time.Now()
	cfg, err := slimConfig(run.Image.Config, b.Changes)
	if err != nil {
		return nil, err
	}
	step("computing the file set")
	files, execs := fileset.FromTrace(run.Trace, run.AppLineage, run.HealthLineage)
	mounts := slices.Clone(run.Options.Run.Mounts)
	for i, m := range mounts {
		if pm, err := container.ParseMount(m); err == nil {
			mounts[i] = pm.Destination
		}
	}
	timeout := cmp.Or(b.FilesetTimeout, DefaultFilesetTimeout)
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Every read of the image fails once fctx is done (a deadline, or
	// SIGTERM/Ctrl-C cancelling ctx), so Compute ends soon after.
	fsys := run.root.WithContext(fctx)
	// The fat image's size is a walk of the whole image: beside the file
	// set, on the other core, rather than after it.
	type sized struct {
		n   int64
		err error
	}
	fat := make(chan sized, 1)
	go func() {
		n, err := fileBytes(fsys)
		fat <- sized{n, err}
	}()
	set, err := fileset.Compute(fileset.Input{FS: fsys, Files: files, Execs: execs, Mounts: mounts,
		Config: cfg.Config, Options: b.Files, Paths: run.paths})
	if err == nil {
		err = filesetDone(ctx, fctx, timeout)
	}
	if err != nil {
		cancel() // and wait for the walk, which then fails at once
		<-fat
		return nil, fmt.Errorf("computing the file set: %w", err)
	}
	fb := <-fat
	fatBytes, err := fb.n, fb.err
	if err == nil {
		err = filesetDone(ctx, fctx, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("measuring the image: %w", err)
	}
	out := &SlimResult{Report: creport.Slim{FatSize: fatBytes, Size: set.Size(), Warnings: set.Warnings,
		Imports: importsReport(set.Imports)}}
	slim := &out.Report
	if im := slim.Imports; im != nil {
		step("import closure: %d files (%s) added from %d source files, %d dynamic names unresolved%s",
			im.Files, units.HumanSize(float64(im.Bytes)), im.Parsed, len(im.Unresolved), map[string]string{"": "",
				fileset.BoundDepth: ", depth bound reached", fileset.BoundSize: ", size bound reached"}[im.Bound])
		if im.UnresolvedLeftOut > 0 {
			step("%d more dynamic names not listed: caps %s reached (--imports-max-unresolved-per-file, --imports-max-unresolved)%s",
				im.UnresolvedLeftOut, strings.Join(im.UnresolvedCapped, ", "), firstFiles(im.UnresolvedCappedFiles))
		}
	}
	slim.Insurance, slim.InsuranceBytes = b.Files.Insurance(), map[string]int64{}
	for r, n := range set.InsuranceBytes() {
		slim.InsuranceBytes[string(r)] = n
	}
	for _, d := range set.CappedDirs {
		slim.CappedDirs = append(slim.CappedDirs, creport.CappedDir(d))
	}
	for _, e := range set.Entries {
		kf := creport.KeptFile{Path: e.Path, Type: fileType(e.Mode), Size: e.Size, Detail: e.Detail}
		for _, r := range e.Reasons {
			kf.Reasons = append(kf.Reasons, string(r))
		}
		slim.Files = append(slim.Files, kf)
	}
	out.FilesetMS = time.Since(start).Milliseconds()
	if set.Size() >= fatBytes {
		return nil, fmt.Errorf("%w: %d bytes of files kept, %d in the image", ErrNotSmaller, set.Size(), fatBytes)
	}

	name := b.Tag
	if name == "" {
		name = SlimName(run.Image.Name)
	}
	if name, err = image.Normalize(name); err != nil {
		return nil, fmt.Errorf("--tag: %w", err)
	}
	store := run.store
	bo := b.Builder
	bo.Name = name
	bo.Load = func(ctx context.Context, archive string) error {
		img, err := store.Load(ctx, archive, name)
		out.image = img
		return err
	}
	bo.Track = func(ctx context.Context, dir string, made bool) {
		if made {
			store.Track(ctx, image.TrackTree, dir)
		} else {
			store.Untrack(ctx, image.TrackTree, dir)
		}
	}
	if bo.ContainerdAddress == "" {
		bo.ContainerdAddress = store.Address()
	}
	out.deliver = b.Deliver
	if out.deliver.Runtime == "" {
		out.deliver.Runtime = RuntimeContainerd
		if run.Image.Origin.Kind == image.FromDocker {
			out.deliver.Runtime = RuntimeDocker
		}
	}
	if bo.Compression == "" && (out.deliver.Push || out.deliver.Runtime == RuntimeDocker) {
		bo.Compression = "gzip" // what every Docker and registry client reads; zstd needs Docker >= 23
	}
	overrides, err := overrides(run, set)
	if err != nil {
		return nil, err
	}
	step("building %s with BuildKit (%d paths, %s of files)", name, len(set.Entries), units.HumanSize(float64(set.Size())))
	br, err := builder.Build(ctx, builder.Spec{
		Source:    builder.Source{Name: run.Image.Name, Digest: run.Image.Digest(), Dir: run.view.Dir},
		Paths:     set.Paths(),
		Overrides: overrides,
		Config:    cfg,
	}, bo)
	if err != nil {
		return nil, fmt.Errorf("building the slim image: %w", err)
	}
	slim.Name, slim.Digest, slim.ID = out.image.Name, br.Digest.String(), br.ConfigDigest.String()
	slim.Size, slim.ArchiveSize, slim.UnpackedSize = br.FileBytes, br.Size, br.UnpackedSize
	if slim.Size > 0 {
		slim.Ratio = float64(slim.FatSize) / float64(slim.Size)
	}
	for _, o := range br.Outputs {
		slim.Output = o.Dest
	}
	out.SolveMS = (br.Timings.Resolve + br.Timings.Copy).Milliseconds()
	out.ExportMS = br.Timings.Export.Milliseconds()
	return out, nil
}

// overrides are the modes and owners --include-path sets.
func overrides(run *Run, set *fileset.Set) (map[string]builder.Override, error) {
	out := map[string]builder.Override{}
	for _, e := range set.Entries {
		if e.Override == nil {
			continue
		}
		o := builder.Override{Mode: e.Override.Mode}
		if e.Override.UID != nil || e.Override.GID != nil {
			// The copy makes a new file: an owner given in part takes the
			// rest from the fat image.
			uid, gid, err := owner(run.FS(), e.Path)
			if err != nil {
				return nil, fmt.Errorf("--include-path %s: %w", e.Path, err)
			}
			if e.Override.UID != nil {
				uid = *e.Override.UID
			}
			if e.Override.GID != nil {
				gid = *e.Override.GID
			}
			o.Owner = &builder.Owner{UID: uid, GID: gid}
		}
		out[e.Path] = o
	}
	return out, nil
}

// filesetDone says why the file-set computation was cut short, if it was.
func filesetDone(ctx, fctx context.Context, timeout time.Duration) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case fctx.Err() != nil:
		return fmt.Errorf("not done after %s (--fileset-timeout): %w", timeout, fctx.Err())
	}
	return nil
}

// owner reads a path's uid and gid in the image.
func owner(fsys fs.FS, p string) (uid, gid int, err error) {
	info, err := fs.Lstat(fsys, fileset.FSName(p))
	if err != nil {
		return 0, 0, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("no owner for %s", p)
	}
	return int(st.Uid), int(st.Gid), nil
}

// importsReport is creport.json's account of the import closure; nil when
// it read nothing (off, or no source files traced).
func importsReport(st fileset.ImportStats) *creport.Imports {
	if st.Parsed == 0 {
		return nil
	}
	im := &creport.Imports{Parsed: st.Parsed, Files: st.Files, Bytes: st.Bytes, NotFound: st.NotFound,
		UnresolvedSystem: st.UnresolvedSystem, Deferred: st.Deferred, Fallbacks: st.Fallbacks, Unused: st.Unused,
		Bound: st.Bound, Unresolved: []creport.UnresolvedImport{},
		UnresolvedLeftOut: st.UnresolvedLeftOut, UnresolvedCapped: st.UnresolvedCapped, UnresolvedCappedFiles: st.UnresolvedCappedFiles}
	for _, u := range st.Unresolved {
		im.Unresolved = append(im.Unresolved, creport.UnresolvedImport{File: u.File, Line: u.Line, Expr: u.Expr})
	}
	return im
}

// fileBytes sums the sizes of the image's regular files. It reads each
// directory in batches: a directory of a million files costs a batch of
// memory, not a million entries.
func fileBytes(fsys fs.FS) (int64, error) {
	var total int64
	var walk func(dir string) error
	walk = func(dir string) error {
		f, err := fsys.Open(dir)
		if err != nil {
			return err
		}
		d, ok := f.(fs.ReadDirFile)
		if !ok {
			f.Close()
			return &fs.PathError{Op: "readdir", Path: dir, Err: errors.ErrUnsupported}
		}
		var subdirs []string
		for {
			ents, err := d.ReadDir(1024)
			for _, e := range ents {
				switch {
				case e.IsDir():
					subdirs = append(subdirs, path.Join(dir, e.Name()))
				case e.Type().IsRegular():
					info, err := e.Info()
					if err != nil {
						f.Close()
						return err
					}
					total += info.Size()
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
		for _, s := range subdirs {
			if err := walk(s); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(".")
	return total, err
}

// slimConfig is the fat image's configuration with the changes applied, as
// the slim image carries it: the platform and run configuration, no
// history or rootfs (the builder writes those).
func slimConfig(fat dockerspec.DockerOCIImage, ch ConfigChanges) (dockerspec.DockerOCIImage, error) {
	c := fat.Config
	c.Env = slices.Clone(c.Env)
	c.Labels = maps.Clone(c.Labels)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Volumes = maps.Clone(c.Volumes)
	if ch.Entrypoint != nil {
		c.Entrypoint = ch.Entrypoint
		if ch.Cmd == nil {
			c.Cmd = nil // as docker: a new ENTRYPOINT drops the old CMD
		}
	}
	if ch.Cmd != nil {
		c.Cmd = ch.Cmd
	}
	if ch.Workdir != "" {
		c.WorkingDir = ch.Workdir
	}
	for _, kv := range ch.Env {
		k, _, _ := strings.Cut(kv, "=")
		c.Env = slices.DeleteFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		c.Env = append(c.Env, kv)
	}
	for _, k := range ch.RemoveEnv {
		c.Env = slices.DeleteFunc(c.Env, func(e string) bool { return e == k || strings.HasPrefix(e, k+"=") })
	}
	for _, e := range ch.Expose {
		ports, err := container.ParsePort(e)
		if err != nil {
			return dockerspec.DockerOCIImage{}, fmt.Errorf("--new-expose %q: %w", e, err)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			c.ExposedPorts[p.String()] = struct{}{}
		}
	}
	for _, e := range ch.RemoveExpose {
		ports, err := container.ParsePort(e)
		if err != nil {
			return dockerspec.DockerOCIImage{}, fmt.Errorf("--remove-expose %q: %w", e, err)
		}
		for _, p := range ports {
			delete(c.ExposedPorts, p.String())
		}
	}
	if len(ch.Labels) > 0 && c.Labels == nil {
		c.Labels = map[string]string{}
	}
	maps.Copy(c.Labels, ch.Labels)
	for _, l := range ch.RemoveLabels {
		delete(c.Labels, l)
	}
	for _, v := range ch.RemoveVolumes {
		delete(c.Volumes, v)
	}
	return dockerspec.DockerOCIImage{Image: ocispec.Image{Platform: fat.Platform}, Config: c}, nil
}

// Runtimes the slim image can be delivered to (--target-runtime).
const (
	RuntimeContainerd = "containerd"
	RuntimeDocker     = "docker"
	RuntimeNone       = "none"
)

// DeliverOptions say where the slim image goes.
type DeliverOptions struct {
	// Runtime is RuntimeContainerd, RuntimeDocker or RuntimeNone; empty
	// means where the fat image came from: Docker for an image found in
	// Docker, else the store's containerd namespace.
	Runtime string
	// Push pushes the slim image to the registry its name points at.
	Push bool
}

// Deliver puts the slim image where BuildOptions.Deliver said once it is
// built (and verified, which runs it from the store): pushed to its
// registry with Push, loaded into Docker Engine, or left in the store's
// containerd namespace, and removed from there when the runtime is
// another. It records where the image went in slim's report.
func Deliver(ctx context.Context, run *Run, slim *SlimResult) error {
	step := progressFunc(run.Options)
	img, store, rt := slim.image, run.store, slim.deliver.Runtime
	if slim.deliver.Push {
		step("pushing %s", img.Name)
		if err := store.Push(ctx, img, img.Name); err != nil {
			return fmt.Errorf("pushing the slim image: %w", err)
		}
		ref, _ := reference.ParseNormalizedNamed(img.Name)
		slim.Report.DeliveredTo = append(slim.Report.DeliveredTo, "registry "+reference.Domain(ref))
	}
	switch rt {
	case RuntimeDocker:
		step("loading %s into Docker Engine", img.Name)
		if err := store.ToDocker(ctx, img); err != nil {
			// A failed build leaves no tag, in Docker or in containerd.
			cctx := context.WithoutCancel(ctx)
			if rerr := store.RemoveFromDocker(cctx, img.Name); rerr != nil {
				zerolog.Ctx(ctx).Debug().Err(rerr).Msg("removing a half-loaded tag from Docker")
			}
			return errors.Join(err, store.Remove(cctx, img.Name))
		}
		slim.Report.DeliveredTo = append(slim.Report.DeliveredTo, "Docker Engine at "+store.Options().Docker.Host)
	case RuntimeContainerd:
		slim.Report.DeliveredTo = append(slim.Report.DeliveredTo, "containerd namespace "+store.Namespace())
		return nil
	}
	return store.Remove(ctx, img.Name)
}

// firstFiles names the first files a per-file cap cut, for the summary.
func firstFiles(fs []string) string {
	if len(fs) == 0 {
		return ""
	}
	return "; per-file cap cut " + strings.Join(fs[:min(len(fs), 3)], ", ") + map[bool]string{true: ", ...", false: ""}[len(fs) > 3]
}
