package imports

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// lexPHP tokenizes the code regions of a PHP file (<?php ... ?>, <?= ...
// ?>), skipping inline HTML: comments (//, #, /* */), single- and
// double-quoted strings (with $var interpolation), heredocs and nowdocs.
// "?>" ends a statement, as ";" does.
func lexPHP(src []byte) []token {
	s := string(src)
	toks := make([]token, 0, len(src)/8)
	line := 1
	code := false
	for i := 0; i < len(s); {
		if !code {
			j := strings.Index(s[i:], "<?")
			if j < 0 {
				break
			}
			line += strings.Count(s[i:i+j], "\n")
			i += j + 2
			if strings.HasPrefix(strings.ToLower(s[i:]), "php") {
				i += 3
			} else if strings.HasPrefix(s[i:], "=") {
				i++
			}
			code = true
			continue
		}
		c := s[i]
		switch {
		case c == '?' && i+1 < len(s) && s[i+1] == '>':
			toks = append(toks, token{kind: tOp, text: ";", line: line, start: i, end: i + 2})
			code = false
			i += 2
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' && !(i+1 < len(s) && s[i+1] == '[') || c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' && !(s[i] == '?' && i+1 < len(s) && s[i+1] == '>') {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			var n int
			i, n = skipBlockComment(s, i)
			line += n
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			dyn := false
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && j+1 < len(s) {
					if s[j+1] == c || s[j+1] == '\\' {
						b.WriteByte(s[j+1])
					} else {
						dyn = dyn || c == '"'
						b.WriteString(s[j : j+2])
					}
					j += 2
					continue
				}
				if c == '"' && (s[j] == '$' && j+1 < len(s) && (isIdentStart(s[j+1]) || s[j+1] == '{') || s[j] == '{' && j+1 < len(s) && s[j+1] == '$') {
					dyn = true
				}
				if s[j] == '\n' {
					line++
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tString, val: b.String(), dyn: dyn, line: line, start: i, end: j + 1})
			i = j + 1
		case strings.HasPrefix(s[i:], "<<<"):
			m := phpHeredoc.FindStringSubmatch(s[i:])
			if m == nil {
				toks = append(toks, token{kind: tOp, text: "<", line: line, start: i, end: i + 1})
				i++
				continue
			}
			start, l0 := i, line
			i += len(m[0])
			line++
			term := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(m[2]) + `\b`)
			loc := term.FindStringIndex(s[i:])
			if loc == nil {
				return toks
			}
			line += strings.Count(s[i:i+loc[1]], "\n")
			i += loc[1]
			toks = append(toks, token{kind: tString, dyn: true, line: l0, start: start, end: i})
		case isIdentStart(c) || c == '$' || c == '\\':
			j := i + 1
			for j < len(s) && (isIdent(s[j]) || s[j] == '\\') {
				j++
			}
			toks = append(toks, token{kind: tName, text: s[i:j], line: line, start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tNum, text: s[i:j], line: line, start: i, end: j})
			i = j
		default:
			toks = append(toks, token{kind: tOp, text: string(c), line: line, start: i, end: i + 1})
			i++
		}
	}
	return toks
}

var phpHeredoc = regexp.MustCompile(`^<<<[ \t]*(['"]?)([A-Za-z_][A-Za-z0-9_]*)['"]?\r?\n`)

// parsePHP finds include, include_once, require and require_once with a
// literal path, or one built from __DIR__ / dirname(__FILE__) and
// literals joined with ".".
func parsePHP(src []byte) []Ref {
	toks := lexPHP(src)
	var refs []Ref
	for i, t := range toks {
		if t.kind != tName {
			continue
		}
		switch strings.ToLower(t.text) {
		case "include", "include_once", "require", "require_once":
		default:
			continue
		}
		if i > 0 && (toks[i-1].text == "->" || toks[i-1].text == ">" || toks[i-1].text == "function" ||
			i > 1 && toks[i-1].text == ":" && toks[i-2].text == ":") {
			continue
		}
		end := i + 1
		for end < len(toks) && !(toks[end].kind == tOp && (toks[end].text == ";" || toks[end].text == ")" && matchParen(toks, i+1) == end && toks[i+1].text == "(")) {
			if toks[end].kind == tOp && toks[end].text == "(" && end != i+1 {
				end = matchParen(toks, end)
			}
			end++
		}
		arg := toks[i+1 : min(end, len(toks))]
		if len(arg) > 0 && arg[0].text == "(" {
			arg = arg[1:]
		}
		r := Ref{Line: t.line, Kind: "include"}
		if name, fromDir, ok := phpPath(arg); ok {
			r.Name, r.FromDir = name, fromDir
		} else {
			r.Dynamic = true
			last := t.end
			if len(arg) > 0 {
				last = arg[len(arg)-1].end
			}
			r.Expr = clip(string(src[t.start:last]))
		}
		refs = append(refs, r)
	}
	if isComposerMap(src) {
		refs = append(refs, composerRefs(toks)...)
	}
	return append(refs, phpClassRefs(toks)...)
}

// phpClassRefs returns the classes a file names with literal names, which
// an autoloader (composer's PSR-4 map) loads at their first use: "use
// A\B;" (and "use A\B as C"), "new A\B" and "A\B::" with the name
// qualified, or unqualified inside "namespace X;". Kind "class", Name
// fully qualified without its leading backslash.
func phpClassRefs(toks []token) []Ref {
	at := func(i int) token { return tokenAt(toks, i) }
	var refs []Ref
	ns := ""
	qualify := func(n string) string {
		if strings.HasPrefix(n, "\\") {
			return n[1:]
		}
		if ns != "" {
			return ns + "\\" + n
		}
		return n
	}
	for i, t := range toks {
		if t.kind != tName {
			continue
		}
		prev := at(i - 1)
		switch lt := strings.ToLower(t.text); {
		case lt == "namespace" && at(i+1).kind == tName && at(i+2).text == ";":
			ns = strings.TrimPrefix(at(i+1).text, "\\")
		case lt == "use" && (i == 0 || prev.kind == tOp && (prev.text == ";" || prev.text == "{" || prev.text == "}")) &&
			at(i+1).kind == tName && at(i+2).text != "{" && !strings.EqualFold(at(i+1).text, "function") && !strings.EqualFold(at(i+1).text, "const"):
			for j := i + 1; at(j).kind == tName; j += 2 {
				if n := strings.TrimPrefix(at(j).text, "\\"); strings.Contains(n, "\\") {
					refs = append(refs, Ref{Line: t.line, Kind: "class", Name: n})
				}
				if strings.EqualFold(at(j+1).text, "as") {
					j += 2
				}
				if at(j+1).text != "," {
					break
				}
			}
		case lt == "new" && at(i+1).kind == tName && !strings.HasPrefix(at(i+1).text, "$"):
			n := at(i + 1).text
			if l := strings.ToLower(n); l == "static" || l == "self" || l == "parent" || l == "class" {
				continue
			}
			if q := qualify(n); strings.Contains(q, "\\") {
				refs = append(refs, Ref{Line: t.line, Kind: "class", Name: q})
			}
		case strings.Contains(t.text, "\\") && at(i+1).text == ":" && at(i+2).text == ":" && prev.text != "new" && !strings.HasPrefix(t.text, "$"):
			refs = append(refs, Ref{Line: t.line, Kind: "class", Name: qualify(t.text)})
		}
	}
	return refs
}

// psr4 is one composer PSR-4 map: namespace prefixes and their directories.
type psr4 struct {
	prefixes []string // longest first
	dirs     map[string][]string
}

var (
	psr4Entry = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'\s*=>\s*array\s*\(([^)]*)\)`)
	psr4Dir   = regexp.MustCompile(`(\$vendorDir|\$baseDir)\s*\.\s*'([^']*)'`)
)

// psr4Map reads vendor/composer/autoload_psr4.php of the vendor directory
// vendor (nil when there is none).
func (r *Resolver) psr4Map(vendor string) *psr4 {
	if m, ok := r.psr4[vendor]; ok {
		return m
	}
	if r.psr4 == nil {
		r.psr4 = map[string]*psr4{}
	}
	r.psr4[vendor] = nil
	b, err := fs.ReadFile(r.fs, fsName(vendor+"/composer/autoload_psr4.php"))
	if err != nil {
		return nil
	}
	m := &psr4{dirs: map[string][]string{}}
	for _, e := range psr4Entry.FindAllStringSubmatch(string(b), -1) {
		prefix := strings.ReplaceAll(e[1], "\\\\", "\\")
		for _, d := range psr4Dir.FindAllStringSubmatch(e[2], -1) {
			base := vendor
			if d[1] == "$baseDir" {
				base = path.Dir(vendor)
			}
			m.dirs[prefix] = append(m.dirs[prefix], path.Join(base, d[2]))
		}
		if len(m.dirs[prefix]) > 0 && !slices.Contains(m.prefixes, prefix) {
			m.prefixes = append(m.prefixes, prefix)
		}
	}
	slices.SortStableFunc(m.prefixes, func(a, b string) int { return len(b) - len(a) })
	r.psr4[vendor] = m
	return m
}

// resolveClass finds a class's file through the PSR-4 map of the nearest
// vendor directory above from (or in the working directory): the longest
// matching prefix's directories, the rest of the name as a path.
func (r *Resolver) resolveClass(from, class string) ([]string, bool) {
	var vendors []string
	for d := path.Dir(from); ; d = path.Dir(d) {
		vendors = append(vendors, path.Join(d, "vendor"))
		if d == "/" {
			break
		}
	}
	if r.env.WorkingDir != "" {
		vendors = append(vendors, path.Join(r.env.WorkingDir, "vendor"))
	}
	for _, v := range vendors {
		m := r.psr4Map(v)
		if m == nil {
			continue
		}
		for _, p := range m.prefixes {
			rest, ok := strings.CutPrefix(class, p)
			if !ok {
				continue
			}
			for _, d := range m.dirs[p] {
				if f := path.Join(d, strings.ReplaceAll(rest, "\\", "/")+".php"); r.isFile(f) {
					return []string{f}, true
				}
			}
		}
		return nil, false
	}
	return nil, false
}

// isComposerMap reports whether a file is one of composer's generated
// autoload maps (vendor/composer/autoload_static.php, autoload_classmap.php,
// autoload_files.php), which name the files the autoloader may include
// later.
func isComposerMap(src []byte) bool {
	s := string(src)
	return strings.Contains(s, "class ComposerStaticInit") || strings.Contains(s, "$vendorDir = dirname(")
}

// composerRefs returns the files an autoload map names: __DIR__ . '/..' .
// '/pkg/src/X.php' (autoload_static.php), $vendorDir . '/pkg/x.php' and
// $baseDir . '/src/x.php' (the others); the maps live in vendor/composer.
// Directories (PSR-4 and PSR-0 prefixes) are not followed.
func composerRefs(toks []token) []Ref {
	var refs []Ref
	for i := 0; i+2 < len(toks); i++ {
		t := toks[i]
		if t.kind != tName || toks[i+1].text != "." {
			continue
		}
		var prefix string
		switch t.text {
		case "__DIR__":
		case "$vendorDir":
			prefix = ".."
		case "$baseDir":
			prefix = "../.."
		default:
			continue
		}
		var b strings.Builder
		j := i + 2
		for ; j < len(toks) && toks[j].kind == tString && !toks[j].dyn; j += 2 {
			b.WriteString(toks[j].val)
			if j+1 >= len(toks) || toks[j+1].text != "." {
				break
			}
		}
		name := path.Join(prefix, strings.TrimPrefix(b.String(), "/"))
		if strings.HasSuffix(name, ".php") {
			refs = append(refs, Ref{Line: t.line, Kind: "autoload", Name: name, FromDir: true})
		}
		i = j
	}
	return refs
}

// phpPath evaluates an include's argument: literals, __DIR__ and
// dirname(__FILE__) joined with ".".
func phpPath(arg []token) (name string, fromDir, ok bool) {
	var b strings.Builder
	for k := 0; k < len(arg); {
		t := arg[k]
		switch {
		case t.kind == tString && !t.dyn:
			b.WriteString(t.val)
			k++
		case t.kind == tName && t.text == "__DIR__" && k == 0:
			fromDir = true
			k++
		case t.kind == tName && strings.EqualFold(t.text, "dirname") && k == 0 && k+3 < len(arg) &&
			arg[k+1].text == "(" && arg[k+2].text == "__FILE__" && arg[k+3].text == ")":
			fromDir = true
			k += 4
		default:
			return "", false, false
		}
		if k < len(arg) {
			if arg[k].text != "." {
				return "", false, false
			}
			k++
		}
	}
	name = b.String()
	if name == "" {
		return "", false, false
	}
	if fromDir {
		name = strings.TrimPrefix(name, "/")
	}
	return name, fromDir, true
}

func (r *Resolver) resolvePHP(from string, ref Ref) ([]string, bool) {
	if ref.Kind == "class" {
		return r.resolveClass(from, ref.Name)
	}
	name := ref.Name
	var cands []string
	switch {
	case ref.FromDir:
		cands = []string{path.Join(path.Dir(from), name)}
	case strings.HasPrefix(name, "/"):
		cands = []string{path.Clean(name)}
	case strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../"):
		// Relative to the working directory (the script's, for the
		// built-in server and the CLI alike, is the usual case).
		cands = []string{path.Join(path.Dir(from), name)}
		if r.env.WorkingDir != "" {
			cands = append(cands, path.Join(r.env.WorkingDir, name))
		}
	default:
		// include_path (".:/usr/share/php"), then the calling script's
		// directory.
		for _, d := range []string{r.env.WorkingDir, "/usr/share/php", path.Dir(from)} {
			if d != "" {
				cands = append(cands, path.Join(d, name))
			}
		}
	}
	for _, c := range cands {
		if r.isFile(c) {
			return []string{c}, true
		}
	}
	return nil, false
}
