package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEscapeControl(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain /usr/lib/x.so\tok\n", "plain /usr/lib/x.so\tok\n"},
		{"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
		{"\x1b]0;owned\x07title", `\x1b]0;owned\x07title`},
		{"erase\x1b[2K\rline", `erase\x1b[2K\x0dline`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \xc2\x9b31m`},
		{"bad \xff utf8", `bad \xff utf8`},
	} {
		if got := escapeControl(c.in); got != c.want {
			t.Errorf("escapeControl(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var b bytes.Buffer
	if n, err := (escapeWriter{&b}).Write([]byte("a\x1bb")); n != 3 || err != nil || b.String() != `a\x1bb` {
		t.Errorf("escapeWriter: %d %v %q", n, err, b.String())
	}
}

// TestTextLogEscapes: the console log escapes control bytes in messages,
// field values and errors.
func TestTextLogEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	log, closeLog, err := newLogger(Globals{LogFormat: "text", Log: path, LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("path", "/a\x1b[2Jb").Err(errors.New("e\x1b]0;t\x07")).Msg("m\x1b[31m")
	closeLog()
	b, _ := os.ReadFile(path)
	for _, raw := range []string{"\x1b[2J", "\x1b]0;", "\x07", "m\x1b[31m"} {
		if strings.Contains(string(b), raw) {
			t.Errorf("log holds raw %q: %q", raw, b)
		}
	}
	if !strings.Contains(string(b), `/a\x1b[2Jb`) {
		t.Errorf("log lacks the escaped path: %q", b)
	}
}
