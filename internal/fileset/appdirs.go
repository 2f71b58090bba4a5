package fileset

import (
	"cmp"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/docker/go-units"
)

// systemDirs are shared by the whole system: a touched application file
// directly in one is kept alone, never with its siblings.
var systemDirs = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range []string{"/", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/etc",
		"/etc/alternatives", "/etc/default", "/etc/init.d", "/home", "/media", "/mnt", "/opt", "/run",
		"/tmp", "/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32",
		"/usr/libexec", "/usr/include", "/usr/share", "/usr/local", "/usr/local/bin", "/usr/local/sbin",
		"/usr/local/lib", "/usr/local/share", "/usr/local/include", "/var", "/var/lib", "/var/cache",
		"/var/log", "/var/run", "/var/tmp", "/var/spool", "/var/mail"} {
		m[d] = true
	}
	return m
}()

func isSystemDir(d string) bool {
	if systemDirs[d] {
		return true
	}
	switch path.Dir(d) {
	case "/lib", "/usr/lib", "/usr/local/lib": // multiarch: /usr/lib/x86_64-linux-gnu
		return strings.Contains(path.Base(d), "-linux-")
	}
	return false
}

// generatedPyc reports whether p is bytecode Python compiled for an OS
// package's module (Debian's postinst writes those, unowned).
func (c *computer) generatedPyc(p string) bool {
	dir, name := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if path.Base(dir) != "__pycache__" || !strings.HasSuffix(name, ".pyc") {
		return false
	}
	mod, _, _ := strings.Cut(name, ".")
	return c.pkgs.owns(path.Dir(dir) + "/" + mod + ".py")
}

// appDirs keeps, for each application file the application touched (one
// no OS package owns), the application files beneath its directory, when
// they fit in the cap.
func (c *computer) appDirs() {
	if c.opts.NoAppDirs || len(c.touched) == 0 {
		return
	}
	if c.pkgs == nil {
		c.pkgs = loadPackages(c.fs)
		if c.pkgs.kind == "" && c.exists("/var/lib/rpm", "/usr/lib/sysimage/rpm") {
			c.warn("rpm's package database is not read: every file outside the system directories counts as the application's")
		}
	}
	from := map[string]string{}
	var dirs []string
	for _, p := range c.touched {
		e := c.entries[p]
		if e == nil || e.Has(ReasonLangPackage) || c.pkgs.owns(p) || c.generatedPyc(p) {
			continue
		}
		// A CA store's generated files (the bundle update-ca-certificates
		// writes) are the system's: the certs rule keeps the stores.
		if slices.ContainsFunc(certStores, func(s string) bool { return under(p, s) }) {
			continue
		}
		d := path.Dir(p)
		if path.Base(d) == "__pycache__" {
			d = path.Dir(d)
		}
		if isSystemDir(d) || from[d] != "" {
			continue
		}
		from[d] = p
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")), strings.Compare(a, b))
	})
	var kept []string
	for _, d := range dirs {
		if slices.ContainsFunc(kept, func(k string) bool { return under(d, k) }) {
			continue
		}
		// The application's root is the topmost directory above d that is
		// not a system one (/app for /app/node_modules/x/lib, /srv for
		// /srv/templates): its data files and lazily loaded modules sit
		// beside the ones the probes reached. Over the cap, the nearest
		// directory that fits.
		var files []walked
		ok := false
		var n int
		var size int64
		for _, cand := range appRoots(d) {
			if slices.ContainsFunc(kept, func(k string) bool { return under(cand, k) }) {
				ok = false
				break
			}
			// The last candidate, d itself, is walked whole when over
			// the cap: what it leaves out is counted in the same walk.
			if files, ok, n, size = c.walkApp(cand, c.opts.AppDirCap, c.opts.AppDirFiles, cand == d); ok {
				d = cand
				break
			}
		}
		if slices.ContainsFunc(kept, func(k string) bool { return under(d, k) }) {
			continue
		}
		if !ok {
			c.capped = append(c.capped, CappedDir{Dir: d, Files: n, Bytes: size})
			c.warn("%s holds %d application files (%s), over --app-dir-max-files %d or --app-dir-cap %s: only the files the application used are kept; raise them (or --include-path %s) to keep the rest",
				d, n, units.HumanSize(float64(size)), c.opts.AppDirFiles, units.HumanSize(float64(c.opts.AppDirCap)), d)
			continue
		}
		kept = append(kept, d)
		detail := "application directory " + d
		c.add(d, nil, ReasonAppDir, detail)
		for _, f := range files {
			switch m := f.info.Mode(); {
			case m&fs.ModeSymlink != 0:
				c.add(f.path, f.info, ReasonAppDir, detail)
				if l, e := c.keep(f.path, ReasonAppDir, detail); e != nil && e.Mode.IsRegular() {
					c.enqueueIfObject(l.Resolved, e.Mode)
				}
			case m.IsRegular():
				if c.add(f.path, f.info, ReasonAppDir, detail) != nil {
					c.enqueueIfObject(f.path, m)
				}
			default:
				c.add(f.path, f.info, ReasonAppDir, detail)
			}
		}
	}
}

// appRoots lists the candidate application roots for a touched file's
// directory d, widest first: each ancestor of d below the nearest system
// directory, down to d itself.
func appRoots(d string) []string {
	roots := []string{d}
	for p := path.Dir(d); p != "/" && !isSystemDir(p); p = path.Dir(p) {
		roots = append([]string{p}, roots...)
	}
	return roots
}

func (c *computer) exists(paths ...string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { _, err := lstat(c.fs, p); return err == nil })
}

type walked struct {
	path string
	info fs.FileInfo
}

// walkApp lists the application's files beneath dir (directories, files,
// links no OS package owns), stopping as soon as their regular files
// exceed the byte cap (limit) or the files (regular files and links) the
// file cap (maxFiles); ok is false then. With count, a walk over a cap goes
// on to the end, listing nothing more, so that n and size say how many
// files and bytes the directory holds: what a capped directory leaves out.
func (c *computer) walkApp(dir string, limit int64, maxFiles int, count bool) (out []walked, ok bool, n int, size int64) {
	over := false
	var walk func(dir string) bool
	walk = func(dir string) bool {
		ents, err := readDir(c.fs, dir)
		if err != nil {
			return true
		}
		for _, de := range ents {
			p := strings.TrimSuffix(dir, "/") + "/" + de.Name()
			if c.blocked(p) {
				continue
			}
			fi, err := de.Info()
			if err != nil {
				continue
			}
			m := fi.Mode()
			switch {
			case m.IsDir():
				if !over && !c.pkgs.owns(p) {
					out = append(out, walked{p, fi})
				}
				if !walk(p) {
					return false
				}
			case m&fs.ModeSocket != 0 || c.pkgs.owns(p) || c.generatedPyc(p):
			default:
				if m.IsRegular() {
					size += fi.Size()
				}
				n++
				if !over && (limit >= 0 && size > limit || maxFiles >= 0 && n > maxFiles) {
					if over, out = true, nil; !count {
						return false
					}
				}
				if !over {
					out = append(out, walked{p, fi})
				}
			}
		}
		return true
	}
	walk(dir)
	return out, !over, n, size
}
