package tracer

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slimtrace/slimtrace/internal/cgroup"
)

// slotKey is one syscall counter: a slot of syscall_counts (native
// numbers, then compat ones, then the rest), per cgroup when watching (0
// otherwise).
type slotKey struct {
	cgroup uint64
	slot   int
}

// inflight counts, once each, the syscalls the target's threads are
// blocked in now. The programs count a call at its exit (there is no
// sys_enter program), so a call that has not returned when tracing stops,
// a shell's wait4 while its child serves or a sleep, would otherwise be
// missing from the profile while the process still depends on it. The
// kernel shows each thread's current call in /proc/TID/syscall.
func (t *Tracer) inflight() (map[slotKey]uint64, error) {
	out := map[slotKey]uint64{}
	var errs []error
	var walk func(dir string, depth int, traced bool)
	walk = func(dir string, depth int, traced bool) {
		var cgid uint64
		if t.opts.Watch && depth > 0 {
			id, err := cgroup.ID(dir)
			if err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
				return
			}
			cgid = id
			if !traced && depth <= WatchDepth {
				var v uint8
				traced = t.maps.Watched.Lookup(id, &v) == nil
			}
		}
		if traced {
			tids, err := threads(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			for _, tid := range tids {
				if slot, ok := t.blockedIn(tid); ok {
					out[slotKey{cgid, slot}]++
				}
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		for _, e := range entries {
			if e.IsDir() {
				walk(filepath.Join(dir, e.Name()), depth+1, traced)
			}
		}
	}
	walk(t.opts.Cgroup.Path, 0, !t.opts.Watch)
	return out, errors.Join(errs...)
}

// threads lists the threads of one cgroup (not of its children).
func threads(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.threads"))
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, f := range strings.Fields(string(b)) {
		if tid, err := strconv.Atoi(f); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// blockedIn returns the counter slot of the syscall thread tid is in, when
// it is in one: /proc/TID/syscall starts with the call's number, or says
// "running" or -1 (not in a call).
func (t *Tracer) blockedIn(tid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", tid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil || nr < 0 {
		return 0, false
	}
	switch {
	case nr >= nrMax:
		return countSlots - 1, true
	case is32Bit(tid):
		return nrMax + nr, true
	default:
		return nr, true
	}
}

// is32Bit says whether the program thread tid runs is a 32-bit one, whose
// calls are of the compat ABI.
func is32Bit(tid int) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/exe", tid))
	if err != nil {
		return false
	}
	defer f.Close()
	var ident [elf.EI_NIDENT]byte
	if _, err := io.ReadFull(f, ident[:]); err != nil {
		return false
	}
	return bytes.HasPrefix(ident[:], []byte(elf.ELFMAG)) && elf.Class(ident[elf.EI_CLASS]) == elf.ELFCLASS32
}
