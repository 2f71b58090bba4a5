package creport

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/docker/go-units"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// Version is bumped when a field of Container changes meaning.
const Version = 2 // 2: image.config is docker's own config type

// Container is creport.json. Its fields are documented in the README
// ("creport.json"); names are stable.
type Container struct {
	Version   int       `json:"version"`
	Tool      string    `json:"tool"` // "slimtrace <version>"
	Command   string    `json:"command"`
	StartedAt time.Time `json:"started_at"`

	Image Image  `json:"image"`
	Run   Run    `json:"run"`
	Exit  *Exit  `json:"exit,omitempty"`
	Probe Probes `json:"probes"`

	// Files the application used (its own processes, after the
	// entrypoint's exec), with what the image holds at each path.
	Files []File `json:"files"`
	// ExecFiles were used only by processes run with --exec or by the
	// healthcheck: kept apart from the application's files.
	ExecFiles []File `json:"exec_files"`
	// SetupFiles were used by the container runtime's own setup, before
	// the entrypoint's exec (runc init).
	SetupFiles []string `json:"setup_files"`

	Execs     []trace.Exec    `json:"execs"`
	Processes []trace.Process `json:"processes"`
	// ProcessesNotListed counts exited processes past the report's list
	// (trace.MaxExitedProcesses).
	ProcessesNotListed uint64          `json:"processes_not_listed,omitempty"`
	Syscalls           []trace.Syscall `json:"syscalls"`
	// NetworkFamilies are the kinds of socket made; Capabilities the
	// capability checks the kernel made for the processes (empty when
	// Tracer.CapabilitiesRecorded is false).
	NetworkFamilies []trace.NetworkFamily `json:"network_families"`
	Capabilities    []trace.Capability    `json:"capabilities"`
	Tracer          trace.Tracer          `json:"tracer"`
	Lost            trace.Lost            `json:"lost"`
	Complete        bool                  `json:"complete"`
	// StartupOnly is set when the app serves (it had a port, exposed or
	// listened on) but no request reached it: the trace, and the profiles
	// made from it, hold its start-up only.
	StartupOnly bool `json:"startup_only"`

	// Slim describes the slim image, for build.
	Slim *Slim `json:"slim,omitempty"`
	// Verify compares the slim image's run with this one (--verify).
	Verify *Verify `json:"verify,omitempty"`

	// Seccomp says how tight the generated seccomp profile is.
	Seccomp *Seccomp `json:"seccomp,omitempty"`

	Artifacts Artifacts `json:"artifacts"`
	Timings   Timings   `json:"timings"`
	Logs      []string  `json:"logs,omitempty"` // the container's last output lines
}

// Image describes the image that ran.
type Image struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	Digest   string `json:"digest"`
	Size     int64  `json:"size"`
	Platform string `json:"platform"`
	// FoundIn says where the image was found: "containerd namespace
	// default", "Docker Engine at unix:///var/run/docker.sock", "registry
	// HOST", "archive PATH".
	FoundIn string `json:"found_in"`
	// Config is the image's run configuration as docker writes it
	// (Entrypoint, Cmd, Env, ExposedPorts, Healthcheck, ...).
	Config dockerspec.DockerOCIImageConfig `json:"config"`
}

// Run says how the container ran.
type Run struct {
	ContainerID string   `json:"container_id"`
	Args        []string `json:"args"`
	Env         []string `json:"env"`
	Workdir     string   `json:"workdir"`
	User        string   `json:"user"`
	Hostname    string   `json:"hostname"`
	Network     string   `json:"network"`
	Ports       []string `json:"ports"`
	Mounts      []string `json:"mounts,omitempty"`
	// SideServices ran untraced in the container's network namespace:
	// NAME=IMAGE each.
	SideServices  []string `json:"side_services,omitempty"`
	ContinueAfter string   `json:"continue_after"`
	// MemoryLimit (bytes) and PidsLimit bound the traced container (--memory,
	// --pids-limit); 0 is no limit.
	MemoryLimit int64 `json:"memory_limit"`
	PidsLimit   int64 `json:"pids_limit"`
	// Attached: slimtrace attached to containers that were already
	// there (profile container:/pod:/docker-container:, record) and
	// never stopped, paused or restarted them.
	Attached bool `json:"attached,omitempty"`
	// Startup says whether their start-up is in the trace: "traced" (from
	// the entrypoint's exec, every workload), "missed" (attached to
	// processes already running: what they did before is not in the
	// trace) or "partly" (some of each).
	Startup string `json:"startup,omitempty"`
	// Workloads are the containers traced, replicas merged into this
	// report.
	Workloads []Workload `json:"workloads,omitempty"`
}

// Workload is one running container an attached trace covered.
type Workload struct {
	Ref          string `json:"ref"`
	ID           string `json:"id"`
	Namespace    string `json:"namespace,omitempty"` // containerd's
	Image        string `json:"image,omitempty"`
	PodNamespace string `json:"pod_namespace,omitempty"`
	Pod          string `json:"pod,omitempty"`
	Container    string `json:"container"`
	Pid          int    `json:"pid"`
	// StartedAt is when its init process started; Kept says it was still
	// the same process (same pid, same start) when tracing ended.
	StartedAt time.Time `json:"started_at"`
	Kept      bool      `json:"kept"`
	// Startup: "traced" when its entrypoint's exec is in the trace, else
	// "missed".
	Startup string `json:"startup"`
}

// Exit is how the container's init process ended, when it did.
type Exit struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"` // "exited by itself" or "stopped by slimtrace"
	// Killed says why slimtrace killed it instead of letting it exit on its
	// stop signal: "no handler for the stop signal", "idle after the stop
	// signal" (it ignored the signal) or "stop timeout".
	Killed string `json:"killed,omitempty"`
}

// Probes are the results of exercising the target.
type Probes struct {
	HTTP        []HTTPProbe `json:"http"`
	Exec        []ExecProbe `json:"exec"`
	Healthcheck *ExecProbe  `json:"healthcheck,omitempty"`
	Passed      int         `json:"passed"`
	Failed      int         `json:"failed"`
}

// HTTPProbe is one request sent to the target.
type HTTPProbe struct {
	Port      int    `json:"port"`
	Proto     string `json:"proto"`
	Method    string `json:"method"`
	Resource  string `json:"resource"`
	Source    string `json:"source"` // default, cmd or crawl
	Status    int    `json:"status"`
	Size      int64  `json:"size"`
	LatencyMS int64  `json:"latency_ms"`
	SHA256    string `json:"sha256,omitempty"`
	Error     string `json:"error,omitempty"`
	// Body is the body's first 256 KiB, kept in memory for Verify; not in
	// creport.json.
	Body []byte `json:"-"`
}

// ExecProbe is a command run against (--exec-probe, on the host) or inside
// (--exec, healthcheck) the target.
type ExecProbe struct {
	Where      string   `json:"where"` // host or container
	Command    []string `json:"command"`
	Pid        int      `json:"pid,omitempty"`
	ExitCode   int      `json:"exit_code"`
	DurationMS int64    `json:"duration_ms"`
	Output     []string `json:"output,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// File is one path the application used.
type File struct {
	Path  string   `json:"path"`
	Kinds []string `json:"kinds"` // read, write, exec, stat, readlink, create, delete
	// Results are "ok" and the errnos seen ("ENOENT").
	Results []string `json:"results"`
	// InImage: the path exists in the image (symlinks resolved there).
	InImage bool `json:"in_image"`
	// Type in the image: file, dir, symlink, other; empty when not in it.
	Type string `json:"type,omitempty"`
	// Size in the image of what the path resolves to (regular files).
	Size int64 `json:"size,omitempty"`
	// Resolved is the image path after symlinks, when it differs.
	Resolved string `json:"resolved,omitempty"`
	// Volume: opened on a mount that is not the image (a --mount, the
	// runtime's /etc/hosts); Written: created or changed during the run.
	Volume  bool `json:"volume,omitempty"`
	Written bool `json:"written,omitempty"`
}

// Slim is the image build made.
type Slim struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Digest string `json:"digest"`
	// FatSize and Size are the unpacked sizes of the two images' files
	// (what `du` of their root filesystems says); Ratio is FatSize/Size.
	FatSize int64   `json:"fat_size"`
	Size    int64   `json:"size"`
	Ratio   float64 `json:"ratio"`
	// ArchiveSize is the slim image's content as stored (compressed);
	// UnpackedSize the uncompressed size of its layers (the tar streams):
	// Size plus the format's own bytes (headers, padding).
	ArchiveSize  int64 `json:"archive_size"`
	UnpackedSize int64 `json:"unpacked_size"`
	// Output is the tarball written with --output, if any.
	Output string `json:"output,omitempty"`
	// DeliveredTo says where the slim image went: "containerd namespace
	// default", "Docker Engine at unix:///var/run/docker.sock", "registry
	// HOST"; empty for --target-runtime none without --push.
	DeliveredTo []string `json:"delivered_to"`
	// Files is every path in the slim image, with why it is there.
	Files    []KeptFile `json:"files"`
	Warnings []string   `json:"warnings,omitempty"`
	// CappedDirs are application directories kept only in part, over
	// --app-dir-max-files or --app-dir-cap: Files files of Bytes bytes were
	// left out beside the ones the application used.
	CappedDirs []CappedDir `json:"capped_dirs,omitempty"`
	// Imports is what the import closure added (--include-imports).
	Imports *Imports `json:"imports,omitempty"`
	// Insurance is --insurance: none, imports or full.
	Insurance string `json:"insurance,omitempty"`
	// InsuranceBytes are the bytes of the files kept only in case code no
	// probe reached needs them, by reason (app-dir, language-package,
	// import, lazy-load): what the safety net costs.
	InsuranceBytes map[string]int64 `json:"insurance_bytes"`
}

// InsuranceTotal is the sum of InsuranceBytes.
func (s *Slim) InsuranceTotal() int64 {
	var n int64
	for _, b := range s.InsuranceBytes {
		n += b
	}
	return n
}

// Imports says what the static import closure of the traced Python,
// Node.js, Ruby and PHP files did.
type Imports struct {
	Parsed int `json:"parsed"` // source files read
	// Files and Bytes were added by the closure (modules, their parent
	// directories and the libraries extension modules need).
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// NotFound counts literal names the image does not hold (builtins,
	// other platforms' modules).
	NotFound int `json:"not_found"`
	// Deferred counts imports inside functions of files the closure added
	// (lazy twice over): not followed.
	Deferred int `json:"deferred"`
	// Fallbacks counts imports in "except ImportError:" blocks whose try
	// imported a module the application was traced loading: not followed.
	Fallbacks int `json:"fallbacks"`
	// Unused counts lazy registrations (a template engine) for extensions
	// no kept application file has: not followed.
	Unused int `json:"unused_registrations"`
	// Unresolved are imports with names computed at run time, in files no
	// OS package owns: add what they load with --include-path.
	Unresolved []UnresolvedImport `json:"unresolved"`
	// UnresolvedSystem counts those in OS packages' files.
	UnresolvedSystem int `json:"unresolved_system"`
	// UnresolvedLeftOut counts dynamic imports not listed for a cap:
	// UnresolvedCapped names it ("per-file": --imports-max-unresolved-per-file,
	// "total": --imports-max-unresolved), UnresolvedCappedFiles the first
	// files the per-file cap cut.
	UnresolvedLeftOut     int      `json:"unresolved_left_out,omitempty"`
	UnresolvedCapped      []string `json:"unresolved_capped,omitempty"`
	UnresolvedCappedFiles []string `json:"unresolved_capped_files,omitempty"`
	// Bound is the bound reached: "depth" (--imports-max-depth), "size"
	// (--imports-max-size), or empty.
	Bound string `json:"bound,omitempty"`
}

// CappedDir is an application directory kept only in part.
type CappedDir struct {
	Dir   string `json:"dir"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// UnresolvedImport is an import whose name is computed at run time.
type UnresolvedImport struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Expr string `json:"expr"`
}

// Verify is the slim image run with the same settings and probes as the
// fat one, compared.
type Verify struct {
	Image  string   `json:"image"`
	Passed bool     `json:"passed"`
	Diffs  []string `json:"diffs"`
	// Notes are differences accepted as the same answer: bodies that
	// differ only in numbers (a clock, a counter, an id).
	Notes []string `json:"notes,omitempty"`
}

// KeptFile is one path of the slim image.
type KeptFile struct {
	Path    string   `json:"path"`
	Type    string   `json:"type"` // file, dir, symlink, other
	Size    int64    `json:"size,omitempty"`
	Reasons []string `json:"reasons"` // traced, exec, symlink, parent-dir, elf-dep, ...
	Detail  string   `json:"detail,omitempty"`
}

// Seccomp compares the seccomp profile with Docker's default one, on the
// native architecture.
type Seccomp struct {
	Arch string `json:"arch"` // SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64
	// Allowed is how many syscalls the profile allows; DockerDefault how
	// many Docker's default profile allows unconditionally (no capability
	// or argument condition); Fraction is Allowed / DockerDefault.
	Allowed       int     `json:"allowed"`
	DockerDefault int     `json:"docker_default_allowed"`
	Fraction      float64 `json:"fraction"`
	// NotInDockerDefault are allowed here but not by Docker's default.
	NotInDockerDefault []string `json:"not_in_docker_default"`
}

// Artifacts are the files this run wrote.
type Artifacts struct {
	Dir      string `json:"dir"`
	Report   string `json:"report"`
	Seccomp  string `json:"seccomp"` // moby/Docker JSON
	AppArmor string `json:"apparmor"`
	// SeccompKubelet is the profile for the kubelet's seccomp directory
	// (OCI form), SeccompPod a pod using it, SeccompSPO the Security
	// Profiles Operator's SeccompProfile.
	SeccompKubelet string `json:"seccomp_kubelet,omitempty"`
	SeccompPod     string `json:"seccomp_pod,omitempty"`
	SeccompSPO     string `json:"seccomp_spo,omitempty"`
}

// Files lists the artifact files, the report first.
func (a Artifacts) Files() []string {
	var out []string
	for _, f := range []string{a.Report, a.Seccomp, a.SeccompKubelet, a.SeccompPod, a.SeccompSPO, a.AppArmor} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Timings of each phase, in milliseconds.
type Timings struct {
	ResolveMS int64 `json:"resolve_ms"`
	CreateMS  int64 `json:"create_ms"`
	StartMS   int64 `json:"start_ms"`
	ProbeMS   int64 `json:"probe_ms"`
	WaitMS    int64 `json:"wait_ms"`
	StopMS    int64 `json:"stop_ms"`
	CollectMS int64 `json:"collect_ms"`
	// Build phases (build only): computing the file set, BuildKit's solve
	// (resolving the fat image, copying), exporting and importing.
	FilesetMS int64 `json:"fileset_ms,omitempty"`
	SolveMS   int64 `json:"solve_ms,omitempty"`
	ExportMS  int64 `json:"export_ms,omitempty"`
	TotalMS   int64 `json:"total_ms"`
}

// Encode writes the report as indented JSON (creport.json).
func (c *Container) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Summary writes the lines a user reads at the end of a run.
func (c *Container) Summary(w io.Writer) {
	if c.Image.ID != "" {
		fmt.Fprintf(w, "image:     %s (%s, %s)", c.Image.Name, short(c.Image.ID), units.HumanSize(float64(c.Image.Size)))
	} else {
		fmt.Fprintf(w, "image:     %s", c.Image.Name) // an attached run's: its runtime's name for it
	}
	if c.Image.FoundIn != "" {
		fmt.Fprintf(w, ", from %s", c.Image.FoundIn)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "ran:       %s\n", strings.Join(c.Run.Args, " "))
	if c.Run.Attached {
		fmt.Fprintf(w, "attached:  %d running container(s), never stopped; start-up %s\n", len(c.Run.Workloads), c.Run.Startup)
		if c.Run.Startup != "traced" {
			fmt.Fprintf(w, "NOTE:      start-up is not (all) in the trace: what the app did before slimtrace attached is missing from the profiles (record a rollout with slimtrace record to see it)\n")
		}
	}
	if c.Exit != nil {
		if c.Exit.Killed != "" {
			fmt.Fprintf(w, "exit:      %d (%s; killed: %s)\n", c.Exit.Code, c.Exit.Reason, c.Exit.Killed)
		} else {
			fmt.Fprintf(w, "exit:      %d (%s)\n", c.Exit.Code, c.Exit.Reason)
		}
	}
	fmt.Fprintf(w, "probes:    %d passed, %d failed\n", c.Probe.Passed, c.Probe.Failed)
	inImage := 0
	for _, f := range c.Files {
		if f.InImage {
			inImage++
		}
	}
	var calls uint64
	for _, s := range c.Syscalls {
		calls += s.Count
	}
	fmt.Fprintf(w, "files:     %d used by the app (%d in the image), %d only by --exec/healthcheck\n",
		len(c.Files), inImage, len(c.ExecFiles))
	fmt.Fprintf(w, "execs:     %d\n", len(c.Execs))
	fmt.Fprintf(w, "syscalls:  %d distinct, %d calls\n", len(c.Syscalls), calls)
	if !c.Complete {
		fmt.Fprintf(w, "WARNING:   THE TRACE IS INCOMPLETE: %d events lost, %d skipped, %d truncated, %d unreadable\n",
			c.Lost.Events, c.Lost.Skipped, c.Lost.Truncated, c.Lost.Unreadable)
		if c.Lost.Unlisted > 0 {
			fmt.Fprintf(w, "WARNING:   %d distinct paths or execs past --trace-max-files or --trace-max-execs are not in the report\n",
				c.Lost.Unlisted)
		}
	}
	if c.StartupOnly {
		fmt.Fprintf(w, "WARNING:   START-UP ONLY: requests were never seen; the profiles and the slim image miss what serving needs (probe the app's ports)\n")
	}
	if c.Slim != nil {
		fmt.Fprintf(w, "slim:      %s: %s -> %s (%.1fx smaller), %d paths kept\n", c.Slim.Name, units.HumanSize(float64(c.Slim.FatSize)),
			units.HumanSize(float64(c.Slim.Size)), c.Slim.Ratio, len(c.Slim.Files))
		if len(c.Slim.DeliveredTo) > 0 {
			fmt.Fprintf(w, "           in %s\n", strings.Join(c.Slim.DeliveredTo, ", "))
		}
		if c.Slim.InsuranceBytes != nil {
			total := c.Slim.InsuranceTotal()
			fmt.Fprintf(w, "insurance: %s (%.0f%% of the slim image's files), --insurance=%s", units.HumanSize(float64(total)),
				100*float64(total)/float64(max(c.Slim.Size, 1)), c.Slim.Insurance)
			reasons := slices.Sorted(maps.Keys(c.Slim.InsuranceBytes))
			for i, r := range reasons {
				sep := ", "
				if i == 0 {
					sep = ": "
				}
				fmt.Fprintf(w, "%s%s %s", sep, r, units.HumanSize(float64(c.Slim.InsuranceBytes[r])))
			}
			fmt.Fprintln(w)
		}
		if im := c.Slim.Imports; im != nil {
			fmt.Fprintf(w, "imports:   %d files (%s) added from %d source files read, %d dynamic names unresolved",
				im.Files, units.HumanSize(float64(im.Bytes)), im.Parsed, len(im.Unresolved))
			if im.Bound != "" {
				fmt.Fprintf(w, ", %s bound reached", im.Bound)
			}
			fmt.Fprintln(w)
			for i, u := range im.Unresolved {
				if i == 5 {
					fmt.Fprintf(w, "           ... %d more in creport.json (slim.imports.unresolved)\n", len(im.Unresolved)-i)
					break
				}
				fmt.Fprintf(w, "           unresolved %s:%d: %s (--include-path what it loads)\n", u.File, u.Line, u.Expr)
			}
		}
		for _, warn := range c.Slim.Warnings {
			fmt.Fprintf(w, "warning:   %s\n", warn)
		}
	}
	if v := c.Verify; v != nil {
		if v.Passed {
			fmt.Fprintf(w, "verify:    passed: %s answers every probe as the fat image does\n", v.Image)
		} else {
			fmt.Fprintf(w, "verify:    FAILED: %s differs from the fat image:\n", v.Image)
			for _, d := range v.Diffs {
				fmt.Fprintf(w, "           - %s\n", d)
			}
		}
		for _, n := range v.Notes {
			fmt.Fprintf(w, "           note: %s\n", n)
		}
	}
	t := c.Timings
	fmt.Fprintf(w, "time:      %.1fs (start %.1fs, probe %.1fs, collect %.1fs",
		float64(t.TotalMS)/1000, float64(t.ResolveMS+t.CreateMS+t.StartMS)/1000, float64(t.ProbeMS+t.WaitMS)/1000,
		float64(t.StopMS+t.CollectMS)/1000)
	if c.Slim != nil {
		fmt.Fprintf(w, ", files %.1fs, build %.1fs, export %.1fs", float64(t.FilesetMS)/1000, float64(t.SolveMS)/1000,
			float64(t.ExportMS)/1000)
	}
	fmt.Fprintln(w, ")")
	if s := c.Seccomp; s != nil {
		fmt.Fprintf(w, "seccomp:   %d syscalls allowed, %.0f%% of Docker's default %d; %d not in it\n", s.Allowed,
			100*s.Fraction, s.DockerDefault, len(s.NotInDockerDefault))
	}
	if c.Artifacts.Dir != "" {
		fmt.Fprintf(w, "artifacts: %s\n", c.Artifacts.Dir)
		for _, a := range c.Artifacts.Files() {
			fmt.Fprintf(w, "           %s\n", filepath.Base(a))
		}
	}
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
