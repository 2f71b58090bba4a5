package trace

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// WriteJSON writes what MarshalIndent does, lists empty, nil and full.
func TestWriteJSON(t *testing.T) {
	for _, r := range []*Report{
		{Version: 1},
		{Version: ReportVersion, Target: Target{Cgroup: "/x", CgroupID: 7, Command: []string{"sh", "-c", "<&>"}},
			Start: time.Unix(1, 2).UTC(), End: time.Unix(3, 4).UTC(),
			Files: []File{{Path: "/a", Accesses: []FileAccess{{Kind: AccessRead, Syscall: "openat", Result: "ok"}},
				Lineages: []uint32{1}}, {Path: "/b\n\"q\"", Opened: []string{"/c"}, Lineages: []uint32{}}},
			Execs: []Exec{}, Syscalls: []Syscall{{Name: "read", Number: 0, Count: 3, CgroupID: 9}},
			NetworkFamilies: []NetworkFamily{}, Lost: Lost{Events: 1}},
	} {
		want, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := r.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want)+"\n" {
			t.Errorf("WriteJSON:\n%s\nMarshalIndent:\n%s", got.String(), want)
		}
	}
}
