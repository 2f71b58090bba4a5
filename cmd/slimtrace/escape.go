package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// escapeControl returns s with every terminal control byte (C0 but tab and
// newline, DEL, C1) and invalid UTF-8 byte written as \xNN: text from an
// image or its container (file names, output lines, build steps) must not
// move a user's cursor, retitle a terminal or hide lines.
func escapeControl(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// needsEscape is a fast check: false when s is printable ASCII (with
// tabs and newlines).
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			return true
		}
	}
	return false
}

// escapeWriter escapes terminal control bytes in what it writes to w.
type escapeWriter struct{ w io.Writer }

func (e escapeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, escapeControl(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
