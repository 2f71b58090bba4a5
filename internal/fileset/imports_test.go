package fileset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// pyImage is a Python image: an app whose handler imports sqlite3 (a
// package importing its extension module) and loads a module by a name
// computed at run time.
var pyImage = with(debian, map[string]*fstest.MapFile{
	"usr/bin/python3.11":                                                      exe("py"),
	"usr/lib/python3.11/os.py":                                                file("import sys\nfrom posixpath import join\n"),
	"usr/lib/python3.11/__pycache__/os.cpython-311.pyc":                       file("pyc"),
	"usr/lib/python3.11/posixpath.py":                                         file("import os\n"),
	"usr/lib/python3.11/sqlite3/__init__.py":                                  file("from sqlite3.dbapi2 import *\n"),
	"usr/lib/python3.11/sqlite3/dbapi2.py":                                    file("import datetime\nfrom _sqlite3 import *\ndef adapt():\n    import lazytwice\n"),
	"usr/lib/python3.11/lazytwice.py":                                         file("x = 1\n"),
	"usr/lib/python3.11/datetime.py":                                          file("try:\n    from _datetime import *\nexcept ImportError:\n    pass\n"),
	"usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so": file("not really ELF"),
	"usr/lib/python3.11/big.py":                                               sized(4096),
	"usr/lib/python3.11/unused.py":                                            file("x = 1\n"),
	"app/app.py": file("import os\n\ndef items():\n    import sqlite3\n    return sqlite3\n\n" +
		"def plugin(name):\n    return importlib.import_module(name)\n\ndef big():\n    import big\n"),
	"srv/other/lib.js":      file("x"),
	"srv/app/server.js":     file("const path = require('path');\napp.get('/r', () => {\n  const report = require(\"./lib/report\");\n});\n"),
	"srv/app/lib/report.js": file("module.exports = require('../data.json');\n"),
	"srv/app/data.json":     file("{}"),
	"srv/app/unused.js":     file("x"),
})

func TestComputeImports(t *testing.T) {
	pyApp := func(in *Input) {
		alone(in) // the fake stdlib has no package owning it: it would be an application directory
		in.Files = read("/usr/bin/python3.11", "/app/app.py", "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "/usr/lib/python3.11/os.py")
	}
	lazy := []string{"/usr/lib/python3.11/sqlite3/__init__.py", "/usr/lib/python3.11/sqlite3/dbapi2.py",
		"/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so", "/usr/lib/python3.11/datetime.py"}
	runCases(t, []computeCase{
		{name: "python closure", img: pyImage, in: pyApp,
			want: map[string]Reason{
				"/usr/lib/python3.11/sqlite3/__init__.py": ReasonImport, "/usr/lib/python3.11/sqlite3/dbapi2.py": ReasonImport,
				"/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so": ReasonImport,
				"/usr/lib/python3.11/datetime.py":                                          ReasonImport, "/usr/lib/python3.11/posixpath.py": ReasonImport,
				"/usr/lib/python3.11/big.py": ReasonImport, "/usr/lib/python3.11/os.py": ReasonTraced},
			// lazytwice is imported inside a function of a module the closure added.
			not: []string{"/usr/lib/python3.11/unused.py", "/usr/lib/python3.11/lazytwice.py"},
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/usr/lib/python3.11/sqlite3/__init__.py"); e.Detail != "imported by /app/app.py:4" {
					t.Errorf("detail %q", e.Detail)
				}
				if e := s.Find("/usr/lib/python3.11/os.py"); slices.Contains(e.Reasons, ReasonImport) {
					t.Errorf("a traced file says import: %v", e.Reasons)
				}
				st := s.Imports
				want := []Unresolved{{File: "/app/app.py", Line: 8, Expr: "importlib.import_module(name)"}}
				if !slices.Equal(st.Unresolved, want) {
					t.Errorf("unresolved %v, want %v", st.Unresolved, want)
				}
				// sys, _datetime and * are not in the image.
				if st.Parsed != 7 || st.NotFound != 2 || st.Deferred != 1 || st.Bound != "" || st.Files != 6 {
					t.Errorf("stats %+v", st)
				}
			}},
		{name: "off", img: pyImage, in: func(in *Input) { pyApp(in); in.Options.NoImports = true }, not: lazy,
			check: func(t *testing.T, s *Set) {
				if s.Imports.Parsed != 0 || s.Imports.Files != 0 {
					t.Errorf("stats %+v", s.Imports)
				}
			}},
		{name: "depth bound", img: pyImage, in: func(in *Input) { pyApp(in); in.Options.ImportDepth = 1 },
			want: map[string]Reason{"/usr/lib/python3.11/sqlite3/__init__.py": ReasonImport},
			not:  []string{"/usr/lib/python3.11/sqlite3/dbapi2.py"},
			check: func(t *testing.T, s *Set) {
				if s.Imports.Bound != BoundDepth {
					t.Errorf("bound %q", s.Imports.Bound)
				}
			}},
		{name: "depth unbounded", img: pyImage, in: func(in *Input) { pyApp(in); in.Options.ImportDepth = -1 },
			want: map[string]Reason{"/usr/lib/python3.11/datetime.py": ReasonImport}},
		{name: "size bound", img: pyImage, in: func(in *Input) { pyApp(in); in.Options.ImportMaxBytes = 1000 },
			want: map[string]Reason{"/usr/lib/python3.11/sqlite3/__init__.py": ReasonImport},
			not:  []string{"/usr/lib/python3.11/big.py"},
			check: func(t *testing.T, s *Set) {
				if s.Imports.Bound != BoundSize || s.Imports.Bytes > 1000 {
					t.Errorf("stats %+v", s.Imports)
				}
			}},
		{name: "node lazy local module", img: pyImage,
			in:   func(in *Input) { alone(in); in.Files = read("/srv/app/server.js") },
			want: map[string]Reason{"/srv/app/lib/report.js": ReasonImport, "/srv/app/data.json": ReasonImport},
			not:  []string{"/srv/app/unused.js"},
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/srv/app/lib/report.js"); e.Detail != "imported by /srv/app/server.js:3" {
					t.Errorf("detail %q", e.Detail)
				}
				if s.Imports.NotFound != 1 { // path: a builtin
					t.Errorf("stats %+v", s.Imports)
				}
			}},
		{name: "kept by the app-dir rule, still read", img: pyImage,
			in:   func(in *Input) { quiet(in); in.Files = read("/srv/app/server.js") },
			want: map[string]Reason{"/srv/app/lib/report.js": ReasonAppDir, "/srv/app/data.json": ReasonAppDir},
			check: func(t *testing.T, s *Set) {
				if s.Imports.Parsed != 2 || s.Imports.Files != 0 {
					t.Errorf("stats %+v", s.Imports)
				}
			}},
	})
}

// TestUnresolvedCapped: a generated 4 MiB .js of computed requires lists
// at most the per-file cap, counts the rest and names the cap and file;
// the total cap holds across files.
func TestUnresolvedCapped(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 4<<20-64; i++ { // just under the 4 MiB read per source file
		fmt.Fprintf(&b, "const m%d = require(names[%d]);\n", i, i)
	}
	gen := b.String()
	img := with(pyImage, map[string]*fstest.MapFile{
		"srv/gen/bundle.js": file(gen),
		"srv/gen/a.js":      file(strings.Repeat("require(x);\n", 15)),
		"srv/gen/main.js":   file("require('./bundle');\nrequire('./a');\n"),
	})
	start := time.Now()
	runCases(t, []computeCase{
		{name: "per-file cap", img: img, in: func(in *Input) { alone(in); in.Files = read("/srv/gen/main.js") },
			check: func(t *testing.T, s *Set) {
				st := s.Imports
				if len(st.Unresolved) != DefaultMaxUnresolvedPerFile+15 || st.UnresolvedLeftOut < 100000 ||
					!slices.Equal(st.UnresolvedCapped, []string{"per-file"}) || !slices.Equal(st.UnresolvedCappedFiles, []string{"/srv/gen/bundle.js"}) {
					t.Errorf("unresolved %d, left out %d, capped %v in %v", len(st.Unresolved), st.UnresolvedLeftOut, st.UnresolvedCapped, st.UnresolvedCappedFiles)
				}
			}},
		{name: "total cap", img: img, in: func(in *Input) {
			alone(in)
			in.Files = read("/srv/gen/main.js")
			in.Options.MaxUnresolved, in.Options.MaxUnresolvedPerFile = 25, -1
		},
			check: func(t *testing.T, s *Set) {
				st := s.Imports
				if len(st.Unresolved) != 25 || !slices.Equal(st.UnresolvedCapped, []string{"total"}) || st.UnresolvedLeftOut < 100000 {
					t.Errorf("unresolved %d, left out %d, capped %v", len(st.Unresolved), st.UnresolvedLeftOut, st.UnresolvedCapped)
				}
			}},
	})
	t.Logf("two 4 MiB closures in %v", time.Since(start))
}
