package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/go-units"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/builder"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/report"
	"github.com/slimtrace/slimtrace/internal/target"
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
	// progress); Name and Load are set by Build.
	Builder builder.Options
}

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

// SlimName is the default tag of the slim image of name: ".slim" appended to
// the repository, the tag kept (app:1.2 -> app.slim:1.2).
func SlimName(name string) string {
	repo, tag := name, ""
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		repo, tag = name[:i], "latest"
	} else if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		repo, tag = name[:i], name[i+1:]
	}
	if tag == "" {
		tag = "latest"
	}
	return repo + ".slim:" + tag
}

// Build traces the image as Profile does, then builds the slim image from
// the files the application used, through BuildKit, into the same
// containerd namespace.
func Build(ctx context.Context, opts Options, b BuildOptions) (*Result, error) {
	step := progressFunc(opts)
	opts.inspect = func(ctx context.Context, env inspectEnv) error {
		res, rep := env.res, env.res.Report
		start := time.Now()
		cfg, err := slimConfig(res.Image, b.Changes)
		if err != nil {
			return err
		}
		step("computing the file set")
		files, execs := fileset.FromTrace(res.Trace, res.AppLineage, res.HealthLineage)
		mounts := slices.Clone(opts.Run.Mounts)
		for i, m := range mounts {
			if pm, err := target.ParseMount(m); err == nil {
				mounts[i] = pm.Destination
			}
		}
		set, err := fileset.Compute(fileset.Input{FS: env.fs, Files: files, Execs: execs, Mounts: mounts,
			Config: fileset.Config{User: cfg.User, WorkingDir: cfg.WorkingDir, Env: cfg.Env,
				Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Healthcheck: healthTest(cfg.Healthcheck)},
			Options: b.Files})
		if err != nil {
			return fmt.Errorf("computing the file set: %w", err)
		}
		fatBytes, err := fileBytes(env.fs)
		if err != nil {
			return fmt.Errorf("measuring the image: %w", err)
		}
		slim := &report.Slim{FatSize: fatBytes, Size: set.Size(), Warnings: set.Warnings, Imports: importsReport(set.Imports)}
		if im := slim.Imports; im != nil {
			step("import closure: %d files (%s) added from %d source files, %d dynamic names unresolved%s",
				im.Files, units.HumanSize(float64(im.Bytes)), im.Parsed, len(im.Unresolved), map[string]string{"": "",
					fileset.BoundDepth: ", depth bound reached", fileset.BoundSize: ", size bound reached"}[im.Bound])
		}
		for _, e := range set.Entries {
			kf := report.KeptFile{Path: e.Path, Type: fileType(e.Mode), Size: e.Size, Detail: e.Detail}
			for _, r := range e.Reasons {
				kf.Reasons = append(kf.Reasons, string(r))
			}
			slim.Files = append(slim.Files, kf)
		}
		rep.Slim = slim
		rep.Timings.FilesetMS = time.Since(start).Milliseconds()
		if set.Size() >= fatBytes {
			return fmt.Errorf("%w: %d bytes of files kept, %d in the image", ErrNotSmaller, set.Size(), fatBytes)
		}

		name := b.Tag
		if name == "" {
			name = SlimName(res.Image.Name)
		}
		bo := b.Builder
		bo.Name = name
		bo.Load = func(ctx context.Context, archive string) error {
			_, err := env.rt.ImportSlim(ctx, archive, name)
			return err
		}
		if bo.ContainerdAddress == "" {
			bo.ContainerdAddress = env.rt.Address()
		}
		overrides := map[string]builder.Override{}
		for _, e := range set.Entries {
			if e.Override == nil {
				continue
			}
			o := builder.Override{Mode: e.Override.Mode}
			if e.Override.UID != nil || e.Override.GID != nil {
				// The copy makes a new file: an owner given in part takes
				// the rest from the fat image.
				uid, gid, err := owner(env.fs, e.Path)
				if err != nil {
					return fmt.Errorf("--include-path %s: %w", e.Path, err)
				}
				if e.Override.UID != nil {
					uid = *e.Override.UID
				}
				if e.Override.GID != nil {
					gid = *e.Override.GID
				}
				o.Owner = &builder.Owner{UID: uid, GID: gid}
			}
			overrides[e.Path] = o
		}
		step("building %s with BuildKit (%d paths, %s of files)", name, len(set.Entries), units.HumanSize(float64(set.Size())))
		br, err := builder.Build(ctx, builder.Spec{
			Source:    builder.Source{Name: res.Image.Name, Digest: digest.Digest(res.Image.Digest), Store: env.rt.ContentStore()},
			Paths:     set.Paths(),
			Overrides: overrides,
			Config:    cfg,
		}, bo)
		if err != nil {
			return fmt.Errorf("building the slim image: %w", err)
		}
		slim.Name, slim.Digest, slim.ID = name, br.Digest.String(), br.ConfigDigest.String()
		slim.Size, slim.ArchiveSize, slim.UnpackedSize = br.FileBytes, br.Size, br.UnpackedSize
		if slim.Size > 0 {
			slim.Ratio = float64(slim.FatSize) / float64(slim.Size)
		}
		for _, o := range br.Outputs {
			slim.Output = o.Dest
		}
		rep.Timings.SolveMS = (br.Timings.Resolve + br.Timings.Copy).Milliseconds()
		rep.Timings.ExportMS = br.Timings.Export.Milliseconds()
		return nil
	}
	return Profile(ctx, opts)
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

func progressFunc(opts Options) func(string, ...any) {
	return func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "slimtrace: "+format+"\n", a...)
		}
	}
}

// importsReport is creport.json's account of the import closure; nil when
// it read nothing (off, or no source files traced).
func importsReport(st fileset.ImportStats) *report.Imports {
	if st.Parsed == 0 {
		return nil
	}
	im := &report.Imports{Parsed: st.Parsed, Files: st.Files, Bytes: st.Bytes, NotFound: st.NotFound,
		UnresolvedSystem: st.UnresolvedSystem, Deferred: st.Deferred, Bound: st.Bound, Unresolved: []report.UnresolvedImport{}}
	for _, u := range st.Unresolved {
		im.Unresolved = append(im.Unresolved, report.UnresolvedImport{File: u.File, Line: u.Line, Expr: u.Expr})
	}
	return im
}

func healthTest(h *builder.Healthcheck) []string {
	if h == nil {
		return nil
	}
	return h.Test
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// fileBytes sums the sizes of the image's regular files.
func fileBytes(fsys fs.FS) (int64, error) {
	var total int64
	err := fs.WalkDir(fsys, ".", func(_ string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}

// slimConfig is the fat image's configuration with the changes applied.
func slimConfig(img *target.Image, ch ConfigChanges) (builder.Config, error) {
	c := img.Config
	oc := ocispec.ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: slices.Clone(c.Env), WorkingDir: c.WorkingDir,
		User: c.User, StopSignal: c.StopSignal, Labels: maps.Clone(c.Labels)}
	if len(c.ExposedPorts) > 0 {
		oc.ExposedPorts = map[string]struct{}{}
		for _, p := range c.ExposedPorts {
			oc.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		oc.Volumes = map[string]struct{}{}
		for _, v := range c.Volumes {
			oc.Volumes[v] = struct{}{}
		}
	}
	if ch.Entrypoint != nil {
		oc.Entrypoint = ch.Entrypoint
		if ch.Cmd == nil {
			oc.Cmd = nil // as docker: a new ENTRYPOINT drops the old CMD
		}
	}
	if ch.Cmd != nil {
		oc.Cmd = ch.Cmd
	}
	if ch.Workdir != "" {
		oc.WorkingDir = ch.Workdir
	}
	for _, kv := range ch.Env {
		k, _, _ := strings.Cut(kv, "=")
		oc.Env = slices.DeleteFunc(oc.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		oc.Env = append(oc.Env, kv)
	}
	for _, k := range ch.RemoveEnv {
		oc.Env = slices.DeleteFunc(oc.Env, func(e string) bool { return e == k || strings.HasPrefix(e, k+"=") })
	}
	for _, e := range ch.Expose {
		ports, err := target.ParsePort(e)
		if err != nil {
			return builder.Config{}, fmt.Errorf("--new-expose %q: %w", e, err)
		}
		if oc.ExposedPorts == nil {
			oc.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			oc.ExposedPorts[p.String()] = struct{}{}
		}
	}
	for _, e := range ch.RemoveExpose {
		ports, err := target.ParsePort(e)
		if err != nil {
			return builder.Config{}, fmt.Errorf("--remove-expose %q: %w", e, err)
		}
		for _, p := range ports {
			delete(oc.ExposedPorts, p.String())
		}
	}
	if len(ch.Labels) > 0 && oc.Labels == nil {
		oc.Labels = map[string]string{}
	}
	maps.Copy(oc.Labels, ch.Labels)
	for _, l := range ch.RemoveLabels {
		delete(oc.Labels, l)
	}
	for _, v := range ch.RemoveVolumes {
		delete(oc.Volumes, v)
	}
	cfg := builder.Config{ImageConfig: oc}
	if h := c.Healthcheck; h != nil {
		hc := builder.Healthcheck(*h)
		cfg.Healthcheck = &hc
	}
	os, arch, _ := strings.Cut(img.Platform, "/")
	if c.OS != "" {
		os = c.OS
	}
	if c.Architecture != "" {
		arch = c.Architecture
	}
	arch, variant, _ := strings.Cut(arch, "/")
	cfg.Platform = ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
	return cfg, nil
}
