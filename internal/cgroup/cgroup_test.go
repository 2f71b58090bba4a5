package cgroup

import (
	"strings"
	"testing"
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
