/* common/child.h — how a helper process ended, said one way.
 *
 * Each daemon forks a process that holds its keys (the gateway's sealer,
 * the API's keeper) and dies with it: when the channel to the child fails,
 * the parent reaps the child if it is gone and logs how it ended, so the
 * operator sees "killed by signal 9" rather than a broken pipe.  Both
 * links report through these functions; the log lines are what the fault
 * tests look for.
 */
#ifndef COFFER_COMMON_CHILD_H
#define COFFER_COMMON_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* buf = "the ROLE process (pid N) was killed by signal S" or "... exited
 * with N" for a waitpid() status; always NUL-terminated. */
void child_describe(char *buf, size_t buf_len, const char *role, pid_t pid,
                    int status);

/* buf = "the ROLE process did not start (exit N)" or "(signal S)", for a
 * child that ended before it said it was ready. */
void child_start_failed(char *buf, size_t buf_len, const char *role,
                        int status);

/* Log how the child ended (child_describe + "; exiting") and _exit(1). */
void child_exit_report(const char *role, pid_t pid, int status)
     __attribute__((noreturn));

/* The channel to the child failed with WHAT: wait up to about 100 ms for
 * the child to become reapable (the channel ends a moment before it is);
 * if it was reaped, report how it ended, otherwise log "ROLE link: WHAT;
 * exiting".  Then _exit(1).  Another thread may reap the child first (a
 * watcher): then that thread reports. */
void child_link_die(const char *role, pid_t pid, const char *what)
     __attribute__((noreturn));

#endif
