// Package creport defines creport.json, the container report a profile or
// build run writes, and the short summary printed at the end. It is pure:
// the pipeline (internal/session) assembles a report from its stages'
// results; this package only gives it its shape, its JSON and its summary.
// It may import internal/trace and the image-spec types, nothing that does
// I/O.
package creport
