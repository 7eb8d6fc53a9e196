/* common/keyfile.c — keyfile_load() (see keyfile.h).
 *
 * Trusts: the secret-file check of common/util.c (owner and mode), done
 * on the path before it is opened; the open refuses a symbolic link and
 * fstat() a non-regular file.  The size is checked on what is read, not on
 * st_size, so a file that grows or shrinks meanwhile is still refused.
 * Reads one byte more than wanted to see a file that is too long.
 */
#include "common/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "vault/mem.h"

int
keyfile_load(const char *path, size_t want, unsigned char **out,
    char *err, size_t err_len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd = -1;

	*out = NULL;
	if (util_check_secret_file(path, err, err_len) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		goto fail;
	}
	if (vault_init() != 0 || (buf = vault_secure_alloc(want + 1)) == NULL) {
		snprintf(err, err_len, "%s: cannot allocate guarded memory", path);
		goto fail;
	}
	while (got <= want) {
		ssize_t r = read(fd, buf + got, want + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != want) {
		if (got > want)
			snprintf(err, err_len, "%s: more than %zu bytes, expected %zu",
			    path, want, want);
		else
			snprintf(err, err_len, "%s: %zu bytes, expected %zu", path,
			    got, want);
		goto fail;
	}
	close(fd);
	buf[want] = 0;
	*out = buf;
	return 0;
fail:
	vault_secure_free(buf);
	close(fd);
	return -1;
}
