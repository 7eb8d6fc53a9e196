/* api/keys.c — per-tenant blind-index keys, loaded on demand.
 *
 * Trusts: keys_dir and the files in it once util_check_secret_file passed.
 * The tenant name comes from a verified certificate and is re-checked
 * against the name rule before it becomes part of a path.
 */
#include "api/keys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "common/keyfile.h"
#include "common/pg.h"
#include "common/pins.h"
#include "common/util.h"
#include "vault/mem.h"

#define KEYS_MAX 1024U

typedef struct keys_entry {
	char           tenant[API_SUBJECT_MAX];
	unsigned char *bik;              /* vault_secure_alloc */
} keys_entry;

struct api_keys {
	pthread_mutex_t mu;
	char           *dir;
	keys_entry     *e;
	size_t          n;
};

int
api_keys_new(api_keys **out, const char *keys_dir, char *err, size_t err_len)
{
	api_keys *k;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->e = calloc(KEYS_MAX, sizeof(*k->e))) == NULL ||
	    (k->dir = strdup(keys_dir)) == NULL) {
		if (k != NULL) {
			free(k->e);
			free(k);
		}
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&k->mu, NULL) != 0) {
		free(k->dir);
		free(k->e);
		free(k);
		snprintf(err, err_len, "mutex");
		return -1;
	}
	*out = k;
	return 0;
}

void
api_keys_free(api_keys **kp)
{
	api_keys *k;
	size_t i;

	if (kp == NULL || (k = *kp) == NULL)
		return;
	for (i = 0; i < k->n; i++)
		vault_secure_free(k->e[i].bik);
	free(k->e);
	free(k->dir);
	pthread_mutex_destroy(&k->mu);
	free(k);
	*kp = NULL;
}

static unsigned char *
keys_load(const char *dir, const char *tenant, char *err, size_t err_len)
{
	char path[4096], msg[512];
	unsigned char *bik = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s.bik", dir, tenant) >=
	    sizeof(path)) {
		snprintf(err, err_len, "blind-index key path too long");
		return NULL;
	}
	if (keyfile_load(path, VAULT_BIK_BYTES, &bik, msg,
	    sizeof(msg)) != 0) {
		snprintf(err, err_len, "blind-index key of tenant %s: %s", tenant,
		    msg);
		return NULL;
	}
	return bik;
}

const unsigned char *
api_keys_bik(api_keys *k, const char *tenant, int *unavailable, char *err,
    size_t err_len)
{
	const unsigned char *found = NULL;
	unsigned char *bik;
	size_t i;

	if (unavailable != NULL)
		*unavailable = 0;
	if (tenant == NULL || !names_ok(tenant, strlen(tenant))) {
		snprintf(err, err_len, "invalid tenant name");
		return NULL;
	}
	pthread_mutex_lock(&k->mu);
	for (i = 0; i < k->n; i++)
		if (strcmp(k->e[i].tenant, tenant) == 0) {
			found = k->e[i].bik;
			break;
		}
	if (found == NULL) {
		if (k->n >= KEYS_MAX) {
			snprintf(err, err_len, "too many tenants");
		} else if ((bik = keys_load(k->dir, tenant, err, err_len)) != NULL) {
			snprintf(k->e[k->n].tenant, sizeof(k->e[k->n].tenant), "%s",
			    tenant);
			k->e[k->n].bik = bik;
			k->n++;
			found = bik;
		} else if (unavailable != NULL) {
			*unavailable = 1;
		}
	}
	pthread_mutex_unlock(&k->mu);
	return found;
}

int
api_pin_check_tenant(PGconn *db, const char *keys_dir, const char *node_pins_file,
    const unsigned char tenant_id[16], char *err, size_t err_len)
{
	pins_nodes *pins = NULL;
	pg_params p = PG_PARAMS_INIT;
	PGresult *r = NULL;
	char id[UTIL_UUID_STRLEN + 1];
	int i, rc = -1;

	if (pins_tenant_check_db(db, keys_dir, tenant_id, err, err_len) != 0)
		return -1;
	if (node_pins_file == NULL || node_pins_file[0] == '\0')
		return 0;
	if (pins_nodes_load(node_pins_file, &pins, err, err_len) != 0)
		return -1;
	util_uuid_format(id, tenant_id);
	pg_param_text(&p, id);
	p.result_binary = 1;
	r = pg_query(db, "SELECT n.name, n.signing_public_key FROM coffer.nodes n "
	    "WHERE n.node_id IN (SELECT s.node_id FROM coffer.streams s "
	    "WHERE s.tenant_id = $1::uuid) ORDER BY n.name", &p, err, err_len);
	if (r == NULL)
		goto out;
	for (i = 0; i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		const unsigned char *pin = pins_nodes_find(pins, name);

		if (pin == NULL) {
			snprintf(err, err_len, "node %.64s is not pinned in %s",
			    name, node_pins_file);
			goto out;
		}
		if (PQgetlength(r, i, 1) != 32 ||
		    memcmp(PQgetvalue(r, i, 1), pin, 32) != 0) {
			snprintf(err, err_len, "node %.64s: the database's signing key "
			    "differs from its pin in %s", name, node_pins_file);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(r);
	pins_nodes_free(&pins);
	return rc;
}
