package trace

import (
	"slices"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := &Report{Start: t0, End: t0.Add(time.Second),
		Files: []File{{Path: "/a", Accesses: []FileAccess{{Kind: AccessRead, Syscall: "openat", Result: "ok"}}, Lineages: []uint32{10}},
			{Path: "/b", Lineages: []uint32{0}}},
		Execs:    []Exec{{Pid: 10, Lineage: 10, Binary: "/bin/app"}},
		Syscalls: []Syscall{{Name: "read", Count: 2}, {Name: "accept4", Count: 1}},
		Lost:     Lost{Events: 1}}
	b := &Report{Start: t0.Add(-time.Second), End: t0.Add(2 * time.Second),
		Files:           []File{{Path: "/a", Accesses: []FileAccess{{Kind: AccessStat, Syscall: "newfstatat", Result: "ok"}}, Lineages: []uint32{20}}},
		Execs:           []Exec{{Pid: 20, Lineage: 20, Binary: "/bin/app"}},
		Syscalls:        []Syscall{{Name: "read", Count: 3}, {Name: "write", Count: 1}},
		NetworkFamilies: []NetworkFamily{{Family: "inet", Type: "stream", Calls: 1}}}
	m := Merge(a, b)
	if !m.Start.Equal(b.Start) || !m.End.Equal(b.End) {
		t.Errorf("span %v..%v", m.Start, m.End)
	}
	f := m.File("/a")
	if f == nil || len(f.Accesses) != 2 || !slices.Equal(f.Lineages, []uint32{10, 20}) {
		t.Errorf("/a: %+v", f)
	}
	if m.File("/b") == nil || len(m.Files) != 2 || len(m.Execs) != 2 {
		t.Errorf("files %+v execs %+v", m.Files, m.Execs)
	}
	want := []Syscall{{Name: "accept4", Count: 1}, {Name: "read", Count: 5}, {Name: "write", Count: 1}}
	if !slices.Equal(m.Syscalls, want) {
		t.Errorf("syscalls %+v, want %+v", m.Syscalls, want)
	}
	if len(m.NetworkFamilies) != 1 || m.Lost.Events != 1 {
		t.Errorf("network %+v lost %+v", m.NetworkFamilies, m.Lost)
	}
	if len(a.Syscalls) != 2 || a.Syscalls[1].Count != 1 {
		t.Errorf("Merge changed its input: %+v", a.Syscalls)
	}
}

// A socket kind both the setup and the app made is the app's once merged,
// in whichever order the rows come.
func TestMergeSetupSockets(t *testing.T) {
	setup := NetworkFamily{Family: "unix", Type: "stream", Calls: 1, Setup: true}
	app := NetworkFamily{Family: "unix", Type: "stream", Calls: 2}
	for _, order := range [][]NetworkFamily{{setup, app}, {app, setup}} {
		m := Merge(&Report{NetworkFamilies: order})
		if len(m.NetworkFamilies) != 1 || m.NetworkFamilies[0].Setup || m.NetworkFamilies[0].Calls != 3 {
			t.Errorf("%+v merged: %+v", order, m.NetworkFamilies)
		}
	}
}
