package imports

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Lang is a language whose imports are read.
type Lang string

// Languages read.
const (
	Python Lang = "python"
	Node   Lang = "node"
	Ruby   Lang = "ruby"
	PHP    Lang = "php"
	BEAM   Lang = "beam" // compiled Erlang and Elixir modules: see BEAMClosure
)

// LangOf returns the language of a source file, from its name.
func LangOf(p string) (Lang, bool) {
	switch path.Ext(p) {
	case ".py":
		return Python, true
	case ".js", ".mjs", ".cjs":
		return Node, true
	case ".rb":
		return Ruby, true
	case ".php":
		return PHP, true
	case ".beam":
		return BEAM, true
	}
	return "", false
}

// Ref is one module or file a source file names.
type Ref struct {
	Line int
	// Kind is the statement or call: "import", "from", "import_module",
	// "__import__", "require", "import()", "require_relative", "load",
	// "autoload", "include"; lazy loads by a registered name:
	// "register_lazy" (Tilt), "view engine" (Express), "class" (PHP: a
	// class an autoloader loads, Name fully qualified).
	Kind string
	// Name is the literal module name or path, as written.
	Name string
	// Dynamic: the name is computed at run time; Expr is the expression.
	Dynamic bool
	Expr    string
	// Python: Level is the number of leading dots of a relative import;
	// Names are the names a "from" import takes (each may be a submodule).
	Level int
	Names []string
	// FromDir: Name is a path relative to the directory of the file that
	// names it (Ruby's require_relative and __dir__ forms, PHP's __DIR__).
	FromDir bool
	// Exts are the file extensions a lazy registration is for (Kind
	// "register_lazy", "view engine"): the module is loaded at the first
	// use of a file with one of them. Empty: any.
	Exts []string
	// Fallback: the reference is in an "except ImportError:" block (Python);
	// these are the modules the try block imports, which it stands in for.
	Fallback []string
	// Deferred: the reference runs only when a function holding it is
	// called, not when the file is loaded (Python: inside a "def").
	Deferred bool
}

// Parse returns the references of a source file of language l.
func Parse(l Lang, src []byte) []Ref {
	switch l {
	case Python:
		return parsePython(src, nil)
	case Node:
		return parseNode(src)
	case Ruby:
		return parseRuby(src)
	case PHP:
		return parsePHP(src)
	}
	return nil
}

// fsName turns an absolute image path into the name of the image's fs.FS
// ("etc/passwd", "." for "/").
func fsName(p string) string {
	if p = path.Clean("/" + p)[1:]; p == "" {
		return "."
	}
	return p
}

// Env is what the resolvers learn the interpreters' search paths from.
type Env struct {
	// Env is the image's environment (KEY=value): PYTHONPATH, NODE_PATH,
	// RUBYLIB are read.
	Env        []string
	WorkingDir string
	// Seen are image files the application used: the interpreters'
	// library directories are found from them.
	Seen []string
	// MaxSearchDirs bounds each search path (PYTHONPATH and the .pth
	// files, NODE_PATH, RUBYLIB): 0 means DefaultMaxSearchDirs, a
	// negative value no bound. Cuts are listed by Resolver.Capped.
	MaxSearchDirs int
}

// DefaultMaxSearchDirs is Env.MaxSearchDirs' default: real search paths
// hold tens of directories; an image's can hold millions, each a lookup
// for every module name.
const DefaultMaxSearchDirs = 256

// Resolver finds references in an image.
type Resolver struct {
	fs  fs.FS
	env Env
	py  *pyPaths
	rb  *rbPaths
	nd  *nodePaths

	// Lookups are many and repeat (every module name in every search
	// directory): directory listings and stats are remembered.
	names map[string]map[string]bool
	stats map[string]fs.FileInfo  // nil: missing
	psr4  map[string]*psr4        // composer PSR-4 maps by vendor directory
	pkgs  map[string]*packageJSON // package.json files read, by directory (nil: none or unreadable)
	beam  []string                // the BEAM code path, as learnt
	cuts  []string                // search paths cut at MaxSearchDirs
}

// NewResolver returns a resolver over fsys, the image's root filesystem,
// whose Stat, ReadFile and ReadDir follow symlinks as the kernel would in
// the container. Inside the package names are absolute image paths.
func NewResolver(fsys fs.FS, env Env) *Resolver {
	return &Resolver{fs: fsys, env: env, names: map[string]map[string]bool{}, stats: map[string]fs.FileInfo{},
		pkgs: map[string]*packageJSON{}}
}

// stat looks p up, first in its directory's listing.
func (r *Resolver) stat(p string) fs.FileInfo {
	p = path.Clean(p)
	if fi, ok := r.stats[p]; ok {
		return fi
	}
	var fi fs.FileInfo
	if dir, name := path.Split(p); p == "/" || r.dirNames(path.Clean(dir))[name] {
		fi, _ = fs.Stat(r.fs, fsName(p))
	}
	r.stats[p] = fi
	return fi
}

// dirNames returns the names in a directory (none when it is not one).
func (r *Resolver) dirNames(dir string) map[string]bool {
	if m, ok := r.names[dir]; ok {
		return m
	}
	m := map[string]bool{}
	if ents, err := fs.ReadDir(r.fs, fsName(dir)); err == nil {
		for _, e := range ents {
			m[e.Name()] = true
		}
	}
	r.names[dir] = m
	return m
}

// Resolve returns the image files ref names, from the file from of
// language l: the module's files, with what loading it also reads
// (package __init__ files, package.json). found is false when the name is
// not in the image (a builtin, another platform's module).
func (r *Resolver) Resolve(l Lang, from string, ref Ref) (files []string, found bool) {
	if ref.Dynamic {
		return nil, false
	}
	switch l {
	case Python:
		return r.resolvePython(from, ref)
	case Node:
		return r.resolveNode(from, ref)
	case Ruby:
		return r.resolveRuby(from, ref)
	case PHP:
		return r.resolvePHP(from, ref)
	case BEAM:
		return r.resolveBEAM(from, ref) // Name: a module
	}
	return nil, false
}

func (r *Resolver) isFile(p string) bool {
	fi := r.stat(p)
	return fi != nil && fi.Mode().IsRegular()
}

func (r *Resolver) isDir(p string) bool {
	fi := r.stat(p)
	return fi != nil && fi.IsDir()
}

func (r *Resolver) list(dir string) []string {
	ents, err := fs.ReadDir(r.fs, fsName(dir))
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func envValue(env []string, key string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == key {
			v, ok = val, true
		}
	}
	return v, ok
}

// envDirs returns the absolute directories of a colon-separated search
// path in env (PYTHONPATH, NODE_PATH, RUBYLIB), cleaned, in order.
func (r *Resolver) envDirs(key string) []string {
	v, _ := envValue(r.env.Env, key)
	var dirs []string
	seen := map[string]bool{}
	for _, d := range strings.Split(v, ":") {
		if d = path.Clean(d); strings.HasPrefix(d, "/") && !seen[d] {
			if r.full(len(dirs), key) {
				break
			}
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// full reports whether a search path of n directories is at
// MaxSearchDirs, recording the cut (where names the path) once.
func (r *Resolver) full(n int, where string) bool {
	max := r.env.MaxSearchDirs
	if max == 0 {
		max = DefaultMaxSearchDirs
	}
	if max < 0 || n < max {
		return false
	}
	msg := fmt.Sprintf("%s: more than %d search directories: only the first %d searched (--search-path-max-dirs)", where, max, max)
	if !slices.Contains(r.cuts, msg) {
		r.cuts = append(r.cuts, msg)
	}
	return true
}

// Capped lists the search paths cut at Env.MaxSearchDirs, each saying
// where it came from and the flag that lifts the cap.
func (r *Resolver) Capped() []string { return r.cuts }

func appendUniq(list []string, s ...string) []string {
	for _, x := range s {
		dup := false
		for _, y := range list {
			if x == y {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, x)
		}
	}
	return list
}

// clip shortens an expression for a report.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdent(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// token is one lexical token of any of the languages.
// tokenAt returns toks[i], or a newline before the first and past the last.
func tokenAt(toks []token, i int) token {
	if i >= 0 && i < len(toks) {
		return toks[i]
	}
	return token{kind: tNewline}
}

// skipBlockComment skips the /* comment */ that starts at s[i]: it returns
// the index after it (past the end of s when it is not closed) and the
// newlines in it.
func skipBlockComment(s string, i int) (next, newlines int) {
	j := strings.Index(s[i+2:], "*/")
	if j < 0 {
		j = len(s) - i - 2
	}
	return i + j + 4, strings.Count(s[i:i+2+j], "\n")
}

type token struct {
	kind  tokKind
	text  string // a name or operator as written
	val   string // a string literal's value
	dyn   bool   // a string with interpolation: no literal value
	line  int
	start int // byte offsets in the source
	end   int
}

type tokKind int

const (
	tName tokKind = iota
	tString
	tOp
	tNum
	tNewline // a logical line ends (Python), a statement may end (others)
	tSymbol  // Ruby :sym (text without the colon)
)
