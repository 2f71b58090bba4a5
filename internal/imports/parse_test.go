package imports

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// refString renders a reference compactly: "3 import a.b", "5 from ..x
// [a b]", "7 dynamic importlib.import_module(name)".
func refString(r Ref) string {
	if r.Dynamic {
		return fmt.Sprintf("%d dynamic %s", r.Line, r.Expr)
	}
	s := fmt.Sprintf("%d %s %s%s", r.Line, r.Kind, strings.Repeat(".", r.Level), r.Name)
	if len(r.Exts) > 0 {
		s += " [" + strings.Join(r.Exts, " ") + "]"
	}
	if len(r.Names) > 0 {
		s += " [" + strings.Join(r.Names, " ") + "]"
	}
	if r.FromDir {
		s += " (dir)"
	}
	if r.Deferred {
		s += " (deferred)"
	}
	if len(r.Fallback) > 0 {
		s += " (fallback for " + strings.Join(r.Fallback, " ") + ")"
	}
	return s
}

type parseCase struct {
	name string
	src  string
	want []string
}

func runParse(t *testing.T, l Lang, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range Parse(l, []byte(tc.src)) {
				got = append(got, refString(r))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Parse:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestParsePython(t *testing.T) {
	runParse(t, Python, []parseCase{
		{"plain", "import os\nimport a.b as c, d\n", []string{"1 import os", "2 import a.b", "2 import d"}},
		{"from", "from a.b import c as d, e\n", []string{"1 from a.b [c e]"}},
		{"relative", "from . import x\nfrom ..pkg.mod import (y,\n   z)\n", []string{"1 from . [x]", "2 from ..pkg.mod [y z]"}},
		{"multi-line parens", "from x import (\n  a,  # comment with import y\n  b as bb,\n)\nimport q\n",
			[]string{"1 from x [a b]", "5 import q"}},
		{"in function and try", "def f():\n    try:\n        import sqlite3\n    except ImportError:\n        sqlite3 = None\n",
			[]string{"3 import sqlite3 (deferred)"}},
		{"one-line suite", "if True: import json\ntry: import simplejson as json\nexcept ImportError: pass\n",
			[]string{"1 import json", "2 import simplejson"}},
		{"semicolon", "x = 1; import re\n", []string{"1 import re"}},
		{"in strings", "s = 'import os'\nt = \"\"\"\nimport sys\nfrom a import b\n\"\"\"\nu = r'\\'import x'\n", nil},
		{"in comment", "# import os\nx = 1 # from a import b\n", nil},
		{"f-string", "x = f\"{y['import z']} import w\"\nimport real\n", []string{"2 import real"}},
		{"continuation", "import a, \\\n    b\n", []string{"1 import a", "1 import b"}},
		{"not statements", "raise X from e\nyield from g()\nx.import_thing\n", nil},
		{"import_module", "import importlib\nm = importlib.import_module(\"json\")\nn = __import__('a.b', globals())\n",
			[]string{"1 import importlib", "2 import_module json", "3 __import__ a.b"}},
		{"dynamic", "m = importlib.import_module(name)\nn = importlib.import_module(f\"x.{y}\")\no = __import__('a' + b)\nimportlib.import_module('.sub', __name__)\n",
			[]string{"1 dynamic importlib.import_module(name)", "2 dynamic importlib.import_module(f\"x.{y}\")",
				"3 dynamic __import__('a' + b)", "4 dynamic importlib.import_module('.sub', __name__)"}},
		{"def import_module", "def import_module(name, package=None):\n    pass\n", nil},
		{"other OS", "import sys\nif sys.platform == 'win32':\n    from .windows_events import *\n    import msvcrt\nelse:\n    from .unix_events import *\n" +
			"if os.name == \"nt\": import nt\nif _mswindows:\n    import _winapi\nif sys.platform != 'win32':\n    import fcntl\n" +
			"if sys.platform.startswith('darwin') or sys.platform == 'linux':\n    import linuxish\nimport after\n",
			[]string{"1 import sys", "6 from .unix_events", "11 import fcntl", "13 import linuxish", "14 import after"}},
		{"main block", "def f():\n    import lazy\n\nif __name__ == \"__main__\":\n    import doctest\n    doctest.testmod()\nimport after\nif '__main__' == __name__: import x\n",
			[]string{"2 import lazy (deferred)", "7 import after"}},
		{"django apps", "INSTALLED_APPS = [\n    'django.contrib.admin',\n    \"shop.apps.ShopConfig\",\n]\nINSTALLED_APPS += ('extra',)\nX_INSTALLED_APPS = ['no']\nINSTALLED_APPS == ['no2']\n",
			[]string{"2 installed_app django.contrib.admin", "3 installed_app shop.apps.ShopConfig", "5 installed_app extra"}},
		{"import error fallback", "try:\n    from _decimal import *\n    import _x\nexcept ImportError:\n    from _pydecimal import *\nelse:\n    import ok1\n" +
			"try:\n    import a\nexcept (ValueError, ModuleNotFoundError) as e:\n    try:\n        import b\n    except ImportError:\n        import c\n" +
			"try:\n    import d\nexcept KeyError:\n    import e\nimport after\n",
			[]string{"2 from _decimal", "3 import _x", "5 from _pydecimal (fallback for _decimal _x)", "7 import ok1",
				"9 import a", "12 import b (fallback for a)", "14 import c (fallback for b)", "16 import d", "18 import e", "19 import after"}},
		{"type checking", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from a import B\n    import c\nelse:\n    import d\nif typing.TYPE_CHECKING: import e\nif not TYPE_CHECKING:\n    import f\nimport g\n",
			[]string{"1 from typing [TYPE_CHECKING]", "6 import d", "9 import f", "10 import g"}},
		{"byte prefix and line count", "x = b'''\n\n'''\nimport a\n", []string{"4 import a"}},
	})
}

func TestParseNode(t *testing.T) {
	runParse(t, Node, []parseCase{
		{"require", "const a = require('a');\nconst {b} = require(\"./lib/b\");\n", []string{"1 require a", "2 require ./lib/b"}},
		{"in function", "app.get('/', (req, res) => {\n  const zlib = require(\"zlib\");\n});\n", []string{"2 require zlib"}},
		{"esm", "import x from \"x\";\nimport {a,\n  b as c} from './y.js';\nimport \"./side.js\";\nexport * from 'z';\nexport {q} from \"w\";\n",
			[]string{"1 import x", "2 import ./y.js", "4 import ./side.js", "5 import z", "6 import w"}},
		{"dynamic import", "const m = await import('./m.mjs');\nconst n = await import(name);\n",
			[]string{"1 import() ./m.mjs", "2 dynamic import(name)"}},
		{"comments and strings", "// require('no1')\n/* require('no2')\n*/ const s = \"require('no3')\";\nconst t = `require('no4')`;\n", nil},
		{"template", "const t = `a${require('inside')}b`;\nconst u = require(`tpl`);\nconst v = require(`x${y}`);\n",
			[]string{"1 require inside", "2 require tpl", "3 dynamic require(`x${y}`)"}},
		{"regex vs division", "const r = /require('no')/g;\nconst d = a / b; require('yes1');\nconst e = (x) / 2 / require('yes2');\n",
			[]string{"2 require yes1", "3 require yes2"}},
		{"regex with slash in class", "const r = /[/]require('no')/;\nrequire('after')\n", []string{"2 require after"}},
		{"not calls", "obj.require('x');\nfunction require(m) {}\nimport.meta.url;\nconst f = require;\n", nil},
		{"dynamic require", "const p = require(path.join(__dirname, 'x'));\n", []string{"1 dynamic require(path.join(__dirname, 'x'))"}},
		{"view engine", "app.set('view engine', 'pug');\napp.set(\"view engine\", \".ejs\")\napp.set('views', 'x');\napp.set('view engine', name);\nset('view engine', 'no');\n",
			[]string{"1 view engine pug [pug]", "2 view engine ejs [ejs]"}},
		{"consolidate", "const cons = require('consolidate');\napp.engine('html', cons.swig);\napp.engine(\".hbs\", require(\"consolidate\").handlebars)\n" +
			"app.engine('x', other.swig);\napp.engine('y', cons[name]);\napp.engine(ext, cons.pug);\n",
			[]string{"1 require consolidate", "2 view engine swig-templates [html]", "2 view engine swig [html]", "3 view engine handlebars [hbs]",
				"3 require consolidate"}},
	})
}

func TestParseRuby(t *testing.T) {
	runParse(t, Ruby, []parseCase{
		{"require", "require \"sinatra/base\"\nrequire 'csv'\nrequire('json')\n", []string{"1 require sinatra/base", "2 require csv", "3 require json"}},
		{"in a block", "get '/x' do\n  require \"csv\"\nend\n", []string{"2 require csv"}},
		{"relative", "require_relative 'lib/a'\nrequire_relative \"../b\"\n", []string{"1 require_relative lib/a (dir)", "2 require_relative ../b (dir)"}},
		{"in methods", "require 'top'\nclass A\n  def x\n    require 'inx' if y\n    [1].each do |z|\n      require 'indo'\n    end\n  end\n" +
			"  def self.y = require('endless')\n  require 'inclass'\n  while q do\n    z\n  end\n  x = if a then 1 else 2 end\n  require 'after'\n" +
			"  def w(a, b)\n    h = {if: 1, end: 2}\n    require 'inw'\n  end\n  require 'last' unless x.end\nend\n",
			[]string{"1 require top", "4 require inx (deferred)", "6 require indo (deferred)", "9 require endless", "10 require inclass",
				"15 require after", "18 require inw (deferred)", "20 require last"}},
		{"unbalanced: none deferred", "def x\n  require 'a'\nend\nend\nrequire 'b'\n", []string{"2 require a", "5 require b"}},
		{"register_lazy", "register_lazy :ERBTemplate,    'tilt/erb',    'erb', 'rhtml'\nTilt.register_lazy('Slim::Template', 'slim', 'slim')\n" +
			"register_lazy klass, file, 'x'\nregister_lazy :A, \"tilt/#{x}\", 'y'\ndef register_lazy(class_name, file, *extensions)\nend\n",
			[]string{"1 register_lazy tilt/erb [erb rhtml]", "2 register_lazy slim [slim]"}},
		{"autoload", "autoload :Inventory, File.expand_path(\"lib/inventory\", __dir__)\nautoload :Mime, \"rack/mime\"\nmodule Rack\n  autoload(:Utils, 'rack/utils')\nend\n",
			[]string{"1 autoload lib/inventory (dir)", "2 autoload rack/mime", "4 autoload rack/utils"}},
		{"dir forms", "require File.join(__dir__, \"lib\", \"x\")\nload __dir__ + \"/tasks.rb\"\nrequire File.expand_path('../y', __FILE__)\n",
			[]string{"1 require lib/x (dir)", "2 load tasks.rb (dir)", "3 require y (dir)"}},
		{"comments and strings", "# require 'no1'\ns = \"require 'no2'\"\n=begin\nrequire 'no3'\n=end\nx = %q(require 'no4')\n", nil},
		{"heredoc", "s = <<~EOS\n  require 'no'\nEOS\nrequire 'yes'\n", []string{"4 require yes"}},
		{"push is not heredoc", "csv << row\nrequire 'yes'\n", []string{"2 require yes"}},
		{"modifier", "require 'x' if defined?(Foo)\nrequire 'y' rescue nil\n", []string{"1 require x", "2 require y"}},
		{"dynamic", "require name\nrequire \"x/#{y}\"\n", []string{"1 dynamic require name", "2 dynamic require \"x/#{y}\""}},
		{"not calls", "def require(x); end\nfoo.load 'x'\nh = { load: 1 }\n", nil},
		{"regex", "x = y.split /require 'no'/\nrequire 'yes'\n", []string{"2 require yes"}},
	})
}

func TestParsePHP(t *testing.T) {
	runParse(t, PHP, []parseCase{
		{"classes", "<?php\nnamespace Shop;\nuse Psr\\Log\\LoggerInterface;\nuse \\Shop\\Util\\Fmt as F, Other\\X;\nuse Single;\n" +
			"$s = new Stock();\n$d = new \\Shop\\Report\\Daily;\n$t = Report\\Totals::sum();\n$f = function () use ($s) {};\n$o = new static();\n$v = new $cls();\n",
			[]string{"3 class Psr\\Log\\LoggerInterface", "4 class Shop\\Util\\Fmt", "4 class Other\\X", "6 class Shop\\Stock",
				"7 class Shop\\Report\\Daily", "8 class Shop\\Report\\Totals"}},
		{"forms", "<?php\ninclude 'a.php';\nrequire_once(\"b.php\");\nINCLUDE_ONCE 'c.php' ?>\n", []string{"2 include a.php", "3 include b.php", "4 include c.php"}},
		{"dir", "<?php\ninclude __DIR__ . '/../lib/Report.php';\nrequire dirname(__FILE__) . \"/x.php\";\n",
			[]string{"2 include ../lib/Report.php (dir)", "3 include x.php (dir)"}},
		{"inline html", "<p>include 'no.php';</p>\n<?php require 'yes.php'; ?>\n<p>require 'no2.php'</p>\n", []string{"2 include yes.php"}},
		{"comments and strings", "<?php\n// include 'no1.php';\n# require 'no2.php';\n/* include 'no3.php'; */\n$s = \"include 'no4.php'\";\n", nil},
		{"heredoc", "<?php\necho <<<HTML\ninclude 'no.php';\nHTML;\ninclude 'yes.php';\n", []string{"5 include yes.php"}},
		{"in a case", "<?php\nswitch ($p) {\ncase '/r':\n    include __DIR__ . '/lib/R.php';\n    break;\n}\n", []string{"4 include lib/R.php (dir)"}},
		{"composer static map", "<?php\nnamespace Composer\\Autoload;\nclass ComposerStaticInit123\n{\n    public static $files = array (\n" +
			"        'abc' => __DIR__ . '/..' . '/symfony/polyfill/bootstrap.php',\n    );\n    public static $prefixDirsPsr4 = array (\n" +
			"        'App\\\\' => array (0 => __DIR__ . '/../..' . '/src'),\n    );\n    public static $classMap = array (\n" +
			"        'App\\\\Kernel' => __DIR__ . '/../..' . '/src/Kernel.php',\n    );\n}\n",
			[]string{"6 autoload ../symfony/polyfill/bootstrap.php (dir)", "12 autoload ../../src/Kernel.php (dir)"}},
		{"composer classmap", "<?php\n$vendorDir = dirname(__DIR__);\n$baseDir = dirname($vendorDir);\nreturn array(\n" +
			"    'A' => $vendorDir . '/a/b/A.php',\n    'B' => $baseDir . '/src/B.php',\n);\n",
			[]string{"5 autoload ../a/b/A.php (dir)", "6 autoload ../../src/B.php (dir)"}},
		{"dynamic", "<?php\ninclude $file;\nrequire \"lib/$name.php\";\n", []string{"2 dynamic include $file", "3 dynamic require \"lib/$name.php\""}},
	})
}

// Deferred marks what runs only when a function is called, not when the
// module is loaded: a "def" body, at any depth, until the code dedents.
func TestParsePythonDeferred(t *testing.T) {
	src := "import top\n" +
		"class C:\n    import in_class\n    def m(self):\n        import in_method\n    x = 1\n    import class_again\n" +
		"def f(): import one_line\n" +
		"async def g():\n    if x:\n        from a import b\n    return (1,\n2)\n" +
		"try:\n    import guarded\nexcept ImportError:\n    pass\n" +
		"@decorator\ndef h():\n    m = importlib.import_module('lazy')\nimport bottom\n"
	want := map[string]bool{"top": false, "in_class": false, "in_method": true, "class_again": false, "one_line": true,
		"a": true, "guarded": false, "lazy": true, "bottom": false}
	refs := Parse(Python, []byte(src))
	if len(refs) != len(want) {
		t.Fatalf("got %d refs, want %d: %+v", len(refs), len(want), refs)
	}
	for _, r := range refs {
		if d, ok := want[r.Name]; !ok || d != r.Deferred {
			t.Errorf("%s (line %d): deferred %v, want %v", r.Name, r.Line, r.Deferred, d)
		}
	}
}

func TestPythonNames(t *testing.T) {
	src := "BACKEND = 'django.template.backends.django.DjangoTemplates'\n" +
		"loc = 'django.conf.locale.%s' % lang\n" +
		"def f():\n    return import_module(\"{}.formats\".format(x)), 'app.mod'\n" +
		"x = ['utf-8', 'index.html', '127.0.0.1', 'a..b', 'single', f'dyn.{x}.y', '3rd.party', 'text/html']\n"
	refs, names := PythonNames([]byte(src))
	var got []string
	for _, r := range names {
		s := fmt.Sprintf("%d %s", r.Line, r.Name)
		if r.Deferred {
			s += " (deferred)"
		}
		got = append(got, s)
	}
	want := []string{"1 django.template.backends.django.DjangoTemplates", "2 django.conf.locale.", "4 app.mod (deferred)", "5 index.html"}
	if !slices.Equal(got, want) {
		t.Errorf("PythonNames = %q, want %q", got, want)
	}
	if len(refs) != 1 || refs[0].Kind != "import_module" || !refs[0].Dynamic {
		t.Errorf("refs = %+v, want the dynamic import_module call", refs)
	}
}
