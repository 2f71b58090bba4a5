// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * slimtrace's tracer: records what the processes of one cgroup (and its
 * descendants) do with files and syscalls, from the host, with tracepoints
 * only.
 *
 * - raw_syscalls:sys_exit counts syscalls per number in a per-CPU map (no
 *   event per syscall), reads the path arguments of file syscalls (their
 *   pages are faulted in by then; the arguments are the registers saved at
 *   entry), makes them absolute inside the task's own root, adds the path of
 *   the file an open returned, deduplicates, and sends one file_event per new
 *   (path, access, result, process lineage). There is no sys_enter program:
 *   every syscall of every task pays for each program attached to
 *   raw_syscalls, traced or not. What only an entry would see is made up
 *   for: the syscalls that do not return (exit, exit_group: counted at
 *   sched_process_exit), sigreturn (its exit finds the number reset to -1 in
 *   the restored registers), and the calls still blocked when tracing stops
 *   (user space reads them from /proc/PID/task/TID/syscall).
 * - sched_process_exec/fork/exit keep the process tree and the execs.
 * - sys_exit also counts socket(2)/socketpair(2) calls by (family, type),
 *   and capability:cap_capable counts capability checks, granted or denied:
 *   both in maps read once, no events.
 *
 * Every program is a tp_btf one (BTF-typed raw tracepoint, Linux 5.5) and
 * checks the target cgroup first (sys_exit, which every syscall on the host
 * runs, from a per-task memo: see target_memo). cgroup_attach_task and
 * sched_process_fork tell the memo when its answers may be stale. There are no raw_tp twins: bpf_loop (in
 * walk_path) already needs Linux 5.17, and every kernel with BTF and
 * bpf_loop has tp_btf, so a raw_tp fallback could never be chosen.
 */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "bpf_core_read.h"
#include "slimtrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define O_ACCMODE 00000003
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_PATH 010000000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TS_COMPAT 0x0002  /* x86: thread_info.status, a 32-bit syscall is active */
#define TIF_32BIT 22      /* arm64: thread_info.flags, an AArch32 task */
#define SYS_SOCKET 1      /* socketcall(2)'s call numbers */
#define SYS_SOCKETPAIR 8
#define MAP_ANONYMOUS 0x20 /* mmap's flags, x86 and arm64 */
#define SIGNAL_GROUP_EXIT 0x4 /* signal_struct.flags: the group is exiting */
#define DEDUP_EARLY 0x80  /* dedup_key.flags: a key made before a walk (by identities), not of a path */
#define WATCH_DEPTH 8     /* cgroup levels below a watching target looked at */

/* Set by user space before load. */
const volatile __u64 target_cgid = 0;
const volatile __u32 target_level = 0;
/* When set, the target is only a parent: a process is traced when one of
 * its cgroups in the WATCH_DEPTH levels below the target is in `watched`
 * (running containers, or pods whose containers are still to come, added
 * by user space while tracing). */
const volatile bool watch = false;
const volatile struct sys_desc native_desc[NR_MAX] = {};
const volatile struct sys_desc compat_desc[NR_MAX] = {};
/* [native, compat][2]: the numbers counted for a sigreturn (found at exit by
 * its number of -1) and for a thread's end (exit, then exit_group); -1 when
 * the ABI has no such call. */
const volatile __s32 sigreturn_nr[2][2] = {{-1, -1}, {-1, -1}};
const volatile __s32 exit_nr[2][2] = {{-1, -1}, {-1, -1}};
/* [start, end) of the functions that call cap_capable for the memory
 * overcommit test: cap_vm_enough_memory, or security_vm_enough_memory_mm
 * where the static call to it is inlined; from /proc/kallsyms, 0 when
 * unknown. */
const volatile __u64 overcommit_text[OVERCOMMIT_FUNCS][2] = {};
/* [native, compat]: the calls that account the memory they map or make
 * writable, whose only CAP_SYS_ADMIN check is the overcommit test: mmap
 * (mmap2 in compat; [0], anonymous mappings only), mprotect, pkey_mprotect,
 * brk, mremap; -1 when the ABI has no such call. */
const volatile __s32 acct_nr[2][ACCT_CALLS] = {{-1, -1, -1, -1, -1}, {-1, -1, -1, -1, -1}};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} syscall_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} trace_stats SEC(".maps");

struct dedup_key {
	__u64 hash;    /* of the named path */
	__u64 object;  /* the opened file's dentry and mount, or 0 */
	__u32 lineage;
	__s32 result;  /* 0 or -errno */
	__u16 syscall;
	__u8 access;
	__u8 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* per-CPU LRU lists: no shared lock */
	__type(key, struct dedup_key);
	__type(value, __u8);
} dedup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);  /* cgroup id */
	__type(value, __u8);
} watched SEC(".maps");

/* Cgroups whose new children join `watched` as they are made, before any
 * process runs in them (a runtime that puts every container directly in
 * one parent: user space drops those it does not want). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);  /* cgroup id */
	__type(value, __u8);
} spawners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* lineage */
} lineages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SOCK_KEYS);
	__type(key, struct sock_key);
	__type(value, __u64);
} socket_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAP_WHO);
	__type(key, __u32);
	__type(value, struct cap_counts);
} cap_checks SEC(".maps");

/* Watching: the counts of syscall_counts and cap_checks, per cgroup.
 * The syscall counts are per CPU: shared ones, with an atomic add on every
 * syscall, moved their cache line between the CPUs of a busy server; the
 * capability checks, far rarer, are shared (atomic adds).
 *
 * Nothing is allocated on the way of a count that a busy host can refuse:
 * entries of a map made without preallocation come from per-CPU caches
 * that are refilled later, and under load (a server under wrk beside) the
 * first calls of a new container found them empty: an exec and its
 * loader's calls went uncounted (lost.events said so). So the syscalls of
 * the first CGROUP_HOT cgroups a CPU sees go to hot_syscalls, preallocated
 * (8 KB a cgroup and CPU, 256 KB a CPU, one entry when not watching: user
 * space sizes it), which is also an array lookup the verifier inlines;
 * only the cgroups past those use cgroup_syscalls, whose entries are made
 * as they first call. cgroup_caps is preallocated (1 KB an entry). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CGROUP_HOT);
	__type(key, __u32);
	__type(value, struct cgroup_counts);
} hot_syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hot_owners);
} hot_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, CGROUP_KEYS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* cgroup id */
	__type(value, struct cgroup_counts);
} cgroup_syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CGROUP_KEYS);
	__type(key, struct cgroup_cap_key);
	__type(value, struct cap_counts);
} cgroup_caps SEC(".maps");

/*
 * sys_exit's memo of in_target, per CPU: every syscall of every task on the
 * host asks, and the answer (a helper call and a chain of cold loads: about
 * 60 ns here, several times that watching) rarely changes. It is keyed by
 * the address of the task's saved registers, which sys_exit gets for free:
 * each task has its own kernel stack, at the top of which they are. The
 * slots are direct-mapped by that address, so that the tasks a CPU switches
 * between (a server's threads, its client) keep theirs: with one slot a CPU,
 * a threaded Python server missed on 21 % of its calls. A slot holds while
 * target_gen and target_gen_user (see below) are what they were when it
 * was made. Tracepoint programs run with preemption off, and one program
 * does not nest in itself on a CPU, so a slot is never half written.
 */
#define MEMO_SLOTS 16

struct target_memo {
	__u64 regs;
	__u64 gen;
	__u64 cgid; /* the task's own cgroup, when watching */
	__u32 in;
	__u32 hot;  /* its index in hot_syscalls; CGROUP_HOT: none */
};

struct target_memos {
	struct target_memo slot[MEMO_SLOTS];
	__u64 addr; /* the registers' address as a number: the verifier forbids shifting a pointer */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct target_memos);
} target_memo SEC(".maps");

/* sys_exit's first look for a duplicate file event, per CPU: a direct-mapped
 * table of the last keys sent or found in dedup. A hit costs a few loads
 * where dedup's lookup (hashing the 32-byte key, a shared table) costs
 * about 50 ns; a key evicted from dedup but still here is only an event not
 * sent twice, which is what dedup is for. */
#define FRONT_SLOTS 1024

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FRONT_SLOTS);
	__type(key, __u32);
	__type(value, struct dedup_key);
} dedup_front SEC(".maps");

/* Zeroes to make a new entry of either from (never written). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_counts);
} zeroes SEC(".maps");

/* Inputs of one path to report, and the buffers to build its event in. */
struct file_scratch {
	struct file_event ev;
	char data[DATA_SZ];
	char walk[PATH_SZ + 256];
	/* inputs */
	__u64 upath;            /* const char __user * */
	long dirfd;             /* resolve relative paths against this dirfd (AT_FDCWD: the cwd) */
	__u8 rel_is_cwd;        /* a relative path names the cwd itself: a chdir that succeeded */
	long fd;                /* >= 0: also report the file behind this fd */
	__u8 access;
	__u8 fd_only;           /* the path is the fd's file itself */
	/* The last lineage looked up on this CPU (see lineage_cached). */
	__u32 lin_tgid, lin_val;
	__u64 lin_gen, lin_ugen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_scratch);
} file_scratch SEC(".maps");

struct exec_scratch {
	struct exec_event ev;
	char data[DATA_SZ];
	char walk[PATH_SZ + 256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/* Force BTF for the types bpf2go exports to Go. */
const struct event_hdr *unused_event_hdr __attribute__((unused));
const struct file_event *unused_file_event __attribute__((unused));
const struct exec_event *unused_exec_event __attribute__((unused));
const struct fork_event *unused_fork_event __attribute__((unused));
const struct exit_event *unused_exit_event __attribute__((unused));
const struct sock_key *unused_sock_key __attribute__((unused));
const struct cap_counts *unused_cap_counts __attribute__((unused));
const enum sys_slots *unused_sys_slots __attribute__((unused));
const enum event_type *unused_event_type __attribute__((unused));
const enum access *unused_access __attribute__((unused));
const enum file_flags *unused_file_flags __attribute__((unused));
const enum sys_op *unused_sys_op __attribute__((unused));
const enum cap_who *unused_cap_who __attribute__((unused));

static __always_inline bool in_target(void)
{
	if (bpf_get_current_ancestor_cgroup_id(target_level) != target_cgid)
		return false;
	if (!watch)
		return true;
#pragma unroll
	for (int i = 1; i <= WATCH_DEPTH; i++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(target_level + i);
		if (!id)
			return false; /* below the process's own cgroup */
		if (bpf_map_lookup_elem(&watched, &id))
			return true;
	}
	return false;
}

/*
 * Generations of what in_target answers from: the programs bump target_gen
 * at every fork on the host (a new task may get a dead one's kernel stack,
 * so its registers' address, before it makes its first syscall), every
 * move of a task between cgroups and, watching, every cgroup_mkdir that
 * adds to `watched`; user space bumps target_gen_user after it changes
 * `watched`. Their sum only grows.
 */
__u64 target_gen = 0;
volatile __u64 target_gen_user = 0;

static __always_inline void targets_changed(void)
{
	__sync_fetch_and_add(&target_gen, 1);
}

/* hot_slot gives cgid (watching: a task's own cgroup) its index in
 * hot_syscalls on this CPU, CGROUP_HOT when the CPU's are all taken or
 * cgid is 0 (not watching, or not in the target). Only
 * the programs of sys_exit and sched_process_exit take them: both fire in
 * the task's own context, with preemption off, so they never run at once
 * on a CPU: no two writers. */
static __always_inline __u32 hot_slot(__u64 cgid)
{
	if (!cgid)
		return CGROUP_HOT;
	__u32 zero = 0;
	struct hot_owners *o = bpf_map_lookup_elem(&hot_owner, &zero);
	if (!o)
		return CGROUP_HOT;
#pragma unroll
	for (__u32 i = 0; i < CGROUP_HOT; i++) {
		if (o->cgid[i] == cgid)
			return i;
		if (!o->cgid[i]) {
			o->cgid[i] = cgid;
			return i;
		}
	}
	return CGROUP_HOT;
}

/* in_target_memo is in_target for sys_exit, memoized per task (see
 * target_memo); it also gives the task's own cgroup id when watching (0
 * otherwise) and that cgroup's index in hot_syscalls. The generations are
 * read before the answer is worked out, so a change meanwhile leaves the
 * slot stale and the next call looks again. A task moved into the target is seen from the move's tracepoint,
 * which fires just after the move: the calls it returns from in between
 * (microseconds, while its mover is still in its write to cgroup.procs: a
 * runtime's setup, before any exec) may be taken for an outsider's. */
static __always_inline bool in_target_memo(struct pt_regs *regs, __u64 *cgid, __u32 *hot)
{
	__u32 zero = 0;
	struct target_memos *ms = bpf_map_lookup_elem(&target_memo, &zero);
	if (!ms)
		return false;
	/* Kernel stacks are 16 KiB apart at least (vmalloc's guard pages
	 * make it 32 here): the bits above fold into a slot. */
	ms->addr = (__u64)regs;
	__u64 r = *(volatile __u64 *)&ms->addr;
	struct target_memo *m = &ms->slot[((r >> 14) ^ (r >> 18) ^ (r >> 22)) & (MEMO_SLOTS - 1)];
	__u64 gen = *(volatile __u64 *)&target_gen + target_gen_user;
	if (m->regs == (__u64)regs && m->gen == gen) {
		*cgid = m->cgid;
		*hot = m->hot;
		return m->in;
	}
	bool in = in_target();
	__u64 id = in && watch ? bpf_get_current_cgroup_id() : 0;
	__u32 h = hot_slot(id);
	m->regs = (__u64)regs;
	m->gen = gen;
	m->cgid = id;
	m->in = in;
	m->hot = h;
	*cgid = id;
	*hot = h;
	return in;
}

static __always_inline struct stats *get_stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&trace_stats, &zero);
}

/* cgroup_entry finds key's entry in map (cgroup_syscalls or cgroup_caps),
 * making it from zeroes if it is new; NULL, counted as no room, when the
 * map is full. */
static __always_inline void *cgroup_entry(void *map, void *key)
{
	void *v = bpf_map_lookup_elem(map, key);
	if (v)
		return v;
	__u32 zero = 0;
	void *z = bpf_map_lookup_elem(&zeroes, &zero);
	if (!z)
		return NULL;
	bpf_map_update_elem(map, key, z, BPF_NOEXIST); /* fails when another CPU made it: fine */
	v = bpf_map_lookup_elem(map, key);
	if (!v) {
		struct stats *st = get_stats();
		if (st)
			st->no_room++;
	}
	return v;
}

/* output sends an event built in a scratch buffer (size bytes, at most max)
 * and counts it as sent, as lost when the ring buffer is full, or as
 * oversized when it does not fit max (the verifier needs the check). */
static __always_inline void output(void *ev, __u32 size, __u32 max, struct stats *st)
{
	if (size > max) {
		if (st)
			st->oversized++;
		return;
	}
	long err = bpf_ringbuf_output(&events, ev, size, 0);
	if (st) {
		if (err)
			st->lost++;
		else
			st->sent++;
	}
}

static __always_inline bool is_compat(struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	return task->thread_info.status & TS_COMPAT;
#elif defined(__TARGET_ARCH_arm64)
	return task->thread_info.flags & (1UL << TIF_32BIT);
#endif
}

static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#endif
}

/* The i-th syscall argument, from the registers saved at entry (still there
 * at exit: only the return register is overwritten, and arm64 keeps x0 in
 * orig_x0). */
static __always_inline unsigned long sys_arg(struct pt_regs *regs, int i, bool compat)
{
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		switch (i) {
		case 0: return (__u32)regs->bx;
		case 1: return (__u32)regs->cx;
		case 2: return (__u32)regs->dx;
		case 3: return (__u32)regs->si;
		case 4: return (__u32)regs->di;
		default: return (__u32)regs->bp;
		}
	}
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
#elif defined(__TARGET_ARCH_arm64)
	unsigned long v;
	if (i == 0)
		v = regs->orig_x0;
	else
		v = regs->regs[i & 7];
	return compat ? (__u32)v : v;
#endif
}

/* Dirfd arguments are ints: sign-extend the low 32 bits. */
static __always_inline long fd_arg(unsigned long v)
{
	return (long)(int)v;
}

/*
 * Lineages tell apart the process trees inside the target. A process gets a
 * lineage when it first execs (its own pid) and passes it to the children it
 * forks. Until then it has none (0): that is the runtime's own setup before
 * the entrypoint's exec (runc init, a launcher's chroot), or a process that
 * was already running when tracing began. A `runc exec` joins the cgroup
 * from outside and so starts a lineage of its own at its exec.
 */
static __always_inline __u32 lineage_of(__u32 tgid)
{
	__u32 *l = bpf_map_lookup_elem(&lineages, &tgid);
	return l ? *l : 0;
}

/*
 * Generations of the lineages map: the programs bump lineage_gen after
 * each change they make to it (exec, fork, exit), user space bumps
 * lineage_gen_user after it adopts processes. A lineage cached with both
 * still current is the map's.
 */
__u64 lineage_gen = 0;
volatile __u64 lineage_gen_user = 0;

static __always_inline void lineages_changed(void)
{
	__sync_fetch_and_add(&lineage_gen, 1);
}

/* lineage_cached is lineage_of for the file events of sys_exit, which
 * repeat one process's lookups (the hash lookup took about 50 of the
 * program's 380 ns on a stat loop), caching the last one in the CPU's
 * scratch. The generations are read before the map, so a change made
 * meanwhile leaves the cache one generation behind, and the next call
 * looks again. */
static __always_inline __u32 lineage_cached(__u32 *c_tgid, __u32 *c_val, __u64 *c_gen, __u64 *c_ugen, __u32 tgid)
{
	__u64 gen = *(volatile __u64 *)&lineage_gen;
	__u64 ugen = lineage_gen_user;
	if (*c_tgid == tgid && *c_gen == gen && *c_ugen == ugen)
		return *c_val;
	__u32 l = lineage_of(tgid);
	*c_tgid = tgid;
	*c_val = l;
	*c_gen = gen;
	*c_ugen = ugen;
	return l;
}

/* fill_ids fills what a file event's dedup key needs; fill_hdr the rest,
 * once the event is known to be sent. */
static __always_inline void fill_ids(struct event_hdr *h, __u32 type)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->lineage = lineage_of(h->pid);
}

static __always_inline void fill_hdr(struct event_hdr *h, __u32 type, struct task_struct *task)
{
	fill_ids(h, type);
	h->ts = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
}

/* fd_file is the file behind the current task's fd, or NULL. task is
 * bpf_get_current_task_btf()'s: its fields are plain loads, where
 * BPF_CORE_READ is a helper call (about 30 ns here) each. */
static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct files_struct *files = task->files;
	if (!files)
		return NULL;
	struct fdtable *fdt = files->fdt;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
}

struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	char *buf;
	int off;
	__u16 flags;
};

/* One step of walk_path: returns 1 when the walk is over. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	/* Copy to locals: BPF_CORE_READ(c->x, ...) would relocate walk_ctx too. */
	struct dentry *dentry = c->dentry;
	struct vfsmount *vfsmnt = c->vfsmnt;
	struct mount *mnt = c->mnt;

	if (dentry == c->root_dentry && vfsmnt == c->root_mnt)
		return 1;
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	if (dentry == mnt_root || dentry == parent) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (dentry != mnt_root || up == mnt || !up) {
			c->flags |= FILE_UNREACHABLE;
			return 1;
		}
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = up;
		c->vfsmnt = (void *)up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	__u32 len;
	const unsigned char *name;
	if (bpf_core_field_exists(struct dentry___v614, __d_name)) {
		struct dentry___v614 *d = (void *)dentry;
		len = BPF_CORE_READ(d, __d_name.len);
		name = BPF_CORE_READ(d, __d_name.name);
	} else {
		len = BPF_CORE_READ(dentry, d_name.len);
		name = BPF_CORE_READ(dentry, d_name.name);
	}
	len &= 0xff;
	int off = c->off;
	if (off < (int)len + 2) {
		c->flags |= FILE_TRUNCATED;
		return 1;
	}
	off -= len;
	bpf_probe_read_kernel(&c->buf[off & (PATH_SZ - 1)], len, name);
	off -= 1;
	c->buf[off & (PATH_SZ - 1)] = '/';
	c->off = off;
	c->dentry = parent;
	return 0;
}

/*
 * walk_path writes the path of (dentry, vfsmnt) as seen from the task's root
 * into buf, right-aligned to end at buf[PATH_SZ], and returns the offset of
 * its first byte (PATH_SZ for the root itself). It climbs d_parent, hopping
 * from a mount's root to its mountpoint in the parent mount, until it meets
 * the task's root. Reaching the top of a mount tree without meeting the root
 * (memfd, pipes, a file outside a chroot) sets FILE_UNREACHABLE. The loop is
 * a bpf_loop so the verifier checks one step, not MAX_DEPTH of them.
 */
static __always_inline int walk_path(struct dentry *dentry, struct vfsmount *vfsmnt, struct task_struct *task,
				     char *buf, __u16 *flags)
{
	struct walk_ctx c = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt = real_mount(vfsmnt),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.buf = buf,
		.off = PATH_SZ,
	};
	if (bpf_loop(MAX_DEPTH, walk_step, &c, 0) == MAX_DEPTH)
		c.flags |= FILE_TRUNCATED;
	*flags |= c.flags;
	return c.off;
}

/* Copies the walk's result (or "/" for the root) to dst; returns its length. */
static __always_inline __u32 copy_walk(char *dst, const char *walk, int off)
{
	__u32 len = PATH_SZ - off;
	if (len == 0) {
		dst[0] = '/';
		return 1;
	}
	bpf_probe_read_kernel(dst, len & (PATH_SZ - 1), &walk[off & (PATH_SZ - 1)]);
	return len & (PATH_SZ - 1);
}

/* Names up to HASH_INLINE words long are hashed without bpf_loop. */
#define HASH_INLINE 12

struct hash_ctx {
	const char *p;
	__u32 len;
	__u64 h;
};

/* One step of hash_words: one 8-byte word; returns 1 past the end. */
static long hash_step(__u32 i, void *arg)
{
	struct hash_ctx *c = arg;
	const char *p = c->p;
	__u32 len = c->len;
	if (i * 8 >= len)
		return 1;
	__u64 w = *(const __u64 *)(p + ((i * 8) & (DATA_SZ - 8)));
	__u32 rem = len - i * 8;
	if (rem < 8)
		w &= (1ULL << (rem * 8)) - 1;
	c->h = (c->h ^ w) * 1099511628211ULL;
	return 0;
}

/* FNV-1a over 8-byte words of the len bytes at p: all of a named path
 * (at most NAMED_MAX), so two names differing only past their first 4 KiB
 * are not taken for one. A bpf_loop, like walk_path, so the verifier checks
 * one step: as a plain loop it was most of sys_exit's verification (about
 * 750,000 of the 1,000,000 instructions allowed over 8 KiB, 540,000 over
 * 4 KiB; about 19,000 in all now, on 6.18). */
static __always_inline __u64 hash_words(const char *p, __u32 len)
{
	__u64 h = 14695981039346656037ULL ^ len;
	if (len <= HASH_INLINE * 8) {
		/* Most names: the same words hashed inline, without bpf_loop's
		 * call per word. */
#pragma unroll
		for (int i = 0; i < HASH_INLINE; i++) {
			if (i * 8 >= len)
				break;
			__u64 w = *(const __u64 *)(p + i * 8);
			__u32 rem = len - i * 8;
			if (rem < 8)
				w &= (1ULL << (rem * 8)) - 1;
			h = (h ^ w) * 1099511628211ULL;
		}
		return h;
	}
	struct hash_ctx c = {.p = p, .len = len, .h = h};
	bpf_loop((NAMED_MAX + 1) / 8, hash_step, &c, 0);
	return c.h;
}

/*
 * on_upper_layer: an overlayfs inode is the vfs_inode inside struct
 * ovl_inode, whose __upperdentry is set once the file is in the upper layer.
 * That struct is overlayfs's private one, so it is read only when the
 * kernel's BTF has it (vmlinux, or the overlay module's BTF when the module
 * is loaded before tracing starts); otherwise the check is compiled out at
 * load time and no file is flagged upper.
 */
static __always_inline bool on_upper_layer(struct dentry *dentry)
{
	if (!bpf_core_field_exists(struct ovl_inode, vfs_inode) ||
	    !bpf_core_field_exists(struct ovl_inode, __upperdentry))
		return false;
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return false;
	struct ovl_inode *oi = (void *)inode - bpf_core_field_offset(struct ovl_inode, vfs_inode);
	return BPF_CORE_READ(oi, __upperdentry) != NULL;
}

/* key_of is the dedup key of the event in s, named by hash. */
static __always_inline struct dedup_key key_of(struct file_scratch *s, __u64 hash, __u64 object, __u8 flags)
{
	struct dedup_key key = {
		.hash = hash,
		.object = object,
		.lineage = s->ev.hdr.lineage,
		.result = s->ev.ret < 0 ? s->ev.ret : 0,
		.syscall = s->ev.syscall,
		.access = s->access,
		.flags = flags,
	};
	return key;
}

/*
 * already_sent says whether an event of key was sent before (or lost, the
 * ring buffer full), counting it deduplicated, and otherwise marks it sent.
 */
static __always_inline bool already_sent(struct dedup_key *key, struct stats *st)
{
	__u32 slot = (__u32)(key->hash ^ (key->hash >> 32) ^ key->object ^ (key->object >> 32) ^ key->lineage ^
			     ((__u32)key->syscall << 16) ^ ((__u32)key->access << 8)) & (FRONT_SLOTS - 1);
	struct dedup_key *front = bpf_map_lookup_elem(&dedup_front, &slot);
	if (front && front->hash == key->hash && front->object == key->object && front->lineage == key->lineage &&
	    front->result == key->result && front->syscall == key->syscall && front->access == key->access &&
	    front->flags == key->flags) {
		if (st)
			st->deduped++;
		return true;
	}
	bool seen = bpf_map_lookup_elem(&dedup, key) != NULL;
	if (front)
		*front = *key;
	if (seen) {
		if (st)
			st->deduped++;
		return true;
	}
	__u8 one = 1;
	bpf_map_update_elem(&dedup, key, &one, BPF_ANY);
	return false;
}

/*
 * dentry_identity hashes what names a dentry, in one read: its parent, its
 * name's hash and length and where its bytes are, its inode. With the
 * dentry's and mount's addresses it tells a file apart from any other,
 * even from one whose freed dentry it reuses. 0 when the kernel's struct
 * dentry does not have them side by side.
 */
static __always_inline __u64 dentry_identity(struct dentry *d)
{
	__u32 from = bpf_core_field_offset(struct dentry, d_parent);
	if (bpf_core_field_offset(struct dentry, d_inode) != from + 24)
		return 0;
	__u64 w[4];
	if (bpf_probe_read_kernel(w, sizeof(w), (void *)d + from))
		return 0;
	__u64 h = 14695981039346656037ULL;
#pragma unroll
	for (int i = 0; i < 4; i++)
		h = (h ^ w[i]) * 1099511628211ULL;
	return h | 1;
}

/*
 * emit_file reports one path of the syscall whose fixed part is already in
 * s->ev: it builds the named path (absolute inside the task's root), drops
 * it if an identical event was sent before, and otherwise adds the opened
 * file's path and sends it.
 */
static __noinline int emit_file(struct file_scratch *s, struct task_struct *task)
{
	struct stats *st = get_stats();
	__u16 flags = s->ev.flags;
	__u32 nlen = 0, olen = 0;
	long n = 0;
	/* A key made before a walk, so that a duplicate is dropped without
	 * it (a walk is several helper calls a level); 0: the key is the
	 * absolute path's hash. */
	__u64 early = 0;

	/* The file an open returned: part of the key (a name that comes to
	 * resolve to another file is a new event). Its dentry and mount in
	 * one read (struct path is {mnt, dentry} in every kernel). */
	struct file *opened = NULL;
	struct path op = {};
	__u64 object = 0;
	if (s->fd >= 0 && s->ev.ret >= 0) {
		opened = fd_file(task, s->fd);
		if (opened && !bpf_probe_read_kernel(&op, sizeof(op), (void *)opened +
						     bpf_core_field_offset(struct file, f_path)))
			object = (__u64)op.dentry ^ ((__u64)op.mnt << 1);
	}

	/* Read the path straight into place: absolute paths, the common case,
	 * are then done in one read. */
	if (s->upath && !s->fd_only) {
		n = bpf_probe_read_user_str(s->data, PATH_SZ, (const char *)s->upath);
		if (n < 0)
			goto unreadable;
	}

	if (n > 1 && s->data[0] == '/') {
		nlen = n - 1;
	} else if (n > 1) {
		struct path base;
		if (s->dirfd == AT_FDCWD) {
			struct fs_struct *fs = task->fs;
			if (!fs || bpf_probe_read_kernel(&base, sizeof(base), &fs->pwd))
				goto unreadable;
		} else {
			struct file *f = fd_file(task, s->dirfd);
			if (!f || bpf_probe_read_kernel(&base, sizeof(base),
							(void *)f + bpf_core_field_offset(struct file, f_path)))
				goto unreadable;
		}
		struct dentry *bd = base.dentry;
		struct vfsmount *bm = base.mnt;
		/* The same name relative to the same directory is the same
		 * path: known by the name and the directory's identity (a
		 * rename of one of its ancestors goes unseen). */
		__u64 id = s->rel_is_cwd ? 0 : dentry_identity(bd);
		if (id) {
			__u32 rlen = n - 1;
			early = (hash_words(s->data, rlen & NAMED_MAX) ^ id ^ (__u64)bd ^ ((__u64)bm << 1)) *
				1099511628211ULL | 1;
			struct dedup_key key = key_of(s, early, object, (flags & FILE_COMPAT) | DEDUP_EARLY);
			if (already_sent(&key, st))
				return 0;
		}
		__u16 bflags = 0;
		int off = walk_path(bd, bm, task, s->walk, &bflags);
		if (bflags & FILE_UNREACHABLE)
			return 0; /* relative to a directory outside the root: not a path inside it */
		flags |= bflags;
		if (s->rel_is_cwd) {
			/* A chdir to a relative path succeeded: at its exit the cwd
			 * it was relative to is gone, and the new cwd is the
			 * directory it named (resolved: a symlink among the name's
			 * components is not seen). */
			nlen = copy_walk(s->data, s->walk, off);
			goto named;
		}
		__u32 plen = PATH_SZ - off;
		bpf_probe_read_kernel(s->data, plen & (PATH_SZ - 1), &s->walk[off & (PATH_SZ - 1)]);
		plen &= PATH_SZ - 1;
		s->data[plen] = '/';
		plen++;
		n = bpf_probe_read_user_str(&s->data[plen & (PATH_SZ - 1)], PATH_SZ, (const char *)s->upath);
		if (n <= 0)
			goto unreadable;
		nlen = plen + n - 1;
		if (nlen > NAMED_MAX) {
			nlen = NAMED_MAX;
			flags |= FILE_TRUNCATED;
		}
	} else {
		/* No path, or an empty one: the call was about the fd itself
		 * (fchdir, AT_EMPTY_PATH, utimensat(fd, NULL); glibc's fstat
		 * is newfstatat(fd, "", AT_EMPTY_PATH) since 2.33). */
		long fd = s->fd_only ? s->fd : s->dirfd;
		if (s->ev.ret < 0 || fd < 0)
			return 0;
		struct file *f = fd_file(task, fd);
		if (!f)
			return 0;
		struct path fp;
		if (bpf_probe_read_kernel(&fp, sizeof(fp), (void *)f + bpf_core_field_offset(struct file, f_path)))
			return 0;
		/* Known by the file itself, the walk of its path is only
		 * made for a new event: an fstat of every file opened is
		 * common, and a walk is several helper calls a level. */
		__u64 id = dentry_identity(fp.dentry);
		if (id) {
			struct dedup_key key = key_of(s, id, (__u64)fp.dentry ^ ((__u64)fp.mnt << 1),
						      (flags & FILE_COMPAT) | DEDUP_EARLY);
			if (already_sent(&key, st))
				return 0;
		}
		__u16 fflags = 0;
		int off = walk_path(fp.dentry, fp.mnt, task, s->walk, &fflags);
		if (fflags & FILE_UNREACHABLE)
			return 0; /* a pipe, socket or memfd: no path */
		flags |= fflags;
		nlen = copy_walk(s->data, s->walk, off);
		s->fd = -1;
		opened = NULL;
		if (id)
			goto send;
	}
	if (early)
		goto fresh;

named:;
	struct dedup_key key = key_of(s, hash_words(s->data, nlen), object, flags & FILE_COMPAT);
	if (already_sent(&key, st))
		return 0;

fresh:
	if (opened && op.dentry) {
		struct dentry *d = op.dentry;
		struct vfsmount *m = op.mnt;
		__u16 oflags = 0;
		int off = walk_path(d, m, task, s->walk, &oflags);
		if (oflags & FILE_UNREACHABLE) {
			flags |= FILE_UNREACHABLE;
		} else {
			olen = copy_walk(&s->data[nlen & NAMED_MAX], s->walk, off);
			flags |= oflags;
		}
		if (m != BPF_CORE_READ(task, fs, root.mnt))
			flags |= FILE_ON_MOUNT;
		if (on_upper_layer(d))
			flags |= FILE_UPPER;
	}

send:
	s->ev.hdr.ts = bpf_ktime_get_ns();
	s->ev.hdr.cgroup_id = bpf_get_current_cgroup_id();
	s->ev.flags = flags;
	s->ev.access = s->access;
	s->ev.name_len = nlen;
	s->ev.opened_len = olen;
	if (flags & FILE_TRUNCATED && st)
		st->truncated++;
	output(&s->ev, sizeof(s->ev) + nlen + olen, sizeof(s->ev) + DATA_SZ, st);
	return 0;

unreadable:
	if (st)
		st->unreadable++;
	return 0;
}

static __always_inline __u8 open_access(unsigned long flags, __u8 fixed)
{
	if (fixed)
		return fixed;
	if (flags & O_PATH)
		return ACCESS_STAT;
	if (flags & O_CREAT)
		return ACCESS_CREATE;
	if ((flags & O_ACCMODE) || (flags & O_TRUNC))
		return ACCESS_WRITE;
	return ACCESS_READ;
}

/* count_syscall counts one call of syscall nr (of the compat ABI when
 * compat) for the current task, whose cgroup is cgid (when watching), at
 * hot in hot_syscalls (CGROUP_HOT: in cgroup_syscalls); numbers past the
 * tables share the last slot. */
static __always_inline void count_syscall(long nr, bool compat, __u64 cgid, __u32 hot)
{
	__u32 slot = COUNT_OTHER;
	if (nr >= 0 && nr < NR_MAX)
		slot = compat ? NR_MAX + nr : nr;
	__u64 *count;
	if (watch) {
		struct cgroup_counts *c = hot < CGROUP_HOT ? bpf_map_lookup_elem(&hot_syscalls, &hot)
							   : cgroup_entry(&cgroup_syscalls, &cgid);
		if (!c)
			return;
		barrier_var(slot);
		slot &= COUNT_SLOTS - 1;
		count = &c->n[slot];
	} else {
		count = bpf_map_lookup_elem(&syscall_counts, &slot);
		if (!count)
			return;
	}
	(*count)++;
}

/*
 * count_socket counts one socket(2) or socketpair(2) call (or a socketcall
 * of either) by family and type, and by whether the caller had a lineage.
 * AppArmor checks the family and type before the kernel looks the family
 * up, so failed calls count too.
 */
static __always_inline void count_socket(struct pt_regs *regs, __u8 op, long ret, bool compat, __u64 cgid)
{
	unsigned long family = sys_arg(regs, 0, compat);
	unsigned long type = sys_arg(regs, 1, compat);
	if (op == OP_SOCKETCALL) {
		if (family != SYS_SOCKET && family != SYS_SOCKETPAIR)
			return;
		/* The arguments are an array of longs (32-bit ones in compat). */
		void *args = (void *)type;
		__u32 w[2] = {};
		__u64 l[2] = {};
		if (compat) {
			if (bpf_probe_read_user(w, sizeof(w), args))
				return;
			family = w[0];
			type = w[1];
		} else {
			if (bpf_probe_read_user(l, sizeof(l), args))
				return;
			family = l[0];
			type = l[1];
		}
	}
	struct sock_key key = {
		.family = (__u32)family,
		.type = (__u32)type & SOCK_TYPE_MASK,
		.setup = lineage_of(bpf_get_current_pid_tgid() >> 32) == 0,
		.failed = ret < 0,
		.cgroup = cgid,
	};
	__u64 *n = bpf_map_lookup_elem(&socket_calls, &key);
	if (n) {
		(*n)++;
		return;
	}
	__u64 one = 1;
	if (!bpf_map_update_elem(&socket_calls, &key, &one, BPF_NOEXIST))
		return;
	/* Another CPU added the key meanwhile, or the map is full. */
	n = bpf_map_lookup_elem(&socket_calls, &key);
	if (n) {
		(*n)++;
		return;
	}
	struct stats *st = get_stats();
	if (st)
		st->no_room++;
}

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret)
{
	__u64 cgid;
	__u32 hot;
	if (!in_target_memo(regs, &cgid, &hot))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	bool compat = is_compat(task);
	long nr = syscall_nr(regs);
	if (nr == -1) {
		/* A sigreturn: the registers are the ones it restored, whose
		 * syscall number the kernel resets to -1 (x86's
		 * restore_sigcontext, arm64's forget_syscall). Either call of
		 * the ABI could have been it. */
		int a = compat ? 1 : 0;
		if (sigreturn_nr[a][0] >= 0)
			count_syscall(sigreturn_nr[a][0], compat, cgid, hot);
		if (sigreturn_nr[a][1] >= 0)
			count_syscall(sigreturn_nr[a][1], compat, cgid, hot);
		return 0;
	}
	count_syscall(nr, compat, cgid, hot);
	if (nr < 0 || nr >= NR_MAX)
		return 0;
	struct sys_desc d = compat ? compat_desc[nr] : native_desc[nr];
	if (d.op == OP_NONE)
		return 0;
	if (d.op == OP_SOCKET || d.op == OP_SOCKETCALL) {
		count_socket(regs, d.op, ret, compat, cgid);
		return 0;
	}
	if (d.op == OP_EXEC && ret >= 0)
		return 0; /* reported by sched_process_exec */

	__u32 zero = 0;
	struct file_scratch *s = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!s)
		return 0;
	__u32 tgid = task->tgid;
	s->ev.hdr.type = EVENT_FILE;
	s->ev.hdr.pid = tgid;
	s->ev.hdr.tid = task->pid;
	s->ev.hdr.lineage = lineage_cached(&s->lin_tgid, &s->lin_val, &s->lin_gen, &s->lin_ugen, tgid);
	s->ev.ret = ret;
	s->ev.syscall = nr;
	s->ev.flags = compat ? FILE_COMPAT : 0;
	s->rel_is_cwd = 0;
	s->fd = -1;
	s->fd_only = 0;
	s->dirfd = d.dirfd >= 0 ? fd_arg(sys_arg(regs, d.dirfd, compat)) : AT_FDCWD;
	s->upath = sys_arg(regs, d.path, compat);
	s->access = d.access;

	switch (d.op) {
	case OP_OPEN:
		s->access = open_access(d.flags >= 0 ? sys_arg(regs, d.flags, compat) : 0, d.access);
		s->fd = ret;
		break;
	case OP_OPENAT2: {
		__u64 how_flags = 0;
		bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)sys_arg(regs, d.flags, compat));
		s->access = open_access(how_flags, d.access);
		s->fd = ret;
		break;
	}
	case OP_CHDIR:
		s->rel_is_cwd = ret == 0;
		break;
	case OP_FD:
		s->fd_only = 1;
		s->fd = fd_arg(s->upath);
		s->upath = 0;
		break;
	}
	emit_file(s, task);

	if (d.path2 >= 0) {
		s->ev.flags = compat ? FILE_COMPAT : 0;
		s->rel_is_cwd = 0;
		s->fd = -1;
		s->fd_only = 0;
		s->dirfd = d.dirfd2 >= 0 ? fd_arg(sys_arg(regs, d.dirfd2, compat)) : AT_FDCWD;
		s->upath = sys_arg(regs, d.path2, compat);
		s->access = d.access2;
		emit_file(s, task);
	}
	return 0;
}

static __always_inline int on_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!in_target())
		return 0;
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!s)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_update_elem(&lineages, &tgid, &tgid, BPF_NOEXIST)) /* a first exec starts a lineage */
		lineages_changed();
	fill_hdr(&s->ev.hdr, EVENT_EXEC, task);
	s->ev.ppid = BPF_CORE_READ(task, real_parent, tgid);
	s->ev.old_pid = old_pid;
	__u16 flags = 0;

	/* The name it was run by, absolute. */
	const char *filename = BPF_CORE_READ(bprm, filename);
	char c0 = 0;
	bpf_probe_read_kernel(&c0, 1, filename);
	__u32 flen = 0;
	if (c0 != '/') {
		int off = walk_path(BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), task,
				    s->walk, &flags);
		flen = PATH_SZ - off;
		bpf_probe_read_kernel(s->data, flen & (PATH_SZ - 1), &s->walk[off & (PATH_SZ - 1)]);
		flen &= PATH_SZ - 1;
		s->data[flen] = '/';
		flen++;
	}
	long n = bpf_probe_read_kernel_str(&s->data[flen & (PATH_SZ - 1)], PATH_SZ, filename);
	if (n > 0)
		flen += n - 1;
	flen &= NAMED_MAX;

	/* The file executed: the binary, or a script's interpreter. */
	struct file *file = BPF_CORE_READ(bprm, file);
	__u16 bflags = 0;
	int off = walk_path(BPF_CORE_READ(file, f_path.dentry), BPF_CORE_READ(file, f_path.mnt), task, s->walk,
			    &bflags);
	__u32 blen = 0;
	if (!(bflags & FILE_UNREACHABLE))
		blen = copy_walk(&s->data[flen], s->walk, off);
	flags |= bflags & FILE_TRUNCATED;

	/* argv, from the new image's stack. */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u32 alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen >= ARGV_MAX) {
		alen = ARGV_MAX - 1;
		flags |= FILE_TRUNCATED;
	}
	alen &= ARGV_MAX - 1;
	__u32 at = flen + blen;
	if (at > DATA_SZ - ARGV_MAX)
		at = DATA_SZ - ARGV_MAX;
	if (alen && bpf_probe_read_user(&s->data[at], alen, (void *)arg_start))
		alen = 0;
	s->ev.filename_len = flen;
	s->ev.binary_len = blen;
	s->ev.argv_len = alen;
	s->ev.flags = flags;

	output(&s->ev, sizeof(s->ev) + flen + blen + alen, sizeof(s->ev) + DATA_SZ, get_stats());
	return 0;
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	if (!in_target())
		return 0;
	__u32 child_pid = BPF_CORE_READ(child, pid);
	if (child_pid != BPF_CORE_READ(child, tgid))
		return 0; /* a thread */
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fork_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	struct stats *st = get_stats();
	if (!ev) {
		if (st)
			st->lost++;
		/* Keep the lineage even when the event is lost. */
		__u32 l = lineage_of(BPF_CORE_READ(parent, tgid));
		if (l)
			bpf_map_update_elem(&lineages, &child_pid, &l, BPF_ANY);
		lineages_changed();
		return 0;
	}
	fill_hdr(&ev->hdr, EVENT_FORK, task);
	ev->child = child_pid;
	ev->pad = 0;
	if (ev->hdr.lineage)
		bpf_map_update_elem(&lineages, &child_pid, &ev->hdr.lineage, BPF_ANY);
	lineages_changed(); /* the child's pid is new here: no lineage cached for it may stand */
	bpf_ringbuf_submit(ev, 0);
	if (st)
		st->sent++;
	return 0;
}

static __always_inline int on_exit(struct task_struct *p)
{
	if (!in_target())
		return 0;
	/* The call that ended this thread, which has no sys_exit: exit_group
	 * when its group is exiting (or was killed: counted as exit_group
	 * too), else exit. */
	bool compat = is_compat(bpf_get_current_task_btf());
	int a = compat ? 1 : 0;
	int which = BPF_CORE_READ(p, signal, flags) & SIGNAL_GROUP_EXIT ? 1 : 0;
	if (exit_nr[a][which] >= 0) {
		__u64 cgid = watch ? bpf_get_current_cgroup_id() : 0;
		count_syscall(exit_nr[a][which], compat, cgid, hot_slot(cgid));
	}

	/* Only the end of the whole thread group is an exit. */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	struct task_struct *task = (void *)bpf_get_current_task();
	struct stats *st = get_stats();
	struct exit_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	__u32 tgid = BPF_CORE_READ(p, tgid);
	if (!ev) {
		if (st)
			st->lost++;
		bpf_map_delete_elem(&lineages, &tgid);
		lineages_changed();
		return 0;
	}
	fill_hdr(&ev->hdr, EVENT_EXIT, task);
	ev->exit_code = BPF_CORE_READ(p, exit_code);
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	bpf_map_delete_elem(&lineages, &tgid);
	lineages_changed();
	if (st)
		st->sent++;
	return 0;
}

/*
 * on_cap_capable counts one capability check of a target process. The
 * tracepoint fires in the kernel's capability code (cap_capable) for every
 * check, audited or not: it does not carry the CAP_OPT_NOAUDIT option.
 * Checks of credentials other than the task's own (overlayfs works on its
 * layers with the mounter's) are counted apart: a security module judges
 * those by the credentials' owner, not by the task's profile. So is the
 * memory overcommit test of CAP_SYS_ADMIN, which calls cap_capable directly
 * (no security module sees it): known by the call the task is in when that
 * call's only CAP_SYS_ADMIN check is that test (accounting_call), else by
 * the test's caller in the kernel stack.
 */

/*
 * accounting_call says whether the task is in an anonymous mmap, an
 * mprotect, a brk or an mremap (acct_nr): calls whose only CAP_SYS_ADMIN
 * check is the overcommit test of the memory they account (their other
 * checks are of CAP_IPC_LOCK and CAP_SYS_RAWIO). It reads the number from
 * the registers saved at the call's entry, where walking the kernel stack
 * (bpf_get_stack) took 8 µs a check on the machine of issue 17, and every
 * thread's stack is such a mapping. A file's mmap is left to the walk: its driver may check the
 * capability itself. Outside a call (a page fault growing the stack, whose
 * test this is too) x86 keeps the fault's error code there and arm64 -1.
 */
static __always_inline bool accounting_call(struct task_struct *task)
{
	/* The registers saved at the call's entry. */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return false;
	bool compat = is_compat(task);
	int a = compat ? 1 : 0;
	long nr = syscall_nr(regs);
	if (nr < 0)
		return false;
	if (nr == acct_nr[a][0])
		return sys_arg(regs, 3, compat) & MAP_ANONYMOUS;
#pragma unroll
	for (int i = 1; i < ACCT_CALLS; i++)
		if (nr == acct_nr[a][i])
			return true;
	return false;
}

static __always_inline bool from_overcommit(void *ctx)
{
	if (!overcommit_text[0][0])
		return false;
	__u64 ips[STACK_DEPTH] = {};
	long n = bpf_get_stack(ctx, ips, sizeof(ips), 0);
	for (int i = 0; i < STACK_DEPTH; i++) {
		if (i * 8 >= n)
			break;
		for (int j = 0; j < OVERCOMMIT_FUNCS; j++)
			if (ips[i] >= overcommit_text[j][0] && ips[i] < overcommit_text[j][1])
				return true;
	}
	return false;
}

static __always_inline int on_cap_capable(void *ctx, const void *cred, int cap, int ret)
{
	if (!in_target())
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 idx;
	if (cred != (const void *)task->real_cred)
		idx = CAP_OTHER;
	else if (cap == CAP_SYS_ADMIN && (accounting_call(task) || from_overcommit(ctx)))
		idx = CAP_UNMEDIATED;
	else
		idx = lineage_of(bpf_get_current_pid_tgid() >> 32) ? CAP_APP : CAP_SETUP;
	struct cap_counts *c;
	if (watch) {
		struct cgroup_cap_key key = {.cgroup = bpf_get_current_cgroup_id(), .who = idx};
		c = cgroup_entry(&cgroup_caps, &key);
	} else {
		c = bpf_map_lookup_elem(&cap_checks, &idx);
	}
	__u32 i = (__u32)cap;
	if (i >= CAP_SLOTS) {
		struct stats *st = get_stats();
		if (st)
			st->no_room++;
	} else if (c) {
		/* The verifier loses the check above on the copy clang makes:
		 * mask the index itself, after a barrier that keeps the mask. */
		barrier_var(i);
		i &= CAP_SLOTS - 1;
		/* Atomic: watching, the counts are shared by the CPUs. */
		if (ret == 0)
			__sync_fetch_and_add(&c->granted[i], 1);
		else
			__sync_fetch_and_add(&c->denied[i], 1);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tp_btf_sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, ret);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_btf_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p, old_pid, bprm);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(tp_btf_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (!watch)
		return 0;
	/* self is cgroup's first member: its parent css is the parent cgroup. */
	struct cgroup *parent = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);
	__u64 pid = BPF_CORE_READ(parent, kn, id);
	if (!bpf_map_lookup_elem(&spawners, &pid))
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u8 one = 1;
	bpf_map_update_elem(&watched, &id, &one, BPF_ANY);
	targets_changed();
	return 0;
}

/* A task moved between cgroups: sys_exit's memo of in_target may be
 * stale. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tp_btf_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	targets_changed();
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_btf_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	/* Any task's: the child may have a dead task's kernel stack, which
	 * sys_exit's memo knows by its address. The child runs after this. */
	targets_changed();
	return on_fork(parent, child);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tp_btf_sched_process_exit, struct task_struct *p)
{
	return on_exit(p);
}

SEC("tp_btf/cap_capable")
int BPF_PROG(tp_btf_cap_capable, const void *cred, void *target_ns, const void *capable_ns, int cap, int ret)
{
	return on_cap_capable(ctx, cred, cap, ret);
}
