package profile

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// deletedSuffix is what the kernel appends to the path of an unlinked file.
const deletedSuffix = " (deleted)"

// piece is a run of an AppArmor path expression: literal text, escaped when
// rendered, or glob syntax this package wrote itself.
type piece struct {
	text string
	glob bool
}

// component is one path component, made of pieces.
type component []piece

func lit(s string) component   { return component{{text: s}} }
func globc(s string) component { return component{{text: s, glob: true}} }

// pathExpr is an AppArmor path expression: the components below "/", and
// whether it names a directory (rendered with a trailing "/", which is how
// AppArmor tells a directory from a file).
type pathExpr struct {
	comps []component
	dir   bool
}

// String renders the expression for a profile: literal text is escaped, and
// the whole path is double-quoted when it holds anything but letters,
// digits and "/._+-".
func (e pathExpr) String() string {
	var b strings.Builder
	quote := false
	b.WriteByte('/')
	for i, c := range e.comps {
		if i > 0 {
			b.WriteByte('/')
		}
		for _, p := range c {
			if p.glob {
				b.WriteString(p.text)
				continue
			}
			if escapeLiteral(&b, p.text) {
				quote = true
			}
		}
	}
	if e.dir && len(e.comps) > 0 && !e.recursive() {
		b.WriteByte('/')
	}
	if quote {
		return `"` + b.String() + `"`
	}
	return b.String()
}

// recursive reports whether the expression ends in "**".
func (e pathExpr) recursive() bool {
	if len(e.comps) == 0 {
		return false
	}
	last := e.comps[len(e.comps)-1]
	return len(last) == 1 && last[0].glob && last[0].text == "**"
}

// escapeLiteral writes s so that apparmor_parser reads it back as literal
// text inside a double-quoted path, and reports whether the path needs the
// quotes. The parser (parser_misc.c processunquoted, parser_variable.c
// split_out_var, parser_regex.c) keeps a backslash before * ? [ ] { } ^ ,
// so the character stays literal, turns \" into a quote, leaves "\@" alone
// so that "@{" does not start a variable, and reads \ooo as an octal byte
// (\134, a backslash, then stays a literal backslash).
func escapeLiteral(b *strings.Builder, s string) (special bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			// Not UTF-8, or a control character: write the byte in octal.
			b.WriteByte('\\')
			b.WriteByte('0' + s[i]>>6)
			b.WriteByte('0' + s[i]>>3&7)
			b.WriteByte('0' + s[i]&7)
			special = true
		case r == '\\':
			// \134 rather than \\: the lexer takes \" for a quote inside
			// the string, so a trailing \\ would swallow the closing quote.
			b.WriteString(`\134`)
			special = true
		case strings.ContainsRune(`"*?[]{}^,@`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
			special = true
		case r < utf8.RuneSelf && (isAlnum(byte(r)) || strings.ContainsRune("/._+-", r)):
			b.WriteRune(r)
		default: // spaces, '#', other punctuation, non-ASCII letters
			b.WriteString(s[i : i+size])
			special = true
		}
		i += size
	}
	return special
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// cleanPath turns a path from the trace into the path AppArmor mediates: the
// " (deleted)" mark of an unlinked file is dropped and "." and ".." are
// folded (AppArmor sees resolved paths). It reports false for anything that
// is not an absolute path (pipes, sockets, anonymous inodes, memfds).
func cleanPath(p string) (string, bool) {
	p = strings.TrimSuffix(p, deletedSuffix)
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	return path.Clean(p), true
}

// normalisePath turns a clean absolute path into a path expression that
// still matches on the next run:
//   - /proc/<pid>/ (and /proc/self/) becomes /proc/@{pid}/, and
//     /proc/<pid>/task/<tid>/ (and /proc/thread-self/) /proc/@{pid}/task/@{tid}/;
//   - anything under /sys/devices/ becomes /sys/devices/**;
//   - in the other components, see normaliseComponent.
func normalisePath(p string) pathExpr {
	if p == "/" {
		return pathExpr{dir: true}
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) >= 2 && parts[0] == "sys" && parts[1] == "devices" {
		return pathExpr{comps: []component{lit("sys"), lit("devices"), globc("**")}}
	}
	comps := make([]component, 0, len(parts)+2)
	for i, s := range parts {
		if parts[0] == "proc" {
			pid := len(parts) > 1 && (allDigits(parts[1]) || parts[1] == "self")
			switch {
			case i == 1 && pid:
				comps = append(comps, globc("@{pid}"))
				continue
			case i == 1 && s == "thread-self":
				comps = append(comps, globc("@{pid}"), lit("task"), globc("@{tid}"))
				continue
			case i == 3 && pid && parts[2] == "task" && allDigits(s):
				comps = append(comps, globc("@{tid}"))
				continue
			}
		}
		comps = append(comps, normaliseComponent(s, i))
	}
	return pathExpr{comps: comps}
}

var (
	// uuidOrHash matches a UUID, or a run of 16 or more hex digits.
	uuidOrHash = regexp.MustCompile(`[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{16,}`)
	// digitRun matches a run of digits long enough to be a pid, a port, a
	// counter or a timestamp rather than a version (python3.12, libc.so.6,
	// x86_64 and 2024 stay).
	digitRun = regexp.MustCompile(`[0-9]{5,}`)
)

// normaliseComponent globs the variable parts of the path component s at
// the given depth (0 for a top-level directory):
//   - a component that is all digits becomes "[0-9]*";
//   - a UUID, or a hash (16+ hex digits with both digits and letters, not
//     inside a longer word), becomes "*";
//   - a run of 5 or more digits becomes "[0-9]*".
//
// It is only done where it is safe: a top-level directory is never globbed,
// and a component that would become a bare "*" stays literal unless it has
// at least two literal directories above it (/var/lib/<uuid> does not become
// /var/lib/*, /var/lib/app/<uuid> does become /var/lib/app/*).
func normaliseComponent(s string, depth int) component {
	if depth == 0 {
		return lit(s)
	}
	if allDigits(s) {
		return globc("[0-9]*")
	}
	c := replaceLiteral(lit(s), uuidOrHash, func(s string, lo, hi int) (string, bool) {
		if lo > 0 && isAlnum(s[lo-1]) || hi < len(s) && isAlnum(s[hi]) {
			return "", false
		}
		m := s[lo:hi]
		if !strings.Contains(m, "-") && (strings.IndexAny(m, "0123456789") < 0 ||
			strings.IndexAny(m, "abcdefABCDEF") < 0) {
			return "", false // all digits or all letters: not a hash
		}
		return "*", true
	})
	c = replaceLiteral(c, digitRun, func(string, int, int) (string, bool) { return "[0-9]*", true })
	if len(c) == 1 && c[0].glob && c[0].text == "*" && depth < 2 {
		return lit(s)
	}
	return c
}

// replaceLiteral replaces, in the literal pieces of c, each match of re for
// which repl returns ok by a glob piece.
func replaceLiteral(c component, re *regexp.Regexp, repl func(s string, lo, hi int) (string, bool)) component {
	var out component
	for _, p := range c {
		if p.glob {
			out = append(out, p)
			continue
		}
		last := 0
		for _, m := range re.FindAllStringIndex(p.text, -1) {
			g, ok := repl(p.text, m[0], m[1])
			if !ok {
				continue
			}
			if m[0] > last {
				out = append(out, piece{text: p.text[last:m[0]]})
			}
			out = append(out, piece{text: g, glob: true})
			last = m[1]
		}
		if last < len(p.text) {
			out = append(out, piece{text: p.text[last:]})
		}
	}
	return slices.Clip(out)
}

var (
	// sharedObject matches the names of ELF shared objects: libc.so.6,
	// ld-linux-x86-64.so.2, _ssl.cpython-312-x86_64-linux-gnu.so.
	sharedObject = regexp.MustCompile(`\.so(\.[0-9]+)*$`)
	// libDir matches the directories the dynamic linker loads from directly.
	libDir = regexp.MustCompile(`^(/usr)?/lib(32|64|x32)?(/[^/]+-linux-gnu[^/]*)?$`)
)

// isLibrary reports whether a file that was read is likely mapped
// executable: a shared object by name, or a file straight in a library
// directory.
func isLibrary(p string) bool {
	dir, base := path.Split(p)
	if sharedObject.MatchString(base) {
		return true
	}
	dir = strings.TrimSuffix(dir, "/")
	return libDir.MatchString(dir) && dir != "/lib" && dir != "/usr/lib"
}
