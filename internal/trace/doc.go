// Package trace is the data model of a trace: the events the tracer decodes
// from the kernel, and the Report they aggregate into. It is pure: no eBPF, no
// syscalls, so everything downstream (file sets, profiles, reports) can be
// tested from canned events.
//
// It is pure: it may import the standard library and golang.org/x/sys/unix
// (errno names) only.
package trace
