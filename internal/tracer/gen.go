package tracer

//go:generate go tool bpf2go -tags linux -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -type event_hdr -type file_event -type exec_event -type fork_event -type exit_event -type stats -type dedup_key -type sock_key -type cap_counts -type cgroup_counts -type hot_owners -type cgroup_cap_key -type sys_slots -type event_type -type access -type file_flags -type sys_op -type cap_who slimtrace ../../bpf/slimtrace.bpf.c -- -I../../bpf/headers -I../../bpf
