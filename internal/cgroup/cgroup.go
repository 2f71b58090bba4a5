package cgroup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// ErrNoV2 means no cgroup v2 hierarchy is mounted.
var ErrNoV2 = errors.New("no cgroup v2 hierarchy is mounted (mount one: mount -t cgroup2 none /sys/fs/cgroup/unified)")

// Mountpoint returns where the cgroup v2 hierarchy is mounted, read from
// /proc/self/mountinfo.
func Mountpoint() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	return v2Mountpoint(f)
}

func v2Mountpoint(r io.Reader) (string, error) {
	mounts, err := mountinfo.GetMountsFromReader(r, func(m *mountinfo.Info) (skip, stop bool) {
		return m.FSType != "cgroup2", m.FSType == "cgroup2"
	})
	if err != nil {
		return "", fmt.Errorf("reading mounts: %w", err)
	}
	if len(mounts) == 0 {
		return "", ErrNoV2
	}
	return mounts[0].Mountpoint, nil
}

// Group is one cgroup v2 directory.
type Group struct {
	Path  string // absolute host path of its directory
	ID    uint64 // the cgroup id the kernel's BPF helpers return
	Level int    // depth below the v2 root (the root is 0)
}

// Open resolves a cgroup given as an absolute path of its directory, or as a
// path relative to the v2 root ("/system.slice/foo.service", as
// /proc/PID/cgroup shows it).
func Open(path string) (*Group, error) {
	root, err := Mountpoint()
	if err != nil {
		return nil, err
	}
	return open(root, path)
}

func open(root, path string) (*Group, error) {
	abs := filepath.Clean(path)
	if abs != root && !strings.HasPrefix(abs, root+"/") {
		abs = filepath.Join(root, path)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cgroup %s does not exist (cgroup v2 is mounted at %s)", path, root)
		}
		return nil, fmt.Errorf("cgroup %s: %w", path, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("cgroup %s is not a directory", abs)
	}
	if _, err := os.Stat(filepath.Join(abs, "cgroup.procs")); err != nil {
		return nil, fmt.Errorf("%s is not a cgroup v2 directory (cgroup v2 is mounted at %s)", abs, root)
	}
	id, err := ID(abs)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(root, abs)
	level := 0
	if rel != "." {
		level = len(strings.Split(rel, "/"))
	}
	return &Group{Path: abs, ID: id, Level: level}, nil
}

// ID returns the cgroup id of a cgroup v2 directory: the kernfs node id the
// file handle carries (what bpf_get_current_cgroup_id returns).
func ID(dir string) (uint64, error) {
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil {
		// Kernels without file handles on cgroupfs: the inode number is
		// the same id on 64-bit hosts.
		var st unix.Stat_t
		if serr := unix.Stat(dir, &st); serr != nil {
			return 0, fmt.Errorf("cgroup id of %s: %w", dir, err)
		}
		return st.Ino, nil
	}
	b := h.Bytes()
	if len(b) < 8 {
		return 0, fmt.Errorf("cgroup id of %s: short file handle", dir)
	}
	return binary.NativeEndian.Uint64(b[:8]), nil
}

// Create makes a new cgroup named name below the v2 root.
func Create(name string) (*Group, error) {
	root, err := Mountpoint()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating cgroup: %w", err)
	}
	g, err := open(root, dir)
	if err != nil {
		_ = os.Remove(dir)
		return nil, err
	}
	return g, nil
}

// OpenFD opens the directory for CLONE_INTO_CGROUP (SysProcAttr.CgroupFD).
func (g *Group) OpenFD() (*os.File, error) {
	f, err := os.OpenFile(g.Path, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup: %w", err)
	}
	return f, nil
}

// Pids lists the processes in the cgroup itself (not its children).
func (g *Group) Pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(g.Path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// Remove kills whatever still runs in the cgroup and its children, then
// removes it (children first).
func (g *Group) Remove() error {
	// cgroup.kill (Linux 5.14) kills the whole subtree at once.
	if err := os.WriteFile(filepath.Join(g.Path, "cgroup.kill"), []byte("1"), 0); err != nil {
		_ = filepath.WalkDir(g.Path, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				(&Group{Path: p}).killProcs()
			}
			return nil
		})
	}
	var dirs []string
	_ = filepath.WalkDir(g.Path, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var err error
	for i := len(dirs) - 1; i >= 0; i-- {
		err = removeDir(dirs[i])
	}
	return err
}

func (g *Group) killProcs() {
	pids, _ := g.Pids()
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// removeDir retries while killed processes are still being reaped.
func removeDir(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for wait := time.Millisecond; ; wait = min(wait*2, 100*time.Millisecond) {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(wait)
	}
}
