// Package tracer loads slimtrace's eBPF programs (bpf/), attaches them to one
// cgroup v2 and its descendants, and turns what they report into trace
// events and, when it is closed, a trace.Report. A watching tracer
// (Options.Watch) traces only the cgroups added to it below its target
// while it runs (Watch: running containers, whose processes Adopt gives a
// lineage; pods whose containers are to come) and, with Spawn, the new
// cgroups of a parent from their creation.
//
// It may import cilium/ebpf (the only package that does), internal/trace and
// internal/cgroup.
package tracer
