package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
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

// ProcessDir returns the absolute path of pid's cgroup v2 directory under
// a cgroup v2 mount of this process. It works from inside a cgroup
// namespace too (slimtrace in a pod with hostPID and the host's cgroupfs
// mounted), where /proc/PID/cgroup shows paths relative to the
// namespace's root ("/../../kubepods/...").
func ProcessDir(pid int) (string, error) {
	rel, err := processPath(strconv.Itoa(pid))
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	mounts, err := v2Mounts(f)
	if err != nil {
		return "", err
	}
	self, err := processPath("self")
	if err != nil {
		return "", err
	}
	return hostDir(mounts, rel, self, os.Getpid())
}

func processPath(pid string) (string, error) {
	f, err := os.Open("/proc/" + pid + "/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	rel, err := cgroup2Path(f)
	if err != nil {
		return "", fmt.Errorf("reading cgroup of pid %s: %w", pid, err)
	}
	return rel, nil
}
