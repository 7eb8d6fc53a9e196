/* tests/unit/test_sandbox.c — common/sandbox.c: the network process's
 * seccomp filter, installed for real in a forked child per case.
 *
 * What the network process keeps: reading a file it opens read-only,
 * socket I/O on a descriptor it already holds, time, memory, randomness.
 * What it loses: opening a file for writing or creating one (EACCES,
 * the process lives on); creating a socket, connecting, executing a
 * program, forking, unlinking, kill() — each kills the process with
 * SIGSYS.  In a sanitizer build the filter is skipped, says so, and these
 * cases are skipped.
 *
 * The API front's role keeps socket() (its libpq pool reconnects) and
 * append-only opens, kill() reaches only its keeper (another pid: EPERM),
 * execve still kills.  Landlock (skipped on a kernel without it): with a
 * ruleset of one directory, a file there opens, a file beside it answers
 * EACCES — in a thread started before the ruleset too (every thread
 * applies it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "common/sandbox.h"

/* Run fn in a sandboxed child; its exit status (or -signal).  The child
 * exits 100 when the sandbox was skipped. */
static int
in_sandbox(int (*fn)(void *), void *arg)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		char why[160];
		int rc = sandbox_seccomp(SANDBOX_GATEWAY_NET, 0, why, sizeof(why));

		if (rc == 0)
			_exit(100);
		if (rc < 0) {
			fprintf(stderr, "sandbox: %s\n", why);
			_exit(101);
		}
		_exit(fn(arg));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int
skipped(void)
{
	char why[160];
	int st = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(sandbox_seccomp(SANDBOX_GATEWAY_NET, 0, why, sizeof(why)) == 0 ? 1 : 0);
	(void)waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

static int
do_allowed(void *arg)
{
	const char *path = arg;
	char buf[16];
	struct timespec ts;
	unsigned char r[8];
	struct stat st;
	DIR *d;
	int fd;
	void *p;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, 5) != 5 || memcmp(buf, "hello", 5) != 0)
		return 2;
	close(fd);
	/* opendir(): O_DIRECTORY is a read-only open (the CA reload) */
	if ((d = opendir("/tmp")) == NULL)
		return 7;
	closedir(d);
	/* access() and stat(): the CA directory checks of the reload */
	if (access(path, F_OK) != 0 || stat(path, &st) != 0)
		return 8;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 3;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return 4;
	p = malloc(8U << 20);            /* mmap */
	if (p == NULL)
		return 5;
	memset(p, 1, 8U << 20);
	free(p);
	if (write(STDERR_FILENO, "", 0) != 0)
		return 6;
	return 0;
}

static int
do_open_write(void *arg)
{
	int fd = open(arg, O_WRONLY | O_CLOEXEC);

	if (fd >= 0)
		return 2;
	if (errno != EACCES)
		return 3;
	fd = open(arg, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EACCES)
		return 4;
	fd = open(arg, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 5;
	fd = open(arg, O_RDONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 6;
	fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	if (fd >= 0 || errno != EACCES)
		return 7;
	return 0;
}

static int
do_socket(void *arg)
{
	(void)arg;
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 0;                         /* not reached */
}

static int
do_exec(void *arg)
{
	char *const argv[] = { (char *)"true", NULL };

	(void)arg;
	(void)execv("/bin/true", argv);
	return 0;
}

static int
do_fork(void *arg)
{
	(void)arg;
	if (fork() == 0)
		_exit(0);
	return 0;
}

static int
do_unlink(void *arg)
{
	(void)unlink(arg);
	return 0;
}

static int
do_kill(void *arg)
{
	(void)arg;
	(void)kill(getppid(), 0);
	return 0;
}

static char tmpl[64];

/* A secret beneath an allowed path is a configuration error. */
static void
test_secret_beneath_allowed(void **state)
{
	const sandbox_path p[] = { { "/tmp", SANDBOX_READ },
	                           { "/usr/share", SANDBOX_READ } };
	const char *const in[] = { "/usr/share/coffer-none/keys" };
	const char *const out[] = { "/usr/lib/x", "/tmpx/key", "", NULL };
	const char *const same[] = { "/tmp" };
	char why[256] = "";

	(void)state;
	assert_int_equal(sandbox_paths_exclude(p, 2, in, 1, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "/usr/share/coffer-none/keys lies in "
	    "/usr/share"));
	assert_int_equal(sandbox_paths_exclude(p, 2, out, 4, why, sizeof(why)),
	    0);
	assert_int_equal(sandbox_paths_exclude(p, 2, same, 1, why, sizeof(why)),
	    -1);
}

/* -- the API front's role ------------------------------------------------ */

static pid_t front_keeper;       /* the test process plays the keeper */

static int
in_front(int (*fn)(void *), void *arg)
{
	int st = 0;
	pid_t pid;

	front_keeper = getpid();
	pid = fork();

	if (pid == 0) {
		char why[160];

		if (sandbox_seccomp(SANDBOX_API_FRONT, front_keeper, why,
		    sizeof(why)) != 1)
			_exit(101);
		_exit(fn(arg));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	return WEXITSTATUS(st);
}

static int
do_front_allowed(void *arg)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 2;
	close(fd);
	fd = open(arg, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return 3;
	close(fd);
	if (open(arg, O_RDWR | O_CLOEXEC) >= 0 || errno != EACCES)
		return 4;
	if (open(arg, O_WRONLY | O_TRUNC | O_CLOEXEC) >= 0 || errno != EACCES)
		return 5;
	if (kill(front_keeper, 0) != 0)        /* its keeper */
		return 6;
	if (kill(1, 0) == 0 || errno != EPERM) /* anyone else */
		return 7;
	return 0;
}

static void
test_front_role(void **state)
{
	(void)state;
	if (skipped())
		skip();
	assert_int_equal(in_front(do_front_allowed, tmpl), 0);
	assert_int_equal(in_front(do_exec, NULL), -SIGSYS);
	assert_int_equal(in_front(do_fork, NULL), -SIGSYS);
}

/* -- Landlock -------------------------------------------------------------- */

static char ll_dir[64], ll_in[96], ll_out[96];
static int ll_thread_rc = -1;
static pthread_mutex_t ll_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ll_cv = PTHREAD_COND_INITIALIZER;
static int ll_go;

static void *
ll_thread(void *arg)
{
	int fd;

	(void)arg;
	pthread_mutex_lock(&ll_mu);
	while (!ll_go)
		pthread_cond_wait(&ll_cv, &ll_mu);
	pthread_mutex_unlock(&ll_mu);
	fd = open(ll_out, O_RDONLY | O_CLOEXEC);
	ll_thread_rc = fd < 0 && errno == EACCES ? 0 : 1;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void
test_landlock(void **state)
{
	int st = 0, fd;
	pid_t pid;

	(void)state;
	if (sandbox_landlock_abi() <= 0)
		skip();
	snprintf(ll_dir, sizeof(ll_dir), "/tmp/test_landlock.XXXXXX");
	assert_non_null(mkdtemp(ll_dir));
	snprintf(ll_in, sizeof(ll_in), "%s/in", ll_dir);
	snprintf(ll_out, sizeof(ll_out), "%s.out", ll_dir);
	assert_true((fd = open(ll_in, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	assert_true((fd = open(ll_out, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	pid = fork();
	if (pid == 0) {
		const sandbox_path p[] = { { ll_dir, SANDBOX_READ } };
		char why[160];
		pthread_t th;

		if (pthread_create(&th, NULL, ll_thread, NULL) != 0)
			_exit(10);
		if (sandbox_landlock(p, 1, why, sizeof(why)) <= 0)
			_exit(11);
		pthread_mutex_lock(&ll_mu);
		ll_go = 1;
		pthread_cond_signal(&ll_cv);
		pthread_mutex_unlock(&ll_mu);
		pthread_join(th, NULL);
		if (ll_thread_rc != 0)
			_exit(12);               /* the other thread was free */
		if ((fd = open(ll_in, O_RDONLY | O_CLOEXEC)) < 0)
			_exit(13);
		close(fd);
		if (open(ll_in, O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
			_exit(14);
		if (open(ll_out, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
			_exit(15);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(ll_in);
	unlink(ll_out);
	rmdir(ll_dir);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(tmpl, sizeof(tmpl), "/tmp/test_sandbox.XXXXXX");
	fd = mkstemp(tmpl);
	if (fd < 0 || write(fd, "hello", 5) != 5)
		return -1;
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(tmpl);
	return 0;
}

static void
test_allowed(void **state)
{
	(void)state;
	if (skipped())
		skip();
	assert_int_equal(in_sandbox(do_allowed, tmpl), 0);
}

static void
test_open_for_writing_refused(void **state)
{
	(void)state;
	if (skipped())
		skip();
	assert_int_equal(in_sandbox(do_open_write, tmpl), 0);
}

static void
test_forbidden_calls_kill(void **state)
{
	(void)state;
	if (skipped())
		skip();
	assert_int_equal(in_sandbox(do_socket, NULL), -SIGSYS);
	assert_int_equal(in_sandbox(do_exec, NULL), -SIGSYS);
	assert_int_equal(in_sandbox(do_fork, NULL), -SIGSYS);
	assert_int_equal(in_sandbox(do_unlink, tmpl), -SIGSYS);
	assert_int_equal(in_sandbox(do_kill, NULL), -SIGSYS);
	/* the file is still there: the unlink never ran */
	assert_int_equal(access(tmpl, F_OK), 0);
}

static void
test_says_what_it_did(void **state)
{
	char why[160] = "";
	int st = 0, p[2];
	pid_t pid;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		int rc = sandbox_seccomp(SANDBOX_GATEWAY_NET, 0, why, sizeof(why));

		if (write(p[1], why, strlen(why) + 1) < 0)
			_exit(3);
		_exit(rc < 0 ? 2 : 0);
	}
	close(p[1]);
	n = read(p[0], why, sizeof(why) - 1);
	close(p[0]);
	assert_true(n > 0);
	why[n] = '\0';
	(void)waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (skipped())
		assert_string_equal(why,
		    "seccomp filter skipped in a sanitizer build");
	else
		assert_non_null(strstr(why, "seccomp filter installed ("));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_front_role),
		cmocka_unit_test(test_landlock),
		cmocka_unit_test(test_secret_beneath_allowed),
		cmocka_unit_test(test_open_for_writing_refused),
		cmocka_unit_test(test_forbidden_calls_kill),
		cmocka_unit_test(test_says_what_it_did),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
