// Package fileset decides which files of an image a slim image keeps, and
// why. It works on the image's own filesystem, an fs.FS, never the host's,
// and makes no syscall of its own.
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
//
// It is pure: it may import internal/trace, internal/imports, the image-spec
// types and mvdan.cc/sh; no I/O package.
package fileset
