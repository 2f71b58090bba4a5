// attack makes syscalls a sample app never makes and prints each result:
// "NAME RET", RET the raw return value (0, or minus the errno). It uses no
// libc, so it needs no syscall but its own, write and exit_group (and the
// execve that starts it; wait4 only when clone was not refused): it runs under a profile that allows only what
// the app did. Build: cc -static -nostdlib -fno-pie -no-pie -O2 -o attack attack.c
//
// The arguments are chosen so that without seccomp each call fails (or
// succeeds) with something other than EPERM with the default capabilities:
// under the profile every one of them must be EPERM.

typedef unsigned long u64;

#if defined(__x86_64__)
enum { NR_write = 1, NR_exit_group = 231, NR_unshare = 272, NR_mount = 165, NR_ptrace = 101,
       NR_keyctl = 250, NR_bpf = 321, NR_socket = 41, NR_clone = 56, NR_wait4 = 61 };

static long sys(long n, long a, long b, long c, long d, long e) {
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
enum { NR_write = 64, NR_exit_group = 94, NR_unshare = 97, NR_mount = 40, NR_ptrace = 117,
       NR_keyctl = 219, NR_bpf = 280, NR_socket = 198, NR_clone = 220, NR_wait4 = 260 };

static long sys(long n, long a, long b, long c, long d, long e) {
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
	return x0;
}
#else
#error "x86_64 or aarch64 only"
#endif

static void report(const char *name, long ret) {
	char buf[64];
	int n = 0;
	while (name[n] && n < 40) {
		buf[n] = name[n];
		n++;
	}
	buf[n++] = ' ';
	u64 v = ret < 0 ? (u64)(-ret) : (u64)ret;
	if (ret < 0)
		buf[n++] = '-';
	char digits[24];
	int d = 0;
	do {
		digits[d++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (d)
		buf[n++] = digits[--d];
	buf[n++] = '\n';
	sys(NR_write, 1, (long)buf, n, 0, 0);
}

void _start(void) {
	// unshare(0) changes nothing and succeeds for anyone.
	report("unshare", sys(NR_unshare, 0, 0, 0, 0, 0));
	// The mount point does not exist: ENOENT, found before the
	// capability check.
	report("mount", sys(NR_mount, (long)"none", (long)"/slimtrace-no-such-dir", (long)"tmpfs", 0, 0));
	// PTRACE_ATTACH to a pid that cannot exist: ESRCH.
	report("ptrace", sys(NR_ptrace, 16, 0x3fffffff, 0, 0, 0));
	// An operation keyctl does not have: EOPNOTSUPP.
	report("keyctl", sys(NR_keyctl, 9999, 0, 0, 0, 0));
	// A command bpf does not have: EINVAL.
	report("bpf", sys(NR_bpf, 9999, 0, 0, 0, 0));
	// socket(AF_PACKET, SOCK_RAW, 0): a raw packet socket, which
	// CAP_NET_RAW (in containerd's and Docker's default set) allows. The
	// apps call socket, but not for AF_PACKET.
	report("socket", sys(NR_socket, 17, 3, 0, 0, 0));
	// clone(CLONE_NEWUSER | SIGCHLD): a child in a new user namespace,
	// which needs no capability. The apps clone, but never with a
	// namespace flag. The child (0) leaves at once; the parent reaps it.
	long pid = sys(NR_clone, 0x10000000 | 17, 0, 0, 0, 0);
	if (pid == 0)
		sys(NR_exit_group, 0, 0, 0, 0, 0);
	if (pid > 0)
		sys(NR_wait4, pid, 0, 0, 0, 0);
	report("clone", pid);
	sys(NR_exit_group, 0, 0, 0, 0, 0);
	for (;;)
		;
}
