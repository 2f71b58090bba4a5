package imports

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

var rubyRegexAfter = []string{"if", "unless", "when", "and", "or", "not", "return", "while", "until", "then", "do", "puts", "split", "match", "scan", "sub", "gsub", "=~"}

// rubyPair closes a %-literal's opening delimiter.
var rubyPair = map[byte]byte{'(': ')', '[': ']', '{': '}', '<': '>'}

// lexRuby tokenizes Ruby: comments and =begin/=end blocks, quoted strings
// with #{} interpolation, %q/%Q/%w/%i/%r literals, heredocs (<<ID, <<-ID,
// <<~ID, quoted IDs), symbols and regular expressions.
func lexRuby(src []byte) []token {
	s := string(src)
	toks := make([]token, 0, len(src)/8)
	line := 1
	var heredocs []string // terminators of heredocs whose bodies start at the next line
	lastNL := true
	emit := func(t token) { toks = append(toks, t); lastNL = false }
	regexOK := func(spaceBefore bool, next byte) bool {
		if len(toks) == 0 {
			return true
		}
		p := toks[len(toks)-1]
		switch p.kind {
		case tOp:
			return p.text != ")" && p.text != "]" && p.text != "}"
		case tName:
			if slices.Contains(rubyRegexAfter, p.text) {
				return true
			}
			return spaceBefore && next != ' ' && next != '='
		case tNewline:
			return true
		}
		return false
	}
	// quoted reads a string from s[i] (after the opening delimiter) up to
	// close, with nesting of open; interp: #{} makes it dynamic.
	quoted := func(i int, open, close byte, interp bool) (string, bool, int) {
		var b strings.Builder
		dyn, nest := false, 0
		for i < len(s) {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				if s[i+1] == '\n' {
					line++
				}
				if s[i+1] == close || s[i+1] == '\\' {
					b.WriteByte(s[i+1])
				} else {
					dyn = dyn || interp
					b.WriteByte(c)
					b.WriteByte(s[i+1])
				}
				i += 2
				continue
			}
			if interp && c == '#' && i+1 < len(s) && s[i+1] == '{' {
				dyn = true
				d := 0
				for i < len(s) {
					if s[i] == '{' {
						d++
					} else if s[i] == '}' {
						d--
						if d == 0 {
							break
						}
					} else if s[i] == '\n' {
						line++
					}
					i++
				}
				i++
				continue
			}
			if c == '\n' {
				line++
			}
			if open != close && c == open {
				nest++
			} else if c == close {
				if nest == 0 {
					return b.String(), dyn, i + 1
				}
				nest--
			}
			b.WriteByte(c)
			i++
		}
		return b.String(), true, i
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
			if len(heredocs) > 0 {
				for _, term := range heredocs {
					for i < len(s) {
						e := strings.IndexByte(s[i:], '\n')
						if e < 0 {
							e = len(s) - i
						}
						l := s[i : i+e]
						i += e + 1
						line++
						if strings.TrimSpace(l) == term {
							break
						}
					}
				}
				heredocs = nil
			}
			if len(toks) > 0 && toks[len(toks)-1].kind != tNewline {
				toks = append(toks, token{kind: tNewline, line: line - 1, start: i, end: i})
			}
			lastNL = true
		case lastNL && strings.HasPrefix(s[i:], "=begin") && (i+6 == len(s) || s[i+6] == ' ' || s[i+6] == '\n'):
			e := strings.Index(s[i:], "\n=end")
			if e < 0 {
				return toks
			}
			line += strings.Count(s[i:i+e+5], "\n")
			i += e + 5
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			line++
			i += 2
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '"' || c == '`':
			start, l0 := i, line
			v, dyn, n := quoted(i+1, c, c, true)
			emit(token{kind: tString, val: v, dyn: dyn, line: l0, start: start, end: n})
			i = n
		case c == '\'':
			start, l0 := i, line
			v, _, n := quoted(i+1, c, c, false)
			emit(token{kind: tString, val: v, line: l0, start: start, end: n})
			i = n
		case c == '<' && strings.HasPrefix(s[i:], "<<") && rubyHeredoc.MatchString(s[i:]) && !(len(toks) > 0 && toks[len(toks)-1].kind == tName && i > 0 && s[i-1] != ' ' && s[i-1] != '('):
			m := rubyHeredoc.FindStringSubmatch(s[i:])
			heredocs = append(heredocs, m[3])
			emit(token{kind: tString, dyn: true, line: line, start: i, end: i + len(m[0])})
			i += len(m[0])
		case c == '%' && i+2 < len(s) && (strings.IndexByte("qQwWiIr", s[i+1]) >= 0 && !isIdent(s[i+2]) && s[i+2] != ' ' || rubyPair[s[i+1]] != 0) && regexOK(i > 0 && s[i-1] == ' ', s[i+1]):
			kind := byte('Q')
			j := i + 1
			if rubyPair[s[j]] == 0 {
				kind = s[j]
				j++
			}
			open := s[j]
			close := open
			if p, ok := rubyPair[open]; ok {
				close = p
			}
			start, l0 := i, line
			v, dyn, n := quoted(j+1, open, close, kind == 'Q' || kind == 'W' || kind == 'I' || kind == 'r')
			emit(token{kind: tString, val: v, dyn: dyn || kind != 'q' && kind != 'Q', line: l0, start: start, end: n})
			i = n
		case c == '/' && regexOK(i > 0 && s[i-1] == ' ', byteAt(s, i+1)):
			start, l0 := i, line
			_, _, n := quoted(i+1, '/', '/', true)
			for n < len(s) && isIdent(s[n]) {
				n++
			}
			emit(token{kind: tNum, text: "regexp", line: l0, start: start, end: n})
			i = n
		case c == ':' && i+1 < len(s) && (isIdentStart(s[i+1]) || s[i+1] == '"') && !(i > 0 && s[i-1] == ':') && !(i+1 < len(s) && s[i+1] == ':'):
			if s[i+1] == '"' {
				v, dyn, n := quoted(i+2, '"', '"', true)
				emit(token{kind: tSymbol, text: v, dyn: dyn, line: line, start: i, end: n})
				i = n
				continue
			}
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j < len(s) && (s[j] == '?' || s[j] == '!' || s[j] == '=') && !(j+1 < len(s) && s[j+1] == '=') {
				j++
			}
			emit(token{kind: tSymbol, text: s[i+1 : j], line: line, start: i, end: j})
			i = j
		case c == '?' && i+1 < len(s) && !isIdent(byteAt(s, i+2)) && s[i+1] != ' ' && len(toks) > 0 && toks[len(toks)-1].kind == tOp:
			i += 2 // a character literal: ?a, ?"
		case c == '$' && i+1 < len(s) && !isIdentStart(s[i+1]):
			emit(token{kind: tName, text: s[i : i+2], line: line, start: i, end: i + 2})
			i += 2
		case isIdentStart(c) || c == '@' || c == '$':
			j := i + 1
			for j < len(s) && (isIdent(s[j]) || s[j] == '@') {
				j++
			}
			if j < len(s) && (s[j] == '?' || s[j] == '!') && !(j+1 < len(s) && s[j+1] == '=') {
				j++
			}
			// A label (key: value) is a name followed by ":"; fine as is.
			emit(token{kind: tName, text: s[i:j], line: line, start: i, end: j})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isIdent(s[j]) || s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			emit(token{kind: tNum, text: s[i:j], line: line, start: i, end: j})
			i = j
		default:
			n := 1
			if c == ':' && i+1 < len(s) && s[i+1] == ':' {
				n = 2
			}
			emit(token{kind: tOp, text: s[i : i+n], line: line, start: i, end: i + n})
			i += n
		}
	}
	return toks
}

var rubyHeredoc = regexp.MustCompile(`^<<([~-]?)(['"]?)([A-Za-z_][A-Za-z0-9_]*)['"]?`)

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// parseRuby finds require, require_relative, load and autoload with
// literal paths, also the __dir__ forms: File.expand_path("x", __dir__),
// File.join(__dir__, "x"), __dir__ + "/x".
func parseRuby(src []byte) []Ref {
	toks := lexRuby(src)
	at := func(i int) token { return tokenAt(toks, i) }
	var refs []Ref
	blocks := rubyBlocks(toks)
	for i, t := range toks {
		if t.kind != tName {
			continue
		}
		kind := t.text
		if kind == "register_lazy" {
			if r, ok := rubyRegisterLazy(toks, i); ok {
				refs = append(refs, r)
			}
			continue
		}
		if kind != "require" && kind != "require_relative" && kind != "load" && kind != "autoload" {
			continue
		}
		prev := at(i - 1)
		if prev.kind == tName && prev.text == "def" || prev.kind == tSymbol || at(i+1).kind == tOp && at(i+1).text == ":" {
			continue
		}
		if prev.kind == tOp && prev.text == "." && kind != "autoload" && at(i-2).text != "Kernel" {
			continue // obj.load: not Kernel#load
		}
		j := i + 1
		paren := at(j).kind == tOp && at(j).text == "("
		if paren {
			j++
		}
		if kind == "autoload" {
			if at(j).kind != tSymbol || at(j+1).text != "," {
				continue
			}
			j += 2
		}
		// The argument runs to the end of the line (or the closing paren).
		end := j
		for end < len(toks) && at(end).kind != tNewline && !(at(end).kind == tOp && (at(end).text == ";" || paren && at(end).text == ")" && matchParen(toks, i+1) == end)) {
			if at(end).kind == tName && (at(end).text == "if" || at(end).text == "unless" || at(end).text == "rescue") {
				break
			}
			if at(end).kind == tOp && at(end).text == "(" {
				end = matchParen(toks, end)
			}
			end++
		}
		if end == j {
			if kind == "load" || kind == "require" {
				continue // a method named so, called bare
			}
		}
		arg := toks[j:min(end, len(toks))]
		r := Ref{Line: t.line, Kind: kind, Deferred: blocks[i] && kind != "autoload"}
		if name, fromDir, ok := rubyPath(arg); ok {
			r.Name, r.FromDir = name, fromDir || kind == "require_relative"
		} else {
			r.Dynamic = true
			if len(arg) > 0 {
				r.Expr = clip(string(src[t.start:arg[len(arg)-1].end]))
			} else {
				r.Expr = t.text
			}
		}
		refs = append(refs, r)
	}
	return refs
}

// rubyBlocks returns, for each token index, whether it lies in the body
// of a method ("def" ... "end"): code that runs only when the method is
// called. Blocks are followed by their keywords: class, module, def, do,
// begin, case, for, and if/unless/while/until that start an expression
// (not the modifier forms); each "end" closes one. An endless method
// (def x = ...) opens none. When the blocks do not balance (a form read
// wrong), no token is said to be in a method: every require is followed.
func rubyBlocks(toks []token) map[int]bool {
	at := func(i int) token { return tokenAt(toks, i) }
	in := map[int]bool{}
	var stack []bool // true: a def
	defs := 0
	loopLine := -1 // the line of a while/until/for whose "do" is its own
	for i, t := range toks {
		if defs > 0 {
			in[i] = true
		}
		if t.kind != tName {
			continue
		}
		prev := at(i - 1)
		if prev.kind == tOp && (prev.text == "." || prev.text == "::") || at(i+1).kind == tOp && at(i+1).text == ":" && at(i+2).text != ":" {
			continue // a method call (x.class, x.end) or a label (if: 1)
		}
		exprStart := i == 0 || prev.kind == tNewline || prev.kind == tOp && prev.text != ")" && prev.text != "]" && prev.text != "}" ||
			prev.kind == tName && slices.Contains([]string{"then", "else", "do", "begin", "in"}, prev.text)
		switch t.text {
		case "def":
			// def name = expr, def name(args) = expr: no body, no end.
			j := i + 1
			for at(j).kind == tName || at(j).kind == tOp && (at(j).text == "." || at(j).text == "::") {
				j++
			}
			if at(j).text == "(" {
				j = matchParen(toks, j) + 1
			}
			if at(j).kind == tOp && at(j).text == "=" && at(j+1).text != "=" {
				continue
			}
			stack = append(stack, true)
			defs++
		case "class", "module", "begin", "case":
			if t.text == "class" && !exprStart && prev.kind != tName {
				continue
			}
			stack = append(stack, false)
		case "if", "unless", "while", "until", "for":
			if !exprStart {
				continue // a modifier
			}
			if t.text == "while" || t.text == "until" || t.text == "for" {
				loopLine = t.line
			}
			stack = append(stack, false)
		case "do":
			if t.line == loopLine {
				loopLine = -1
				continue
			}
			stack = append(stack, false)
		case "end":
			n := len(stack)
			if n == 0 {
				return nil // more ends than blocks: a form not read right, trust none
			}
			if stack[n-1] {
				defs--
			}
			stack = stack[:n-1]
		}
	}
	if len(stack) > 0 {
		return nil // blocks left open: the same
	}
	return in
}

// rubyRegisterLazy reads Tilt's register_lazy(CLASS, FILE, EXT...) at
// toks[i] (Tilt.register_lazy, Tilt::Mapping#register_lazy): the template
// class is loaded from FILE at the first render of a template with one of
// the extensions. CLASS is a symbol or a string, FILE and EXT literal
// strings; anything else is not a registration read.
func rubyRegisterLazy(toks []token, i int) (Ref, bool) {
	at := func(i int) token { return tokenAt(toks, i) }
	if p := at(i - 1); p.kind == tName && p.text == "def" || at(i+1).kind == tOp && at(i+1).text == ":" {
		return Ref{}, false
	}
	j := i + 1
	if at(j).kind == tOp && at(j).text == "(" {
		j++
	}
	if c := at(j); c.kind != tSymbol && !(c.kind == tString && !c.dyn) || at(j+1).text != "," {
		return Ref{}, false
	}
	f := at(j + 2)
	if f.kind != tString || f.dyn || f.val == "" {
		return Ref{}, false
	}
	r := Ref{Line: toks[i].line, Kind: "register_lazy", Name: f.val}
	for j += 3; at(j).kind == tOp && at(j).text == ","; j += 2 {
		e := at(j + 1)
		if e.kind != tString || e.dyn {
			break
		}
		r.Exts = append(r.Exts, e.val)
	}
	return r, true
}

// rubyPath evaluates a require's argument when it is a literal or a
// literal relative to __dir__ / __FILE__.
func rubyPath(arg []token) (name string, fromDir, ok bool) {
	lit := func(t token) bool { return t.kind == tString && !t.dyn }
	dir := func(t token) bool { return t.kind == tName && (t.text == "__dir__" || t.text == "__FILE__") }
	switch {
	case len(arg) == 1 && lit(arg[0]):
		return arg[0].val, false, true
	case len(arg) == 3 && lit(arg[0]) && arg[1].text == "." && arg[2].text == "freeze":
		return arg[0].val, false, true
	case len(arg) >= 6 && arg[0].text == "File" && arg[1].text == "." && arg[3].text == "(" && arg[len(arg)-1].text == ")":
		args := arg[4 : len(arg)-1]
		switch arg[2].text {
		case "expand_path":
			if len(args) == 3 && lit(args[0]) && args[1].text == "," && dir(args[2]) {
				p := args[0].val
				if args[2].text == "__FILE__" {
					p = strings.TrimPrefix(strings.TrimPrefix(p, ".."), "/") // relative to the file itself
					if args[0].val == ".." || strings.HasPrefix(args[0].val, "../") {
						return p, true, true
					}
					return "", false, false
				}
				return p, true, true
			}
		case "join":
			if len(args) >= 3 && dir(args[0]) && args[0].text == "__dir__" {
				var parts []string
				for k := 1; k < len(args); k += 2 {
					if args[k].text != "," || k+1 >= len(args) || !lit(args[k+1]) {
						return "", false, false
					}
					parts = append(parts, args[k+1].val)
				}
				return path.Join(parts...), true, true
			}
		}
	case len(arg) == 3 && dir(arg[0]) && arg[0].text == "__dir__" && arg[1].text == "+" && lit(arg[2]):
		return strings.TrimPrefix(arg[2].val, "/"), true, true
	}
	return "", false, false
}

// rbPaths is the image's Ruby load path.
type rbPaths struct {
	dirs []string
}

var rubyVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func (r *Resolver) rubyPaths() *rbPaths {
	if r.rb != nil {
		return r.rb
	}
	p := &rbPaths{}
	p.dirs = appendUniq(p.dirs, r.envDirs("RUBYLIB")...)
	// The interpreter's own directories, for each version in the image:
	// site_ruby, vendor_ruby, the library and its arch directory.
	for _, prefix := range []string{"/usr/local/lib", "/usr/lib"} {
		var arches []string
		for _, n := range r.list(prefix) {
			if strings.Contains(n, "-linux") && r.isDir(prefix+"/"+n+"/ruby") {
				arches = append(arches, prefix+"/"+n+"/ruby")
			}
		}
		base := prefix + "/ruby"
		var vers []string
		for _, n := range r.list(base) {
			if rubyVersion.MatchString(n) {
				vers = append(vers, n)
			}
		}
		for _, kind := range []string{"site_ruby", "vendor_ruby"} {
			for _, v := range vers {
				p.dirs = appendUniq(p.dirs, base+"/"+kind+"/"+v)
				for _, a := range arches {
					p.dirs = appendUniq(p.dirs, a+"/"+kind+"/"+v)
				}
				p.dirs = appendUniq(p.dirs, base+"/"+kind+"/"+v+"/"+archName(arches))
			}
			p.dirs = appendUniq(p.dirs, base+"/"+kind)
		}
		for _, v := range vers {
			p.dirs = appendUniq(p.dirs, base+"/"+v)
			for _, a := range arches {
				p.dirs = appendUniq(p.dirs, a+"/"+v)
			}
			p.dirs = appendUniq(p.dirs, base+"/"+v+"/"+archName(arches))
		}
	}
	// Gems: their lib directories (RubyGems adds a gem's when it is
	// activated; a require of a file in an unactivated gem activates it).
	var gemDirs []string
	for _, root := range []string{"/var/lib/gems", "/usr/share/rubygems-integration", "/usr/lib/ruby/gems", "/usr/local/lib/ruby/gems"} {
		for _, v := range r.list(root) {
			gemDirs = append(gemDirs, root+"/"+v+"/gems")
		}
	}
	for _, n := range r.list("/usr/lib") {
		if strings.Contains(n, "-linux") {
			for _, v := range r.list("/usr/lib/" + n + "/rubygems-integration") {
				gemDirs = append(gemDirs, "/usr/lib/"+n+"/rubygems-integration/"+v+"/gems")
			}
		}
	}
	if v, ok := envValue(r.env.Env, "GEM_HOME"); ok && strings.HasPrefix(v, "/") {
		gemDirs = append(gemDirs, path.Clean(v)+"/gems")
	}
	for _, gd := range gemDirs {
		gems := r.list(gd)
		slices.Sort(gems)
		slices.Reverse(gems) // the newest version first, as RubyGems activates it (near enough: by name)
		for _, g := range gems {
			if d := gd + "/" + g + "/lib"; r.isDir(d) {
				p.dirs = appendUniq(p.dirs, d)
			}
		}
	}
	p.dirs = slices.DeleteFunc(p.dirs, func(d string) bool { return !r.isDir(d) })
	r.rb = p
	return p
}

func archName(arches []string) string {
	if len(arches) == 0 {
		return "x86_64-linux"
	}
	return path.Base(path.Dir(arches[0]))
}

func (r *Resolver) resolveRuby(from string, ref Ref) ([]string, bool) {
	name := ref.Name
	try := func(base string) string {
		if ref.Kind == "load" {
			if r.isFile(base) {
				return base
			}
			return ""
		}
		if ext := path.Ext(base); ext == ".rb" || ext == ".so" {
			if r.isFile(base) {
				return base
			}
		}
		for _, suf := range []string{".rb", ".so"} {
			if r.isFile(base + suf) {
				return base + suf
			}
		}
		return ""
	}
	switch {
	case ref.FromDir:
		if f := try(path.Join(path.Dir(from), name)); f != "" {
			return []string{f}, true
		}
		return nil, false
	case strings.HasPrefix(name, "/"):
		if f := try(path.Clean(name)); f != "" {
			return []string{f}, true
		}
		return nil, false
	case strings.HasPrefix(name, "./") || strings.HasPrefix(name, "../"):
		if r.env.WorkingDir != "" {
			if f := try(path.Join(r.env.WorkingDir, name)); f != "" {
				return []string{f}, true
			}
		}
		return nil, false
	}
	for _, d := range r.rubyPaths().dirs {
		if f := try(d + "/" + name); f != "" {
			return []string{f}, true
		}
	}
	return nil, false
}
