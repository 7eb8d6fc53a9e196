/* common/sandbox.h — the least the kernel lets a network-facing process
 * keep: the gateway's network process and the API's front (README
 * "Privilege separation").  One copy of each rule for both daemons.
 *
 * Two independent layers, applied after the process has opened what it
 * needs at start-up, bound its sockets, dropped root and started its
 * threads:
 *
 *   sandbox_landlock()  Landlock (Linux >= 5.13, ABI 1..): the file
 *       system the process may still reach — the paths its caller names
 *       (read: files and directories beneath; write: one existing file,
 *       append) plus a fixed list of system files libc, OpenSSL, GnuTLS
 *       and libpq read (sandbox.c, sb_system).  Everything else —
 *       keys_dir, the node signing key, the blinding seeds — answers
 *       EACCES.  Landlock restricts only the calling thread, so the ruleset
 *       is applied by every thread of the process in turn (a real-time
 *       signal each thread answers, as libcap's psx does); a thread that
 *       does not answer fails the call.  With ABI >= 4 binding a TCP port
 *       is refused too, with ABI >= 6 connecting to an abstract Unix
 *       socket.  On a kernel without Landlock the call returns 0 and says
 *       so: the caller decides whether that is fatal (`landlock =
 *       required`).
 *
 *   sandbox_seccomp()   a classic-BPF allow-list installed on every thread
 *       (TSYNC), in the spirit of OpenSSH's sandbox-seccomp-filter.c; the
 *       role picks the list.  Both roles: I/O on descriptors already held,
 *       accept, poll/epoll, timers, memory, futexes, time, randomness, the
 *       signal mask.  SANDBOX_GATEWAY_NET: opening a file for writing
 *       answers EACCES.  SANDBOX_API_FRONT adds what libmicrohttpd, GnuTLS
 *       and the libpq pool need after start: socket and connect (the pool
 *       reconnects), append-only opens (the audit witness file), fdatasync,
 *       sigwait, and kill() of exactly one pid (its keeper).  Every other
 *       call — execve, fork/clone of a process, ptrace, bind, listen,
 *       unlink, rename, chmod, mount, setuid... — kills the process, as
 *       does a call from another architecture or ABI (x32).
 *
 * Sanitizer builds (-fsanitize=address) skip the seccomp filter (the
 * sanitizers' run-time needs calls the product never makes), not
 * Landlock, which lets them read /proc/self too.  x86_64 and aarch64 only for seccomp; elsewhere it fails.
 */
#ifndef COFFER_COMMON_SANDBOX_H
#define COFFER_COMMON_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

typedef enum sandbox_role {
	SANDBOX_GATEWAY_NET = 0,     /* coffer-gateway's network process */
	SANDBOX_API_FRONT   = 1      /* coffer-api's front */
} sandbox_role;

/* Install the role's seccomp filter.  child: the one pid kill() may reach
 * (SANDBOX_API_FRONT: the keeper), 0 for none.  1: installed; 0: skipped
 * (sanitizer build; why says so); -1: failed, message in why. */
int sandbox_seccomp(sandbox_role role, pid_t child, char *why,
                    size_t why_len) __attribute__((warn_unused_result));

/* The running kernel's Landlock ABI version, 0 when it has none (not
 * built in, or not enabled in the `lsm=` list). */
int sandbox_landlock_abi(void);

#define SANDBOX_READ  1U   /* read files and list directories beneath */
#define SANDBOX_WRITE 2U   /* write to this one existing regular file */

typedef struct sandbox_path {
	const char *path;          /* NULL or "": ignored */
	unsigned    access;        /* SANDBOX_READ or SANDBOX_WRITE */
} sandbox_path;

/* Restrict every thread of this process to paths[0..n) plus the system
 * list.  ABI (> 0): applied; 0: no Landlock in this kernel (why says so);
 * -1: failed (a path missing, a thread that did not answer...), message
 * in why.  Call it before sandbox_seccomp, which refuses the Landlock
 * calls. */
int sandbox_landlock(const sandbox_path *paths, size_t n, char *why,
                     size_t why_len) __attribute__((warn_unused_result));

/* A configuration that puts a secret beneath an allowed path (a people CA
 * kept in keys_dir, say) would let the process read it: 0 when none of
 * secrets[0..m) (NULL or "" ignored; missing ones compared by name) is
 * one of paths[0..n) or beneath one, -1 naming both. */
int sandbox_paths_exclude(const sandbox_path *paths, size_t n,
                          const char *const *secrets, size_t m, char *why,
                          size_t why_len) __attribute__((warn_unused_result));

/* Both network-facing processes' sandbox in order: refuse a secret
 * beneath an allowed path, Landlock on paths[0..n) (required: fail when
 * the kernel has none; otherwise warn that the process "can still read
 * every file its user can (<readable>)"), then the role's seccomp filter
 * (child as for sandbox_seccomp).  mode: "seccomp+landlock", "seccomp",
 * "landlock" or "none"; *abi: the Landlock ABI applied (0: none).  0, or
 * -1 with the message in err. */
int sandbox_apply(sandbox_role role, const sandbox_path *paths, size_t n,
                  const char *const *secrets, size_t m, int required,
                  pid_t child, const char *readable, char *mode,
                  size_t mode_len, int *abi, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
