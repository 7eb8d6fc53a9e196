/* tests/unit/test_child.c — common/child.c: how a helper process ended.
 *
 * Table of waitpid() statuses from real children (an exit code, a
 * signal) against the exact texts the fault tests grep for; a short
 * buffer is truncated, never overrun; child_link_die, run in a forked
 * "parent" whose own child was killed, exits 1 and logs the signal, and
 * with a child still running logs the link's failure instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"

/* A child that ends the way `how` says (>= 0: exit code; < 0: -signal);
 * returns its pid and its waitpid() status. */
static pid_t
ended_child(int how, int *status)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (how < 0) {
			(void)raise(-how);
			pause();
		}
		_exit(how);
	}
	assert_int_equal(waitpid(pid, status, 0), pid);
	return pid;
}

static void
test_describe(void **state)
{
	static const struct {
		int         how;
		const char *role;
		const char *ended;      /* after "the ROLE process (pid N) " */
		const char *start;      /* child_start_failed() */
	} cases[] = {
		{ -SIGKILL, "keeper", "was killed by signal 9",
		  "the keeper process did not start (signal 9)" },
		{ -SIGTERM, "sealer", "was killed by signal 15",
		  "the sealer process did not start (signal 15)" },
		{ 0, "sealer", "exited with 0",
		  "the sealer process did not start (exit 0; its log line says "
		  "why)" },
		{ 3, "keeper", "exited with 3",
		  "the keeper process did not start (exit 3; its log line says "
		  "why)" },
	};
	char buf[200], want[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = 0;
		pid_t pid = ended_child(cases[i].how, &st);

		child_describe(buf, sizeof(buf), cases[i].role, pid, st);
		snprintf(want, sizeof(want), "the %s process (pid %ld) %s",
		    cases[i].role, (long)pid, cases[i].ended);
		assert_string_equal(buf, want);
		child_start_failed(buf, sizeof(buf), cases[i].role, st);
		assert_string_equal(buf, cases[i].start);
	}
}

static void
test_short_buffer(void **state)
{
	char buf[12];
	int st = 0;
	pid_t pid = ended_child(-SIGKILL, &st);

	(void)state;
	memset(buf, 'x', sizeof(buf));
	child_describe(buf, 8, "keeper", pid, st);
	assert_string_equal(buf, "the kee");
	assert_int_equal(buf[8], 'x');
	child_start_failed(buf, 5, "keeper", st);
	assert_string_equal(buf, "the ");
	child_describe(buf, 0, "keeper", pid, st);     /* writes nothing */
	assert_string_equal(buf, "the ");
}

/* Fork a "parent" whose stderr is a pipe; it forks a child that ends as
 * `how` says (or, with how == INT32_MIN, keeps running), then calls
 * child_link_die.  Returns the parent's status; its log in log_buf. */
static int
link_die_in_parent(int how, char *log_buf, size_t log_len, pid_t *kid_out)
{
	int fds[2], pfd[2], st = 0;
	size_t got = 0;
	ssize_t n;
	pid_t parent;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(pfd), 0);
	parent = fork();
	assert_true(parent >= 0);
	if (parent == 0) {
		pid_t kid;

		close(fds[0]);
		close(pfd[0]);
		kid = fork();
		if (kid == 0) {
			/* not the log pipe's writer: a kid left running must
			 * not hold it open */
			close(fds[1]);
			close(pfd[1]);
			if (how == INT32_MIN) {
				for (;;)
					pause();
			}
			if (how < 0)
				(void)raise(-how);
			_exit(how < 0 ? 0 : how);
		}
		(void)dup2(fds[1], STDERR_FILENO);
		if (write(pfd[1], &kid, sizeof(kid)) != (ssize_t)sizeof(kid))
			_exit(2);
		if (how != INT32_MIN)
			usleep(20000);
		child_link_die("sealer", kid, "the channel closed");
	}
	close(fds[1]);
	close(pfd[1]);
	assert_int_equal(read(pfd[0], kid_out, sizeof(*kid_out)),
	    (ssize_t)sizeof(*kid_out));
	close(pfd[0]);
	while (got + 1 < log_len &&
	    (n = read(fds[0], log_buf + got, log_len - 1 - got)) > 0)
		got += (size_t)n;
	log_buf[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(parent, &st, 0), parent);
	return st;
}

static void
test_link_die(void **state)
{
	char log_buf[512], want[200];
	pid_t kid = 0;
	int st;

	(void)state;
	st = link_die_in_parent(-SIGKILL, log_buf, sizeof(log_buf), &kid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	snprintf(want, sizeof(want), "error: the sealer process (pid %ld) was "
	    "killed by signal 9; exiting", (long)kid);
	assert_non_null(strstr(log_buf, want));

	st = link_die_in_parent(7, log_buf, sizeof(log_buf), &kid);
	assert_int_equal(WEXITSTATUS(st), 1);
	snprintf(want, sizeof(want), "the sealer process (pid %ld) exited "
	    "with 7; exiting", (long)kid);
	assert_non_null(strstr(log_buf, want));

	/* still running: the link's own failure is what is said */
	st = link_die_in_parent(INT32_MIN, log_buf, sizeof(log_buf), &kid);
	assert_int_equal(WEXITSTATUS(st), 1);
	assert_non_null(strstr(log_buf,
	    "sealer link: the channel closed; exiting"));
	assert_int_equal(kill(kid, SIGKILL), 0);    /* orphaned: init reaps */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_link_die),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
