package fileset

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// neverKept are the mount points whose contents never come from the image.
var neverKept = []string{"/proc", "/sys", "/dev"}

// defaultPath is the PATH the runtime uses when the image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// computer holds the state of one Compute.
type computer struct {
	fs   fs.FS
	cfg  dockerspec.DockerOCIImageConfig
	opts Options
	in   Input

	entries  map[string]*Entry
	warnings []string
	warned   map[string]bool
	capped   []CappedDir

	mounts   []string
	excludes []glob
	exclMemo map[string]bool

	pathDirs []string // the image's PATH
	ldPath   []string // the image's LD_LIBRARY_PATH

	traced     map[string]bool // image paths the trace resolved to
	tracedDirs map[string]bool // their directories
	touched    []string        // non-directory image paths the app used, in order
	touchSet   map[string]bool

	queue    []item // files whose closure to examine, with a context
	later    []item // and without
	examined map[string]bool
	elf      *elfState

	nssDBs   []string // NSS databases whose modules to keep
	tlsBy    string   // a kept executable that reads the CA store
	tzBy     string   // a kept Go executable that loads time zones by name
	pkgs     *pkgIndex
	sites    []string           // Python site directories the application used
	pySites  map[string]*pySite // their distributions
	langDone map[string]bool    // language packages kept
	pkgRoots []string           // npm packages and gems whose sources the import closure keeps
	py       pyPackages         // subpackages of Python distributions nothing used yet

	imports ImportStats
	appExts map[string]bool // extensions of the application's kept files
}

func newComputer(in Input) (*computer, error) {
	c := &computer{cfg: in.Config, opts: in.Options, in: in,
		entries: map[string]*Entry{}, warned: map[string]bool{}, exclMemo: map[string]bool{},
		traced: map[string]bool{}, touchSet: map[string]bool{}, examined: map[string]bool{},
		pySites: map[string]*pySite{}, langDone: map[string]bool{}}
	if c.opts.AppDirFiles == 0 {
		c.opts.AppDirFiles = DefaultAppDirFiles
	}
	c.fs = warnFS{in.FS, c.warn}
	if c.opts.AppDirCap == 0 {
		c.opts.AppDirCap = DefaultAppDirCap
	}
	c.mounts = slices.Clone(neverKept)
	for _, m := range in.Mounts {
		if m = clean(m); m != "" && m != "/" {
			c.mounts = append(c.mounts, m)
		}
	}
	for _, p := range c.opts.ExcludePaths {
		g, err := compileGlob(p)
		if err != nil {
			return nil, err
		}
		c.excludes = append(c.excludes, g)
	}
	pathVar, ok := envValue(c.cfg.Env, "PATH")
	if !ok {
		pathVar = defaultPath
	}
	c.pathDirs = c.capDirs(strings.Split(pathVar, ":"), "PATH")
	if v, ok := envValue(c.cfg.Env, "LD_LIBRARY_PATH"); ok {
		c.ldPath = c.capDirs(strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ';' }), "LD_LIBRARY_PATH")
	}
	c.elf = newELFState()
	return c, nil
}

func envValue(env []string, key string) (string, bool) {
	v, ok := "", false
	for _, kv := range env {
		if k, val, found := strings.Cut(kv, "="); found && k == key {
			v, ok = val, true // the last one wins, as in a process's environment
		}
	}
	return v, ok
}

func (c *computer) warn(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	if !c.warned[s] {
		c.warned[s] = true
		c.warnings = append(c.warnings, s)
	}
}

// blocked reports whether p may not be in the set: beneath a mount, or
// excluded (p or a directory above it matches an exclude glob).
func (c *computer) blocked(p string) bool {
	for _, m := range c.mounts {
		if below(p, m) {
			return true
		}
	}
	return c.excluded(p)
}

func (c *computer) excluded(p string) bool {
	if len(c.excludes) == 0 {
		return false
	}
	if v, ok := c.exclMemo[p]; ok {
		return v
	}
	v := slices.ContainsFunc(c.excludes, func(g glob) bool { return g.match(p) })
	if !v && p != "/" {
		v = c.excluded(path.Dir(p))
	}
	c.exclMemo[p] = v
	return v
}

// add puts an image path with no symlink above it in the set, with its
// parent directories; fi may be nil. It returns nil when p is blocked or
// not in the image.
func (c *computer) add(p string, fi fs.FileInfo, r Reason, detail string) *Entry {
	if p == "/" || c.blocked(p) {
		return nil
	}
	e := c.entries[p]
	if e == nil {
		p = c.in.Paths.Shared(p)
		if fi == nil {
			var err error
			if fi, err = lstat(c.fs, p); err != nil {
				return nil
			}
		}
		e = &Entry{Path: p, Mode: fi.Mode()}
		if fi.Mode().IsRegular() {
			e.Size = fi.Size()
		}
		c.entries[p] = e
		c.addParents(p)
	}
	if !slices.Contains(e.Reasons, r) {
		e.Reasons = append(e.Reasons, r)
	}
	if e.Detail == "" {
		e.Detail = detail
	}
	return e
}

func (c *computer) addParents(p string) {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if c.entries[d] != nil {
			return
		}
		fi, err := lstat(c.fs, d)
		if err != nil {
			return
		}
		c.entries[d] = &Entry{Path: d, Mode: fi.Mode(), Reasons: []Reason{ReasonParent}}
	}
}

// keep looks p up in the image and keeps what it resolves to, with every
// symlink met on the way. The entry is nil when p is not in the image or
// what it resolves to is blocked.
func (c *computer) keep(p string, r Reason, detail string) (Lookup, *Entry) {
	l := Resolve(c.fs, p)
	if !l.Exists {
		return l, nil
	}
	e := c.add(l.Resolved, l.Info, r, detail)
	if e != nil {
		l.Resolved = e.Path // the trace's string when it named it (add shares it)
		asked := clean(p)
		for _, link := range l.Links {
			if link == asked {
				c.add(link, nil, r, detail) // the path asked for is itself a link
			}
			c.add(link, nil, ReasonSymlink, "to "+l.Resolved)
		}
	}
	return l, e
}

// keepMissing handles a traced path the image does not hold: the
// directory it was looked up in is kept (the application may create the
// file there at run time), and so is a dangling symlink at the path (which
// the application may have lstat'ed or readlink'ed), with the links on the
// way to both.
func (c *computer) keepMissing(p string) {
	dir, base := path.Split(p)
	if base == "" || base == "." || base == ".." {
		return
	}
	l := Resolve(c.fs, dir)
	if !l.Exists || !l.Info.IsDir() {
		return
	}
	added := c.add(l.Resolved, l.Info, ReasonParent, "the application used "+p+" in it") != nil
	link := strings.TrimSuffix(l.Resolved, "/") + "/" + base
	if fi, err := lstat(c.fs, link); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		added = c.add(link, fi, ReasonTraced, "") != nil || added
	}
	if added {
		for _, ln := range l.Links {
			c.add(ln, nil, ReasonSymlink, "to "+l.Resolved)
		}
	}
}

// touch records an image file the application used, for the package and
// application directory rules.
func (c *computer) touch(p string) {
	if !c.touchSet[p] {
		c.touchSet[p] = true
		c.touched = append(c.touched, p)
	}
}

// tracedFiles keeps every path the application used that the image holds.
func (c *computer) tracedFiles() {
	for _, u := range c.in.Files {
		p := u.Path
		if !strings.HasPrefix(p, "/") {
			continue // the tracer makes paths absolute; anything else is not an image path
		}
		if c.mounted(clean(p)) {
			continue
		}
		l, e := c.keep(p, ReasonTraced, "")
		if !l.Exists {
			c.keepMissing(p)
			continue
		}
		c.traced[l.Resolved] = true
		if e == nil || !e.Mode.IsRegular() {
			continue
		}
		c.touch(l.Resolved)
		c.enqueue(item{path: l.Resolved, exec: slices.Contains(u.Kinds, trace.AccessExec)})
	}
	for _, p := range c.in.Execs {
		if !strings.HasPrefix(p, "/") || c.mounted(clean(p)) {
			continue
		}
		l, e := c.keep(p, ReasonExec, "")
		if e == nil || !e.Mode.IsRegular() {
			continue
		}
		c.traced[l.Resolved] = true
		c.touch(l.Resolved)
		c.enqueue(item{path: l.Resolved, exec: true})
	}
}

// mounted reports whether a path as named lies beneath a mount.
func (c *computer) mounted(p string) bool {
	return slices.ContainsFunc(c.mounts, func(m string) bool { return below(p, m) })
}

// keepExec keeps a program and queues its closure.
func (c *computer) keepExec(p string, r Reason, detail string) bool {
	l, e := c.keep(p, r, detail)
	if e != nil && e.Mode.IsRegular() {
		c.enqueue(item{path: l.Resolved, exec: true})
	}
	return l.Exists
}

// lookPath finds a program the way the runtime and env(1) do: a name with
// a slash as a path (relative to the working directory), any other in the
// image's PATH, as an executable regular file.
func (c *computer) lookPath(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			name = strings.TrimSuffix(cmp.Or(c.cfg.WorkingDir, "/"), "/") + "/" + name
		}
		return name, Resolve(c.fs, name).Exists
	}
	for _, d := range c.pathDirs {
		if !strings.HasPrefix(d, "/") {
			continue
		}
		p := strings.TrimSuffix(d, "/") + "/" + name
		if l := Resolve(c.fs, p); l.Exists && l.Info.Mode().IsRegular() && l.Info.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// commands keeps what the image's entrypoint and healthcheck run.
func (c *computer) commands() {
	argv := append(slices.Clone(c.cfg.Entrypoint), c.cfg.Cmd...)
	c.command(argv, ReasonEntrypoint, true)
	if len(c.cfg.Entrypoint) > 0 && len(c.cfg.Cmd) > 0 {
		// Entrypoint scripts commonly end with exec "$@".
		c.command(c.cfg.Cmd, ReasonEntrypoint, false)
	}
	if c.cfg.Healthcheck == nil || len(c.cfg.Healthcheck.Test) == 0 {
		return
	}
	hc := c.cfg.Healthcheck.Test
	switch hc[0] {
	case "NONE":
	case "CMD":
		c.command(hc[1:], ReasonHealthcheck, true)
	case "CMD-SHELL":
		c.command([]string{"/bin/sh", "-c", strings.Join(hc[1:], " ")}, ReasonHealthcheck, true)
	default:
		c.command(hc, ReasonHealthcheck, true)
	}
}

var shells = []string{"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"}

// command keeps the program of argv and its closure, the files named by
// absolute paths in its arguments and, for "sh -c LINE", what LINE runs.
// Missing programs are warnings when must is set.
func (c *computer) command(argv []string, r Reason, must bool) {
	if len(argv) == 0 || argv[0] == "" {
		return
	}
	what := map[Reason]string{ReasonEntrypoint: "entrypoint", ReasonHealthcheck: "healthcheck"}[r]
	p, ok := c.lookPath(argv[0])
	if !ok {
		if must {
			c.warn("%s: %s is not in the image", what, argv[0])
		}
		return
	}
	c.keepExec(p, r, "")
	if slices.Contains(shells, path.Base(argv[0])) && len(argv) >= 3 && argv[1] == "-c" {
		c.shellLine(argv[2], r, what)
		return
	}
	for _, a := range argv[1:] {
		c.keepArg(a, r)
	}
}

// keepArg keeps a file an argument names by its absolute path, if the
// image holds it.
func (c *computer) keepArg(a string, r Reason) {
	if !strings.HasPrefix(a, "/") || strings.ContainsAny(a, "$`*?") {
		return
	}
	l, e := c.keep(a, r, "")
	if e != nil && e.Mode.IsRegular() {
		c.enqueue(item{path: l.Resolved})
	}
}

// shellLine keeps the programs a shell command line runs.
func (c *computer) shellLine(line string, r Reason, what string) {
	cmds, err := shellCommands(line)
	if err != nil {
		c.warn("%s: not a shell command line the parser reads, so the programs it runs are not known: %v", what, err)
	}
	for _, words := range cmds {
		name := words[0]
		if !strings.ContainsAny(name, "$`") {
			if p, ok := c.lookPath(name); ok {
				c.keepExec(p, r, "")
			} else if !slices.Contains(shellBuiltins, name) {
				c.warn("%s: %s is not in the image", what, name)
			}
		}
		for _, a := range words[1:] {
			c.keepArg(a, r)
		}
	}
}

// includes applies --include-bin, --include-exe, --include-shell and
// --include-path.
func (c *computer) includes() {
	for _, p := range c.opts.IncludeBins {
		if !c.keepExec(p, ReasonIncludeBin, "") {
			c.warn("--include-bin %s: not in the image", p)
		}
	}
	for _, name := range c.opts.IncludeExes {
		if p, ok := c.lookPath(name); ok {
			c.keepExec(p, ReasonIncludeExe, "")
		} else {
			c.warn("--include-exe %s: not in the image's PATH", name)
		}
	}
	if c.opts.IncludeShell {
		if p, ok := c.lookPath("sh"); ok {
			c.keepExec(p, ReasonIncludeShell, "")
		} else {
			c.warn("--include-shell: no sh in the image's PATH")
		}
	}
	for _, ip := range c.opts.IncludePaths {
		l, e := c.keep(ip.Path, ReasonIncludePath, "")
		if !l.Exists {
			c.warn("--include-path %s: not in the image", ip.Path)
			continue
		}
		if e != nil && e.Mode.IsDir() {
			c.keepTree(l.Resolved, ReasonIncludePath, "", nil)
		} else if e != nil && e.Mode.IsRegular() {
			c.enqueue(item{path: l.Resolved})
		}
	}
}

// keepTree keeps everything beneath dir (an image path with no symlink in
// it), each symlink with what it points to. Files whose names say they may
// be ELF objects or scripts are queued for their closure. skip, when set,
// leaves out the files it returns true for, and a dormant Python package's
// directory with all beneath it.
func (c *computer) keepTree(dir string, r Reason, detail string, skip func(p string) bool) {
	ents, err := readDir(c.fs, dir)
	if err != nil {
		return
	}
	for _, de := range ents {
		p := strings.TrimSuffix(dir, "/") + "/" + de.Name()
		if c.blocked(p) {
			continue
		}
		if skip != nil && skip(p) && (!de.IsDir() || c.py.state[p] == pyDormant) {
			// Directories are left out only as dormant Python packages
			// (kept empty, Python would import one as a namespace
			// package); others' filters are for files ("bn.js" is an npm
			// package's directory, not a source).
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if c.add(p, fi, r, detail) == nil {
			continue
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			c.keepTree(p, r, detail, skip)
		case m&fs.ModeSymlink != 0:
			if l, e := c.keep(p, r, detail); e != nil && e.Mode.IsRegular() {
				c.enqueueIfObject(l.Resolved, e.Mode)
			}
		case m.IsRegular():
			c.enqueueIfObject(p, m)
		}
	}
}

// userDB keeps /etc/passwd, /etc/group and /etc/nsswitch.conf when the
// image runs as a USER or the application looked users up, and the USER's
// home directory.
func (c *computer) userDB() {
	detail := ""
	switch {
	case c.cfg.User != "":
		detail = "USER " + c.cfg.User
	case c.traced["/etc/passwd"] || c.traced["/etc/group"]:
		detail = "the application looked users up"
	default:
		return
	}
	for _, p := range []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf"} {
		c.keep(p, ReasonUserDB, detail)
	}
	c.nssDBs = append(c.nssDBs, "passwd", "group")
	if c.cfg.User == "" {
		return
	}
	name, _, _ := strings.Cut(c.cfg.User, ":")
	l := Resolve(c.fs, "/etc/passwd")
	var b []byte
	if l.Exists && l.Info.Mode().IsRegular() {
		b, _ = readFile(c.fs, l.Resolved, 16<<20)
	}
	u, ok := lookupUser(b, name)
	switch {
	case ok && u.home != "" && u.home != "/":
		if hl := Resolve(c.fs, u.home); hl.Exists && hl.Info.IsDir() {
			c.keep(u.home, ReasonUserDB, "home of USER "+c.cfg.User)
		}
	case !ok && !isNumber(name):
		c.warn("USER %s: no such user in the image's /etc/passwd", name)
	}
}

func (c *computer) workdir() {
	if c.cfg.WorkingDir == "" {
		return
	}
	if l, _ := c.keep(c.cfg.WorkingDir, ReasonWorkdir, ""); !l.Exists {
		c.warn("working dir %s is not in the image", c.cfg.WorkingDir)
	}
}

// zonesByName keeps the time zone database when a kept Go executable
// links time.LoadLocation: the zone it loads is named at run time (often
// by a request), so a probe that never reached it leaves no trace of
// which. The leap-second variants (right/) are left out: no Go program
// names them by accident. Insurance: not with --insurance=none.
func (c *computer) zonesByName() {
	if c.tzBy == "" || c.opts.IncludeZoneinfo || c.opts.NoImports {
		return
	}
	dir := "/usr/share/zoneinfo"
	if v, ok := envValue(c.cfg.Env, "ZONEINFO"); ok && path.IsAbs(v) {
		dir = v // Go looks there first
	}
	detail := "time zones loaded by name (time.LoadLocation) in " + c.tzBy
	l, e := c.keep(dir, ReasonLazyLoad, detail)
	if e == nil || !e.Mode.IsDir() {
		return
	}
	right := l.Resolved + "/right"
	c.keepTree(l.Resolved, ReasonLazyLoad, detail, func(p string) bool { return under(p, right) })
}

func (c *computer) zoneinfo() {
	if !c.opts.IncludeZoneinfo {
		return
	}
	if l, e := c.keep("/usr/share/zoneinfo", ReasonZoneinfo, ""); e != nil && e.Mode.IsDir() {
		c.keepTree(l.Resolved, ReasonZoneinfo, "", nil)
	}
	c.keep("/etc/localtime", ReasonZoneinfo, "")
	c.keep("/etc/timezone", ReasonZoneinfo, "")
}

// overrides applies --include-path's mode and owner to the named paths.
func (c *computer) overrides() {
	for _, ip := range c.opts.IncludePaths {
		if ip.Override == nil {
			continue
		}
		if l := Resolve(c.fs, ip.Path); l.Exists {
			if e := c.entries[l.Resolved]; e != nil {
				e.Override = ip.Override
			}
		}
	}
}

func (c *computer) result() *Set {
	s := &Set{Entries: make([]Entry, 0, len(c.entries)), Warnings: c.warnings, Imports: c.imports, CappedDirs: c.capped}
	for _, e := range c.entries {
		s.Entries = append(s.Entries, *e)
	}
	slices.SortFunc(s.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return s
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
