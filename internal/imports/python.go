package imports

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// lexPython tokenizes Python source: comments, string literals of every
// prefix (raw, bytes, f-strings with nested fields), triple quotes,
// explicit and implicit line joining. Newline tokens end logical lines.
func lexPython(src []byte) []token {
	toks := make([]token, 0, len(src)/8)
	line, depth := 1, 0
	s := string(src)
	emit := func(t token) { toks = append(toks, t) }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			if depth == 0 && len(toks) > 0 && toks[len(toks)-1].kind != tNewline {
				emit(token{kind: tNewline, line: line, start: i, end: i})
			}
			line++
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\n' || s[i+1] == '\r'):
			i += 2
			if i < len(s) && s[i-1] == '\r' && s[i] == '\n' {
				i++
			}
			line++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			i++
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == '\'' || s[j] == '"') && j-i <= 2 && isStringPrefix(s[i:j]) {
				t, n, nl := pyString(s, j, strings.ToLower(s[i:j]))
				t.line, t.start = line, i
				line += nl
				emit(t)
				i = n
				continue
			}
			emit(token{kind: tName, text: s[i:j], line: line, start: i, end: j})
			i = j
		case c == '\'' || c == '"':
			t, n, nl := pyString(s, i, "")
			t.line, t.start = line, i
			line += nl
			emit(t)
			i = n
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.') {
				j++
			}
			emit(token{kind: tNum, text: s[i:j], line: line, start: i, end: j})
			i = j
		default:
			switch c {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				if depth > 0 {
					depth--
				}
			}
			emit(token{kind: tOp, text: string(c), line: line, start: i, end: i + 1})
			i++
		}
	}
	return toks
}

func isStringPrefix(p string) bool {
	switch strings.ToLower(p) {
	case "r", "u", "b", "f", "br", "rb", "fr", "rf":
		return true
	}
	return false
}

// pyString reads a string literal whose quote is at s[i]. It returns the
// token (val set unless interpolated), the offset after it and the
// newlines it holds.
func pyString(s string, i int, prefix string) (token, int, int) {
	q := s[i]
	triple := i+2 < len(s) && s[i+1] == q && s[i+2] == q
	j := i + 1
	if triple {
		j = i + 3
	}
	fstr := strings.Contains(prefix, "f")
	raw := strings.Contains(prefix, "r")
	var b strings.Builder
	nl, braces, dyn := 0, 0, false
	for j < len(s) {
		c := s[j]
		if c == '\n' {
			nl++
			if !triple {
				break // unterminated
			}
		}
		if c == '\\' && j+1 < len(s) {
			if s[j+1] == '\n' {
				nl++
			}
			if raw {
				b.WriteByte(c)
				b.WriteByte(s[j+1])
			} else {
				dyn = true // an escape: not worth decoding for a module name
			}
			j += 2
			continue
		}
		if fstr {
			if c == '{' && j+1 < len(s) && s[j+1] == '{' && braces == 0 {
				b.WriteByte('{')
				j += 2
				continue
			}
			if c == '{' {
				braces++
				dyn = true
				j++
				continue
			}
			if c == '}' && braces > 0 {
				braces--
				j++
				continue
			}
			if braces > 0 && (c == '\'' || c == '"') && !(c == q && !triple) {
				_, n, m := pyString(s, j, "") // a string inside a replacement field
				nl += m
				j = n
				continue
			}
		}
		if c == q && (!triple || j+2 < len(s) && s[j+1] == q && s[j+2] == q) {
			if triple {
				j += 3
			} else {
				j++
			}
			return token{kind: tString, val: b.String(), dyn: dyn, end: j}, j, nl
		}
		if braces == 0 {
			b.WriteByte(c)
		}
		j++
	}
	return token{kind: tString, dyn: true, end: j}, j, nl
}

// parsePython finds import statements (at any nesting: in functions, try
// blocks, after "if x:" on one line) and importlib.import_module and
// __import__ calls. Imports in the body of a test for another OS ("if
// sys.platform == 'win32':", "if os.name == 'nt':") are left out, and so
// are those under "if __name__ == '__main__':", which runs only when the
// module is the program (and then it ran while traced), and under "if
// TYPE_CHECKING:", which runs only in a type checker.
//
// With names set, it also appends there the string literals that name a
// module by its dotted path (Kind "name", see PythonNames).
func parsePython(src []byte, names *[]Ref) []Ref {
	toks := lexPython(src)
	var refs []Ref
	at := func(i int) token { return tokenAt(toks, i) }
	stmtStart := func(i int) bool {
		p := at(i - 1)
		return i == 0 || p.kind == tNewline || p.kind == tOp && (p.text == ";" || p.text == ":")
	}
	col := func(t token) int { return t.start - bytes.LastIndexByte(src[:t.start], '\n') - 1 }
	guard := -1    // the column of an "if" for another OS whose body we are in
	var defs []int // the columns of the "def"s whose body we are in
	// A try block's imports, and the except ImportError block that stands
	// in for them when they fail.
	type tryBlock struct {
		col      int
		imports  []string
		fallback bool // in its "except ImportError:" body
	}
	var tries []tryBlock
	add := func(r Ref) {
		r.Deferred = len(defs) > 0
		for k := len(tries) - 1; k >= 0; k-- {
			if tries[k].fallback {
				r.Fallback = tries[k].imports
				break
			}
		}
		if n := len(tries); n > 0 && !tries[n-1].fallback && r.Kind != "import_module" && r.Kind != "__import__" && r.Level == 0 && r.Name != "" {
			tries[n-1].imports = append(tries[n-1].imports, r.Name)
		}
		refs = append(refs, r)
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tString && names != nil && !t.dyn && len(t.val) <= 256 {
			if n, ok := dottedName(t.val); ok {
				*names = append(*names, Ref{Line: t.line, Kind: "name", Name: n, Deferred: len(defs) > 0})
			}
		}
		if t.kind != tName {
			continue
		}
		if i == 0 || at(i-1).kind == tNewline { // a line's first statement
			if guard >= 0 && col(t) <= guard {
				guard = -1
			}
			for len(defs) > 0 && col(t) <= defs[len(defs)-1] {
				defs = defs[:len(defs)-1]
			}
			for n := len(tries); n > 0 && col(t) <= tries[n-1].col; n = len(tries) {
				if col(t) == tries[n-1].col && (t.text == "except" || t.text == "else" || t.text == "finally") {
					tries[n-1].fallback = t.text == "except" && pyImportErrorClause(toks, i+1)
					break
				}
				tries = tries[:n-1]
			}
			if t.text == "try" && at(i+1).text == ":" {
				tries = append(tries, tryBlock{col: col(t)})
			}
			if t.text == "def" || t.text == "async" && at(i+1).text == "def" {
				defs = append(defs, col(t))
			}
			if guard < 0 && (t.text == "if" || t.text == "elif") {
				if end, ok := otherOSTest(toks, i+1); ok || mainTest(toks, i+1) || t.text == "if" && typeCheckingTest(toks, i+1) {
					guard = col(t)
					i = end
					continue
				}
			}
		}
		if guard >= 0 {
			continue
		}
		switch {
		case t.text == "INSTALLED_APPS" && stmtStart(i) && (at(i+1).text == "=" && at(i+2).text != "=" || at(i+1).text == "+" && at(i+2).text == "="):
			// Django loads each app (and its AppConfig) by this name at setup.
			j := i + 2
			if at(j).text == "=" {
				j++
			}
			if o := at(j).text; o != "[" && o != "(" {
				continue
			}
			for k := j + 1; k < matchParen(toks, j); k++ {
				if u := at(k); u.kind == tString && !u.dyn && u.val != "" && !strings.ContainsAny(u.val, " /") {
					add(Ref{Line: u.line, Kind: "installed_app", Name: u.val})
				}
			}
		case t.text == "import" && stmtStart(i):
			j := i + 1
			for {
				name, n := dotted(toks, j)
				if name == "" {
					break
				}
				add(Ref{Line: t.line, Kind: "import", Name: name})
				j = n
				if at(j).kind == tName && at(j).text == "as" {
					j += 2
				}
				if at(j).kind != tOp || at(j).text != "," {
					break
				}
				j++
			}
		case t.text == "from" && stmtStart(i):
			j, level := i+1, 0
			for at(j).kind == tOp && at(j).text == "." {
				level++
				j++
			}
			name, n := "", j
			if at(j).text != "import" {
				name, n = dotted(toks, j)
			}
			if name == "" && level == 0 {
				continue
			}
			j = n
			if at(j).kind != tName || at(j).text != "import" {
				continue
			}
			j++
			var names []string
			for ; j < len(toks) && at(j).kind != tNewline; j++ {
				u := at(j)
				if u.kind == tOp && u.text == ";" {
					break
				}
				if u.kind == tName && u.text != "as" && at(j-1).text != "as" {
					names = append(names, u.text)
				}
			}
			add(Ref{Line: t.line, Kind: "from", Name: name, Level: level, Names: names})
		case (t.text == "import_module" || t.text == "__import__") && at(i+1).text == "(" && at(i-1).text != "def":
			end := matchParen(toks, i+1)
			arg := at(i + 2)
			after := at(i + 3)
			lit := arg.kind == tString && !arg.dyn && (after.text == ")" || after.text == ",")
			if t.text == "__import__" && lit && after.text == "," {
				lit = true // __import__("a.b", globals(), ...): the name is still literal
			}
			if lit && strings.HasPrefix(arg.val, ".") {
				lit = false // relative to a package named at run time
			}
			r := Ref{Line: t.line, Kind: t.text}
			if lit {
				r.Name = arg.val
			} else {
				r.Dynamic = true
				r.Expr = clip(string(src[exprStart(toks, i):at(end).end]))
			}
			add(r)
		}
	}
	return refs
}

// otherOSNames are what a test for an OS other than Linux compares with.
var otherOSNames = []string{"win32", "nt", "win", "darwin", "cygwin", "msys", "ios", "emscripten", "wasi", "java", "cli", "os2", "riscos"}

// otherOSTest reports whether the condition from toks[i] to its ":" tests
// for another OS; end is the index of the ":".
func otherOSTest(toks []token, i int) (end int, ok bool) {
	eq, other, d := false, false, 0
	for j := i; j < len(toks); j++ {
		t := toks[j]
		switch {
		case t.kind == tNewline:
			return j, false
		case t.kind == tOp && (t.text == "(" || t.text == "["):
			d++
		case t.kind == tOp && (t.text == ")" || t.text == "]"):
			d--
		case t.kind == tOp && t.text == ":" && d == 0:
			return j, eq && other
		case t.kind == tOp && t.text == "!", t.kind == tName && (t.text == "not" || t.text == "or"):
			return j, false
		case t.kind == tOp && t.text == "=":
			eq = true
		case t.kind == tName && t.text == "startswith":
			eq = true
		case t.kind == tString && slices.Contains(otherOSNames, t.val):
			other = true
		case t.kind == tName && slices.Contains([]string{"_MSWINDOWS", "_mswindows", "MS_WINDOWS", "_WINDOWS", "WINDOWS", "IS_WINDOWS", "_IS_WINDOWS"}, t.text):
			eq, other = true, true
		}
	}
	return len(toks) - 1, false
}

// pyImportErrorClause reports whether the except clause from toks[i]
// catches ImportError or ModuleNotFoundError (alone or in a tuple).
func pyImportErrorClause(toks []token, i int) bool {
	for j := i; j < len(toks) && toks[j].kind != tNewline && toks[j].text != ":"; j++ {
		if t := toks[j]; t.kind == tName && (t.text == "ImportError" || t.text == "ModuleNotFoundError") {
			return true
		}
	}
	return false
}

// typeCheckingTest reports whether the condition from toks[i] is
// TYPE_CHECKING (typing's, or typing.TYPE_CHECKING): true only for a type
// checker, never at run time.
func typeCheckingTest(toks []token, i int) bool {
	at := func(i int) token { return tokenAt(toks, i) }
	if at(i).kind == tName && at(i).text == "TYPE_CHECKING" && at(i+1).text == ":" {
		return true
	}
	return at(i).kind == tName && at(i+1).text == "." && at(i+2).text == "TYPE_CHECKING" && at(i+3).text == ":"
}

// mainTest reports whether the condition from toks[i] is
// __name__ == "__main__".
func mainTest(toks []token, i int) bool {
	if i+4 >= len(toks) || toks[i+1].text != "=" || toks[i+2].text != "=" || toks[i+4].text != ":" {
		return false
	}
	a, b := toks[i], toks[i+3]
	return a.kind == tName && a.text == "__name__" && b.kind == tString && b.val == "__main__" ||
		b.kind == tName && b.text == "__name__" && a.kind == tString && a.val == "__main__"
}

// exprStart includes a call's receiver (importlib.import_module).
func exprStart(toks []token, i int) int {
	if i >= 2 && toks[i-1].text == "." && toks[i-2].kind == tName {
		return toks[i-2].start
	}
	return toks[i].start
}

// dotted reads a dotted name at toks[i].
func dotted(toks []token, i int) (string, int) {
	var parts []string
	for i < len(toks) && toks[i].kind == tName {
		parts = append(parts, toks[i].text)
		i++
		if i+1 < len(toks) && toks[i].kind == tOp && toks[i].text == "." && toks[i+1].kind == tName {
			i++
			continue
		}
		break
	}
	return strings.Join(parts, "."), i
}

// matchParen returns the index of the parenthesis closing toks[i].
func matchParen(toks []token, i int) int {
	d := 0
	for j := i; j < len(toks); j++ {
		switch toks[j].text {
		case "(", "[", "{":
			if toks[j].kind == tOp {
				d++
			}
		case ")", "]", "}":
			if toks[j].kind == tOp {
				d--
				if d == 0 {
					return j
				}
			}
		}
	}
	return len(toks) - 1
}

// pyPaths is the image's Python module search path.
type pyPaths struct {
	dirs []string // in search order
	tags []string // extension module suffixes: ".cpython-311-x86_64-linux-gnu.so", ".abi3.so", ".so"
}

var pyLibDir = regexp.MustCompile(`^(/usr(?:/local)?|/opt/[^/]+|)/lib(?:64)?/python3\.[0-9]+`)

func (r *Resolver) pythonPaths() *pyPaths {
	if r.py != nil {
		return r.py
	}
	p := &pyPaths{}
	p.dirs = appendUniq(p.dirs, r.envDirs("PYTHONPATH")...)
	var stdlibs []string
	for _, f := range r.env.Seen {
		if m := pyLibDir.FindString(f); m != "" {
			stdlibs = appendUniq(stdlibs, m)
		}
	}
	// sys.path[0]: the directory of a script that is not part of a
	// library (the application's own).
	for _, f := range r.env.Seen {
		if strings.HasSuffix(f, ".py") && pyLibDir.FindString(f) == "" && !strings.Contains(f, "-packages/") {
			p.dirs = appendUniq(p.dirs, path.Dir(f))
		}
	}
	var sites []string
	for _, lib := range stdlibs {
		p.dirs = appendUniq(p.dirs, lib, lib+"/lib-dynload")
		ver := path.Base(lib)
		prefix := strings.TrimSuffix(path.Dir(path.Dir(lib)), "/")
		for _, s := range []string{"/usr/local/lib/" + ver + "/dist-packages", "/usr/local/lib/python3/dist-packages",
			"/usr/lib/python3/dist-packages", lib + "/dist-packages", lib + "/site-packages",
			prefix + "/lib/" + ver + "/site-packages"} {
			if r.isDir(s) {
				sites = appendUniq(sites, s)
			}
		}
		for _, n := range r.list(lib + "/lib-dynload") {
			if i := strings.Index(n, ".cpython-"); i > 0 && strings.HasSuffix(n, ".so") {
				p.tags = appendUniq(p.tags, n[i:])
			}
		}
	}
	for _, s := range sites {
		p.dirs = appendUniq(p.dirs, s)
		for _, n := range r.list(s) {
			if !strings.HasSuffix(n, ".pth") {
				continue
			}
			b, err := fs.ReadFile(r.fs, fsName(s+"/"+n))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n") {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "import ") || strings.HasPrefix(l, "import\t") {
					continue
				}
				d := l
				if !strings.HasPrefix(d, "/") {
					d = s + "/" + d
				}
				if r.full(len(p.dirs), s+"/"+n) {
					break
				}
				if d = path.Clean(d); r.isDir(d) {
					p.dirs = appendUniq(p.dirs, d)
				}
			}
		}
	}
	p.tags = append(p.tags, ".abi3.so", ".so")
	r.py = p
	return p
}

// pyModule finds a module or package named by the dotted parts beneath
// dir, with the __init__ files of the packages on the way.
func (r *Resolver) pyModule(dir string, parts []string, tags []string) ([]string, bool) {
	var files []string
	for i, part := range parts {
		base := dir + "/" + part
		last := i == len(parts)-1
		if last {
			if f := r.pyFile(base, tags); f != "" {
				return append(files, f), true
			}
		}
		if !r.isDir(base) {
			return nil, false
		}
		if f := r.pyFile(base+"/__init__", tags); f != "" {
			files = append(files, f)
		} else if last && len(files) == 0 && i == 0 && !r.nsPackage(base) {
			return nil, false
		}
		dir = base
	}
	return files, true
}

// nsPackage reports whether a directory holds Python code (a namespace
// package), not just any directory of the same name.
func (r *Resolver) nsPackage(dir string) bool {
	return slices.ContainsFunc(r.list(dir), func(n string) bool {
		return strings.HasSuffix(n, ".py") || strings.HasSuffix(n, ".so")
	})
}

// pyFile returns a module's file: source, else sourceless bytecode, else
// an extension module.
func (r *Resolver) pyFile(base string, tags []string) string {
	for _, suf := range append([]string{".py", ".pyc"}, tags...) {
		if r.isFile(base + suf) {
			return base + suf
		}
	}
	return ""
}

func (r *Resolver) resolvePython(from string, ref Ref) ([]string, bool) {
	if ref.Kind == "installed_app" {
		// Django's INSTALLED_APPS names a module or an AppConfig class in one.
		ref.Kind = "import"
		if files, ok := r.resolvePython(from, ref); ok {
			return files, ok
		}
		i := strings.LastIndexByte(ref.Name, '.')
		if i <= 0 {
			return nil, false
		}
		ref.Name = ref.Name[:i]
		return r.resolvePython(from, ref)
	}
	p := r.pythonPaths()
	var roots []string
	name := ref.Name
	if ref.Level > 0 {
		d := path.Dir(from)
		for i := 1; i < ref.Level; i++ {
			d = path.Dir(d)
		}
		roots = []string{d}
	} else {
		roots = p.dirs
		if !slices.Contains(roots, path.Dir(from)) && !strings.Contains(from, "/python3") {
			roots = append([]string{path.Dir(from)}, roots...)
		}
	}
	var parts []string
	if name != "" {
		parts = strings.Split(name, ".")
	}
	for _, root := range roots {
		var files []string
		ok := true
		if len(parts) > 0 {
			files, ok = r.pyModule(root, parts, p.tags)
		}
		if !ok {
			continue
		}
		if ref.Kind == "from" {
			// "from pkg import mod": each name may be a submodule.
			pkg := path.Join(root, strings.Join(parts, "/"))
			if r.isDir(pkg) {
				for _, n := range ref.Names {
					if f := r.pyFile(pkg+"/"+n, p.tags); f != "" {
						files = append(files, f)
					} else if r.isDir(pkg + "/" + n) {
						if f := r.pyFile(pkg+"/"+n+"/__init__", p.tags); f != "" {
							files = append(files, f)
						}
					}
				}
			}
		}
		return files, len(files) > 0 || len(parts) == 0
	}
	return nil, false
}

// PythonNames parses Python source as Parse does, and returns too the
// string literals that name a module by its dotted path
// ("django.template.loaders.filesystem.Loader"): the names
// import_string-style loaders and settings hand to importlib at run time.
// Each is cut at its first character that cannot be in a dotted name; one
// cut just after a dot ("django.conf.locale.%s") is the prefix of names
// computed at run time and keeps that dot. Those with fewer than two
// components are left out. Deferred is set for those in a function.
func PythonNames(src []byte) (refs, names []Ref) {
	refs = parsePython(src, &names)
	return refs, names
}

func dottedName(s string) (string, bool) {
	end := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	prefix := false
	if end >= 0 {
		s = s[:end]
		prefix = strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "..")
	}
	s = strings.TrimSuffix(s, ".")
	comps := strings.Split(s, ".")
	if len(comps) < 2 {
		return "", false
	}
	for _, c := range comps {
		if c == "" || c[0] >= '0' && c[0] <= '9' {
			return "", false
		}
	}
	if prefix {
		s += "."
	}
	return s, true
}
