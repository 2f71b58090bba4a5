package fileset

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/imports"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// Reason says why a path is in the set.
type Reason string

// Reasons a path is kept.
const (
	ReasonTraced       Reason = "traced"           // the application named it
	ReasonExec         Reason = "exec"             // the application executed it
	ReasonSymlink      Reason = "symlink"          // a link met on the way to a kept path
	ReasonParent       Reason = "parent-dir"       // a directory holding a kept path
	ReasonELFInterp    Reason = "elf-interp"       // PT_INTERP of a kept ELF file
	ReasonELFDep       Reason = "elf-dep"          // DT_NEEDED of a kept ELF file
	ReasonLdCache      Reason = "ld-cache"         // /etc/ld.so.cache, for glibc's loader
	ReasonShebang      Reason = "shebang"          // the "#!" interpreter of a kept script
	ReasonEntrypoint   Reason = "entrypoint"       // the image's ENTRYPOINT/CMD and what it runs
	ReasonHealthcheck  Reason = "healthcheck"      // the image's HEALTHCHECK and what it runs
	ReasonWorkdir      Reason = "workdir"          // the image's WorkingDir
	ReasonUserDB       Reason = "user-db"          // passwd, group, nsswitch.conf, USER's home
	ReasonNSS          Reason = "nss"              // resolver and NSS files and modules
	ReasonCerts        Reason = "certs"            // CA certificate stores and bundles
	ReasonZoneinfo     Reason = "zoneinfo"         // time zone data (--include-zoneinfo)
	ReasonAppDir       Reason = "app-dir"          // an application file beside a touched one
	ReasonLangPackage  Reason = "language-package" // part of a touched Python, npm or Ruby package
	ReasonPackageMeta  Reason = "package-metadata" // dist-info, .pth, package.json, gemspec
	ReasonImport       Reason = "import"           // a module a kept source file imports (--include-imports)
	ReasonLazyLoad     Reason = "lazy-load"        // a module a kept source file registers by name, loaded at first use
	ReasonIncludePath  Reason = "include-path"     // --include-path
	ReasonIncludeBin   Reason = "include-bin"      // --include-bin
	ReasonIncludeExe   Reason = "include-exe"      // --include-exe
	ReasonIncludeShell Reason = "include-shell"    // --include-shell
)

// DefaultAppDirCap is the default --app-dir-cap: the most application
// bytes one directory may bring in whole.
const DefaultAppDirCap = 64 << 20

// DefaultAppDirFiles is the default --app-dir-max-files: the most
// application files one directory may bring in whole (the largest sample
// app's whole directory, express's node_modules, holds under 1,000).
const DefaultAppDirFiles = 5000

// Input is what Compute works from.
type Input struct {
	// FS is the image's own root filesystem (never the host's); it must
	// implement fs.ReadLinkFS.
	FS fs.FS
	// Files the application used, from the trace: only the processes
	// whose files belong in the image (the application's lineage and the
	// healthcheck's; not the runtime's setup nor --exec probes).
	Files []Used
	// Execs are the paths those processes executed: each exec's Filename
	// (as named) and Binary (what the kernel ran).
	Execs []string
	// Config is the image's run configuration: its user, working
	// directory, PATH and LD_LIBRARY_PATH, entrypoint, command and
	// healthcheck decide what the set holds.
	Config dockerspec.DockerOCIImageConfig
	// Mounts are container paths mounted over at run time (--mount
	// targets, and the image's VOLUMEs if the caller wants them empty):
	// nothing beneath them is kept. /proc, /sys and /dev always are.
	Mounts []string
	// Options are the user's controls. The zero value is the defaults.
	Options Options
	// Paths, when set, is the table the trace's paths came from: an entry
	// for a path it holds shares the table's string (one copy of each
	// traced path for the trace and the file set). Paths the trace did not
	// name are not added to it.
	Paths *trace.Paths
}

// Used is one path the application named. A path the image holds is kept
// whatever the result of its uses: the application met it there.
type Used struct {
	Path  string         // absolute, as named (symlinks not resolved)
	Kinds []trace.Access // how it was used (exec counts for "#!" lines)
	OK    bool           // some use succeeded
}

// Options are the user's controls. The zero value is the defaults: CA
// certificates and network OS files kept, application directories kept
// whole up to DefaultAppDirCap, no zoneinfo, no shell.
type Options struct {
	IncludePaths []IncludePath // --include-path, --include-path-file
	// ExcludePaths are globs over absolute image paths ("**" spans any
	// number of directories). A path is left out when it or any directory
	// above it matches: excludes win over the trace and over includes.
	ExcludePaths []string
	IncludeBins  []string // --include-bin: image paths of binaries, kept with their closure
	IncludeExes  []string // --include-exe: names looked up in the image's PATH, the same
	IncludeShell bool     // --include-shell
	// IncludeZoneinfo keeps /usr/share/zoneinfo and /etc/localtime.
	IncludeZoneinfo bool
	// NoCertAll is --include-cert-all=false: no CA stores beyond those the
	// trace saw, even when TLS libraries are in the set.
	NoCertAll bool
	// NoOSLibsNet is --include-oslibs-net=false: no resolver and NSS files
	// beyond those the trace saw.
	NoOSLibsNet bool
	// NoAppDirs is --keep-app-dirs=false: only touched application files,
	// and only the metadata of language packages.
	NoAppDirs bool
	// AppDirCap is --app-dir-cap in bytes: 0 means DefaultAppDirCap, a
	// negative value no cap.
	AppDirCap int64
	// AppDirFiles is --app-dir-max-files: 0 means DefaultAppDirFiles, a
	// negative value no cap.
	AppDirFiles int
	// NoImports is --include-imports=false: no modules beyond those the
	// trace saw load, for Python, Node.js, Ruby and PHP source files.
	NoImports bool
	// ImportDepth is --imports-max-depth: 0 means DefaultImportDepth, a
	// negative value no bound.
	ImportDepth int
	// ImportMaxBytes is --imports-max-size: 0 means
	// DefaultImportMaxBytes, a negative value no bound.
	ImportMaxBytes int64
	// MaxUnresolved is --imports-max-unresolved, the most dynamic imports
	// listed in all, and MaxUnresolvedPerFile
	// --imports-max-unresolved-per-file, the most from one file: 0 means
	// DefaultMaxUnresolved and DefaultMaxUnresolvedPerFile, a negative
	// value no cap. Those left out are counted.
	MaxUnresolved        int
	MaxUnresolvedPerFile int
	// MaxGlobMatches is --glob-max-matches, the most paths a glob from the
	// image (an ld.so.conf include, a top_level.txt name) expands to: 0
	// means DefaultMaxGlobMatches, a negative value no cap.
	MaxGlobMatches int
	// MaxSearchDirs is --search-path-max-dirs, the most directories of
	// each search path from the image (ld.so.conf, an object's RPATH or
	// RUNPATH, LD_LIBRARY_PATH, musl's path file, PYTHONPATH and .pth
	// files, NODE_PATH, RUBYLIB) searched: 0 means DefaultMaxSearchDirs,
	// a negative value no cap.
	MaxSearchDirs int
	// MaxNeeded is --elf-max-needed, the most DT_NEEDED libraries of one
	// ELF object looked up: 0 means DefaultMaxNeeded, a negative value no
	// cap.
	MaxNeeded int
}

// DefaultMaxGlobMatches is Options.MaxGlobMatches' default.
const DefaultMaxGlobMatches = 1000

// Defaults of Options.MaxSearchDirs and Options.MaxNeeded: real search
// paths hold tens of directories and real programs need tens of
// libraries; an image's can hold millions, each multiplying the lookups.
const (
	DefaultMaxSearchDirs = imports.DefaultMaxSearchDirs
	DefaultMaxNeeded     = 1024
)

// capDirs cuts a search path from the image at --search-path-max-dirs,
// warning (where names the path) when it did.
func (c *computer) capDirs(dirs []string, where string) []string {
	max := c.opts.MaxSearchDirs
	if max == 0 {
		max = DefaultMaxSearchDirs
	}
	if max < 0 || len(dirs) <= max {
		return dirs
	}
	c.warn("%s: %d search directories: only the first %d searched (--search-path-max-dirs)", where, len(dirs), max)
	return dirs[:max]
}

func (c *computer) globMax() int {
	if c.opts.MaxGlobMatches == 0 {
		return DefaultMaxGlobMatches
	}
	return c.opts.MaxGlobMatches
}

// glob expands a glob from the image under --glob-max-matches, warning
// (where names what the pattern came from) when it cut matches.
func (c *computer) glob(pattern, where string) []string {
	ms, capped := globImage(c.fs, pattern, c.globMax())
	if capped {
		c.warn("%s: %s matches over %d paths: only the first %d kept (--glob-max-matches)", where, pattern, c.globMax(), c.globMax())
	}
	return ms
}

// globFirst is the first few matches of a glob, for a lookup that takes
// the first.
func globFirst(fsys fs.FS, pattern string) []string {
	ms, _ := globImage(fsys, pattern, DefaultMaxGlobMatches)
	return ms
}

// Insurance levels (--insurance): what is kept beyond the traced files
// and their closure, for code no probe reached.
const (
	InsuranceNone    = "none"    // nothing
	InsuranceImports = "imports" // the import closure and lazy loads
	InsuranceFull    = "full"    // that, whole application directories and language packages
)

// Insurance returns the level the options amount to; "app-dirs" for whole
// directories without the import closure.
func (o Options) Insurance() string {
	switch {
	case o.NoAppDirs && o.NoImports:
		return InsuranceNone
	case o.NoAppDirs:
		return InsuranceImports
	case o.NoImports:
		return "app-dirs"
	}
	return InsuranceFull
}

// IncludePath is one --include-path: a file or directory, kept with all
// that lies beneath it (ELF objects and scripts with their closure), and
// an optional override of the mode and owner of what the path resolves to
// (not of what lies beneath).
type IncludePath struct {
	Path     string
	Override *Override
}

// Override replaces a kept path's permission bits or owner; nil fields
// keep the image's.
type Override struct {
	Mode     *fs.FileMode // permissions, setuid, setgid and sticky bits
	UID, GID *int
}

// Entry is one path of the slim image.
type Entry struct {
	Path string      // absolute, with no symlink above it
	Mode fs.FileMode // as in the image; the type bits tell dir, symlink, file
	Size int64       // of a regular file
	// Reasons it is kept, the first one first.
	Reasons []Reason
	// Detail names what brought it in, when a rule has one to say ("needed
	// by /usr/bin/curl").
	Detail   string
	Override *Override // from --include-path
}

// Set is the file set of a slim image.
type Set struct {
	Entries  []Entry  // sorted by path
	Warnings []string // what the user should know, in the order met
	// Imports is what the import closure did (--include-imports).
	Imports ImportStats
	// CappedDirs are application directories not kept whole because they
	// are over --app-dir-cap or --app-dir-max-files.
	CappedDirs []CappedDir
}

// CappedDir is an application directory kept only in part: only the files
// the application touched, not the Files files (Bytes bytes) beside them.
type CappedDir struct {
	Dir   string
	Files int
	Bytes int64
}

// Paths returns every path to create in the slim image: files, symlinks
// and directories. A directory stands for itself (its mode, owner and
// times), not for its contents: only the paths listed are copied. The root
// directory is implied.
func (s *Set) Paths() []string {
	out := make([]string, len(s.Entries))
	for i, e := range s.Entries {
		out[i] = e.Path
	}
	return out
}

// Size returns the sum of the regular files' sizes.
func (s *Set) Size() int64 {
	var n int64
	for _, e := range s.Entries {
		if e.Mode.IsRegular() {
			n += e.Size
		}
	}
	return n
}

// Insurance are the reasons that keep files the trace did not see used,
// on the chance that code no probe reached needs them: whole application
// directories and language packages, the import closure, lazy loads.
var Insurance = []Reason{ReasonAppDir, ReasonLangPackage, ReasonImport, ReasonLazyLoad}

// InsuranceBytes returns the bytes of the regular files kept first for an
// insurance reason, by reason (a file the trace saw, or one a kept binary
// needs, is kept first for that and is not counted).
func (s *Set) InsuranceBytes() map[Reason]int64 {
	out := map[Reason]int64{}
	for _, e := range s.Entries {
		if e.Mode.IsRegular() && len(e.Reasons) > 0 && slices.Contains(Insurance, e.Reasons[0]) {
			out[e.Reasons[0]] += e.Size
		}
	}
	return out
}

// Find returns the entry for p, or nil.
func (s *Set) Find(p string) *Entry {
	i, ok := slices.BinarySearchFunc(s.Entries, p, func(e Entry, p string) int { return strings.Compare(e.Path, p) })
	if !ok {
		return nil
	}
	return &s.Entries[i]
}

// Has reports whether the entry was kept for the reason r.
func (e *Entry) Has(r Reason) bool { return slices.Contains(e.Reasons, r) }

// FromTrace returns the files and executed paths of the processes of the
// given lineages, for Input.Files and Input.Execs. A file opened through
// another name (/proc/self/exe, /dev/stdin) counts under the name of what
// was opened too, unless that is on another mount.
func FromTrace(tr *trace.Report, lineages ...uint32) (files []Used, execs []string) {
	ours := func(l uint32) bool { return slices.Contains(lineages, l) }
	for _, f := range tr.Files {
		if !slices.ContainsFunc(f.Lineages, ours) {
			continue
		}
		u := Used{Path: f.Path, OK: f.OK()}
		for _, a := range f.Accesses {
			if !slices.Contains(u.Kinds, a.Kind) {
				u.Kinds = append(u.Kinds, a.Kind)
			}
		}
		files = append(files, u)
		if f.OnMount {
			continue
		}
		for _, o := range f.Opened {
			if o != "" && o != trace.CleanPath(f.Path) {
				files = append(files, Used{Path: o, Kinds: []trace.Access{trace.AccessRead}, OK: true})
			}
		}
	}
	for _, e := range tr.Execs {
		if !ours(e.Lineage) {
			continue
		}
		for _, p := range []string{e.Filename, e.Binary} {
			if p != "" && !slices.Contains(execs, p) {
				execs = append(execs, p)
			}
		}
	}
	return files, execs
}

// Compute returns the file set of the slim image. Errors are only for
// input it cannot use (a bad exclude glob, no FS); whatever the image
// lacks becomes a warning.
func Compute(in Input) (*Set, error) {
	if _, ok := in.FS.(fs.ReadLinkFS); !ok {
		return nil, fmt.Errorf("computing the file set: no image filesystem that reads symlinks")
	}
	c, err := newComputer(in)
	if err != nil {
		return nil, err
	}
	c.tracedFiles()
	c.commands()
	c.includes()
	c.userDB()
	c.workdir()
	c.zoneinfo()
	c.languagePackages()
	c.appDirs()
	c.drain()
	c.importClosure()
	c.nss()
	c.drain()
	c.certs()
	c.zonesByName()
	c.drain()
	c.overrides()
	return c.result(), nil
}

// under reports whether p is dir or beneath it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// below reports whether p is strictly beneath dir.
func below(p, dir string) bool {
	return p != dir && under(p, dir)
}

// clean makes an absolute, lexically clean path ("" stays "").
func clean(p string) string {
	if p == "" {
		return ""
	}
	return path.Clean("/" + p)
}
