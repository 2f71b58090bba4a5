package safefs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRegular means a name is neither a regular file nor a directory
// (a FIFO, a device node, a socket) and was not opened for reading.
var ErrNotRegular = errors.New("not a regular file")

// DefaultMaxRead is the largest file ReadFile reads unless FS.MaxRead says
// otherwise.
const DefaultMaxRead = 64 << 20

// resolve confines every lookup to the root: symlinks and ".." are
// resolved as if the root were "/", and /proc magic links are refused.
const resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// FS reads the files under one root directory. The zero value is not
// usable; Open one. Close it when done; copies made by WithContext share
// its descriptor.
type FS struct {
	root *os.File
	ctx  context.Context
	// MaxRead caps ReadFile (DefaultMaxRead when 0).
	MaxRead int64
}

// Open opens dir as the root of an FS: an image view, or /proc/PID/root
// of a running container (opened once: the FS keeps reading that
// container's root through the descriptor, whatever becomes of the path).
func Open(dir string) (*FS, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &FS{root: os.NewFile(uintptr(fd), dir), ctx: context.Background()}, nil
}

// Close releases the root descriptor.
func (f *FS) Close() error { return f.root.Close() }

// WithContext returns an FS whose calls fail with the context's error once
// it is done. It shares f's root: close only f.
func (f *FS) WithContext(ctx context.Context) *FS {
	c := *f
	c.ctx = ctx
	return &c
}

// Root is the directory the FS was opened on, for messages.
func (f *FS) Root() string { return f.root.Name() }

func (f *FS) check(op, name string) error {
	if err := f.ctx.Err(); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// openPath opens name as an O_PATH descriptor: it opens nothing, follows
// the last symlink only when follow says so, and never leaves the root.
func (f *FS) openPath(op, name string, follow bool) (int, error) {
	if err := f.check(op, name); err != nil {
		return -1, err
	}
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat2(int(f.root.Fd()), name, &unix.OpenHow{Flags: flags, Resolve: resolve})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return fd, nil
	}
}

// Open opens a regular file or a directory for reading. The last
// component is not followed when it is a symlink (ELOOP): callers resolve
// links themselves, inside the image.
func (f *FS) Open(name string) (fs.File, error) {
	file, err := f.open(name)
	if err != nil {
		return nil, err
	}
	return file, nil
}

// ReadFileFollow is ReadFile that follows a symlink in the last component
// too, inside the root, as the container itself would (/etc/passwd may be
// a link in an image).
func (f *FS) ReadFileFollow(name string) ([]byte, error) {
	file, err := f.openFollow(name, true)
	if err != nil {
		return nil, err
	}
	return f.readAll(file, name)
}

func (f *FS) open(name string) (*File, error) { return f.openFollow(name, false) }

func (f *FS) openFollow(name string, follow bool) (*File, error) {
	pfd, err := f.openPath("open", name, follow)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	mode := st.Mode & unix.S_IFMT
	switch mode {
	case unix.S_IFREG, unix.S_IFDIR:
	case unix.S_IFLNK:
		return nil, &fs.PathError{Op: "open", Path: name, Err: unix.ELOOP}
	default:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, typeName(mode))}
	}
	// Reopen the very inode checked, through its descriptor.
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil || st2.Dev != st.Dev || st2.Ino != st.Ino {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("changed while opened")}
	}
	// *os.File names itself by the descriptor: the one place the os
	// package joins a path to it (an entry of unknown type in ReadDir)
	// then stays on this very directory.
	return &File{f: os.NewFile(uintptr(fd), fmt.Sprintf("/proc/self/fd/%d", fd)), fsys: f, name: name}, nil
}

// Stat follows the last symlink, inside the root.
func (f *FS) Stat(name string) (fs.FileInfo, error) { return f.stat("stat", name, true) }

// Lstat does not follow the last symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) { return f.stat("lstat", name, false) }

func (f *FS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	fd, err := f.openPath(op, name, follow)
	if err != nil {
		return nil, err
	}
	file := os.NewFile(uintptr(fd), name)
	defer file.Close()
	info, err := file.Stat() // fstat on the descriptor
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return renamed{info, path.Base(name)}, nil
}

// ReadLink reads a symlink's target, unresolved.
func (f *FS) ReadLink(name string) (string, error) {
	fd, err := f.openPath("readlink", name, false)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	if n == len(buf) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unix.ENAMETOOLONG}
	}
	return string(buf[:n]), nil
}

// ReadFile reads a regular file of at most MaxRead bytes.
func (f *FS) ReadFile(name string) ([]byte, error) {
	file, err := f.open(name)
	if err != nil {
		return nil, err
	}
	return f.readAll(file, name)
}

func (f *FS) readAll(file *File, name string) ([]byte, error) {
	defer file.Close()
	max := f.MaxRead
	if max <= 0 {
		max = DefaultMaxRead
	}
	if info, err := file.Stat(); err == nil && info.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: unix.EISDIR}
	}
	b, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("larger than %d bytes", max)}
	}
	return b, nil
}

// ReadDir lists a directory in name order.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	file, err := f.open(name)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return file.ReadDir(-1)
}

// File is an open regular file or directory of an FS. It reads through
// its descriptor only.
type File struct {
	f    *os.File
	fsys *FS
	name string
}

func (f *File) Stat() (fs.FileInfo, error) {
	info, err := f.f.Stat()
	if err != nil {
		return nil, err
	}
	return renamed{info, path.Base(f.name)}, nil
}
func (f *File) Read(b []byte) (int, error) {
	if err := f.fsys.ctx.Err(); err != nil {
		return 0, err
	}
	return f.f.Read(b)
}
func (f *File) ReadAt(b []byte, off int64) (int, error) {
	if err := f.fsys.ctx.Err(); err != nil {
		return 0, err
	}
	return f.f.ReadAt(b, off)
}
func (f *File) Seek(off int64, whence int) (int64, error) { return f.f.Seek(off, whence) }
func (f *File) Close() error                              { return f.f.Close() }

// ReadDir lists the directory's entries, sorted by name when n <= 0. The
// entries' types come from the directory itself, and so does their Info,
// read while the directory is open: one fstatat of the entry's name (one
// component, the last not followed) on the directory's descriptor, so
// never a host path, and a tenth of what a lookup from the root costs.
// Should that fail, an entry's Info is read later with the FS's Lstat,
// inside the root.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	if err := f.fsys.ctx.Err(); err != nil {
		return nil, err
	}
	ents, err := f.f.ReadDir(n)
	if err != nil && !(err == io.EOF && n > 0) {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(ents))
	dirfd := int(f.f.Fd())
	for _, e := range ents {
		d := dirEntry{name: e.Name(), typ: e.Type(), fsys: f.fsys, path: path.Join(f.name, e.Name())}
		var st unix.Stat_t
		if unix.Fstatat(dirfd, d.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if info := newStatInfo(d.name, &st); info.Mode().Type() == d.typ {
				d.info = info
			}
		}
		out = append(out, d)
	}
	if n <= 0 {
		slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return out, err
}

type dirEntry struct {
	name string
	typ  fs.FileMode
	fsys *FS
	path string
	info fs.FileInfo // read with the directory; nil: read on demand
}

func (d dirEntry) Name() string      { return d.name }
func (d dirEntry) IsDir() bool       { return d.typ.IsDir() }
func (d dirEntry) Type() fs.FileMode { return d.typ }
func (d dirEntry) Info() (fs.FileInfo, error) {
	if d.info != nil {
		return d.info, nil
	}
	return d.fsys.Lstat(d.path)
}
func (d dirEntry) String() string { return fs.FormatDirEntry(d) }

// statInfo is a FileInfo made from a stat of an entry, as the os package
// makes its own; Sys makes a *syscall.Stat_t. It keeps what a stat says
// that matters here, in a third of a stat's size: a directory's entries
// are listed whole, and an image may hold hundreds of thousands in one.
type statInfo struct {
	name           string
	size, mtime    int64 // mtime in ns since the epoch
	ino, dev, rdev uint64
	mode           fs.FileMode
	rawMode        uint32
	uid, gid       uint32
	nlink          uint32
}

func newStatInfo(name string, u *unix.Stat_t) *statInfo {
	i := &statInfo{name: name, size: u.Size, mtime: u.Mtim.Nano(), ino: u.Ino, dev: u.Dev, rdev: u.Rdev,
		rawMode: u.Mode, uid: u.Uid, gid: u.Gid, nlink: uint32(u.Nlink)}
	i.mode = fs.FileMode(u.Mode & 0o777)
	switch u.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		i.mode |= fs.ModeDevice
	case unix.S_IFCHR:
		i.mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		i.mode |= fs.ModeDir
	case unix.S_IFIFO:
		i.mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		i.mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		i.mode |= fs.ModeSocket
	}
	if u.Mode&unix.S_ISGID != 0 {
		i.mode |= fs.ModeSetgid
	}
	if u.Mode&unix.S_ISUID != 0 {
		i.mode |= fs.ModeSetuid
	}
	if u.Mode&unix.S_ISVTX != 0 {
		i.mode |= fs.ModeSticky
	}
	return i
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.size }
func (i *statInfo) Mode() fs.FileMode  { return i.mode }
func (i *statInfo) ModTime() time.Time { return time.Unix(0, i.mtime) }
func (i *statInfo) IsDir() bool        { return i.mode.IsDir() }

// Sys is a *syscall.Stat_t of what was kept (no atime, ctime or block
// counts).
func (i *statInfo) Sys() any {
	st := &syscall.Stat_t{Ino: i.ino, Dev: i.dev, Rdev: i.rdev, Mode: i.rawMode, Uid: i.uid, Gid: i.gid, Size: i.size,
		Mtim: syscall.NsecToTimespec(i.mtime)}
	setUint(&st.Nlink, i.nlink) // uint64 on amd64, uint32 on arm64
	return st
}

func setUint[T ~uint32 | ~uint64](dst *T, v uint32) { *dst = T(v) }

// renamed is a FileInfo with the name the FS was asked for.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

func typeName(mode uint32) string {
	switch mode {
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "an unknown type"
}

var _ interface {
	fs.StatFS
	fs.ReadDirFS
	fs.ReadFileFS
	fs.ReadLinkFS
} = (*FS)(nil)
