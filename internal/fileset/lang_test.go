package fileset

import (
	"slices"
	"testing"
	"testing/fstest"
)

const site = "usr/local/lib/python3.12/site-packages/"

var langImage = with(debian, map[string]*fstest.MapFile{
	// pip-installed distributions with RECORD
	site + "requests/__init__.py":                       file("r"),
	site + "requests/api.py":                            file("api"),
	site + "requests/__pycache__/api.cpython-312.pyc":   file("pyc"),
	site + "requests/api.pyi":                           file("stub"),
	site + "requests/tests/__init__.py":                 file("t"),
	site + "requests/tests/test_api.py":                 file("t"),
	site + "requests/locale/de/LC_MESSAGES/requests.po": file("po"),
	site + "requests/locale/de/LC_MESSAGES/requests.mo": file("mo"),
	site + "requests/locale/fr/LC_MESSAGES/requests.po": file("po"),
	site + "requests-2.31.0.dist-info/METADATA":         file("Name: requests"),
	site + "requests-2.31.0.dist-info/entry_points.txt": file(""),
	site + "requests-2.31.0.dist-info/RECORD": file("requests/__init__.py,sha256=x,1\n" +
		"requests/api.py,sha256=x,3\nrequests/__pycache__/api.cpython-312.pyc,,\n" +
		"requests/api.pyi,,\nrequests/tests/__init__.py,,\nrequests/tests/test_api.py,,\n" +
		"requests/locale/de/LC_MESSAGES/requests.po,,\nrequests/locale/de/LC_MESSAGES/requests.mo,,\n" +
		"requests/locale/fr/LC_MESSAGES/requests.po,,\n" +
		"\"requests-2.31.0.dist-info/METADATA\",,\nrequests-2.31.0.dist-info/RECORD,,\n" +
		"../../../bin/requests-cli,sha256=y,20\n"),
	"usr/local/bin/requests-cli":                            exe("#!/usr/local/bin/python3.12\n"),
	"usr/local/bin/python3.12":                              exe("py"),
	site + "certifi/__init__.py":                            file("c"),
	site + "certifi/core.py":                                file("core"),
	site + "certifi/cacert.pem":                             file("PEM"),
	site + "certifi-2024.2.2.dist-info/RECORD":              file("certifi/__init__.py,,\ncertifi/core.py,,\ncertifi/cacert.pem,,\n"),
	site + "idna/__init__.py":                               file("i"),
	site + "idna-3.6.dist-info/RECORD":                      file("idna/__init__.py,,\n"),
	site + "distutils-precedence.pth":                       file("import _distutils_hack"),
	site + "six.py":                                         file("six"),
	site + "six-1.16.0.egg-info/top_level.txt":              file("six\n"),
	site + "_cffi_backend.cpython-312-x86_64-linux-gnu.so":  file("so"),
	site + "cffi-1.16.0.dist-info/top_level.txt":            file("_cffi_backend\ncffi\n"),
	site + "cffi/api.py":                                    file("api"),
	site + "oldpkg-1.0-py3.12.egg-info/installed-files.txt": file("../oldpkg/__init__.py\n../oldpkg/data.json\nPKG-INFO\n"),
	site + "oldpkg-1.0-py3.12.egg-info/PKG-INFO":            file("Name: oldpkg"),
	site + "oldpkg/__init__.py":                             file("o"),
	site + "oldpkg/data.json":                               file("{}"),
	site + "_ssl.cpython-312-x86_64-linux-gnu.so":           file("ssl"),
	// Debian's python3-yaml: a dist-info without RECORD
	"usr/lib/python3/dist-packages/yaml/__init__.py":                     file("y"),
	"usr/lib/python3/dist-packages/yaml/loader.py":                       file("l"),
	"usr/lib/python3/dist-packages/_yaml/__init__.py":                    file("_y"),
	"usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA":      file("m"),
	"usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/top_level.txt": file("_yaml\nyaml\n"),
	// npm
	"app/node_modules/express/package.json":                 file("{}"),
	"app/node_modules/express/index.js":                     file("js"),
	"app/node_modules/express/lib/router/index.js":          file("const util = require(\"../util\");\nfunction later() { return require(\"./lazy\"); }\n"),
	"app/node_modules/express/lib/util.js":                  file("js"),
	"app/node_modules/express/lib/router/lazy.js":           file("js"),
	"app/node_modules/express/lib/unused.js":                file("js"),
	"app/node_modules/express/node_modules/qs/package.json": file("{}"),
	"app/node_modules/express/node_modules/bn.js/data.json": file("{}"), // a package whose directory ends in .js
	"app/node_modules/@types/node/package.json":             file("{}"),
	"app/node_modules/@types/node/index.d.ts":               file("ts"),
	"app/node_modules/express/Readme.md":                    file("md"),
	"app/node_modules/express/lib/router/index.js.map":      file("map"),
	"app/node_modules/express/test/app.js":                  file("js"),
	"app/node_modules/express/examples/hello/index.js":      file("js"),
	"app/node_modules/express/lib/docs/notes.txt":           file("txt"),
	"app/node_modules/express/spec/fixture.js":              file("js"),
	"app/node_modules/express/spec/helper.js":               file("js"),
	"app/node_modules/lodash/package.json":                  file("{}"),
	"app/node_modules/lodash/lodash.js":                     file("js"),
	"app/node_modules/.bin/express":                         link("../express/bin/express"),
	"app/node_modules/express/bin/express":                  exe("#!/usr/bin/env node\n"),
	// gems
	"usr/local/bundle/gems/rack-3.0.8/lib/rack.rb":                             file("rb"),
	"usr/local/bundle/gems/rack-3.0.8/lib/rack/utils.rb":                       file("rb"),
	"usr/local/bundle/specifications/rack-3.0.8.gemspec":                       file("Gem::Specification.new"),
	"usr/local/bundle/gems/nio4r-2.5.9/lib/nio.rb":                             file("rb"),
	"usr/local/bundle/specifications/nio4r-2.5.9.gemspec":                      file("spec"),
	"usr/local/bundle/extensions/x86_64-linux/3.2.0/nio4r-2.5.9/nio4r_ext.so":  file("so"),
	"usr/local/bundle/extensions/x86_64-linux/3.2.0/puma-6.4.0/puma_http11.so": file("so"),
	"usr/local/bundle/bundler/gems/mygem-0123abc/mygem.gemspec":                file("spec"),
	"usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem.rb":                 file("def x\n  require_relative \"mygem/x\"\nend\n"),
	"usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem/unused.rb":          file("rb"),
	"usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem/x.rb":               file("rb"),
	// a JVM
	"opt/java/lib/libjava.so":       file("so"),
	"opt/java/lib/security/cacerts": file("jks"),
	// CA stores
	"etc/ssl/certs/ca-certificates.crt":       file("PEM"),
	"etc/ssl/certs/abcd1234.0":                link("/usr/share/ca-certificates/mozilla/A.crt"),
	"usr/share/ca-certificates/mozilla/A.crt": file("PEM"),
	"usr/lib/ssl/certs":                       link("/etc/ssl/certs"),
	"usr/lib/ssl/cert.pem":                    link("/etc/ssl/certs/ca-certificates.crt"),
	"usr/lib/x86_64-linux-gnu/libssl.so.3":    file("ssl"),
	"usr/lib/x86_64-linux-gnu/libcrypto.so.3": file("crypto"),
})

func TestComputeLanguagePackages(t *testing.T) {
	requests := map[string]Reason{
		"/" + site + "requests/__init__.py":                       ReasonLangPackage,
		"/" + site + "requests-2.31.0.dist-info/METADATA":         ReasonPackageMeta,
		"/" + site + "requests-2.31.0.dist-info/entry_points.txt": ReasonPackageMeta,
		"/" + site + "requests-2.31.0.dist-info/RECORD":           ReasonPackageMeta,
		"/usr/local/bin/requests-cli":                             ReasonLangPackage,
		"/usr/local/bin/python3.12":                               ReasonShebang,
		"/" + site + "distutils-precedence.pth":                   ReasonPackageMeta,
	}
	runCases(t, []computeCase{{
		name: "a Python distribution by its RECORD",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/" + site + "requests/api.py")
		},
		want: requests,
		not:  []string{"/" + site + "idna/__init__.py", "/" + site + "certifi/cacert.pem", "/" + site + "six.py"},
	}, {
		name: "only the metadata with --keep-app-dirs=false",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/" + site + "requests/api.py")
		},
		want: map[string]Reason{"/" + site + "requests-2.31.0.dist-info/METADATA": ReasonPackageMeta,
			"/" + site + "distutils-precedence.pth": ReasonPackageMeta},
		not: []string{"/" + site + "requests/__init__.py", "/usr/local/bin/requests-cli"},
	}, {
		name: "a version lookup keeps the distribution",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/" + site + "idna-3.6.dist-info/RECORD")
		},
		want: map[string]Reason{"/" + site + "idna/__init__.py": ReasonLangPackage},
	}, {
		name: "top_level.txt when there is no RECORD: single module and extension",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/"+site+"six.py", "/"+site+"_cffi_backend.cpython-312-x86_64-linux-gnu.so")
		},
		want: map[string]Reason{"/" + site + "six-1.16.0.egg-info/top_level.txt": ReasonPackageMeta,
			"/" + site + "cffi/api.py": ReasonLangPackage},
	}, {
		name: "egg-info installed-files.txt",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/" + site + "oldpkg/__init__.py")
		},
		want: map[string]Reason{"/" + site + "oldpkg/data.json": ReasonLangPackage,
			"/" + site + "oldpkg-1.0-py3.12.egg-info/PKG-INFO": ReasonPackageMeta},
	}, {
		name: "Debian's dist-packages, OS-owned or not",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/lib/python3/dist-packages/yaml/__init__.py")
		},
		want: map[string]Reason{"/usr/lib/python3/dist-packages/yaml/loader.py": ReasonLangPackage,
			"/usr/lib/python3/dist-packages/_yaml/__init__.py":               ReasonLangPackage,
			"/usr/lib/python3/dist-packages/PyYAML-6.0.1.dist-info/METADATA": ReasonPackageMeta},
	}, {
		name: "certifi's bundle when certifi is touched and TLS is in use",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/"+site+"certifi/core.py", "/"+site+"_ssl.cpython-312-x86_64-linux-gnu.so")
		},
		want: map[string]Reason{"/" + site + "certifi/cacert.pem": ReasonCerts,
			"/etc/ssl/certs/ca-certificates.crt": ReasonCerts},
		check: func(t *testing.T, s *Set) {
			if e := s.Find("/" + site + "certifi/cacert.pem"); !e.Has(ReasonLangPackage) {
				t.Errorf("cacert.pem reasons %v", e.Reasons)
			}
		},
	}, {
		name: "certifi's bundle in a site the app used, when TLS is in use",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/"+site+"requests/api.py", "/usr/lib/x86_64-linux-gnu/libssl.so.3")
		},
		want: map[string]Reason{"/" + site + "certifi/cacert.pem": ReasonCerts},
		not:  []string{"/" + site + "certifi/core.py"},
	}, {
		name: "an npm package: its other files whole, its sources through its require graph",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/node_modules/express/lib/router/index.js", "/app/node_modules/@types/node/index.d.ts")
		},
		want: map[string]Reason{"/app/node_modules/express/package.json": ReasonPackageMeta,
			"/app/node_modules/express/lib/util.js":                  ReasonImport,
			"/app/node_modules/express/lib/router/lazy.js":           ReasonImport, // required in a function: followed inside a package
			"/app/node_modules/express/node_modules/qs/package.json": ReasonLangPackage,
			"/app/node_modules/express/node_modules/bn.js/data.json": ReasonLangPackage,
			"/app/node_modules/express/bin/express":                  ReasonLangPackage,
			"/app/node_modules/@types/node/package.json":             ReasonPackageMeta},
		not: []string{"/app/node_modules/lodash/lodash.js", "/app/node_modules/.bin/express",
			"/app/node_modules/express/lib/unused.js", "/app/node_modules/express/index.js"},
	}, {
		name: "an npm package whole, sources too, without the import closure",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Options.NoImports = true
			in.Files = read("/app/node_modules/express/lib/router/index.js")
		},
		want: map[string]Reason{"/app/node_modules/express/index.js": ReasonLangPackage,
			"/app/node_modules/express/lib/unused.js": ReasonLangPackage},
	}, {
		name: "an npm package without its tests, docs, examples, maps and markdown, but a traced directory's other files",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/app/node_modules/express/lib/router/index.js", "/app/node_modules/express/spec/helper.js")
		},
		want: map[string]Reason{"/app/node_modules/express/bin/express": ReasonLangPackage,
			"/app/node_modules/express/spec/helper.js": ReasonTraced},
		not: []string{"/app/node_modules/express/Readme.md", "/app/node_modules/express/lib/router/index.js.map",
			"/app/node_modules/express/test/app.js", "/app/node_modules/express/examples/hello/index.js",
			"/app/node_modules/express/lib/docs/notes.txt"},
	}, {
		name: "a Python distribution without its tests and stubs",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/" + site + "requests/api.py")
		},
		want: map[string]Reason{"/" + site + "requests/__init__.py": ReasonLangPackage,
			"/" + site + "requests/locale/de/LC_MESSAGES/requests.mo": ReasonLangPackage,
			// a catalog source with no compiled catalog beside it may be read
			"/" + site + "requests/locale/fr/LC_MESSAGES/requests.po": ReasonLangPackage},
		not: []string{"/" + site + "requests/api.pyi", "/" + site + "requests/tests/__init__.py",
			"/" + site + "requests/tests/test_api.py", "/" + site + "requests/__pycache__/api.cpython-312.pyc",
			"/" + site + "requests/locale/de/LC_MESSAGES/requests.po"},
	}, {
		name: "a Python distribution's traced tests",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/"+site+"requests/api.py", "/"+site+"requests/tests/__init__.py")
		},
		want: map[string]Reason{"/" + site + "requests/tests/test_api.py": ReasonLangPackage},
	}, {
		name: "an npm package's package.json only with --keep-app-dirs=false",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/app/node_modules/express/lib/router/index.js")
		},
		want: map[string]Reason{"/app/node_modules/express/package.json": ReasonPackageMeta},
		not:  []string{"/app/node_modules/express/index.js"},
	}, {
		name: "a gem with its spec and extensions",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/local/bundle/gems/nio4r-2.5.9/lib/nio.rb")
		},
		want: map[string]Reason{"/usr/local/bundle/specifications/nio4r-2.5.9.gemspec": ReasonPackageMeta,
			"/usr/local/bundle/extensions/x86_64-linux/3.2.0/nio4r-2.5.9/nio4r_ext.so": ReasonLangPackage},
		not: []string{"/usr/local/bundle/gems/rack-3.0.8/lib/rack.rb",
			"/usr/local/bundle/extensions/x86_64-linux/3.2.0/puma-6.4.0/puma_http11.so"},
	}, {
		name: "a bundler git gem",
		img:  langImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem.rb")
		},
		want: map[string]Reason{"/usr/local/bundle/bundler/gems/mygem-0123abc/mygem.gemspec": ReasonPackageMeta,
			"/usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem/x.rb": ReasonImport},
		not: []string{"/usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem/unused.rb"},
	}})
}

func TestComputeCerts(t *testing.T) {
	stores := map[string]Reason{
		"/etc/ssl/certs/ca-certificates.crt":       ReasonCerts,
		"/etc/ssl/certs/abcd1234.0":                ReasonCerts,
		"/usr/share/ca-certificates/mozilla/A.crt": ReasonCerts,
		"/usr/lib/ssl/certs":                       ReasonCerts,
		"/usr/lib/ssl/cert.pem":                    ReasonCerts,
	}
	runCases(t, []computeCase{{
		name: "libssl in the set",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")
		},
		want: stores,
		check: func(t *testing.T, s *Set) {
			if d := s.Find("/etc/ssl/certs/ca-certificates.crt").Detail; d != "TLS in use: /usr/lib/x86_64-linux-gnu/libcrypto.so.3" {
				t.Errorf("detail %q", d)
			}
		},
	}, {
		name: "the app read one certificate",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/usr/lib/ssl/cert.pem")
		},
		want: stores,
	}, {
		name: "a JVM's cacerts",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/opt/java/lib/libjava.so")
		},
		want: map[string]Reason{"/opt/java/lib/security/cacerts": ReasonCerts, "/etc/ssl/certs/abcd1234.0": ReasonCerts},
	}, {
		name: "no TLS, no certificates",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Files = read("/" + site + "requests/api.py")
		},
		not: []string{"/etc/ssl/certs/ca-certificates.crt", "/" + site + "certifi/cacert.pem"},
	}, {
		name: "--include-cert-all=false",
		img:  langImage,
		in: func(in *Input) {
			alone(in)
			in.Options.NoCertAll = true
			in.Files = read("/usr/lib/x86_64-linux-gnu/libssl.so.3", "/etc/ssl/certs/ca-certificates.crt")
		},
		want: map[string]Reason{"/etc/ssl/certs/ca-certificates.crt": ReasonTraced},
		not:  []string{"/etc/ssl/certs/abcd1234.0"},
	}})
}

func TestLanguagePaths(t *testing.T) {
	for _, tc := range []struct{ p, site string }{
		{"/usr/local/lib/python3.12/site-packages/a/b.py", "/usr/local/lib/python3.12/site-packages"},
		{"/usr/lib/python3/dist-packages/yaml/x.py", "/usr/lib/python3/dist-packages"},
		{"/venv/lib/python3.12/site-packages/x/site-packages/y.py", "/venv/lib/python3.12/site-packages/x/site-packages"},
		{"/usr/lib/python3/dist-packages", ""},
		{"/app/x.py", ""},
	} {
		if got, ok := pythonSite(tc.p); got != tc.site || ok != (tc.site != "") {
			t.Errorf("pythonSite(%s) = %q %v", tc.p, got, ok)
		}
	}
	for _, tc := range []struct{ p, root, name string }{
		{"/app/node_modules/express/lib/x.js", "/app/node_modules/express", "express"},
		{"/app/node_modules/@types/node/index.d.ts", "/app/node_modules/@types/node", "@types/node"},
		{"/app/node_modules/a/node_modules/b/index.js", "/app/node_modules/a/node_modules/b", "b"},
		{"/app/node_modules/a/node_modules/.bin/x", "/app/node_modules/a", "a"},
		{"/app/node_modules/.pnpm/x@1.0.0/node_modules/x/i.js", "/app/node_modules/.pnpm/x@1.0.0/node_modules/x", "x"},
		{"/app/node_modules/.package-lock.json", "", ""},
		{"/app/node_modules/@scope/package.json", "", ""},
		{"/app/node_modules/express", "", ""},
		{"/app/index.js", "", ""},
	} {
		root, name, ok := npmRoot(tc.p)
		if root != tc.root || name != tc.name || ok != (tc.root != "") {
			t.Errorf("npmRoot(%s) = %q %q %v", tc.p, root, name, ok)
		}
	}
	img := newImage(langImage)
	for _, tc := range []struct{ p, home, name, spec string }{
		{"/usr/local/bundle/gems/rack-3.0.8/lib/rack.rb", "/usr/local/bundle", "rack-3.0.8",
			"/usr/local/bundle/specifications/rack-3.0.8.gemspec"},
		{"/usr/local/bundle/bundler/gems/mygem-0123abc/lib/mygem.rb", "/usr/local/bundle/bundler", "mygem-0123abc",
			"/usr/local/bundle/bundler/gems/mygem-0123abc/mygem.gemspec"},
		{"/usr/local/bundle/gems/unknown-1.0/lib/x.rb", "", "", ""},
		{"/usr/local/bundle/gems/rack-3.0.8", "", "", ""},
	} {
		home, name, spec, ok := gemRoot(img, tc.p)
		if home != tc.home || name != tc.name || spec != tc.spec || ok != (tc.home != "") {
			t.Errorf("gemRoot(%s) = %q %q %q %v", tc.p, home, name, spec, ok)
		}
	}
	for meta, want := range map[string]string{"requests-2.31.0.dist-info": "requests", "six-1.16.0.egg-info": "six",
		"PyYAML-6.0.1.dist-info": "PyYAML", "weird.egg-info": "weird"} {
		if got := distName(meta); got != want {
			t.Errorf("distName(%s) = %q", meta, got)
		}
	}
	got := parseRecord([]byte("a/b.py,sha256=x,1\n\"c,d.py\",,\n../../../bin/x,,\n/abs/y,,\n,,\n"), "/s/site-packages")
	if want := []string{"/s/site-packages/a/b.py", "/s/site-packages/c,d.py", "/bin/x", "/abs/y"}; !slices.Equal(got, want) {
		t.Errorf("parseRecord %q", got)
	}
	got = parseInstalledFiles([]byte("../x/__init__.py\nPKG-INFO\n\n"), "/s/x-1.egg-info")
	if want := []string{"/s/x/__init__.py", "/s/x-1.egg-info/PKG-INFO"}; !slices.Equal(got, want) {
		t.Errorf("parseInstalledFiles %q", got)
	}
}

// fwImage is a Django-like framework: settings and an engine name code by
// dotted strings, an installed app brings its tag library by convention,
// and contrib apps nothing installs sit beside them.
var fwImage = with(debian, map[string]*fstest.MapFile{
	"app/settings.py": file("INSTALLED_APPS = ['fw.contrib.humanize']\nHASHER = 'fw.contrib.auth.hashers.Hasher'\n"),
	site + "fw-1.0.dist-info/RECORD": file("fw/__init__.py,,\nfw/core/__init__.py,,\nfw/core/engine.py,,\n" +
		"fw/loaders/__init__.py,,\nfw/loaders/fs.py,,\nfw/loaders/cached.py,,\n" +
		"fw/locale/__init__.py,,\nfw/locale/de/__init__.py,,\nfw/locale/de/formats.py,,\nfw/locale/de/LC_MESSAGES/fw.mo,,\n" +
		"fw/contrib/__init__.py,,\nfw/contrib/admin/__init__.py,,\nfw/contrib/admin/views.py,,\nfw/contrib/admin/static/a.js,,\n" +
		"fw/contrib/humanize/__init__.py,,\nfw/contrib/humanize/templatetags/__init__.py,,\n" +
		"fw/contrib/humanize/templatetags/humanize.py,,\nfw/contrib/humanize/locale/de/LC_MESSAGES/h.mo,,\n" +
		"fw/contrib/auth/__init__.py,,\nfw/contrib/auth/hashers.py,,\nfw/contrib/auth/models.py,,\nfw/data/x.json,,\nfw/_speedups.so,,\n"),
	site + "fw/__init__.py":                                 file(""),
	site + "fw/core/__init__.py":                            file(""),
	site + "fw/core/engine.py":                              file("LOADERS = ['fw.loaders.fs.Loader']\nFORMATS = 'fw.locale.%s'\n"),
	site + "fw/loaders/__init__.py":                         file(""),
	site + "fw/loaders/fs.py":                               file("class Loader: pass\n"),
	site + "fw/loaders/cached.py":                           file("class Loader: pass\n"),
	site + "fw/locale/__init__.py":                          file(""),
	site + "fw/locale/de/__init__.py":                       file(""),
	site + "fw/locale/de/formats.py":                        file("DATE = 'j. F Y'\n"),
	site + "fw/locale/de/LC_MESSAGES/fw.mo":                 file("mo"),
	site + "fw/contrib/__init__.py":                         file(""),
	site + "fw/contrib/admin/__init__.py":                   file(""),
	site + "fw/contrib/admin/views.py":                      file("x = 1\n"),
	site + "fw/contrib/admin/static/a.js":                   file("js"),
	site + "fw/contrib/humanize/__init__.py":                file(""),
	site + "fw/contrib/humanize/templatetags/__init__.py":   file(""),
	site + "fw/contrib/humanize/templatetags/humanize.py":   file("x = 1\n"),
	site + "fw/contrib/humanize/locale/de/LC_MESSAGES/h.mo": file("mo"),
	site + "fw/contrib/auth/__init__.py":                    file(""),
	site + "fw/contrib/auth/hashers.py":                     file("class Hasher: pass\n"),
	site + "fw/contrib/auth/models.py":                      file("x = 1\n"),
	site + "fw/data/x.json":                                 file("{}"),
	site + "fw/_speedups.so":                                file("not really ELF"),
	"usr/lib/python3.11/_compat_pickle.py":                  file("NAMES = {'xmlrpclib': 'xmlrpc.client'}\n"),
	"usr/lib/python3.11/xmlrpc/__init__.py":                 file(""),
	"usr/lib/python3.11/xmlrpc/client.py":                   file("x = 1\n"),
	"var/lib/dpkg/status":                                   file(dpkgStatus + "\nPackage: libpython3.11-stdlib\nStatus: install ok installed\nArchitecture: amd64\n"),
	"var/lib/dpkg/info/libpython3.11-stdlib:amd64.list": file("/usr/lib/python3.11\n/usr/lib/python3.11/_compat_pickle.py\n" +
		"/usr/lib/python3.11/xmlrpc\n/usr/lib/python3.11/xmlrpc/__init__.py\n/usr/lib/python3.11/xmlrpc/client.py\n"),
})

func TestComputeDormantPackages(t *testing.T) {
	used := func(in *Input) {
		quiet(in)
		in.Files = read("/app/settings.py", "/"+site+"fw/__init__.py", "/"+site+"fw/core/__init__.py",
			"/"+site+"fw/core/engine.py", "/"+site+"fw/contrib/__init__.py", "/"+site+"fw/contrib/humanize/__init__.py",
			"/usr/lib/python3.11/_compat_pickle.py")
	}
	fw := "/" + site + "fw/"
	runCases(t, []computeCase{{
		name: "subpackages nothing names stay out",
		img:  fwImage,
		in:   used,
		want: map[string]Reason{
			fw + "data/x.json":                                 ReasonLangPackage, // not a package: kept with the distribution
			fw + "loaders/fs.py":                               ReasonImport,      // named by the engine
			fw + "contrib/auth/hashers.py":                     ReasonImport,      // named by the settings, as a class in it
			fw + "locale/de/formats.py":                        ReasonLangPackage, // beneath a prefix of computed names
			fw + "contrib/humanize/templatetags/humanize.py":   ReasonLangPackage, // an installed app, whole
			fw + "contrib/humanize/locale/de/LC_MESSAGES/h.mo": ReasonLangPackage,
		},
		not: []string{fw + "loaders/cached.py", fw + "contrib/auth/models.py", fw + "contrib/admin/__init__.py",
			fw + "contrib/admin/views.py", fw + "contrib/admin/static/a.js", fw + "contrib/admin",
			fw + "locale/de/LC_MESSAGES/fw.mo",      // computed names load modules, not data files
			"/usr/lib/python3.11/xmlrpc/client.py"}, // the standard library's strings are not followed
		check: func(t *testing.T, s *Set) {
			if e := s.Find(fw + "loaders/fs.py"); e.Detail != "named by "+fw+"core/engine.py:1" {
				t.Errorf("detail %q", e.Detail)
			}
		},
	}, {
		name: "no source to read: the whole distribution",
		img:  fwImage,
		in: func(in *Input) {
			quiet(in)
			in.Files = read("/" + site + "fw/_speedups.so")
		},
		want: map[string]Reason{fw + "contrib/admin/views.py": ReasonLangPackage, fw + "loaders/cached.py": ReasonLangPackage},
	}, {
		name: "without the import closure, the whole distribution",
		img:  fwImage,
		in: func(in *Input) {
			used(in)
			in.Options.NoImports = true
		},
		want: map[string]Reason{fw + "contrib/admin/views.py": ReasonLangPackage, fw + "loaders/cached.py": ReasonLangPackage,
			fw + "locale/de/LC_MESSAGES/fw.mo": ReasonLangPackage},
	}})
}
