package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

func TestV2Mountpoint(t *testing.T) {
	cases := []struct {
		name, mountinfo, want string
		err                   bool
	}{
		{"hybrid", `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
`, "/sys/fs/cgroup/unified", false},
		{"pure v2", `25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`, "/sys/fs/cgroup", false},
		{"escaped", `40 30 0:37 / /mnt/my\040cgroups rw - cgroup2 none rw
`, "/mnt/my cgroups", false},
		{"v1 only", `31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
`, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v2Mountpoint(strings.NewReader(c.mountinfo))
			if (err != nil) != c.err || got != c.want {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, c.want, c.err)
			}
		})
	}
}

func TestCreateOpenRemove(t *testing.T) {
	privtest.Root(t)
	root, err := Mountpoint()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("slimtrace-cgroup-test-%d", os.Getpid())
	g, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if g.Level != 1 || g.ID == 0 || g.Path != filepath.Join(root, name) {
		t.Errorf("group %+v", g)
	}
	child := filepath.Join(g.Path, "child")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	// The same cgroup, named relative to the v2 root.
	c, err := Open("/" + name + "/child")
	if err != nil {
		t.Fatal(err)
	}
	if c.Level != 2 || c.Path != child {
		t.Errorf("child %+v", c)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Path); !os.IsNotExist(err) {
		t.Errorf("cgroup still there after Remove: %v", err)
	}
	if _, err := Open(g.Path); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open of a removed cgroup: %v", err)
	}
}
