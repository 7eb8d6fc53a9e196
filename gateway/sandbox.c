/* gateway/sandbox.c — see sandbox.h.  A classic-BPF allow-list; each
 * allowed call is two instructions (compare, allow), so the filter is
 * read top to bottom like the list it is. */
#include "gateway/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SB_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_SANITIZER 1
#endif
#endif

#if defined(__x86_64__)
#define SB_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC 1U
#endif

#define SB_LD(off)    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define SB_RET(v)     BPF_STMT(BPF_RET | BPF_K, (v))
#define SB_NR         offsetof(struct seccomp_data, nr)
#define SB_ARG_LO(i)  offsetof(struct seccomp_data, args[i])
/* allow a call by number (two instructions) */
#define SB_ALLOW(nr)  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                      SB_RET(SECCOMP_RET_ALLOW)
/* answer a call by number with an error instead of killing */
#define SB_ERRNO(nr, e) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                      SB_RET(SECCOMP_RET_ERRNO | (e))

/* Flags that make an open write or create something (O_TMPFILE includes
 * O_DIRECTORY, which opendir() needs: only its own bit counts). */
#define SB_OPEN_WRITE ((unsigned)(O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | \
                       O_APPEND | (O_TMPFILE & ~O_DIRECTORY)))

#if defined(SB_ARCH) && !defined(SB_SANITIZER)
static int
sb_install(char *why, size_t why_len)
{
	struct sock_filter f[] = {
		SB_LD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_ARCH, 1, 0),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
		SB_LD(SB_NR),
#if defined(__x86_64__)
		/* x32 calls carry this bit: another ABI, refused */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000U, 0, 1),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
#endif
		/* openat: read-only opens only (CA and CRL reload) */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 4),
		SB_LD(SB_ARG_LO(2)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SB_OPEN_WRITE, 1, 0),
		SB_RET(SECCOMP_RET_ALLOW),
		SB_RET(SECCOMP_RET_ERRNO | EACCES),
		/* no terminal control; isatty() and friends just fail */
		SB_ERRNO(__NR_ioctl, ENOTTY),
		/* descriptors it already holds */
		SB_ALLOW(__NR_read), SB_ALLOW(__NR_write),
		SB_ALLOW(__NR_readv), SB_ALLOW(__NR_writev),
		SB_ALLOW(__NR_pread64), SB_ALLOW(__NR_close),
		SB_ALLOW(__NR_lseek), SB_ALLOW(__NR_fcntl),
		SB_ALLOW(__NR_fstat), SB_ALLOW(__NR_newfstatat),
#ifdef __NR_statx
		SB_ALLOW(__NR_statx),
#endif
		SB_ALLOW(__NR_getdents64),
#ifdef __NR_access
		SB_ALLOW(__NR_access),
#endif
		SB_ALLOW(__NR_faccessat),
#ifdef __NR_faccessat2
		SB_ALLOW(__NR_faccessat2),
#endif
		/* sockets it already holds: accept, I/O, options, shutdown */
		SB_ALLOW(__NR_accept4),
#ifdef __NR_accept
		SB_ALLOW(__NR_accept),
#endif
		SB_ALLOW(__NR_recvfrom), SB_ALLOW(__NR_sendto),
		SB_ALLOW(__NR_recvmsg), SB_ALLOW(__NR_sendmsg),
		SB_ALLOW(__NR_shutdown), SB_ALLOW(__NR_setsockopt),
		SB_ALLOW(__NR_getsockopt), SB_ALLOW(__NR_getsockname),
		SB_ALLOW(__NR_getpeername),
		/* the event loop */
#ifdef __NR_epoll_wait
		SB_ALLOW(__NR_epoll_wait),
#endif
		SB_ALLOW(__NR_epoll_pwait),
#ifdef __NR_epoll_pwait2
		SB_ALLOW(__NR_epoll_pwait2),
#endif
		SB_ALLOW(__NR_epoll_ctl),
#ifdef __NR_poll
		SB_ALLOW(__NR_poll),
#endif
		SB_ALLOW(__NR_ppoll),
		SB_ALLOW(__NR_timerfd_settime), SB_ALLOW(__NR_timerfd_gettime),
		/* threads it already has, memory, time, randomness */
		SB_ALLOW(__NR_futex), SB_ALLOW(__NR_sched_yield),
		SB_ALLOW(__NR_sched_getaffinity),
		SB_ALLOW(__NR_mmap), SB_ALLOW(__NR_munmap),
		SB_ALLOW(__NR_mremap), SB_ALLOW(__NR_mprotect),
		SB_ALLOW(__NR_brk), SB_ALLOW(__NR_madvise),
		SB_ALLOW(__NR_clock_gettime), SB_ALLOW(__NR_clock_getres),
		SB_ALLOW(__NR_gettimeofday),
		SB_ALLOW(__NR_clock_nanosleep), SB_ALLOW(__NR_nanosleep),
		SB_ALLOW(__NR_getrandom), SB_ALLOW(__NR_sysinfo),
		SB_ALLOW(__NR_getrusage),
		/* signals: the signalfd's mask, abort() on a broken invariant */
		SB_ALLOW(__NR_rt_sigprocmask), SB_ALLOW(__NR_rt_sigreturn),
		SB_ALLOW(__NR_rt_sigaction), SB_ALLOW(__NR_restart_syscall),
		SB_ALLOW(__NR_getpid), SB_ALLOW(__NR_gettid),
		SB_ALLOW(__NR_getuid), SB_ALLOW(__NR_geteuid),
		SB_ALLOW(__NR_getgid), SB_ALLOW(__NR_getegid),
		/* reaping the sealer; the end */
		SB_ALLOW(__NR_wait4),
		SB_ALLOW(__NR_exit), SB_ALLOW(__NR_exit_group),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {
		.len = (unsigned short)(sizeof(f) / sizeof(f[0])),
		.filter = f,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(why, why_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		snprintf(why, why_len, "seccomp filter: %s", strerror(errno));
		return -1;
	}
	snprintf(why, why_len, "seccomp filter installed (%u instructions)",
	    (unsigned)prog.len);
	return 1;
}
#endif

int
sandbox_network(char *why, size_t why_len)
{
#if defined(SB_SANITIZER)
	snprintf(why, why_len, "seccomp filter skipped in a sanitizer build");
	return 0;
#elif !defined(SB_ARCH)
	snprintf(why, why_len, "no seccomp filter for this architecture");
	return -1;
#else
	return sb_install(why, why_len);
#endif
}
