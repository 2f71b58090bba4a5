// Package fileset decides which files of an image a slim image keeps, and
// why. It works on the image's own filesystem, through FS and ReadFS, never
// the host's, and makes no syscall of its own.
//
// Resolve looks one path up the way the kernel would inside the container.
// Compute turns what the trace saw (the paths the application named, the
// binaries it executed) and the image's configuration into the Set of paths
// the slim image holds, each with the reasons it is kept: the traced files
// with their symlinks and parent directories, the static ELF and "#!"
// closure, the user database, CA certificates and resolver files users rely
// on, whole language packages and application directories (told apart from
// the OS's files by the image's own package database), the modules the
// traced Python, Node.js, Ruby and PHP files import with literal names
// (package imports, bounded in depth and size), and the user's include and
// exclude rules.
package fileset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// FS is a read-only view of an image's root filesystem. Names are absolute
// paths inside the image; symlinks are not followed by either method.
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// ReadFS is an FS that also reads files and lists directories: what Compute
// needs. Compute only passes names Resolve returned, with no symlink in
// them, so whether the methods follow symlinks does not matter.
//
// Open returns the file for reading; debug/elf needs random access, so the
// file should implement io.ReaderAt (an *os.File from an os.Root does, and
// so do fstest.MapFS's files); one that does not is read into memory.
// ReadDir lists a directory in any order, each entry's Type and Info
// describing the entry itself, not what a symlink points to (as
// os.File.ReadDir does).
type ReadFS interface {
	FS
	Open(name string) (fs.File, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// readFile reads a whole file of at most max bytes.
func readFile(fsys ReadFS, name string, max int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", name, max)
	}
	return b, nil
}

// readHead reads up to n bytes from the start of a file.
func readHead(fsys ReadFS, name string, n int) ([]byte, error) {
	f, err := fsys.Open(name)
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
func Resolve(fsys FS, p string) Lookup {
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
		fi, err := fsys.Lstat(next)
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
		target, err := fsys.Readlink(next)
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
	fi, err := fsys.Lstat(resolved)
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
