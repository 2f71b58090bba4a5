package fileset

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/slimtrace/slimtrace/internal/imports"
)

// Defaults of the import closure's bounds.
const (
	// DefaultImportDepth is --imports-max-depth: how many imports away
	// from a traced source file a file is still read for more.
	DefaultImportDepth = 4
	// DefaultImportMaxBytes is --imports-max-size: the most bytes of
	// files the closure adds.
	DefaultImportMaxBytes = 32 << 20
)

// Caps on the dynamic imports listed (Options.MaxUnresolved,
// Options.MaxUnresolvedPerFile): a generated file can hold thousands.
const (
	DefaultMaxUnresolved        = 1000
	DefaultMaxUnresolvedPerFile = 20
)

// Bounds the import closure may reach.
const (
	BoundDepth = "depth"
	BoundSize  = "size"
)

// ImportStats says what the import closure did.
type ImportStats struct {
	Parsed int // source files read
	// Files and Bytes are what the closure added: the modules, with the
	// parent directories and the ELF closure of extension modules.
	Files int
	Bytes int64
	// NotFound counts literal names the image does not hold: builtin
	// modules, other platforms' modules, optional dependencies.
	NotFound int
	// Unused counts lazy registrations (a template engine by the
	// extension of its templates) for extensions no kept application file
	// has: not followed.
	Unused int
	// Fallbacks counts imports in "except ImportError:" blocks whose try
	// imported a module the application was traced loading: not followed.
	Fallbacks int
	// Deferred counts imports inside functions of files the closure added
	// (not traced), which are not followed.
	Deferred int
	// Unresolved are the imports whose names are computed at run time, in
	// files no OS package owns (the application's and its language
	// packages'); UnresolvedSystem counts those in OS packages' files.
	Unresolved       []Unresolved
	UnresolvedSystem int
	// UnresolvedLeftOut counts the dynamic imports not listed in
	// Unresolved for a cap; UnresolvedCapped names the caps hit
	// ("per-file", "total") and UnresolvedCappedFiles the first files the
	// per-file cap cut (at most 20).
	UnresolvedLeftOut     int
	UnresolvedCapped      []string
	UnresolvedCappedFiles []string
	// Bound is the bound reached (BoundDepth, BoundSize), "" for none; a
	// file left out for the size bound is not read for the depth bound.
	Bound string
}

// Unresolved is an import whose name is computed at run time.
type Unresolved struct {
	File string
	Line int
	Expr string
}

func (u Unresolved) String() string { return fmt.Sprintf("%s:%d: %s", u.File, u.Line, u.Expr) }

// importFS is the image as the imports package reads it: an fs.FS whose
// names are resolved as the kernel would (absolute symlinks against the
// image root, which (*os.Root).FS() refuses to follow).
type importFS struct{ c *computer }

func (f importFS) resolve(op, name string) (string, error) {
	l := Resolve(f.c.fs, "/"+name)
	if !l.Exists {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return l.Resolved, nil
}

func (f importFS) Open(name string) (fs.File, error) {
	p, err := f.resolve("open", name)
	if err != nil {
		return nil, err
	}
	return open(f.c.fs, p)
}

func (f importFS) Stat(name string) (fs.FileInfo, error) {
	l := Resolve(f.c.fs, "/"+name)
	if !l.Exists {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return l.Info, nil
}

func (f importFS) ReadFile(name string) ([]byte, error) {
	p, err := f.resolve("read", name)
	if err != nil {
		return nil, err
	}
	return readFile(f.c.fs, p, 16<<20)
}

func (f importFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := f.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	return readDir(f.c.fs, p)
}

// maxSource is the largest source file read for imports.
const maxSource = 4 << 20

// source is a file to read for imports, depth imports away from a traced
// one.
type source struct {
	path  string
	lang  imports.Lang
	depth int
}

// importClosure reads the traced source files of interpreted languages
// for the modules they name with literals and keeps those modules,
// transitively, within the depth and size bounds.
func (c *computer) importClosure() {
	if c.opts.NoImports {
		return
	}
	maxDepth, maxBytes := c.opts.ImportDepth, c.opts.ImportMaxBytes
	if maxDepth == 0 {
		maxDepth = DefaultImportDepth
	}
	if maxBytes == 0 {
		maxBytes = DefaultImportMaxBytes
	}
	maxUnres, maxUnresFile := c.opts.MaxUnresolved, c.opts.MaxUnresolvedPerFile
	if maxUnres == 0 {
		maxUnres = DefaultMaxUnresolved
	}
	if maxUnresFile == 0 {
		maxUnresFile = DefaultMaxUnresolvedPerFile
	}
	st := &c.imports
	capHit := func(name string) {
		if !slices.Contains(st.UnresolvedCapped, name) {
			st.UnresolvedCapped = append(st.UnresolvedCapped, name)
		}
	}
	var queue []source
	queued := map[string]bool{}
	var beams []string // the application's compiled BEAM modules: see beamClosure
	push := func(p string, depth int) {
		l, ok := imports.LangOf(p)
		if !ok || queued[p] {
			return
		}
		if l == imports.BEAM {
			if depth == 0 {
				beams = append(beams, p)
			}
			return
		}
		if maxDepth > 0 && depth >= maxDepth {
			st.Bound = BoundDepth
			return
		}
		queued[p] = true
		queue = append(queue, source{path: p, lang: l, depth: depth})
	}
	var seen []string
	for _, p := range c.touched {
		if c.entries[p] == nil {
			continue
		}
		seen = append(seen, p)
		if src, ok := c.pycSource(p); ok {
			push(src, 0)
		} else {
			push(p, 0)
		}
	}
	if len(queue) == 0 && len(beams) == 0 {
		c.wakeAll() // no source to name what they hold: keep them, as without the closure
		return
	}
	if c.pkgs == nil {
		c.pkgs = loadPackages(c.fs)
	}
	before := map[string]bool{}
	for p := range c.entries {
		before[p] = true
	}
	res := imports.NewResolver(importFS{c}, imports.Env{Env: c.cfg.Env, WorkingDir: c.cfg.WorkingDir, Seen: seen,
		MaxSearchDirs: c.opts.MaxSearchDirs})
	defer func() {
		for _, w := range res.Capped() {
			c.warn("%s", w)
		}
	}()
	var added int64
	// The entry points of the Python distributions the application used
	// (entry_points.txt): plugins other code loads by a registered name.
	entry := map[string][]imports.Ref{}
	for _, site := range c.sites {
		for meta := range c.pySites[site].byMeta {
			if !c.langDone[meta] {
				continue
			}
			f := meta + "/entry_points.txt"
			if b, err := readFile(c.fs, f, 1<<20); err == nil {
				entry[f] = entryPointRefs(b)
			}
		}
	}
	for len(queue) > 0 || len(entry) > 0 {
		var s source
		var refs []imports.Ref
		if len(queue) > 0 {
			s = queue[0]
			queue = queue[1:]
			b, err := readFile(c.fs, s.path, maxSource)
			if errors.Is(err, errTooLarge) {
				c.warn("%s: over %d bytes, the most read for imports: its imports are not read", s.path, maxSource)
			}
			if err != nil {
				continue
			}
			st.Parsed++
			if s.lang == imports.Python {
				var names []imports.Ref
				refs, names = imports.PythonNames(b)
				refs = append(refs, names...)
			} else {
				refs = imports.Parse(s.lang, b)
			}

		} else {
			for f, r := range entry {
				s, refs = source{path: f, lang: imports.Python}, r
				delete(entry, f)
				break
			}
		}
		fileUnres := 0
		pkg := c.packageOf(s.path)
		for _, ref := range refs {
			named := false
			if ref.Kind == "name" {
				var ok bool
				if ref, ok = c.pyName(res, s, ref); !ok {
					continue
				}
				named = true
			}
			// Inside a touched npm package or gem, whose sources only its
			// require graph keeps, a require in a function is followed when
			// it stays inside the package.
			insideOnly := ref.Deferred && s.depth > 0 && pkg != ""
			if ref.Deferred && s.depth > 0 && pkg == "" {
				// A file the closure added runs its top-level imports when it
				// is loaded; those inside its functions only if they are
				// called: lazy twice over, and mostly noise (pdb's help ->
				// pydoc -> 750 KB of topics).
				st.Deferred++
				continue
			}
			if ref.Dynamic {
				if c.pkgs.owns(s.path) {
					st.UnresolvedSystem++
				} else if fileUnres++; maxUnresFile > 0 && fileUnres > maxUnresFile {
					st.UnresolvedLeftOut++
					capHit("per-file")
					if fileUnres == maxUnresFile+1 && len(st.UnresolvedCappedFiles) < 20 {
						st.UnresolvedCappedFiles = append(st.UnresolvedCappedFiles, s.path)
					}
				} else if maxUnres > 0 && len(st.Unresolved) >= maxUnres {
					st.UnresolvedLeftOut++
					capHit("total")
				} else {
					st.Unresolved = append(st.Unresolved, Unresolved{File: s.path, Line: ref.Line, Expr: ref.Expr})
				}
				continue
			}
			if len(ref.Fallback) > 0 && c.tracedModule(res, s, ref.Fallback) {
				st.Fallbacks++ // the import it stands in for worked
				continue
			}
			reason, detail := ReasonImport, fmt.Sprintf("imported by %s:%d", s.path, ref.Line)
			if ref.Line == 0 {
				detail = "imported by " + s.path // compiled code: no line
			}
			if ref.Kind == "installed_app" {
				reason, detail = ReasonLazyLoad, fmt.Sprintf("registered by %s:%d", s.path, ref.Line)
				c.py.apps = append(c.py.apps, ref.Name)
			}
			if ref.Exts != nil {
				// A registration: the module loads at the first use of a
				// file with one of the extensions, if the application has one.
				if !c.hasAppFileExt(ref.Exts) {
					st.Unused++
					continue
				}
				reason, detail = ReasonLazyLoad, fmt.Sprintf("registered by %s:%d", s.path, ref.Line)
			}
			if named {
				reason, detail = ReasonImport, fmt.Sprintf("named by %s:%d", s.path, ref.Line)
			}
			if ref.Kind == "entry_point" {
				reason, detail = ReasonLazyLoad, fmt.Sprintf("entry point at %s:%d", s.path, ref.Line)
			}
			if ref.Kind == "class" {
				reason, detail = ReasonLazyLoad, fmt.Sprintf("autoloaded (PSR-4) for %s:%d", s.path, ref.Line)
			}
			files, found := res.Resolve(s.lang, s.path, ref)
			if !found {
				st.NotFound++
				continue
			}
			for _, f := range files {
				l := Resolve(c.fs, f)
				if !l.Exists || !l.Info.Mode().IsRegular() {
					continue
				}
				if insideOnly && !under(l.Resolved, pkg) {
					st.Deferred++
					continue
				}
				if c.entries[l.Resolved] == nil {
					size := l.Info.Size()
					if maxBytes > 0 && added+size > maxBytes {
						st.Bound = BoundSize
						continue
					}
					if _, e := c.keep(f, reason, detail); e == nil {
						continue
					}
					added += size
					c.enqueueIfObject(l.Resolved, l.Info.Mode())
				}
				// A touched package's own require graph is followed whole:
				// its sources are kept only through it.
				if pkg != "" && under(l.Resolved, pkg) {
					push(l.Resolved, s.depth)
				} else {
					push(l.Resolved, s.depth+1)
				}
			}
		}
	}
	c.beamClosure(res, beams, &added, maxBytes)
	c.drain()
	c.wakePackages()
	c.drain()
	for p, e := range c.entries {
		if !before[p] && e.Mode.IsRegular() {
			st.Files++
			st.Bytes += e.Size
		}
	}
}

// hasAppFileExt reports whether the set holds an application file (one
// no OS package owns) with one of the extensions (without their dot).
func (c *computer) hasAppFileExt(exts []string) bool {
	if c.appExts == nil {
		c.appExts = map[string]bool{}
		for p, e := range c.entries {
			if e.Mode.IsRegular() && path.Ext(p) != "" && !c.pkgs.owns(p) {
				c.appExts[path.Ext(p)[1:]] = true
			}
		}
	}
	for _, x := range exts {
		if c.appExts[x] {
			return true
		}
	}
	return false
}

// tracedModule reports whether one of the modules resolves, from s, to a
// file the trace saw.
func (c *computer) tracedModule(res *imports.Resolver, s source, mods []string) bool {
	for _, m := range mods {
		files, _ := res.Resolve(s.lang, s.path, imports.Ref{Kind: "import", Name: m})
		for _, f := range files {
			if l := Resolve(c.fs, f); l.Exists && c.traced[l.Resolved] {
				return true
			}
		}
	}
	return false
}

// entryPointRefs reads an entry_points.txt ([group] then name = module:attr
// [extras] lines) for the modules its entry points name; console and GUI
// scripts are commands, not plugins the application loads.
func entryPointRefs(b []byte) []imports.Ref {
	var refs []imports.Ref
	group := ""
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			group = strings.TrimSpace(l[1 : len(l)-1])
		case group == "console_scripts" || group == "gui_scripts":
		default:
			_, v, ok := strings.Cut(l, "=")
			if !ok {
				continue
			}
			mod, _, _ := strings.Cut(strings.TrimSpace(v), ":")
			mod, _, _ = strings.Cut(mod, "[")
			if mod = strings.TrimSpace(mod); mod != "" {
				refs = append(refs, imports.Ref{Line: i + 1, Kind: "entry_point", Name: mod})
			}
		}
	}
	return refs
}

// pycSource returns the source of a cached bytecode file
// (dir/__pycache__/mod.cpython-311.pyc: dir/mod.py), when the image holds
// it: Python reads the cache and only stats the source.
func (c *computer) pycSource(p string) (string, bool) {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if path.Base(dir) != "__pycache__" || !strings.HasSuffix(name, ".pyc") {
		return "", false
	}
	mod, _, _ := strings.Cut(name, ".")
	src := path.Dir(dir) + "/" + mod + ".py"
	if l := Resolve(c.fs, src); l.Exists && l.Info.Mode().IsRegular() {
		return l.Resolved, true
	}
	return "", false
}

// beamStdApps are the applications of Erlang/OTP and Elixir: their modules
// are libraries, not the application's own, wherever they are installed (a
// release bundles them).
var beamStdApps = []string{"asn1", "common_test", "compiler", "crypto", "debugger", "dialyzer", "diameter",
	"edoc", "eex", "eldap", "elixir", "erl_interface", "erts", "et", "eunit", "ex_unit", "ftp", "iex", "inets",
	"jinterface", "kernel", "logger", "megaco", "mix", "mnesia", "observer", "odbc", "os_mon", "parsetools",
	"public_key", "reltool", "runtime_tools", "sasl", "snmp", "ssh", "ssl", "stdlib", "syntax_tools", "tftp",
	"tools", "wx", "xmerl"}

// beamClosure keeps the modules the application's own BEAM modules (those
// traced loaded that neither an OS package nor Erlang/OTP or Elixir
// ships) can call, function by function, and the NIF libraries those
// load: the code server loads a module at its first call, so a route no
// probe reached leaves no trace of it.
func (c *computer) beamClosure(res *imports.Resolver, beams []string, added *int64, maxBytes int64) {
	var roots []string
	for _, p := range beams {
		app := path.Base(path.Dir(path.Dir(p)))
		if name, _, _ := strings.Cut(app, "-"); c.pkgs.owns(p) || slices.Contains(beamStdApps, name) {
			continue
		}
		roots = append(roots, p)
	}
	if len(roots) == 0 {
		return
	}
	reached, capped := res.BEAMClosure(roots, maxBEAMModules)
	if capped {
		c.warn("BEAM modules: the call graph of %s reaches over %d modules: only those read kept", roots[0], maxBEAMModules)
	}
	keep := func(p string, detail string) {
		l := Resolve(c.fs, p)
		if !l.Exists || !l.Info.Mode().IsRegular() || c.entries[l.Resolved] != nil {
			return
		}
		if size := l.Info.Size(); maxBytes > 0 && *added+size > maxBytes {
			c.imports.Bound = BoundSize
			return
		}
		if _, e := c.keep(p, ReasonImport, detail); e != nil {
			*added += l.Info.Size()
			c.enqueueIfObject(l.Resolved, l.Info.Mode())
		}
	}
	for _, r := range reached {
		keep(r.Path, "called by "+r.By)
		for _, nif := range r.NIFs {
			keep(nif, "NIF library of "+r.Path)
		}
	}
}

// maxBEAMModules bounds the modules the BEAM call graph walk reads.
const maxBEAMModules = 5000
