// Package tartest reads tar files in tests: docker and OCI archives of images, and their layers,
// plain or gzip-compressed. Tests only; a read error fails the test.
//
// Tests only; it may import the standard library.
package tartest
