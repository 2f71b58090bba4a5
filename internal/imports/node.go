package imports

import (
	"encoding/json"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// jsRegexAfter are the keywords after which a slash starts a regular
// expression, not a division.
var jsRegexAfter = []string{"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
	"case", "do", "else", "yield", "await"}

// lexJS tokenizes JavaScript: comments, quoted strings, template literals
// (with their substitutions tokenized as code) and regular expressions
// told from divisions by the token before the slash.
func lexJS(src []byte) []token {
	s := string(src)
	toks := make([]token, 0, len(src)/8)
	line := 1
	var tmpl []int // brace depths at which a template's substitution closes
	depth := 0
	regexOK := func() bool {
		if len(toks) == 0 {
			return true
		}
		p := toks[len(toks)-1]
		switch p.kind {
		case tName:
			return slices.Contains(jsRegexAfter, p.text)
		case tNum, tString:
			return false
		case tOp:
			return p.text != ")" && p.text != "]"
		}
		return true
	}
	// template reads a template literal's text from s[i] (after "`" or
	// "}") up to its end or next substitution.
	var template func(i, start int) int
	template = func(i, start int) int {
		var b strings.Builder
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s):
				if s[i+1] == '\n' {
					line++
				}
				b.WriteByte(s[i+1])
				i += 2
			case c == '`':
				toks = append(toks, token{kind: tString, val: b.String(), line: line, start: start, end: i + 1})
				return i + 1
			case c == '$' && i+1 < len(s) && s[i+1] == '{':
				toks = append(toks, token{kind: tString, dyn: true, line: line, start: start, end: i})
				depth++
				tmpl = append(tmpl, depth)
				return i + 2
			default:
				if c == '\n' {
					line++
				}
				b.WriteByte(c)
				i++
			}
		}
		return i
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			var n int
			i, n = skipBlockComment(s, i)
			line += n
		case c == '#' && i == 0 && i+1 < len(s) && s[i+1] == '!':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			dyn := false
			for j < len(s) && s[j] != c && s[j] != '\n' {
				if s[j] == '\\' && j+1 < len(s) {
					dyn = true
					j += 2
					continue
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tString, val: b.String(), dyn: dyn, line: line, start: i, end: j + 1})
			i = j + 1
		case c == '`':
			i = template(i+1, i)
		case c == '/' && regexOK():
			j, class := i+1, false
			for j < len(s) && s[j] != '\n' {
				if s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == '[' {
					class = true
				} else if s[j] == ']' {
					class = false
				} else if s[j] == '/' && !class {
					break
				}
				j++
			}
			j++
			for j < len(s) && isIdent(s[j]) {
				j++ // flags
			}
			toks = append(toks, token{kind: tNum, text: "regexp", line: line, start: i, end: j})
			i = j
		case isIdentStart(c) || c == '$':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '$') {
				j++
			}
			toks = append(toks, token{kind: tName, text: s[i:j], line: line, start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tNum, text: s[i:j], line: line, start: i, end: j})
			i = j
		default:
			switch c {
			case '{', '(', '[':
				depth++
			case '}', ')', ']':
				if c == '}' && len(tmpl) > 0 && tmpl[len(tmpl)-1] == depth {
					tmpl = tmpl[:len(tmpl)-1]
					depth--
					i = template(i+1, i)
					continue
				}
				depth--
			}
			toks = append(toks, token{kind: tOp, text: string(c), line: line, start: i, end: i + 1})
			i++
		}
	}
	return toks
}

// parseNode finds require("x"), import ... from "x", import "x",
// export ... from "x" and import("x").
func parseNode(src []byte) []Ref {
	toks := lexJS(src)
	at := func(i int) token { return tokenAt(toks, i) }
	var refs []Ref
	call := func(i int, kind string) {
		end := matchParen(toks, i+1)
		arg := at(i + 2)
		if arg.kind == tString && !arg.dyn && (at(i+3).text == ")" || at(i+3).text == ",") {
			refs = append(refs, Ref{Line: toks[i].line, Kind: kind, Name: arg.val})
			return
		}
		refs = append(refs, Ref{Line: toks[i].line, Kind: kind, Dynamic: true, Expr: clip(string(src[toks[i].start:at(end).end]))})
	}
	cons := consolidateNames(toks)
	for i, t := range toks {
		if t.kind != tName {
			continue
		}
		prev := at(i - 1)
		if t.text == "set" && prev.kind == tOp && prev.text == "." {
			if r, ok := nodeViewEngine(toks, i); ok {
				refs = append(refs, r)
			}
			continue
		}
		if t.text == "engine" && prev.kind == tOp && prev.text == "." {
			refs = append(refs, consolidateEngine(toks, i, cons)...)
			continue
		}
		if prev.kind == tOp && prev.text == "." || prev.kind == tName && prev.text == "function" {
			continue
		}
		switch t.text {
		case "require":
			if at(i+1).text == "(" && at(i+1).kind == tOp {
				call(i, "require")
			}
		case "import", "export":
			next := at(i + 1)
			if t.text == "import" && next.kind == tOp && next.text == "(" {
				call(i, "import()")
				continue
			}
			if t.text == "import" && next.kind == tString && !next.dyn {
				refs = append(refs, Ref{Line: t.line, Kind: "import", Name: next.val})
				continue
			}
			// import a, {b as c} from "x"; export * from "x"
			for j := i + 1; j < len(toks) && j < i+200; j++ {
				u := toks[j]
				if u.kind == tOp && (u.text == ";" || u.text == "=" || u.text == "(") {
					break
				}
				if u.kind == tName && slices.Contains([]string{"function", "class", "const", "let", "var", "default", "async"}, u.text) {
					break
				}
				if u.kind == tName && u.text == "from" && at(j+1).kind == tString {
					if v := at(j + 1); !v.dyn {
						refs = append(refs, Ref{Line: t.line, Kind: "import", Name: v.val})
					}
					break
				}
			}
		}
	}
	return refs
}

// nodeViewEngine reads Express's app.set("view engine", "NAME") at toks[i]
// (the "set"): Express requires the package NAME (the extension without its
// dot) at the first render of a view with no extension of its own, or with
// that one.
func nodeViewEngine(toks []token, i int) (Ref, bool) {
	at := func(i int) token { return tokenAt(toks, i) }
	if at(i+1).text != "(" || at(i+2).kind != tString || at(i+2).val != "view engine" || at(i+3).text != "," {
		return Ref{}, false
	}
	v := at(i + 4)
	if v.kind != tString || v.dyn || at(i+5).text != ")" {
		return Ref{}, false
	}
	name := strings.TrimPrefix(v.val, ".")
	if name == "" || strings.ContainsAny(name, "/\\") {
		return Ref{}, false
	}
	return Ref{Line: toks[i].line, Kind: "view engine", Name: name, Exts: []string{name}}, true
}

// consolidateNames returns the names bound to require("consolidate") in a
// file: NAME = require("consolidate").
func consolidateNames(toks []token) map[string]bool {
	at := func(i int) token { return tokenAt(toks, i) }
	names := map[string]bool{}
	for i, t := range toks {
		if t.kind == tName && t.text == "require" && at(i+1).text == "(" && at(i+2).kind == tString &&
			at(i+2).val == "consolidate" && at(i+3).text == ")" && at(i-1).text == "=" && at(i-2).kind == tName {
			names[at(i-2).text] = true
		}
	}
	return names
}

// consolidatePackages are the packages consolidate requires for an engine
// whose name is not its package's (consolidate 0.16); it tries them in
// order. Any other engine NAME is the package NAME.
var consolidatePackages = map[string][]string{
	"dust":   {"dust", "dustjs-helpers", "dustjs-linkedin"},
	"haml":   {"hamljs"},
	"hogan":  {"hogan.js"},
	"liquid": {"tinyliquid", "liquid-node"},
	"swig":   {"swig-templates", "swig"},
	"teacup": {"teacup/lib/express"},
}

// consolidateEngine reads app.engine("EXT", CONS.NAME) at toks[i] (the
// "engine"), CONS bound to require("consolidate") or written as such:
// consolidate requires NAME's package at the first render of a view with
// extension EXT.
func consolidateEngine(toks []token, i int, cons map[string]bool) []Ref {
	at := func(i int) token { return tokenAt(toks, i) }
	ext := at(i + 2)
	if at(i+1).text != "(" || ext.kind != tString || ext.dyn || at(i+3).text != "," {
		return nil
	}
	j := i + 4
	switch {
	case at(j).kind == tName && cons[at(j).text]:
		j++
	case at(j).text == "require" && at(j+1).text == "(" && at(j+2).kind == tString && at(j+2).val == "consolidate" &&
		at(j+3).text == ")":
		j += 4
	default:
		return nil
	}
	engine := at(j + 1)
	if at(j).text != "." || engine.kind != tName || at(j+2).text != ")" {
		return nil
	}
	e := strings.TrimPrefix(ext.val, ".")
	if e == "" || strings.ContainsAny(e, "/\\") {
		return nil
	}
	pkgs, ok := consolidatePackages[engine.text]
	if !ok {
		pkgs = []string{engine.text}
	}
	var refs []Ref
	for _, p := range pkgs {
		refs = append(refs, Ref{Line: toks[i].line, Kind: "view engine", Name: p, Exts: []string{e}})
	}
	return refs
}

// nodeBuiltins are Node's core modules: they need no file.
var nodeBuiltins = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`assert assert/strict async_hooks buffer child_process cluster console constants
		crypto dgram diagnostics_channel dns dns/promises domain events fs fs/promises http http2 https inspector
		inspector/promises module net os path path/posix path/win32 perf_hooks process punycode querystring readline
		readline/promises repl stream stream/consumers stream/promises stream/web string_decoder sys test timers
		timers/promises tls trace_events tty url util util/types v8 vm wasi worker_threads zlib`) {
		nodeBuiltins[n] = true
	}
}

// nodePaths are the global folders Node searches after node_modules.
type nodePaths struct {
	global []string
}

func (r *Resolver) nodePaths() *nodePaths {
	if r.nd != nil {
		return r.nd
	}
	n := &nodePaths{}
	n.global = appendUniq(n.global, r.envDirs("NODE_PATH")...)
	if h, ok := envValue(r.env.Env, "HOME"); ok && strings.HasPrefix(h, "/") {
		n.global = appendUniq(n.global, h+"/.node_modules", h+"/.node_libraries")
	}
	// Debian's node also searches these; the prefix's lib/node.
	for _, d := range []string{"/usr/local/lib/nodejs", "/usr/local/share/nodejs", "/usr/lib/nodejs",
		"/usr/share/nodejs", "/usr/lib/node", "/usr/local/lib/node"} {
		if r.isDir(d) {
			n.global = appendUniq(n.global, d)
		}
	}
	r.nd = n
	return n
}

func (r *Resolver) resolveNode(from string, ref Ref) ([]string, bool) {
	name := ref.Name
	if strings.HasPrefix(name, "node:") || nodeBuiltins[name] {
		return nil, false
	}
	if strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../") || name == "." || name == ".." || strings.HasPrefix(name, "/") {
		p := name
		if !strings.HasPrefix(p, "/") {
			p = path.Join(path.Dir(from), p)
		}
		return r.nodeFileOrDir(p)
	}
	pkg, sub := name, ""
	parts := strings.SplitN(name, "/", 3)
	if strings.HasPrefix(name, "@") && len(parts) >= 2 {
		pkg = parts[0] + "/" + parts[1]
		if len(parts) == 3 {
			sub = parts[2]
		}
	} else if i := strings.IndexByte(name, '/'); i > 0 {
		pkg, sub = name[:i], name[i+1:]
	}
	var dirs []string
	for d := path.Dir(from); ; d = path.Dir(d) {
		if path.Base(d) != "node_modules" {
			dirs = append(dirs, strings.TrimSuffix(d, "/")+"/node_modules")
		}
		if d == "/" {
			break
		}
	}
	dirs = append(dirs, r.nodePaths().global...)
	for _, d := range dirs {
		root := d + "/" + pkg
		if !r.isDir(root) {
			continue
		}
		conds := []string{"node", "require", "import", "default"}
		if ref.Kind == "import" || ref.Kind == "import()" {
			conds = []string{"node", "import", "require", "default"} // what an ES module is given
		}
		if files, ok := r.nodeExports(root, sub, conds); ok {
			return files, true
		}
		if sub == "" {
			return r.nodeFileOrDir(root)
		}
		files, ok := r.nodeFileOrDir(root + "/" + sub)
		if ok && r.isFile(root+"/package.json") {
			files = append(files, root+"/package.json")
		}
		return files, ok
	}
	return nil, false
}

// packageJSON is what the resolver uses of a package.json.
type packageJSON struct {
	Main    string          `json:"main"`
	Exports json.RawMessage `json:"exports"`
}

// packageJSON returns dir's package.json, read and parsed once however many
// requires lead to it (an app with thousands of requires into one package
// read it thousands of times); nil when there is none.
func (r *Resolver) packageJSON(dir string) *packageJSON {
	if pj, ok := r.pkgs[dir]; ok {
		return pj
	}
	var pj *packageJSON
	if b, err := fs.ReadFile(r.fs, fsName(dir+"/package.json")); err == nil {
		pj = new(packageJSON)
		if json.Unmarshal(b, pj) != nil {
			pj = &packageJSON{} // there, but nothing to use in it
		}
	}
	r.pkgs[dir] = pj
	return pj
}

// nodeFileOrDir is LOAD_AS_FILE then LOAD_AS_DIRECTORY.
func (r *Resolver) nodeFileOrDir(p string) ([]string, bool) {
	if f := r.nodeFile(p); f != "" {
		return []string{f}, true
	}
	if !r.isDir(p) {
		return nil, false
	}
	if pj := r.packageJSON(p); pj != nil {
		if pj.Main != "" {
			m := path.Join(p, pj.Main)
			if f := r.nodeFile(m); f != "" {
				return []string{f, p + "/package.json"}, true
			}
			if f := r.nodeIndex(m); f != "" {
				return []string{f, p + "/package.json"}, true
			}
		}
		if f := r.nodeIndex(p); f != "" {
			return []string{f, p + "/package.json"}, true
		}
	}
	if f := r.nodeIndex(p); f != "" {
		return []string{f}, true
	}
	return nil, false
}

func (r *Resolver) nodeFile(p string) string {
	for _, suf := range []string{"", ".js", ".json", ".node", ".mjs", ".cjs"} {
		if r.isFile(p + suf) {
			return p + suf
		}
	}
	return ""
}

func (r *Resolver) nodeIndex(p string) string {
	for _, n := range []string{"/index.js", "/index.json", "/index.node"} {
		if r.isFile(p + n) {
			return p + n
		}
	}
	return ""
}

// nodeExports resolves a package's "exports" map, when it has one.
func (r *Resolver) nodeExports(root, sub string, conds []string) ([]string, bool) {
	pj := r.packageJSON(root)
	if pj == nil || len(pj.Exports) == 0 {
		return nil, false
	}
	key := "."
	if sub != "" {
		key = "./" + sub
	}
	var target any
	var exp any
	if json.Unmarshal(pj.Exports, &exp) != nil {
		return nil, false
	}
	m, isMap := exp.(map[string]any)
	subpaths := isMap && len(m) > 0
	for k := range m {
		if !strings.HasPrefix(k, ".") {
			subpaths = false
		}
	}
	switch {
	case !subpaths && key == ".":
		target = exp
	case subpaths:
		if t, ok := m[key]; ok {
			target = t
		} else {
			for k, t := range m {
				pre, post, ok := strings.Cut(k, "*")
				if ok && strings.HasPrefix(key, pre) && strings.HasSuffix(key, post) && len(key) >= len(pre)+len(post) {
					star := key[len(pre) : len(key)-len(post)]
					if s := exportTarget(t, conds); s != "" {
						target = strings.ReplaceAll(s, "*", star)
					}
				}
			}
		}
	}
	s := exportTarget(target, conds)
	if s == "" {
		return nil, false
	}
	f := path.Join(root, s)
	if !r.isFile(f) {
		return nil, false
	}
	return []string{f, root + "/package.json"}, true
}

// exportTarget picks an export's target under the first of conds the
// export has.
func exportTarget(t any, conds []string) string {
	switch v := t.(type) {
	case string:
		return v
	case []any:
		for _, x := range v {
			if s := exportTarget(x, conds); s != "" {
				return s
			}
		}
	case map[string]any:
		for _, cond := range conds {
			if x, ok := v[cond]; ok {
				if s := exportTarget(x, conds); s != "" {
					return s
				}
			}
		}
	}
	return ""
}
