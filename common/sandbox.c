/* common/sandbox.c — see sandbox.h.  The seccomp filter is a classic-BPF
 * allow-list; each allowed call is two instructions (compare, allow), so
 * it reads top to bottom like the list it is: a head (architecture, x32),
 * the role's own calls, the calls both roles make, kill.  The Landlock
 * part talks to the kernel with syscall(2) (no library), sizes the
 * ruleset to the running ABI and applies it in every thread. */
#include "common/sandbox.h"

#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

/* What the front may open for writing: append to an existing file or
 * create one (the audit witness file; Landlock says which). */
#define SB_OPEN_NOAPPEND ((unsigned)(O_RDWR | O_TRUNC | \
                          (O_TMPFILE & ~O_DIRECTORY)))

#define SB_FILTER_MAX 256

#if defined(SB_ARCH) && !defined(SB_SANITIZER)
/* Append part to the filter being built; jumps stay inside each part. */
static int
sb_add(struct sock_filter *f, size_t *len, const struct sock_filter *part,
    size_t n)
{
	if (*len + n > SB_FILTER_MAX)
		return -1;
	memcpy(f + *len, part, n * sizeof(*part));
	*len += n;
	return 0;
}

static int
sb_install(sandbox_role role, pid_t child, char *why, size_t why_len)
{
	const struct sock_filter head[] = {
		SB_LD(offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_ARCH, 1, 0),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
		SB_LD(SB_NR),
#if defined(__x86_64__)
		/* x32 calls carry this bit: another ABI, refused */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000U, 0, 1),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
#endif
	};
	/* the gateway's network process: read-only opens (CA, CRL reload) */
	const struct sock_filter gateway[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 5),
		SB_LD(SB_ARG_LO(2)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SB_OPEN_WRITE, 1, 0),
		SB_RET(SECCOMP_RET_ALLOW),
		SB_RET(SECCOMP_RET_ERRNO | EACCES),
		SB_LD(SB_NR),
	};
	/* the API front: the libpq pool reconnects, the audit witness is
	 * appended, the main thread sigwait()s and stops its keeper */
	const struct sock_filter front[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 5),
		SB_LD(SB_ARG_LO(2)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SB_OPEN_NOAPPEND, 1, 0),
		SB_RET(SECCOMP_RET_ALLOW),
		SB_RET(SECCOMP_RET_ERRNO | EACCES),
		SB_LD(SB_NR),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_kill, 0, 5),
		SB_LD(SB_ARG_LO(0)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)child, 1, 0),
		SB_RET(SECCOMP_RET_ERRNO | EPERM),
		SB_RET(SECCOMP_RET_ALLOW),
		SB_LD(SB_NR),
		/* removing the pid file at exit fails, harmlessly */
		SB_ERRNO(__NR_unlink, EPERM),
		SB_ALLOW(__NR_socket), SB_ALLOW(__NR_connect),
		/* a host name in pg_conninfo: the resolver's parallel queries */
		SB_ALLOW(__NR_sendmmsg), SB_ALLOW(__NR_uname),
		SB_ALLOW(__NR_fdatasync), SB_ALLOW(__NR_fsync),
		SB_ALLOW(__NR_rt_sigtimedwait),
		/* realpath() of a download's stored path */
#ifdef __NR_readlink
		SB_ALLOW(__NR_readlink),
#endif
		SB_ALLOW(__NR_readlinkat),
	};
	const struct sock_filter common[] = {
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
		/* reaping the child process; the end */
		SB_ALLOW(__NR_wait4),
		SB_ALLOW(__NR_exit), SB_ALLOW(__NR_exit_group),
		SB_RET(SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_filter f[SB_FILTER_MAX];
	size_t len = 0;
	struct sock_fprog prog;

	if (sb_add(f, &len, head, sizeof(head) / sizeof(head[0])) != 0 ||
	    (role == SANDBOX_API_FRONT ?
	    sb_add(f, &len, front, sizeof(front) / sizeof(front[0])) :
	    sb_add(f, &len, gateway, sizeof(gateway) / sizeof(gateway[0]))) != 0 ||
	    sb_add(f, &len, common, sizeof(common) / sizeof(common[0])) != 0) {
		snprintf(why, why_len, "seccomp filter: too long");
		return -1;
	}
	prog.len = (unsigned short)len;
	prog.filter = f;
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
sandbox_seccomp(sandbox_role role, pid_t child, char *why, size_t why_len)
{
#if defined(SB_SANITIZER)
	(void)role;
	(void)child;
	snprintf(why, why_len, "seccomp filter skipped in a sanitizer build");
	return 0;
#elif !defined(SB_ARCH)
	(void)role;
	(void)child;
	snprintf(why, why_len, "no seccomp filter for this architecture");
	return -1;
#else
	if (role == SANDBOX_API_FRONT && child <= 0) {
		snprintf(why, why_len, "seccomp filter: the front needs its "
		    "keeper's pid");
		return -1;
	}
	return sb_install(role, child, why, why_len);
#endif
}

/* -- Landlock ------------------------------------------------------------------ */

/* Debian 12's kernel headers (6.1) know ABI 1 and 2 only; newer rights
 * are spelled out here and used only when the running ABI has them. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE        (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV       (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP       (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule       445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self  446
#endif

/* struct landlock_ruleset_attr as of ABI 6; older kernels are given the
 * prefix they know (8 bytes up to ABI 3, 16 for ABI 4 and 5). */
struct sb_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Read by libc (time zone, resolver, NSS, locale), OpenSSL, GnuTLS and
 * libpq after start-up; none holds a secret.  Missing ones are skipped.
 * Never /etc as a whole: keys live under /etc/coffer. */
static const char *const sb_system[] = {
	"/usr", "/lib", "/lib64",
	"/etc/localtime", "/etc/hosts", "/etc/resolv.conf", "/etc/host.conf",
	"/etc/nsswitch.conf", "/etc/gai.conf", "/etc/services",
	"/etc/protocols", "/etc/passwd", "/etc/group",
	"/etc/ssl/openssl.cnf", "/etc/ssl/certs", "/etc/gnutls",
	"/etc/postgresql-common/pg_service.conf",
	"/dev/urandom", "/dev/null",
	"/sys/devices/system/cpu",
#if defined(SB_SANITIZER)
	/* the sanitizers' run-time reads its maps and threads (leak check) */
	"/proc/self",
#endif
};

#define SB_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

int
sandbox_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return v > 0 ? (int)v : 0;
}

static uint64_t
sb_fs_handled(int abi)
{
	uint64_t m = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1 */

	if (abi >= 2)
		m |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		m |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return m;
}

/* Add one path; ENOENT is 1 (the caller decides), 0 added, -1 failed. */
static int
sb_ll_rule(int rfd, const char *path, unsigned access, uint64_t handled,
    char *why, size_t why_len)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, e;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, why_len, "landlock: %.200s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		snprintf(why, why_len, "landlock: %.200s: %s", path, strerror(e));
		return -1;
	}
	if (access == SANDBOX_WRITE) {
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			snprintf(why, why_len, "landlock: %.200s: not a regular "
			    "file", path);
			return -1;
		}
		pb.allowed_access = LANDLOCK_ACCESS_FS_WRITE_FILE;
	} else if (S_ISDIR(st.st_mode)) {
		pb.allowed_access = SB_FS_READ;
	} else {
		pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE;
	}
	/* /dev/null: writing it is harmless (libraries do) */
	if (S_ISCHR(st.st_mode))
		pb.allowed_access |= LANDLOCK_ACCESS_FS_WRITE_FILE;
	pb.allowed_access &= handled;
	pb.parent_fd = fd;
	if (syscall(__NR_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) != 0) {
		e = errno;
		close(fd);
		snprintf(why, why_len, "landlock: rule for %.200s: %s", path,
		    strerror(e));
		return -1;
	}
	close(fd);
	return 0;
}

/* Every thread restricts itself (landlock_restrict_self applies to the
 * caller only): the others answer SB_LL_SIG. */
static int sb_ll_fd = -1;
static atomic_int sb_ll_ok, sb_ll_bad;

static void
sb_ll_handler(int sig)
{
	int e = errno;

	(void)sig;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    syscall(__NR_landlock_restrict_self, sb_ll_fd, 0) == 0)
		atomic_fetch_add(&sb_ll_ok, 1);
	else
		atomic_fetch_add(&sb_ll_bad, 1);
	errno = e;
}

#define SB_TASKS_MAX 1024

/* The thread ids in d (/proc/self/task, opened before the ruleset
 * applies: Landlock then refuses to open it again). */
static int
sb_tasks(DIR *d, pid_t *tids, size_t cap, size_t *n)
{
	struct dirent *de;

	*n = 0;
	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap)
			return -1;
		tids[(*n)++] = (pid_t)atol(de->d_name);
	}
	return errno == 0 ? 0 : -1;
}

static int
sb_ll_all_threads(char *why, size_t why_len)
{
	pid_t before[SB_TASKS_MAX], after[SB_TASKS_MAX], self = gettid();
	size_t nb, na, i, j;
	struct sigaction sa, old;
	struct timespec ts = { 0, 1000000 };
	int sent = 0, waited, sig = SIGRTMIN + 4;
	sigset_t one, prev;
	DIR *d;

	if ((d = opendir("/proc/self/task")) == NULL ||
	    sb_tasks(d, before, SB_TASKS_MAX, &nb) != 0) {
		snprintf(why, why_len, "landlock: cannot list this process's "
		    "threads: %s", strerror(errno));
		if (d != NULL)
			closedir(d);
		return -1;
	}
	atomic_store(&sb_ll_ok, 0);
	atomic_store(&sb_ll_bad, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sb_ll_handler;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0) {
		snprintf(why, why_len, "landlock: sigaction: %s", strerror(errno));
		closedir(d);
		return -1;
	}
	/* this thread does it itself, not in the handler */
	sigemptyset(&one);
	sigaddset(&one, sig);
	(void)pthread_sigmask(SIG_BLOCK, &one, &prev);
	for (i = 0; i < nb; i++) {
		if (before[i] == self)
			continue;
		if (syscall(__NR_tgkill, getpid(), before[i], sig) == 0)
			sent++;
	}
	for (waited = 0; waited < 5000 &&
	    atomic_load(&sb_ll_ok) + atomic_load(&sb_ll_bad) < sent; waited++)
		nanosleep(&ts, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(__NR_landlock_restrict_self, sb_ll_fd, 0) != 0) {
		snprintf(why, why_len, "landlock: restrict_self: %s",
		    strerror(errno));
		goto fail;
	}
	if (atomic_load(&sb_ll_ok) != sent) {
		snprintf(why, why_len, "landlock: %d of %d other threads "
		    "restricted themselves", atomic_load(&sb_ll_ok), sent);
		goto fail;
	}
	/* a thread started meanwhile by one not yet restricted would run
	 * free: none may have appeared */
	if (sb_tasks(d, after, SB_TASKS_MAX, &na) != 0) {
		snprintf(why, why_len, "landlock: cannot list this process's "
		    "threads");
		goto fail;
	}
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && before[j] != after[i]; j++)
			;
		if (j == nb) {
			snprintf(why, why_len, "landlock: a thread started while "
			    "the ruleset was applied");
			goto fail;
		}
	}
	closedir(d);
	(void)sigaction(sig, &old, NULL);
	(void)pthread_sigmask(SIG_SETMASK, &prev, NULL);
	return 0;
fail:
	closedir(d);
	(void)sigaction(sig, &old, NULL);
	(void)pthread_sigmask(SIG_SETMASK, &prev, NULL);
	return -1;
}

int
sandbox_paths_exclude(const sandbox_path *paths, size_t n,
    const char *const *secrets, size_t m, char *why, size_t why_len)
{
	char a[PATH_MAX], s[PATH_MAX];
	size_t i, j, l;

	for (j = 0; j < m; j++) {
		if (secrets[j] == NULL || secrets[j][0] == '\0')
			continue;
		if (realpath(secrets[j], s) == NULL)
			snprintf(s, sizeof(s), "%s", secrets[j]);
		for (i = 0; i < n; i++) {
			if (paths[i].path == NULL || paths[i].path[0] == '\0' ||
			    realpath(paths[i].path, a) == NULL)
				continue;
			l = strlen(a);
			if (strncmp(s, a, l) == 0 &&
			    (s[l] == '\0' || s[l] == '/' || strcmp(a, "/") == 0)) {
				snprintf(why, why_len, "landlock: %.200s lies in %.200s, "
				    "which this process may read: keep secrets apart",
				    secrets[j], paths[i].path);
				return -1;
			}
		}
	}
	return 0;
}

int
sandbox_landlock(const sandbox_path *paths, size_t n, char *why,
    size_t why_len)
{
	struct sb_ll_attr attr;
	size_t attr_len, i;
	int abi = sandbox_landlock_abi(), rc = -1, r;

	if (abi <= 0) {
		snprintf(why, why_len, "no Landlock in this kernel (%s)",
		    errno == EOPNOTSUPP ? "disabled at boot" : "not built in");
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sb_fs_handled(abi);
	attr_len = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		/* binding a TCP port: refused (no rule allows one) */
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP;
		attr_len += sizeof(attr.handled_access_net);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
		attr_len += sizeof(attr.scoped);
	}
	sb_ll_fd = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_len,
	    0);
	if (sb_ll_fd < 0) {
		snprintf(why, why_len, "landlock: create_ruleset (ABI %d): %s",
		    abi, strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(sb_system) / sizeof(sb_system[0]); i++)
		if (sb_ll_rule(sb_ll_fd, sb_system[i], SANDBOX_READ,
		    attr.handled_access_fs, why, why_len) < 0)
			goto out;
	for (i = 0; i < n; i++) {
		if (paths[i].path == NULL || paths[i].path[0] == '\0')
			continue;
		r = sb_ll_rule(sb_ll_fd, paths[i].path, paths[i].access,
		    attr.handled_access_fs, why, why_len);
		if (r == 1)
			snprintf(why, why_len, "landlock: %.200s: %s",
			    paths[i].path, strerror(ENOENT));
		if (r != 0)
			goto out;
	}
	if (sb_ll_all_threads(why, why_len) != 0)
		goto out;
	snprintf(why, why_len, "landlock ABI %d: %zu path(s) and the system "
	    "files", abi, n);
	rc = abi;
out:
	close(sb_ll_fd);
	sb_ll_fd = -1;
	return rc;
}

int
sandbox_apply(sandbox_role role, const sandbox_path *paths, size_t n,
    const char *const *secrets, size_t m, int required, pid_t child,
    const char *readable, char *mode, size_t mode_len, int *abi, char *err,
    size_t err_len)
{
	char why[256];
	int ll, sb;

	*abi = 0;
	snprintf(mode, mode_len, "none");
	if (sandbox_paths_exclude(paths, n, secrets, m, err, err_len) != 0)
		return -1;
	ll = sandbox_landlock(paths, n, why, sizeof(why));
	if (ll < 0 || (ll == 0 && required)) {
		snprintf(err, err_len, "%s%s", why, ll == 0 ?
		    " (landlock_required = 1)" : "");
		return -1;
	}
	if (ll == 0)
		log_warn("%s: the %s can still read every file its user can (%s)",
		    why, role == SANDBOX_API_FRONT ? "front" : "network process",
		    readable);
	sb = sandbox_seccomp(role, child, why, sizeof(why));
	if (sb < 0) {
		snprintf(err, err_len, "%s", why);
		return -1;
	}
	if (sb == 0)
		log_warn("%s", why);
	snprintf(mode, mode_len, "%s%s%s", sb > 0 ? "seccomp" : "",
	    sb > 0 && ll > 0 ? "+" : "", ll > 0 ? "landlock" :
	    (sb > 0 ? "" : "none"));
	*abi = ll;
	return 0;
}
