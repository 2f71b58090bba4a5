package container

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ListeningPorts returns the TCP ports the container's own processes
// listen on, sorted: the sockets in LISTEN state of its network namespace
// that one of the processes in its cgroup holds (so that, on the host
// network, the host's own listeners are not counted).
func (t *Container) ListeningPorts() ([]int, error) {
	return ListeningPorts(t.CgroupPath)
}

// ListeningPorts returns the TCP ports the processes of the cgroup v2
// directory dir listen on (see Container.ListeningPorts).
func ListeningPorts(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("listing the container's processes: %w", err)
	}
	pids := strings.Fields(string(b))
	if len(pids) == 0 {
		return nil, nil
	}
	owned := map[string]bool{} // socket inodes the processes hold
	for _, pid := range pids {
		dir := filepath.Join("/proc", pid, "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone meanwhile
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if inode, ok := strings.CutPrefix(l, "socket:["); err == nil && ok {
				owned[strings.TrimSuffix(inode, "]")] = true
			}
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join("/proc", pids[0], "net", table))
		if err != nil {
			continue // no IPv6
		}
		ls, err := listeners(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading /proc/%s/net/%s: %w", pids[0], table, err)
		}
		for _, l := range ls {
			if owned[l.inode] && !slices.Contains(ports, l.port) {
				ports = append(ports, l.port)
			}
		}
	}
	slices.Sort(ports)
	return ports, nil
}

type listener struct {
	port  int
	inode string
}

// listeners reads a /proc/net/tcp or tcp6 table for its sockets in LISTEN
// state (st 0A): their local port and inode.
func listeners(r io.Reader) ([]listener, error) {
	var out []listener
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(port, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("local address %q: %w", f[1], err)
		}
		out = append(out, listener{port: int(n), inode: f[9]})
	}
	return out, sc.Err()
}
