package fileset

import (
	"regexp"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shellBuiltins need no program in the image.
var shellBuiltins = []string{":", ".", "[", "[[", "alias", "bg", "break", "cd", "command", "continue", "echo",
	"eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "let", "local",
	"printf", "pwd", "read", "readonly", "return", "set", "shift", "source", "test", "times", "trap", "true",
	"type", "ulimit", "umask", "unalias", "unset", "wait"}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// shellCommands parses a shell command line (as bash reads it, a superset
// of what /bin/sh -c takes in ENTRYPOINT, CMD and HEALTHCHECK) into the
// simple commands it may run, in order, each the program's word first, then
// its arguments, with quotes removed. A word holding an expansion ($VAR,
// $(cmd), `cmd`, $((n))) is kept as written, so it still shows a '$' or a
// '`'; the commands inside a substitution are listed too. The exec,
// command, nohup and env prefixes are split off.
func shellCommands(line string) ([][]string, error) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(line), "")
	if err != nil {
		return nil, err
	}
	var out [][]string
	syntax.Walk(f, func(n syntax.Node) bool {
		if call, ok := n.(*syntax.CallExpr); ok && len(call.Args) > 0 {
			words := make([]string, len(call.Args))
			for i, w := range call.Args {
				words[i] = wordString(line, w.Parts, false)
			}
			out = append(out, simpleCommands(words)...)
		}
		return true
	})
	return out, nil
}

// wordString is a word with its quotes removed, or as written where it
// expands.
func wordString(src string, parts []syntax.WordPart, quoted bool) string {
	var b strings.Builder
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, quoted))
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			b.WriteString(wordString(src, p.Parts, true))
		default:
			b.WriteString(src[p.Pos().Offset():p.End().Offset()])
		}
	}
	return b.String()
}

// unescape drops the backslashes the shell removes: before any character
// outside double quotes, before $ ` " \ and a newline inside them.
func unescape(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (!quoted || strings.IndexByte("$`\"\\\n", s[i+1]) >= 0) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// simpleCommands splits off what env and the exec-like prefixes run.
func simpleCommands(w []string) [][]string {
	for len(w) > 0 {
		switch {
		case w[0] == "exec" || w[0] == "command" || w[0] == "nohup":
			w = w[1:]
			for len(w) > 0 && strings.HasPrefix(w[0], "-") {
				w = w[1:]
			}
		case w[0] == "env" || strings.HasSuffix(w[0], "/env"):
			rest := w[1:]
			for len(rest) > 0 && (strings.HasPrefix(rest[0], "-") || assignment.MatchString(rest[0])) {
				rest = rest[1:]
			}
			return append([][]string{{w[0]}}, simpleCommands(rest)...)
		default:
			return [][]string{w}
		}
	}
	return nil
}
