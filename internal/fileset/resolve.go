// Package fileset decides which files of an image a slim image keeps, and
// why. It works on the image's own filesystem, through FS, never the host's.
package fileset

import (
	"errors"
	"io/fs"
	"strings"
)

// FS is a read-only view of an image's root filesystem. Names are absolute
// paths inside the image; symlinks are not followed by either method.
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
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
