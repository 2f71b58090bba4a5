package imports

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func files(paths ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for _, p := range paths {
		body := ""
		p, body, _ = strings.Cut(p, "=")
		m[strings.TrimPrefix(p, "/")] = &fstest.MapFile{Data: []byte(body), Mode: 0o644}
	}
	return m
}

type resolveCase struct {
	name string
	from string
	ref  Ref
	want []string // nil: not found
}

func runResolve(t *testing.T, r *Resolver, l Lang, cases []resolveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, found := r.Resolve(l, tc.from, tc.ref)
			if found != (tc.want != nil) || !slices.Equal(got, tc.want) {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tc.ref.Name, got, found, tc.want)
			}
		})
	}
}

func TestResolvePython(t *testing.T) {
	fsys := files(
		"/usr/lib/python3.11/os.py", "/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/json/decoder.py",
		"/usr/lib/python3.11/sqlite3/__init__.py", "/usr/lib/python3.11/sqlite3/dbapi2.py",
		"/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so",
		"/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so",
		"/usr/lib/python3/dist-packages/flask/__init__.py", "/usr/lib/python3/dist-packages/flask/app.py",
		"/usr/lib/python3/dist-packages/flask/json/__init__.py",
		"/usr/lib/python3/dist-packages/extra.pth=# comment\nimport site\n/opt/extra\n",
		"/opt/extra/plugin.py", "/srv/lib/mine.py",
		"/usr/lib/python3/dist-packages/nspkg/sub.py",
		"/usr/lib/python3/dist-packages/compiled.pyc",
		"/app/app.py", "/app/helpers/__init__.py", "/app/helpers/db.py",
	)
	r := NewResolver(fsys, Env{Env: []string{"PYTHONPATH=/srv/lib"},
		Seen: []string{"/usr/lib/python3.11/os.py", "/app/app.py", "/usr/lib/python3/dist-packages/flask/app.py"}})
	runResolve(t, r, Python, []resolveCase{
		{"stdlib module", "/app/app.py", Ref{Kind: "import", Name: "os"}, []string{"/usr/lib/python3.11/os.py"}},
		{"package", "/app/app.py", Ref{Kind: "import", Name: "json.decoder"},
			[]string{"/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/json/decoder.py"}},
		{"extension", "/usr/lib/python3.11/sqlite3/dbapi2.py", Ref{Kind: "from", Name: "_sqlite3", Names: []string{"*"}},
			[]string{"/usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so"}},
		{"from package import submodule", "/app/app.py", Ref{Kind: "from", Name: "sqlite3", Names: []string{"dbapi2", "connect"}},
			[]string{"/usr/lib/python3.11/sqlite3/__init__.py", "/usr/lib/python3.11/sqlite3/dbapi2.py"}},
		{"dist-packages", "/app/app.py", Ref{Kind: "from", Name: "flask", Names: []string{"json"}},
			[]string{"/usr/lib/python3/dist-packages/flask/__init__.py", "/usr/lib/python3/dist-packages/flask/json/__init__.py"}},
		{"pth directory", "/app/app.py", Ref{Kind: "import", Name: "plugin"}, []string{"/opt/extra/plugin.py"}},
		{"PYTHONPATH", "/app/app.py", Ref{Kind: "import", Name: "mine"}, []string{"/srv/lib/mine.py"}},
		{"script directory", "/app/app.py", Ref{Kind: "import", Name: "helpers.db"}, []string{"/app/helpers/__init__.py", "/app/helpers/db.py"}},
		{"relative", "/app/helpers/__init__.py", Ref{Kind: "from", Level: 1, Names: []string{"db"}}, []string{"/app/helpers/db.py"}},
		{"relative parent", "/usr/lib/python3/dist-packages/flask/json/__init__.py", Ref{Kind: "from", Level: 2, Name: "app", Names: []string{"Flask"}},
			[]string{"/usr/lib/python3/dist-packages/flask/app.py"}},
		{"namespace package", "/app/app.py", Ref{Kind: "import", Name: "nspkg.sub"}, []string{"/usr/lib/python3/dist-packages/nspkg/sub.py"}},
		{"sourceless", "/app/app.py", Ref{Kind: "import", Name: "compiled"}, []string{"/usr/lib/python3/dist-packages/compiled.pyc"}},
		{"django app module", "/app/app.py", Ref{Kind: "installed_app", Name: "helpers.db"}, []string{"/app/helpers/__init__.py", "/app/helpers/db.py"}},
		{"django AppConfig", "/app/app.py", Ref{Kind: "installed_app", Name: "helpers.db.DbConfig"},
			[]string{"/app/helpers/__init__.py", "/app/helpers/db.py"}},
		{"django app missing", "/app/app.py", Ref{Kind: "installed_app", Name: "nope.apps.X"}, nil},
		{"builtin", "/app/app.py", Ref{Kind: "import", Name: "sys"}, nil},
		{"other platform", "/app/app.py", Ref{Kind: "import", Name: "msvcrt"}, nil},
		{"dynamic", "/app/app.py", Ref{Kind: "import_module", Dynamic: true}, nil},
	})
}

func TestResolveNode(t *testing.T) {
	fsys := files(
		"/app/server.js", "/app/lib/report.js", "/app/lib/dir/index.js", "/app/data.json",
		"/app/node_modules/express/package.json={\"main\": \"index\"}", "/app/node_modules/express/index.js",
		"/app/node_modules/express/lib/router.js",
		"/app/node_modules/@scope/pkg/package.json={\"exports\": {\".\": {\"import\": \"./esm/i.mjs\", \"require\": \"./cjs/i.js\"}, \"./feature/*\": \"./f/*.js\"}}",
		"/app/node_modules/@scope/pkg/cjs/i.js", "/app/node_modules/@scope/pkg/esm/i.mjs", "/app/node_modules/@scope/pkg/f/x.js",
		"/app/node_modules/sugar/package.json={\"exports\": \"./main.js\"}", "/app/node_modules/sugar/main.js",
		"/app/node_modules/express/node_modules/debug/src/index.js", "/app/node_modules/express/node_modules/debug/package.json={\"main\": \"./src\"}",
		"/usr/share/nodejs/glob/package.json={}", "/usr/share/nodejs/glob/index.js",
	)
	r := NewResolver(fsys, Env{})
	runResolve(t, r, Node, []resolveCase{
		{"relative file", "/app/server.js", Ref{Name: "./lib/report"}, []string{"/app/lib/report.js"}},
		{"relative dir", "/app/server.js", Ref{Name: "./lib/dir"}, []string{"/app/lib/dir/index.js"}},
		{"json", "/app/lib/report.js", Ref{Name: "../data.json"}, []string{"/app/data.json"}},
		{"main", "/app/server.js", Ref{Name: "express"}, []string{"/app/node_modules/express/index.js", "/app/node_modules/express/package.json"}},
		{"deep file", "/app/server.js", Ref{Name: "express/lib/router"}, []string{"/app/node_modules/express/lib/router.js", "/app/node_modules/express/package.json"}},
		{"nested node_modules, main dir", "/app/node_modules/express/lib/router.js", Ref{Name: "debug"},
			[]string{"/app/node_modules/express/node_modules/debug/src/index.js", "/app/node_modules/express/node_modules/debug/package.json"}},
		{"exports conditions", "/app/server.js", Ref{Name: "@scope/pkg"}, []string{"/app/node_modules/@scope/pkg/cjs/i.js", "/app/node_modules/@scope/pkg/package.json"}},
		{"exports conditions, ES module", "/app/server.mjs", Ref{Kind: "import", Name: "@scope/pkg"},
			[]string{"/app/node_modules/@scope/pkg/esm/i.mjs", "/app/node_modules/@scope/pkg/package.json"}},
		{"exports pattern", "/app/server.js", Ref{Name: "@scope/pkg/feature/x"}, []string{"/app/node_modules/@scope/pkg/f/x.js", "/app/node_modules/@scope/pkg/package.json"}},
		{"exports string", "/app/server.js", Ref{Name: "sugar"}, []string{"/app/node_modules/sugar/main.js", "/app/node_modules/sugar/package.json"}},
		{"global folder", "/app/server.js", Ref{Name: "glob"}, []string{"/usr/share/nodejs/glob/index.js", "/usr/share/nodejs/glob/package.json"}},
		{"builtin", "/app/server.js", Ref{Name: "zlib"}, nil},
		{"node: builtin", "/app/server.js", Ref{Name: "node:fs/promises"}, nil},
		{"missing", "/app/server.js", Ref{Name: "left-pad"}, nil},
	})
}

func TestResolveRuby(t *testing.T) {
	fsys := files(
		"/usr/lib/ruby/3.1.0/csv.rb", "/usr/lib/ruby/3.1.0/csv/parser.rb", "/usr/lib/ruby/3.1.0/json.rb",
		"/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so", "/usr/lib/x86_64-linux-gnu/ruby/3.1.0/etc.so",
		"/usr/lib/ruby/vendor_ruby/sinatra/base.rb", "/usr/lib/ruby/vendor_ruby/rack/mime.rb",
		"/var/lib/gems/3.1.0/gems/tilt-2.0.11/lib/tilt.rb", "/var/lib/gems/3.1.0/gems/tilt-2.0.10/lib/tilt.rb",
		"/usr/share/rubygems-integration/all/gems/mustermann-2.0.2/lib/mustermann.rb",
		"/app/app.rb", "/app/lib/inventory.rb", "/app/tasks.rake",
	)
	r := NewResolver(fsys, Env{WorkingDir: "/app"})
	runResolve(t, r, Ruby, []resolveCase{
		{"stdlib", "/app/app.rb", Ref{Kind: "require", Name: "csv"}, []string{"/usr/lib/ruby/3.1.0/csv.rb"}},
		{"stdlib nested", "/usr/lib/ruby/3.1.0/csv.rb", Ref{Kind: "require", Name: "csv/parser"}, []string{"/usr/lib/ruby/3.1.0/csv/parser.rb"}},
		{"arch dir", "/app/app.rb", Ref{Kind: "require", Name: "json/ext/parser"}, []string{"/usr/lib/x86_64-linux-gnu/ruby/3.1.0/json/ext/parser.so"}},
		{"explicit .so", "/app/app.rb", Ref{Kind: "require", Name: "etc.so"}, []string{"/usr/lib/x86_64-linux-gnu/ruby/3.1.0/etc.so"}},
		{"vendor_ruby", "/app/app.rb", Ref{Kind: "autoload", Name: "rack/mime"}, []string{"/usr/lib/ruby/vendor_ruby/rack/mime.rb"}},
		{"gem", "/app/app.rb", Ref{Kind: "require", Name: "tilt"}, []string{"/var/lib/gems/3.1.0/gems/tilt-2.0.11/lib/tilt.rb"}},
		{"integration gem", "/app/app.rb", Ref{Kind: "require", Name: "mustermann"}, []string{"/usr/share/rubygems-integration/all/gems/mustermann-2.0.2/lib/mustermann.rb"}},
		{"relative", "/app/app.rb", Ref{Kind: "autoload", Name: "lib/inventory", FromDir: true}, []string{"/app/lib/inventory.rb"}},
		{"load needs the name", "/app/app.rb", Ref{Kind: "load", Name: "tasks.rake", FromDir: true}, []string{"/app/tasks.rake"}},
		{"missing", "/app/app.rb", Ref{Kind: "require", Name: "win32ole"}, nil},
	})
}

func TestResolvePHP(t *testing.T) {
	fsys := files("/app/public/index.php", "/app/lib/Report.php", "/usr/share/php/Pear/Thing.php", "/app/public/conf.php",
		"/app/vendor/composer/autoload_static.php", "/app/vendor/sym/poly/bootstrap.php", "/app/src/Kernel.php")
	r := NewResolver(fsys, Env{WorkingDir: "/app/public"})
	runResolve(t, r, PHP, []resolveCase{
		{"__DIR__", "/app/public/index.php", Ref{Name: "../lib/Report.php", FromDir: true}, []string{"/app/lib/Report.php"}},
		{"include_path", "/app/public/index.php", Ref{Name: "Pear/Thing.php"}, []string{"/usr/share/php/Pear/Thing.php"}},
		{"working dir", "/app/lib/Report.php", Ref{Name: "conf.php"}, []string{"/app/public/conf.php"}},
		{"absolute", "/app/public/index.php", Ref{Name: "/app/lib/Report.php"}, []string{"/app/lib/Report.php"}},
		{"missing", "/app/public/index.php", Ref{Name: "nope.php"}, nil},
		{"composer vendor", "/app/vendor/composer/autoload_static.php", Ref{Kind: "autoload", Name: "../sym/poly/bootstrap.php", FromDir: true},
			[]string{"/app/vendor/sym/poly/bootstrap.php"}},
		{"composer base", "/app/vendor/composer/autoload_static.php", Ref{Kind: "autoload", Name: "../../src/Kernel.php", FromDir: true},
			[]string{"/app/src/Kernel.php"}},
	})
}

func TestResolvePHPClass(t *testing.T) {
	psr4 := "<?php\n$vendorDir = dirname(__DIR__);\n$baseDir = dirname($vendorDir);\n\nreturn array(\n" +
		"    'Shop\\\\Report\\\\' => array($baseDir . '/src/reports'),\n    'Shop\\\\' => array($baseDir . '/src', $baseDir . '/lib'),\n" +
		"    'Psr\\\\Log\\\\' => array($vendorDir . '/psr/log/src'),\n);\n"
	fsys := files("/app/public/index.php", "/app/vendor/composer/autoload_psr4.php="+psr4, "/app/src/Stock.php",
		"/app/lib/Util/Fmt.php", "/app/src/reports/Daily.php", "/app/vendor/psr/log/src/LoggerInterface.php")
	r := NewResolver(fsys, Env{WorkingDir: "/app/public"})
	runResolve(t, r, PHP, []resolveCase{
		{"prefix dir", "/app/public/index.php", Ref{Kind: "class", Name: "Shop\\Stock"}, []string{"/app/src/Stock.php"}},
		{"second dir, subnamespace", "/app/public/index.php", Ref{Kind: "class", Name: "Shop\\Util\\Fmt"}, []string{"/app/lib/Util/Fmt.php"}},
		{"longest prefix", "/app/src/Stock.php", Ref{Kind: "class", Name: "Shop\\Report\\Daily"}, []string{"/app/src/reports/Daily.php"}},
		{"vendor package", "/app/src/Stock.php", Ref{Kind: "class", Name: "Psr\\Log\\LoggerInterface"}, []string{"/app/vendor/psr/log/src/LoggerInterface.php"}},
		{"no prefix", "/app/public/index.php", Ref{Kind: "class", Name: "Other\\Thing"}, nil},
		{"no file", "/app/public/index.php", Ref{Kind: "class", Name: "Shop\\Missing"}, nil},
	})
}

// countFS counts the opens of each file.
type countFS struct {
	fstest.MapFS
	opens map[string]int
}

func (c countFS) Open(name string) (fs.File, error) {
	c.opens[name]++
	return c.MapFS.Open(name)
}

func (c countFS) ReadFile(name string) ([]byte, error) {
	c.opens[name]++
	return c.MapFS.ReadFile(name)
}

// TestPackageJSONReadOnce: a thousand requires into one package read its
// package.json once.
func TestPackageJSONReadOnce(t *testing.T) {
	fsys := countFS{files("/app/node_modules/big/package.json={\"main\": \"lib/main.js\", \"exports\": {\".\": \"./lib/main.js\", \"./x/*\": \"./lib/x/*.js\"}}",
		"/app/node_modules/big/lib/main.js", "/app/node_modules/big/lib/x/a.js", "/app/node_modules/bad/package.json=not json",
		"/app/node_modules/bad/index.js"), map[string]int{}}
	r := NewResolver(fsys, Env{})
	for i := range 1000 {
		from := fmt.Sprintf("/app/src/f%d.js", i)
		if got, ok := r.Resolve(Node, from, Ref{Name: "big"}); !ok || got[0] != "/app/node_modules/big/lib/main.js" {
			t.Fatalf("big: %q %v", got, ok)
		}
		if got, ok := r.Resolve(Node, from, Ref{Name: "big/x/a"}); !ok || got[0] != "/app/node_modules/big/lib/x/a.js" {
			t.Fatalf("big/x/a: %q %v", got, ok)
		}
		// A package.json that is not JSON is still the package's.
		if got, ok := r.Resolve(Node, from, Ref{Name: "bad"}); !ok || !slices.Equal(got, []string{"/app/node_modules/bad/index.js", "/app/node_modules/bad/package.json"}) {
			t.Fatalf("bad: %q %v", got, ok)
		}
	}
	for _, p := range []string{"app/node_modules/big/package.json", "app/node_modules/bad/package.json"} {
		if n := fsys.opens[p]; n != 1 {
			t.Errorf("%s opened %d times", p, n)
		}
	}
}
