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
	"usr/lib/python3.11/decimal.py":                                           file("try:\n    from _decimal import *\nexcept ImportError:\n    from _pydecimal import *\n"),
	"usr/lib/python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so": file("not really ELF"),
	"usr/lib/python3.11/_pydecimal.py":                                        file("x = 1\n"),
	"usr/lib/python3.11/fractions.py":                                         file("try:\n    import _nofast\nexcept ImportError:\n    import _slow\n"),
	"usr/lib/python3.11/_slow.py":                                             file("x = 1\n"),
	"app/calc.py":                                                             file("import decimal\nimport fractions\n"),
	"app/app.py": file("import os\n\ndef items():\n    import sqlite3\n    return sqlite3\n\n" +
		"def plugin(name):\n    return importlib.import_module(name)\n\ndef big():\n    import big\n"),
	"srv/other/lib.js":      file("x"),
	"srv/app/server.js":     file("const path = require('path');\napp.get('/r', () => {\n  const report = require(\"./lib/report\");\n});\n"),
	"srv/app/lib/report.js": file("module.exports = require('../data.json');\n"),
	"srv/app/data.json":     file("{}"),
	"srv/app/unused.js":     file("x"),
})

// rubyImage is a Sinatra-like app: Tilt registers its template engines by
// name at start-up and loads one at the first render of a template with
// its extension; the app has ERB views only.
var rubyImage = with(debian, map[string]*fstest.MapFile{
	"usr/lib/ruby/vendor_ruby/tilt.rb": file("require 'tilt/template'\nmodule Tilt\n" +
		"  register_lazy :ERBTemplate,  'tilt/erb',  'erb', 'rhtml'\n  register_lazy :HamlTemplate, 'tilt/haml', 'haml'\n" +
		"  register_lazy 'Slim::Template', 'slim', 'slim'\nend\n"),
	"usr/lib/ruby/vendor_ruby/tilt/template.rb": file("module Tilt; end\n"),
	"usr/lib/ruby/vendor_ruby/tilt/erb.rb":      file("require 'tilt/template'\nrequire 'erb'\n"),
	"usr/lib/ruby/vendor_ruby/tilt/haml.rb":     file("require 'haml'\n"),
	"usr/lib/ruby/3.1.0/erb.rb":                 file("require 'erb/version'\n"),
	"usr/lib/ruby/3.1.0/erb/version.rb":         file("VERSION = '1'\n"),
	"usr/lib/ruby/3.1.0/haml.rb":                file("x = 1\n"),
	"var/lib/dpkg/status": file(dpkgStatus + "\nPackage: ruby-tilt\nStatus: install ok installed\nArchitecture: all\n" +
		"\nPackage: libruby3.1\nStatus: install ok installed\nArchitecture: amd64\n"),
	"var/lib/dpkg/info/ruby-tilt.list": file("/usr/lib/ruby\n/usr/lib/ruby/vendor_ruby\n/usr/lib/ruby/vendor_ruby/tilt\n/usr/lib/ruby/vendor_ruby/tilt.rb\n/usr/lib/ruby/vendor_ruby/tilt/template.rb\n" +
		"/usr/lib/ruby/vendor_ruby/tilt/erb.rb\n/usr/lib/ruby/vendor_ruby/tilt/haml.rb\n"),
	"var/lib/dpkg/info/libruby3.1.list": file("/usr/lib/ruby\n/usr/lib/ruby/3.1.0\n/usr/lib/ruby/3.1.0/erb\n/usr/lib/ruby/3.1.0/erb.rb\n/usr/lib/ruby/3.1.0/erb/version.rb\n/usr/lib/ruby/3.1.0/haml.rb\n"),
	"app/app.rb":                        file("require 'tilt'\nget('/about') { erb :about }\n"),
	"app/views/about.erb":               file("<h1><%= 1 %></h1>\n"),
})

// nodeViewImage is an Express app whose views use the engine named in
// app.set("view engine", ...).
var nodeViewImage = with(debian, map[string]*fstest.MapFile{
	"app/server.js":                       file("const express = require('express');\napp.set('view engine', 'pug');\n"),
	"app/views/stock.pug":                 file("p stock\n"),
	"app/node_modules/express/index.js":   file("module.exports = 1;\n"),
	"app/node_modules/pug/package.json":   file(`{"main": "lib/index.js"}`),
	"app/node_modules/pug/lib/index.js":   file("module.exports = require('./compile');\n"),
	"app/node_modules/pug/lib/compile.js": file("module.exports = 2;\n"),
})

// consolidateImage is an Express app rendering .html views with swig
// through consolidate's engine map.
var consolidateImage = with(debian, map[string]*fstest.MapFile{
	"app/server.js":                             file("const cons = require('consolidate');\napp.engine('html', cons.swig);\n"),
	"app/views/stock.html":                      file("<p>{{ stock }}</p>\n"),
	"app/node_modules/consolidate/package.json": file(`{"main": "index.js"}`),
	"app/node_modules/consolidate/index.js":     file("module.exports = {};\n"),
	"app/node_modules/swig/package.json":        file(`{"main": "lib/swig.js"}`),
	"app/node_modules/swig/lib/swig.js":         file("module.exports = 3;\n"),
	"app/node_modules/handlebars/package.json":  file(`{"main": "index.js"}`),
	"app/node_modules/handlebars/index.js":      file("module.exports = 4;\n"),
})

// phpImage is a composer app whose route uses a class composer's PSR-4
// autoloader loads at its first use.
var phpImage = with(debian, map[string]*fstest.MapFile{
	"app/public/index.php": file("<?php\nrequire __DIR__ . '/../vendor/autoload.php';\nuse Shop\\Stock;\n" +
		"if ($_SERVER['REQUEST_URI'] === '/stock') { echo (new Stock())->count(); }\n"),
	"app/vendor/autoload.php": file("<?php\nreturn 1;\n"),
	"app/vendor/composer/autoload_psr4.php": file("<?php\n$vendorDir = dirname(__DIR__);\n$baseDir = dirname($vendorDir);\n" +
		"return array(\n    'Shop\\\\' => array($baseDir . '/src'),\n);\n"),
	"app/src/Stock.php":   file("<?php\nnamespace Shop;\nclass Stock { function count() { return new Counter(); } }\n"),
	"app/src/Counter.php": file("<?php\nnamespace Shop;\nclass Counter {}\n"),
	"app/src/Unused.php":  file("<?php\n"),
})

// pyEntryImage: the app uses a distribution whose entry points name a
// plugin module of another distribution, and a command.
var pyEntryImage = with(debian, map[string]*fstest.MapFile{
	"app/app.py":                      file("import web\n"),
	site + "web/__init__.py":          file("x = 1\n"),
	site + "web/cli.py":               file("x = 1\n"),
	site + "web-1.0.dist-info/RECORD": file("web/__init__.py,,\nweb/cli.py,,\n"),
	site + "web-1.0.dist-info/entry_points.txt": file("[console_scripts]\nweb = web.cli:main\n\n" +
		"[web.plugins]\nstats = web_stats.plugin:Stats [extra]\n"),
	site + "web_stats/__init__.py": file("x = 1\n"),
	site + "web_stats/plugin.py":   file("import web_stats.util\n"),
	site + "web_stats/util.py":     file("x = 1\n"),
})

func TestComputeLazyLoad(t *testing.T) {
	runCases(t, []computeCase{
		{name: "python entry points of a used distribution", img: pyEntryImage,
			in: func(in *Input) { alone(in); in.Files = read("/app/app.py", "/"+site+"web/__init__.py") },
			want: map[string]Reason{"/" + site + "web_stats/plugin.py": ReasonLazyLoad, "/" + site + "web_stats/__init__.py": ReasonLazyLoad,
				"/" + site + "web_stats/util.py": ReasonImport},
			not: []string{"/" + site + "web/cli.py"}, // a command's module
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/" + site + "web_stats/plugin.py"); e.Detail != "entry point at /"+site+"web-1.0.dist-info/entry_points.txt:5" {
					t.Errorf("detail %q", e.Detail)
				}
			}},
		{name: "php PSR-4 class", img: phpImage,
			in:   func(in *Input) { alone(in); in.Files = read("/app/public/index.php", "/app/vendor/autoload.php") },
			want: map[string]Reason{"/app/src/Stock.php": ReasonLazyLoad, "/app/src/Counter.php": ReasonLazyLoad},
			not:  []string{"/app/src/Unused.php"},
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/app/src/Stock.php"); e.Detail != "autoloaded (PSR-4) for /app/public/index.php:3" {
					t.Errorf("detail %q", e.Detail)
				}
			}},
		{name: "tilt engine of the app's templates", img: rubyImage,
			in: func(in *Input) {
				quiet(in)
				in.Files = read("/app/app.rb", "/usr/lib/ruby/vendor_ruby/tilt.rb", "/usr/lib/ruby/vendor_ruby/tilt/template.rb")
			},
			want: map[string]Reason{"/usr/lib/ruby/vendor_ruby/tilt/erb.rb": ReasonLazyLoad,
				"/usr/lib/ruby/3.1.0/erb.rb": ReasonImport, "/usr/lib/ruby/3.1.0/erb/version.rb": ReasonImport,
				"/app/views/about.erb": ReasonAppDir},
			// No template of the app is haml's or slim's.
			not: []string{"/usr/lib/ruby/vendor_ruby/tilt/haml.rb", "/usr/lib/ruby/3.1.0/haml.rb"},
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/usr/lib/ruby/vendor_ruby/tilt/erb.rb"); e.Detail != "registered by /usr/lib/ruby/vendor_ruby/tilt.rb:3" {
					t.Errorf("detail %q", e.Detail)
				}
				if s.Imports.Unused != 2 {
					t.Errorf("stats %+v", s.Imports)
				}
				ins := s.InsuranceBytes()
				erb := int64(len("require 'erb/version'\n") + len("VERSION = '1'\n"))
				if ins[ReasonLazyLoad] != int64(len("require 'tilt/template'\nrequire 'erb'\n")) || ins[ReasonImport] != erb ||
					ins[ReasonAppDir] != int64(len("<h1><%= 1 %></h1>\n")) || len(ins) != 3 {
					t.Errorf("insurance bytes %v", ins) // app.rb is traced: kept first for that
				}
			}},
		{name: "no template kept, no engine", img: rubyImage,
			in: func(in *Input) {
				alone(in)
				in.Files = read("/app/app.rb", "/usr/lib/ruby/vendor_ruby/tilt.rb")
			},
			not: []string{"/usr/lib/ruby/vendor_ruby/tilt/erb.rb", "/usr/lib/ruby/3.1.0/erb.rb"}},
		{name: "consolidate's engine map", img: consolidateImage,
			in:   func(in *Input) { alone(in); in.Files = read("/app/server.js", "/app/views/stock.html") },
			want: map[string]Reason{"/app/node_modules/swig/lib/swig.js": ReasonLazyLoad},
			not:  []string{"/app/node_modules/handlebars/index.js"}},
		{name: "express view engine", img: nodeViewImage,
			in: func(in *Input) { alone(in); in.Files = read("/app/server.js", "/app/views/stock.pug") },
			want: map[string]Reason{"/app/node_modules/pug/lib/index.js": ReasonLazyLoad,
				"/app/node_modules/pug/lib/compile.js": ReasonImport},
			check: func(t *testing.T, s *Set) {
				if e := s.Find("/app/node_modules/pug/lib/index.js"); e.Detail != "registered by /app/server.js:2" {
					t.Errorf("detail %q", e.Detail)
				}
			}},
	})
}

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
		{name: "except ImportError fallback", img: pyImage,
			in: func(in *Input) {
				alone(in)
				in.Files = read("/usr/bin/python3.11", "/app/calc.py", "/usr/lib/python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so")
			},
			// _decimal loaded, so _pydecimal is not needed; _nofast is not in the image, so _slow is.
			want: map[string]Reason{"/usr/lib/python3.11/decimal.py": ReasonImport, "/usr/lib/python3.11/_slow.py": ReasonImport},
			not:  []string{"/usr/lib/python3.11/_pydecimal.py"},
			check: func(t *testing.T, s *Set) {
				if s.Imports.Fallbacks != 1 {
					t.Errorf("stats %+v", s.Imports)
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
