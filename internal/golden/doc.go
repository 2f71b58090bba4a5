// Package golden compares test output with golden files under the test's testdata/ directory;
// `go test -update` rewrites them instead. Tests only.
//
// Tests only; it may import the standard library.
package golden
