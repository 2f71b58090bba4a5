package fileset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"
)

// hostileImage writes an image whose links (a DT_NEEDED library, a RPATH
// directory, the ELF interpreter, a shebang interpreter, a Python module
// and package, a .pth file, an npm package's main and package.json, a
// gem, /etc/passwd, /etc/group, nsswitch.conf, the CA bundle) all lead to
// a canary directory on the host, and a sparse 8 GiB Python source the app
// read. It returns the image root, the canary directory and the Input
// that names what the app used.
func hostileImage(t *testing.T) (root, canaryDir string, in Input) {
	b := buildELFs()
	if b.err != nil {
		t.Skipf("cannot build the test ELF files: %v", b.err)
	}
	canaryDir = t.TempDir()
	canary := filepath.Join(canaryDir, "canary")
	for _, f := range []string{canary, filepath.Join(canaryDir, "libfoo.so.1"), filepath.Join(canaryDir, "__init__.py")} {
		if err := os.WriteFile(f, []byte("import hostonly_canary\nrequire 'hostonly_canary'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	to := "->" + canary
	site := "usr/local/lib/python3.11/site-packages/"
	root = imageDir(t, b, map[string]string{
		"lib":                                   "->usr/lib",
		"usr/lib64/ld-linux-x86-64.so.2":        to,
		"lib64":                                 "->usr/lib64",
		"opt/app/bin/app":                       "@build:app", // RPATH /opt/app/lib: a link to the canary's directory
		"opt/app/lib":                           "->" + canaryDir,
		"opt/app/bin/app3":                      "@build:app3", // DT_NEEDED libgone.so.1
		"usr/lib/x86_64-linux-gnu/libgone.so.1": to,
		"usr/lib/x86_64-linux-gnu/libc.so.6":    to,
		"app/run.sh":                            "#!/usr/bin/evilsh\necho hi\n",
		"usr/bin/evilsh":                        to,
		"app/app.py":                            "import evilmod\nimport evilpkg.sub\n",
		"app/evilmod.py":                        to,
		"app/evilpkg":                           "->" + canaryDir,
		site + "ok.py":                          "x = 1\n",
		site + "evil.pth":                       to,
		site + "ok-1.0.dist-info/RECORD":        to,
		"app/server.js":                         "require('evil');\nrequire('evil2');\n",
		"app/node_modules/evil/package.json":    `{"name": "evil", "main": "main.js"}`,
		"app/node_modules/evil/main.js":         to,
		"app/node_modules/evil2/package.json":   to,
		"app/app.rb":                            "require 'evilgem'\n",
		"usr/local/bundle/specifications/evilgem-1.0.gemspec": to,
		"usr/local/bundle/gems/evilgem-1.0/lib/evilgem.rb":    to,
		"etc/passwd":                        to,
		"etc/group":                         to,
		"etc/nsswitch.conf":                 to,
		"etc/ssl/certs/ca-certificates.crt": to,
		"data/huge.py":                      "",
	})
	// Sparse: 8 GiB that take no disk.
	if err := os.Truncate(filepath.Join(root, "data/huge.py"), 8<<30); err != nil {
		t.Fatal(err)
	}
	in = Input{
		Execs: []string{"/opt/app/bin/app", "/opt/app/bin/app3", "/app/run.sh"},
		Files: read("/app/app.py", "/"+site+"ok.py", "/app/server.js", "/app/app.rb", "/data/huge.py",
			"/etc/passwd", "/etc/group"),
	}
	in.Config.User = "app"
	in.Config.Env = []string{"GEM_HOME=/usr/local/bundle"}
	return root, canaryDir, in
}

// opened computes the file set of the hostile image read through fsys and
// returns whether anything opened or read a file of the canary directory
// meanwhile (inotify), with the set.
func opened(t *testing.T, canaryDir string, fsys fs.FS, in Input) (bool, *Set, time.Duration) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, canaryDir, unix.IN_OPEN|unix.IN_ACCESS); err != nil {
		t.Fatal(err)
	}
	in.FS = fsys
	start := time.Now()
	s, err := Compute(in)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		t.Fatal(err)
	}
	return n > 0, s, took
}

// TestHostileLinksStayIn: through the image accessor (safefs and the
// in-image resolver), no link of the hostile image opens a host file, each
// stays a link, and the warnings name the dangling library and
// interpreters. Through a plain os.DirFS, which follows links out of the
// image, the same checks see the canary opened: they can fail.
func TestHostileLinksStayIn(t *testing.T) {
	root, canaryDir, in := hostileImage(t)

	hit, s, took := opened(t, canaryDir, openRootImage(t, root), in)
	if hit {
		t.Error("a file of the canary directory was opened while computing the file set")
	}
	if took > 20*time.Second {
		t.Errorf("the file set took %s", took)
	}
	// The application directory and the user database keep their links, as links.
	for _, p := range []string{"/app/evilmod.py", "/app/evilpkg", "/app/node_modules/evil/main.js",
		"/app/node_modules/evil2/package.json", "/opt/app/lib", "/etc/passwd", "/etc/group"} {
		if e := s.Find(p); e == nil || e.Mode&fs.ModeSymlink == 0 {
			t.Errorf("%s is not kept as a link: %+v", p, e)
		}
	}
	for _, e := range s.Entries {
		if strings.HasPrefix(e.Path, canaryDir) {
			t.Errorf("a host path is in the set: %s", e.Path)
		}
	}
	checkWarnings(t, s, []string{"library libgone.so.1 is not in the image", "interpreter /usr/bin/evilsh is not in the image",
		"library libfoo.so.1 is not in the image", "ELF interpreter /lib64/ld-linux-x86-64.so.2 is not in the image",
		"/data/huge.py: over 4194304 bytes, the most read for imports: its imports are not read"})

	// The demonstration: a plain open follows the links out.
	if hit, _, _ := opened(t, canaryDir, os.DirFS(root), in); !hit {
		t.Error("through os.DirFS too, nothing opened the canary: this test cannot tell the accessor works")
	}
}

// searchPathImage has PYTHONPATH, PATH, LD_LIBRARY_PATH and a .pth file of
// n directories each.
func searchPathImage(n int) Input {
	var ldPath, pyPath, pth strings.Builder
	for i := range n {
		fmt.Fprintf(&ldPath, "/opt/ld%d:", i)
		fmt.Fprintf(&pyPath, "/opt/py%d:", i)
		fmt.Fprintf(&pth, "/opt/pth%d\n", i)
	}
	img := newImage(with(debian, map[string]*fstest.MapFile{
		"app/app.py":                     file("import json\n"),
		"usr/bin/python3.11":             exe("py"),
		"usr/lib/python3.11/os.py":       file("x = 1\n"),
		site + "many.pth":                file(pth.String()),
		site + "ok.py":                   file("x = 1\n"),
		site + "ok-1.0.dist-info/RECORD": file("ok.py,,\n"),
	}))
	in := Input{FS: img, Files: read("/app/app.py", "/usr/lib/python3.11/os.py", "/"+site+"ok.py")}
	in.Config.Env = []string{"LD_LIBRARY_PATH=" + ldPath.String(), "PYTHONPATH=" + pyPath.String(), "PATH=" + pyPath.String()}
	quiet(&in)
	return in
}

// TestSearchPathCaps: search paths from the image with more directories
// than --search-path-max-dirs (LD_LIBRARY_PATH, PATH, PYTHONPATH, a .pth
// file; ld.so.conf and RPATH in TestElfCaps) are cut, each cut named with
// where it came from and the flag, and the work stays small.
func TestSearchPathCaps(t *testing.T) {
	in := searchPathImage(100000)
	start := time.Now()
	s, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	checkWarnings(t, s, []string{
		"LD_LIBRARY_PATH: 100000 search directories: only the first 256 searched (--search-path-max-dirs)",
		"PATH: 100001 search directories: only the first 256 searched (--search-path-max-dirs)",
		"PYTHONPATH: more than 256 search directories: only the first 256 searched (--search-path-max-dirs)",
		"/" + site + "many.pth: more than 256 search directories: only the first 256 searched (--search-path-max-dirs)",
	})

	// Without the cap, no cut is named.
	in = searchPathImage(300)
	in.Options.MaxSearchDirs = -1
	if s, err = Compute(in); err != nil {
		t.Fatal(err)
	}
	for _, w := range s.Warnings {
		if strings.Contains(w, "--search-path-max-dirs") {
			t.Errorf("a cut without a cap: %s", w)
		}
	}
}

// TestElfCaps: an executable's DT_NEEDED list beyond --elf-max-needed, and
// an ld.so.conf of 50,000 directories beyond --search-path-max-dirs, are
// cut and named.
func TestElfCaps(t *testing.T) {
	b := buildELFs()
	if b.err != nil {
		t.Skipf("cannot build the test ELF files: %v", b.err)
	}
	var conf strings.Builder
	for i := range 50000 { // ld.so.conf files over 1 MiB are not read
		fmt.Fprintf(&conf, "/opt/l%d\n", i)
	}
	img := openRootImage(t, imageDir(t, b, map[string]string{
		"opt/app/bin/app":                    "@build:app", // needs libfoo.so.1 (RPATH /opt/app/lib) and libc.so.6
		"opt/app/lib/libfoo.so.1":            "@build:libfoo.so.1",
		"etc/ld.so.conf":                     conf.String(),
		"lib64":                              "->usr/lib64",
		"usr/lib64/ld-linux-x86-64.so.2":     "@" + b.ldso,
		"usr/lib/x86_64-linux-gnu/libc.so.6": "@" + b.libc,
	}))
	start := time.Now()
	s, err := Compute(Input{FS: img, Execs: []string{"/opt/app/bin/app"},
		Options: Options{NoOSLibsNet: true, NoAppDirs: true, MaxNeeded: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	checkWarnings(t, s, []string{"/opt/app/bin/app: 2 DT_NEEDED libraries: only the first 1 looked up (--elf-max-needed)",
		"/etc/ld.so.conf: 50000 search directories: only the first 256 searched (--search-path-max-dirs)"})
	if s.Find("/opt/app/lib/libfoo.so.1") == nil {
		t.Error("libfoo.so.1, the first DT_NEEDED, is not kept")
	}
}
