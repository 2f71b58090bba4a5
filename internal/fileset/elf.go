package fileset

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// item is a kept regular file whose closure is to be examined: an ELF
// object's interpreter and libraries, a script's interpreter.
type item struct {
	path string // an image path with no symlink in it
	// exec: the file is run, so a "#!" line counts (files with an
	// execute bit are treated the same).
	exec bool
	// origin is $ORIGIN for the object: the directory it was found in
	// (as searched, not resolved); "" means the directory of path.
	origin string
	// ld is the loader that maps a library, known from the executable
	// that needed it; nil: from the object's own PT_INTERP or the image.
	ld *loader
	// rpaths are the DT_RPATH directories of the objects that loaded it
	// (glibc searches them for its own needs when it has no DT_RUNPATH).
	rpaths []string
	// quiet: the file was kept as part of a directory or package, not
	// because it runs; what its closure lacks is no warning.
	quiet bool
}

// enqueue queues a file. Files with a context (executed, or needed by an
// object whose loader and RPATHs are known) go first: a library the trace
// saw mapped is best examined as what its executable needs.
func (c *computer) enqueue(it item) {
	if it.exec || it.ld != nil {
		c.queue = append(c.queue, it)
	} else {
		c.later = append(c.later, it)
	}
}

// enqueueIfObject queues a kept file whose name or mode says it may be an
// ELF object or a script; the rest are not worth opening.
func (c *computer) enqueueIfObject(p string, m fs.FileMode) {
	base := path.Base(p)
	if m.Perm()&0o111 != 0 || strings.Contains(base, ".so") || strings.HasSuffix(base, ".node") {
		c.enqueue(item{path: p, quiet: true})
	}
}

// drain examines queued files until none is left.
func (c *computer) drain() {
	for len(c.queue)+len(c.later) > 0 {
		var it item
		if len(c.queue) > 0 {
			it, c.queue = c.queue[0], c.queue[1:]
		} else {
			it, c.later = c.later[0], c.later[1:]
		}
		if c.examined[it.path] {
			continue
		}
		c.examined[it.path] = true
		head, err := readHead(c.fs, it.path, 256)
		if err != nil {
			continue
		}
		switch {
		case bytes.HasPrefix(head, []byte(elf.ELFMAG)):
			c.elfClosure(it)
		case bytes.HasPrefix(head, []byte("#!")):
			if e := c.entries[it.path]; it.exec || (e != nil && e.Mode.Perm()&0o111 != 0) {
				c.shebang(it, head)
			}
		}
	}
}

// elfState is what the closure learns once per image.
type elfState struct {
	loaders   map[string]*loader // by interpreter as named
	image     *loader            // for objects with no interpreter
	glibc     *loader            // the first glibc loader met, for NSS modules
	glibcHdr  elfHeader          // the class and machine of the object that used it
	headers   map[string]elfHeader
	confDirs  []string // from /etc/ld.so.conf, read once
	confRead  bool
	cacheKept bool
}

type elfHeader struct {
	ok      bool
	class   elf.Class
	machine elf.Machine
}

func newELFState() *elfState {
	return &elfState{loaders: map[string]*loader{}, headers: map[string]elfHeader{}}
}

// loader is one dynamic loader of the image: glibc's ld.so or musl's.
type loader struct {
	musl   bool
	arch   string   // musl's name for the architecture ("x86_64")
	interp []string // the interpreter's directories, as named and resolved
	dirs   map[elfHeader][]string
}

// elfInfo is what the closure needs of an ELF object.
type elfInfo struct {
	class   elf.Class
	machine elf.Machine
	interp  string
	needed  []string
	rpath   []string
	runpath []string
	// tls: the executable names a CA store (Go, static OpenSSL builds).
	tls bool
	// tz: a Go executable that links time.LoadLocation.
	tz bool
}

// openAt opens an image file for random access.
func (c *computer) openAt(p string) (io.ReaderAt, func(), error) {
	f, err := open(c.fs, p)
	if err != nil {
		return nil, nil, err
	}
	if ra, ok := f.(io.ReaderAt); ok {
		return ra, func() { f.Close() }, nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<30))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", p, err)
	}
	return bytes.NewReader(b), func() {}, nil
}

// elfClosure keeps an ELF object's interpreter and the libraries it needs,
// found the way its loader would find them, and queues them in turn.
func (c *computer) elfClosure(it item) {
	r, done, err := c.openAt(it.path)
	if err != nil {
		return
	}
	info, err := parseELF(r, it.exec)
	done()
	if err != nil {
		if !it.quiet {
			c.warn("%s: reading ELF: %v", it.path, err)
		}
		return
	}
	if info.tls && c.tlsBy == "" {
		c.tlsBy = it.path
	}
	if info.tz && c.tzBy == "" {
		c.tzBy = it.path
	}
	ld := it.ld
	if info.interp != "" {
		l, e := c.keep(info.interp, ReasonELFInterp, "of "+it.path)
		if !l.Exists && !it.quiet {
			c.warn("%s: ELF interpreter %s is not in the image", it.path, info.interp)
		} else if e != nil && e.Mode.IsRegular() {
			c.enqueue(item{path: l.Resolved, quiet: it.quiet})
		}
		ld = c.loaderFor(info.interp, l)
	}
	if ld == nil {
		ld = c.imageLoader()
	}
	if !ld.musl && c.elf.glibc == nil && (info.interp != "" || len(info.needed) > 0) {
		c.elf.glibc, c.elf.glibcHdr = ld, elfHeader{ok: true, class: info.class, machine: info.machine}
	}
	if len(info.needed) == 0 {
		return
	}
	if !ld.musl && !c.elf.cacheKept {
		c.elf.cacheKept = true
		c.keep("/etc/ld.so.cache", ReasonLdCache, "")
	}
	origin := it.origin
	if origin == "" {
		origin = path.Dir(it.path)
	}
	hdr := elfHeader{ok: true, class: info.class, machine: info.machine}
	expand := func(list []string) []string {
		var out []string
		for _, s := range list {
			for _, d := range strings.Split(s, ":") {
				if d != "" {
					out = append(out, expandTokens(d, origin, info)...)
				}
			}
		}
		return out
	}
	rpath, runpath := c.capDirs(expand(info.rpath), it.path+": RPATH"), c.capDirs(expand(info.runpath), it.path+": RUNPATH")
	inheritedCap := func(dirs []string) []string { return c.capDirs(dirs, it.path+": RPATH of the objects that loaded it") }
	var dirs, inherited []string
	if ld.musl {
		// musl: LD_LIBRARY_PATH, then the rpath (RPATH and RUNPATH alike)
		// of the object and of those that loaded it, then its path file.
		inherited = inheritedCap(append(append(rpath, runpath...), it.rpaths...))
		dirs = append(append(slices.Clone(c.ldPath), inherited...), c.sysDirs(ld, hdr)...)
	} else {
		// glibc: DT_RPATH of the object and its loaders unless it has a
		// DT_RUNPATH, LD_LIBRARY_PATH, DT_RUNPATH, ld.so.cache, defaults.
		inherited = slices.Clone(it.rpaths)
		if len(info.runpath) == 0 {
			inherited = inheritedCap(append(rpath, it.rpaths...))
			dirs = append(dirs, inherited...)
		}
		dirs = append(append(append(dirs, c.ldPath...), runpath...), c.sysDirs(ld, hdr)...)
	}
	needed := info.needed
	if max := c.opts.MaxNeeded; max >= 0 {
		if max == 0 {
			max = DefaultMaxNeeded
		}
		if len(needed) > max {
			c.warn("%s: %d DT_NEEDED libraries: only the first %d looked up (--elf-max-needed)", it.path, len(needed), max)
			needed = needed[:max]
		}
	}
	for _, name := range needed {
		p, ok := c.findLib(name, dirs, hdr)
		if !ok {
			if !it.quiet {
				c.warn("%s: library %s is not in the image", it.path, name)
			}
			continue
		}
		l, e := c.keep(p, ReasonELFDep, "needed by "+it.path)
		if e != nil && e.Mode.IsRegular() {
			c.enqueue(item{path: l.Resolved, origin: p[:strings.LastIndexByte(p, '/')], ld: ld, rpaths: inherited,
				quiet: it.quiet})
		}
	}
}

// findLib looks a DT_NEEDED name up in dirs, skipping objects of another
// class or machine as the loader does.
func (c *computer) findLib(name string, dirs []string, want elfHeader) (string, bool) {
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			name = strings.TrimSuffix(c.cfg.WorkingDir, "/") + "/" + name
		}
		return name, Resolve(c.fs, name).Exists
	}
	for _, d := range dirs {
		if !strings.HasPrefix(d, "/") {
			continue
		}
		p := strings.TrimSuffix(d, "/") + "/" + name
		l := Resolve(c.fs, p)
		if l.Exists && l.Info.Mode().IsRegular() && c.header(l.Resolved) == want {
			return p, true
		}
	}
	return "", false
}

func (c *computer) header(p string) elfHeader {
	if h, ok := c.elf.headers[p]; ok {
		return h
	}
	var h elfHeader
	if r, done, err := c.openAt(p); err == nil {
		if f, err := elf.NewFile(r); err == nil {
			h = elfHeader{ok: true, class: f.Class, machine: f.Machine}
		}
		done()
	}
	c.elf.headers[p] = h
	return h
}

// loaderFor returns the loader an interpreter path names.
func (c *computer) loaderFor(interp string, l Lookup) *loader {
	if ld := c.elf.loaders[interp]; ld != nil {
		return ld
	}
	ld := &loader{dirs: map[elfHeader][]string{}, interp: []string{path.Dir(interp)}}
	if l.Exists {
		ld.interp = append(ld.interp, path.Dir(l.Resolved))
	}
	if arch, ok := muslArch(path.Base(interp)); ok {
		ld.musl, ld.arch = true, arch
	}
	c.elf.loaders[interp] = ld
	return ld
}

// muslArch reads the architecture from musl's loader name,
// ld-musl-ARCH.so.1.
func muslArch(base string) (string, bool) {
	rest, ok := strings.CutPrefix(base, "ld-musl-")
	if !ok {
		return "", false
	}
	arch, _, ok := strings.Cut(rest, ".so")
	return arch, ok && arch != ""
}

// imageLoader is the loader for objects that name none (shared
// libraries the trace saw mapped): musl's when the image has one in /lib,
// else glibc's.
func (c *computer) imageLoader() *loader {
	if c.elf.image != nil {
		return c.elf.image
	}
	// /lib is a link to usr/lib in a merged-/usr image: list where it leads.
	if lib := Resolve(c.fs, "/lib"); lib.Exists && lib.Info.IsDir() {
		ents, _ := readDir(c.fs, lib.Resolved)
		for _, de := range ents {
			if _, ok := muslArch(de.Name()); ok {
				c.elf.image = c.loaderFor("/lib/"+de.Name(), Resolve(c.fs, "/lib/"+de.Name()))
				return c.elf.image
			}
		}
	}
	c.elf.image = &loader{dirs: map[elfHeader][]string{}}
	return c.elf.image
}

// sysDirs are the directories a loader searches after the object's own
// paths: glibc's ld.so.conf (what ld.so.cache holds), then its default
// directories for the object's class and machine; musl's path file or its
// defaults.
func (c *computer) sysDirs(ld *loader, h elfHeader) []string {
	if d, ok := ld.dirs[h]; ok {
		return d
	}
	var dirs []string
	if ld.musl {
		l := Resolve(c.fs, "/etc/ld-musl-"+ld.arch+".path")
		if b, err := c.readResolved(l); err == nil {
			dirs = c.capDirs(parseMuslPath(b), l.Resolved)
		} else {
			dirs = []string{"/lib", "/usr/local/lib", "/usr/lib"}
		}
	} else {
		if !c.elf.confRead {
			c.elf.confRead = true
			var capped []string
			c.elf.confDirs, capped = parseLdSoConf(c.fs, "/etc/ld.so.conf", c.globMax())
			for _, p := range capped {
				c.warn("/etc/ld.so.conf: include %s matches over %d paths: only the first %d read (--glob-max-matches)", p, c.globMax(), c.globMax())
			}
			c.elf.confDirs = c.capDirs(c.elf.confDirs, "/etc/ld.so.conf")
		}
		dirs = append(dirs, c.elf.confDirs...)
		for _, t := range multiarch(h.class, h.machine) {
			dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
		}
		if h.class == elf.ELFCLASS64 {
			dirs = append(dirs, "/lib64", "/usr/lib64")
		}
		dirs = append(dirs, "/lib", "/usr/lib")
		dirs = append(dirs, ld.interp...)
	}
	dirs = uniq(dirs)
	ld.dirs[h] = dirs
	return dirs
}

func (c *computer) readResolved(l Lookup) ([]byte, error) {
	if !l.Exists || !l.Info.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return readFile(c.fs, l.Resolved, 16<<20)
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// multiarch returns the Debian multiarch tuples for a class and machine.
func multiarch(class elf.Class, m elf.Machine) []string {
	is64 := class == elf.ELFCLASS64
	switch m {
	case elf.EM_X86_64:
		if is64 {
			return []string{"x86_64-linux-gnu"}
		}
		return []string{"x86_64-linux-gnux32"}
	case elf.EM_386:
		return []string{"i386-linux-gnu"}
	case elf.EM_AARCH64:
		return []string{"aarch64-linux-gnu"}
	case elf.EM_ARM:
		return []string{"arm-linux-gnueabihf", "arm-linux-gnueabi"}
	case elf.EM_PPC64:
		return []string{"powerpc64le-linux-gnu", "powerpc64-linux-gnu"}
	case elf.EM_PPC:
		return []string{"powerpc-linux-gnu"}
	case elf.EM_S390:
		return []string{"s390x-linux-gnu"}
	case elf.EM_RISCV:
		return []string{"riscv64-linux-gnu"}
	case elf.EM_LOONGARCH:
		return []string{"loongarch64-linux-gnu"}
	case elf.EM_MIPS:
		if is64 {
			return []string{"mips64el-linux-gnuabi64", "mips64-linux-gnuabi64"}
		}
		return []string{"mipsel-linux-gnu", "mips-linux-gnu"}
	}
	return nil
}

// platform is what $PLATFORM expands to.
func platform(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_386:
		return "i686"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_PPC64:
		return "powerpc64le"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_RISCV:
		return "riscv64"
	}
	return ""
}

// expandTokens expands $ORIGIN, $LIB and $PLATFORM (and their ${} forms)
// in one RPATH/RUNPATH directory. $LIB differs between distributions, so
// it gives every spelling.
func expandTokens(d, origin string, info *elfInfo) []string {
	d = strings.NewReplacer("${ORIGIN}", origin, "$ORIGIN", origin,
		"${PLATFORM}", platform(info.machine), "$PLATFORM", platform(info.machine)).Replace(d)
	if !strings.Contains(d, "$LIB") && !strings.Contains(d, "${LIB}") {
		return []string{d}
	}
	libs := []string{"lib"}
	if info.class == elf.ELFCLASS64 {
		libs = []string{"lib64", "lib"}
	}
	for _, t := range multiarch(info.class, info.machine) {
		libs = append(libs, "lib/"+t)
	}
	var out []string
	for _, l := range libs {
		out = append(out, strings.NewReplacer("${LIB}", l, "$LIB", l).Replace(d))
	}
	return out
}

// tlsMarkers are strings a program that reads the system's CA store holds.
var tlsMarkers = [][]byte{[]byte("/etc/ssl/certs"), []byte("/etc/pki/tls"), []byte("ca-certificates.crt")}

// parseELF reads an object's class, machine, interpreter and dynamic
// section, from the program headers as the loader does (the section
// headers only when the program headers fall short). For executables it
// also looks for the names of CA stores in .rodata.
func parseELF(r io.ReaderAt, exec bool) (*elfInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	info := &elfInfo{class: f.Class, machine: f.Machine}
	var dyn *elf.Prog
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err != nil {
				return nil, fmt.Errorf("reading PT_INTERP: %w", err)
			}
			info.interp = string(bytes.TrimRight(b, "\x00"))
		case elf.PT_DYNAMIC:
			dyn = p
		}
	}
	if dyn != nil {
		if err := readDynamic(f, dyn, r, info); err != nil {
			// Fall back to the section headers.
			info.needed, _ = f.DynString(elf.DT_NEEDED)
			info.rpath, _ = f.DynString(elf.DT_RPATH)
			info.runpath, _ = f.DynString(elf.DT_RUNPATH)
		}
	}
	if exec {
		if s := f.Section(".rodata"); s != nil && s.Type != elf.SHT_NOBITS {
			info.tls = containsAny(s.Open(), tlsMarkers)
		}
		// Go keeps its function names in .gopclntab, stripped or not.
		if s := f.Section(".gopclntab"); s != nil && s.Type != elf.SHT_NOBITS {
			info.tz = containsAny(s.Open(), [][]byte{[]byte("time.LoadLocation\x00")})
		}
	}
	return info, nil
}

// readDynamic reads DT_NEEDED, DT_RPATH and DT_RUNPATH from PT_DYNAMIC,
// mapping DT_STRTAB's address to a file offset through PT_LOAD.
func readDynamic(f *elf.File, dyn *elf.Prog, r io.ReaderAt, info *elfInfo) error {
	d, err := io.ReadAll(io.LimitReader(dyn.Open(), 1<<20))
	if err != nil {
		return err
	}
	size := 8
	if f.Class == elf.ELFCLASS64 {
		size = 16
	}
	var strtab, strsz uint64
	var needed, rpath, runpath []uint64
	for ; len(d) >= size; d = d[size:] {
		var tag int64
		var val uint64
		if size == 16 {
			tag, val = int64(f.ByteOrder.Uint64(d)), f.ByteOrder.Uint64(d[8:])
		} else {
			tag, val = int64(int32(f.ByteOrder.Uint32(d))), uint64(f.ByteOrder.Uint32(d[4:]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			d = nil
		case elf.DT_NEEDED:
			needed = append(needed, val)
		case elf.DT_RPATH:
			rpath = append(rpath, val)
		case elf.DT_RUNPATH:
			runpath = append(runpath, val)
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		}
		if d == nil {
			break
		}
	}
	if len(needed)+len(rpath)+len(runpath) == 0 {
		return nil
	}
	if strtab == 0 || strsz == 0 || strsz > 64<<20 {
		return errors.New("no string table")
	}
	off := int64(-1)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && strtab >= p.Vaddr && strtab+strsz <= p.Vaddr+p.Filesz {
			off = int64(p.Off + strtab - p.Vaddr)
			break
		}
	}
	if off < 0 {
		return errors.New("string table outside the loaded segments")
	}
	str := make([]byte, strsz)
	if _, err := r.ReadAt(str, off); err != nil && err != io.EOF {
		return err
	}
	get := func(offs []uint64) ([]string, error) {
		var out []string
		for _, o := range offs {
			if o >= strsz {
				return nil, errors.New("string outside the string table")
			}
			s := str[o:]
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[:i]
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	if info.needed, err = get(needed); err != nil {
		return err
	}
	if info.rpath, err = get(rpath); err != nil {
		return err
	}
	info.runpath, err = get(runpath)
	return err
}

// containsAny reports whether r holds any of the markers, reading it in
// chunks.
func containsAny(r io.Reader, markers [][]byte) bool {
	const chunk = 1 << 16
	longest := 0
	for _, m := range markers {
		longest = max(longest, len(m))
	}
	buf := make([]byte, 0, chunk+longest)
	tmp := make([]byte, chunk)
	for {
		n, err := r.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for _, m := range markers {
			if bytes.Contains(buf, m) {
				return true
			}
		}
		if len(buf) > longest {
			buf = append(buf[:0], buf[len(buf)-longest:]...)
		}
		if err != nil {
			return false
		}
	}
}

// parseMuslPath reads musl's /etc/ld-musl-ARCH.path: directories separated
// by newlines or colons.
func parseMuslPath(b []byte) []string {
	var out []string
	for _, d := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ':' || r == '\n' }) {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "/") {
			out = append(out, d)
		}
	}
	return out
}

// parseLdSoConf reads glibc's ld.so.conf and the files it includes (globs,
// relative to the including file's directory), returning its directories
// in order.
//
// An include's glob expands to at most maxMatches paths (negative: no
// cap); the patterns cut are returned.
func parseLdSoConf(fsys fs.FS, name string, maxMatches int) (_ []string, capped []string) {
	var dirs []string
	seen := map[string]bool{}
	var read func(name string, depth int)
	read = func(name string, depth int) {
		l := Resolve(fsys, name)
		if !l.Exists || !l.Info.Mode().IsRegular() || seen[l.Resolved] || depth > 8 {
			return
		}
		seen[l.Resolved] = true
		b, err := readFile(fsys, l.Resolved, 1<<20)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			switch fields[0] {
			case "include":
				for _, pat := range fields[1:] {
					if !strings.HasPrefix(pat, "/") {
						pat = path.Join(path.Dir(name), pat)
					}
					ms, cut := globImage(fsys, pat, maxMatches)
					if cut {
						capped = append(capped, pat)
					}
					for _, m := range ms {
						read(m, depth+1)
					}
				}
				continue
			case "hwcap":
				continue
			}
			for _, d := range strings.FieldsFunc(line, func(r rune) bool {
				return r == ' ' || r == '\t' || r == ':' || r == ','
			}) {
				d, _, _ = strings.Cut(d, "=") // ldconfig's dir=TYPE
				if strings.HasPrefix(d, "/") {
					dirs = append(dirs, path.Clean(d))
				}
			}
		}
	}
	read(name, 0)
	return uniq(dirs), capped
}

// globImage expands a glob over absolute image paths, in sorted order, to
// at most max paths (negative: no cap), and reports whether it cut some:
// over self-linking directories each "*" multiplies the matches.
func globImage(fsys fs.FS, pattern string, max int) (_ []string, capped bool) {
	matches := []string{"/"}
	for _, comp := range split(pattern) {
		var next []string
		for _, m := range matches {
			base := strings.TrimSuffix(m, "/") + "/"
			if !strings.ContainsAny(comp, "*?[\\") {
				if _, err := lstat(fsys, base+comp); err == nil {
					next = append(next, base+comp)
				}
				continue
			}
			l := Resolve(fsys, m)
			if !l.Exists || !l.Info.IsDir() {
				continue
			}
			ents, err := readDir(fsys, l.Resolved)
			if err != nil {
				continue
			}
			var names []string
			for _, de := range ents {
				if ok, _ := path.Match(comp, de.Name()); ok {
					names = append(names, de.Name())
				}
			}
			slices.Sort(names)
			for _, n := range names {
				next = append(next, base+n)
			}
			if max >= 0 && len(next) > max {
				next, capped = next[:max], true
				break
			}
		}
		matches = next
	}
	return matches, capped
}

// shebang keeps the interpreter a "#!" line names and, for env, the
// program it runs, found in the image's PATH.
func (c *computer) shebang(it item, head []byte) {
	interp, arg, ok := parseShebang(head)
	if !ok {
		return
	}
	script := it.path
	l, e := c.keep(interp, ReasonShebang, "interpreter of "+script)
	if !l.Exists {
		if !it.quiet {
			c.warn("%s: interpreter %s is not in the image", script, interp)
		}
		return
	}
	if e != nil && e.Mode.IsRegular() {
		c.enqueue(item{path: l.Resolved, exec: true, quiet: it.quiet})
	}
	if path.Base(interp) != "env" {
		return
	}
	prog := envProgram(arg)
	if prog == "" {
		return
	}
	if p, ok := c.lookPath(prog); ok {
		if l, e := c.keep(p, ReasonShebang, "run by env for "+script); e != nil && e.Mode.IsRegular() {
			c.enqueue(item{path: l.Resolved, exec: true, quiet: it.quiet})
		}
	} else if !it.quiet {
		c.warn("%s: %s (run by env) is not in the image's PATH", script, prog)
	}
}

// parseShebang reads a "#!" line as the kernel does: the interpreter, and
// the rest of the line as one optional argument.
func parseShebang(head []byte) (interp, arg string, ok bool) {
	rest, found := bytes.CutPrefix(head, []byte("#!"))
	if !found {
		return "", "", false
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	line := strings.Trim(string(rest), " \t\r")
	if line == "" {
		return "", "", false
	}
	interp, arg, _ = strings.Cut(line, " ")
	if i := strings.IndexByte(interp, '\t'); i >= 0 {
		interp, arg = interp[:i], interp[i+1:]+" "+arg
	}
	return interp, strings.Trim(arg, " \t"), true
}

// envProgram returns the program env(1) runs given the "#!" argument.
func envProgram(arg string) string {
	words := strings.Fields(arg)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-u" || w == "--unset" || w == "-C" || w == "--chdir":
			i++
		case strings.HasPrefix(w, "-S") && len(w) > 2:
			return strings.Fields(w[2:])[0]
		case strings.HasPrefix(w, "-"):
		case strings.Contains(w, "="):
		default:
			return w
		}
	}
	return ""
}
