/* common/child.c — see child.h.  Only waitpid() statuses and the caller's
 * words go into the log; the child's channel carries nothing here. */
#include "common/child.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

void
child_describe(char *buf, size_t buf_len, const char *role, pid_t pid,
    int status)
{
	if (buf_len == 0)
		return;
	if (WIFSIGNALED(status))
		snprintf(buf, buf_len, "the %s process (pid %ld) was killed by "
		    "signal %d", role, (long)pid, WTERMSIG(status));
	else
		snprintf(buf, buf_len, "the %s process (pid %ld) exited with %d",
		    role, (long)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void
child_start_failed(char *buf, size_t buf_len, const char *role, int status)
{
	if (buf_len == 0)
		return;
	if (WIFEXITED(status))
		snprintf(buf, buf_len, "the %s process did not start (exit %d; "
		    "its log line says why)", role, WEXITSTATUS(status));
	else
		snprintf(buf, buf_len, "the %s process did not start (signal %d)",
		    role, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void
child_exit_report(const char *role, pid_t pid, int status)
{
	char msg[160];

	child_describe(msg, sizeof(msg), role, pid, status);
	log_error("%s; exiting", msg);
	_exit(1);
}

void
child_link_die(const char *role, pid_t pid, const char *what)
{
	int st = 0, i;
	pid_t r = 0;

	for (i = 0; i < 20 && r == 0; i++) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == 0)
			usleep(5000);
	}
	if (r == pid)
		child_exit_report(role, pid, st);
	log_error("%s link: %s; exiting", role, what);
	_exit(1);
}
