package target

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroup2Mount returns the mount point of the cgroup v2 hierarchy read from
// r, which holds /proc/self/mountinfo. On hybrid hosts it is usually
// /sys/fs/cgroup/unified, on pure v2 hosts /sys/fs/cgroup.
func cgroup2Mount(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// 40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(pre)
		fstype := strings.Fields(post)
		if len(fields) < 5 || len(fstype) < 1 || fstype[0] != "cgroup2" {
			continue
		}
		return unescapeMountinfo(fields[4]), nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 mount in mountinfo")
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) that the
// kernel writes into mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroup2Path returns the cgroup v2 path (the "0::" line) from r, which holds
// /proc/<pid>/cgroup.
func cgroup2Path(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup v2 entry (0::)")
}

// hostCgroup2Mount finds the cgroup v2 mount point of this host.
func hostCgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	return cgroup2Mount(f)
}

// processCgroupDir returns the absolute host path of pid's cgroup v2
// directory.
func processCgroupDir(pid int) (string, error) {
	mnt, err := hostCgroup2Mount()
	if err != nil {
		return "", fmt.Errorf("finding cgroup2 mount: %w", err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	rel, err := cgroup2Path(f)
	if err != nil {
		return "", fmt.Errorf("reading cgroup of pid %d: %w", pid, err)
	}
	return filepath.Join(mnt, rel), nil
}
