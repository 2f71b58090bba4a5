package profile

// These tests run the real apparmor_parser (parse and compile only, no root). Without it they
// skip, so they live in the privileged tier, which CI runs with the parser installed.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

// apparmorParser returns the path of apparmor_parser, or skips the test.
func apparmorParser(t *testing.T) string {
	t.Helper()
	if p := apparmorParserIfAny(); p != "" {
		return p
	}
	privtest.Skip(t, "apparmor_parser not installed")
	return ""
}

// TestAppArmorParser checks every golden profile with the real parser.
func TestAppArmorParser(t *testing.T) {
	parser := apparmorParser(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.apparmor"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d golden profiles, want at least 4", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if out, err := parse(t, parser, f); err != nil {
				t.Errorf("apparmor_parser rejects %s: %v\n%s", f, err, out)
			}
		})
	}
}

// TestAppArmorLiteralNames checks, with the real parser, that awkward file
// names stay literal: a one-rule profile compiles to an expression without
// any wildcard, variable or alternation the name's characters could have
// introduced.
func TestAppArmorLiteralNames(t *testing.T) {
	parser := apparmorParser(t)
	dir := t.TempDir()
	for _, name := range append(awkwardNames, "plain.txt") {
		t.Run(name, func(t *testing.T) {
			rule := normalisePath("/data/" + name).String()
			f := filepath.Join(dir, "p")
			if err := os.WriteFile(f, []byte("profile p {\n  "+rule+" r,\n}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := parse(t, parser, f, "-D", "expr-tree")
			if err != nil {
				t.Fatalf("apparmor_parser rejects rule %s: %v\n%s", rule, err, out)
			}
			// A glob compiles to a negated class such as [^\x0/]; an
			// alternation to "|".
			if strings.Contains(out, `[^`) || strings.Contains(out, "|") {
				t.Errorf("rule %s compiles to a pattern, not a literal:\n%s", rule, out)
			}
		})
	}
}
