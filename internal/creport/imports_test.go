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
