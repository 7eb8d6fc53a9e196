/* common/pins.c — tenant and node key pins (common/pins.h).
 *
 * Trusts: the pin files (they are the reference); nothing in the database.
 * Everything here is public key material: no secrets are read or logged.
 */
#include "common/pins.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/pg.h"
#include "common/util.h"

#define PINS_FILE_MAX  (64U * 1024U)
#define PINS_MAGIC     "coffer-tenant-pin v2\n"
#define PINS_MAGIC_V1  "coffer-tenant-pin v1\n"

typedef struct pbuf {
	char   *p;
	size_t  len, cap;
	int     oom;
} pbuf;

static void
pb_add(pbuf *b, const char *key, const char *val)
{
	size_t need = strlen(key) + strlen(val) + 3;

	if (b->oom)
		return;
	if (b->len + need + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *np;

		while (cap < b->len + need + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	b->len += (size_t)snprintf(b->p + b->len, b->cap - b->len, "%s%s%s\n",
	    key, val[0] ? " " : "", val);
}

static void
pb_point(pbuf *b, const char *key, const unsigned char *pt)
{
	char hex[2 * PINS_POINT_BYTES + 1];

	util_hex(hex, pt, PINS_POINT_BYTES);
	pb_add(b, key, hex);
}

/* wraps_from: exactly YYYY-MM-DDTHH:MM:SSZ (what encode writes). */
static int
pins_time_parse(const char *s, int64_t *out_us)
{
	struct tm tm;
	int y, mo, d, h, mi, se, used = 0;
	time_t t;

	if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo,
	    &d, &h, &mi, &se, &used) != 6 || used != 20 || s[4] != '-' ||
	    s[7] != '-' || s[13] != ':' || s[16] != ':' || y < 1970 || y > 9999 ||
	    mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 ||
	    h < 0 || mi < 0 || se < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != d)   /* 31 February normalised */
		return -1;
	*out_us = (int64_t)t * 1000000;
	return 0;
}

static void
pins_time_format(char out[32], int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const unsigned char *
pins_tenant_wrap_key(const pins_tenant *p, int64_t now_us)
{
	if (p->has_rotation && now_us < p->wraps_from_us)
		return p->previous_key;
	return p->public_key;
}

int
pins_tenant_encode(const pins_tenant *p, char **out, size_t *out_len,
    char *err, size_t err_len)
{
	pbuf b = { 0 };
	char num[32], id[UTIL_UUID_STRLEN + 1], hex[2 * crypto_hash_sha256_BYTES + 1];
	unsigned char h[crypto_hash_sha256_BYTES];
	unsigned i;

	*out = NULL;
	*out_len = 0;
	if (p->k < 1 || p->k > PINS_MAX_N || p->n < p->k || p->n > PINS_MAX_N) {
		snprintf(err, err_len, "pin: threshold/custodians out of range");
		return -1;
	}
	if (p->generation < 1) {
		snprintf(err, err_len, "pin: generation must be at least 1");
		return -1;
	}
	pb_add(&b, "coffer-tenant-pin v2", "");
	util_uuid_format(id, p->tenant_id);
	pb_add(&b, "tenant_id", id);
	pb_add(&b, "tenant", p->name);
	snprintf(num, sizeof(num), "%u", p->generation);
	pb_add(&b, "generation", num);
	if (p->has_rotation) {
		if (p->wraps_from_us <= 0 || p->wraps_from_us % 1000000 != 0) {
			free(b.p);
			snprintf(err, err_len, "pin: wraps_from must be a whole second after 1970");
			return -1;
		}
		if (sodium_memcmp(p->previous_key, p->public_key, PINS_POINT_BYTES) == 0) {
			free(b.p);
			snprintf(err, err_len, "pin: previous_key equals public_key");
			return -1;
		}
		pins_time_format(num, p->wraps_from_us);
		pb_add(&b, "wraps_from", num);
		pb_point(&b, "previous_key", p->previous_key);
	}
	snprintf(num, sizeof(num), "%u", p->k);
	pb_add(&b, "threshold", num);
	snprintf(num, sizeof(num), "%u", p->n);
	pb_add(&b, "custodians", num);
	pb_point(&b, "public_key", p->public_key);
	for (i = 0; i < p->k; i++)
		pb_point(&b, "commitment", p->commitments + (size_t)i * PINS_POINT_BYTES);
	for (i = 0; i < p->n; i++)
		pb_point(&b, "public_share", p->public_shares + (size_t)i * PINS_POINT_BYTES);
	if (b.oom) {
		free(b.p);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	crypto_hash_sha256(h, (const unsigned char *)b.p, b.len);
	util_hex(hex, h, sizeof(h));
	pb_add(&b, "sha256", hex);
	if (b.oom) {
		free(b.p);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

/* Next line of text: key and value split at the first blank. */
static int
pins_line(const char **pp, const char *end, char *key, size_t kcap,
    char *val, size_t vcap)
{
	const char *p = *pp, *nl, *sp;
	size_t kl, vl;

	if (p >= end)
		return -1;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return -1;
	sp = memchr(p, ' ', (size_t)(nl - p));
	kl = sp ? (size_t)(sp - p) : (size_t)(nl - p);
	vl = sp ? (size_t)(nl - sp - 1) : 0;
	if (kl >= kcap || vl >= vcap)
		return -1;
	memcpy(key, p, kl);
	key[kl] = '\0';
	if (sp)
		memcpy(val, sp + 1, vl);
	val[vl] = '\0';
	*pp = nl + 1;
	return 0;
}

static int
pins_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	uint64_t v;

	if (util_parse_u64(s, lo, hi, &v) != 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int
pins_tenant_parse(const char *text, size_t len, pins_tenant *out, char *err,
    size_t err_len)
{
	const char *p = text, *end = text + len, *sumline, *after_gen;
	char key[32], val[160];
	unsigned char h[crypto_hash_sha256_BYTES], want[crypto_hash_sha256_BYTES];
	unsigned i;
	int v2 = 0;

	memset(out, 0, sizeof(*out));
	if (len >= sizeof(PINS_MAGIC) - 1 &&
	    memcmp(text, PINS_MAGIC, sizeof(PINS_MAGIC) - 1) == 0)
		v2 = 1;
	else if (len < sizeof(PINS_MAGIC_V1) - 1 ||
	    memcmp(text, PINS_MAGIC_V1, sizeof(PINS_MAGIC_V1) - 1) != 0) {
		snprintf(err, err_len, "not a tenant pin file (expected \"coffer-tenant-pin v2\" or v1)");
		return -1;
	}
	p += sizeof(PINS_MAGIC) - 1;   /* both magics are this long */
	out->generation = 1;            /* v1: before re-sharing existed */
#define NEXT(k) (pins_line(&p, end, key, sizeof(key), val, sizeof(val)) == 0 \
	    && strcmp(key, (k)) == 0)
	if (!NEXT("tenant_id") || util_uuid_parse(out->tenant_id, val) != 0)
		goto bad;
	if (!NEXT("tenant") || strlen(val) == 0 || strlen(val) >= sizeof(out->name))
		goto bad;
	memcpy(out->name, val, strlen(val) + 1);	/* length checked above */
	if (v2 && (!NEXT("generation") || pins_uint(val, 1, PINS_MAX_GENERATION,
	    &out->generation) != 0))
		goto bad;
	after_gen = p;
	if (v2 && pins_line(&p, end, key, sizeof(key), val, sizeof(val)) == 0 &&
	    strcmp(key, "wraps_from") == 0) {
		if (pins_time_parse(val, &out->wraps_from_us) != 0) {
			snprintf(err, err_len, "wraps_from is not a UTC time "
			    "YYYY-MM-DDTHH:MM:SSZ");
			return -1;
		}
		if (!NEXT("previous_key") || util_unhex(out->previous_key,
		    PINS_POINT_BYTES, val, strlen(val)) != 0)
			goto bad;
		out->has_rotation = 1;
	} else
		p = after_gen;   /* not a rotation: read that line again */
	if (!NEXT("threshold") || pins_uint(val, 1, PINS_MAX_N, &out->k) != 0)
		goto bad;
	if (!NEXT("custodians") || pins_uint(val, out->k, PINS_MAX_N, &out->n) != 0)
		goto bad;
	if (!NEXT("public_key") || util_unhex(out->public_key, PINS_POINT_BYTES,
	    val, strlen(val)) != 0)
		goto bad;
	if (out->has_rotation && sodium_memcmp(out->previous_key, out->public_key,
	    PINS_POINT_BYTES) == 0) {
		snprintf(err, err_len, "previous_key equals public_key (a rotation "
		    "needs a new key)");
		return -1;
	}
	for (i = 0; i < out->k; i++)
		if (!NEXT("commitment") || util_unhex(out->commitments +
		    (size_t)i * PINS_POINT_BYTES, PINS_POINT_BYTES, val,
		    strlen(val)) != 0)
			goto bad;
	for (i = 0; i < out->n; i++)
		if (!NEXT("public_share") || util_unhex(out->public_shares +
		    (size_t)i * PINS_POINT_BYTES, PINS_POINT_BYTES, val,
		    strlen(val)) != 0)
			goto bad;
	sumline = p;
	if (!NEXT("sha256") || util_unhex(want, sizeof(want), val, strlen(val)) != 0
	    || p != end)
		goto bad;
#undef NEXT
	crypto_hash_sha256(h, (const unsigned char *)text, (size_t)(sumline - text));
	if (sodium_memcmp(h, want, sizeof(h)) != 0) {
		snprintf(err, err_len, "checksum mismatch (damaged or edited pin file)");
		return -1;
	}
	return 0;
bad:
	snprintf(err, err_len, "malformed tenant pin file (near \"%.40s\")", key);
	return -1;
}

int
pins_tenant_load(const char *dir, const char *tenant, pins_tenant *out,
    char *err, size_t err_len)
{
	char path[1024], e[256];
	unsigned char *data = NULL;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.pin", dir, tenant) >=
	    sizeof(path)) {
		snprintf(err, err_len, "tenant %s: pin path too long", tenant);
		return -1;
	}
	if (util_read_file(path, PINS_FILE_MAX, &data, &len, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "tenant %s: no usable pin file %s (%s): the "
		    "database's tenant key is not trusted without it", tenant, path, e);
		return -1;
	}
	if (pins_tenant_parse((const char *)data, len, out, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "tenant %s: %s: %s", tenant, path, e);
		free(data);
		return -1;
	}
	free(data);
	if (strcmp(out->name, tenant) != 0) {
		snprintf(err, err_len, "tenant %s: %s pins another tenant", tenant, path);
		return -1;
	}
	return 0;
}

int
pins_tenant_load_generation(const char *dir, const char *tenant,
    unsigned generation, pins_tenant *out, char *err, size_t err_len)
{
	char path[1024], e[256];
	unsigned char *data = NULL;
	size_t len = 0;

	if (pins_tenant_load(dir, tenant, out, err, err_len) == 0 &&
	    out->generation == generation)
		return 0;
	memset(out, 0, sizeof(*out));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.g%u.pin", dir, tenant,
	    generation) >= sizeof(path)) {
		snprintf(err, err_len, "tenant %s: pin path too long", tenant);
		return -1;
	}
	if (util_read_file(path, PINS_FILE_MAX, &data, &len, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "tenant %s: no pin of generation %u (%s/%s.pin "
		    "is another generation, %s: %s)", tenant, generation, dir,
		    tenant, path, e);
		return -1;
	}
	if (pins_tenant_parse((const char *)data, len, out, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "tenant %s: %s: %s", tenant, path, e);
		free(data);
		return -1;
	}
	free(data);
	if (strcmp(out->name, tenant) != 0 || out->generation != generation) {
		snprintf(err, err_len, "tenant %s: %s pins another tenant or "
		    "generation than %u", tenant, path, generation);
		return -1;
	}
	return 0;
}

int
pins_tenant_compare_db(PGconn *db, const pins_tenant *pin,
    const char *pin_path, int key_only, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	char id[UTIL_UUID_STRLEN + 1];
	int rows, i, rc = -1;

	util_uuid_format(id, pin->tenant_id);
	pg_param_text(&p, id);
	p.result_binary = 1;
	/* One row per array element: -1 the generation (in column 2's place
	 * the key again), 0 public key, 1 commitments, 2 shares. */
	r = pg_query(db, key_only ?
	    "SELECT 0, 0::bigint, k.public_key FROM coffer.tenant_keys k "
	    "WHERE k.tenant_id = $1::uuid" :
	    "SELECT -1, k.generation::bigint, k.public_key FROM coffer.tenant_keys k "
	    "WHERE k.tenant_id = $1::uuid "
	    "UNION ALL SELECT 0, 0::bigint, k.public_key FROM coffer.tenant_keys k "
	    "WHERE k.tenant_id = $1::uuid "
	    "UNION ALL SELECT 1, o, c FROM coffer.tenant_keys k, "
	    "unnest(k.commitments) WITH ORDINALITY AS u(c, o) WHERE k.tenant_id = $1::uuid "
	    "UNION ALL SELECT 2, o, s FROM coffer.tenant_keys k, "
	    "unnest(k.public_shares) WITH ORDINALITY AS u(s, o) WHERE k.tenant_id = $1::uuid "
	    "ORDER BY 1, 2", &p, err, err_len);
	if (r == NULL)
		return -1;
	rows = PQntuples(r);
	if (rows == 0) {
		snprintf(err, err_len, "tenant %s: pinned tenant id %s has no key "
		    "row in the database", pin->name, id);
		goto out;
	}
	{
		unsigned nc = 0, ns = 0, npk = 0;

		for (i = 0; i < rows; i++) {
			const unsigned char *kind = (const unsigned char *)PQgetvalue(r, i, 0);
			const unsigned char *o = (const unsigned char *)PQgetvalue(r, i, 1);
			const char *v = PQgetvalue(r, i, 2);
			int kd = kind[0] == 0xff ? -1 : kind[3];
			const unsigned char *want;
			char what[64];

			if (PQgetlength(r, i, 2) != (int)PINS_POINT_BYTES ||
			    PQgetlength(r, i, 1) != 8) {
				snprintf(err, err_len, "tenant %s: malformed key row in the "
				    "database", pin->name);
				goto out;
			}
			if (kd == -1) {
				unsigned long long g = 0;
				int j;

				for (j = 0; j < 8; j++)
					g = g << 8 | o[j];
				if (g != pin->generation) {
					snprintf(err, err_len, "tenant %s: the database's key "
					    "is at share generation %llu, its pin %s at "
					    "generation %u%s", pin->name, g, pin_path,
					    pin->generation, g > pin->generation ?
					    ": install the re-share's pin (cofferctl tenant "
					    "reshare pin)" : "");
					goto out;
				}
				continue;
			}
			if (kd == 0) {
				npk++;
				want = pin->public_key;
				snprintf(what, sizeof(what), "public key");
			} else if (kd == 1) {
				if (nc >= pin->k) {
					nc++;
					continue;
				}
				want = pin->commitments + (size_t)nc * PINS_POINT_BYTES;
				snprintf(what, sizeof(what), "commitment %u", nc);
				nc++;
			} else {
				if (ns >= pin->n) {
					ns++;
					continue;
				}
				want = pin->public_shares + (size_t)ns * PINS_POINT_BYTES;
				snprintf(what, sizeof(what), "public share %u", ns + 1);
				ns++;
			}
			if (memcmp(v, want, PINS_POINT_BYTES) != 0) {
				snprintf(err, err_len, "tenant %s: the database's %s "
				    "differs from its pin %s", pin->name, what, pin_path);
				goto out;
			}
		}
		if (npk != 1 || (!key_only && (nc != pin->k || ns != pin->n))) {
			snprintf(err, err_len, "tenant %s: the database holds %u "
			    "commitments and %u public shares, its pin %s %u and %u",
			    pin->name, nc, ns, pin_path, pin->k, pin->n);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

int
pins_tenant_check_db(PGconn *db, const char *dir,
    const unsigned char tenant_id[16], char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	pins_tenant *pin = NULL;
	char id[UTIL_UUID_STRLEN + 1], name[PINS_NAME_MAX], path[1024];
	int rc = -1;

	util_uuid_format(id, tenant_id);
	pg_param_text(&p, id);
	r = pg_query(db, "SELECT name FROM coffer.tenants WHERE tenant_id = $1::uuid",
	    &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1 || (size_t)PQgetlength(r, 0, 0) >= sizeof(name)) {
		PQclear(r);
		snprintf(err, err_len, "tenant %s not found", id);
		return -1;
	}
	snprintf(name, sizeof(name), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((pin = malloc(sizeof(*pin))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (pins_tenant_load(dir, name, pin, err, err_len) != 0)
		goto out;
	if (memcmp(pin->tenant_id, tenant_id, 16) != 0) {
		snprintf(err, err_len, "tenant %s: its pin names another tenant id "
		    "than the database's", name);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.pin", dir, name);
	rc = pins_tenant_compare_db(db, pin, path, 0, err, err_len);
out:
	free(pin);
	return rc;
}

/* -- node pins ------------------------------------------------------------------ */

void
pins_nodes_free(pins_nodes **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	free((*pp)->v);
	free(*pp);
	*pp = NULL;
}

const unsigned char *
pins_nodes_find(const pins_nodes *p, const char *name)
{
	size_t i;

	if (p == NULL)
		return NULL;
	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].pk;
	return NULL;
}

static int
pins_nodes_parse(const char *path, const char *text, size_t len,
    pins_nodes *out, char *err, size_t err_len)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256], name[PINS_NAME_MAX + 1], hex[80];
		pins_node *v;
		int used = 0;

		lineno++;
		if (ll >= sizeof(line)) {
			snprintf(err, err_len, "%s:%u: line too long", path, lineno);
			return -1;
		}
		memcpy(line, p, ll);
		line[ll] = '\0';
		p += ll + (nl ? 1 : 0);
		if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		if (sscanf(line, "node %65s %79s %n", name, hex, &used) != 2 ||
		    line[used] != '\0' || strlen(name) >= PINS_NAME_MAX) {
			snprintf(err, err_len, "%s:%u: expected \"node NAME HEX-KEY\"",
			    path, lineno);
			return -1;
		}
		if ((v = realloc(out->v, (out->n + 1) * sizeof(*v))) == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		out->v = v;
		memcpy(v[out->n].name, name, strlen(name) + 1);	/* < PINS_NAME_MAX */
		if (util_unhex(v[out->n].pk, 32, hex, strlen(hex)) != 0) {
			snprintf(err, err_len, "%s:%u: node %s: the key is not 64 hex "
			    "digits", path, lineno, name);
			return -1;
		}
		{
			const unsigned char *prev = pins_nodes_find(out, name);

			if (prev != NULL && memcmp(prev, v[out->n].pk, 32) != 0) {
				snprintf(err, err_len, "%s:%u: node %s is pinned twice "
				    "with different keys", path, lineno, name);
				return -1;
			}
		}
		out->n++;
	}
	return 0;
}

int
pins_nodes_load(const char *path, pins_nodes **out, char *err, size_t err_len)
{
	pins_nodes *p;
	unsigned char *data = NULL;
	size_t len = 0;
	char e[512];

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (util_read_file(path, 4U * 1024U * 1024U, &data, &len, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "node pins: %s", e);
		pins_nodes_free(&p);
		return -1;
	}
	if (pins_nodes_parse(path, (const char *)data, len, p, err, err_len) != 0) {
		free(data);
		pins_nodes_free(&p);
		return -1;
	}
	free(data);
	*out = p;
	return 0;
}

int
pins_nodes_append(const char *path, const char *name,
    const unsigned char pk[32], char *err, size_t err_len)
{
	pins_nodes *cur = NULL;
	char line[256], hex[65];
	struct stat st;
	int fd, n;

	if (stat(path, &st) == 0) {
		const unsigned char *prev;

		if (pins_nodes_load(path, &cur, err, err_len) != 0)
			return -1;
		prev = pins_nodes_find(cur, name);
		if (prev != NULL) {
			int same = memcmp(prev, pk, 32) == 0;

			pins_nodes_free(&cur);
			if (same)
				return 0;
			snprintf(err, err_len, "%s: node %s is already pinned with "
			    "another key", path, name);
			return -1;
		}
		pins_nodes_free(&cur);
	}
	util_hex(hex, pk, 32);
	n = snprintf(line, sizeof(line), "node %s %s\n", name, hex);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Public keys: readable by the services whatever the umask (a new
	 * file only; an operator's tighter mode on an existing one stays). */
	if (fstat(fd, &st) == 0 && st.st_size == 0 && st.st_uid == geteuid())
		(void)fchmod(fd, 0644);
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
