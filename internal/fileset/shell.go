package fileset

import (
	"regexp"
	"slices"
	"strings"
)

// shellBuiltins need no program in the image.
var shellBuiltins = []string{":", ".", "[", "[[", "alias", "bg", "break", "cd", "command", "continue", "echo",
	"eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "let", "local",
	"printf", "pwd", "read", "readonly", "return", "set", "shift", "source", "test", "times", "trap", "true",
	"type", "ulimit", "umask", "unalias", "unset", "wait"}

// shellKeywords start or end compound commands; the word after them is
// the command.
var shellKeywords = []string{"if", "then", "elif", "else", "fi", "do", "done", "while", "until", "!", "{",
	"}", "time"}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// shellCommands splits a shell command line into its simple commands, each
// the program's word first, then its arguments. It is a sketch of POSIX sh
// grammar, enough for the lines images put in ENTRYPOINT, CMD and
// HEALTHCHECK: quotes, escapes, comments, ; & | && || ( ) $( ) and
// backquotes, redirections, leading assignments, keywords, and the exec,
// command, nohup and env prefixes. for, case and function bodies'
// headers are skipped.
func shellCommands(line string) [][]string {
	var (
		cmds     [][]string
		words    []string
		cur      strings.Builder
		inWord   bool
		skipNext bool // the next word is a redirection's target
	)
	flushWord := func() {
		if inWord {
			if skipNext {
				skipNext = false
			} else {
				words = append(words, cur.String())
			}
		}
		cur.Reset()
		inWord = false
	}
	flushCmd := func() {
		flushWord()
		skipNext = false
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				end = len(line) - i - 1
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 1
		case ch == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				cur.WriteByte(line[j])
			}
			inWord = true
			i = j
		case ch == '\\' && i+1 < len(line):
			if line[i+1] != '\n' {
				cur.WriteByte(line[i+1])
				inWord = true
			}
			i++
		case ch == ' ' || ch == '\t':
			flushWord()
		case ch == '#' && !inWord:
			for i < len(line) && line[i] != '\n' {
				i++
			}
			flushCmd()
		case ch == '>' || ch == '<':
			if s := cur.String(); inWord && strings.Trim(s, "0123456789") == "" {
				cur.Reset() // an fd number: 2>
				inWord = false
			} else {
				flushWord()
			}
			for i+1 < len(line) && strings.IndexByte("<>&|", line[i+1]) >= 0 {
				i++
			}
			if i+1 < len(line) && line[i] == '&' && (line[i+1] == '-' || line[i+1] >= '0' && line[i+1] <= '9') {
				for i+1 < len(line) && (line[i+1] == '-' || line[i+1] >= '0' && line[i+1] <= '9') {
					i++
				}
				continue // >&2: no target word
			}
			skipNext = true
		case ch == '$' && i+1 < len(line) && line[i+1] == '(':
			flushCmd()
			i++
		case strings.IndexByte(";&|()\n`", ch) >= 0:
			flushCmd()
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	flushCmd()

	var out [][]string
	for _, w := range cmds {
		out = append(out, simpleCommands(w)...)
	}
	return out
}

// simpleCommands strips what comes before a command's program and splits
// off what env and the exec-like prefixes run.
func simpleCommands(w []string) [][]string {
	for len(w) > 0 {
		switch {
		case assignment.MatchString(w[0]) || slices.Contains(shellKeywords, w[0]):
			w = w[1:]
		case w[0] == "for" || w[0] == "case" || w[0] == "select" || w[0] == "function" || w[0] == "in" ||
			w[0] == "esac":
			return nil
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
