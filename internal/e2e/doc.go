// Package e2e is slimtrace's end-to-end matrix: every sample app of
// testdata/apps built by the real binary (slimtrace build --verify) against
// the real containerd, runc and buildkitd, each result checked against the
// project's targets and written as the results table the README shows.
//
// The matrix itself is a test (TestE2EMatrix, root, SLIMTRACE_E2E=1; `make
// e2e` runs it and writes the table). This file holds its pure parts: the
// app list, the targets, the checks and the table.
//
// It may import internal/creport; it runs the built binary, never the
// packages themselves.
package e2e
