// Package tracer loads slimtrace's eBPF programs (bpf/), attaches them to one
// cgroup v2 and its descendants, and turns what they report into trace
// events and, when it is closed, a trace.Report.
//
// It may import cilium/ebpf (the only package that does), internal/trace and
// internal/cgroup.
package tracer
