package trace

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ReportVersion is bumped when a field of Report changes meaning.
const ReportVersion = 1

// Report is the aggregate of one trace. Its JSON form is the fields'
// tags; their names are stable.
type Report struct {
	Version   int       `json:"version"`
	Target    Target    `json:"target"`
	Tracer    Tracer    `json:"tracer"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Files     []File    `json:"files"`
	Execs     []Exec    `json:"execs"`
	Processes []Process `json:"processes"`
	Syscalls  []Syscall `json:"syscalls"`
	// NetworkFamilies are the kinds of socket made, sorted by family and
	// type.
	NetworkFamilies []NetworkFamily `json:"network_families"`
	// Capabilities are the capabilities checked, sorted by number; empty
	// when Tracer.CapabilitiesRecorded is false.
	Capabilities []Capability `json:"capabilities"`
	Lost         Lost         `json:"lost"`
	// ProcessesNotListed counts the processes that exited and are not in
	// Processes: past MaxExitedProcesses, a process is forgotten when it
	// exits (a server forking per request would list millions).
	ProcessesNotListed uint64 `json:"processes_not_listed,omitempty"`
}

// MaxExitedProcesses is how many exited processes a report lists.
const MaxExitedProcesses = 10_000

// Target says what was traced.
type Target struct {
	Cgroup   string   `json:"cgroup"`
	CgroupID uint64   `json:"cgroup_id"`
	Command  []string `json:"command,omitempty"`
}

// Tracer says how it was traced.
type Tracer struct {
	Arch        string `json:"arch"`         // x86_64 or aarch64
	ProgramType string `json:"program_type"` // tp_btf (raw_tp in reports of older versions)
	// EventsSent crossed the ring buffer; EventsDeduped were identical to
	// one sent before and stayed in the kernel.
	EventsSent    uint64 `json:"events_sent"`
	EventsDeduped uint64 `json:"events_deduped"`
	// CapabilitiesRecorded: capability checks were traced (the kernel has
	// the capability:cap_capable tracepoint, Linux 6.14 and later).
	CapabilitiesRecorded bool `json:"capabilities_recorded"`
}

// File is every use of one path.
type File struct {
	Path     string       `json:"path"`
	Accesses []FileAccess `json:"accesses"`
	// Opened lists the files actually opened through this path (symlinks
	// resolved), when an open succeeded.
	Opened   []string `json:"opened,omitempty"`
	OnMount  bool     `json:"on_mount,omitempty"`
	Upper    bool     `json:"upper,omitempty"`
	Lineages []uint32 `json:"lineages"`
}

// FileAccess is one distinct (kind, syscall, result) use of a path.
type FileAccess struct {
	Kind    Access `json:"kind"`
	Syscall string `json:"syscall"`
	Result  string `json:"result"` // "ok" or an errno name such as "ENOENT"
	Compat  bool   `json:"compat,omitempty"`
}

// OK reports whether any access to the file succeeded.
func (f *File) OK() bool {
	for _, a := range f.Accesses {
		if a.Result == "ok" {
			return true
		}
	}
	return false
}

// Has reports whether the file was used with the given kind.
func (f *File) Has(kind Access) bool {
	for _, a := range f.Accesses {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// Exec is one successful exec.
type Exec struct {
	Pid           uint32   `json:"pid"`
	PPid          uint32   `json:"ppid"`
	Lineage       uint32   `json:"lineage"`
	Filename      string   `json:"filename"`
	Binary        string   `json:"binary"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated,omitempty"`
	// Repeats counts the later execs identical to this one (same lineage,
	// name, binary and argv) folded into it: a server that runs a program
	// per request lists it once.
	Repeats uint64 `json:"repeats,omitempty"`
}

// Process is one process seen in the target.
type Process struct {
	Pid     uint32 `json:"pid"`
	PPid    uint32 `json:"ppid,omitempty"`
	Lineage uint32 `json:"lineage"`
	Binary  string `json:"binary,omitempty"` // the last binary it executed
	Exited  bool   `json:"exited"`
	Code    int    `json:"exit_code,omitempty"`
	Signal  int    `json:"signal,omitempty"`
}

// Syscall is one syscall with the number of times it was made.
type Syscall struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
	Count  uint64 `json:"count"`
	Compat bool   `json:"compat,omitempty"`
	// CgroupID is set in a trace of watched cgroups (many containers at
	// once): the cgroup of the processes counted, their container's. A
	// syscall then has a row per cgroup that made it.
	CgroupID uint64 `json:"cgroup_id,omitempty"`
}

// Lost counts what the trace may be missing. A trace is complete only when
// every counter is zero.
type Lost struct {
	// Events dropped because the ring buffer was full; also, not expected
	// to happen, events larger than the tracer's buffers and socket kinds
	// or capabilities its tables had no room for.
	Events uint64 `json:"events"`
	// Program runs the kernel skipped because a program was already running
	// on that CPU (recursion protection): their events are missing too.
	Skipped uint64 `json:"skipped"`
	// Paths cut at the tracer's length or depth bound.
	Truncated uint64 `json:"truncated"`
	// Path arguments the tracer could not read from the process's memory.
	Unreadable uint64 `json:"unreadable"`
	// Unlisted counts the distinct paths and execs seen past the
	// collector's caps (Limits): seen, not in the report.
	Unlisted uint64 `json:"unlisted,omitempty"`
}

// Limits bound what a Collector holds: a container can open millions of
// distinct paths (each about 550 bytes here) or exec millions of distinct
// command lines. Past them, new ones are counted in Lost.Unlisted.
type Limits struct {
	Files int // distinct paths; 0 means DefaultMaxFiles, negative no cap
	Execs int // distinct execs; 0 means DefaultMaxExecs, negative no cap
}

// Defaults of Limits: about 550 MB of paths, and exec lists far beyond any
// real application's (identical execs fold into one).
const (
	DefaultMaxFiles = 1_000_000
	DefaultMaxExecs = 100_000
)

func (l Limits) files() int { return limit(l.Files, DefaultMaxFiles) }
func (l Limits) execs() int { return limit(l.Execs, DefaultMaxExecs) }

// Paths is how many distinct paths a report within these limits can hold
// (each file's path and one it opened, each exec's name and binary): the
// limit of the table its paths come from. 0 means no limit.
func (l Limits) Paths() int {
	f, e := l.files(), l.execs()
	if f > math.MaxInt/4 || e > math.MaxInt/4 {
		return 0
	}
	return 2*f + 2*e
}

func limit(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return math.MaxInt
	}
	return n
}

// Complete reports whether nothing was lost.
func (r *Report) Complete() bool {
	return r.Lost == Lost{}
}

// File returns the file with the given path, or nil.
func (r *Report) File(path string) *File {
	i, ok := slices.BinarySearchFunc(r.Files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return nil
	}
	return &r.Files[i]
}

// HasSyscall reports whether the syscall was made (native ABI).
func (r *Report) HasSyscall(name string) bool {
	for _, s := range r.Syscalls {
		if s.Name == name && !s.Compat {
			return true
		}
	}
	return false
}

// Collector aggregates events into a Report. It is not safe for concurrent
// use.
type Collector struct {
	files     map[string]*fileAgg
	execs     []Exec
	execIndex map[string]int // execs by what makes them identical
	procs     map[uint32]*Process
	exited    int    // exited processes in procs
	forgotten uint64 // exited processes dropped past MaxExitedProcesses
	limits    Limits
	unlisted  uint64 // paths and execs past the limits
	paths     *Paths // the report's path strings
}

// fileAgg is one file's aggregate. Its lists are short (a few accesses,
// one or two lineages): slices searched in place take a tenth of the
// memory maps would (100,000 files: 356 MB peak RSS with maps).
type fileAgg struct {
	File
}

// NewCollector returns an empty Collector holding at most limits. Its
// report's paths are taken from paths (nil: a table of its own), the table
// the events' paths should come from too.
func NewCollector(limits Limits, paths *Paths) *Collector {
	if paths == nil {
		paths = NewPaths(limits.Paths())
	}
	return &Collector{files: map[string]*fileAgg{}, procs: map[uint32]*Process{}, execIndex: map[string]int{},
		limits: limits, paths: paths}
}

// Add folds one event in.
func (c *Collector) Add(ev Event) {
	switch e := ev.(type) {
	case *FileEvent:
		c.addFile(e)
	case *ExecEvent:
		key := fmt.Sprintf("%d\x00%s\x00%s\x00%t\x00%s", e.Lineage, e.Filename, e.Binary, e.ArgvTruncated,
			strings.Join(e.Argv, "\x00"))
		if i, ok := c.execIndex[key]; ok {
			c.execs[i].Repeats++
		} else if len(c.execs) >= c.limits.execs() {
			c.unlisted++
		} else {
			c.execIndex[key] = len(c.execs)
			c.execs = append(c.execs, Exec{
				Pid: e.Pid, PPid: e.PPid, Lineage: e.Lineage, Filename: e.Filename, Binary: e.Binary,
				Argv: e.Argv, ArgvTruncated: e.ArgvTruncated,
			})
		}
		p := c.proc(e.Pid, e.Lineage)
		p.Binary = e.Binary
		if e.PPid != 0 {
			p.PPid = e.PPid
		}
		// The binary and the name it was run by are files the process used.
		c.addFile(&FileEvent{Header: e.Header, Syscall: "execve", Access: AccessExec,
			Path: e.Filename, Opened: e.Binary})
	case *ForkEvent:
		c.proc(e.Pid, e.Lineage)
		c.proc(e.Child, e.Lineage).PPid = e.Pid
	case *ExitEvent:
		p := c.proc(e.Pid, e.Lineage)
		if !p.Exited && c.exited >= MaxExitedProcesses {
			delete(c.procs, e.Pid)
			c.forgotten++
			return
		}
		if !p.Exited {
			c.exited++
		}
		p.Exited, p.Code, p.Signal = true, e.Code, e.Signal
	}
}

func (c *Collector) proc(pid, lineage uint32) *Process {
	p, ok := c.procs[pid]
	if ok && p.Exited {
		// The pid was reused: a new process.
		c.exited--
		ok = false
	}
	if !ok {
		p = &Process{Pid: pid, Lineage: lineage}
		c.procs[pid] = p
	}
	return p
}

func (c *Collector) addFile(e *FileEvent) {
	if e.Path == "" {
		return
	}
	path := CleanPath(e.Path)
	f, ok := c.files[path]
	if !ok && len(c.files) >= c.limits.files() {
		c.unlisted++
		c.proc(e.Pid, e.Lineage)
		return
	}
	if ok {
		path = f.Path
	} else {
		path = c.paths.String(path)
		f = &fileAgg{File: File{Path: path}}
		c.files[path] = f
	}
	result := "ok"
	if e.Errno != 0 {
		result = ErrnoName(e.Errno)
	}
	if a := (FileAccess{Kind: e.Access, Syscall: e.Syscall, Result: result, Compat: e.Compat}); !slices.Contains(f.Accesses, a) {
		f.Accesses = append(f.Accesses, a)
	}
	if e.Opened != "" {
		if o := CleanPath(e.Opened); !slices.Contains(f.Opened, o) {
			if o == path {
				o = path // one string for both
			} else {
				o = c.paths.String(o)
			}
			f.Opened = append(f.Opened, o)
		}
	}
	f.OnMount = f.OnMount || e.OnMount
	f.Upper = f.Upper || e.Upper
	if !slices.Contains(f.Lineages, e.Lineage) {
		f.Lineages = append(f.Lineages, e.Lineage)
	}
	c.proc(e.Pid, e.Lineage)
}

// Report returns the aggregate. syscalls and lost come from the tracer's
// counters.
func (c *Collector) Report(target Target, tracer Tracer, start, end time.Time, syscalls []Syscall, lost Lost) *Report {
	r := &Report{Version: ReportVersion, Target: target, Tracer: tracer, Start: start, End: end,
		Syscalls: syscalls, Lost: lost, Files: []File{}, Execs: c.execs, Processes: []Process{},
		ProcessesNotListed: c.forgotten}
	r.Lost.Unlisted += c.unlisted
	if r.Execs == nil {
		r.Execs = []Exec{}
	}
	if r.Syscalls == nil {
		r.Syscalls = []Syscall{}
	}
	r.NetworkFamilies, r.Capabilities = []NetworkFamily{}, []Capability{}
	r.Files = make([]File, 0, len(c.files))
	for _, f := range c.files {
		file := f.File
		file.Accesses = slices.Clip(file.Accesses)
		slices.SortFunc(file.Accesses, func(a, b FileAccess) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Syscall, b.Syscall),
				strings.Compare(a.Result, b.Result), boolCmp(a.Compat, b.Compat))
		})
		slices.Sort(file.Opened)
		slices.Sort(file.Lineages)
		r.Files = append(r.Files, file)
	}
	slices.SortFunc(r.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for _, p := range c.procs {
		r.Processes = append(r.Processes, *p)
	}
	slices.SortFunc(r.Processes, func(a, b Process) int { return cmp.Compare(a.Pid, b.Pid) })
	slices.SortFunc(r.Syscalls, func(a, b Syscall) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), boolCmp(a.Compat, b.Compat))
	})
	return r
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ErrnoName returns "ENOENT" for 2, or "errno N" when the number is unknown.
func ErrnoName(errno int) string {
	if n := unix.ErrnoName(unix.Errno(errno)); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(errno)
}

// CleanPath removes repeated slashes, "." components and a trailing slash.
// It keeps ".." components: with symlinks in the path they cannot be folded
// without the filesystem, so that is left to whoever resolves the path.
func CleanPath(p string) string {
	if p == "" || isClean(p) {
		return p
	}
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s == "" || s == "." {
			continue
		}
		out = append(out, s)
	}
	return "/" + strings.Join(out, "/")
}

// isClean reports whether CleanPath would return p itself: absolute, no
// empty or "." component, no trailing slash.
func isClean(p string) bool {
	if p == "/" {
		return true
	}
	return p[0] == '/' && !strings.HasSuffix(p, "/") && !strings.HasSuffix(p, "/.") &&
		!strings.Contains(p, "//") && !strings.Contains(p, "/./")
}
