package fileset

import (
	"encoding/csv"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// languagePackages keeps, for every Python distribution, npm package and
// Ruby gem the application touched, its metadata and (unless NoAppDirs)
// the whole package.
func (c *computer) languagePackages() {
	for _, p := range c.touched {
		if e := c.entries[p]; e == nil {
			continue // blocked
		}
		if site, ok := pythonSite(p); ok {
			c.python(site, p)
		}
		if root, name, ok := npmRoot(p); ok {
			c.npm(root, name)
		}
		if home, name, spec, ok := gemRoot(c.fs, p); ok {
			c.gem(home, name, spec)
		}
	}
}

// Parts of a language package that no running code loads (tests,
// documentation, type stubs, source maps; and, in any package, Python
// bytecode caches and gettext sources beside their catalogs), left out of a whole package
// unless the application touched something beneath them.
var (
	pyNotRuntimeDirs  = []string{"tests", "testing"}
	pyNotRuntimeExts  = []string{".pyi"}
	libNotRuntimeDirs = []string{"test", "tests", "spec", "__tests__", "docs", "doc", "examples", "example", "benchmark", "benchmarks"}
	libNotRuntimeExts = []string{".md", ".d.ts", ".d.mts", ".d.cts", ".map"}
)

// notRuntime returns the filter of a package's files beneath root that
// are not needed to run it: beneath one of dirs (below root) or ending in
// one of exts, and not beneath a directory the application touched.
func (c *computer) notRuntime(root string, dirs, exts []string) func(p string) bool {
	return func(p string) bool {
		if c.traced[p] {
			return false
		}
		rel, ok := strings.CutPrefix(p, root+"/")
		if !ok {
			return false
		}
		if cache(p) || strings.HasSuffix(p, ".po") && c.exists(strings.TrimSuffix(p, ".po")+".mo") {
			// Bytecode the interpreter writes again when it loads the
			// source; a gettext catalog's source beside its compiled .mo,
			// the only one gettext reads.
			return true
		}
		for _, x := range exts {
			if strings.HasSuffix(p, x) {
				return true
			}
		}
		comps := strings.Split(rel, "/")
		for i, comp := range comps[:len(comps)-1] {
			if slices.Contains(dirs, comp) {
				return !c.tracedUnder(root + "/" + strings.Join(comps[:i+1], "/"))
			}
		}
		return false
	}
}

// cache reports whether p is a Python bytecode cache file
// (__pycache__/NAME.TAG.pyc): Python reads it only beside its source, and
// writes it again from that source when it is missing.
func cache(p string) bool {
	return path.Base(path.Dir(p)) == "__pycache__" && strings.HasSuffix(p, ".pyc")
}

// tracedUnder reports whether the trace resolved to a path beneath dir.
func (c *computer) tracedUnder(dir string) bool {
	if c.tracedDirs == nil {
		c.tracedDirs = map[string]bool{}
		for p := range c.traced {
			for d := path.Dir(p); d != "/" && !c.tracedDirs[d]; d = path.Dir(d) {
				c.tracedDirs[d] = true
			}
		}
	}
	return c.tracedDirs[dir]
}

// pythonSite returns the site directory (site-packages, dist-packages)
// p lies beneath.
func pythonSite(p string) (string, bool) {
	comps := split(p)
	for i := len(comps) - 2; i >= 0; i-- {
		if comps[i] == "site-packages" || comps[i] == "dist-packages" {
			return "/" + strings.Join(comps[:i+1], "/"), true
		}
	}
	return "", false
}

// pyDist is one installed Python distribution.
type pyDist struct {
	name string
	meta string   // its .dist-info or .egg-info
	dir  bool     // meta is a directory
	file []string // image paths, from RECORD or installed-files.txt
	tops []string // top-level modules, when there is no file list
}

// pySite indexes a site directory's distributions.
type pySite struct {
	dir    string
	byFile map[string]*pyDist
	byTop  map[string]*pyDist
	byMeta map[string]*pyDist
}

func (c *computer) pySite(dir string) *pySite {
	if s := c.pySites[dir]; s != nil {
		return s
	}
	s := &pySite{dir: dir, byFile: map[string]*pyDist{}, byTop: map[string]*pyDist{}, byMeta: map[string]*pyDist{}}
	c.pySites[dir] = s
	c.sites = append(c.sites, dir)
	ents, err := readDir(c.fs, dir)
	if err != nil {
		return s
	}
	for _, de := range ents {
		name := de.Name()
		if strings.HasSuffix(name, ".pth") && !de.IsDir() {
			c.keep(dir+"/"+name, ReasonPackageMeta, "path configuration of "+dir)
		}
		if !strings.HasSuffix(name, ".dist-info") && !strings.HasSuffix(name, ".egg-info") {
			continue
		}
		d := &pyDist{name: distName(name), meta: dir + "/" + name, dir: de.IsDir()}
		if d.dir {
			if b, err := readFile(c.fs, d.meta+"/RECORD", 64<<20); err == nil {
				d.file = parseRecord(b, dir)
			} else if b, err := readFile(c.fs, d.meta+"/installed-files.txt", 64<<20); err == nil {
				d.file = parseInstalledFiles(b, d.meta)
			}
			if len(d.file) == 0 {
				if b, err := readFile(c.fs, d.meta+"/top_level.txt", 1<<20); err == nil {
					d.tops = strings.Fields(string(b))
				}
			}
		}
		if len(d.file) == 0 && len(d.tops) == 0 {
			d.tops = []string{strings.ReplaceAll(d.name, "-", "_"), strings.ToLower(strings.ReplaceAll(d.name, "-", "_"))}
		}
		s.byMeta[d.meta] = d
		for _, f := range d.file {
			if s.byFile[f] == nil {
				s.byFile[f] = d
			}
		}
		for _, t := range d.tops {
			if s.byTop[t] == nil {
				s.byTop[t] = d
			}
		}
	}
	return s
}

// dist returns the distribution a file of the site belongs to, or nil.
func (s *pySite) dist(p string) *pyDist {
	if d := s.byFile[p]; d != nil {
		return d
	}
	rel := strings.TrimPrefix(p, s.dir+"/")
	first, _, nested := strings.Cut(rel, "/")
	if d := s.byMeta[s.dir+"/"+first]; d != nil {
		return d
	}
	if !nested {
		first, _, _ = strings.Cut(first, ".") // six.py, _cffi_backend.cpython-312-x86_64-linux-gnu.so
	}
	return s.byTop[first]
}

// distName is the project name in a dist-info or egg-info name.
func distName(meta string) string {
	name, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimSuffix(meta, ".dist-info"), ".egg-info"), "-")
	return name
}

// parseRecord reads a dist-info RECORD (CSV: path, hash, size), paths
// relative to the site directory.
func parseRecord(b []byte, site string) []string {
	r := csv.NewReader(strings.NewReader(string(b)))
	r.FieldsPerRecord, r.LazyQuotes = -1, true
	var out []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			continue
		}
		switch {
		case len(rec) == 0 || rec[0] == "":
		case strings.HasPrefix(rec[0], "/"):
			out = append(out, path.Clean(rec[0]))
		default:
			out = append(out, path.Join(site, rec[0]))
		}
	}
	return out
}

// parseInstalledFiles reads an egg-info's installed-files.txt, paths
// relative to the egg-info directory.
func parseInstalledFiles(b []byte, meta string) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		switch l = strings.TrimSpace(l); {
		case l == "":
		case strings.HasPrefix(l, "/"):
			out = append(out, path.Clean(l))
		default:
			out = append(out, path.Join(meta, l))
		}
	}
	return out
}

// python keeps the distribution p belongs to.
func (c *computer) python(site, p string) {
	d := c.pySite(site).dist(p)
	if d == nil || c.langDone[d.meta] {
		return
	}
	c.langDone[d.meta] = true
	detail := "python distribution " + d.name
	if l, e := c.keep(d.meta, ReasonPackageMeta, detail); e != nil && e.Mode.IsDir() {
		c.keepTree(l.Resolved, ReasonPackageMeta, detail, nil)
	}
	if c.opts.NoAppDirs {
		return
	}
	skip := c.pyFilter(site, c.notRuntime(site, pyNotRuntimeDirs, pyNotRuntimeExts), detail)
	for _, f := range d.file {
		if under(f, d.meta) || skip(f) {
			continue
		}
		if l, e := c.keep(f, ReasonLangPackage, detail); e != nil && e.Mode.IsRegular() {
			c.enqueueIfObject(l.Resolved, e.Mode)
		}
	}
	for _, t := range d.tops {
		if l, e := c.keep(site+"/"+t, ReasonLangPackage, detail); e != nil && e.Mode.IsDir() {
			c.keepTree(l.Resolved, ReasonLangPackage, detail, c.pyFilter(site, c.notRuntime(l.Resolved, pyNotRuntimeDirs, pyNotRuntimeExts), detail))
		}
		c.keep(site+"/"+t+".py", ReasonLangPackage, detail)
		for _, m := range c.glob(site+"/"+t+".*.so", d.meta+"/top_level.txt") {
			if l, e := c.keep(m, ReasonLangPackage, detail); e != nil && e.Mode.IsRegular() {
				c.enqueueIfObject(l.Resolved, e.Mode)
			}
		}
	}
}

// npmRoot returns the package directory (node_modules/NAME or
// node_modules/@SCOPE/NAME) p lies beneath, the innermost one.
func npmRoot(p string) (root, name string, ok bool) {
	const nm = "/node_modules/"
	for i := strings.LastIndex(p, nm); i >= 0; i = strings.LastIndex(p[:i], nm) {
		segs := strings.Split(p[i+len(nm):], "/")
		n := 1
		if strings.HasPrefix(segs[0], "@") {
			n = 2
		}
		if len(segs) <= n || strings.HasPrefix(segs[0], ".") || segs[n-1] == "" {
			continue // node_modules/.bin/x, a file directly in node_modules
		}
		name = strings.Join(segs[:n], "/")
		return p[:i] + nm + name, name, true
	}
	return "", "", false
}

// npm keeps an npm package's package.json and (unless NoAppDirs) the
// whole package but its source files, which its require graph keeps.
func (c *computer) npm(root, name string) {
	if c.langDone[root] {
		return
	}
	c.langDone[root] = true
	detail := "npm package " + name
	if _, e := c.keep(root+"/package.json", ReasonPackageMeta, detail); e == nil || c.opts.NoAppDirs {
		return
	}
	c.add(root, nil, ReasonLangPackage, detail)
	c.keepTree(root, ReasonLangPackage, detail, c.packageFiles(root, npmSourceExts))
}

// Source files of npm packages and gems: those of a touched package are
// kept when traced or reached by its require graph (the import closure),
// not for being in the package.
var (
	npmSourceExts = []string{".js", ".mjs", ".cjs"}
	gemSourceExts = []string{".rb"}
)

// packageFiles returns the filter of a touched npm package's or gem's
// files left out of the whole package: those not needed to run it, and
// its source files, which its require graph keeps instead (when the import
// closure runs: --insurance imports or full). root is remembered so that
// the closure follows every require inside it.
func (c *computer) packageFiles(root string, sourceExts []string) func(p string) bool {
	notRuntime := c.notRuntime(root, libNotRuntimeDirs, libNotRuntimeExts)
	if c.opts.NoImports {
		return notRuntime
	}
	c.pkgRoots = append(c.pkgRoots, root)
	return func(p string) bool {
		return notRuntime(p) || !c.traced[p] && slices.ContainsFunc(sourceExts, func(x string) bool { return strings.HasSuffix(p, x) })
	}
}

// packageOf returns the root of the touched npm package or gem p lies in.
func (c *computer) packageOf(p string) string {
	best := ""
	for _, r := range c.pkgRoots {
		if under(p, r) && len(r) > len(best) {
			best = r
		}
	}
	return best
}

// gemRoot returns the gem p lies in: HOME/gems/NAME with its
// HOME/specifications/NAME.gemspec, or a bundler git checkout
// (HOME/bundler/gems/NAME) holding its own gemspec.
func gemRoot(fsys fs.FS, p string) (home, name, spec string, ok bool) {
	comps := split(p)
	for i := len(comps) - 3; i >= 0; i-- {
		if comps[i] != "gems" {
			continue
		}
		home, name = "/"+strings.Join(comps[:i], "/"), comps[i+1]
		home = strings.TrimSuffix(home, "/")
		spec = home + "/specifications/" + name + ".gemspec"
		if fi, err := lstat(fsys, spec); err == nil && fi.Mode().IsRegular() {
			return home, name, spec, true
		}
		if path.Base(home) == "bundler" {
			if m := globFirst(fsys, home+"/gems/"+name+"/*.gemspec"); len(m) > 0 {
				return home, name, m[0], true
			}
		}
	}
	return "", "", "", false
}

// gem keeps a gem's gemspec and (unless NoAppDirs) its directory (but its
// source files, which its require graph keeps) and its compiled
// extensions.
func (c *computer) gem(home, name, spec string) {
	root := home + "/gems/" + name
	if c.langDone[root] {
		return
	}
	c.langDone[root] = true
	detail := "gem " + name
	c.keep(spec, ReasonPackageMeta, detail)
	if c.opts.NoAppDirs {
		return
	}
	for _, dir := range append([]string{root}, c.glob(home+"/extensions/*/*/"+name, "gem "+name)...) {
		if l, e := c.keep(dir, ReasonLangPackage, detail); e != nil && e.Mode.IsDir() {
			c.keepTree(l.Resolved, ReasonLangPackage, detail, c.packageFiles(l.Resolved, gemSourceExts))
		}
	}
}
