package dockerfile

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jsonArray writes an exec-form argument list: ["a", "b"].
func jsonArray(l []string) string {
	parts := make([]string, len(l))
	for i, s := range l {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s) // a string always encodes
		parts[i] = strings.TrimSuffix(b.String(), "\n")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// quoteValue writes an ENV, LABEL or ARG value so that the Dockerfile reads
// it back unchanged: bare when it has nothing the Dockerfile would split or
// expand, else double-quoted with \ " and $ escaped.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"'\\$") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(v) + `"`
}

// quoteKey writes a LABEL key, quoted when it holds blanks or quotes.
func quoteKey(k string) string {
	if k != "" && !strings.ContainsAny(k, " \t\"'\\$=") {
		return k
	}
	return quoteValue(k)
}

// escapeVars keeps the Dockerfile from expanding $ in a value the image
// already holds expanded (WORKDIR, USER, STOPSIGNAL).
func escapeVars(s string) string {
	return strings.ReplaceAll(s, "$", `\$`)
}

// shellSafe reports whether a shell-form command reads back unchanged from
// one Dockerfile line: no line breaks, no trailing escape (a continuation),
// no leading [ (read as JSON) and no << (read as a heredoc by BuildKit).
func shellSafe(cmd string) bool {
	return strings.TrimSpace(cmd) != "" && !strings.ContainsAny(cmd, "\n\r") &&
		!strings.HasSuffix(cmd, `\`) && !strings.HasPrefix(strings.TrimSpace(cmd), "[") &&
		!strings.Contains(cmd, "<<")
}

// wrapAt is the length above which breakLines splits a command.
const wrapAt = 80

// breakLines splits a long shell command at its top-level separators with
// Dockerfile line continuations: before "&&" and "||", after ";". The
// Dockerfile parser joins the lines back, so the shell sees only more
// blanks. It follows quotes, $(...), ${...} and backquotes, and leaves the
// command as it is when it is short or when it cannot follow it ($'...', or
// unbalanced quoting).
func breakLines(cmd string) string {
	if len(cmd) <= wrapAt {
		return cmd
	}
	var out strings.Builder
	last := 0
	// open holds what the scan is inside, innermost last: ' " ` ( and {
	// for '...', "...", `...`, $(...) or (...), and ${...}.
	var open []byte
	top := func() byte {
		if len(open) == 0 {
			return 0
		}
		return open[len(open)-1]
	}
	pop := func() {
		if len(open) > 0 {
			open = open[:len(open)-1]
		}
	}
	blank := func(c byte) bool { return c == ' ' || c == '\t' }
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		next := byte(0)
		if i+1 < len(cmd) {
			next = cmd[i+1]
		}
		switch t := top(); {
		case t == '\'':
			if c == '\'' {
				pop()
			}
		case c == '\\':
			i++
		case t == '"':
			switch {
			case c == '"':
				pop()
			case c == '`':
				open = append(open, '`')
			case c == '$' && (next == '(' || next == '{'):
				open = append(open, next)
				i++
			}
		case c == '\'':
			if i > 0 && cmd[i-1] == '$' {
				return cmd // $'...' has escapes of its own
			}
			open = append(open, '\'')
		case c == '"':
			open = append(open, '"')
		case c == '`':
			if t == '`' {
				pop()
			} else {
				open = append(open, '`')
			}
		case c == '$' && (next == '(' || next == '{'):
			open = append(open, next)
			i++
		case c == '(':
			open = append(open, '(')
		case c == ')' && t == '(', c == '}' && t == '{':
			pop()
		case t != 0:
			// Inside $(...), (...), ${...} or `...`: no breaks.
		case c == '#' && (i == 0 || blank(cmd[i-1])):
			// A comment runs to the end: nothing more to break.
			out.WriteString(cmd[last:])
			return out.String()
		case (c == '&' || c == '|') && next == c:
			// Break before the operator, in the blanks in front of it.
			j := i
			for j > last && blank(cmd[j-1]) {
				j--
			}
			if j < i && j > last {
				out.WriteString(cmd[last:j])
				out.WriteString(" \\\n    ")
				last = i
			}
			i++
		case c == ';':
			end := i + 1
			if next == ';' {
				end++ // ;; of case
			}
			j := end
			for j < len(cmd) && blank(cmd[j]) {
				j++
			}
			if j > end && j < len(cmd) && cmd[j] != '#' {
				out.WriteString(cmd[last:end])
				out.WriteString(" \\\n    ")
				last = j
			}
			i = end - 1
		}
	}
	if len(open) > 0 {
		return cmd
	}
	out.WriteString(cmd[last:])
	return out.String()
}
