// Package profile owns the security profiles slimtrace derives from a trace:
// a seccomp profile (moby's JSON form, convertible to the OCI runtime-spec
// form) and an AppArmor profile. It is pure: it reads a *trace.Report and
// returns values and text, makes no syscalls and imports no eBPF, containerd
// or BuildKit code, so it tests in milliseconds from hand-built reports.
//
// What the trace does not record (signals, file locks, whether a path is a
// directory; capabilities on kernels without the capability:cap_capable
// tracepoint) is stated in the generated profiles and handled by
// documented, conservative rules.
package profile
