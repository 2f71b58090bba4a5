// Package safefs is the one accessor through which slimtrace reads an
// image's or a running container's files: every byte there is hostile.
//
// An FS holds a directory file descriptor for the root (an image view, or
// /proc/PID/root opened once) and resolves every name with openat2
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, so an absolute symlink or ".."
// stays inside that root, as it would for the container, and never reaches
// the host's files. Files are first opened O_PATH|O_NOFOLLOW (which opens
// nothing: no FIFO blocks, no device driver runs), checked with fstat, and
// only a regular file or a directory is then reopened for reading, through
// that same descriptor, with O_NONBLOCK|O_CLOEXEC; anything else (a FIFO, a
// device node, a socket) is refused with ErrNotRegular. ReadFile reads at
// most a size cap. An FS bound to a context (WithContext) fails every call
// once the context is done, so a computation over it ends at a deadline.
//
// FS implements fs.FS, fs.StatFS, fs.ReadDirFS, fs.ReadFileFS and
// fs.ReadLinkFS; names are fs.FS names ("etc/passwd"). Nothing read here is
// ever executed, loaded or handed to the host's NSS.
//
// It imports only the standard library and golang.org/x/sys/unix; the
// packages that read images (internal/session, internal/container) open
// image content only through it, which internal/edges checks.
package safefs
