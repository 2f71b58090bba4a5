package session

import (
	"io/fs"
	"slices"

	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/report"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// fillTrace copies the trace into the report, splitting the files between
// the application (its lineage), --exec and healthcheck processes (their
// own lineages) and the runtime's setup before the entrypoint's exec
// (lineage 0), and says what each application path is in the image.
func fillTrace(rep *report.Container, tr *trace.Report, res *Result, img fs.FS) {
	rep.Files, rep.ExecFiles, rep.SetupFiles = []report.File{}, []report.File{}, []string{}
	for _, f := range tr.Files {
		switch {
		case slices.Contains(f.Lineages, res.AppLineage):
			rep.Files = append(rep.Files, fileReport(f, img))
		case slices.ContainsFunc(f.Lineages, func(l uint32) bool { return l != 0 }):
			rep.ExecFiles = append(rep.ExecFiles, fileReport(f, img))
		default:
			rep.SetupFiles = append(rep.SetupFiles, f.Path)
		}
	}
	rep.Execs, rep.Processes, rep.Syscalls = tr.Execs, tr.Processes, tr.Syscalls
	rep.NetworkFamilies, rep.Capabilities = tr.NetworkFamilies, tr.Capabilities
	rep.Tracer, rep.Lost, rep.Complete = tr.Tracer, tr.Lost, tr.Complete()
}

func fileReport(f trace.File, img fs.FS) report.File {
	r := report.File{Path: f.Path, Volume: f.OnMount, Written: f.Upper}
	for _, a := range f.Accesses {
		if k := a.Kind.String(); !slices.Contains(r.Kinds, k) {
			r.Kinds = append(r.Kinds, k)
		}
		if !slices.Contains(r.Results, a.Result) {
			r.Results = append(r.Results, a.Result)
		}
	}
	l := fileset.Resolve(img, f.Path)
	if !l.Exists {
		return r
	}
	r.InImage = true
	if l.Resolved != trace.CleanPath(f.Path) {
		r.Resolved = l.Resolved
	}
	switch m := l.Info.Mode(); {
	case m.IsRegular():
		r.Type, r.Size = "file", l.Info.Size()
	case m.IsDir():
		r.Type = "dir"
	case m&fs.ModeSymlink != 0:
		r.Type = "symlink"
	default:
		r.Type = "other"
	}
	return r
}

// withoutSetup returns the trace without the files only the runtime's
// setup used: an AppArmor profile applies from the entrypoint's exec on.
func withoutSetup(tr *trace.Report) *trace.Report {
	c := *tr
	c.Files = slices.DeleteFunc(slices.Clone(tr.Files), func(f trace.File) bool {
		return !slices.ContainsFunc(f.Lineages, func(l uint32) bool { return l != 0 })
	})
	return &c
}

// isDir says whether the image holds a directory at p, for the paths the
// report describes (the AppArmor profile writes dir/ rules for those).
func (r *Result) isDir(p string) bool {
	for _, list := range [][]report.File{r.Report.Files, r.Report.ExecFiles} {
		for _, f := range list {
			if f.Type == "dir" && (f.Path == p || f.Resolved == p) {
				return true
			}
		}
	}
	return false
}
