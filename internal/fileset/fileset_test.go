package fileset

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unsafe"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// debian is a small merged-/usr Debian-like image with a dpkg database
// that lists paths the way packages do (through /bin and /lib).
var debian = map[string]*fstest.MapFile{
	"bin":                     link("usr/bin"),
	"lib":                     link("usr/lib"),
	"usr/bin/dash":            exe("dash"),
	"usr/bin/sh":              link("dash"),
	"usr/bin/env":             exe("env"),
	"usr/bin/curl":            exe("curl"),
	"usr/bin/vim.basic":       exe("vim"),
	"usr/bin/editor":          link("/etc/alternatives/editor"),
	"etc/alternatives/editor": link("/usr/bin/vim.basic"),
	"etc/passwd": file("root:x:0:0:root:/root:/bin/bash\n" +
		"app:x:1000:1000::/home/app:/bin/sh\n"),
	"etc/group":                          file("root:x:0:\napp:x:1000:\n"),
	"etc/nsswitch.conf":                  file("passwd: files\ngroup: files\nhosts: files dns\n"),
	"etc/hosts":                          file("127.0.0.1 localhost\n"),
	"etc/resolv.conf":                    file("nameserver 1.1.1.1\n"),
	"etc/services":                       file("http 80/tcp\n"),
	"home/app":                           dir(0o750),
	"home/app/.profile":                  file("x"),
	"usr/lib/x86_64-linux-gnu/libz.so.1": link("libz.so.1.2.13"),
	"usr/lib/x86_64-linux-gnu/libz.so.1.2.13": file("z"),
	"usr/share/zoneinfo/UTC":                  file("TZif"),
	"usr/share/zoneinfo/Europe/Paris":         file("TZif"),
	"etc/localtime":                           link("/usr/share/zoneinfo/UTC"),
	"srv":                                     dir(0o711),
	"srv/data":                                dir(0o700),
	"srv/data/x":                              file("x"),
	"srv/data/y":                              file("y"),
	"dev/null":                                file(""),
	"proc":                                    dir(0o555),
	"var/lib/dpkg/status":                     file(dpkgStatus),
	"var/lib/dpkg/info/dash.list":             file("/.\n/bin\n/bin/dash\n/usr/bin/sh\n"),
	"var/lib/dpkg/info/zlib1g:amd64.list":     file("/.\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libz.so.1\n/lib/x86_64-linux-gnu/libz.so.1.2.13\n"),
	"var/lib/dpkg/info/curl.list":             file("/.\n/usr\n/usr/bin\n/usr/bin/curl\n"),
	"var/lib/dpkg/info/vim.list":              file("/usr/bin/vim.basic\n"),
	"var/lib/dpkg/info/base-files.list":       file("/etc\n/etc/nsswitch.conf\n/etc/hosts\n/usr/share/zoneinfo\n"),
	"var/lib/dpkg/info/removed.list":          file("/srv/data/x\n"),
	"usr/lib/python3.11/json/__init__.py":     file("json"),
	"usr/lib/python3.11/json/decoder.py":      file("dec"),
	"usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc": file("pyc"),
	"usr/lib/python3.11/json/__pycache__/encoder.cpython-311.pyc": file("pyc"),
	"var/lib/dpkg/info/libpython3.11-stdlib:amd64.list": file("/usr/lib/python3.11/json/__init__.py\n" +
		"/usr/lib/python3.11/json/decoder.py\n/usr/lib/python3.11/json/encoder.py\n"),
}

const dpkgStatus = `Package: dash
Status: install ok installed
Architecture: amd64

Package: zlib1g
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Description: compression
 continued line

Package: curl
Status: install ok installed
Architecture: amd64

Package: vim
Status: install ok unpacked
Architecture: amd64

Package: base-files
Status: install ok installed
Architecture: amd64

Package: libpython3.11-stdlib
Status: install ok installed
Architecture: amd64

Package: removed
Status: deinstall ok config-files
Architecture: amd64
`

type computeCase struct {
	name  string
	img   map[string]*fstest.MapFile
	in    func(in *Input)
	want  map[string]Reason // path -> a reason it must be kept for ("" any)
	not   []string
	warn  []string
	check func(t *testing.T, s *Set)
}

// quiet turns off the default-on rules that add files to every set, so a
// case sees only what it is about.
func quiet(in *Input) { in.Options.NoOSLibsNet = true }

// alone also leaves application directories out.
func alone(in *Input) { in.Options.NoOSLibsNet, in.Options.NoAppDirs = true, true }

func runCases(t *testing.T, cases []computeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img
			if img == nil {
				img = debian
			}
			in := Input{FS: newImage(img)}
			tc.in(&in)
			s, err := Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, s, tc.want, tc.not)
			checkWarnings(t, s, tc.warn)
			if tc.check != nil {
				tc.check(t, s)
			}
			if !slices.IsSortedFunc(s.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) }) {
				t.Error("entries not sorted")
			}
		})
	}
}

func TestComputeTraced(t *testing.T) {
	runCases(t, []computeCase{{
		name: "symlinked directory on the way",
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/lib/x86_64-linux-gnu/libz.so.1")
		},
		want: map[string]Reason{
			"/lib":                                ReasonSymlink,
			"/usr/lib/x86_64-linux-gnu/libz.so.1": ReasonSymlink,
			"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13": ReasonTraced,
			"/usr":                      ReasonParent,
			"/usr/lib":                  ReasonParent,
			"/usr/lib/x86_64-linux-gnu": ReasonParent,
		},
		not: []string{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13/x"},
		check: func(t *testing.T, s *Set) {
			if n := len(s.Entries); n != 6 {
				t.Errorf("%d entries, want 6: %v", n, s.Paths())
			}
		},
	}, {
		name: "alternatives chain",
		in: func(in *Input) {
			quiet(in)
			in.Execs = []string{"/usr/bin/editor", "/usr/bin/vim.basic"}
		},
		want: map[string]Reason{
			"/usr/bin/editor":          ReasonSymlink,
			"/etc/alternatives/editor": ReasonSymlink,
			"/usr/bin/vim.basic":       ReasonExec,
			"/etc/alternatives":        ReasonParent,
		},
	}, {
		name: "parents keep their own modes",
		in: func(in *Input) {
			quiet(in)
			in.Options.NoAppDirs = true
			in.Files = read("/srv/data/x")
		},
		want: map[string]Reason{"/srv/data/x": ReasonTraced, "/srv/data": ReasonParent, "/srv": ReasonParent},
		not:  []string{"/srv/data/y"},
		check: func(t *testing.T, s *Set) {
			if m := s.Find("/srv/data").Mode; m != fs.ModeDir|0o700 {
				t.Errorf("/srv/data mode %v", m)
			}
			if m := s.Find("/srv").Mode; m != fs.ModeDir|0o711 {
				t.Errorf("/srv mode %v", m)
			}
		},
	}, {
		name: "a traced directory is kept alone",
		in: func(in *Input) {
			quiet(in)
			in.Files = []Used{{Path: "/srv/data", Kinds: []trace.Access{trace.AccessStat}, OK: true}}
		},
		want: map[string]Reason{"/srv/data": ReasonTraced},
		not:  []string{"/srv/data/x", "/srv/data/y"},
	}, {
		name: "missing paths are skipped quietly",
		in: func(in *Input) {
			quiet(in)
			in.Files = []Used{{Path: "/etc/nope/x", Kinds: []trace.Access{trace.AccessRead}},
				{Path: "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13/sub"}, {Path: "relative/x"}}
		},
		not: []string{"/etc/nope", "/etc", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"},
	}, {
		name: "a file created at run time keeps its directory",
		in: func(in *Input) {
			alone(in)
			in.Files = []Used{{Path: "/lib/../../srv/data/new.log", Kinds: []trace.Access{trace.AccessCreate}, OK: true},
				{Path: "/proc/self/fd/3"}}
		},
		want: map[string]Reason{"/srv/data": ReasonParent, "/srv": ReasonParent},
		not:  []string{"/srv/data/x", "/proc"},
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/srv/data").Detail; d != "the application used /lib/../../srv/data/new.log in it" {
				t.Errorf("detail %q", d)
			}
		},
	}, {
		name: "dot-dot resolves physically",
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/lib/../etc/hosts") // /lib is usr/lib: .. is /usr
		},
		not: []string{"/etc/hosts"},
	}, {
		name: "a dangling link the app looked at",
		img:  with(debian, map[string]*fstest.MapFile{"etc/localtime": link("/usr/share/zoneinfo/Nowhere")}),
		in: func(in *Input) {
			quiet(in)
			in.Files = []Used{{Path: "/etc/localtime", Kinds: []trace.Access{trace.AccessReadlink}, OK: true}}
		},
		want: map[string]Reason{"/etc/localtime": ReasonTraced},
	}, {
		name: "proc sys dev contents never",
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/dev/null", "/proc/self/status", "/sys/kernel/mm", "/proc")
		},
		want: map[string]Reason{"/proc": ReasonTraced},
		not:  []string{"/dev/null", "/dev"},
	}, {
		name: "mounted paths never",
		img:  with(debian, map[string]*fstest.MapFile{"app/data": link("/srv/data")}),
		in: func(in *Input) {
			quiet(in)
			in.Mounts = []string{"/srv/data/"}
			in.Files = read("/srv/data/x", "/app/data/y", "/srv/data")
		},
		want: map[string]Reason{"/srv/data": ReasonTraced},
		not:  []string{"/srv/data/x", "/srv/data/y", "/app/data"},
	}, {
		name: "excludes beat the trace",
		in: func(in *Input) {
			quiet(in)
			in.Options.ExcludePaths = []string{"/srv/**"}
			in.Files = read("/srv/data/x", "/etc/hosts")
		},
		want: map[string]Reason{"/etc/hosts": ReasonTraced},
		not:  []string{"/srv/data/x", "/srv/data", "/srv"},
	}, {
		name: "an excluded directory takes its contents",
		in: func(in *Input) {
			quiet(in)
			in.Options.ExcludePaths = []string{"/usr/lib/x86_64-linux-gnu"}
			in.Files = read("/lib/x86_64-linux-gnu/libz.so.1")
		},
		not: []string{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/lib"},
	}, {
		name: "excluded link target leaves the link out",
		in: func(in *Input) {
			quiet(in)
			in.Options.ExcludePaths = []string{"*.13"}
			in.Files = read("/lib/x86_64-linux-gnu/libz.so.1")
		},
		not: []string{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib"},
	}, {
		name: "writes and deletes of image files keep them",
		in: func(in *Input) {
			quiet(in)
			in.Files = []Used{{Path: "/srv/data/x", Kinds: []trace.Access{trace.AccessWrite}, OK: true},
				{Path: "/srv/data/y", Kinds: []trace.Access{trace.AccessDelete}, OK: true}}
		},
		want: map[string]Reason{"/srv/data/x": ReasonTraced, "/srv/data/y": ReasonTraced},
	}})
}

func TestComputeConfig(t *testing.T) {
	runCases(t, []computeCase{{
		name: "USER keeps the user database and the home",
		in: func(in *Input) {
			quiet(in)
			in.Config.User = "app:app"
		},
		want: map[string]Reason{"/etc/passwd": ReasonUserDB, "/etc/group": ReasonUserDB,
			"/etc/nsswitch.conf": ReasonUserDB, "/home/app": ReasonUserDB},
		not: []string{"/home/app/.profile"},
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/etc/passwd").Detail; d != "USER app:app" {
				t.Errorf("detail %q", d)
			}
		},
	}, {
		name: "numeric USER",
		in: func(in *Input) {
			quiet(in)
			in.Config.User = "4242:4242"
		},
		want: map[string]Reason{"/etc/passwd": ReasonUserDB, "/etc/group": ReasonUserDB},
	}, {
		name: "unknown USER name warns",
		in: func(in *Input) {
			quiet(in)
			in.Config.User = "ghost"
		},
		want: map[string]Reason{"/etc/passwd": ReasonUserDB},
		warn: []string{"USER ghost"},
	}, {
		name: "a user lookup keeps group and nsswitch",
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/etc/passwd")
		},
		want: map[string]Reason{"/etc/passwd": ReasonTraced, "/etc/group": ReasonUserDB,
			"/etc/nsswitch.conf": ReasonUserDB},
	}, {
		name: "no USER, no lookup: no user database",
		in:   quiet,
		not:  []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"},
	}, {
		name: "working dir",
		in: func(in *Input) {
			quiet(in)
			in.Config.WorkingDir = "/srv/data"
		},
		want: map[string]Reason{"/srv/data": ReasonWorkdir, "/srv": ReasonParent},
		not:  []string{"/srv/data/x"},
	}, {
		name: "working dir missing",
		in: func(in *Input) {
			quiet(in)
			in.Config.WorkingDir = "/work"
		},
		warn: []string{"working dir /work is not in the image"},
	}, {
		name: "resolver and NSS files by default",
		in:   func(in *Input) {},
		want: map[string]Reason{"/etc/resolv.conf": ReasonNSS, "/etc/hosts": ReasonNSS,
			"/etc/nsswitch.conf": ReasonNSS, "/etc/services": ReasonNSS},
	}, {
		name: "no resolver files with --include-oslibs-net=false",
		in:   quiet,
		not:  []string{"/etc/resolv.conf", "/etc/hosts"},
	}, {
		name: "zoneinfo when asked",
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludeZoneinfo = true
		},
		want: map[string]Reason{"/usr/share/zoneinfo/Europe/Paris": ReasonZoneinfo,
			"/usr/share/zoneinfo/UTC": ReasonZoneinfo, "/etc/localtime": ReasonZoneinfo},
	}, {
		name: "no zoneinfo by default",
		in:   quiet,
		not:  []string{"/usr/share/zoneinfo/UTC", "/etc/localtime"},
	}})
}

func TestComputeCommands(t *testing.T) {
	img := with(debian, map[string]*fstest.MapFile{
		"app/entrypoint.sh":      exe("#!/bin/sh -e\nexec \"$@\"\n"),
		"app/run.py":             exe("#!/usr/bin/env python3\nprint(1)\n"),
		"app/split.py":           exe("#!/usr/bin/env -S python3 -u\n"),
		"app/hc.sh":              exe("#!/bin/bash\ncurl -f localhost\n"),
		"app/data.txt":           file("#!/bin/nothing\n"),
		"app/main.py":            file("#!/usr/bin/env python3\n"),
		"usr/local/bin/python3":  exe("py"),
		"usr/bin/python3":        exe("py-os"),
		"usr/local/bin/gunicorn": exe("#!/usr/local/bin/python3\n"),
	})
	runCases(t, []computeCase{{
		name: "env shebang finds the program in the image's PATH",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
			in.Execs = []string{"/app/run.py"}
		},
		want: map[string]Reason{"/app/run.py": ReasonExec, "/usr/bin/env": ReasonShebang,
			"/usr/local/bin/python3": ReasonShebang},
		not: []string{"/usr/bin/python3"},
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/usr/local/bin/python3").Detail; d != "run by env for /app/run.py" {
				t.Errorf("detail %q", d)
			}
		},
	}, {
		name: "env -S and the default PATH",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Execs = []string{"/app/split.py"}
		},
		want: map[string]Reason{"/usr/local/bin/python3": ReasonShebang},
	}, {
		name: "shebang through a symlinked directory",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Execs = []string{"/app/entrypoint.sh"}
		},
		want: map[string]Reason{"/bin": ReasonSymlink, "/usr/bin/sh": ReasonSymlink, "/usr/bin/dash": ReasonShebang},
	}, {
		name: "missing interpreter warns",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Execs = []string{"/app/hc.sh"}
		},
		warn: []string{"/app/hc.sh: interpreter /bin/bash is not in the image"},
	}, {
		name: "a read script without execute bit is not run",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/app/data.txt")
		},
		want: map[string]Reason{"/app/data.txt": ReasonTraced},
	}, {
		name: "entrypoint script and the CMD it execs",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Entrypoint = []string{"/app/entrypoint.sh"}
			in.Config.Cmd = []string{"gunicorn", "app:app"}
		},
		want: map[string]Reason{"/app/entrypoint.sh": ReasonEntrypoint, "/usr/bin/dash": ReasonShebang,
			"/usr/local/bin/gunicorn": ReasonEntrypoint, "/usr/local/bin/python3": ReasonShebang},
	}, {
		name: "exec-form command with a script argument",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Cmd = []string{"python3", "/app/main.py"}
		},
		want: map[string]Reason{"/usr/local/bin/python3": ReasonEntrypoint, "/app/main.py": ReasonEntrypoint},
		not:  []string{"/usr/bin/env"}, // main.py is an argument here, not executed
	}, {
		name: "healthcheck CMD-SHELL keeps the shell and what the line runs",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "curl -fsS http://localhost:8000/healthz >/dev/null || exit 1"}}
		},
		want: map[string]Reason{"/usr/bin/sh": ReasonSymlink, "/usr/bin/dash": ReasonHealthcheck,
			"/usr/bin/curl": ReasonHealthcheck},
		not: []string{"/dev/null"},
	}, {
		name: "healthcheck CMD",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/app/hc.sh", "--port", "8000"}}
		},
		want: map[string]Reason{"/app/hc.sh": ReasonHealthcheck},
		warn: []string{"/app/hc.sh: interpreter /bin/bash is not in the image"},
	}, {
		name: "healthcheck program missing warns",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "wget -q -O- localhost || exit 1"}}
		},
		warn: []string{"healthcheck: wget is not in the image"},
	}, {
		name: "healthcheck NONE",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}
		},
		not: []string{"/usr/bin/dash"},
	}, {
		name: "missing entrypoint warns",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.Entrypoint = []string{"/docker-entrypoint.sh"}
		},
		warn: []string{"entrypoint: /docker-entrypoint.sh is not in the image"},
	}, {
		name: "relative program against the working dir",
		img:  img,
		in: func(in *Input) {
			alone(in)
			in.Config.WorkingDir = "/app"
			in.Config.Cmd = []string{"./entrypoint.sh"}
		},
		want: map[string]Reason{"/app/entrypoint.sh": ReasonEntrypoint, "/usr/bin/dash": ReasonShebang},
	}})
}

func TestComputeIncludes(t *testing.T) {
	img := with(debian, map[string]*fstest.MapFile{
		"opt/tool/bin/tool":   exe("#!/bin/sh\n"),
		"opt/tool/share/a":    file("a"),
		"opt/tool/share/b.md": file("b"),
		"opt/cfg":             file("cfg"),
	})
	mode := fs.FileMode(0o750) | fs.ModeSetgid
	uid := 1000
	runCases(t, []computeCase{{
		name: "include-path directory, recursive",
		img:  img,
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludePaths = []IncludePath{{Path: "/opt/tool"}}
		},
		want: map[string]Reason{"/opt/tool": ReasonIncludePath, "/opt/tool/share/a": ReasonIncludePath,
			"/opt/tool/bin/tool": ReasonIncludePath, "/usr/bin/dash": ReasonShebang},
	}, {
		name: "include-path with MODE#UID#GID",
		img:  img,
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludePaths = []IncludePath{{Path: "/opt/cfg", Override: &Override{Mode: &mode, UID: &uid}}}
		},
		want: map[string]Reason{"/opt/cfg": ReasonIncludePath},
		check: func(t *testing.T, s *Set) {
			o := s.Find("/opt/cfg").Override
			if o == nil || *o.Mode != mode || *o.UID != 1000 || o.GID != nil {
				t.Errorf("override %+v", o)
			}
			if s.Find("/opt").Override != nil {
				t.Error("override on the parent")
			}
		},
	}, {
		name: "excludes beat includes",
		img:  img,
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludePaths = []IncludePath{{Path: "/opt/tool"}}
			in.Options.ExcludePaths = []string{"/opt/**/*.md"}
		},
		want: map[string]Reason{"/opt/tool/share/a": ReasonIncludePath},
		not:  []string{"/opt/tool/share/b.md"},
	}, {
		name: "missing include-path warns",
		img:  img,
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludePaths = []IncludePath{{Path: "/opt/none"}}
		},
		warn: []string{"--include-path /opt/none: not in the image"},
	}, {
		name: "include-bin, include-exe, include-shell",
		img:  img,
		in: func(in *Input) {
			quiet(in)
			in.Options.IncludeBins = []string{"/opt/tool/bin/tool", "/opt/none"}
			in.Options.IncludeExes = []string{"curl", "wget"}
			in.Options.IncludeShell = true
		},
		want: map[string]Reason{"/opt/tool/bin/tool": ReasonIncludeBin, "/usr/bin/curl": ReasonIncludeExe,
			"/usr/bin/dash": ReasonIncludeShell, "/usr/bin/sh": ReasonSymlink},
		not:  []string{"/opt/tool/share/a"},
		warn: []string{"--include-bin /opt/none", "--include-exe wget"},
	}})
	if _, err := Compute(Input{FS: newImage(img), Options: Options{ExcludePaths: []string{"/a/[x"}}}); err == nil {
		t.Error("bad exclude glob: no error")
	}
	if _, err := Compute(Input{}); err == nil {
		t.Error("no FS: no error")
	}
	if _, err := Compute(Input{FS: struct{ fs.FS }{newImage(img)}}); err == nil {
		t.Error("an FS without ReadLink: no error")
	}
}

func TestSetPathsAndSize(t *testing.T) {
	s, err := Compute(Input{FS: newImage(debian), Files: read("/srv/data/x", "/usr/lib/x86_64-linux-gnu/libz.so.1"),
		Options: Options{NoOSLibsNet: true, NoAppDirs: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/srv", "/srv/data", "/srv/data/x", "/usr", "/usr/lib", "/usr/lib/x86_64-linux-gnu",
		"/usr/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"}
	if got := s.Paths(); !slices.Equal(got, want) {
		t.Errorf("paths %v\nwant %v", got, want)
	}
	if n := s.Size(); n != 2 {
		t.Errorf("size %d, want 2", n)
	}
	if e := s.Find("/usr/lib/x86_64-linux-gnu/libz.so.1"); e.Mode&fs.ModeSymlink == 0 {
		t.Errorf("link mode %v", e.Mode)
	}
}

func TestFromTrace(t *testing.T) {
	tr := &trace.Report{
		Files: []trace.File{
			{Path: "/app/a", Lineages: []uint32{7}, Accesses: []trace.FileAccess{
				{Kind: trace.AccessStat, Result: "ENOENT"}, {Kind: trace.AccessRead, Result: "ok"},
				{Kind: trace.AccessRead, Syscall: "openat2", Result: "ok"}}},
			{Path: "/proc/self/exe", Lineages: []uint32{7}, Opened: []string{"/usr/bin/python3.11"},
				Accesses: []trace.FileAccess{{Kind: trace.AccessRead, Result: "ok"}}},
			{Path: "/etc/hosts", Lineages: []uint32{7}, Opened: []string{"/etc/hosts"}, OnMount: true,
				Accesses: []trace.FileAccess{{Kind: trace.AccessRead, Result: "ok"}}},
			{Path: "/x/./y", Lineages: []uint32{7}, Opened: []string{"/x/y"},
				Accesses: []trace.FileAccess{{Kind: trace.AccessRead, Result: "ok"}}},
			{Path: "/setup", Lineages: []uint32{0}, Accesses: []trace.FileAccess{{Kind: trace.AccessRead, Result: "ok"}}},
			{Path: "/exec", Lineages: []uint32{9}, Accesses: []trace.FileAccess{{Kind: trace.AccessRead, Result: "ENOENT"}}},
		},
		Execs: []trace.Exec{
			{Lineage: 7, Filename: "/app/run.sh", Binary: "/usr/bin/dash"},
			{Lineage: 7, Filename: "/usr/bin/dash", Binary: "/usr/bin/dash"},
			{Lineage: 8, Filename: "/usr/bin/curl", Binary: "/usr/bin/curl"},
		},
	}
	files, execs := FromTrace(tr, 7, 9)
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if want := []string{"/app/a", "/proc/self/exe", "/usr/bin/python3.11", "/etc/hosts", "/x/./y", "/exec"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	if !files[0].OK || !slices.Equal(files[0].Kinds, []trace.Access{trace.AccessStat, trace.AccessRead}) ||
		files[len(files)-1].OK {
		t.Errorf("files %+v", files)
	}
	if !slices.Equal(execs, []string{"/app/run.sh", "/usr/bin/dash"}) {
		t.Errorf("execs %v", execs)
	}
}

// The entries kept for traced paths are the trace's strings: each traced
// path is held once, by the trace's table, and the file set adds nothing
// to that table.
func TestComputeSharesTracePaths(t *testing.T) {
	paths := trace.NewPaths(0)
	c := trace.NewCollector(trace.Limits{}, paths)
	h := trace.Header{Pid: 7, Lineage: 7}
	// As the decoder gives them: from the table.
	c.Add(&trace.FileEvent{Header: h, Syscall: "openat", Access: trace.AccessRead,
		Path: paths.String("/lib/x86_64-linux-gnu/libz.so.1"), Opened: paths.String("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13")})
	c.Add(&trace.FileEvent{Header: h, Syscall: "openat", Access: trace.AccessRead,
		Path: paths.String("/etc/hosts"), Opened: paths.String("/etc/hosts")})
	r := c.Report(trace.Target{}, trace.Tracer{}, time.Time{}, time.Time{}, nil, trace.Lost{})
	files, execs := FromTrace(r, 7)
	n, b := paths.Len()
	in := Input{FS: newImage(debian), Files: files, Execs: execs, Paths: paths}
	alone(&in)
	s, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "/etc/hosts"} {
		e := s.Find(p)
		if e == nil {
			t.Fatalf("%s not kept: %v", p, s.Paths())
		}
		if unsafe.StringData(e.Path) != unsafe.StringData(paths.Shared(p)) {
			t.Errorf("%s: the file set holds a copy of the trace's path", p)
		}
	}
	if n2, b2 := paths.Len(); n2 != n || b2 != b {
		t.Errorf("the file set added to the trace's table: %d paths, %d bytes; was %d, %d", n2, b2, n, b)
	}
}
