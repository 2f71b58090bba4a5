package builder

import (
	"context"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	"github.com/rs/zerolog"
)

func TestTimeline(t *testing.T) {
	def, err := Definition(context.Background(), Spec{Source: Source{Digest: testDigest}, Paths: []string{"/a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	ops, err := classifyOps(def)
	if err != nil {
		t.Fatal(err)
	}
	var src, file digest.Digest
	for d, p := range ops {
		switch p {
		case phaseResolve:
			src = d
		case phaseCopy:
			file = d
		}
	}
	if src == "" || file == "" || len(ops) != 2 {
		t.Fatalf("ops %v: want one source and one file op", ops)
	}

	begin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) *time.Time { tm := begin.Add(time.Duration(s * float64(time.Second))); return &tm }
	log := zerolog.Nop()
	tl := newTimeline(ops, &log)
	export := digest.FromString("exporter")
	for _, s := range []*client.SolveStatus{
		{Vertexes: []*client.Vertex{{Digest: src, Name: "resolve", Started: at(1)}}},
		{Vertexes: []*client.Vertex{{Digest: src, Name: "resolve", Started: at(1), Completed: at(2)}}},
		// The source op again, as BuildKit reports it twice.
		{Vertexes: []*client.Vertex{{Digest: src, Name: "resolve", Started: at(2.5), Completed: at(3), Cached: true}}},
		{Vertexes: []*client.Vertex{{Digest: file, Name: "copy", Started: at(5)}}},
		{Vertexes: []*client.Vertex{{Digest: file, Name: "copy", Started: at(5), Completed: at(9)}}},
		{Vertexes: []*client.Vertex{{Digest: export, Name: "exporting", Started: at(9), Completed: at(11)}}},
	} {
		tl.update(s)
	}
	got := tl.timings(begin, *at(11), *at(12))
	want := Timings{Resolve: 3 * time.Second, Copy: 6 * time.Second, Export: 3 * time.Second, Total: 12 * time.Second}
	if got != want {
		t.Errorf("timings %+v, want %+v", got, want)
	}
	steps := tl.steps()
	if len(steps) != 3 || steps[0].Name != "resolve" || steps[0].Duration != 2*time.Second || !steps[0].Cached ||
		steps[1].Name != "copy" || steps[1].Duration != 4*time.Second || steps[2].Name != "exporting" {
		t.Errorf("steps %+v", steps)
	}

	// A fully cached build: no vertex ran; the phases still add up.
	empty := newTimeline(ops, &log).timings(begin, *at(1), *at(2))
	if empty.Resolve+empty.Copy+empty.Export != empty.Total {
		t.Errorf("cached build timings %+v do not add up", empty)
	}
}
