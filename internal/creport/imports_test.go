package creport

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestSummaryImports(t *testing.T) {
	im := &Imports{Parsed: 40, Files: 3, Bytes: 2_500_000, Bound: "size"}
	for i := range 7 {
		im.Unresolved = append(im.Unresolved, UnresolvedImport{File: "/app/app.py", Line: i + 1, Expr: fmt.Sprintf("import_module(n%d)", i)})
	}
	c := &Container{Slim: &Slim{Name: "app.slim", FatSize: 10, Size: 5, Imports: im}}
	var b bytes.Buffer
	c.Summary(&b)
	out := b.String()
	for _, want := range []string{
		"imports:   3 files (2.5MB) added from 40 source files read, 7 dynamic names unresolved, size bound reached\n",
		"unresolved /app/app.py:5: import_module(n4) (--include-path what it loads)\n",
		"... 2 more in creport.json (slim.imports.unresolved)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "import_module(n5)") {
		t.Errorf("summary lists more than five unresolved imports:\n%s", out)
	}
	c.Slim.Imports = nil
	b.Reset()
	c.Summary(&b)
	if strings.Contains(b.String(), "imports:") {
		t.Errorf("an imports line with the closure off:\n%s", b.String())
	}
}

func TestSummaryInsurance(t *testing.T) {
	c := &Container{Slim: &Slim{Name: "app.slim", FatSize: 100e6, Size: 20e6, Insurance: "full",
		InsuranceBytes: map[string]int64{"import": 1.5e6, "app-dir": 500e3, "lazy-load": 0}}}
	var b bytes.Buffer
	c.Summary(&b)
	if want := "insurance: 2MB (10% of the slim image's files), --insurance=full: app-dir 500kB, import 1.5MB, lazy-load 0B\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
	c.Slim.InsuranceBytes = nil // a report without the field
	b.Reset()
	c.Summary(&b)
	if strings.Contains(b.String(), "insurance:") {
		t.Errorf("an insurance line without insurance bytes:\n%s", b.String())
	}
}
