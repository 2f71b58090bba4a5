package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

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

// ProcessDir returns the absolute host path of pid's cgroup v2 directory:
// its "0::" path joined to where this host mounts cgroup v2.
func ProcessDir(pid int) (string, error) {
	mnt, err := Mountpoint()
	if err != nil {
		return "", err
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
