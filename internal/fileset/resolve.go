package fileset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// The image's filesystem is an fs.FS holding the image's root: an
// (*os.Root).FS() of the unpacked image, or an fstest.MapFS in tests. It
// must implement fs.ReadLinkFS (Lstat and ReadLink, which follow no
// symlink); Compute also opens files and lists directories, and passes only
// names Resolve returned, with no symlink in them. debug/elf needs random
// access, so an opened file should implement io.ReaderAt (an *os.File and
// fstest.MapFS's files do); one that does not is read into memory.
//
// Inside this package names are absolute image paths ("/etc/passwd"); the
// helpers below turn them into fs.FS names. fs.ReadDir lists a directory
// in name order, so what is kept never depends on the order on disk.

// FSName is the fs.FS name of an absolute image path: "etc/passwd", "."
// for "/".
func FSName(p string) string {
	if p = path.Clean("/" + p)[1:]; p == "" {
		return "."
	}
	return p
}

func lstat(fsys fs.FS, p string) (fs.FileInfo, error)     { return fs.Lstat(fsys, FSName(p)) }
func readlink(fsys fs.FS, p string) (string, error)       { return fs.ReadLink(fsys, FSName(p)) }
func open(fsys fs.FS, p string) (fs.File, error)          { return fsys.Open(FSName(p)) }
func readDir(fsys fs.FS, p string) ([]fs.DirEntry, error) { return fs.ReadDir(fsys, FSName(p)) }

// readFile reads a whole file of at most max bytes.
func readFile(fsys fs.FS, name string, max int64) ([]byte, error) {
	f, err := open(fsys, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("reading %s: %w (%d bytes)", name, errTooLarge, max)
	}
	return b, nil
}

// errTooLarge is readFile's error for a file over its cap.
var errTooLarge = errors.New("larger than its read cap")

// readHead reads up to n bytes from the start of a file.
func readHead(fsys fs.FS, name string, n int) ([]byte, error) {
	f, err := open(fsys, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b[:m], nil
}

// warnFS is the image as Compute reads it: a file that exists but cannot
// be read (a FIFO or a device node where a package database or a source
// file should be, which the image filesystem refuses to open; a file over
// its size cap) is skipped with a warning naming it, never waited on.
type warnFS struct {
	fs.FS
	warn func(format string, a ...any)
}

func (w warnFS) report(err error) {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.warn("skipped, cannot be read: %v", err)
	}
}

func (w warnFS) Open(name string) (fs.File, error) {
	f, err := w.FS.Open(name)
	w.report(err)
	return f, err
}

func (w warnFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(w.FS, name)
	w.report(err)
	return ents, err
}

func (w warnFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(w.FS, name) }
func (w warnFS) ReadLink(name string) (string, error)   { return fs.ReadLink(w.FS, name) }
func (w warnFS) Stat(name string) (fs.FileInfo, error)  { return fs.Stat(w.FS, name) }

// maxLinks bounds the symlinks followed in one lookup, as the kernel's 40.
const maxLinks = 40

// ErrLoop means a lookup met more than maxLinks symlinks.
var ErrLoop = errors.New("too many levels of symbolic links")

// Lookup is one path looked up in an image, the way the kernel would inside
// a container whose root is the image: symlinks resolved against the image
// root, ".." stopping at it.
type Lookup struct {
	Path string // as asked
	// Resolved is the path with every symlink resolved (when Exists).
	Resolved string
	Exists   bool
	Info     fs.FileInfo // of Resolved, when Exists
	// Links are the symlinks met on the way, in order (link paths, each
	// with every component before it resolved).
	Links []string
	Err   error // why it does not exist, when it does not
}

// Resolve looks p up in fsys, following symlinks in every component,
// including the last.
func Resolve(fsys fs.FS, p string) Lookup {
	l := Lookup{Path: p}
	pending := split(p)
	resolved := ""
	hops := 0
	for len(pending) > 0 {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case ".":
			continue
		case "..":
			if i := strings.LastIndexByte(resolved, '/'); i >= 0 {
				resolved = resolved[:i]
			}
			continue
		}
		next := resolved + "/" + c
		fi, err := lstat(fsys, next)
		if err != nil {
			l.Err = err
			return l
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(pending) > 0 && !fi.IsDir() {
				l.Err = fs.ErrNotExist // a file used as a directory: ENOTDIR
				return l
			}
			resolved = next
			continue
		}
		hops++
		if hops > maxLinks {
			l.Err = ErrLoop
			return l
		}
		target, err := readlink(fsys, next)
		if err != nil {
			l.Err = err
			return l
		}
		l.Links = append(l.Links, next)
		if strings.HasPrefix(target, "/") {
			resolved = ""
		}
		pending = append(split(target), pending...)
	}
	if resolved == "" {
		resolved = "/"
	}
	fi, err := lstat(fsys, resolved)
	if err != nil {
		l.Err = err
		return l
	}
	l.Resolved, l.Exists, l.Info = resolved, true, fi
	return l
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
