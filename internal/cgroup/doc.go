// Package cgroup finds and manages cgroup v2 directories: where the v2
// hierarchy is mounted (hybrid hosts keep it at /sys/fs/cgroup/unified,
// pure-v2 hosts at /sys/fs/cgroup), a cgroup's id and depth, and the
// short-lived cgroups slimtrace runs commands in.
//
// It may import golang.org/x/sys and moby/sys/mountinfo; no other internal
// package.
package cgroup
