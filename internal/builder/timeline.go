package builder

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
)

// phase is what a vertex of the build does.
type phase int

const (
	phaseExport phase = iota // anything not in our graph: exporters
	phaseResolve
	phaseCopy
)

// classifyOps maps the digests of the definition's ops to phases.
func classifyOps(def *llb.Definition) (map[digest.Digest]phase, error) {
	ops := map[digest.Digest]phase{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, fmt.Errorf("decoding build graph: %w", err)
		}
		switch op.Op.(type) {
		case *pb.Op_Source:
			ops[digest.FromBytes(dt)] = phaseResolve
		case *pb.Op_File:
			ops[digest.FromBytes(dt)] = phaseCopy
		}
	}
	return ops, nil
}

// span is when a vertex ran.
type span struct {
	name       string
	start, end time.Time
	cached     bool
}

// timeline records when the build's vertices ran, from its progress.
type timeline struct {
	mu       sync.Mutex
	ops      map[digest.Digest]phase
	vertices map[digest.Digest]*span
	logged   map[digest.Digest]bool
	log      *zerolog.Logger
}

func newTimeline(ops map[digest.Digest]phase, log *zerolog.Logger) *timeline {
	return &timeline{ops: ops, vertices: map[digest.Digest]*span{}, logged: map[digest.Digest]bool{}, log: log}
}

func (t *timeline) update(s *client.SolveStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range s.Vertexes {
		sp := t.vertices[v.Digest]
		if sp == nil {
			sp = &span{}
			t.vertices[v.Digest] = sp
		}
		if v.Started != nil && (sp.start.IsZero() || v.Started.Before(sp.start)) {
			sp.start = *v.Started
		}
		if v.Completed != nil && v.Completed.After(sp.end) {
			sp.end = *v.Completed
		}
		sp.name, sp.cached = v.Name, v.Cached
		if v.Completed != nil && v.Error == "" && !t.logged[v.Digest] {
			t.logged[v.Digest] = true
			t.logStep(t.ops[v.Digest], sp)
		}
	}
	for _, v := range s.Vertexes {
		t.log.Trace().Str("vertex", v.Name).Str("digest", v.Digest.String()).Any("started", v.Started).Any("completed", v.Completed).Bool("cached", v.Cached).Msg("build vertex")
	}
	for _, st := range s.Statuses {
		t.log.Trace().Str("id", st.ID).Str("vertex", st.Vertex.String()).Any("started", st.Started).Any("completed", st.Completed).Msg("build status")
	}
}

// logStep logs a step that ended: our own at info level, one line per
// phase, the exporters' at debug level.
func (t *timeline) logStep(p phase, sp *span) {
	ev := t.log.Debug()
	msg := "build step done"
	switch p {
	case phaseResolve:
		ev, msg = t.log.Info(), "resolved source image"
	case phaseCopy:
		ev, msg = t.log.Info(), "copied kept files"
	}
	ev.Str("step", sp.name).Bool("cached", sp.cached).Dur("took", sp.end.Sub(sp.start)).Msg(msg)
}

// timings splits the wall time from begin to end: resolve ends when the
// source vertex does, copy when the file operation does, export is the
// rest.
func (t *timeline) timings(begin, solved, end time.Time) Timings {
	t.mu.Lock()
	defer t.mu.Unlock()
	var resolveEnd, copyEnd time.Time
	for d, sp := range t.vertices {
		switch t.ops[d] {
		case phaseResolve:
			resolveEnd = later(resolveEnd, sp.end)
		case phaseCopy:
			copyEnd = later(copyEnd, sp.end)
		}
	}
	resolveEnd = clamp(resolveEnd, begin, solved)
	copyEnd = clamp(copyEnd, resolveEnd, solved)
	return Timings{
		Resolve: resolveEnd.Sub(begin),
		Copy:    copyEnd.Sub(resolveEnd),
		Export:  end.Sub(copyEnd),
		Total:   end.Sub(begin),
	}
}

// steps lists the vertices that ended, by end time.
func (t *timeline) steps() []Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	var spans []*span
	for _, sp := range t.vertices {
		if !sp.end.IsZero() {
			spans = append(spans, sp)
		}
	}
	slices.SortFunc(spans, func(a, b *span) int { return a.end.Compare(b.end) })
	out := make([]Step, len(spans))
	for i, sp := range spans {
		out[i] = Step{Name: sp.name, Duration: sp.end.Sub(sp.start), Cached: sp.cached}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func clamp(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}
