package trace

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Merge returns one report holding what any of rs saw: the traces of the
// replicas of one container, recorded at the same time. Files are united
// (their accesses, opened paths and lineages too), execs and processes
// listed together, syscall, socket and capability counts added, losses
// added. The target and tracer are the first report's, with the event
// counts added; the span runs from the earliest start to the latest end.
func Merge(rs ...*Report) *Report {
	if len(rs) == 0 {
		return nil
	}
	out := *rs[0]
	out.Files, out.Execs, out.Processes = nil, []Exec{}, []Process{}
	out.Syscalls, out.NetworkFamilies, out.Capabilities = nil, nil, nil
	out.Tracer.EventsSent, out.Tracer.EventsDeduped = 0, 0
	out.Lost, out.ProcessesNotListed = Lost{}, 0
	files := map[string]*File{}
	type scKey struct {
		name   string
		compat bool
	}
	scs := map[scKey]*Syscall{}
	nets := map[[2]string]*NetworkFamily{}
	caps := map[Capability]*Capability{}
	for _, r := range rs {
		out.Start = minTime(out.Start, r.Start)
		if r.End.After(out.End) {
			out.End = r.End
		}
		out.Tracer.EventsSent += r.Tracer.EventsSent
		out.Tracer.EventsDeduped += r.Tracer.EventsDeduped
		out.Tracer.CapabilitiesRecorded = out.Tracer.CapabilitiesRecorded && r.Tracer.CapabilitiesRecorded
		out.Lost.Events += r.Lost.Events
		out.Lost.Skipped += r.Lost.Skipped
		out.Lost.Truncated += r.Lost.Truncated
		out.Lost.Unreadable += r.Lost.Unreadable
		out.Lost.Unlisted += r.Lost.Unlisted
		out.ProcessesNotListed += r.ProcessesNotListed
		for _, f := range r.Files {
			m, ok := files[f.Path]
			if !ok {
				c := File{Path: f.Path}
				m, files[f.Path] = &c, &c
			}
			m.Accesses = union(m.Accesses, f.Accesses)
			m.Opened = union(m.Opened, f.Opened)
			m.Lineages = union(m.Lineages, f.Lineages)
			m.OnMount, m.Upper = m.OnMount || f.OnMount, m.Upper || f.Upper
		}
		out.Execs = append(out.Execs, r.Execs...)
		out.Processes = append(out.Processes, r.Processes...)
		for _, s := range r.Syscalls {
			k := scKey{s.Name, s.Compat}
			if m, ok := scs[k]; ok {
				m.Count += s.Count
			} else {
				c := s
				scs[k] = &c
			}
		}
		for _, n := range r.NetworkFamilies {
			k := [2]string{n.Family, n.Type}
			if m, ok := nets[k]; ok {
				m.Calls, m.Failed = m.Calls+n.Calls, m.Failed+n.Failed
				m.Setup = m.Setup && n.Setup // setup's only when no process of the app's made it
			} else {
				c := n
				nets[k] = &c
			}
		}
		for _, c := range r.Capabilities {
			k := c
			k.Granted, k.Denied = 0, 0
			if m, ok := caps[k]; ok {
				m.Granted, m.Denied = m.Granted+c.Granted, m.Denied+c.Denied
			} else {
				cc := c
				caps[k] = &cc
			}
		}
	}
	out.Files = []File{}
	for _, f := range files {
		slices.SortFunc(f.Accesses, func(a, b FileAccess) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Syscall, b.Syscall),
				strings.Compare(a.Result, b.Result), boolCmp(a.Compat, b.Compat))
		})
		slices.Sort(f.Opened)
		slices.Sort(f.Lineages)
		out.Files = append(out.Files, *f)
	}
	slices.SortFunc(out.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(out.Processes, func(a, b Process) int { return cmp.Compare(a.Pid, b.Pid) })
	out.Syscalls = values(scs, func(a, b Syscall) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), boolCmp(a.Compat, b.Compat))
	})
	out.NetworkFamilies = values(nets, func(a, b NetworkFamily) int {
		return cmp.Or(strings.Compare(a.Family, b.Family), strings.Compare(a.Type, b.Type))
	})
	out.Capabilities = values(caps, func(a, b Capability) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), boolCmp(a.Setup, b.Setup), boolCmp(a.OtherCreds, b.OtherCreds))
	})
	return &out
}

func union[T comparable](a, b []T) []T {
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	return a
}

func values[K comparable, V any](m map[K]*V, less func(a, b V) int) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, less)
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
