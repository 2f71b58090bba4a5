/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between slimtrace's eBPF programs and its Go decoder: every
 * struct that crosses the ring buffer or is configured from user space, and
 * every value user space reads or writes in them, is defined here, once. Go
 * gets the same types and constants from bpf2go (-type), never by hand: a
 * value user space needs is an enum (which BTF carries), not a #define
 * (which it does not).
 */
#ifndef __SLIMTRACE_H__
#define __SLIMTRACE_H__

/* Bounds. */
#define PATH_SZ 4096       /* one path, as the kernel's PATH_MAX */
#define NAMED_MAX 8191     /* a named path: base directory + what the process passed */
#define DATA_SZ 16384      /* payload room after an event's fixed part */
#define ARGV_MAX 2048      /* bytes of argv kept per exec */
#define MAX_DEPTH 96       /* path components walked up to the root */
#define COUNT_OTHER (COUNT_SLOTS - 1)
#define CAP_SLOTS 64       /* capability numbers counted (CAP_LAST_CAP is 40 in Linux 6.x) */
#define SOCK_KEYS 256      /* distinct (family, type, ...) socket keys kept */
#define SOCK_TYPE_MASK 0xf /* socket(2)'s type without SOCK_NONBLOCK and SOCK_CLOEXEC */

/* An event's payload always fits its scratch buffer: a file event carries a
 * named path and an opened one, an exec event a name, a binary and argv. */
_Static_assert(NAMED_MAX + PATH_SZ <= DATA_SZ, "file event payload exceeds DATA_SZ");
_Static_assert(NAMED_MAX + PATH_SZ + ARGV_MAX <= DATA_SZ, "exec event payload exceeds DATA_SZ");

/* Syscall numbers: user space sizes its descriptor tables and reads the
 * counts by these. */
enum sys_slots {
	NR_MAX = 512,      /* syscall numbers described per ABI */
	COUNT_SLOTS = 1024, /* NR_MAX native + NR_MAX compat; the last slot counts numbers >= NR_MAX */
};

enum event_type {
	EVENT_FILE = 1,
	EVENT_EXEC = 2,
	EVENT_FORK = 3,
	EVENT_EXIT = 4,
};

/* Kinds of access; Go maps them to trace.Access. */
enum access {
	ACCESS_READ = 1,
	ACCESS_WRITE = 2,
	ACCESS_EXEC = 3,
	ACCESS_STAT = 4,
	ACCESS_READLINK = 5,
	ACCESS_CREATE = 6,
	ACCESS_DELETE = 7,
};

/* file_event.flags */
enum file_flags {
	FILE_ON_MOUNT = 1 << 0,    /* opened file is not on the task's root mount */
	FILE_UPPER = 1 << 1,       /* opened file is in an overlayfs upper layer */
	FILE_TRUNCATED = 1 << 2,   /* a path was cut at a bound */
	FILE_UNREACHABLE = 1 << 3, /* opened file is not below the task's root */
	FILE_COMPAT = 1 << 4,      /* made through the 32-bit compat ABI */
};

/* How sys_exit reads a syscall's arguments; set per syscall number by user
 * space from its syscall table, so the programs are the same on every ABI. */
enum sys_op {
	OP_NONE = 0,
	OP_PATH = 1,    /* path (and optional dirfd), fixed access */
	OP_OPEN = 2,    /* like OP_PATH; access from open flags; returns an fd */
	OP_OPENAT2 = 3, /* like OP_OPEN; flags inside struct open_how */
	OP_EXEC = 4,    /* execve/execveat: reported here only when they fail */
	OP_CHDIR = 5,   /* chdir: a relative path that succeeded names the new cwd */
	OP_FD = 6,      /* the file behind an fd argument (fchdir, f*xattr) */
	OP_SOCKET = 7,  /* socket/socketpair: (family, type) counted, no event */
	OP_SOCKETCALL = 8, /* 32-bit socketcall: OP_SOCKET for its SYS_SOCKET and SYS_SOCKETPAIR calls */
};

struct sys_desc {
	__u8 op;      /* enum sys_op */
	__u8 access;  /* enum access of the first path (OP_OPEN: when not from flags) */
	__s8 dirfd;   /* argument index of the dirfd, or -1 for the cwd */
	__s8 path;    /* argument index of the path (OP_FD: of the fd) */
	__s8 flags;   /* argument index of the open flags or of struct open_how, or -1 */
	__u8 access2; /* a second path: rename's target, link's new name */
	__s8 dirfd2;
	__s8 path2;   /* -1: none */
};

struct event_hdr {
	__u64 ts;        /* CLOCK_MONOTONIC ns */
	__u64 cgroup_id; /* the task's cgroup v2 id */
	__u32 type;      /* enum event_type */
	__u32 pid;       /* tgid */
	__u32 tid;
	__u32 lineage;   /* tgid of the first ancestor seen in the target */
};

/* Followed by name_len bytes of the named path and opened_len bytes of the
 * opened file's path (no NULs). */
struct file_event {
	struct event_hdr hdr;
	__s64 ret;
	__u32 syscall;
	__u16 flags;      /* enum file_flags */
	__u8 access;      /* enum access */
	__u8 pad;
	__u16 name_len;
	__u16 opened_len;
	__u32 pad2;
};

/* Followed by filename_len bytes of the name executed, binary_len bytes of
 * the file executed, argv_len bytes of NUL-separated arguments. */
struct exec_event {
	struct event_hdr hdr;
	__u32 ppid;
	__u32 old_pid;
	__u16 filename_len;
	__u16 binary_len;
	__u16 argv_len;
	__u16 flags; /* FILE_TRUNCATED: argv or a path was cut */
};

struct fork_event {
	struct event_hdr hdr; /* of the parent */
	__u32 child;
	__u32 pad;
};

struct exit_event {
	struct event_hdr hdr;
	__u32 exit_code; /* the kernel's exit_code: status << 8 | signal */
	__u32 pad;
};

/* Per-CPU counters read once when tracing stops: every path on which the
 * programs drop something they saw is counted in one of the first four. */
struct stats {
	__u64 lost;       /* ring buffer full: event dropped */
	__u64 truncated;  /* a path cut at a bound */
	__u64 unreadable; /* a path argument could not be read */
	__u64 oversized;  /* an event larger than its scratch buffer: dropped (the
			   * bounds above make it impossible; counted should they change) */
	__u64 no_room;    /* a socket kind or capability with no slot left in its map */
	__u64 deduped;    /* identical file events not sent again */
	__u64 sent;
};

/* Key of the socket_calls map; the value is a per-CPU count of calls. */
struct sock_key {
	__u32 family; /* AF_* */
	__u32 type;   /* SOCK_*, masked with SOCK_TYPE_MASK */
	__u8 setup;   /* made by a process without a lineage (the runtime's setup) */
	__u8 failed;  /* the call returned an error */
	__u16 pad;
	__u32 pad2;
	__u64 cgroup; /* watching: the caller's own cgroup id; else 0 */
};

/* Capability checks (capability:cap_capable) by capability number: granted
 * when the kernel's capability code returned 0. cap_checks holds one per
 * enum cap_who. */
enum cap_who {
	CAP_SETUP = 0, /* a process without a lineage (the runtime's setup), its own credentials */
	CAP_APP = 1,   /* a process with a lineage, its own credentials */
	CAP_OTHER = 2, /* credentials other than the process's own: overlayfs acting with the
			* mounter's (override_creds), a file opener's, another task's */
	CAP_UNMEDIATED = 3, /* the capability code checking for itself, which no security module
			     * sees: the CAP_SYS_ADMIN test of memory overcommit (cap_vm_enough_memory) */
	CAP_WHO = 4,
};

#define CAP_SYS_ADMIN 21
#define STACK_DEPTH 8 /* kernel frames looked at to find the overcommit test */
#define OVERCOMMIT_FUNCS 2
#define ACCT_CALLS 5  /* calls whose only CAP_SYS_ADMIN check is the overcommit test: mmap first */

struct cap_counts {
	__u64 granted[CAP_SLOTS];
	__u64 denied[CAP_SLOTS];
};

/* Watching many containers, the syscall and capability counts are kept per
 * cgroup: the caller's own, which is its container's (a runtime puts every
 * process of a container in it, its setup and `exec`s included), so that
 * each container gets a profile of its own. */
#define CGROUP_KEYS 4096

struct cgroup_counts {
	__u64 n[COUNT_SLOTS];
};

/* Watching, the syscalls of the first CGROUP_HOT cgroups seen on a CPU
 * are counted in a per-CPU array (hot_syscalls), each at the index it
 * holds in that CPU's hot_owners; the others' in cgroup_syscalls. */
#define CGROUP_HOT 32

struct hot_owners {
	__u64 cgid[CGROUP_HOT]; /* taken in order; 0: free */
};

struct cgroup_cap_key {
	__u64 cgroup;
	__u32 who; /* enum cap_who */
	__u32 pad;
};

#endif /* __SLIMTRACE_H__ */
