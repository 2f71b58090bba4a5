package trace

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText writes a readable report: files grouped by directory with how
// they were used, execs, syscalls with counts, and losses.
func WriteText(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Trace of %s (cgroup id %d), %s, %s programs, %s\n",
		targetName(r), r.Target.CgroupID, r.Tracer.Arch, r.Tracer.ProgramType, r.End.Sub(r.Start).Round(1e6))

	byDir := map[string][]File{}
	for _, f := range r.Files {
		d := path.Dir(f.Path)
		byDir[d] = append(byDir[d], f)
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	fmt.Fprintf(tw, "\nFiles (%d):\n", len(r.Files))
	for _, d := range dirs {
		fmt.Fprintf(tw, "  %s/\n", strings.TrimSuffix(d, "/"))
		for _, f := range byDir[d] {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", path.Base(f.Path), uses(f), notes(f))
		}
	}

	fmt.Fprintf(tw, "\nExecs (%d):\n", len(r.Execs))
	for _, e := range r.Execs {
		bin := e.Binary
		if bin != e.Filename {
			bin = e.Filename + " -> " + e.Binary
		}
		fmt.Fprintf(tw, "  pid %d\tppid %d\t%s\t%s\n", e.Pid, e.PPid, bin, strings.Join(e.Argv, " "))
	}

	var total uint64
	for _, s := range r.Syscalls {
		total += s.Count
	}
	fmt.Fprintf(tw, "\nSyscalls (%d distinct, %d calls):\n", len(r.Syscalls), total)
	for _, s := range r.Syscalls {
		name := s.Name
		if s.Compat {
			name += " (32-bit compat)"
		}
		fmt.Fprintf(tw, "  %s\t%d\n", name, s.Count)
	}

	fmt.Fprintf(tw, "\nNetwork families (%d):\n", len(r.NetworkFamilies))
	for _, n := range r.NetworkFamilies {
		fmt.Fprintf(tw, "  %s %s\t%d calls\t%s\n", n.Family, n.Type, n.Calls, securityNotes(n.Failed, n.Setup))
	}

	if r.Tracer.CapabilitiesRecorded {
		fmt.Fprintf(tw, "\nCapabilities checked (%d):\n", len(r.Capabilities))
		for _, c := range r.Capabilities {
			notes := securityNotes(0, c.Setup)
			if c.OtherCreds {
				notes = "[other credentials]"
			}
			if c.Unmediated {
				notes = "[memory overcommit test]"
			}
			fmt.Fprintf(tw, "  %s\t%d granted\t%d denied\t%s\n", c.Name, c.Granted, c.Denied, notes)
		}
	} else {
		fmt.Fprintln(tw, "\nCapabilities: not recorded (the kernel has no capability:cap_capable tracepoint)")
	}

	fmt.Fprintf(tw, "\nLost: %d events, %d skipped program runs, %d truncated paths, %d unreadable paths",
		r.Lost.Events, r.Lost.Skipped, r.Lost.Truncated, r.Lost.Unreadable)
	if r.Lost.Unlisted > 0 {
		fmt.Fprintf(tw, ", %d paths or execs past the report's caps (--trace-max-files, --trace-max-execs)", r.Lost.Unlisted)
	}
	if r.Complete() {
		fmt.Fprintln(tw, " (complete)")
	} else {
		fmt.Fprintln(tw, " (INCOMPLETE)")
	}
	return tw.Flush()
}

func securityNotes(failed uint64, setup bool) string {
	var n []string
	if failed > 0 {
		n = append(n, fmt.Sprintf("%d failed", failed))
	}
	if setup {
		n = append(n, "[runtime setup]")
	}
	return strings.Join(n, " ")
}

func targetName(r *Report) string {
	if len(r.Target.Command) > 0 {
		return strings.Join(r.Target.Command, " ")
	}
	return r.Target.Cgroup
}

// uses lists the kinds, with failures and their errno: "read, stat, read:ENOENT".
func uses(f File) string {
	var out []string
	for _, a := range f.Accesses {
		s := a.Kind.String()
		if a.Result != "ok" {
			s += ":" + a.Result
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, ", ")
}

func notes(f File) string {
	var n []string
	for _, o := range f.Opened {
		if o != f.Path {
			n = append(n, "-> "+o)
		}
	}
	if f.OnMount {
		n = append(n, "[mount]")
	}
	if f.Upper {
		n = append(n, "[written]")
	}
	return strings.Join(n, " ")
}
