package main

import (
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// TestTraceEscapesControlBytes: a path a traced process opens, holding
// terminal escapes, is printed with them escaped, in the report and in the
// text log.
func TestTraceEscapesControlBytes(t *testing.T) {
	privtest.Root(t)
	name := "/nonexistent/\x1b]0;owned\x07\x1b[2Jred"
	stdout, stderr, _ := run(t, nil, "--log-format", "text", "--log-level", "debug", "trace", "--", "cat", name)
	// The console log colours its own fields; the image's bytes are escaped.
	if strings.ContainsAny(stdout, "\x1b\x07") || strings.Contains(stderr, "\x1b]0;") || strings.Contains(stderr, "\x1b[2J") {
		t.Errorf("raw control bytes printed:\n%q\n%q", stdout, stderr)
	}
	if !strings.Contains(stdout, `/nonexistent/\x1b]0;owned\x07\x1b[2Jred`) {
		t.Errorf("the path is not in the report, escaped:\n%s", stdout)
	}
}
