package fileset

import (
	"bufio"
	"bytes"
	"io/fs"
	"path"
	"strings"
)

// pkgIndex says which image paths an OS package owns, from the image's
// own package database, read once.
type pkgIndex struct {
	kind  string            // "dpkg", "apk", or "" when the image has no database we read
	owner map[string]string // image path (no symlink above it) -> package
	dirs  map[string]bool   // directories above an owned path
	canon map[string]string // listed directory -> image directory
	fsys  fs.FS
}

func newPkgIndex(fsys fs.FS) *pkgIndex {
	return &pkgIndex{owner: map[string]string{}, dirs: map[string]bool{}, canon: map[string]string{}, fsys: fsys}
}

// owns reports whether an OS package owns the image path p.
func (x *pkgIndex) owns(p string) bool { _, ok := x.owner[p]; return ok }

// add records a path as a package lists it. Packages list paths as
// installed, which may go through symlinked directories (/lib on a
// merged-/usr system): the directory is resolved in the image.
func (x *pkgIndex) add(listed, pkg string) {
	listed = path.Clean("/" + listed)
	if listed == "/" {
		return
	}
	dir, base := path.Split(listed)
	d := x.canonDir(path.Clean(dir))
	p := strings.TrimSuffix(d, "/") + "/" + base
	if _, ok := x.owner[p]; !ok {
		x.owner[p] = pkg
	}
	for ; d != "/" && !x.dirs[d]; d = path.Dir(d) {
		x.dirs[d] = true
	}
}

func (x *pkgIndex) canonDir(d string) string {
	if d == "/" {
		return d
	}
	if c, ok := x.canon[d]; ok {
		return c
	}
	c := strings.TrimSuffix(x.canonDir(path.Dir(d)), "/") + "/" + path.Base(d)
	if fi, err := lstat(x.fsys, c); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if l := Resolve(x.fsys, c); l.Exists {
			c = l.Resolved
		}
	}
	x.canon[d] = c
	return c
}

// loadPackages reads the image's package database: dpkg's status (or
// distroless's status.d) with the packages' file lists and diversions, or
// apk's installed database.
func loadPackages(fsys fs.FS) *pkgIndex {
	x := newPkgIndex(fsys)
	read := func(p string) []byte {
		b, err := readFile(fsys, p, 256<<20)
		if err != nil {
			return nil
		}
		return b
	}
	// dpkg
	if b := read("/var/lib/dpkg/status"); b != nil {
		x.kind = "dpkg"
		listed := map[string]bool{} // a status may repeat a package: its list is read once
		for _, pkg := range parseDpkgStatus(b) {
			if listed[pkg.name+":"+pkg.arch] {
				continue
			}
			listed[pkg.name+":"+pkg.arch] = true
			for _, name := range []string{pkg.name + ":" + pkg.arch, pkg.name} {
				if list := read("/var/lib/dpkg/info/" + name + ".list"); list != nil {
					for _, p := range parseLines(list) {
						x.add(p, pkg.name)
					}
					break
				}
			}
		}
		if b := read("/var/lib/dpkg/diversions"); b != nil {
			for _, d := range parseDiversions(b) {
				x.add(d.to, d.pkg)
			}
		}
	}
	// distroless: one status file per package, md5sums for its files
	if ents, err := readDir(fsys, "/var/lib/dpkg/status.d"); err == nil {
		for _, de := range ents {
			name, ok := strings.CutSuffix(de.Name(), ".md5sums")
			if !ok || de.IsDir() {
				continue
			}
			x.kind = "dpkg"
			for _, p := range parseMD5sums(read("/var/lib/dpkg/status.d/" + de.Name())) {
				x.add(p, name)
			}
		}
	}
	// apk
	for _, db := range []string{"/lib/apk/db/installed", "/usr/lib/apk/db/installed"} {
		if b := read(db); b != nil {
			x.kind = "apk"
			for _, pkg := range parseApkInstalled(b) {
				for _, p := range pkg.files {
					x.add(p, pkg.name)
				}
			}
			break
		}
	}
	return x
}

// dpkgPkg is an installed package from dpkg's status.
type dpkgPkg struct{ name, arch string }

// dpkgPresent are the states in which a package's files are on disk.
var dpkgPresent = map[string]bool{"installed": true, "unpacked": true, "half-configured": true,
	"half-installed": true, "triggers-awaited": true, "triggers-pending": true}

// parseDpkgStatus returns the packages whose files are installed.
func parseDpkgStatus(b []byte) []dpkgPkg {
	var out []dpkgPkg
	for _, st := range parseStanzas(b) {
		status := strings.Fields(st["Status"])
		if st["Package"] == "" || len(status) != 3 || !dpkgPresent[status[2]] {
			continue
		}
		out = append(out, dpkgPkg{name: st["Package"], arch: st["Architecture"]})
	}
	return out
}

// parseStanzas reads RFC 822-style stanzas separated by blank lines;
// continuation lines are dropped (no field we read spans lines).
func parseStanzas(b []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			cur[k] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// parseLines returns the non-empty lines of a dpkg .list file.
func parseLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" && l != "/." {
			out = append(out, l)
		}
	}
	return out
}

// parseMD5sums reads "HASH  relative/path" lines.
func parseMD5sums(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if _, p, ok := strings.Cut(l, "  "); ok && p != "" {
			out = append(out, "/"+strings.TrimLeft(p, "/"))
		}
	}
	return out
}

type diversion struct{ from, to, pkg string }

// parseDiversions reads dpkg's diversions: groups of three lines, the
// diverted path, where it went, and the diverting package.
func parseDiversions(b []byte) []diversion {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var out []diversion
	for i := 0; i+2 < len(lines); i += 3 {
		out = append(out, diversion{from: lines[i], to: lines[i+1], pkg: lines[i+2]})
	}
	return out
}

type apkPkg struct {
	name  string
	files []string // directories and files
}

// parseApkInstalled reads apk's installed database: P: names a package,
// F: a directory (relative to /), R: a file in the last F: directory.
func parseApkInstalled(b []byte) []apkPkg {
	var out []apkPkg
	cur, dir := -1, ""
	for _, l := range strings.Split(string(b), "\n") {
		if len(l) < 2 || l[1] != ':' {
			if strings.TrimSpace(l) == "" {
				cur, dir = -1, ""
			}
			continue
		}
		v := l[2:]
		switch l[0] {
		case 'P':
			out = append(out, apkPkg{name: v})
			cur, dir = len(out)-1, ""
		case 'F':
			dir = "/" + v
			if cur >= 0 {
				out[cur].files = append(out[cur].files, dir)
			}
		case 'R':
			if cur >= 0 {
				out[cur].files = append(out[cur].files, path.Join("/", dir, v))
			}
		}
	}
	return out
}
