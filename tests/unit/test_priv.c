/* tests/unit/test_priv.c — common/priv.c: dropping root for good.
 *
 * The drops run in forked children (a dropped process cannot come back);
 * each child reports through its exit status and a pipe.  Refusals: an
 * unknown or empty account, root as the target, a drop attempted without
 * root.  The successful drop is checked from outside the function too:
 * ids, the one group, no way back to root, no_new_privs, not dumpable.
 * Without root (an unprivileged test run) the drops are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/priv.h"

/* Run fn in a child; returns its exit status and its message (from err). */
static int
in_child(int (*fn)(char *, size_t), char *msg, size_t msg_len)
{
	int fds[2], st = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256] = "";
		int rc;

		close(fds[0]);
		rc = fn(err, sizeof(err));
		(void)!write(fds[1], err, strlen(err));
		_exit(rc & 0xff);
	}
	close(fds[1]);
	n = read(fds[0], msg, msg_len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void
test_lookup_refusals(void **state)
{
	priv_target t;
	char err[256];

	(void)state;
	memset(&t, 0x55, sizeof(t));
	assert_int_equal(priv_lookup("no-such-user-coffer-x", &t, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "user: no such account 'no-such-user-coffer-x'");
	assert_int_equal(t.uid, 0);
	assert_string_equal(t.name, "");
	assert_int_equal(priv_lookup("", &t, err, sizeof(err)), -1);
	assert_string_equal(err, "user: no such account ''");
	assert_int_equal(priv_lookup(NULL, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "user: no such account ''");
	assert_int_equal(priv_lookup("root", &t, err, sizeof(err)), 0);
	assert_int_equal(t.uid, 0);
	assert_string_equal(t.name, "root");
}

static void
test_drop_root_refused(void **state)
{
	priv_target t;
	char err[256];

	(void)state;
	/* refused before any id changes: safe in this process */
	assert_int_equal(priv_lookup("root", &t, err, sizeof(err)), 0);
	assert_int_equal(priv_drop(&t, err, sizeof(err)), -1);
	assert_string_equal(err, "user 'root' is root; name an unprivileged "
	    "account");
}

static int
child_drop_nobody(char *err, size_t err_len)
{
	priv_target t;
	gid_t groups[4];

	if (priv_lookup("nobody", &t, err, err_len) != 0 ||
	    priv_drop(&t, err, err_len) != 0)
		return 1;
	if (getuid() != t.uid || geteuid() != t.uid || getgid() != t.gid ||
	    getegid() != t.gid || getgroups(4, groups) != 1 ||
	    groups[0] != t.gid) {
		snprintf(err, err_len, "ids after the drop");
		return 2;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 ||
	    setgroups(0, NULL) == 0) {
		snprintf(err, err_len, "root regained");
		return 3;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		snprintf(err, err_len, "no_new_privs not set");
		return 4;
	}
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, err_len, "dumpable after the drop");
		return 5;
	}
	snprintf(err, err_len, "dropped");
	return 0;
}

/* After one drop, a second one (no longer root) must fail in setgroups. */
static int
child_drop_twice(char *err, size_t err_len)
{
	priv_target t;

	if (priv_lookup("nobody", &t, err, err_len) != 0 ||
	    priv_drop(&t, err, err_len) != 0)
		return 1;
	if (priv_drop(&t, err, err_len) == 0) {
		snprintf(err, err_len, "second drop succeeded");
		return 2;
	}
	return 0;
}

static void
test_drop(void **state)
{
	char msg[256];

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(child_drop_nobody, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "dropped");
	assert_int_equal(in_child(child_drop_twice, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "dropping privileges to 'nobody': Operation "
	    "not permitted");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_refusals),
		cmocka_unit_test(test_drop_root_refused),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
