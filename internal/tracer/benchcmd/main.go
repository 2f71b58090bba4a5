// Command benchcmd measures what tracing costs, as ratios taken in one run
// (absolute timings on a shared 2-core machine are noise):
//
//	(a) a syscall-bound workload untraced, traced, and under strace -f;
//	(b) the same workload in a cgroup that is not traced while the tracer is
//	    attached to another one: the cost to the rest of the host.
//
// Run it as root: make bench-tracer.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/cgroup"
	"github.com/slimtrace/slimtrace/internal/tracer"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "workload" {
		workload(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		if err := floor(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	calls := flag.Int("calls", 1_000_000, "syscalls per workload run (stat), or open+close pairs (open)")
	rounds := flag.Int("rounds", 5, "rounds of each measurement; the median is used")
	straceCalls := flag.Int("strace-calls", 200_000, "calls for the strace run (it is slow; the ratio is per call); 0 skips it")
	kinds := flag.String("workloads", "stat,open", "workloads to run: stat, open")
	flag.Parse()
	if err := tracer.CheckHost(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	for _, kind := range strings.Split(*kinds, ",") {
		if err := bench(kind, *calls, *rounds, *straceCalls); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// workload KIND N PATH: N stat calls, or N openat+close pairs, on PATH; prints
// the loop's own duration in ns.
func workload(args []string) {
	n, _ := strconv.Atoi(args[1])
	path := args[2]
	var st unix.Stat_t
	start := time.Now()
	for range n {
		if args[0] == "stat" {
			if err := unix.Stat(path, &st); err != nil {
				panic(err)
			}
		} else {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err != nil {
				panic(err)
			}
			unix.Close(fd)
		}
	}
	fmt.Println(time.Since(start).Nanoseconds())
}

// floor keeps one empty program on sys_exit, slimtrace's only raw_syscalls
// tracepoint, attached until SIGINT, SIGTERM or SIGUSR1: the floor of a
// tracer's cost to a server under load (testdata/bench/attach.sh). It says
// "attached" on stdout once the program runs.
func floor() error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	detach, err := attachNoop("sys_exit")
	if err != nil {
		return err
	}
	defer detach()
	fmt.Println("attached")
	<-sig
	return nil
}

// attachNoop attaches empty tp_btf programs to the raw_syscalls tracepoints
// tps: the floor any syscall tracer pays on this host, whatever it does in
// its programs.
func attachNoop(tps ...string) (func(), error) {
	var links []link.Link
	closeAll := func() {
		for _, l := range links {
			l.Close()
		}
	}
	for _, tp := range tps {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "noop_" + tp, Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: tp,
			License:      "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("loading a no-op program: %w", err)
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		prog.Close()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("attaching a no-op program: %w", err)
		}
		links = append(links, l)
	}
	return closeAll, nil
}

// runIn runs the workload in cgroup g (optionally under a wrapper command)
// and returns the loop's duration.
func runIn(g *cgroup.Group, wrapper []string, kind string, n int, path string) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	args := append(slices.Clone(wrapper), self, "workload", kind, strconv.Itoa(n), path)
	dir, err := g.OpenFD()
	if err != nil {
		return 0, err
	}
	defer dir.Close()
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("workload: %w", err)
	}
	fields := strings.Fields(out.String())
	if len(fields) == 0 {
		return 0, fmt.Errorf("workload printed nothing")
	}
	ns, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	return time.Duration(ns), err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func bench(kind string, calls, rounds, straceCalls int) error {
	tmp, err := os.MkdirTemp("", "slimtrace-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "target.txt")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		return err
	}
	suffix := strconv.Itoa(os.Getpid())
	work, err := cgroup.Create("slimtrace-bench-work-" + suffix)
	if err != nil {
		return err
	}
	defer work.Remove()
	other, err := cgroup.Create("slimtrace-bench-other-" + suffix)
	if err != nil {
		return err
	}
	defer other.Remove()

	var untraced, noop, noop1, traced, elsewhere []time.Duration
	measure := func(into *[]time.Duration, traceGroup *cgroup.Group) error {
		var t *tracer.Tracer
		if into == &noop || into == &noop1 {
			tps := []string{"sys_enter", "sys_exit"}
			if into == &noop1 {
				tps = tps[1:]
			}
			detach, err := attachNoop(tps...)
			if err != nil {
				return err
			}
			defer detach()
		}
		if traceGroup != nil {
			if t, err = tracer.Open(tracer.Options{Cgroup: traceGroup}); err != nil {
				return err
			}
		}
		d, err := runIn(work, nil, kind, calls, path)
		if t != nil {
			r, cerr := t.Close()
			if cerr != nil {
				return cerr
			}
			if traceGroup == work && !r.HasSyscall(map[string]string{"stat": "newfstatat", "open": "openat"}[kind]) &&
				!r.HasSyscall(kind) {
				return fmt.Errorf("traced run saw no %s calls", kind)
			}
		}
		*into = append(*into, d)
		return err
	}
	// Interleave them so drift hits them alike.
	for range rounds {
		for _, m := range []struct {
			into *[]time.Duration
			g    *cgroup.Group
		}{{&untraced, nil}, {&noop, nil}, {&noop1, nil}, {&traced, work}, {&elsewhere, other}} {
			if err := measure(m.into, m.g); err != nil {
				return err
			}
		}
	}
	base := median(untraced)

	what := fmt.Sprintf("%d x stat", calls)
	if kind == "open" {
		what = fmt.Sprintf("%d x openat+close", calls)
	}
	fmt.Printf("\nworkload: %s on one file, %d rounds, medians\n", what, rounds)
	fmt.Printf("  %-38s %8.3f s  %6.3f\n", "untraced", base.Seconds(), 1.0)
	floor := float64(median(noop1)) / float64(base)
	fmt.Printf("  %-38s %8.3f s  %6.3f   (a) target <= 1.20\n", "traced (tracer on this cgroup)",
		median(traced).Seconds(), float64(median(traced))/float64(base))
	fmt.Printf("  %-38s %8.3f s  %6.3f   (b) target <= the floor + 0.03 = %.3f\n", "not traced (tracer on another cgroup)",
		median(elsewhere).Seconds(), float64(median(elsewhere))/float64(base), floor+0.03)
	fmt.Printf("  %-38s %8.3f s  %6.3f   the floor: slimtrace's one program on raw_syscalls\n", "one empty program (sys_exit)",
		median(noop1).Seconds(), floor)
	fmt.Printf("  %-38s %8.3f s  %6.3f   a tracer with a sys_enter program too\n", "two empty programs (sys_enter+exit)",
		median(noop).Seconds(), float64(median(noop))/float64(base))

	if straceCalls == 0 {
		return nil
	}
	if _, err := exec.LookPath("strace"); err != nil {
		fmt.Printf("  %-38s not installed\n", "strace -f")
		return nil
	}
	sbase, err := runIn(work, nil, kind, straceCalls, path)
	if err != nil {
		return err
	}
	s, err := runIn(work, []string{"strace", "-f", "-qq", "-o", "/dev/null"}, kind, straceCalls, path)
	if err != nil {
		return err
	}
	fmt.Printf("  %-38s %8.3f s  %6.3f   (%d calls, against %.3f s untraced)\n", "strace -f",
		s.Seconds(), float64(s)/float64(sbase), straceCalls, sbase.Seconds())
	return nil
}
