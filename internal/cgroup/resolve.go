package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// AllPids lists the processes of the cgroup and of every cgroup below it.
func (g *Group) AllPids() ([]int, error) {
	var pids []int
	err := filepath.WalkDir(g.Path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p != g.Path && errors.Is(err, os.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		sub, err := (&Group{Path: p}).Pids()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		pids = append(pids, sub...)
		return nil
	})
	return pids, err
}

// v2Mount is one cgroup v2 mount: where it is, and the cgroup it shows
// as /proc/self/mountinfo gives it (relative to this process's cgroup
// namespace: "/../.." when it is an ancestor of the namespace's root).
type v2Mount struct{ point, root string }

func v2Mounts(r io.Reader) ([]v2Mount, error) {
	ms, err := mountinfo.GetMountsFromReader(r, mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	var out []v2Mount
	for _, m := range ms {
		out = append(out, v2Mount{point: m.Mountpoint, root: m.Root})
	}
	if len(out) == 0 {
		return nil, ErrNoV2
	}
	return out, nil
}

// split returns how many levels p climbs above the namespace's root
// ("/../../a/b": 2) and the names below that.
func split(p string) (up int, rest []string) {
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		switch {
		case c == "" || c == ".":
		case c == ".." && len(rest) == 0:
			up++
		case c == "..":
			rest = rest[:len(rest)-1]
		default:
			rest = append(rest, c)
		}
	}
	return up, rest
}

// hostDir resolves rel, a cgroup path as a process in this cgroup
// namespace sees it in /proc/PID/cgroup, to a directory under one of the
// v2 mounts. self is this process's own path in the same form, pid its
// pid: they locate the namespace's root in a mount that shows more than
// the namespace (a host cgroupfs mounted into a container that has a
// cgroup namespace of its own).
func hostDir(mounts []v2Mount, rel, self string, pid int) (string, error) {
	up, rest := split(rel)
	for _, m := range mounts {
		mup, mrest := split(m.root)
		if mup == 0 && up == 0 {
			if len(rest) >= len(mrest) && slices.Equal(rest[:len(mrest)], mrest) {
				return filepath.Join(append([]string{m.point}, rest[len(mrest):]...)...), nil
			}
			continue
		}
		if len(mrest) > 0 || mup < up {
			continue
		}
		// The mount shows the cgroup mup levels above the namespace's
		// root: find the names of those levels from where this process
		// is.
		sup, srest := split(self)
		if sup != 0 {
			continue
		}
		base, err := findSelf(m.point, mup, srest, pid)
		if err != nil {
			return "", err
		}
		if base == nil {
			continue
		}
		return filepath.Join(append(append([]string{m.point}, base[:mup-up]...), rest...)...), nil
	}
	return "", fmt.Errorf("cgroup %s is under no cgroup v2 mount of this process (mount the host's /sys/fs/cgroup)", rel)
}

// findSelf returns the names of the depth directories under point that
// lead to this process's cgroup (then self below them).
func findSelf(point string, depth int, self []string, pid int) ([]string, error) {
	want := strconv.Itoa(pid)
	var found []string
	err := filepath.WalkDir(point, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || found != nil {
			return nil
		}
		r, _ := filepath.Rel(point, p)
		var names []string
		if r != "." {
			names = strings.Split(r, "/")
		}
		if len(names) < depth {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(append([]string{p}, self...)...) + "/cgroup.procs")
		if err == nil && slices.Contains(strings.Fields(string(b)), want) {
			found = names
		}
		return filepath.SkipDir
	})
	return found, err
}
