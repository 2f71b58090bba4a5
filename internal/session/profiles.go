package session

import (
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/profile"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// Profiles are the security profiles of a run.
type Profiles struct {
	// Seccomp is the profile in moby's form; the kubelet, pod and SPO
	// forms are written from it.
	Seccomp *seccomp.Seccomp
	// AppArmor is the AppArmor profile's text.
	AppArmor string
	// Tightness compares Seccomp with Docker's default profile.
	Tightness creport.Seccomp
}

// MakeProfiles derives the seccomp and AppArmor profiles from the run's
// trace. The AppArmor profile leaves out what only the runtime's setup
// used: it applies from the entrypoint's exec on.
func MakeProfiles(run *Run) (*Profiles, error) {
	sec, err := profile.Seccomp(run.Trace, profile.SeccompOptions{})
	if err != nil {
		return nil, fmt.Errorf("making the seccomp profile: %w", err)
	}
	t, err := profile.SeccompTightness(sec)
	if err != nil {
		return nil, fmt.Errorf("comparing the seccomp profile with Docker's: %w", err)
	}
	aa, err := profile.AppArmor(withoutSetup(run.Trace), profile.AppArmorOptions{Name: profile.ProfileName(run.name()),
		IsDir: run.dirs()})
	if err != nil {
		return nil, fmt.Errorf("making the AppArmor profile: %w", err)
	}
	return &Profiles{Seccomp: sec, AppArmor: aa, Tightness: creport.Seccomp{Arch: string(t.Arch), Allowed: t.Allowed,
		DockerDefault: t.DockerDefault, Fraction: t.Fraction, NotInDockerDefault: t.NotInDockerDefault}}, nil
}

// dirs says which of the paths the application's and --exec's processes
// used are directories in the image (by the name used, or by where its
// symlinks lead): the AppArmor profile writes dir/ rules for those.
func (r *Run) dirs() func(string) bool {
	dirs := map[string]bool{}
	if r.root == nil {
		return func(p string) bool { return false }
	}
	fsys := r.FS()
	for _, f := range r.Trace.Files {
		if !slices.ContainsFunc(f.Lineages, func(l uint32) bool { return l != 0 }) {
			continue
		}
		if l := fileset.Resolve(fsys, f.Path); l.Exists && l.Info.IsDir() {
			dirs[f.Path], dirs[l.Resolved] = true, true
		}
	}
	return func(p string) bool { return dirs[p] }
}

// withoutSetup returns the trace without the files only the runtime's
// setup used.
func withoutSetup(tr *trace.Report) *trace.Report {
	c := *tr
	c.Files = slices.DeleteFunc(slices.Clone(tr.Files), func(f trace.File) bool {
		return !slices.ContainsFunc(f.Lineages, func(l uint32) bool { return l != 0 })
	})
	return &c
}

// name is what the profiles are named after: the image, or an attached
// run's workload group.
func (r *Run) name() string {
	if r.Image == nil {
		return r.Name
	}
	return r.Image.Name
}
