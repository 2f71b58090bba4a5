package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
)

// Source is the fat image the slim one is cut from.
type Source struct {
	// Name of the image, for messages and the name BuildKit shows.
	Name string
	// Digest of the image's manifest or index: BuildKit keeps what it was
	// sent of one digest, so a build of the same image again sends only
	// what changed in the file set.
	Digest digest.Digest
	// Dir is the image's root filesystem, mounted read-only on the host
	// (image.View): Build sends the kept paths from it through the BuildKit
	// session, and nothing else of the image. Only Build needs it.
	Dir string
}

// Override changes the mode or owner of a kept path. A nil field keeps
// what the fat image has.
type Override struct {
	// Mode holds the permission bits and os.ModeSetuid, os.ModeSetgid and
	// os.ModeSticky.
	Mode *os.FileMode
	// Owner is a numeric uid and gid.
	Owner *Owner
}

// Owner is a numeric owner, both IDs given: a copy makes a new file, so
// there is no "keep the uid" (fill it in from the fat image's file).
type Owner struct{ UID, GID int }

// Spec says what the slim image holds.
type Spec struct {
	Source Source
	// Paths to keep, absolute: every file, symlink and directory, parents
	// included. A directory is created with its own owner, mode, xattrs and
	// times; its contents only as far as they are listed. A missing path
	// fails the build.
	Paths []string
	// Overrides by absolute path; an overridden path is kept even if Paths
	// lacks it.
	Overrides map[string]Override
	// Config is the slim image's config: the fat image's, with the user's
	// changes (see imageConfig for what Build fills in).
	Config dockerspec.DockerOCIImage
}

// Definition marshals the LLB graph of spec, without a daemon.
func Definition(ctx context.Context, spec Spec) (*llb.Definition, error) {
	def, _, err := marshal(ctx, spec)
	return def, err
}

// marshal marshals the graph of spec and returns the paths it copies,
// which the session then serves.
func marshal(ctx context.Context, spec Spec, co ...llb.ConstraintsOpt) (*llb.Definition, fileSet, error) {
	set, overrides, err := plan(spec)
	if err != nil {
		return nil, fileSet{}, err
	}
	// The slim image: scratch plus one file operation that copies the kept
	// paths from the fat image, applies overrides and restores the
	// directories' times.
	st := llb.Scratch().With(keep(fatImage(spec.Source), set, overrides))
	def, err := st.Marshal(ctx, co...)
	if err != nil {
		return nil, fileSet{}, fmt.Errorf("marshalling build graph: %w", err)
	}
	return def, set, nil
}

// plan checks spec and splits it into the paths to copy (overridden ones
// included) and the overrides by clean path.
func plan(spec Spec) (fileSet, map[string]Override, error) {
	if spec.Source.Digest == "" {
		return fileSet{}, nil, errors.New("source image has no digest")
	}
	if err := spec.Source.Digest.Validate(); err != nil {
		return fileSet{}, nil, fmt.Errorf("source image digest: %w", err)
	}
	paths := slices.Clone(spec.Paths)
	for p := range spec.Overrides {
		paths = append(paths, p)
	}
	set, err := newFileSet(paths)
	if err != nil {
		return fileSet{}, nil, err
	}
	overrides := make(map[string]Override, len(spec.Overrides))
	for p, o := range spec.Overrides {
		if p = path.Clean(p); p == "/" {
			return fileSet{}, nil, errors.New("cannot override the root directory")
		}
		if o.Owner != nil && (o.Owner.UID < 0 || o.Owner.GID < 0) {
			return fileSet{}, nil, fmt.Errorf("override of %s: owner %d:%d: give both IDs (the fat image's for the one that stays)", p, o.Owner.UID, o.Owner.GID)
		}
		overrides[p] = o
	}
	return set, overrides, nil
}

// fatImage is the fat image as BuildKit sees it: a local source of the
// client's, which the session serves from keptFS, so it holds the kept
// paths and their parents only. The digest is the source's shared key:
// BuildKit keeps what it received under it and asks only for what differs
// the next time.
func fatImage(src Source) llb.State {
	name := src.Name
	if name == "" {
		name = "image"
	}
	return llb.Local(localName,
		llb.SharedKeyHint(src.Digest.String()),
		llb.WithCustomNamef("send the kept paths of %s", name))
}

// keep is the single file operation that makes the slim filesystem.
func keep(fat llb.State, set fileSet, overrides map[string]Override) llb.StateOption {
	return func(s llb.State) llb.State {
		a := copyPaths(fat, set)
		for _, p := range sortedKeys(overrides) {
			a = applyOverride(a, fat, p, overrides[p])
		}
		// Last, when nothing more is created inside them.
		a = restoreDirTimes(a, fat, set.dirs)
		return s.File(a, llb.WithCustomNamef("copy %d paths", len(set.leaves)+len(set.dirs)))
	}
}

// copyPaths is the copy strategy; the benchmark swaps in others.
var copyPaths = copyByDir

// copyByDir copies the kept paths one directory at a time, parents first:
// for each directory, one copy of its kept entries (include patterns of their
// base names), which creates each entry, a directory too, with the source's
// owner, mode, xattrs and times. The exclude pattern */* keeps the walk from
// going below the directory's children: a subdirectory's contents are its
// own copy's business. Symlinks are copied as symlinks; hardlinks between
// files of one directory stay hardlinks. RequiredPaths fails the build when
// a path is not in the image.
func copyByDir(fat llb.State, set fileSet) *llb.FileAction {
	var a *llb.FileAction
	for _, dir := range append([]string{"/"}, set.dirs...) {
		kids := set.children[dir]
		include := make([]string, len(kids))
		required := make([]string, len(kids))
		for i, k := range kids {
			include[i] = escapePattern(k)
			required[i] = path.Join(dir, k)
		}
		ci := &llb.CopyInfo{
			CopyDirContentsOnly: true,
			IncludePatterns:     include,
			ExcludePatterns:     []string{"*/*"},
			RequiredPaths:       required,
		}
		if a == nil {
			a = llb.Copy(fat, dir, dir, ci)
		} else {
			a = a.Copy(fat, dir, dir, ci)
		}
	}
	return a
}

// applyOverride copies path p again, alone, with a new mode or owner. It
// walks p's parent with p as the only include pattern, so that p is the
// copy's child and gets its metadata rewritten even when it is a directory
// that already exists.
func applyOverride(a *llb.FileAction, fat llb.State, p string, o Override) *llb.FileAction {
	dir, base := path.Split(p)
	rel := escapePattern(base)
	ci := &llb.CopyInfo{
		CopyDirContentsOnly: true,
		IncludePatterns:     []string{rel},
		ExcludePatterns:     []string{rel + "/**"},
	}
	if o.Mode != nil {
		ci.Mode = &llb.ChmodOpt{Mode: unixMode(*o.Mode)}
	}
	opts := []llb.CopyOption{ci}
	if o.Owner != nil {
		opts = append(opts, llb.WithUIDGID(o.Owner.UID, o.Owner.GID))
	}
	return a.Copy(fat, dir, dir, opts...)
}

// restoreDirTimes copies each directory's times from fat again, once its
// contents are in place (creating them changed its mtime). A top-level
// directory copy that excludes every child touches only the directory's
// timestamps.
func restoreDirTimes(a *llb.FileAction, fat llb.State, dirs []string) *llb.FileAction {
	for _, d := range dirs {
		a = a.Copy(fat, d, d, &llb.CopyInfo{
			CopyDirContentsOnly: true,
			ExcludePatterns:     []string{"*"},
		})
	}
	return a
}

// unixMode converts Go's mode bits to the st_mode bits LLB carries.
func unixMode(m os.FileMode) os.FileMode {
	out := m & 0o777
	if m&os.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
