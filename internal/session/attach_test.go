package session

import (
	"slices"
	"testing"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// A watching tracer's counts are per cgroup: one group's profile gets its
// own cgroups' and those no group owns, never another group's, with the
// rows of its replicas added into one.
func TestOnlyLineagesCgroups(t *testing.T) {
	const web1, web2, side, sandbox = 11, 12, 21, 31
	tr := &trace.Report{
		Files: []trace.File{
			{Path: "/bin/web", Lineages: []uint32{100}},
			{Path: "/bin/side", Lineages: []uint32{200}},
			{Path: "/etc/ld.so.cache", Lineages: []uint32{0, 100, 200}},
		},
		Syscalls: []trace.Syscall{
			{Name: "accept4", Number: 288, Count: 3, CgroupID: web1},
			{Name: "accept4", Number: 288, Count: 4, CgroupID: web2},
			{Name: "personality", Number: 135, Count: 1, CgroupID: side},
			{Name: "pause", Number: 34, Count: 1, CgroupID: sandbox},
		},
		NetworkFamilies: []trace.NetworkFamily{
			{Family: "inet", Type: "stream", Calls: 2, CgroupID: web1},
			{Family: "netlink", Type: "raw", Calls: 1, CgroupID: side},
		},
		Capabilities: []trace.Capability{
			{Name: "net_bind_service", Number: 10, Granted: 1, CgroupID: web2},
			{Name: "sys_admin", Number: 21, Granted: 1, CgroupID: side},
		},
	}
	cgroups := map[uint64]bool{web1: true, web2: true, side: false}
	got := onlyLineages(tr, map[uint32]bool{100: true}, cgroups)

	var names []string
	for _, s := range got.Syscalls {
		names = append(names, s.Name)
		if s.CgroupID != 0 {
			t.Errorf("%s keeps its cgroup %d", s.Name, s.CgroupID)
		}
	}
	slices.Sort(names)
	if want := []string{"accept4", "pause"}; !slices.Equal(names, want) {
		t.Errorf("syscalls %v, want %v (not the sidecar's personality)", names, want)
	}
	for _, s := range got.Syscalls {
		if s.Name == "accept4" && s.Count != 7 {
			t.Errorf("accept4 counted %d, want the replicas' 3+4", s.Count)
		}
	}
	if len(got.NetworkFamilies) != 1 || got.NetworkFamilies[0].Family != "inet" {
		t.Errorf("network families %+v, want inet only", got.NetworkFamilies)
	}
	if len(got.Capabilities) != 1 || got.Capabilities[0].Name != "net_bind_service" {
		t.Errorf("capabilities %+v, want net_bind_service only", got.Capabilities)
	}
	var files []string
	for _, f := range got.Files {
		files = append(files, f.Path)
	}
	if want := []string{"/bin/web", "/etc/ld.so.cache"}; !slices.Equal(files, want) {
		t.Errorf("files %v, want %v", files, want)
	}
	if tr.Syscalls[0].CgroupID != web1 || len(tr.Syscalls) != 4 {
		t.Errorf("onlyLineages changed its input: %+v", tr.Syscalls)
	}
}
