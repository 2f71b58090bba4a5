package fileset

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// The closure is tested on real ELF files: tiny programs and libraries
// built with the host's gcc, the host's libc, loader and /bin/ls, all
// copied into an image directory the code reads through an os.Root. The
// host is only where the test data comes from.

// elfBuild holds what gcc built once for the whole test binary.
type elfBuild struct {
	dir    string // the build directory
	libc   string // the host's libc.so.6 (real file)
	interp string // the host's PT_INTERP ("/lib64/ld-linux-x86-64.so.2")
	ldso   string // the real file it names
	err    error
}

var (
	buildOnce sync.Once
	built     elfBuild
)

var sources = map[string]string{
	"leaf.c": "int bar(void) { return 1; }\nint qux(void) { return 2; }\nint deep(void) { return 3; }\n",
	"main.c": "int main(void) { return 0; }\n",
	"tls.c":  "const char ca[] = \"/etc/ssl/certs/ca-certificates.crt\";\nint main(void) { return ca[0]; }\n",
}

// leaves are copies of leaf.so: a library is found by the name it is
// needed by, so one leaf does for all.
var leaves = []string{"libbar.so.1", "libqux.so.1", "libdeep.so.1", "libgone.so.1", "libpl.so.1", "liblb.so.1",
	"libmus.so.1"}

// links are the ld command lines, run in the build directory in stages
// (the commands of a stage at once; the leaves are copied after the
// first). LIBC and INTERP stand for the host's libc.so.6 and loader.
// Nothing here is ever run, so main is the entry point and no C runtime
// is linked. --no-as-needed keeps every -l a DT_NEEDED.
var links = [][][]string{{
	{"-shared", "-o", "leaf.so", "leaf.o"},
	{"-o", "tlsapp", "-e", "main", "-dynamic-linker", "INTERP", "tls.o", "LIBC"},
}, {
	{"-shared", "-o", "libfoo.so.1", "-soname", "libfoo.so.1", "leaf.o", "-L.", "--no-as-needed", "-l:libbar.so.1",
		"-l:libqux.so.1", "--enable-new-dtags", "-rpath", "$ORIGIN/../private", "LIBC"},
	{"-shared", "-o", "libplain.so.1", "leaf.o", "-L.", "--no-as-needed", "-l:libdeep.so.1"},
}, {
	{"-o", "app", "-e", "main", "-dynamic-linker", "INTERP", "main.o", "-L.", "--no-as-needed", "-l:libfoo.so.1",
		"-rpath-link", ".", "--disable-new-dtags", "-rpath", "/opt/app/lib", "LIBC"},
	{"-o", "app2", "-e", "main", "-dynamic-linker", "INTERP", "main.o", "-L.", "--no-as-needed", "-l:libplain.so.1",
		"-rpath-link", ".", "--disable-new-dtags", "-rpath", "/opt/app/lib2", "LIBC"},
	{"-o", "app3", "-e", "main", "-dynamic-linker", "INTERP", "main.o", "-L.", "--no-as-needed", "-l:libgone.so.1",
		"LIBC"},
	{"-o", "app4", "-e", "main", "-dynamic-linker", "INTERP", "main.o", "-L.", "--no-as-needed", "-l:libpl.so.1",
		"-l:liblb.so.1", "--enable-new-dtags", "-rpath", "/opt/plat/$PLATFORM:/opt/$LIB", "LIBC"},
	{"-o", "appm", "-e", "main", "-dynamic-linker", "/lib/ld-musl-x86_64.so.1", "main.o", "-L.", "--no-as-needed",
		"-l:libmus.so.1", "LIBC"},
}}

// run runs commands at once in dir.
func run(dir string, cmds [][]string) error {
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, args := range cmds {
		wg.Go(func() {
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func buildELFs() elfBuild {
	buildOnce.Do(func() { built.err = build(&built) })
	return built
}

func build(b *elfBuild) error {
	dir, err := os.MkdirTemp("", "fileset-elf-")
	if err != nil {
		return err
	}
	b.dir = dir
	for name, src := range sources {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			return err
		}
	}
	if err := run(dir, [][]string{{"gcc", "-c", "-fPIC", "-O0", "leaf.c", "main.c", "tls.c"}}); err != nil {
		return err
	}
	out, err := exec.Command("gcc", "-print-file-name=libc.so.6").Output()
	if err != nil {
		return fmt.Errorf("gcc -print-file-name: %w", err)
	}
	if b.libc, err = filepath.EvalSymlinks(strings.TrimSpace(string(out))); err != nil {
		return err
	}
	ls, err := elf.Open("/bin/ls")
	if err != nil {
		return fmt.Errorf("the host's /bin/ls: %w", err)
	}
	defer ls.Close()
	for _, p := range ls.Progs {
		if p.Type == elf.PT_INTERP {
			i, _ := io.ReadAll(p.Open())
			b.interp = string(bytes.TrimRight(i, "\x00"))
		}
	}
	if b.ldso, err = filepath.EvalSymlinks(b.interp); err != nil {
		return fmt.Errorf("the host's loader: %w", err)
	}
	for i, stage := range links {
		var cmds [][]string
		for _, args := range stage {
			cmd := []string{"ld"}
			for _, a := range args {
				cmd = append(cmd, strings.NewReplacer("LIBC", b.libc, "INTERP", b.interp).Replace(a))
			}
			cmds = append(cmds, cmd)
		}
		if err := run(dir, cmds); err != nil {
			return err
		}
		if i == 0 {
			for _, l := range leaves {
				if err := copyFile(filepath.Join(dir, "leaf.so"), filepath.Join(dir, l)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// imageDir writes an image into a temporary directory: files are copied
// from the host ("@/host/path" or "@build:name"), given as content, or
// links ("->target").
func imageDir(t *testing.T, b elfBuild, spec map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range spec {
			if !yield(k) {
				return
			}
		}
	}) {
		v := spec[name]
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(v, "->"):
			err = os.Symlink(v[2:], p)
		case strings.HasPrefix(v, "@build:"):
			err = copyFile(filepath.Join(b.dir, v[7:]), p)
		case strings.HasPrefix(v, "@"):
			err = copyFile(v[1:], p)
		case v == "<dir>":
			err = os.MkdirAll(p, 0o755)
		default:
			err = os.WriteFile(p, []byte(v), 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// foreignELF is the header of an aarch64 shared object: an ELF file of
// another machine, which the loader skips.
func foreignELF() string {
	var h elf.Header64
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	h.Type, h.Machine, h.Version = uint16(elf.ET_DYN), uint16(elf.EM_AARCH64), uint32(elf.EV_CURRENT)
	h.Ehsize, h.Phentsize, h.Shentsize = 64, 56, 64
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, h)
	return buf.String()
}

// hostLs returns /bin/ls and what ldd says it loads, to copy into an image.
func hostLs(t *testing.T) (ls string, libs []string) {
	t.Helper()
	ls, err := filepath.EvalSymlinks("/bin/ls")
	if err != nil {
		t.Fatalf("the host's /bin/ls: %v", err)
	}
	out, err := exec.Command("ldd", ls).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", ls, err)
	}
	re := regexp.MustCompile(`=> (/\S+)`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	if len(libs) < 2 {
		t.Fatalf("ldd %s: %s", ls, out)
	}
	return ls, libs
}

// glibcImage is a merged-/usr Debian-like image with the built programs.
func glibcImage(t *testing.T, b elfBuild) fs.FS {
	ls, libs := hostLs(t)
	spec := map[string]string{
		"lib":                            "->usr/lib",
		"lib64":                          "->usr/lib64",
		"bin":                            "->usr/bin",
		"usr/lib64/ld-linux-x86-64.so.2": "->/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2":      "@" + b.ldso,
		"usr/lib/x86_64-linux-gnu/libc.so.6":                 "@" + b.libc,
		"usr/bin/ls":                                         "@" + ls,
		"usr/bin/dash":                                       "@/bin/dash",
		"usr/bin/sh":                                         "->dash",
		"app/run.sh":                                         "#!/bin/sh\necho hi\n",
		"opt/app/bin/app":                                    "@build:app",
		"opt/app/lib/libfoo.so.1":                            "@build:libfoo.so.1",
		"opt/app/private/libbar.so.1":                        "@build:libbar.so.1",
		"opt/app/private/libqux.so.1":                        foreignELF(),
		"usr/local/qux/libqux.so.1":                          "@build:libqux.so.1",
		"etc/ld.so.conf":                                     "include /etc/ld.so.conf.d/*.conf\n",
		"etc/ld.so.conf.d/qux.conf":                          "# qux\n/usr/local/qux\n",
		"etc/ld.so.cache":                                    "cache",
		"opt/app/bin/app2":                                   "@build:app2",
		"opt/app/lib2/libplain.so.1":                         "@build:libplain.so.1",
		"opt/app/lib2/libdeep.so.1":                          "@build:libdeep.so.1",
		"opt/app/bin/app3":                                   "@build:app3",
		"opt/app/bin/app4":                                   "@build:app4",
		"opt/plat/x86_64/libpl.so.1":                         "@build:libpl.so.1",
		"opt/lib64/liblb.so.1":                               "@build:liblb.so.1",
		"opt/app/bin/tlsapp":                                 "@build:tlsapp",
		"etc/ssl/certs/ca-certificates.crt":                  "PEM",
		"etc/ssl/certs/1234abcd.0":                           "->/usr/share/ca-certificates/mozilla/Root.crt",
		"usr/share/ca-certificates/mozilla/Root.crt":         "PEM",
		"etc/nsswitch.conf":                                  "passwd: files systemd\nhosts: files mdns4_minimal [NOTFOUND=return] dns\n",
		"usr/lib/x86_64-linux-gnu/libnss_files.so.2":         "@build:libdeep.so.1",
		"usr/lib/x86_64-linux-gnu/libnss_dns.so.2":           "@build:libdeep.so.1",
		"usr/lib/x86_64-linux-gnu/libnss_mdns4_minimal.so.2": "@build:libdeep.so.1",
		"usr/lib/x86_64-linux-gnu/libresolv.so.2":            "@build:libdeep.so.1",
	}
	for _, l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(l) != "libc.so.6" {
			spec["usr/lib/x86_64-linux-gnu/"+filepath.Base(l)] = "@" + real
		}
	}
	if b.interp != "/lib64/ld-linux-x86-64.so.2" {
		t.Fatalf("the host's loader is %s: this image is laid out for x86_64 glibc", b.interp)
	}
	return openRootImage(t, imageDir(t, b, spec))
}

func TestELFClosure(t *testing.T) {
	b := buildELFs()
	if b.err != nil {
		t.Fatalf("building test ELF files: %v", b.err)
	}
	img := glibcImage(t, b)
	_, lsLibs := hostLs(t)
	lsWant := map[string]Reason{"/usr/bin/ls": ReasonExec}
	for _, l := range lsLibs {
		lsWant["/usr/lib/x86_64-linux-gnu/"+filepath.Base(l)] = ReasonELFDep
	}
	const multiarch = "/usr/lib/x86_64-linux-gnu/"
	loader := map[string]Reason{
		"/lib64": ReasonSymlink, "/usr/lib64/ld-linux-x86-64.so.2": ReasonSymlink, "/lib": ReasonSymlink,
		multiarch + "ld-linux-x86-64.so.2": ReasonELFInterp, multiarch + "libc.so.6": ReasonELFDep,
		"/etc/ld.so.cache": ReasonLdCache,
	}
	merge := func(ms ...map[string]Reason) map[string]Reason {
		out := map[string]Reason{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    func(in *Input)
		want  map[string]Reason
		not   []string
		warn  []string
		check func(t *testing.T, s *Set)
	}{{
		name: "RPATH, RUNPATH with $ORIGIN, ld.so.conf include, multiarch default, loader through links",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/app"} },
		want: merge(loader, map[string]Reason{
			"/opt/app/bin/app":             ReasonExec,
			"/opt/app/lib/libfoo.so.1":     ReasonELFDep, // the executable's RPATH
			"/opt/app/private/libbar.so.1": ReasonELFDep, // libfoo's RUNPATH $ORIGIN/../private
			"/usr/local/qux/libqux.so.1":   ReasonELFDep, // ld.so.conf.d, past the aarch64 one
		}),
		not: []string{"/opt/app/private/libqux.so.1", "/opt/app/lib2/libdeep.so.1", "/etc/ld.so.conf"},
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/opt/app/private/libbar.so.1").Detail; d != "needed by /opt/app/lib/libfoo.so.1" {
				t.Errorf("libbar detail %q", d)
			}
		},
	}, {
		name: "RPATH of the executable serves libraries without RUNPATH",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/app2"} },
		want: map[string]Reason{"/opt/app/lib2/libplain.so.1": ReasonELFDep, "/opt/app/lib2/libdeep.so.1": ReasonELFDep},
	}, {
		name: "a library the trace saw mapped still gets its executable's RPATH",
		in: func(in *Input) {
			in.Files = read("/opt/app/lib2/libplain.so.1")
			in.Execs = []string{"/opt/app/bin/app2"}
		},
		want: map[string]Reason{"/opt/app/lib2/libdeep.so.1": ReasonELFDep},
	}, {
		name: "a missing library warns, naming who needs it",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/app3"} },
		want: loader,
		warn: []string{"/opt/app/bin/app3: library libgone.so.1 is not in the image"},
	}, {
		name: "$PLATFORM and $LIB",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/app4"} },
		want: map[string]Reason{"/opt/plat/x86_64/libpl.so.1": ReasonELFDep, "/opt/lib64/liblb.so.1": ReasonELFDep},
	}, {
		name: "the host's ls, against ldd",
		in:   func(in *Input) { in.Execs = []string{"/usr/bin/ls"} },
		want: merge(loader, lsWant),
	}, {
		name: "a library the trace saw mapped",
		in:   func(in *Input) { in.Files = read("/opt/app/lib/libfoo.so.1") },
		want: map[string]Reason{"/opt/app/lib/libfoo.so.1": ReasonTraced,
			"/opt/app/private/libbar.so.1": ReasonELFDep, "/usr/local/qux/libqux.so.1": ReasonELFDep,
			multiarch + "libc.so.6": ReasonELFDep},
		not: []string{"/opt/app/private/libqux.so.1"},
	}, {
		name: "a script's interpreter and its libraries",
		in:   func(in *Input) { in.Execs = []string{"/app/run.sh"} },
		want: merge(loader, map[string]Reason{"/bin": ReasonSymlink, "/usr/bin/sh": ReasonSymlink,
			"/usr/bin/dash": ReasonShebang}),
	}, {
		name: "NSS modules nsswitch.conf names, and libresolv",
		in: func(in *Input) {
			in.Options.NoOSLibsNet = false
			in.Execs = []string{"/usr/bin/ls"}
			in.Config.User = "0"
		},
		want: map[string]Reason{multiarch + "libnss_files.so.2": ReasonNSS, multiarch + "libnss_dns.so.2": ReasonNSS,
			multiarch + "libnss_mdns4_minimal.so.2": ReasonNSS, multiarch + "libresolv.so.2": ReasonNSS,
			"/etc/nsswitch.conf": ReasonUserDB},
	}, {
		name: "no NSS modules without a glibc program",
		in: func(in *Input) {
			in.Options.NoOSLibsNet = false
			in.Files = read("/etc/ld.so.conf")
		},
		not: []string{multiarch + "libnss_files.so.2", multiarch + "libresolv.so.2"},
	}, {
		name: "--include-bin keeps the closure",
		in:   func(in *Input) { in.Options.IncludeBins = []string{"/opt/app/bin/app"} },
		want: merge(loader, map[string]Reason{"/opt/app/bin/app": ReasonIncludeBin,
			"/opt/app/private/libbar.so.1": ReasonELFDep}),
	}, {
		name: "a program that names the CA store keeps the certificates",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/tlsapp"} },
		want: map[string]Reason{"/etc/ssl/certs/ca-certificates.crt": ReasonCerts,
			"/etc/ssl/certs/1234abcd.0": ReasonCerts, "/usr/share/ca-certificates/mozilla/Root.crt": ReasonCerts},
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/etc/ssl/certs/ca-certificates.crt").Detail; d != "TLS in use: /opt/app/bin/tlsapp" {
				t.Errorf("detail %q", d)
			}
		},
	}, {
		name: "no certificates for a program without TLS",
		in:   func(in *Input) { in.Execs = []string{"/opt/app/bin/app"} },
		not:  []string{"/etc/ssl/certs/ca-certificates.crt"},
	}, {
		name: "no certificates with --include-cert-all=false",
		in: func(in *Input) {
			in.Execs = []string{"/opt/app/bin/tlsapp"}
			in.Options.NoCertAll = true
		},
		not: []string{"/etc/ssl/certs/ca-certificates.crt"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{FS: img, Options: Options{NoOSLibsNet: true, NoAppDirs: true}}
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
		})
	}
}

func TestELFClosureMusl(t *testing.T) {
	b := buildELFs()
	if b.err != nil {
		t.Fatalf("building test ELF files: %v", b.err)
	}
	base := map[string]string{
		"lib/ld-musl-x86_64.so.1":  "@build:libbar.so.1", // any x86_64 object will do
		"lib/libc.so.6":            "@build:leaf.so",
		"usr/bin/appm":             "@build:appm",
		"opt/musl/lib/libmus.so.1": "@build:libmus.so.1",
		"etc/ld.so.cache":          "glibc's, unused",
	}
	for _, tc := range []struct {
		name string
		spec map[string]string
		want map[string]Reason
		not  []string
		warn []string
	}{{
		name: "path file",
		spec: map[string]string{"etc/ld-musl-x86_64.path": "/opt/musl/lib\n/lib\n"},
		want: map[string]Reason{"/lib/ld-musl-x86_64.so.1": ReasonELFInterp,
			"/opt/musl/lib/libmus.so.1": ReasonELFDep, "/lib/libc.so.6": ReasonELFDep},
		not: []string{"/etc/ld.so.cache"},
	}, {
		name: "default directories without a path file",
		spec: map[string]string{"usr/lib/libmus.so.1": "@build:libmus.so.1"},
		want: map[string]Reason{"/usr/lib/libmus.so.1": ReasonELFDep, "/lib/libc.so.6": ReasonELFDep},
		not:  []string{"/opt/musl/lib/libmus.so.1"},
	}, {
		name: "ld.so.conf is glibc's",
		spec: map[string]string{"etc/ld.so.conf": "/opt/musl/lib\n"},
		warn: []string{"/usr/bin/appm: library libmus.so.1 is not in the image"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := map[string]string{}
			for k, v := range base {
				spec[k] = v
			}
			for k, v := range tc.spec {
				spec[k] = v
			}
			s, err := Compute(Input{FS: openRootImage(t, imageDir(t, b, spec)), Execs: []string{"/usr/bin/appm"},
				Options: Options{NoOSLibsNet: true, NoAppDirs: true}})
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, s, tc.want, tc.not)
			checkWarnings(t, s, tc.warn)
		})
	}
}

func TestParseELF(t *testing.T) {
	b := buildELFs()
	if b.err != nil {
		t.Fatalf("building test ELF files: %v", b.err)
	}
	for _, tc := range []struct {
		file                   string
		interp                 string
		needed, rpath, runpath []string
		tls                    bool
	}{
		{file: "app", interp: b.interp, needed: []string{"libfoo.so.1", "libc.so.6"}, rpath: []string{"/opt/app/lib"}},
		{file: "app4", interp: b.interp, needed: []string{"libpl.so.1", "liblb.so.1", "libc.so.6"},
			runpath: []string{"/opt/plat/$PLATFORM:/opt/$LIB"}},
		{file: "libfoo.so.1", needed: []string{"libbar.so.1", "libqux.so.1", "libc.so.6"},
			runpath: []string{"$ORIGIN/../private"}},
		{file: "appm", interp: "/lib/ld-musl-x86_64.so.1", needed: []string{"libmus.so.1", "libc.so.6"}},
		{file: "tlsapp", interp: b.interp, needed: []string{"libc.so.6"}, tls: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(b.dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := parseELF(f, true)
			if err != nil {
				t.Fatal(err)
			}
			if info.interp != tc.interp || !slices.Equal(info.needed, tc.needed) ||
				!slices.Equal(info.rpath, tc.rpath) || !slices.Equal(info.runpath, tc.runpath) || info.tls != tc.tls {
				t.Errorf("got interp %q needed %q rpath %q runpath %q tls %v", info.interp, info.needed,
					info.rpath, info.runpath, info.tls)
			}
			if info.class != elf.ELFCLASS64 || info.machine != elf.EM_X86_64 {
				t.Errorf("class %v machine %v", info.class, info.machine)
			}
		})
	}
	if _, err := parseELF(strings.NewReader("#!/bin/sh\n"), false); err == nil {
		t.Error("a script parsed as ELF")
	}
	if info, err := parseELF(strings.NewReader(foreignELF()), false); err != nil || info.machine != elf.EM_AARCH64 {
		t.Errorf("foreign header: %v %v", info, err)
	}
}

func TestParseLdSoConf(t *testing.T) {
	img := newImage(map[string]*fstest.MapFile{
		"etc/ld.so.conf": file("# comment\ninclude /etc/ld.so.conf.d/*.conf\n/usr/local/lib\n" +
			"hwcap 0 nosegneg\n/opt/a:/opt/b, /opt/c=libc6\ninclude extra/*.conf\ninclude /etc/ld.so.conf\n"),
		"etc/ld.so.conf.d/b-multiarch.conf": file("/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu # trailing\n"),
		"etc/ld.so.conf.d/a-fakeroot.conf":  file("/usr/lib/x86_64-linux-gnu/libfakeroot\n"),
		"etc/ld.so.conf.d/skip.txt":         file("/nope\n"),
		"etc/extra/x.conf":                  file("relative/ignored\n/opt/extra/\n"),
		"etc/ld.so.conf.d/link.conf":        link("/etc/extra/x.conf"),
	})
	got, capped := parseLdSoConf(img, "/etc/ld.so.conf", DefaultMaxGlobMatches)
	if capped != nil {
		t.Errorf("capped %q", capped)
	}
	want := []string{"/usr/lib/x86_64-linux-gnu/libfakeroot", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
		"/opt/extra", "/usr/local/lib", "/opt/a", "/opt/b", "/opt/c"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got, _ := parseLdSoConf(img, "/etc/none", DefaultMaxGlobMatches); got != nil {
		t.Errorf("missing file: %q", got)
	}
}

// TestLdSoConfSelfLinkingGlob: an include glob over a directory of ten
// links to itself would match 10^10 paths; it stops at the cap, quickly,
// and Compute warns naming the pattern and the flag.
func TestLdSoConfSelfLinkingGlob(t *testing.T) {
	files := map[string]*fstest.MapFile{
		"etc/ld.so.conf": file("include /etc/d/*/*/*/*/*/*/*/*/*/*.conf\n"),
	}
	for i := range 10 {
		files[fmt.Sprintf("etc/d/l%d", i)] = link("/etc/d")
	}
	img := newImage(files)
	start := time.Now()
	_, capped := parseLdSoConf(img, "/etc/ld.so.conf", 100)
	if !slices.Equal(capped, []string{"/etc/d/*/*/*/*/*/*/*/*/*/*.conf"}) {
		t.Errorf("capped %q", capped)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	ms, cut := globImage(img, "/etc/d/*/*/*/*/*/*/*/*/*/*", 1000)
	if !cut || len(ms) != 1000 {
		t.Errorf("%d matches, capped %v", len(ms), cut)
	}
	ms, cut = globImage(img, "/etc/d/*/*", -1)
	if cut || len(ms) != 100 {
		t.Errorf("uncapped: %d matches, capped %v", len(ms), cut)
	}
}

func TestShebangAndEnv(t *testing.T) {
	for _, tc := range []struct {
		name, head, interp, arg, prog string
		ok                            bool
	}{
		{"plain", "#!/bin/sh\necho", "/bin/sh", "", "", true},
		{"argument", "#! /usr/bin/python3 -u \n", "/usr/bin/python3", "-u", "", true},
		{"tab", "#!/bin/bash\t-e\n", "/bin/bash", "-e", "", true},
		{"crlf", "#!/bin/sh\r\n", "/bin/sh", "", "", true},
		{"env", "#!/usr/bin/env python3\n", "/usr/bin/env", "python3", "python3", true},
		{"env -S", "#!/usr/bin/env -S node --max-old-space-size=100\n", "/usr/bin/env",
			"-S node --max-old-space-size=100", "node", true},
		{"env -Sprog", "#!/usr/bin/env -Sruby -w\n", "/usr/bin/env", "-Sruby -w", "ruby", true},
		{"env -u and assignments", "#!/usr/bin/env -u HOME -i LANG=C perl\n", "/usr/bin/env", "-u HOME -i LANG=C perl",
			"perl", true},
		{"no newline", "#!/bin/sh", "/bin/sh", "", "", true},
		{"empty", "#!\n", "", "", "", false},
		{"not a script", "\x7fELF", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interp, arg, ok := parseShebang([]byte(tc.head))
			if interp != tc.interp || arg != tc.arg || ok != tc.ok {
				t.Errorf("parseShebang = %q %q %v", interp, arg, ok)
			}
			if ok && filepath.Base(interp) == "env" {
				if p := envProgram(arg); p != tc.prog {
					t.Errorf("envProgram = %q, want %q", p, tc.prog)
				}
			}
		})
	}
}

func TestExpandTokens(t *testing.T) {
	x64 := &elfInfo{class: elf.ELFCLASS64, machine: elf.EM_X86_64}
	x86 := &elfInfo{class: elf.ELFCLASS32, machine: elf.EM_386}
	for _, tc := range []struct {
		name, dir string
		info      *elfInfo
		want      []string
	}{
		{"origin", "$ORIGIN/../lib", x64, []string{"/opt/app/bin/../lib"}},
		{"braces", "${ORIGIN}/x", x64, []string{"/opt/app/bin/x"}},
		{"platform", "/p/$PLATFORM", x64, []string{"/p/x86_64"}},
		{"platform i686", "/p/${PLATFORM}", x86, []string{"/p/i686"}},
		{"lib", "/usr/$LIB/x", x64, []string{"/usr/lib64/x", "/usr/lib/x", "/usr/lib/x86_64-linux-gnu/x"}},
		{"lib 32", "/usr/${LIB}", x86, []string{"/usr/lib", "/usr/lib/i386-linux-gnu"}},
		{"plain", "/usr/lib", x64, []string{"/usr/lib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := expandTokens(tc.dir, "/opt/app/bin", tc.info); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMusl(t *testing.T) {
	for _, tc := range []struct {
		base, arch string
		ok         bool
	}{
		{"ld-musl-x86_64.so.1", "x86_64", true},
		{"ld-musl-aarch64.so.1", "aarch64", true},
		{"ld-linux-x86-64.so.2", "", false},
		{"ld-musl-.so.1", "", false},
	} {
		if arch, ok := muslArch(tc.base); arch != tc.arch || ok != tc.ok {
			t.Errorf("muslArch(%q) = %q %v", tc.base, arch, ok)
		}
	}
	if got := parseMuslPath([]byte("/lib\n/usr/local/lib:/usr/lib\n\nrelative\n")); !slices.Equal(got,
		[]string{"/lib", "/usr/local/lib", "/usr/lib"}) {
		t.Errorf("parseMuslPath: %q", got)
	}
}

// goBinary builds a static, stripped Go program from src into dir.
func goBinary(t *testing.T, dir, name, src string) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		t.Fatalf("no go tool to build a test program: %v", err)
	}
	srcDir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module "+name+"\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// A Go program that links time.LoadLocation keeps the zone database
// (without right/), as insurance; one that does not, and --insurance=none,
// keep none of it.
func TestGoZonesByName(t *testing.T) {
	bin := t.TempDir()
	tzapp := goBinary(t, bin, "tzapp", `package main

import ("fmt"; "os"; "time")

func main() { l, err := time.LoadLocation(os.Args[1]); fmt.Println(l, err) }
`)
	plain := goBinary(t, bin, "plain", `package main

import ("fmt"; "time")

func main() { fmt.Println(time.Now().UTC()) }
`)
	root := imageDir(t, elfBuild{}, map[string]string{
		"usr/local/bin/tzapp":                 "@" + tzapp,
		"usr/local/bin/plain":                 "@" + plain,
		"usr/share/zoneinfo/Asia/Tokyo":       "TZif2 tokyo",
		"usr/share/zoneinfo/Europe/Paris":     "TZif2 paris",
		"usr/share/zoneinfo/posix":            "->.",
		"usr/share/zoneinfo/right/Asia/Tokyo": "TZif2 tokyo with leap seconds",
	})
	for _, tc := range []struct {
		name     string
		exec     string
		none     bool
		wantKept bool
	}{
		{"tzapp", "/usr/local/bin/tzapp", false, true},
		{"plain", "/usr/local/bin/plain", false, false},
		{"tzapp, --insurance=none", "/usr/local/bin/tzapp", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{FS: openRootImage(t, root), Execs: []string{tc.exec}}
			in.Options.NoImports, in.Options.NoAppDirs = tc.none, tc.none
			s, err := Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/usr/share/zoneinfo/Asia/Tokyo", "/usr/share/zoneinfo/Europe/Paris", "/usr/share/zoneinfo/posix"} {
				e := s.Find(p)
				if (e != nil) != tc.wantKept {
					t.Errorf("%s kept: %v, want %v", p, e != nil, tc.wantKept)
				}
				if e != nil && (!e.Has(ReasonLazyLoad) || !strings.Contains(e.Detail, "time.LoadLocation")) {
					t.Errorf("%s: %v %q", p, e.Reasons, e.Detail)
				}
			}
			if s.Find("/usr/share/zoneinfo/right/Asia/Tokyo") != nil {
				t.Errorf("right/ kept")
			}
			if tc.wantKept && s.InsuranceBytes()[ReasonLazyLoad] == 0 {
				t.Errorf("the zones are not counted as insurance: %v", s.InsuranceBytes())
			}
		})
	}
}
