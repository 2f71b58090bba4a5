// Package edges holds the test that keeps slimtrace's package edges where
// the README's layout draws them: cilium/ebpf only in internal/tracer,
// containerd only in internal/image and internal/container, BuildKit (and
// fsutil, which its session sends files with) only in internal/builder,
// and the pure packages (trace, fileset, imports, profile, creport,
// dockerfile, compose) free of I/O packages, ours and the standard
// library's. It has no code of its own; its test reads the import graph
// with `go list` and fails on an edge the rules do not allow.
package edges
