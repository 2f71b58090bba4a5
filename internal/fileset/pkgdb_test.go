package fileset

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// appImage is debian with an application in /app and files of every kind
// of owner around it.
var appImage = with(debian, map[string]*fstest.MapFile{
	"app/server.py":                          file("import json"),
	"app/__pycache__/server.cpython-311.pyc": file("pyc"),
	"app/static/app.css":                     file("body{}"),
	"app/static/img/logo.png":                sized(100),
	"app/templates/index.html":               file("<html>"),
	"app/uploads":                            dir(0o777),
	"app/uploads/old.txt":                    file("old"),
	"app/shared":                             link("/srv/shared/x"),
	"app/bin/tool":                           exe("#!/bin/sh\n"),
	"srv/shared/x":                           file("x"),
	"usr/local/bin/start.sh":                 exe("#!/bin/sh\n"),
	"usr/local/bin/other.sh":                 exe("#!/bin/sh\n"),
	"usr/lib/myos/data.bin":                  file("os"),
	"usr/lib/myos/extra":                     file("app?"),
	"usr/bin/foo.real":                       exe("diverted"),
	"usr/bin/foo":                            exe("local"),
	"usr/bin/helper":                         exe("helper"),
	"var/lib/dpkg/info/myos.list":            file("/lib/myos\n/lib/myos/data.bin\n"),
	"var/lib/dpkg/info/foo.list":             file("/usr/bin/foo\n"),
	"var/lib/dpkg/diversions":                file("/usr/bin/foo\n/usr/bin/foo.real\nfoo-diverter\n"),
	"var/lib/dpkg/status": file(dpkgStatus + "\nPackage: myos\nStatus: install ok installed\n\n" +
		"Package: foo\nStatus: install ok installed\n"),
})

func TestComputeAppDirs(t *testing.T) {
	appFiles := []string{"/app/static/app.css", "/app/static/img/logo.png", "/app/templates/index.html",
		"/app/__pycache__/server.cpython-311.pyc", "/app/uploads", "/app/uploads/old.txt", "/app/shared",
		"/app/bin/tool"}
	appWant := func(extra map[string]Reason) map[string]Reason {
		m := map[string]Reason{"/app/server.py": ReasonTraced, "/srv/shared/x": ReasonAppDir}
		for _, p := range appFiles {
			m[p] = ReasonAppDir
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	certImage := with(appImage, map[string]*fstest.MapFile{
		"etc/ssl/certs/ca-certificates.crt":             file("bundle"),
		"etc/ssl/certs/Root_CA.pem":                     link("/usr/share/ca-certificates/mozilla/Root_CA.crt"),
		"usr/share/ca-certificates/mozilla/Root_CA.crt": file("root"),
	})
	runCases(t, []computeCase{{
		name: "a CA store's generated bundle is no application directory",
		img:  certImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.NoCertAll = true // and no certs rule: nothing keeps the store but the read
			in.Files = read("/etc/ssl/certs/ca-certificates.crt")
		},
		want: map[string]Reason{"/etc/ssl/certs/ca-certificates.crt": ReasonTraced},
		not:  []string{"/etc/ssl/certs/Root_CA.pem", "/usr/share/ca-certificates/mozilla/Root_CA.crt"},
	}, {
		name: "a touched application file keeps its directory whole",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/server.py")
		},
		want: appWant(map[string]Reason{"/usr/bin/dash": ReasonShebang}),
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/app/static/app.css").Detail; d != "application directory /app" {
				t.Errorf("detail %q", d)
			}
			if e := s.Find("/app/uploads"); !e.Mode.IsDir() || e.Mode.Perm() != 0o777 {
				t.Errorf("uploads mode %v", e.Mode)
			}
		},
	}, {
		name: "a deeper touched file is covered by its ancestor's walk",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/static/app.css", "/app/server.py")
		},
		want: appWant(nil),
	}, {
		// The application's root, not only the touched file's directory:
		// its templates and data sit beside the static files probed.
		name: "a touched file in a subdirectory keeps the application's root",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/static/app.css")
		},
		want: appWant(map[string]Reason{"/app/server.py": ReasonAppDir, "/app/static/app.css": ReasonTraced}),
	}, {
		name: "over the cap: only what was touched, and a warning",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.AppDirCap = 50
			in.Files = read("/app/server.py", "/app/templates/index.html")
		},
		want: map[string]Reason{"/app/server.py": ReasonTraced, "/app/templates/index.html": ReasonTraced},
		not:  []string{"/app/static/app.css"},
		warn: []string{"/app holds 8 application files (139B), over --app-dir-max-files 5000 or --app-dir-cap 50B", "--include-path /app"},
	}, {
		// 200,000 small files under /data, one of them read: a cap on
		// bytes alone kept them all.
		name: "over the file cap: only what was touched, and what was left out",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.AppDirFiles = 3
			in.Files = read("/app/server.py", "/app/templates/index.html")
		},
		want: map[string]Reason{"/app/server.py": ReasonTraced, "/app/templates/index.html": ReasonTraced},
		not:  []string{"/app/static/app.css"},
		warn: []string{"/app holds 8 application files (139B), over --app-dir-max-files 3"},
	}, {
		name: "over the cap at the top, whole below it",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.AppDirCap = 50
			in.Files = read("/app/server.py", "/app/static/app.css")
		},
		want: map[string]Reason{"/app/static/app.css": ReasonTraced},
		not:  []string{"/app/static/img/logo.png"}, // 100 bytes: over 50 too
		warn: []string{"/app holds", "/app/static holds"},
	}, {
		name: "no cap",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.AppDirCap = -1
			in.Files = read("/app/server.py")
		},
		want: appWant(nil),
	}, {
		name: "--keep-app-dirs=false",
		img:  appImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/app/server.py")
		},
		want: map[string]Reason{"/app/server.py": ReasonTraced},
		not:  appFiles,
	}, {
		name: "excludes and mounts hold in an application directory",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.ExcludePaths = []string{"/app/static"}
			in.Mounts = []string{"/app/uploads"}
			in.Files = read("/app/server.py")
		},
		want: map[string]Reason{"/app/templates/index.html": ReasonAppDir, "/app/uploads": ReasonAppDir},
		not:  []string{"/app/static", "/app/static/app.css", "/app/uploads/old.txt"},
	}, {
		name: "an OS file: only itself, not its generated bytecode",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/lib/python3.11/json/decoder.py",
				"/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc")
		},
		want: map[string]Reason{"/usr/lib/python3.11/json/decoder.py": ReasonTraced,
			"/usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc": ReasonTraced},
		not: []string{"/usr/lib/python3.11/json/__init__.py",
			"/usr/lib/python3.11/json/__pycache__/encoder.cpython-311.pyc"},
	}, {
		name: "an application file in a system directory is kept alone",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Execs = []string{"/usr/local/bin/start.sh"}
		},
		want: map[string]Reason{"/usr/local/bin/start.sh": ReasonExec},
		not:  []string{"/usr/local/bin/other.sh"},
	}, {
		name: "package lists through a symlinked /lib",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/lib/myos/data.bin")
		},
		not: []string{"/usr/lib/myos/extra"},
	}, {
		name: "a diverted file stays its package's",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/bin/foo.real")
		},
		not: []string{"/usr/bin/helper"},
	}, {
		name: "a removed package's files are the application's",
		img:  appImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/srv/data/x")
		},
		want: map[string]Reason{"/srv/data/y": ReasonAppDir},
	}, {
		name: "no package database: everything outside the system directories is the application's",
		img: map[string]*fstest.MapFile{
			"app/a": file("a"), "app/b": file("b"), "usr/lib/x/c": file("c"), "usr/lib/x/d": file("d"),
			"usr/lib/e": file("e"), "usr/lib/f": file("f"),
		},
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/a", "/usr/lib/x/c", "/usr/lib/e")
		},
		want: map[string]Reason{"/app/b": ReasonAppDir, "/usr/lib/x/d": ReasonAppDir},
		not:  []string{"/usr/lib/f"},
	}, {
		name: "rpm images warn that rpm is not read",
		img:  map[string]*fstest.MapFile{"app/a": file("a"), "var/lib/rpm/rpmdb.sqlite": file("")},
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/a")
		},
		warn: []string{"rpm's package database is not read"},
	}, {
		name: "apk database",
		img: map[string]*fstest.MapFile{
			"lib/apk/db/installed": file("C:Q1abc=\nP:musl\nV:1.2.4\nF:lib\nR:ld-musl-x86_64.so.1\n" +
				"R:libc.musl-x86_64.so.1\n\nP:myos\nF:usr/share/myos\nR:data\n\n"),
			"lib/ld-musl-x86_64.so.1":  file("elf?"),
			"usr/share/myos/data":      file("os"),
			"usr/share/myos/generated": file("unowned"),
			"srv/app/a":                file("a"),
			"srv/app/b":                file("b"),
		},
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/share/myos/data", "/srv/app/a")
		},
		want: map[string]Reason{"/srv/app/b": ReasonAppDir},
		not:  []string{"/usr/share/myos/generated"},
	}, {
		name: "distroless status.d with md5sums",
		img: map[string]*fstest.MapFile{
			"var/lib/dpkg/status.d/base":         file("Package: base-files\nStatus: install ok installed\n"),
			"var/lib/dpkg/status.d/base.md5sums": file("0123  etc/os-release\nabcd  usr/share/base/x\n"),
			"usr/share/base/x":                   file("os"),
			"usr/share/base/y":                   file("unowned"),
		},
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/share/base/x")
		},
		not: []string{"/usr/share/base/y"},
	}})
}

func TestParseDpkg(t *testing.T) {
	got := parseDpkgStatus([]byte(dpkgStatus))
	var names []string
	for _, p := range got {
		names = append(names, p.name+":"+p.arch)
	}
	want := []string{"dash:amd64", "zlib1g:amd64", "curl:amd64", "vim:amd64", "base-files:amd64",
		"libpython3.11-stdlib:amd64"}
	if !slices.Equal(names, want) {
		t.Errorf("installed %q, want %q", names, want)
	}
	if got := parseLines([]byte("/.\n/bin\n/bin/dash\r\n\n")); !slices.Equal(got, []string{"/bin", "/bin/dash"}) {
		t.Errorf("parseLines %q", got)
	}
	if got := parseMD5sums([]byte("0123  etc/os-release\nbad line\nabcd  /usr/x y\n")); !slices.Equal(got,
		[]string{"/etc/os-release", "/usr/x y"}) {
		t.Errorf("parseMD5sums %q", got)
	}
	divs := parseDiversions([]byte("/bin/sh\n/bin/sh.distrib\ndash\n/usr/bin/x\n/usr/bin/x.real\n:\n"))
	if len(divs) != 2 || divs[0] != (diversion{"/bin/sh", "/bin/sh.distrib", "dash"}) || divs[1].pkg != ":" {
		t.Errorf("parseDiversions %+v", divs)
	}
	st := parseStanzas([]byte("A: 1\nB: two\n words\n\n\nA: 3\n"))
	if len(st) != 2 || st[0]["B"] != "two" || st[1]["A"] != "3" {
		t.Errorf("parseStanzas %v", st)
	}
}

func TestParseApk(t *testing.T) {
	got := parseApkInstalled([]byte("C:Q1=\nP:busybox\nV:1\nF:bin\nR:busybox\nF:etc\nR:securetty\n\n" +
		"P:musl\nF:lib\nR:libc.musl-x86_64.so.1\nR:ld-musl-x86_64.so.1\nM:0:0:755\n"))
	want := []apkPkg{
		{"busybox", []string{"/bin", "/bin/busybox", "/etc", "/etc/securetty"}},
		{"musl", []string{"/lib", "/lib/libc.musl-x86_64.so.1", "/lib/ld-musl-x86_64.so.1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].name != want[i].name || !slices.Equal(got[i].files, want[i].files) {
			t.Errorf("package %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLoadPackages(t *testing.T) {
	x := loadPackages(newImage(appImage))
	if x.kind != "dpkg" {
		t.Errorf("kind %q", x.kind)
	}
	for p, owned := range map[string]bool{
		"/usr/bin/dash":                          true, // listed as /bin/dash
		"/usr/bin/sh":                            true,
		"/usr/lib/x86_64-linux-gnu/libz.so.1":    true, // zlib1g:amd64.list
		"/usr/lib/myos/data.bin":                 true,
		"/usr/bin/foo.real":                      true,  // diverted
		"/usr/bin/vim.basic":                     true,  // unpacked
		"/srv/data/x":                            false, // config-files only
		"/lib/x86_64-linux-gnu/libz.so.1":        false, // not the image path
		"/usr/lib/python3.11/json/decoder.py":    true,
		"/app/server.py":                         false,
		"/usr/lib/python3.11/json/__pycache__/x": false,
	} {
		if x.owns(p) != owned {
			t.Errorf("owns(%s) = %v", p, !owned)
		}
	}
	if !x.dirs["/usr/lib/myos"] || !x.dirs["/usr/lib"] || x.dirs["/app"] {
		t.Errorf("dirs %v", x.dirs)
	}
}

func TestSystemDirs(t *testing.T) {
	for d, want := range map[string]bool{
		"/": true, "/etc": true, "/usr/lib/x86_64-linux-gnu": true, "/lib/aarch64-linux-gnu": true,
		"/usr/local/bin": true, "/app": false, "/usr/lib/python3.11": false, "/etc/nginx": false,
		"/usr/lib/node_modules": false,
	} {
		if got := isSystemDir(d); got != want {
			t.Errorf("isSystemDir(%s) = %v", d, got)
		}
	}
}

// TestCappedDirs: a directory kept only in part is reported with what it
// leaves out, for creport.json and the summary.
func TestCappedDirs(t *testing.T) {
	in := Input{FS: fstest.MapFS(appImage), Files: read("/app/server.py")}
	quiet(&in)
	in.Options.AppDirFiles = 3
	s, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := []CappedDir{{Dir: "/app", Files: 8, Bytes: 139}}; !slices.Equal(s.CappedDirs, want) {
		t.Errorf("capped %+v, want %+v", s.CappedDirs, want)
	}
	in.Options.AppDirFiles = -1
	if s, err = Compute(in); err != nil || len(s.CappedDirs) != 0 {
		t.Errorf("no file cap: capped %+v %v", s.CappedDirs, err)
	}
}

// refusingFS is an image filesystem that refuses to open some names, as
// the session's does a FIFO or a device node.
type refusingFS struct {
	fstest.MapFS
	refuse map[string]bool
}

var errRefused = errors.New("not a regular file (a FIFO)")

func (r refusingFS) Open(name string) (fs.File, error) {
	if r.refuse[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errRefused}
	}
	return r.MapFS.Open(name)
}

// TestUnreadableMetadata: a package database that cannot be read is
// skipped with a warning naming it; the set is still computed.
func TestUnreadableMetadata(t *testing.T) {
	img := refusingFS{newImage(appImage), map[string]bool{"var/lib/dpkg/status": true}}
	s, err := Compute(Input{FS: img, Files: read("/app/server.py"),
		Config: dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{WorkingDir: "/app"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(s.Warnings, func(w string) bool {
		return strings.Contains(w, "var/lib/dpkg/status") && strings.Contains(w, "FIFO")
	}) {
		t.Errorf("no warning names the unreadable package database: %q", s.Warnings)
	}
	if s.Find("/app/server.py") == nil {
		t.Error("the traced file is not kept")
	}
}

// countFS counts the opens of each name.
type countFS struct {
	fs.FS
	opens map[string]int
}

func (c countFS) Open(name string) (fs.File, error) {
	c.opens[name]++
	return c.FS.Open(name)
}

// TestDpkgRepeatedEntry: a status that repeats one package 5,000 times has
// its .list read once.
func TestDpkgRepeatedEntry(t *testing.T) {
	stanza := "Package: foo\nStatus: install ok installed\nArchitecture: amd64\n\n"
	img := newImage(map[string]*fstest.MapFile{
		"var/lib/dpkg/status":              {Data: []byte(strings.Repeat(stanza, 5000))},
		"var/lib/dpkg/info/foo:amd64.list": {Data: []byte("/usr/bin/foo\n")},
		"usr/bin/foo":                      {Data: []byte("x")},
	})
	c := countFS{img, map[string]int{}}
	x := loadPackages(c)
	if !x.owns("/usr/bin/foo") {
		t.Error("foo's file not owned")
	}
	if n := c.opens["var/lib/dpkg/info/foo:amd64.list"]; n != 1 {
		t.Errorf("foo's list opened %d times, want once", n)
	}
}
