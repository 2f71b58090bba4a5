package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHostDir(t *testing.T) {
	host := t.TempDir() // the whole hierarchy, mounted into a "pod"
	for _, d := range []string{"kubepods/pod1/self", "kubepods/pod2/app", "system.slice/docker-1.scope"} {
		if err := os.MkdirAll(filepath.Join(host, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "kubepods/pod1/self/cgroup.procs"), []byte("7\n42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mounts []v2Mount
		rel    string
		want   string
	}{
		{"host", []v2Mount{{"/sys/fs/cgroup", "/"}}, "/system.slice/x.service", "/sys/fs/cgroup/system.slice/x.service"},
		{"hybrid", []v2Mount{{"/sys/fs/cgroup/unified", "/"}}, "/a", "/sys/fs/cgroup/unified/a"},
		{"own namespace, own mount", []v2Mount{{"/sys/fs/cgroup", "/"}, {"/host/cgroup", "/../../.."}}, "/sub", "/sys/fs/cgroup/sub"},
		{"sibling pod", []v2Mount{{"/sys/fs/cgroup", "/"}, {"/host/cgroup", "/../../.."}}, "/../../pod2/app", host + "/kubepods/pod2/app"},
		{"host service", []v2Mount{{"/host/cgroup", "/../../.."}}, "/../../../system.slice/docker-1.scope", host + "/system.slice/docker-1.scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := tc.mounts
			for i := range ms {
				if ms[i].point == "/host/cgroup" {
					ms[i].point = host
				}
			}
			got, err := hostDir(ms, tc.rel, "/", 42)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("hostDir(%s) = %s, want %s", tc.rel, got, tc.want)
			}
		})
	}
	if _, err := hostDir([]v2Mount{{"/sys/fs/cgroup", "/"}}, "/../x", "/", 42); err == nil {
		t.Error("a path above the namespace with no mount showing it resolved")
	}
}
