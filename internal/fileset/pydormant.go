package fileset

import (
	"path"
	"slices"
	"strings"

	"github.com/slimtrace/slimtrace/internal/imports"
)

// pyPackages holds the subpackages of touched Python distributions that
// nothing the application did reached: a package directory (one with an
// __init__.py) beneath a distribution's top-level package that the trace
// never entered. A distribution is kept whole but for them; after the
// import closure, one wakes when
//   - a string literal names it as the prefix of module names computed at
//     run time ("django.conf.locale.%s"): its modules are kept;
//   - it is, or is beneath, an application Django's INSTALLED_APPS names
//     (Django loads its templatetags, templates, locale and management
//     commands by convention): it is kept whole, like the rest.
//
// Of the others, the closure keeps the modules that a source it read
// imports, or names in a string literal
// ("django.template.loaders.filesystem.Loader": how import_string-style
// loaders and settings name code), as it does in the standard library.
//
// django.contrib.admin, gis or postgres in an app that never installs
// them, or a library's optional backends nothing selects, stay out.
type pyPackages struct {
	state  map[string]pyState // package directories examined
	detail map[string]string  // dormant ones: the distribution's reason detail
	site   map[string]string  // and the site directory they are in
	names  map[string]bool    // prefixes of dotted names computed at run time ("pkg.locale.")
	apps   []string           // INSTALLED_APPS entries
}

type pyState uint8

const (
	pyUnknown pyState = iota
	pyLive
	pyDormant
	pyWoken     // kept whole
	pyWokenCode // its modules kept, not its data files
)

// pyFilter returns the filter of a Python distribution's files in site
// that leaves out those beneath a dormant subpackage, as well as what
// notRuntime leaves out. Without the import closure nothing can wake a
// package, and none is left out.
func (c *computer) pyFilter(site string, notRuntime func(p string) bool, detail string) func(p string) bool {
	return func(p string) bool {
		return notRuntime(p) || !c.opts.NoImports && c.dormant(site, p, detail)
	}
}

// dormant reports whether p is (beneath) a dormant subpackage of site,
// recording the subpackages it finds dormant.
func (c *computer) dormant(site, p, detail string) bool {
	if c.traced[p] {
		return false
	}
	rel, ok := strings.CutPrefix(p, site+"/")
	if !ok {
		return false
	}
	if c.py.state == nil {
		c.py = pyPackages{state: map[string]pyState{}, detail: map[string]string{}, site: map[string]string{},
			names: map[string]bool{}}
	}
	comps := strings.Split(rel, "/")
	// comps[0] is the top-level package: used, since the distribution was.
	for k := 2; k <= len(comps); k++ {
		d := site + "/" + strings.Join(comps[:k], "/")
		st := c.py.state[d]
		if st == pyUnknown {
			st = pyLive
			if w := c.wokenAbove(d); w != pyUnknown {
				st = w
			} else if !c.traced[d] && !c.tracedUnder(d) && c.isPyPackage(d) {
				st = pyDormant
				c.py.detail[d], c.py.site[d] = detail, site
			}
			c.py.state[d] = st
		}
		switch st {
		case pyDormant:
			return true
		case pyWoken:
			return false
		case pyWokenCode:
			return !c.pyCode(p)
		}
	}
	return false
}

// wokenAbove returns how a package above d woke, or pyUnknown.
func (c *computer) wokenAbove(d string) pyState {
	for p := path.Dir(d); p != "/" && p != "."; p = path.Dir(p) {
		if st := c.py.state[p]; st == pyWoken || st == pyWokenCode {
			return st
		}
	}
	return pyUnknown
}

// pyCode reports whether p is a Python module or a directory.
func (c *computer) pyCode(p string) bool {
	switch path.Ext(p) {
	case ".py", ".pyc", ".so":
		return true
	}
	l := Resolve(c.fs, p)
	return l.Exists && l.Info.IsDir()
}

func (c *computer) isPyPackage(d string) bool {
	l := Resolve(c.fs, d+"/__init__.py")
	return l.Exists && l.Info.Mode().IsRegular()
}

// pyName turns a string literal naming a Python module by its dotted path
// (see imports.PythonNames) into the import of that module, or of the
// module whose attribute it names ("pkg.hashers.Argon2PasswordHasher"),
// when one is in the image; ok is false when none is, for a name in a
// function of a file the closure added, and for names in the standard
// library (_compat_pickle's table of old module names is not code to
// load). A prefix of names computed at run time ("django.conf.locale.") is
// recorded to wake the packages beneath it.
func (c *computer) pyName(res *imports.Resolver, s source, ref imports.Ref) (imports.Ref, bool) {
	if strings.HasSuffix(ref.Name, ".") {
		if c.py.names != nil {
			c.py.names[ref.Name] = true
		}
		return ref, false
	}
	if ref.Deferred && s.depth > 0 || stdlib(s.path) {
		return ref, false
	}
	imp := imports.Ref{Line: ref.Line, Kind: "import", Name: ref.Name}
	if _, ok := res.Resolve(imports.Python, s.path, imp); ok {
		return imp, true
	}
	i := strings.LastIndexByte(ref.Name, '.')
	imp.Name = ref.Name[:i]
	if !strings.Contains(imp.Name, ".") {
		return ref, false // "index.html": not a module's attribute
	}
	_, ok := res.Resolve(imports.Python, s.path, imp)
	return imp, ok
}

// wakePackages keeps the dormant subpackages the application's code
// names (see pyPackages).
func (c *computer) wakePackages() {
	var woke []string
	for d, st := range c.py.state {
		if st != pyDormant {
			continue
		}
		if w := c.pyWake(strings.ReplaceAll(strings.TrimPrefix(d, c.py.site[d]+"/"), "/", ".")); w != pyDormant {
			c.py.state[d] = w
			woke = append(woke, d)
		}
	}
	slices.Sort(woke)
	for _, d := range woke {
		c.keepWoken(d)
	}
}

// wakeAll keeps every dormant subpackage whole: when the closure has no
// source to read, nothing can say which of them the application loads.
func (c *computer) wakeAll() {
	var woke []string
	for d, st := range c.py.state {
		if st == pyDormant {
			c.py.state[d] = pyWoken
			woke = append(woke, d)
		}
	}
	slices.Sort(woke)
	for _, d := range woke {
		c.keepWoken(d)
	}
}

// keepWoken keeps a woken package, as its distribution keeps its files.
func (c *computer) keepWoken(d string) {
	detail, site := c.py.detail[d], c.py.site[d]
	if l, e := c.keep(d, ReasonLangPackage, detail); e != nil && e.Mode.IsDir() {
		c.keepTree(l.Resolved, ReasonLangPackage, detail,
			c.pyFilter(site, c.notRuntime(site, pyNotRuntimeDirs, pyNotRuntimeExts), detail))
	}
}

// pyWake returns how the dormant package named n wakes: whole when it is,
// or is beneath, an installed app; its modules only when it is, or is
// beneath, a prefix of computed module names (they name modules, not the
// data files beside them); pyDormant when it does not.
func (c *computer) pyWake(n string) pyState {
	for _, a := range c.py.apps {
		if n == a || strings.HasPrefix(n, a+".") {
			return pyWoken
		}
	}
	for s := range c.py.names {
		if n == strings.TrimSuffix(s, ".") || strings.HasPrefix(n, s) {
			return pyWokenCode
		}
	}
	return pyDormant
}

// stdlib reports whether p is in a Python standard library
// (.../lib/pythonX.Y/, not beneath its site directories).
func stdlib(p string) bool {
	if _, ok := pythonSite(p); ok {
		return false
	}
	for _, c := range split(p) {
		if strings.HasPrefix(c, "python") && len(c) > 6 && c[6] >= '0' && c[6] <= '9' && strings.Contains(c, ".") {
			return true
		}
	}
	return false
}
