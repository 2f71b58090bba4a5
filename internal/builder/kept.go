package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tonistiigi/fsutil"
)

// localName names the BuildKit local source that is the fat image: only the
// kept paths of it, sent through the session.
const localName = "slimtrace-kept"

// keptFS is what the session sends BuildKit of the fat image: the kept
// paths and their parents, read from the image's filesystem mounted
// read-only on the host, and nothing else of it. BuildKit never sees the
// image's layers, so a build costs what the app kept, not what the image
// holds: a 10 GB image of which an app uses 6 files sends 6 files.
//
// It walks its list, not the tree: no directory is read, so a directory of
// 200,000 files of which one is kept costs one lstat. Each entry carries
// what fsutil reads of a file (owner, mode, times, xattrs such as file
// capabilities, device numbers, a symlink's target), and a file whose inode
// was already sent is sent as a hardlink to the first path. Nothing but the
// listed regular files is ever opened.
type keptFS struct {
	root  string
	paths []string // relative, in the order fsutil sends (fsutil.ComparePath)
	files map[string]bool
	// linked holds the inode of each kept regular file with other links,
	// from the check: Walk sends the second and later as hardlinks.
	linked map[string]uint64
}

// newKeptFS checks every path of set in the image at root before anything
// is sent: it must exist, and each parent must be a directory (a path below
// a symlink is refused: a copy cannot follow it, and the kernel's answer
// would depend on the symlink). The image is a read-only mount: what was
// checked stays true while the build reads it.
func newKeptFS(root string, set fileSet) (*keptFS, error) {
	if root == "" {
		return nil, errors.New("source image has no directory to read it from")
	}
	k := &keptFS{root: root, files: map[string]bool{}, linked: map[string]uint64{}}
	dirs := make(map[string]bool, len(set.dirs))
	for _, d := range set.dirs {
		dirs[d] = true
	}
	all := slices.Concat(set.dirs, set.leaves)
	for _, p := range all {
		k.paths = append(k.paths, strings.TrimPrefix(p, "/"))
	}
	slices.SortFunc(k.paths, fsutil.ComparePath)
	for _, rel := range k.paths {
		abs := "/" + rel
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil, fmt.Errorf("kept path %s is not in the image", abs)
			}
			return nil, fmt.Errorf("kept path %s: %w", abs, err)
		}
		switch {
		case dirs[abs] && !fi.IsDir():
			// Parents come first: this is the first non-directory on the way.
			return nil, fmt.Errorf("kept path %s lies below %s, which is not a directory (a %s): list the path it leads to", below(abs, all), abs, kind(fi.Mode()))
		case fi.Mode().IsRegular():
			k.files[rel] = true
			if st := fi.Sys().(*syscall.Stat_t); st.Nlink > 1 {
				k.linked[rel] = st.Ino
			}
		}
	}
	return k, nil
}

// below returns a kept path under dir, for the message.
func below(dir string, paths []string) string {
	for _, p := range paths {
		if strings.HasPrefix(p, dir+"/") {
			return p
		}
	}
	return dir + "/..."
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// Walk calls fn for each kept path, parents first, in fsutil's order. It
// ignores target: the session always asks for the whole source.
func (k *keptFS) Walk(ctx context.Context, _ string, fn fs.WalkDirFunc) error {
	seen := map[uint64]string{} // inode → first path, for hardlinks
	for _, rel := range k.paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := fsutil.Stat(filepath.Join(k.root, rel))
		if err != nil {
			return fmt.Errorf("reading /%s of the image: %w", rel, err)
		}
		st.Path = rel
		if ino, ok := k.linked[rel]; ok {
			if first, ok := seen[ino]; ok {
				st.Linkname, st.Size = first, 0
			} else {
				seen[ino] = rel
			}
		}
		if err := fn(rel, &fsutil.DirEntryInfo{Stat: st}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Open opens a kept regular file, and nothing else: not a symlink, and
// not a path outside the list.
func (k *keptFS) Open(p string) (io.ReadCloser, error) {
	rel := path.Clean(filepath.ToSlash(p))
	if !k.files[rel] {
		return nil, fmt.Errorf("%s: not a kept file of the image: %w", p, fs.ErrPermission)
	}
	return os.OpenFile(filepath.Join(k.root, rel), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}
