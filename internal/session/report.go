package session

import (
	"io/fs"
	"slices"
	"time"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// Report assembles creport.json from the stages' results; slim, profiles
// and verify may be nil (profile has no slim image, and --verify is
// optional), arts empty when no artifact is written.
func Report(run *Run, slim *SlimResult, profiles *Profiles, verify *creport.Verify, arts creport.Artifacts) *creport.Container {
	rep := &creport.Container{Version: creport.Version, Tool: run.Options.Tool, Command: run.Options.Command,
		StartedAt: run.StartedAt, Image: run.imageReport(), Run: run.Container, Exit: run.Exit, Probe: run.Probes, Logs: run.Logs, Verify: verify, Artifacts: arts,
		Timings: run.Timings}
	run.fillTrace(rep)
	rep.StartupOnly = run.startupOnly()
	if !run.Options.ReportEnvValues {
		// Secrets stay in the image: the report is shared more widely.
		rep.Image.Config.Env = creport.RedactEnv(rep.Image.Config.Env)
		rep.Run.Env = creport.RedactEnv(rep.Run.Env)
		// So do the values of secret-looking flags in the command lines.
		cfg := &rep.Image.Config
		cfg.Entrypoint, cfg.Cmd = creport.RedactArgs(cfg.Entrypoint), creport.RedactArgs(cfg.Cmd)
		if h := cfg.Healthcheck; h != nil {
			redacted := *h
			redacted.Test = creport.RedactArgs(h.Test)
			cfg.Healthcheck = &redacted
		}
		rep.Run.Args = creport.RedactArgs(rep.Run.Args)
		rep.Execs = slices.Clone(rep.Execs)
		for i := range rep.Execs {
			rep.Execs[i].Argv = creport.RedactArgs(rep.Execs[i].Argv)
		}
		if h := rep.Probe.Healthcheck; h != nil {
			redacted := *h
			redacted.Command = creport.RedactArgs(h.Command)
			rep.Probe.Healthcheck = &redacted
		}
		rep.Probe.Exec = slices.Clone(rep.Probe.Exec)
		for i := range rep.Probe.Exec {
			rep.Probe.Exec[i].Command = creport.RedactArgs(rep.Probe.Exec[i].Command)
		}
	}
	if slim != nil {
		rep.Slim = &slim.Report
		rep.Timings.FilesetMS, rep.Timings.SolveMS, rep.Timings.ExportMS = slim.FilesetMS, slim.SolveMS, slim.ExportMS
	}
	if profiles != nil {
		rep.Seccomp = &profiles.Tightness
	}
	rep.Timings.TotalMS = time.Since(run.StartedAt).Milliseconds()
	return rep
}

// fillTrace copies the trace into the report, splitting the files between
// the application (its lineage), --exec and healthcheck processes (their
// own lineages) and the runtime's setup before the entrypoint's exec
// (lineage 0), and says what each application path is in the image.
func (r *Run) fillTrace(rep *creport.Container) {
	tr := r.Trace
	rep.Files, rep.ExecFiles, rep.SetupFiles = []creport.File{}, []creport.File{}, []string{}
	for _, f := range tr.Files {
		switch {
		case slices.Contains(f.Lineages, r.AppLineage) || (r.Container.Attached && !slices.Equal(f.Lineages, []uint32{0})):
			rep.Files = append(rep.Files, r.fileReport(f))
		case slices.ContainsFunc(f.Lineages, func(l uint32) bool { return l != 0 }):
			rep.ExecFiles = append(rep.ExecFiles, r.fileReport(f))
		default:
			rep.SetupFiles = append(rep.SetupFiles, f.Path)
		}
	}
	rep.Execs, rep.Processes, rep.Syscalls = tr.Execs, tr.Processes, tr.Syscalls
	rep.ProcessesNotListed = tr.ProcessesNotListed
	rep.NetworkFamilies, rep.Capabilities = tr.NetworkFamilies, tr.Capabilities
	rep.Tracer, rep.Lost, rep.Complete = tr.Tracer, tr.Lost, tr.Complete()
}

func (r *Run) fileReport(f trace.File) creport.File {
	out := creport.File{Path: f.Path, Volume: f.OnMount, Written: f.Upper}
	for _, a := range f.Accesses {
		if k := a.Kind.String(); !slices.Contains(out.Kinds, k) {
			out.Kinds = append(out.Kinds, k)
		}
		if !slices.Contains(out.Results, a.Result) {
			out.Results = append(out.Results, a.Result)
		}
	}
	if r.root == nil {
		return out // an attached run that could not see the container's filesystem
	}
	l := fileset.Resolve(r.FS(), f.Path)
	if !l.Exists {
		return out
	}
	out.InImage = true
	if l.Resolved != trace.CleanPath(f.Path) {
		out.Resolved = l.Resolved
	}
	out.Type = fileType(l.Info.Mode())
	if out.Type == "file" {
		out.Size = l.Info.Size()
	}
	return out
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

// startupOnly says whether the app is a server that never served: it had a
// port (exposed, listened on, or a listen call in the trace) and none of
// slimtrace's probes reached it (no HTTP probe answered, no exec probe
// ran), so the trace holds its start-up only and profiles made from it
// miss what serving needs. Requests a user sent by hand are not seen: the
// tracer counts calls, not their results, so an accept in the trace may be
// the blocked one the stop interrupted.
func (r *Run) startupOnly() bool {
	if r.Container.Attached && !r.Options.HTTPProbe {
		return false // its requests came from its users, unseen by slimtrace
	}
	listened := r.Listening || slices.ContainsFunc(r.Trace.Syscalls, func(sc trace.Syscall) bool {
		return sc.Name == "listen" && sc.Count > 0
	})
	answered := slices.ContainsFunc(r.Probes.HTTP, func(p creport.HTTPProbe) bool { return p.Status > 0 })
	return listened && !answered && len(r.Probes.Exec) == 0
}

// imageReport says what image ran: the image's own record, or for an
// attached run the image its runtime names.
func (r *Run) imageReport() creport.Image {
	img := r.Image
	if img == nil {
		return creport.Image{Name: r.imageName, FoundIn: r.foundIn}
	}
	return creport.Image{Name: img.Name, ID: img.ID().String(), Digest: img.Digest().String(), Size: img.Size,
		Platform: img.Platform(), Config: img.Config.Config, FoundIn: img.Origin.Where}
}
