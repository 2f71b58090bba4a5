package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/fileset"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
)

// importNamespace is the containerd namespace of the import closure's
// tests: their own, so that what other tests run beside them is not taken
// for something these left behind.
const importNamespace = "slimtrace-imports-test"

// importOptions are options() in importNamespace.
func importOptions(t *testing.T, addr, image string) Options {
	o := options(t, addr, image)
	o.Store.Namespace = importNamespace
	return o
}

// importClean checks that no container, task or snapshot is left in
// importNamespace, then removes its images.
func importClean(t *testing.T, addr string) {
	t.Helper()
	ctr := func(args ...string) string {
		out, err := exec.Command("ctr", append([]string{"-a", addr, "-n", importNamespace}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("ctr %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, what := range [][]string{{"containers", "ls", "-q"}, {"tasks", "ls"}, {"snapshots", "ls"}} {
		for _, line := range strings.Split(ctr(what...), "\n") {
			if strings.Contains(line, "slimtrace-") {
				t.Errorf("left behind (%s): %s", what[0], line)
			}
		}
	}
	if images := strings.Fields(ctr("images", "ls", "-q")); len(images) > 0 {
		ctr(append([]string{"images", "rm"}, images...)...)
	}
}

// importExpect is one answer of an app's expect.json.
type importExpect struct {
	Method, Resource string
	Status           int
	Body             *string
	Contains         string
	SHA256           string
}

func readImportExpect(t *testing.T, app string) []importExpect {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appDir(app), "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct{ Responses []importExpect }
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return exp.Responses
}

// importAnswers runs image with every probe of app's probes.json and returns
// the routes that do not answer as expect.json says.
func importAnswers(t *testing.T, addr, app, image string) (wrong []string) {
	t.Helper()
	cmds, err := probe.ParseFile(filepath.Join(appDir(app), "probes.json"))
	if err != nil {
		t.Fatal(err)
	}
	exp := readImportExpect(t, app)
	if len(exp) != len(cmds) {
		t.Fatalf("%s: %d probes, %d expectations", app, len(cmds), len(exp))
	}
	o := importOptions(t, addr, image)
	o.Probe.Cmds = cmds
	res, err := profileRun(testContext(t), o)
	if err != nil {
		t.Fatalf("running %s: %v", image, err)
	}
	var got []creport.HTTPProbe
	for _, h := range res.Report.Probe.HTTP {
		if h.Source == "cmd" {
			got = append(got, h)
		}
	}
	if len(got) != len(exp) {
		t.Fatalf("%s: %d answers to %d probes", image, len(got), len(exp))
	}
	for i, e := range exp {
		h := got[i]
		ok := h.Status == e.Status
		switch {
		case e.Body != nil:
			ok = ok && string(h.Body) == *e.Body
		case e.Contains != "":
			ok = ok && strings.Contains(string(h.Body), e.Contains)
		case e.SHA256 != "":
			sum := sha256.Sum256(h.Body)
			ok = ok && hex.EncodeToString(sum[:]) == e.SHA256
		}
		if !ok {
			wrong = append(wrong, e.Method+" "+e.Resource)
			t.Logf("%s: %s %s: status %d, body %.200q %s", image, e.Method, e.Resource, h.Status, h.Body, h.Error)
		}
	}
	return wrong
}

// importDropImage removes a slim image the test built.
func importDropImage(t *testing.T, addr, name string) {
	t.Helper()
	if b, err := exec.Command("ctr", "-a", addr, "-n", importNamespace, "images", "rm", name).CombinedOutput(); err != nil {
		t.Logf("removing %s: %v: %s", name, err, b)
	}
}

// importBuild builds app with only the default probe (GET /) and the
// given file options, under a tag of the test's own.
func importBuild(t *testing.T, addr, tar, app, variant string, fo fileset.Options) *creport.Slim {
	t.Helper()
	o := importOptions(t, addr, "docker-archive:"+tar)
	b := buildOptions(t)
	b.Files = fo
	b.Tag = "docker.io/slimtrace-test/imports-" + app + "-" + variant + ":slim"
	res, err := buildRun(testContext(t), o, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { importDropImage(t, addr, b.Tag) })
	slim := res.Report.Slim
	if im := slim.Imports; im != nil {
		t.Logf("%s (%s): %.1f MB -> %.1f MB; import closure: %d files, %.2f MB from %d sources read, %d not found, %d unresolved (+%d in OS packages), bound %q",
			app, variant, float64(slim.FatSize)/1e6, float64(slim.Size)/1e6, im.Files, float64(im.Bytes)/1e6, im.Parsed,
			im.NotFound, len(im.Unresolved), im.UnresolvedSystem, im.Bound)
		for _, u := range im.Unresolved {
			t.Logf("  unresolved %s:%d: %s", u.File, u.Line, u.Expr)
		}
	} else {
		t.Logf("%s (%s): %.1f MB -> %.1f MB; no import closure", app, variant, float64(slim.FatSize)/1e6, float64(slim.Size)/1e6)
	}
	return slim
}

func importKept(slim *creport.Slim, p string) *creport.KeptFile {
	i := slices.IndexFunc(slim.Files, func(f creport.KeptFile) bool { return f.Path == p })
	if i < 0 {
		return nil
	}
	return &slim.Files[i]
}

// TestBuildImportClosure: slim images built with only the default probe
// (GET /) answer every route of the sample apps, the lazy imports
// included: Flask's `import sqlite3` in a handler, python-app's
// importlib.import_module("json"), Express's require("zlib") and
// require("./lib/report"), Sinatra's lazy require "csv", autoloaded
// Inventory and ERB engine registered with Tilt, PHP's lazy include. Without the closure the lazy standard
// library routes fail; with keep-app-dirs off, Express's lib/creport.js is
// in only because of the closure. Flask's slim image stays within 1.3x of
// its size without the closure.
func TestBuildImportClosure(t *testing.T) {
	defer importClean(t, privtest.ContainerdAddress(t))
	for _, c := range []struct {
		app     string
		variant string
		files   fileset.Options
		// fail are the routes that must fail (the closure is off); the
		// others must all answer as expect.json says.
		fail []string
		// imported are files the closure must have added; lazy, those it
		// added as lazy loads.
		imported, lazy []string
	}{
		{app: "flask-static", variant: "imports",
			imported: []string{"/usr/lib/python3.11/sqlite3/__init__.py", "/usr/lib/python3.11/sqlite3/dbapi2.py"}},
		{app: "flask-static", variant: "no-imports", files: fileset.Options{NoImports: true}, fail: []string{"GET /api/items"}},
		{app: "python-app", variant: "imports", imported: []string{"/usr/lib/python3.11/json/__init__.py"}},
		{app: "express", variant: "imports"},
		// Without the app-dir rule nothing keeps public/ or views/ (the
		// default probe never asks for a file there), so their routes fail;
		// the lazy module is kept by the closure alone.
		{app: "express", variant: "no-app-dirs", files: fileset.Options{NoAppDirs: true},
			imported: []string{"/app/lib/report.js"}, fail: []string{"GET /receipt?item=tea", "GET /invoice", "GET /static/app.css"}},
		// /about renders an ERB view: Tilt registered its ERB engine by
		// name at start-up (register_lazy), a lazy load the closure follows
		// because the app has .erb views.
		{app: "ruby-app", variant: "imports", imported: []string{"/usr/lib/ruby/3.1.0/csv.rb"},
			lazy: []string{"/usr/lib/ruby/vendor_ruby/tilt/erb.rb"}},
		{app: "ruby-app", variant: "no-imports", files: fileset.Options{NoImports: true}, fail: []string{"GET /about", "GET /report.csv"}},
		// The same without the app-dir rule: the autoloaded lib/inventory.rb
		// and the included lib/Report.php come from the closure alone (and
		// the static files and views no probe asked for are gone).
		{app: "ruby-app", variant: "no-app-dirs", files: fileset.Options{NoAppDirs: true},
			imported: []string{"/app/lib/inventory.rb", "/usr/lib/ruby/3.1.0/csv.rb"}, fail: []string{"GET /about", "GET /style.css"}},
		{app: "php-app", variant: "imports"},
		// src/Invoice.php, which composer's PSR-4 autoloader loads at
		// /invoice, is kept by the PSR-4 rule alone.
		{app: "php-app", variant: "no-app-dirs", files: fileset.Options{NoAppDirs: true},
			imported: []string{"/app/lib/Report.php"}, lazy: []string{"/app/src/Invoice.php"}, fail: []string{"GET /css/site.css"}},
	} {
		t.Run(c.app+"/"+c.variant, func(t *testing.T) {
			addr, tar := env(t, c.app)
			slim := importBuild(t, addr, tar, c.app, c.variant, c.files)
			for _, p := range c.imported {
				f := importKept(slim, p)
				if f == nil || !slices.Contains(f.Reasons, string(fileset.ReasonImport)) || !strings.HasPrefix(f.Detail, "imported by ") {
					t.Errorf("%s not kept by the import closure: %+v", p, f)
				}
			}
			for _, p := range c.lazy {
				if f := importKept(slim, p); f == nil || !slices.Contains(f.Reasons, string(fileset.ReasonLazyLoad)) ||
					!strings.HasPrefix(f.Detail, "registered by ") && !strings.HasPrefix(f.Detail, "autoloaded (PSR-4) for ") {
					t.Errorf("%s not kept as a lazy load: %+v", p, f)
				}
			}
			if c.files.NoImports && slim.Imports != nil {
				t.Errorf("--include-imports=false read files: %+v", slim.Imports)
			}
			if !c.files.NoImports && (slim.Imports == nil || slim.Imports.Parsed == 0) {
				t.Errorf("no source file read: %+v", slim.Imports)
			}
			wrong := importAnswers(t, addr, c.app, slim.Name)
			if !slices.Equal(wrong, c.fail) {
				t.Errorf("routes failing in the slim image: %q, want %q", wrong, c.fail)
			}
		})
	}
}

// TestImportClosureProportionate: the closure adds at most 30% to the Flask
// sample's slim image.
func TestImportClosureProportionate(t *testing.T) {
	addr, tar := env(t, "flask-static")
	defer importClean(t, addr)
	with := importBuild(t, addr, tar, "flask-static", "size-with", fileset.Options{})
	without := importBuild(t, addr, tar, "flask-static", "size-without", fileset.Options{NoImports: true})
	ratio := float64(with.Size) / float64(without.Size)
	t.Logf("flask-static slim: %d bytes with the import closure, %d without (%.2fx)", with.Size, without.Size, ratio)
	if ratio > 1.3 {
		t.Errorf("the import closure makes the Flask sample %.2fx larger, want at most 1.3x", ratio)
	}
	if with.Imports == nil || with.Size-without.Size < with.Imports.Bytes/2 {
		t.Errorf("sizes do not add up: %d - %d vs %+v", with.Size, without.Size, with.Imports)
	}
}
