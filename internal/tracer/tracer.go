package tracer

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// DefaultRingBufferSize is the ring buffer's size unless Options say. The
// kernel maps its data twice (for reads across the end), so the resident
// size of a tracing process counts it twice: 64 MiB made 128 MB of the 215
// MB peak of a trace of 100,000 files. 16 MiB held that trace's burst
// without loss (so did 8), and 10 s of requests to an attached server.
const DefaultRingBufferSize = 16 << 20

// Options configure a Tracer.
type Options struct {
	// Cgroup is the target: its processes and those of every cgroup below
	// it are traced.
	Cgroup *cgroup.Group
	// Command is recorded in the report when the tracer ran one.
	Command []string
	// RingBufferSize in bytes (a power of two, at least a page); 0 means
	// DefaultRingBufferSize.
	RingBufferSize int
	// OnEvent, when set, sees every decoded event as it arrives, from the
	// reader goroutine.
	OnEvent func(trace.Event)
	Logger  zerolog.Logger
	// Watch makes the target only a parent: nothing is traced until Watch
	// adds cgroups below it (up to WatchDepth levels down), whose
	// processes and descendants are then traced.
	Watch bool
	// Limits bound the paths and execs the report lists (trace.Limits).
	Limits trace.Limits
	// Paths is the table the events' and the report's paths are taken
	// from (nil: one of the tracer's own). A caller that computes more
	// from the report (a file set) passes the table on, so that a path is
	// held once.
	Paths *trace.Paths
	// Adopt, when not 0, is given as lineage to every process already in
	// the target when tracing begins (a running workload: its processes
	// are the application's, not a runtime's setup). Children they fork
	// later inherit it as usual.
	Adopt uint32

	// capTracepoint replaces cap_capable (tests: a name no kernel has
	// stands for a kernel without the tracepoint).
	capTracepoint string
}

// Tracer traces one cgroup from Open until Close.
type Tracer struct {
	opts   Options
	native abi
	compat abi
	start  time.Time

	maps slimtraceMaps
	// lineageGen is lineage_gen_user, bumped (under genMu) after each
	// adoption so that no program keeps a lineage it cached before.
	lineageGen *ebpf.Variable
	// targetGen is target_gen_user, bumped (under genMu) after each
	// change to the watched cgroups: sys_exit memoizes who is traced.
	targetGen *ebpf.Variable
	genMu     sync.Mutex
	progs     []*ebpf.Program
	links     []link.Link
	reader    *ringbuf.Reader
	// capProg counts capability checks; nil when the kernel has no
	// capability:cap_capable tracepoint. Attached after progs.
	capProg *ebpf.Program

	mu        sync.Mutex // guards collector and decodeErr until done
	collector *trace.Collector
	decodeErr int
	done      chan struct{}
	closeOnce sync.Once
	report    *trace.Report
	closeErr  error
}

// ProgramType is the one kind of program slimtrace attaches, as reported in
// trace.Tracer.ProgramType. There is no raw_tp fallback: the programs need
// bpf_loop (Linux 5.17), and every kernel with BTF and bpf_loop has tp_btf
// (Linux 5.5), so a fallback could never be chosen (see bpf/slimtrace.bpf.c).
const ProgramType = "tp_btf"

// tracePrograms picks the programs that always load out of the collection
// (LoadAndAssign loads only what the struct names): not the capability one.
// There is no sys_enter program (see bpf/slimtrace.bpf.c): each program on
// raw_syscalls costs every syscall of every task.
type tracePrograms struct {
	SysExit *ebpf.Program `ebpf:"tp_btf_sys_exit"`
	Exec    *ebpf.Program `ebpf:"tp_btf_sched_process_exec"`
	Fork    *ebpf.Program `ebpf:"tp_btf_sched_process_fork"`
	Exit    *ebpf.Program `ebpf:"tp_btf_sched_process_exit"`
	Mkdir   *ebpf.Program `ebpf:"tp_btf_cgroup_mkdir"`
	// Attach tells sys_exit's memo of who is traced that a task moved.
	Attach *ebpf.Program `ebpf:"tp_btf_cgroup_attach_task"`
}

// tracepoints in the order of tracePrograms' fields.
var tracepoints = []string{"sys_exit", "sched_process_exec", "sched_process_fork", "sched_process_exit",
	"cgroup_mkdir", "cgroup_attach_task"}

// capTracepoint is optional (Linux 6.14 and later): without it tracing
// works and the report says capabilities were not recorded.
const capTracepoint = "cap_capable"

// The capability program, loaded on its own so that a kernel without the
// tracepoint still loads the others.
type capProgram struct {
	Prog *ebpf.Program `ebpf:"tp_btf_cap_capable"`
}

// CheckHost says, in one line, what keeps this host from tracing, or nil.
func CheckHost() error {
	if os.Geteuid() != 0 {
		return errors.New("slimtrace needs root to load eBPF programs: run it with sudo")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return errors.New("kernel BTF is missing (/sys/kernel/btf/vmlinux): slimtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y")
	}
	if _, err := cgroup.Mountpoint(); err != nil {
		return err
	}
	return nil
}

// Open loads the programs, configured for opts.Cgroup, and attaches them.
// Tracing has begun when it returns; on error nothing stays loaded.
func Open(opts Options) (_ *Tracer, err error) {
	if opts.Cgroup == nil {
		return nil, errors.New("no target cgroup")
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	if opts.RingBufferSize == 0 {
		opts.RingBufferSize = DefaultRingBufferSize
	}
	native, compat, err := abis()
	if err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raising the memlock limit: %w", err)
	}
	if opts.Paths == nil {
		opts.Paths = trace.NewPaths(opts.Limits.Paths())
	}
	t := &Tracer{opts: opts, native: native, compat: compat, collector: trace.NewCollector(opts.Limits, opts.Paths),
		done: make(chan struct{})}
	defer func() {
		if err != nil {
			t.release()
		}
	}()

	spec, err := loadSlimtrace()
	if err != nil {
		return nil, err
	}
	if err := configure(spec, opts, native, compat); err != nil {
		return nil, err
	}

	if err := t.load(spec); err != nil {
		return nil, fmt.Errorf("loading eBPF programs: %w", err)
	}

	if err := t.loadCaps(spec); err != nil {
		opts.Logger.Debug().Err(err).Msg("capability checks are not recorded")
	}

	t.reader, err = ringbuf.NewReader(t.maps.Events)
	if err != nil {
		return nil, fmt.Errorf("opening the ring buffer: %w", err)
	}
	t.start = time.Now()
	go t.read()
	if err := t.adopt(); err != nil {
		return nil, err
	}
	if err := t.attach(); err != nil {
		return nil, err
	}
	// Processes forked between the first look and the attach.
	if err := t.adopt(); err != nil {
		return nil, err
	}
	opts.Logger.Debug().Str("cgroup", opts.Cgroup.Path).
		Uint64("cgroup_id", opts.Cgroup.ID).Msg("tracer attached")
	return t, nil
}

func configure(spec *ebpf.CollectionSpec, opts Options, native, compat abi) error {
	set := func(name string, v any) error {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("eBPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("setting %s: %w", name, err)
		}
		return nil
	}
	if text, err := overcommitText(); err == nil {
		if err := set("overcommit_text", text); err != nil {
			return err
		}
	} else {
		opts.Logger.Debug().Err(err).Msg("memory overcommit checks of CAP_SYS_ADMIN are not told apart")
	}
	if err := errors.Join(
		set("target_cgid", opts.Cgroup.ID),
		set("target_level", uint32(opts.Cgroup.Level)),
		set("watch", opts.Watch),
		set("native_desc", descTable(native)),
		set("compat_desc", descTable(compat)),
		set("sigreturn_nr", [2][2]int32{native.numbers("rt_sigreturn", "sigreturn"),
			compat.numbers("rt_sigreturn", "sigreturn")}),
		set("exit_nr", [2][2]int32{native.numbers("exit", "exit_group"), compat.numbers("exit", "exit_group")}),
		set("acct_nr", [2][5]int32{native.accounting("mmap"), compat.accounting("mmap2")}),
	); err != nil {
		return err
	}
	spec.Maps["events"].MaxEntries = uint32(opts.RingBufferSize)
	if !opts.Watch { // counts per cgroup only watching
		spec.Maps["hot_syscalls"].MaxEntries = 1 // 8 KB a CPU, not 256
		spec.Maps["cgroup_caps"].MaxEntries = 1  // 1 KB, not 4 MB
	}
	return nil
}

// load loads the programs with the maps they use.
func (t *Tracer) load(spec *ebpf.CollectionSpec) error {
	var objs struct {
		slimtraceMaps
		tracePrograms
		LineageGenUser *ebpf.Variable `ebpf:"lineage_gen_user"`
		TargetGenUser  *ebpf.Variable `ebpf:"target_gen_user"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		logVerifier(t.opts.Logger, err)
		return err
	}
	t.maps = objs.slimtraceMaps
	t.lineageGen = objs.LineageGenUser
	t.targetGen = objs.TargetGenUser
	p := objs.tracePrograms
	t.progs = []*ebpf.Program{p.SysExit, p.Exec, p.Fork, p.Exit, p.Mkdir, p.Attach}
	return nil
}

// loadCaps loads the capability program, sharing the maps of the others;
// on a kernel without the tracepoint it does not load.
func (t *Tracer) loadCaps(spec *ebpf.CollectionSpec) error {
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		"cap_checks": t.maps.CapChecks, "lineages": t.maps.Lineages, "watched": t.maps.Watched}}
	if tp := t.opts.capTracepoint; tp != "" {
		spec = spec.Copy()
		spec.Programs["tp_btf_cap_capable"].AttachTo = tp
	}
	var p capProgram
	if err := spec.LoadAndAssign(&p, opts); err != nil {
		logVerifier(t.opts.Logger, err)
		return fmt.Errorf("loading the %s program: %w", capTracepoint, err)
	}
	t.capProg = p.Prog
	return nil
}

// logVerifier logs the verifier's whole log when err carries one.
func logVerifier(log zerolog.Logger, err error) {
	var verr *ebpf.VerifierError
	if errors.As(err, &verr) {
		log.Debug().Msgf("verifier log:\n%+v", verr)
	}
}

func (t *Tracer) attach() error {
	for i, p := range t.progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			return fmt.Errorf("attaching to %s: %w", tracepoints[i], err)
		}
		t.links = append(t.links, l)
	}
	// sys_exit's memo of who is traced may hold answers made before the
	// fork and cgroup_attach_task programs were there to void them.
	if err := t.bump(t.targetGen, "target_gen_user"); err != nil {
		return err
	}
	if t.capProg == nil {
		return nil
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: t.capProg})
	if err != nil {
		t.opts.Logger.Debug().Err(err).Msg("capability checks are not recorded")
		_ = t.capProg.Close()
		t.capProg = nil
		return nil
	}
	t.links = append(t.links, l)
	return nil
}

// read decodes ring buffer records until the reader is flushed or closed.
func (t *Tracer) read() {
	defer close(t.done)
	var rec ringbuf.Record
	for {
		err := t.reader.ReadInto(&rec)
		if err != nil {
			if errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, ringbuf.ErrClosed) {
				return
			}
			t.opts.Logger.Error().Err(err).Msg("reading the ring buffer")
			return
		}
		ev, err := decode(rec.RawSample, t.native, t.compat, t.opts.Paths)
		t.mu.Lock()
		if err != nil {
			t.decodeErr++
			t.mu.Unlock()
			t.opts.Logger.Warn().Err(err).Msg("decoding an event")
			continue
		}
		t.collector.Add(ev)
		t.mu.Unlock()
		if t.opts.OnEvent != nil {
			t.opts.OnEvent(ev)
		}
	}
}

// Close stops tracing: it detaches the programs, reads every event still in
// the ring buffer and the kernel's counters, unloads everything, and returns
// the report. Calling it again returns the same report.
func (t *Tracer) Close() (*trace.Report, error) {
	t.closeOnce.Do(func() {
		t.report, t.closeErr = t.finish()
	})
	return t.report, t.closeErr
}

func (t *Tracer) finish() (*trace.Report, error) {
	defer t.release()
	// The calls blocked now have not reached sys_exit, and will not while
	// traced: read them before detaching (a call that returns meanwhile
	// is counted twice, which changes no profile).
	inflight, err := t.inflight()
	if err != nil {
		t.opts.Logger.Debug().Err(err).Msg("reading the syscalls in flight")
	}
	// Detach first: nothing new is written after this.
	var errs []error
	for _, l := range t.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detaching: %w", err))
		}
	}
	t.links = nil
	end := time.Now()
	// Drain: the reader returns what is left, then ErrFlushed.
	if err := t.reader.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flushing the ring buffer: %w", err))
	}
	<-t.done

	syscalls, err := t.syscalls(inflight)
	if err != nil {
		errs = append(errs, err)
	}
	lost, sent, deduped, err := t.counters()
	if err != nil {
		errs = append(errs, err)
	}
	families, err := t.networkFamilies()
	if err != nil {
		errs = append(errs, err)
	}
	var caps []trace.Capability
	if t.capProg != nil {
		if caps, err = t.capabilities(); err != nil {
			errs = append(errs, err)
		}
	}
	t.mu.Lock()
	lost.Events += uint64(t.decodeErr)
	r := t.collector.Report(
		trace.Target{Cgroup: t.opts.Cgroup.Path, CgroupID: t.opts.Cgroup.ID, Command: t.opts.Command},
		trace.Tracer{Arch: t.native.name, ProgramType: ProgramType, EventsSent: sent, EventsDeduped: deduped,
			CapabilitiesRecorded: t.capProg != nil},
		t.start, end, syscalls, lost)
	t.collector = trace.NewCollector(t.opts.Limits, t.opts.Paths) // what it held is in r now: let the rest go
	t.mu.Unlock()
	if families != nil {
		r.NetworkFamilies = families
	}
	if caps != nil {
		r.Capabilities = caps
	}
	return r, errors.Join(errs...)
}

// networkFamilies sums the per-CPU socket call counters by (family, type,
// setup), and watching, by cgroup.
func (t *Tracer) networkFamilies() ([]trace.NetworkFamily, error) {
	type key struct {
		family, typ string
		setup       bool
		cgroup      uint64
	}
	byKey := map[key]*trace.NetworkFamily{}
	var k slimtraceSockKey
	var perCPU []uint64
	it := t.maps.SocketCalls.Iterate()
	for it.Next(&k, &perCPU) {
		var n uint64
		for _, c := range perCPU {
			n += c
		}
		kk := key{trace.FamilyName(k.Family), trace.SocketTypeName(k.Type), k.Setup != 0, k.Cgroup}
		f := byKey[kk]
		if f == nil {
			f = &trace.NetworkFamily{Family: kk.family, Type: kk.typ, Setup: kk.setup, CgroupID: kk.cgroup}
			byKey[kk] = f
		}
		if k.Failed != 0 {
			f.Failed += n
		} else {
			f.Calls += n
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading socket counts: %w", err)
	}
	out := []trace.NetworkFamily{}
	for _, f := range byKey {
		out = append(out, *f)
	}
	trace.SortNetworkFamilies(out)
	return out, nil
}

// capWho says whose checks each row of the cap_checks map counts.
var capWho = map[slimtraceCapWho]trace.Capability{
	slimtraceCapWhoCAP_SETUP:      {Setup: true},
	slimtraceCapWhoCAP_APP:        {},
	slimtraceCapWhoCAP_OTHER:      {OtherCreds: true},
	slimtraceCapWhoCAP_UNMEDIATED: {Unmediated: true},
}

// capabilities sums the per-CPU capability check counters, by whose they
// were; watching, it lists the counts of each cgroup apart.
func (t *Tracer) capabilities() ([]trace.Capability, error) {
	out := []trace.Capability{}
	add := func(idx slimtraceCapWho, cgid uint64, counts []slimtraceCapCounts) error {
		who, ok := capWho[idx]
		if !ok {
			return fmt.Errorf("capability counts of kind %d: unknown kind", idx)
		}
		for nr := range len(slimtraceCapCounts{}.Granted) {
			c := who
			c.Name, c.Number, c.CgroupID = trace.CapabilityName(nr), nr, cgid
			for _, cpu := range counts {
				c.Granted += cpu.Granted[nr]
				c.Denied += cpu.Denied[nr]
			}
			if c.Granted+c.Denied > 0 {
				out = append(out, c)
			}
		}
		return nil
	}
	if t.opts.Watch {
		var k slimtraceCgroupCapKey
		var c slimtraceCapCounts
		it := t.maps.CgroupCaps.Iterate()
		for it.Next(&k, &c) {
			if err := add(slimtraceCapWho(k.Who), k.Cgroup, []slimtraceCapCounts{c}); err != nil {
				return nil, err
			}
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("reading capability counts: %w", err)
		}
	} else {
		for idx := range slimtraceCapWhoCAP_WHO {
			var perCPU []slimtraceCapCounts
			if err := t.maps.CapChecks.Lookup(uint32(idx), &perCPU); err != nil {
				return nil, fmt.Errorf("reading capability counts: %w", err)
			}
			if err := add(idx, 0, perCPU); err != nil {
				return nil, err
			}
		}
	}
	trace.SortCapabilities(out)
	return out, nil
}

// hotSyscalls adds the counts of hot_syscalls: each CPU's entry i under
// the cgroup that CPU's hot_owner gave i to.
func (t *Tracer) hotSyscalls(counts map[slotKey]uint64) error {
	var owners []slimtraceHotOwners
	if err := t.maps.HotOwner.Lookup(uint32(0), &owners); err != nil {
		return err
	}
	var perCPU []slimtraceCgroupCounts
	for i := range uint32(t.maps.HotSyscalls.MaxEntries()) {
		if err := t.maps.HotSyscalls.Lookup(i, &perCPU); err != nil {
			return err
		}
		for cpu, c := range perCPU {
			if cpu < len(owners) && owners[cpu].Cgid[i] != 0 {
				addCounts(counts, owners[cpu].Cgid[i], &c)
			}
		}
	}
	return nil
}

// addCounts adds one CPU's counts c of the cgroup cgid to counts.
func addCounts(counts map[slotKey]uint64, cgid uint64, c *slimtraceCgroupCounts) {
	for slot, n := range c.N {
		if n > 0 {
			counts[slotKey{cgid, slot}] += n
		}
	}
}

// syscalls sums the per-CPU syscall counters and adds the calls in flight
// when tracing stopped; watching, it lists the counts of each cgroup apart.
func (t *Tracer) syscalls(inflight map[slotKey]uint64) ([]trace.Syscall, error) {
	counts := map[slotKey]uint64{}
	if t.opts.Watch {
		var cgid uint64
		var perCPU []slimtraceCgroupCounts
		it := t.maps.CgroupSyscalls.Iterate()
		for it.Next(&cgid, &perCPU) {
			for _, c := range perCPU {
				addCounts(counts, cgid, &c)
			}
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("reading syscall counts: %w", err)
		}
		if err := t.hotSyscalls(counts); err != nil {
			return nil, fmt.Errorf("reading syscall counts: %w", err)
		}
	} else {
		var perCPU []uint64
		for slot := range countSlots {
			if err := t.maps.SyscallCounts.Lookup(uint32(slot), &perCPU); err != nil {
				return nil, fmt.Errorf("reading syscall counts: %w", err)
			}
			for _, n := range perCPU {
				if n > 0 {
					counts[slotKey{0, slot}] += n
				}
			}
		}
	}
	for k, n := range inflight {
		counts[k] += n
	}
	out := make([]trace.Syscall, 0, len(counts))
	for k, n := range counts {
		out = append(out, t.syscall(k.slot, n, k.cgroup))
	}
	// By cgroup, native then compat, by number (the slots' order).
	slices.SortFunc(out, func(a, b trace.Syscall) int {
		return cmp.Or(cmp.Compare(a.CgroupID, b.CgroupID), cmp.Compare(t.slot(a), t.slot(b)))
	})
	return out, nil
}

// slot is where syscall s is counted (the inverse of syscall).
func (t *Tracer) slot(s trace.Syscall) int {
	switch {
	case s.Number < 0:
		return countSlots - 1
	case s.Compat:
		return nrMax + s.Number
	default:
		return s.Number
	}
}

// syscall names the syscall counted in slot.
func (t *Tracer) syscall(slot int, n, cgid uint64) trace.Syscall {
	switch {
	case slot == countSlots-1:
		// Numbers past the table: x32 calls and the like. Counted, never named.
		return trace.Syscall{Name: "out_of_range", Number: -1, Count: n, CgroupID: cgid}
	case slot >= nrMax:
		nr := slot - nrMax
		return trace.Syscall{Name: t.compat.syscallName(nr), Number: nr, Count: n, Compat: true, CgroupID: cgid}
	default:
		return trace.Syscall{Name: t.native.syscallName(slot), Number: slot, Count: n, CgroupID: cgid}
	}
}

// counters sums the per-CPU counters and the programs' recursion misses.
func (t *Tracer) counters() (lost trace.Lost, sent, deduped uint64, err error) {
	var perCPU []slimtraceStats
	if err := t.maps.TraceStats.Lookup(uint32(0), &perCPU); err != nil {
		return lost, 0, 0, fmt.Errorf("reading loss counters: %w", err)
	}
	var oversized, noRoom uint64
	for _, s := range perCPU {
		lost.Events += s.Lost
		lost.Truncated += s.Truncated
		lost.Unreadable += s.Unreadable
		oversized += s.Oversized
		noRoom += s.NoRoom
		sent += s.Sent
		deduped += s.Deduped
	}
	// The report has no field of their own for these two (never seen in
	// practice): they make it incomplete as lost events.
	if oversized+noRoom > 0 {
		t.opts.Logger.Warn().Uint64("oversized", oversized).Uint64("no_room", noRoom).
			Msg("events or counts dropped in the kernel")
		lost.Events += oversized + noRoom
	}
	for _, p := range append(t.progs, t.capProg) {
		if p == nil {
			continue
		}
		if st, err := p.Stats(); err == nil {
			lost.Skipped += st.RecursionMisses
		}
	}
	return lost, sent, deduped, nil
}

// release unloads everything the tracer holds; safe on a half-made tracer.
func (t *Tracer) release() {
	for _, l := range t.links {
		_ = l.Close()
	}
	t.links = nil
	if t.reader != nil {
		_ = t.reader.Close()
		select {
		case <-t.done:
		case <-time.After(5 * time.Second):
		}
	}
	for _, p := range t.progs {
		_ = p.Close()
	}
	t.progs = nil
	if t.capProg != nil {
		_ = t.capProg.Close()
	}
	_ = t.maps.Close()
}

// WatchDepth is how far below a watching tracer's target a watched cgroup
// may be (WATCH_DEPTH in bpf/slimtrace.bpf.c).
const WatchDepth = 8

// Watch adds g, a cgroup below a watching tracer's target, to what it
// traces, from now on. The processes already in g and below it get the
// lineage adopt when it is not 0 (a running container's: its processes
// are the application's); a cgroup added before its first process starts
// (a pod whose containers are still to come) is traced from that
// process's first exec.
func (t *Tracer) Watch(g *cgroup.Group, adopt uint32) error {
	if !t.opts.Watch {
		return errors.New("the tracer was not opened to watch cgroups")
	}
	if d := g.Level - t.opts.Cgroup.Level; d < 1 || d > WatchDepth ||
		!strings.HasPrefix(g.Path, t.opts.Cgroup.Path+"/") {
		return fmt.Errorf("cgroup %s is not within %d levels below %s", g.Path, WatchDepth, t.opts.Cgroup.Path)
	}
	if err := t.maps.Watched.Update(g.ID, uint8(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("watching cgroup %s: %w", g.Path, err)
	}
	if err := t.bump(t.targetGen, "target_gen_user"); err != nil {
		return err
	}
	return t.adoptIn(g, adopt)
}

// Spawn makes every cgroup created in g from now on watched from its
// creation (before any process runs in it): a runtime that puts each
// container directly below one parent. Unwatch drops those not wanted.
func (t *Tracer) Spawn(g *cgroup.Group) error {
	if !t.opts.Watch {
		return errors.New("the tracer was not opened to watch cgroups")
	}
	if d := g.Level - t.opts.Cgroup.Level; d < 0 || d >= WatchDepth ||
		(g.Path != t.opts.Cgroup.Path && !strings.HasPrefix(g.Path, t.opts.Cgroup.Path+"/")) {
		return fmt.Errorf("cgroup %s is not within %d levels below %s", g.Path, WatchDepth-1, t.opts.Cgroup.Path)
	}
	if err := t.maps.Spawners.Update(g.ID, uint8(1), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("watching the new cgroups of %s: %w", g.Path, err)
	}
	return nil
}

// Unwatch stops tracing cgroup id (watched by Watch or Spawn).
func (t *Tracer) Unwatch(id uint64) error {
	if err := t.maps.Watched.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("unwatching cgroup %d: %w", id, err)
	}
	return t.bump(t.targetGen, "target_gen_user")
}

// Adopt gives the lineage to the processes in g and below it that have
// none yet (a running container in a watched pod).
func (t *Tracer) Adopt(g *cgroup.Group, lineage uint32) error {
	return t.adoptIn(g, lineage)
}

// adopt gives the lineage opts.Adopt to the processes of the target and
// its descendant cgroups that have none yet.
func (t *Tracer) adopt() error {
	if t.opts.Watch {
		return nil
	}
	return t.adoptIn(t.opts.Cgroup, t.opts.Adopt)
}

// adoptIn gives the lineage to the processes of g and below it that have
// none yet, then tells the programs the lineages changed (they cache the
// last one they looked up).
func (t *Tracer) adoptIn(g *cgroup.Group, lineage uint32) error {
	if lineage == 0 {
		return nil
	}
	pids, err := g.AllPids()
	if err != nil {
		return fmt.Errorf("listing the target's processes: %w", err)
	}
	for _, pid := range pids {
		err := t.maps.Lineages.Update(uint32(pid), lineage, ebpf.UpdateNoExist)
		if err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
			return fmt.Errorf("adopting pid %d: %w", pid, err)
		}
	}
	return t.bump(t.lineageGen, "lineage_gen_user")
}

// bump adds one to a generation user space keeps (lineage_gen_user or
// target_gen_user), after a change to the maps the programs cache from.
func (t *Tracer) bump(gen *ebpf.Variable, name string) error {
	t.genMu.Lock()
	defer t.genMu.Unlock()
	var n uint64
	if err := gen.Get(&n); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if err := gen.Set(n + 1); err != nil {
		return fmt.Errorf("bumping %s: %w", name, err)
	}
	return nil
}
