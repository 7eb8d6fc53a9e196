/* api/blind.c — matters' blinding seeds on the API host (api/blind.h).
 *
 * Trusts: the file system of the API host (the directory is the API's own,
 * 0700).  Does not trust a seed file's contents beyond its length and
 * generation: a wrong seed only makes the custodians' proofs fail.
 * Hazards: the seed is as sensitive as a release for the matter's epochs:
 * guarded memory only, read buffers wiped, the file overwritten before it
 * is unlinked (on a copy-on-write or journalling file system the old blocks
 * may survive: README says to keep the directory on tmpfs or encrypted
 * storage and out of backups).
 */
#include "api/blind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <sodium.h>

#include "common/keyfile.h"
#include "common/log.h"
#include "common/pg.h"

#include "common/util.h"
#include "vault/mem.h"

#define BLIND_PATH 4096U
#define BLIND_ERR  512U

static int
blind_path(char *out, size_t cap, const char *bdir, const char *matter)
{
	unsigned char id[UTIL_UUID_BYTES];

	if (matter == NULL || util_uuid_parse(id, matter) != 0)
		return -1;
	return (size_t)snprintf(out, cap, "%s/%s.seed", bdir, matter) >=
	    cap ? -1 : 0;
}

int
api_blind_dir_init(const char *bdir, char *err, size_t err_len)
{
	char path[BLIND_PATH];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s", bdir) >= sizeof(path)) {
		snprintf(err, err_len, "blind_dir: path too long");
		return -1;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(err, err_len, "%.200s: not a directory of this user", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0) {
		snprintf(err, err_len, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
api_blind_migrate(const char *productions_dir, const char *bdir, char *err,
    size_t err_len)
{
	char old[BLIND_PATH], from[BLIND_PATH], to[BLIND_PATH];
	struct dirent *de;
	DIR *d;
	int n = 0, rc = 0;

	if ((size_t)snprintf(old, sizeof(old), "%s/.blind", productions_dir) >=
	    sizeof(old))
		return 0;
	if ((d = opendir(old)) == NULL)
		return 0;                       /* nothing from before */
	if (api_blind_dir_init(bdir, err, err_len) != 0) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(from, sizeof(from), "%s/%s", old,
		    de->d_name) >= sizeof(from) ||
		    (size_t)snprintf(to, sizeof(to), "%s/%s", bdir, de->d_name) >=
		    sizeof(to))
			continue;
		if (rename(from, to) != 0) {
			snprintf(err, err_len, "moving the blinding seeds from "
			    "%.200s to blind_dir %.200s: %s (move them by hand)", old,
			    bdir, strerror(errno));
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0 && rmdir(old) != 0)
		log_warn("%s: %s (left in place)", old, strerror(errno));
	if (n > 0)
		log_info("blinding seeds: %d moved from %s to blind_dir %s", n,
		    old, bdir);
	return rc;
}

int
api_blind_load(const char *bdir, const char *matter,
    const unsigned char want[API_BLIND_ID_BYTES], unsigned char **seed_out,
    char *err, size_t err_len)
{
	char path[BLIND_PATH];
	unsigned char *file = NULL;
	int rc = -1;

	*seed_out = NULL;
	if (blind_path(path, sizeof(path), bdir, matter) != 0) {
		snprintf(err, err_len, "blinding seed: bad matter id or path");
		return -1;
	}
	if (access(path, F_OK) != 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, err_len, "%.200s: %s", path, strerror(errno));
		return -1;
	}
	/* straight into guarded memory; a file of another size is damaged,
	 * an error, not a missing seed */
	if (keyfile_load(path, API_BLIND_FILE_BYTES, &file, err, err_len) != 0)
		return -1;
	if (sodium_memcmp(file, want, API_BLIND_ID_BYTES) != 0) {
		rc = 1;
		goto out;
	}
	if ((*seed_out = vault_secure_alloc(VAULT_BLIND_SEED_BYTES)) == NULL) {
		snprintf(err, err_len, "out of secure memory");
		goto out;
	}
	memcpy(*seed_out, file + API_BLIND_ID_BYTES, VAULT_BLIND_SEED_BYTES);
	rc = 0;
out:
	vault_secure_free(file);
	return rc;
}

int
api_blind_create(const char *bdir, const char *matter,
    unsigned char blind_id_out[API_BLIND_ID_BYTES], unsigned char **seed_out,
    char *err, size_t err_len)
{
	char path[BLIND_PATH];
	unsigned char *file;
	int rc = -1;

	*seed_out = NULL;
	if (blind_path(path, sizeof(path), bdir, matter) != 0) {
		snprintf(err, err_len, "blinding seed: bad matter id or path");
		return -1;
	}
	if (api_blind_dir_init(bdir, err, err_len) != 0)
		return -1;
	if ((file = vault_secure_alloc(API_BLIND_FILE_BYTES)) == NULL ||
	    (*seed_out = vault_secure_alloc(VAULT_BLIND_SEED_BYTES)) == NULL) {
		snprintf(err, err_len, "out of secure memory");
		goto out;
	}
	util_uuid_random(blind_id_out);
	randombytes_buf(*seed_out, VAULT_BLIND_SEED_BYTES);
	memcpy(file, blind_id_out, API_BLIND_ID_BYTES);
	memcpy(file + API_BLIND_ID_BYTES, *seed_out, VAULT_BLIND_SEED_BYTES);
	if (util_write_file(path, file, API_BLIND_FILE_BYTES, 0600, 1, err,
	    err_len) != 0)
		goto out;
	rc = 0;
out:
	vault_secure_free(file);
	if (rc != 0 && *seed_out != NULL) {
		vault_secure_free(*seed_out);
		*seed_out = NULL;
	}
	return rc;
}

/* -- the participants as entered ------------------------------------------ */

#define ENTERED_CONTEXT "coffer-entered-v1"

_Static_assert(API_ENTERED_OVERHEAD ==
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
    crypto_aead_xchacha20poly1305_ietf_ABYTES, "entered overhead");

/* key and ad (tenant ‖ matter) of the sealed list */
static void
blind_entered_key(const unsigned char seed[VAULT_BLIND_SEED_BYTES],
    const unsigned char tenant[16], const unsigned char matter[16],
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
    unsigned char ad[32])
{
	unsigned char in[sizeof(ENTERED_CONTEXT) - 1 + 16];

	memcpy(in, ENTERED_CONTEXT, sizeof(ENTERED_CONTEXT) - 1);
	memcpy(in + sizeof(ENTERED_CONTEXT) - 1, matter, 16);
	(void)crypto_generichash(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	    in, sizeof(in), seed, VAULT_BLIND_SEED_BYTES);
	memcpy(ad, tenant, 16);
	memcpy(ad + 16, matter, 16);
}

int
api_blind_entered(int seal, const unsigned char seed[VAULT_BLIND_SEED_BYTES],
    const unsigned char tenant[16], const unsigned char matter[16],
    const unsigned char *in, size_t in_len, unsigned char *out,
    size_t out_cap, size_t *out_len, char *err, size_t err_len)
{
	const size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], ad[32];
	unsigned long long n = 0;
	size_t lo = seal ? 1 : API_ENTERED_OVERHEAD + 1;
	int rc;

	*out_len = 0;
	if (in_len < lo || in_len > lo - 1 + API_ENTERED_MAX) {
		snprintf(err, err_len, "participants as entered: %zu %sbytes, "
		    "want %zu..%zu", in_len, seal ? "" : "sealed ", lo,
		    lo - 1 + API_ENTERED_MAX);
		return -1;
	}
	if (out_cap < (seal ? in_len + API_ENTERED_OVERHEAD :
	    in_len - API_ENTERED_OVERHEAD)) {
		snprintf(err, err_len, "participants as entered: no room for "
		    "the %slist", seal ? "sealed " : "");
		return -1;
	}
	blind_entered_key(seed, tenant, matter, key, ad);
	if (seal) {
		randombytes_buf(out, nb);
		rc = crypto_aead_xchacha20poly1305_ietf_encrypt(out + nb, &n, in,
		    in_len, ad, sizeof(ad), NULL, out, key);
		n += nb;
	} else {
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &n, NULL,
		    in + nb, in_len - nb, ad, sizeof(ad), in, key);
	}
	sodium_memzero(key, sizeof(key));
	if (rc != 0) {
		sodium_memzero(out, seal ? in_len + API_ENTERED_OVERHEAD :
		    in_len - API_ENTERED_OVERHEAD);
		snprintf(err, err_len, "participants as entered: they do not "
		    "open with this seed (another generation, or altered)");
		return -1;
	}
	*out_len = (size_t)n;
	return 0;
}

void
api_blind_destroy(const char *bdir, const char *matter)
{
	char path[BLIND_PATH];
	unsigned char zero[API_BLIND_FILE_BYTES];
	int fd;

	if (blind_path(path, sizeof(path), bdir, matter) != 0)
		return;
	memset(zero, 0, sizeof(zero));
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if (write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero))
			(void)fsync(fd);
		close(fd);
	}
	(void)unlink(path);
}

int
api_blind_sweep(PGconn *db, const char *bdir, char *err, size_t err_len)
{
	char dir[BLIND_PATH], path[BLIND_PATH], matter[UTIL_UUID_STRLEN + 1];
	unsigned char id[UTIL_UUID_BYTES], fid[API_BLIND_ID_BYTES];
	struct dirent *de;
	DIR *d;
	int n = 0, rc = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", bdir) >= sizeof(dir))
		return 0;
	if ((d = opendir(dir)) == NULL)
		return 0;                       /* none made yet */
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		unsigned char *buf = NULL;
		size_t len = 0;
		int keep = 0;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    sizeof(path))
			continue;
		if (l == UTIL_UUID_STRLEN + 5 &&
		    strcmp(de->d_name + UTIL_UUID_STRLEN, ".seed") == 0) {
			memcpy(matter, de->d_name, UTIL_UUID_STRLEN);
			matter[UTIL_UUID_STRLEN] = '\0';
			if (util_uuid_parse(id, matter) == 0 &&
			    util_read_file(path, API_BLIND_FILE_BYTES + 1, &buf, &len,
			    err, err_len) == 0 && len == API_BLIND_FILE_BYTES) {
				pg_params p = PG_PARAMS_INIT;
				PGresult *r;

				memcpy(fid, buf, sizeof(fid));
				pg_param_text(&p, matter);
				pg_param_bin(&p, fid, sizeof(fid));
				r = pg_query(db, "SELECT 1 FROM coffer.matters "
				    "WHERE matter_id = $1::uuid AND state IN ('open', "
				    "'building') AND blind_id = $2::uuid", &p, err, err_len);
				if (r == NULL)
					rc = -1;
				keep = r == NULL || PQntuples(r) == 1;
				PQclear(r);
			}
			if (buf != NULL) {
				vault_wipe(buf, len);
				free(buf);
			}
			if (rc != 0)
				break;
			if (!keep) {
				api_blind_destroy(bdir, matter);
				n++;
			}
		} else if (strstr(de->d_name, ".tmp.") != NULL) {
			(void)unlink(path);         /* a write cut short */
			n++;
		}
	}
	closedir(d);
	if (n > 0)
		log_info("blinding seeds: %d left over from ended matters or "
		    "interrupted writes destroyed", n);
	return rc;
}
