package profile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/golden"
	"github.com/slimtrace/slimtrace/internal/trace"
)

func TestAppArmorGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report *trace.Report
		opts   AppArmorOptions
	}{
		{"python-http-server", pythonServer(), AppArmorOptions{Name: ProfileName("python:3.12-slim")}},
		{"python-http-server-recorded", withSecurity(pythonServer()), AppArmorOptions{Name: "slimtrace-python-recorded"}},
		{"aarch64-static", arm64Static(), AppArmorOptions{Name: "slimtrace-static"}},
		{"awkward-paths", awkwardPaths(), AppArmorOptions{Name: "slimtrace-awkward"}},
		{"empty", emptyReport("x86_64"), AppArmorOptions{Name: "slimtrace-empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppArmor(tc.report, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.name+".apparmor", []byte(got))
		})
	}
}

func TestAppArmorRules(t *testing.T) {
	p, err := AppArmor(pythonServer(), AppArmorOptions{Name: "slimtrace-python"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rule string
	}{
		{"exec binary, resolved", "/usr/local/bin/python3.12 mrix,"},
		{"name it was run by", "/usr/local/bin/python3 rix,"}, // readlink gave r
		{"library through /lib symlink", "/usr/lib/x86_64-linux-gnu/libc.so.6 mr,"},
		{"library by name", "/usr/local/lib/libpython3.12.so.1.0 mr,"},
		{"extension module", "/usr/local/lib/python3.12/lib-dynload/_socket.cpython-312-x86_64-linux-gnu.so mr,"},
		{"plain read", "/etc/ld.so.cache r,"},
		{"symlink resolved", "/usr/share/zoneinfo/Etc/UTC r,"},
		{"stat gives r", "/usr/local/lib/python3.12/os.py r,"},
		{"listed directory", "/srv/ r,"},
		{"directory with children", "/usr/local/lib/python3.12/lib-dynload/ r,"},
		{"pid in /proc", "/proc/@{pid}/setgroups r,"},
		{"thread in /proc", "/proc/@{pid}/task/@{tid}/fd/ r,"},
		{"sysfs", "/sys/devices/** r,"},
		{"terminal", "/dev/pts/[0-9]* w,"},
		{"written directory", "/srv/cache/* w,"},
		{"read in a written directory", "/srv/cache/index r,"},
		{"hard link", "/srv/data/current.tmp wl,"},
		{"pid in a name", "/run/http-server-[0-9]*.pid w,"},
		{"uuid", "/run/app/*.sock w,"},
		{"deleted file", "/tmp/pymp-q1w2e3r4 w,"},
		{"hash", "/var/cache/app/http/* r,"},
		{"mkdir", "/var/cache/app/new/ w,"},
		{"network", "network,"},
		{"capability", "capability setuid,"},
		{"signals from the runtime", "signal (receive) peer=unconfined,"},
		{"own signals", "signal (send, receive) peer=slimtrace-python,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Contains(lines(p, ""), tc.rule) {
				t.Errorf("profile lacks %q:\n%s", tc.rule, p)
			}
		})
	}
	for _, absent := range []string{
		"locale-archive", "python312.zip", "favicon.ico", // failed
		"/srv/cache/a1.tmp", "/srv/cache/b2.tmp", // under the glob
		"(deleted)", "48213", "3f2504e0", "1f2e3d4c", "/proc/1/", "/proc/self",
		"deny", "capability chown",
	} {
		if strings.Contains(p, absent) {
			t.Errorf("profile contains %q:\n%s", absent, p)
		}
	}
}

// withSecurity adds what a tracer on a kernel with capability:cap_capable
// records for the python server: started as root, it binds port 80 and
// drops to nobody; runc init chrooted before the exec; Python probed
// CAP_SYS_ADMIN (denied, as in a default container); overlayfs checked
// capabilities with the mounter's credentials.
func withSecurity(r *trace.Report) *trace.Report {
	r.Tracer.CapabilitiesRecorded = true
	r.NetworkFamilies = []trace.NetworkFamily{
		{Family: "inet", Type: "stream", Calls: 3},
		{Family: "inet6", Type: "stream", Failed: 1},
		{Family: "netlink", Type: "raw", Calls: 1},
		{Family: "unix", Type: "stream", Calls: 2},
		{Family: "unix", Type: "dgram", Calls: 1, Setup: true},
	}
	r.Capabilities = []trace.Capability{
		{Name: "setgid", Number: 6, Granted: 2},
		{Name: "setuid", Number: 7, Granted: 1},
		{Name: "net_bind_service", Number: 10, Granted: 1},
		{Name: "sys_chroot", Number: 18, Granted: 1, Setup: true},
		{Name: "sys_admin", Number: 21, Denied: 12},
		{Name: "sys_admin", Number: 21, Denied: 3, Setup: true},
		{Name: "sys_admin", Number: 21, Granted: 40, OtherCreds: true}, // overlayfs, as the mounter
		{Name: "dac_override", Number: 1, Granted: 2, OtherCreds: true},
		{Name: "sys_admin", Number: 21, Granted: 300, Unmediated: true}, // overcommit, for a privileged container
	}
	return r
}

func TestAppArmorNetworkAndCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name           string
		edit           func(r *trace.Report)
		want, unwanted []string
	}{
		{"recorded", func(r *trace.Report) {},
			[]string{"network inet stream,", "network inet6 stream,", "network netlink raw,", "network unix stream,",
				"capability net_bind_service,", "capability setgid,", "capability setuid,",
				"# Checked but denied by the container's capability set (AppArmor never sees those): sys_admin.",
				"# Used only by the runtime's setup before the entrypoint's exec, not allowed: sys_chroot.",
				"# which their own profile governs, not allowed here: sys_admin, dac_override."},
			[]string{"network,", "network unix dgram,", "capability sys_chroot,", "capability sys_admin,",
				"capability dac_override,", "Capabilities were not recorded"}},
		{"capabilities not recorded", func(r *trace.Report) { r.Tracer.CapabilitiesRecorded = false },
			[]string{"# Capabilities were not recorded (the kernel has no capability:cap_capable tracepoint).",
				"capability setgid,", "capability setuid,"},
			[]string{"capability net_bind_service,"}},
		{"no capability granted", func(r *trace.Report) { r.Capabilities = nil },
			[]string{"# The kernel granted the application no capability: no capability rules."},
			[]string{"capability setgid,", "capability setuid,", "capability net_bind_service,"}},
		{"families AppArmor cannot name", func(r *trace.Report) {
			r.NetworkFamilies = []trace.NetworkFamily{{Family: "family_99", Type: "stream", Calls: 1},
				{Family: "inet", Type: "dccp", Calls: 1}, {Family: "decnet", Type: "seqpacket", Failed: 1}}
		}, []string{"# Also made, with no AppArmor rule to allow them (so denied): family_99 stream, inet dccp, decnet seqpacket."},
			[]string{"network,", "network inet", "network decnet", "network family_99"}},
		{"only setup sockets", func(r *trace.Report) {
			r.NetworkFamilies = []trace.NetworkFamily{{Family: "unix", Type: "dgram", Calls: 1, Setup: true}}
			r.Syscalls = syscalls(false, "socket", "read")
		}, []string{"network,"}, []string{"network unix"}},
		{"unnamed capability", func(r *trace.Report) {
			r.Capabilities = []trace.Capability{{Name: "cap_41", Number: 41, Granted: 1}}
		}, []string{"# Also granted, with no name AppArmor knows (so denied): cap_41."}, []string{"capability cap_41"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := withSecurity(pythonServer())
			tc.edit(r)
			p, err := AppArmor(r, AppArmorOptions{Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			all := lines(p, "")
			for _, w := range tc.want {
				if !slices.Contains(all, w) {
					t.Errorf("profile lacks %q:\n%s", w, p)
				}
			}
			for _, u := range tc.unwanted {
				if strings.Contains(p, u) {
					t.Errorf("profile contains %q:\n%s", u, p)
				}
			}
			if parser := apparmorParserIfAny(); parser != "" {
				f := filepath.Join(t.TempDir(), "x")
				if err := os.WriteFile(f, []byte(p), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := parse(t, parser, f); err != nil {
					t.Errorf("apparmor_parser rejects the profile: %v\n%s\n%s", err, out, p)
				}
			}
		})
	}
}

func TestAppArmorNoSockets(t *testing.T) {
	r := emptyReport("x86_64")
	r.Syscalls = syscalls(false, "read", "write")
	p, err := AppArmor(r, AppArmorOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines(p, "network")) != 0 {
		t.Errorf("network rule without socket syscalls:\n%s", p)
	}
	r.Syscalls = syscalls(true, "socketcall")
	if p, _ = AppArmor(r, AppArmorOptions{Name: "x"}); len(lines(p, "network,")) != 1 {
		t.Errorf("no network rule for a compat socketcall:\n%s", p)
	}
}

func TestAppArmorIsDir(t *testing.T) {
	c := trace.NewCollector(trace.Limits{}, nil)
	c.Add(fileEv(1, "openat", trace.AccessRead, "/app/static", "/app/static"))
	c.Add(fileEv(1, "openat", trace.AccessRead, "/app/config", "/app/config"))
	r := c.Report(trace.Target{}, trace.Tracer{Arch: "x86_64"}, traceStart, traceEnd, nil, trace.Lost{})
	p, err := AppArmor(r, AppArmorOptions{Name: "x", IsDir: func(p string) bool { return p == "/app/static" }})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/app/static/ r,", "/app/config r,"} {
		if !slices.Contains(lines(p, "/app"), want) {
			t.Errorf("profile lacks %q:\n%s", want, p)
		}
	}
}

func TestAppArmorErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report *trace.Report
		opts   AppArmorOptions
		want   string
	}{
		{"nil report", nil, AppArmorOptions{Name: "x"}, "no trace report"},
		{"no name", emptyReport("x86_64"), AppArmorOptions{}, "invalid profile name"},
		{"path as name", emptyReport("x86_64"), AppArmorOptions{Name: "/usr/bin/x"}, "invalid profile name"},
		{"space in name", emptyReport("x86_64"), AppArmorOptions{Name: "a b"}, "invalid profile name"},
		{"namespace", emptyReport("x86_64"), AppArmorOptions{Name: ":ns:x"}, "invalid profile name"},
		{"image ref", emptyReport("x86_64"), AppArmorOptions{Name: "python:3.12"}, "invalid profile name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppArmor(tc.report, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestProfileName(t *testing.T) {
	for _, tc := range []struct{ image, want string }{
		{"python:3.12-slim", "slimtrace-python-3.12-slim"},
		{"docker.io/library/nginx:1.27", "slimtrace-docker.io-library-nginx-1.27"},
		{"ghcr.io/a/b@sha256:0123abcd", "slimtrace-ghcr.io-a-b-sha256-0123abcd"},
		{"my_app", "slimtrace-my_app"},
		{"--weird//:", "slimtrace---weird"},
		{"", "slimtrace"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			got := ProfileName(tc.image)
			if got != tc.want {
				t.Errorf("ProfileName(%q) = %q, want %q", tc.image, got, tc.want)
			}
			if !profileName.MatchString(got) {
				t.Errorf("%q is not a valid profile name", got)
			}
		})
	}
}

func TestPermString(t *testing.T) {
	for _, tc := range []struct {
		p    perm
		want string
	}{
		{0, ""},
		{permRead, "r"},
		{permRead | permWrite, "rw"},
		{permExec | permRead | permMap, "mrix"},
		{permLink | permWrite, "wl"},
		{permMap | permRead | permWrite | permLink | permExec, "mrwlix"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("perm %b = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// apparmorParserIfAny returns the path of apparmor_parser, or "".
func apparmorParserIfAny() string {
	for _, p := range []string{"apparmor_parser", "/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// parse runs apparmor_parser -Q -K (parse and compile, load nothing, no
// cache) on a profile file; it needs no root.
func parse(t *testing.T, parser, file string, extra ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(parser, append([]string{"-Q", "-K"}, append(extra, file)...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestAppArmorWrittenDirs(t *testing.T) {
	w := func(p string) trace.Event { return fileEv(1, "write", trace.AccessWrite, p, p) }
	rd := func(p string) trace.Event { return fileEv(1, "openat", trace.AccessRead, p, p) }
	for _, tc := range []struct {
		name           string
		events         []trace.Event
		want, unwanted []string
	}{
		{"one file stays literal", []trace.Event{w("/var/log/app.log")},
			[]string{"/var/log/app.log w,"}, []string{"/var/log/*"}},
		{"two files become the directory", []trace.Event{w("/var/log/a.log"), w("/var/log/b.log")},
			[]string{"/var/log/* w,"}, []string{"a.log", "b.log"}},
		{"read back", []trace.Event{w("/var/log/a.log"), rd("/var/log/a.log"), w("/var/log/b.log"), rd("/var/log/c")},
			[]string{"/var/log/* rw,"}, []string{"a.log", "b.log", "/var/log/c"}},
		{"a read-only file is kept when not covered", []trace.Event{w("/var/log/a"), w("/var/log/b"), rd("/var/log/c")},
			[]string{"/var/log/* w,", "/var/log/c r,"}, []string{"/var/log/a ", "/var/log/b "}},
		{"subdirectories are not covered", []trace.Event{w("/var/log/a"), w("/var/log/b"), w("/var/log/x/y")},
			[]string{"/var/log/* w,", "/var/log/x/y w,"}, nil},
		{"top level is never globbed", []trace.Event{w("/a"), w("/b")},
			[]string{"/a w,", "/b w,"}, []string{"/* "}},
		{"devices are never globbed", []trace.Event{w("/dev/null"), w("/dev/tty")},
			[]string{"/dev/null w,", "/dev/tty w,"}, []string{"/dev/* "}},
		{"proc is never globbed", []trace.Event{w("/proc/1/oom_score_adj"), w("/proc/1/comm")},
			[]string{"/proc/@{pid}/oom_score_adj w,", "/proc/@{pid}/comm w,"}, []string{"/proc/@{pid}/* "}},
		{"executables stay", []trace.Event{w("/app/bin/a"), w("/app/bin/b"), w("/app/bin/run"),
			&trace.ExecEvent{Header: trace.Header{Pid: 2, Lineage: 1}, Filename: "/app/bin/run", Binary: "/app/bin/run"}},
			[]string{"/app/bin/* w,", "/app/bin/run mrwix,"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := trace.NewCollector(trace.Limits{}, nil)
			for _, e := range tc.events {
				c.Add(e)
			}
			r := c.Report(trace.Target{}, trace.Tracer{Arch: "x86_64"}, traceStart, traceEnd, nil, trace.Lost{})
			p, err := AppArmor(r, AppArmorOptions{Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			files := strings.Join(lines(p, "/"), "\n") + "\n"
			for _, want := range tc.want {
				if !strings.Contains(files, want) {
					t.Errorf("no rule %q in\n%s", want, files)
				}
			}
			for _, u := range tc.unwanted {
				if strings.Contains(files, u) {
					t.Errorf("unexpected %q in\n%s", u, files)
				}
			}
		})
	}
}
