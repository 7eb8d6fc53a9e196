/* gateway/sandbox.h — the least the kernel lets the network process keep.
 *
 * After the network process has bound its sockets, loaded its TLS identity
 * and device CAs, dropped root and started its threads, sandbox_network()
 * installs a seccomp filter on every thread (TSYNC), in the spirit of
 * OpenSSH's sandbox-seccomp-filter.c: an allow-list of what an epoll loop
 * with OpenSSL needs (socket I/O on descriptors it already holds, accept,
 * timers, memory, futexes, time, randomness, reading files for the SIGHUP
 * reload of the device CAs and CRLs).  Opening a file for writing or
 * creating one answers EACCES; every other call — socket, connect, bind,
 * execve, fork and clone, ptrace, kill, unlink, rename, chmod, mount,
 * setuid... — kills the process (the sealer then exits with it and the
 * supervisor restarts both).  The filter also kills a call from another
 * architecture or ABI (x32).
 *
 * Sanitizer builds (-fsanitize=address) skip the filter: the sanitizers'
 * own run-time needs calls the product never makes.  x86_64 and aarch64
 * only; elsewhere the call fails (the daemon refuses to start without it
 * unless privsep is off).
 */
#ifndef COFFER_GATEWAY_SANDBOX_H
#define COFFER_GATEWAY_SANDBOX_H

#include <stddef.h>

/* 1: installed; 0: skipped (sanitizer build; why says so); -1: failed,
 * message in why. */
int sandbox_network(char *why, size_t why_len)
    __attribute__((warn_unused_result));

#endif
