/* tests/unit/test_keyfile.c — common/keyfile.c: secret key files into
 * guarded memory.
 *
 * The good case (exact size, 0600 and 0640), and every refusal with its
 * message: missing, too open (0644, group-writable), a symbolic link, a
 * directory, empty, one byte short, one byte long; *out stays NULL on
 * every refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keyfile.h"
#include "vault/mem.h"

#define WANT 32U

static char dir[64];

static void
put(const char *name, size_t len, mode_t mode, char *path, size_t cap)
{
	unsigned char b[WANT * 2];
	int fd;
	size_t i;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i + 1);
	snprintf(path, cap, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_keyfile.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_good(void **state)
{
	char path[128], err[256];
	unsigned char *k = (unsigned char *)1;
	size_t i;

	(void)state;
	put("good.key", WANT, 0600, path, sizeof(path));
	assert_int_equal(keyfile_load(path, WANT, &k, err, sizeof(err)), 0);
	assert_non_null(k);
	for (i = 0; i < WANT; i++)
		assert_int_equal(k[i], (unsigned char)(i + 1));
	vault_secure_free(k);
	put("group.key", WANT, 0640, path, sizeof(path));
	assert_int_equal(keyfile_load(path, WANT, &k, err, sizeof(err)), 0);
	vault_secure_free(k);
}

static void
refused(const char *path, size_t want, const char *msg_suffix)
{
	char err[512], full[600];
	unsigned char *k = (unsigned char *)1;

	assert_int_equal(keyfile_load(path, want, &k, err, sizeof(err)),
	    -1);
	assert_null(k);
	snprintf(full, sizeof(full), "%s%s", path, msg_suffix);
	assert_string_equal(err, full);
}

static void
test_refusals(void **state)
{
	char path[128], link[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	refused(path, WANT, ": No such file or directory");
	put("open.key", WANT, 0644, path, sizeof(path));
	refused(path, WANT, ": permissions 0644 are too open (use 0600 or 0640)");
	put("gw.key", WANT, 0620, path, sizeof(path));
	refused(path, WANT, ": permissions 0620 are too open (use 0600 or 0640)");
	put("empty.key", 0, 0600, path, sizeof(path));
	refused(path, WANT, ": 0 bytes, expected 32");
	put("short.key", WANT - 1, 0600, path, sizeof(path));
	refused(path, WANT, ": 31 bytes, expected 32");
	put("long.key", WANT + 1, 0600, path, sizeof(path));
	refused(path, WANT, ": more than 32 bytes, expected 32");
	put("target.key", WANT, 0600, path, sizeof(path));
	snprintf(link, sizeof(link), "%s/link.key", dir);
	assert_int_equal(symlink(path, link), 0);
	refused(link, WANT, ": not a regular file");
	refused(dir, WANT, ": not a regular file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
