/* ctl/reshare.c — re-sharing a tenant key among new custodians from the
 * command line (issue 16): `cofferctl custodian keygen` and
 * `cofferctl tenant reshare propose|approve|cancel|show|list|deal|receive|pin`.
 *
 * The crypto is vault/reshare.h (read its header); the workflow and the
 * HTTP contract are the API's (api/reshare.c, README "Re-sharing a tenant
 * key, replacing a custodian").  This file moves public data between the
 * API and the people, and does each custodian's secret step on the
 * custodian's own machine:
 *
 *   deal     an old custodian opens its share, checks it against the
 *            commitments the API serves, deals a K'-of-N' sub-sharing of
 *            it and seals each sub-share to the recipient key PINNED in the
 *            recipients file (the plan must list exactly those keys).
 *   receive  a new custodian opens and checks every sub-share sealed to
 *            it against the dealers' public shares from its tenant PIN (not
 *            from the API), reports bad dealers and the transcript, and
 *            once the re-share is finalised combines its new share from
 *            the qualified dealers and writes the new share file.
 *   pin      the operator recomputes the new commitments and public
 *            shares from the qualified dealings against the OLD pin and
 *            writes the new pin.
 *
 * Trusts: the share file and the recipient key file once they open under
 * their passphrases; the tenant pin and the recipients file (public, kept
 * out of band); the API only as far as TLS with the given CA proves its
 * identity.  Everything the API sends is data to check: shapes, lengths,
 * indices, points (the vault refuses non-canonical ones), strings shown
 * are made printable and capped.  Secrets (s_i, sub-shares, s'_j, the
 * X25519 secret key, passphrases) live in guarded memory only, are wiped
 * on every path and never leave the machine; only commitments (points),
 * sealed sub-shares, bad-dealer lists and digests are sent.
 */
#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/names.h"
#include "common/pins.h"
#include "common/util.h"
#include "ctl/apiclient.h"
#include "vault/mem.h"
#include "vault/production.h"
#include "vault/reshare.h"
#include "vault/sharefile.h"
#include "vault/tenant.h"

#define RS_ERR       512U
#define RS_PASS_MAX  1024U
#define RS_MAX       255U                 /* custodians, recipients, dealers */
#define RS_SHOW      CTL_API_SHOW
#define RS_HEXPT     (2U * VAULT_POINT_BYTES)
#define RS_HEXSEALED (2U * VAULT_RESHARE_SEALED_BYTES)
#define RS_POLL_S    2U

/* -- usage ------------------------------------------------------------------- */

const char ctl_reshare_usage[] =
    "usage: cofferctl tenant reshare propose --threshold K --recipients FILE --reason TEXT\n"
    "       cofferctl tenant reshare approve --reshare ID\n"
    "       cofferctl tenant reshare cancel --reshare ID\n"
    "       cofferctl tenant reshare show --reshare ID [--json]\n"
    "       cofferctl tenant reshare list\n"
    "       cofferctl tenant reshare deal --reshare ID --share FILE --recipients FILE\n"
    "                                     [--passphrase-file F] [--yes]\n"
    "       cofferctl tenant reshare receive --reshare ID --key KEYFILE --pin TENANT.pin\n"
    "                                     --out NEWSHARE [--passphrase-file F]\n"
    "                                     [--share-passphrase-file F] [--wait SECONDS]\n"
    "                                     [--third-party]\n"
    "       cofferctl tenant reshare pin --reshare ID --pin OLD.pin --out NEW.pin\n"
    "                                     [--group G]\n"
    "  Every subcommand takes the API options --api URL --cert F --key F --ca F\n"
    "  (defaults $COFFER_API_URL, $COFFER_CERT, $COFFER_KEY, $COFFER_CA); in\n"
    "  `receive`, --key is the recipient key file (`custodian keygen`) and the\n"
    "  TLS key is --tls-key F or $COFFER_KEY.\n"
    "  propose, approve, cancel (admins; approve: another person than the\n"
    "  proposer): the plan: new threshold K, recipients in FILE order (lines\n"
    "  `recipient NAME HEX-KEY`, from `custodian keygen --recipients FILE`).\n"
    "  deal (each dealing old custodian): the plan's recipients must equal\n"
    "  FILE exactly and the share be of the generation being re-shared;\n"
    "  shows the plan and asks (unless --yes), then the share passphrase.\n"
    "  receive (each recipient): checks every sub-share sealed to KEYFILE\n"
    "  against the pinned tenant key, reports, and once the re-share is\n"
    "  finalised (waiting up to --wait seconds, default 0) writes the new\n"
    "  share file NEWSHARE (--third-party: held by the designated third\n"
    "  party); exit 3 when it is not finalised yet.\n"
    "  pin (operator): recomputes the new generation from the qualified\n"
    "  dealings against OLD.pin and writes NEW.pin (install it in the API's\n"
    "  keys_dir); --group G: owner:G 0640 as the daemons read it.\n";

static const char rs_keygen_usage[] =
    "usage: cofferctl custodian keygen --name NAME --out KEYFILE\n"
    "                                  [--passphrase-file F] [--recipients FILE]\n"
    "  makes an X25519 key pair on this machine for receiving a re-shared\n"
    "  tenant key share (cofferctl tenant reshare receive): the secret key to\n"
    "  KEYFILE (passphrase-protected, 0600, never overwritten), the public key\n"
    "  printed as `recipient NAME HEX` and, with --recipients, appended to\n"
    "  FILE (a name already there with another key is refused).  No database.\n";

/* -- options --------------------------------------------------------------- */

enum { RS_O_API = 1, RS_O_CERT, RS_O_KEY, RS_O_TLSKEY, RS_O_CA, RS_O_RESHARE,
       RS_O_THRESHOLD, RS_O_RECIPIENTS, RS_O_REASON, RS_O_SHARE, RS_O_PASS,
       RS_O_YES, RS_O_PIN, RS_O_OUT, RS_O_SHAREPASS, RS_O_WAIT, RS_O_GROUP,
       RS_O_JSON, RS_O_NAME, RS_O_HELP, RS_O_D3P };

static const struct option rs_long[] = {
	{ "api",                   required_argument, NULL, RS_O_API },
	{ "cert",                  required_argument, NULL, RS_O_CERT },
	{ "key",                   required_argument, NULL, RS_O_KEY },
	{ "tls-key",               required_argument, NULL, RS_O_TLSKEY },
	{ "ca",                    required_argument, NULL, RS_O_CA },
	{ "reshare",               required_argument, NULL, RS_O_RESHARE },
	{ "threshold",             required_argument, NULL, RS_O_THRESHOLD },
	{ "recipients",            required_argument, NULL, RS_O_RECIPIENTS },
	{ "reason",                required_argument, NULL, RS_O_REASON },
	{ "share",                 required_argument, NULL, RS_O_SHARE },
	{ "passphrase-file",       required_argument, NULL, RS_O_PASS },
	{ "yes",                   no_argument,       NULL, RS_O_YES },
	{ "pin",                   required_argument, NULL, RS_O_PIN },
	{ "out",                   required_argument, NULL, RS_O_OUT },
	{ "share-passphrase-file", required_argument, NULL, RS_O_SHAREPASS },
	{ "wait",                  required_argument, NULL, RS_O_WAIT },
	{ "group",                 required_argument, NULL, RS_O_GROUP },
	{ "json",                  no_argument,       NULL, RS_O_JSON },
	{ "third-party",           no_argument,       NULL, RS_O_D3P },
	{ "name",                  required_argument, NULL, RS_O_NAME },
	{ "help",                  no_argument,       NULL, RS_O_HELP },
	{ NULL, 0, NULL, 0 }
};

/* Options each subcommand takes besides the API ones and --help; then the
 * required ones. */
static const struct {
	const char *sub;
	const char *allowed;
	const char *required;
} rs_subs[] = {
	{ "propose", "|threshold|recipients|reason|",
	  "|threshold|recipients|reason|" },
	{ "approve", "|reshare|", "|reshare|" },
	{ "cancel",  "|reshare|", "|reshare|" },
	{ "show",    "|reshare|json|", "|reshare|" },
	{ "list",    "|json|", "||" },
	{ "deal",    "|reshare|share|recipients|passphrase-file|yes|",
	  "|reshare|share|recipients|" },
	{ "receive", "|reshare|pin|out|passphrase-file|share-passphrase-file|wait|"
	  "third-party|",
	  "|reshare|key|pin|out|" },
	{ "pin",     "|reshare|pin|out|group|", "|reshare|pin|out|" },
};

typedef struct rs_opts {
	ctl_api     api;
	char        verb[40];          /* "tenant reshare deal" */
	const char *sub;
	const char *reshare, *recipients, *reason, *share, *passfile, *pin;
	const char *out, *sharepass, *group, *keyfile;
	unsigned    threshold;
	long        wait;
	int         yes, json;
	int         third_party;       /* receive: the new share's holder */
} rs_opts;

/* -- the recipients file ----------------------------------------------------- */

typedef struct rs_recip {
	unsigned      index;
	char          name[PINS_NAME_MAX];
	unsigned char pk[VAULT_RESHARE_PK_BYTES];
} rs_recip;

typedef struct rs_rfile {
	size_t   n;
	rs_recip r[RS_MAX];
} rs_rfile;

/* Parse "recipient NAME HEX" lines ('#' comments, blank lines) in file
 * order; names valid and distinct, keys 32 bytes, not zero, distinct.
 * A missing file is empty when missing_ok.  0, or -1 with err. */
static int
rs_rfile_load(const char *path, int missing_ok, rs_rfile *f, char *err,
    size_t err_len)
{
	unsigned char *data = NULL, zero[VAULT_RESHARE_PK_BYTES];
	const char *p, *end;
	char e[RS_ERR];
	unsigned lineno = 0;
	size_t len = 0, i;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	memset(zero, 0, sizeof(zero));
	if (missing_ok && access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if (util_read_file(path, 1024U * 1024U, &data, &len, e, sizeof(e)) != 0) {
		snprintf(err, err_len, "recipients: %.400s", e);
		return -1;
	}
	p = (const char *)data;
	end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256], name[PINS_NAME_MAX + 1], hex[80];
		rs_recip *r;
		int used = 0;

		lineno++;
		if (ll >= sizeof(line)) {
			snprintf(err, err_len, "%s:%u: line too long", path, lineno);
			goto out;
		}
		memcpy(line, p, ll);
		line[ll] = '\0';
		p += ll + (nl ? 1 : 0);
		if (ll > 0 && line[ll - 1] == '\r')
			line[ll - 1] = '\0';
		if (line[strspn(line, " \t")] == '#' ||
		    line[strspn(line, " \t")] == '\0')
			continue;
		if (sscanf(line, "recipient %65s %79s %n", name, hex, &used) != 2 ||
		    line[used] != '\0' || strlen(name) >= PINS_NAME_MAX) {
			snprintf(err, err_len, "%s:%u: expected \"recipient NAME "
			    "HEX-KEY\"", path, lineno);
			goto out;
		}
		if (names_check("recipient name", name, e, sizeof(e)) != 0) {
			snprintf(err, err_len, "%.200s:%u: %.256s", path, lineno, e);
			goto out;
		}
		if (f->n == RS_MAX) {
			snprintf(err, err_len, "%s:%u: more than %u recipients", path,
			    lineno, RS_MAX);
			goto out;
		}
		r = &f->r[f->n];
		r->index = (unsigned)f->n + 1;
		memcpy(r->name, name, strlen(name) + 1);
		if (strlen(hex) != 2 * VAULT_RESHARE_PK_BYTES ||
		    util_unhex(r->pk, sizeof(r->pk), hex, strlen(hex)) != 0 ||
		    sodium_memcmp(r->pk, zero, sizeof(zero)) == 0) {
			snprintf(err, err_len, "%s:%u: recipient %s: the key is not 64 "
			    "hex digits of an X25519 public key", path, lineno, name);
			goto out;
		}
		for (i = 0; i < f->n; i++) {
			if (strcmp(f->r[i].name, name) == 0) {
				snprintf(err, err_len, "%s:%u: recipient %s is listed "
				    "twice", path, lineno, name);
				goto out;
			}
			if (memcmp(f->r[i].pk, r->pk, sizeof(r->pk)) == 0) {
				snprintf(err, err_len, "%s:%u: recipient %s has the key of "
				    "recipient %s", path, lineno, name, f->r[i].name);
				goto out;
			}
		}
		f->n++;
	}
	rc = 0;
out:
	free(data);
	return rc;
}

/* Append "recipient NAME HEX" unless NAME is there with this key already;
 * refuses NAME with another key, or this key under another name. */
static int
rs_rfile_append(const char *path, const char *name,
    const unsigned char pk[VAULT_RESHARE_PK_BYTES], char *err, size_t err_len)
{
	rs_rfile *f = malloc(sizeof(*f));
	char line[256], hex[RS_HEXPT + 1];
	struct stat st;
	size_t i;
	int fd, n, rc = -1;

	if (f == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	if (rs_rfile_load(path, 1, f, err, err_len) != 0)
		goto out;
	for (i = 0; i < f->n; i++) {
		if (strcmp(f->r[i].name, name) == 0) {
			if (memcmp(f->r[i].pk, pk, VAULT_RESHARE_PK_BYTES) == 0) {
				rc = 0;
				goto out;
			}
			snprintf(err, err_len, "%s: recipient %s is already listed "
			    "with another key", path, name);
			goto out;
		}
		if (memcmp(f->r[i].pk, pk, VAULT_RESHARE_PK_BYTES) == 0) {
			snprintf(err, err_len, "%s: this key is already listed as "
			    "recipient %s", path, f->r[i].name);
			goto out;
		}
	}
	if (f->n == RS_MAX) {
		snprintf(err, err_len, "%s: already %u recipients", path, RS_MAX);
		goto out;
	}
	util_hex(hex, pk, VAULT_RESHARE_PK_BYTES);
	n = snprintf(line, sizeof(line), "recipient %s %s\n", name, hex);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* Public keys, handed to the admin and the dealers. */
	if (fstat(fd, &st) == 0 && st.st_size == 0 && st.st_uid == geteuid())
		(void)fchmod(fd, 0644);
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	free(f);
	return rc;
}

/* -- the re-share as the API serves it ---------------------------------------- */

typedef struct rs_dealing {
	unsigned       dealer;
	char           name[PINS_NAME_MAX];
	unsigned char *E;              /* K' points */
	unsigned char *sealed;         /* N' sealed sub-shares */
} rs_dealing;

typedef struct rs_report {
	unsigned      recipient;
	char          name[PINS_NAME_MAX];
	unsigned char bad[RS_MAX + 1];          /* bad[i]: dealer i named */
	unsigned char transcript[VAULT_RESHARE_DIGEST_BYTES];
} rs_report;

typedef struct rs_plan {
	json_t           *j;
	char              id[UTIL_UUID_STRLEN + 1];
	char              tenant[PINS_NAME_MAX];
	char              state[16];
	vault_reshare_ctx ctx;               /* tenant, re-share, from, K', N' */
	unsigned          to_gen, k_old, n_old;
	size_t            nrecips;
	rs_recip          recips[RS_MAX];
	unsigned char     T[VAULT_POINT_BYTES];
	unsigned          tk_gen;
	unsigned char     C[RS_MAX * VAULT_POINT_BYTES];      /* K_old */
	unsigned char     V[RS_MAX * VAULT_POINT_BYTES];      /* N_old */
	size_t            ndeals;
	rs_dealing        deals[RS_MAX];    /* ascending dealer */
	size_t            nreports;
	rs_report         reports[RS_MAX];
	int               has_transcript;
	unsigned char     transcript[VAULT_RESHARE_DIGEST_BYTES];
	size_t            nq;
	unsigned          q[RS_MAX];        /* ascending */
} rs_plan;

static void
rs_plan_free(rs_plan **pp)
{
	rs_plan *p = *pp;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->ndeals; i++) {
		free(p->deals[i].E);
		free(p->deals[i].sealed);
	}
	json_decref(p->j);
	free(p);
	*pp = NULL;
}

/* Exactly n bytes of hex in string v. */
static int
rs_hex(const json_t *v, unsigned char *out, size_t n)
{
	const char *s = json_string_value(v);

	return s == NULL || strlen(s) != 2 * n ||
	    util_unhex(out, n, s, strlen(s)) != 0 ? -1 : 0;
}

/* Integer member lo..hi. */
static int
rs_uint(const json_t *o, const char *key, unsigned lo, unsigned hi,
    unsigned *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t x;

	if (!json_is_integer(v))
		return -1;
	x = json_integer_value(v);
	if (x < (json_int_t)lo || x > (json_int_t)hi)
		return -1;
	*out = (unsigned)x;
	return 0;
}

/* An array of exactly n points. */
static int
rs_points(const json_t *a, size_t n, unsigned char *out)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) != n)
		return -1;
	for (i = 0; i < n; i++)
		if (rs_hex(json_array_get(a, i), out + i * VAULT_POINT_BYTES,
		    VAULT_POINT_BYTES) != 0)
			return -1;
	return 0;
}

static void
rs_name(const json_t *o, char *out)
{
	char b[PINS_NAME_MAX];

	snprintf(out, PINS_NAME_MAX, "%s", ctl_api_str(o, "name", b, sizeof(b)));
}

/* Every field the commands use, checked; j is kept (owned). */
static int
rs_plan_parse(json_t *j, rs_plan *p, char *err, size_t err_len)
{
	json_t *tk = json_object_get(j, "tenant_key"), *a, *v;
	const char *s;
	char b[RS_SHOW + 1];
	size_t i, m;
	unsigned prev;

	p->j = j;
#define RS_BAD(what) do { snprintf(err, err_len, "the API's re-share: %s is " \
	"malformed", what); return -1; } while (0)
	if ((s = json_string_value(json_object_get(j, "reshare_id"))) == NULL ||
	    util_uuid_parse(p->ctx.reshare_id, s) != 0)
		RS_BAD("reshare_id");
	util_uuid_format(p->id, p->ctx.reshare_id);
	if ((s = json_string_value(json_object_get(j, "tenant_id"))) == NULL ||
	    util_uuid_parse(p->ctx.tenant_id, s) != 0)
		RS_BAD("tenant_id");
	snprintf(p->tenant, sizeof(p->tenant), "%s", ctl_api_str(j, "tenant", b,
	    sizeof(b)));
	snprintf(p->state, sizeof(p->state), "%s", ctl_api_str(j, "state", b,
	    sizeof(b)));
	if (rs_uint(j, "from_generation", 1, VAULT_SHAREFILE_GENERATION_MAX,
	    &p->ctx.from_generation) != 0)
		RS_BAD("from_generation");
	if (json_is_null(json_object_get(j, "to_generation")) ||
	    json_object_get(j, "to_generation") == NULL)
		p->to_gen = 0;
	else if (rs_uint(j, "to_generation", 2, VAULT_SHAREFILE_GENERATION_MAX,
	    &p->to_gen) != 0 || p->to_gen != p->ctx.from_generation + 1)
		RS_BAD("to_generation");
	if (rs_uint(j, "threshold", 1, RS_MAX, &p->k_old) != 0 ||
	    rs_uint(j, "custodians", 1, RS_MAX, &p->n_old) != 0 ||
	    p->k_old > p->n_old)
		RS_BAD("threshold or custodians");
	if (rs_uint(j, "new_threshold", 2, RS_MAX, &p->ctx.k_new) != 0 ||
	    rs_uint(j, "new_custodians", 2, RS_MAX, &p->ctx.n_new) != 0 ||
	    vault_reshare_ctx_check(&p->ctx, b, sizeof(b)) != 0)
		RS_BAD("new_threshold or new_custodians");
	a = json_object_get(j, "recipients");
	if (!json_is_array(a) || json_array_size(a) != p->ctx.n_new)
		RS_BAD("recipients");
	json_array_foreach(a, i, v) {
		rs_recip *r = &p->recips[i];

		if (rs_uint(v, "index", 1, RS_MAX, &r->index) != 0 ||
		    r->index != i + 1 || rs_hex(json_object_get(v, "key"), r->pk,
		    sizeof(r->pk)) != 0)
			RS_BAD("recipients");
		rs_name(v, r->name);
	}
	p->nrecips = json_array_size(a);
	if (rs_hex(json_object_get(tk, "public_key"), p->T, sizeof(p->T)) != 0 ||
	    rs_uint(tk, "generation", 1, VAULT_SHAREFILE_GENERATION_MAX,
	    &p->tk_gen) != 0 ||
	    rs_points(json_object_get(tk, "commitments"), p->k_old, p->C) != 0 ||
	    rs_points(json_object_get(tk, "public_shares"), p->n_old, p->V) != 0)
		RS_BAD("tenant_key");
	a = json_object_get(j, "dealings");
	if (!json_is_array(a) || json_array_size(a) > p->n_old)
		RS_BAD("dealings");
	prev = 0;
	json_array_foreach(a, i, v) {
		rs_dealing *d = &p->deals[i];
		json_t *sa = json_object_get(v, "sealed");

		if (rs_uint(v, "dealer_index", 1, p->n_old, &d->dealer) != 0 ||
		    d->dealer <= prev)
			RS_BAD("dealings (dealer_index, ascending)");
		prev = d->dealer;
		rs_name(v, d->name);
		d->E = malloc((size_t)p->ctx.k_new * VAULT_POINT_BYTES);
		d->sealed = malloc((size_t)p->ctx.n_new * VAULT_RESHARE_SEALED_BYTES);
		p->ndeals = i + 1;
		if (d->E == NULL || d->sealed == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		if (rs_points(json_object_get(v, "commitments"), p->ctx.k_new,
		    d->E) != 0)
			RS_BAD("a dealing's commitments");
		if (!json_is_array(sa) || json_array_size(sa) != p->ctx.n_new)
			RS_BAD("a dealing's sealed sub-shares");
		for (m = 0; m < p->ctx.n_new; m++)
			if (rs_hex(json_array_get(sa, m), d->sealed + m *
			    VAULT_RESHARE_SEALED_BYTES, VAULT_RESHARE_SEALED_BYTES) != 0)
				RS_BAD("a dealing's sealed sub-shares");
	}
	a = json_object_get(j, "reports");
	if (!json_is_array(a) || json_array_size(a) > p->ctx.n_new)
		RS_BAD("reports");
	json_array_foreach(a, i, v) {
		rs_report *r = &p->reports[i];
		json_t *bd = json_object_get(v, "bad_dealers"), *x;
		size_t k;

		if (rs_uint(v, "recipient_index", 1, p->ctx.n_new, &r->recipient) != 0 ||
		    rs_hex(json_object_get(v, "transcript"), r->transcript,
		    sizeof(r->transcript)) != 0 || !json_is_array(bd))
			RS_BAD("reports");
		rs_name(v, r->name);
		json_array_foreach(bd, k, x) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > (json_int_t)RS_MAX)
				RS_BAD("reports (bad_dealers)");
			r->bad[json_integer_value(x)] = 1;
		}
		p->nreports = i + 1;
	}
	v = json_object_get(j, "transcript");
	if (v != NULL && !json_is_null(v)) {
		if (rs_hex(v, p->transcript, sizeof(p->transcript)) != 0)
			RS_BAD("transcript");
		p->has_transcript = 1;
	}
	a = json_object_get(j, "qualified");
	if (a != NULL && !json_is_null(a)) {
		if (!json_is_array(a) || json_array_size(a) > p->n_old)
			RS_BAD("qualified");
		prev = 0;
		json_array_foreach(a, i, v) {
			json_int_t x = json_integer_value(v);

			if (!json_is_integer(v) || x <= (json_int_t)prev ||
			    x > (json_int_t)p->n_old)
				RS_BAD("qualified (ascending dealer indices)");
			p->q[i] = (unsigned)x;
			prev = p->q[i];
		}
		p->nq = json_array_size(a);
	}
#undef RS_BAD
	return 0;
}

/* GET /v1/reshares/ID and parse it.  0, or -1 printed. */
static int
rs_fetch(const rs_opts *o, rs_plan **out)
{
	char path[128], err[RS_ERR];
	json_t *j = NULL;
	rs_plan *p;

	*out = NULL;
	snprintf(path, sizeof(path), "/v1/reshares/%s", o->reshare);
	if (ctl_api_get_json(&o->api, "re-share", path, &j) != 0)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(j);
		ctl_fail("%s: out of memory", o->verb);
		return -1;
	}
	if (rs_plan_parse(j, p, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		rs_plan_free(&p);
		return -1;
	}
	if (strcmp(p->id, o->reshare) != 0) {
		ctl_fail("%s: the API answered with another re-share", o->verb);
		rs_plan_free(&p);
		return -1;
	}
	*out = p;
	return 0;
}

/* A parsed copy of a re-share body the API answered a POST with. */
static int
rs_plan_from_body(const rs_opts *o, const ctl_api_buf *b, rs_plan **out)
{
	json_error_t je;
	char err[RS_ERR];
	json_t *j = json_loadb(b->p != NULL ? b->p : "", b->len, 0, &je);
	rs_plan *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		json_decref(j);
	if (p == NULL || !json_is_object(j) ||
	    rs_plan_parse(j, p, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, p == NULL ? "out of memory" :
		    !json_is_object(j) ? "the API's answer is not a JSON object" : err);
		if (p != NULL && p->j == NULL)
			json_decref(j);
		rs_plan_free(&p);
		return -1;
	}
	*out = p;
	return 0;
}

static const rs_dealing *
rs_dealing_of(const rs_plan *p, unsigned dealer)
{
	size_t i;

	for (i = 0; i < p->ndeals; i++)
		if (p->deals[i].dealer == dealer)
			return &p->deals[i];
	return NULL;
}

static const rs_report *
rs_report_of(const rs_plan *p, unsigned recipient)
{
	size_t i;

	for (i = 0; i < p->nreports; i++)
		if (p->reports[i].recipient == recipient)
			return &p->reports[i];
	return NULL;
}

/* "1, 3" into buf. */
static const char *
rs_list(const unsigned *v, size_t n, char *buf, size_t cap)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used + 8 < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%u",
		    i ? ", " : "", v[i]);
	if (n == 0)
		snprintf(buf, cap, "none");
	return buf;
}

/* Recipients that have not reported, "2, 5". */
static const char *
rs_waiting(const rs_plan *p, char *buf, size_t cap)
{
	unsigned w[RS_MAX];
	size_t n = 0, j;

	for (j = 1; j <= p->ctx.n_new; j++)
		if (rs_report_of(p, (unsigned)j) == NULL)
			w[n++] = (unsigned)j;
	return rs_list(w, n, buf, cap);
}

static void
rs_key_id(const unsigned char pk[VAULT_RESHARE_PK_BYTES], char out[33])
{
	unsigned char id[VAULT_BOX_KEYID_BYTES];

	vault_box_key_id(pk, id);
	util_hex(out, id, sizeof(id));
}

/* The human summary (show, propose, approve, cancel). */
static void
rs_print(const rs_plan *p)
{
	char a[RS_SHOW + 1], b[RS_SHOW + 1], fp[VAULT_FINGERPRINT_HEX_BYTES];
	char kid[33], list[RS_MAX * 5], tid[UTIL_UUID_STRLEN + 1], tr[24];
	unsigned v[RS_MAX];
	size_t i, n;
	json_t *j = p->j, *fail = json_object_get(j, "failure");

	util_uuid_format(tid, p->ctx.tenant_id);
	if (vault_tenant_fingerprint(p->T, fp, sizeof(fp)) != 0)
		snprintf(fp, sizeof(fp), "?");
	printf("re-share %s\n", p->id);
	printf("  tenant:       %s (%s), key fingerprint %s\n", p->tenant, tid, fp);
	printf("  state:        %s\n", p->state);
	printf("  reason:       %s\n", ctl_api_str(j, "reason", a, sizeof(a)));
	if (p->to_gen != 0)
		printf("  generations:  %u -> %u\n", p->ctx.from_generation, p->to_gen);
	else
		printf("  generations:  %u -> %u (when finalised)\n",
		    p->ctx.from_generation, p->ctx.from_generation + 1);
	printf("  threshold:    %u -> %u\n", p->k_old, p->ctx.k_new);
	printf("  custodians:   %u -> %u\n", p->n_old, p->ctx.n_new);
	printf("  proposed by:  %s\n", ctl_api_str(json_object_get(j,
	    "proposed_by"), "name", a, sizeof(a)));
	printf("  approved by:  %s\n", ctl_api_str(json_object_get(j,
	    "approved_by"), "name", b, sizeof(b)));
	for (i = 0; i < p->nrecips; i++) {
		rs_key_id(p->recips[i].pk, kid);
		printf("  recipient %u:  %s, key id %s%s\n", p->recips[i].index,
		    p->recips[i].name, kid, rs_report_of(p, p->recips[i].index) ?
		    ", reported" : "");
	}
	for (i = 0; i < p->ndeals; i++)
		v[i] = p->deals[i].dealer;
	printf("  dealings in:  %s (%zu; %u needed)\n", rs_list(v, p->ndeals, list,
	    sizeof(list)), p->ndeals, p->k_old);
	for (i = 0; i < p->nreports; i++)
		v[i] = p->reports[i].recipient;
	printf("  reports in:   %s (%zu of %u)\n", rs_list(v, p->nreports, list,
	    sizeof(list)), p->nreports, p->ctx.n_new);
	for (n = 0, i = 1; i <= RS_MAX; i++) {
		size_t r;
		int named = 0;

		for (r = 0; r < p->nreports; r++)
			named |= p->reports[r].bad[i];
		if (named)
			v[n++] = (unsigned)i;
	}
	printf("  bad dealers:  %s\n", rs_list(v, n, list, sizeof(list)));
	if (p->nq > 0)
		printf("  qualified:    %s\n", rs_list(p->q, p->nq, list, sizeof(list)));
	if (p->has_transcript) {
		vault_reshare_digest_short(p->transcript, tr, sizeof(tr));
		printf("  transcript:   %s\n", tr);
	}
	if (json_is_string(fail))
		printf("  failure:      %s\n", ctl_api_str(j, "failure", a, sizeof(a)));
	fflush(stdout);
}

/* -- option parsing ------------------------------------------------------------ */

/* 0, 1 (--help printed) or the usage exit status. */
static int
rs_parse(int argc, char **argv, rs_opts *o)
{
	const char *allowed = NULL, *required = NULL, *name;
	char want[48];
	size_t i;
	int c, idx;

	memset(o, 0, sizeof(*o));
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 2) {
			fputs(ctl_reshare_usage, stdout);
			return 1;
		}
		return ctl_usage(ctl_reshare_usage, "tenant reshare: a subcommand is "
		    "required");
	}
	o->sub = argv[1];
	for (i = 0; i < sizeof(rs_subs) / sizeof(rs_subs[0]); i++)
		if (strcmp(o->sub, rs_subs[i].sub) == 0) {
			allowed = rs_subs[i].allowed;
			required = rs_subs[i].required;
		}
	if (allowed == NULL)
		return ctl_usage(ctl_reshare_usage, "tenant reshare: unknown "
		    "subcommand; one of propose, approve, cancel, show, list, deal, "
		    "receive, pin");
	snprintf(o->verb, sizeof(o->verb), "tenant reshare %s", o->sub);
	ctl_api_init(&o->api, o->verb);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", rs_long, &idx)) != -1) {
		if (c == '?' || c == ':')
			return ctl_usage(ctl_reshare_usage, "%s: unknown option or "
			    "missing value", o->verb);
		if (c == RS_O_HELP) {
			fputs(ctl_reshare_usage, stdout);
			return 1;
		}
		name = rs_long[idx].name;
		snprintf(want, sizeof(want), "|%s|", name);
		if (c == RS_O_KEY && strcmp(o->sub, "receive") == 0) {
			o->keyfile = optarg;     /* the recipient key file */
			continue;
		}
		if (c > RS_O_CA && strstr(allowed, want) == NULL)
			return ctl_usage(ctl_reshare_usage, "%s: --%s does not apply",
			    o->verb, name);
		switch (c) {
		case RS_O_API:        o->api.url = optarg; break;
		case RS_O_CERT:       o->api.cert = optarg; break;
		case RS_O_KEY:
		case RS_O_TLSKEY:     o->api.key = optarg; break;
		case RS_O_CA:         o->api.ca = optarg; break;
		case RS_O_RESHARE:    o->reshare = optarg; break;
		case RS_O_RECIPIENTS: o->recipients = optarg; break;
		case RS_O_REASON:     o->reason = optarg; break;
		case RS_O_SHARE:      o->share = optarg; break;
		case RS_O_PASS:       o->passfile = optarg; break;
		case RS_O_YES:        o->yes = 1; break;
		case RS_O_PIN:        o->pin = optarg; break;
		case RS_O_OUT:        o->out = optarg; break;
		case RS_O_SHAREPASS:  o->sharepass = optarg; break;
		case RS_O_GROUP:      o->group = optarg; break;
		case RS_O_JSON:       o->json = 1; break;
		case RS_O_D3P:        o->third_party = 1; break;
		case RS_O_THRESHOLD:
			if (ctl_parse_uint(optarg, 2, RS_MAX, &o->threshold) != 0)
				return ctl_usage(ctl_reshare_usage, "%s: --threshold "
				    "must be 2 to %u", o->verb, RS_MAX);
			break;
		case RS_O_WAIT:
			if (ctl_parse_long(optarg, 0, 7L * 86400L, &o->wait) != 0)
				return ctl_usage(ctl_reshare_usage, "%s: --wait must be "
				    "0 to 604800 seconds", o->verb);
			break;
		default:
			return ctl_usage(ctl_reshare_usage, "%s: --%s does not apply",
			    o->verb, name);
		}
	}
	if (optind != argc - 1)
		return ctl_usage(ctl_reshare_usage, "%s: unexpected argument",
		    o->verb);
	{
		static const struct { const char *n; size_t off; } req[] = {
			{ "reshare",    offsetof(rs_opts, reshare) },
			{ "recipients", offsetof(rs_opts, recipients) },
			{ "reason",     offsetof(rs_opts, reason) },
			{ "share",      offsetof(rs_opts, share) },
			{ "pin",        offsetof(rs_opts, pin) },
			{ "out",        offsetof(rs_opts, out) },
			{ "key",        offsetof(rs_opts, keyfile) },
		};

		for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
			snprintf(want, sizeof(want), "|%s|", req[i].n);
			if (strstr(required, want) != NULL &&
			    *(const char *const *)(const void *)((const char *)o +
			    req[i].off) == NULL)
				return ctl_usage(ctl_reshare_usage, "%s: --%s is "
				    "required", o->verb, req[i].n);
		}
		if (strstr(required, "|threshold|") != NULL && o->threshold == 0)
			return ctl_usage(ctl_reshare_usage, "%s: --threshold is "
			    "required", o->verb);
	}
	if (o->reshare != NULL) {
		unsigned char id[UTIL_UUID_BYTES];

		if (util_uuid_parse(id, o->reshare) != 0)
			return ctl_usage(ctl_reshare_usage, "%s: --reshare must be a "
			    "re-share id (uuid)", o->verb);
	}
	return ctl_api_check(&o->api, ctl_reshare_usage);
}

/* -- propose, approve, cancel, show, list ----------------------------------------- */

/* POST path with body (NULL: empty); the answer, a re-share, printed.
 * want: the success status. */
static int
rs_post_plan(const rs_opts *o, const char *path, const char *body, long want,
    const char *what, rs_plan **out)
{
	ctl_api_buf b;
	long status = 0;
	int rc = -1;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if (ctl_api_request(&o->api, "POST", path, body, &status, &b) != 0)
		goto out;
	if (status != want) {
		ctl_api_error(&o->api, what, status, &b);
		goto out;
	}
	rc = rs_plan_from_body(o, &b, out);
out:
	ctl_api_buf_free(&b);
	return rc;
}

static int
rs_propose(const rs_opts *o)
{
	rs_rfile *f = malloc(sizeof(*f));
	json_t *req = NULL, *arr = NULL;
	rs_plan *p = NULL;
	char err[RS_ERR], hex[RS_HEXPT + 1], *body = NULL;
	size_t i;
	int rc = CTL_EXIT_FAIL;

	if (f == NULL || (arr = json_array()) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	if (rs_rfile_load(o->recipients, 0, f, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (f->n < 2 || o->threshold > f->n) {
		ctl_fail("%s: %s lists %zu recipient(s): a %u-of-N re-share needs "
		    "N >= %u and N >= 2", o->verb, o->recipients, f->n, o->threshold,
		    o->threshold);
		goto out;
	}
	for (i = 0; i < f->n; i++) {
		util_hex(hex, f->r[i].pk, sizeof(f->r[i].pk));
		if (json_array_append_new(arr, json_pack("{s:s,s:s}", "name",
		    f->r[i].name, "key", hex)) != 0) {
			ctl_fail("%s: out of memory", o->verb);
			goto out;
		}
	}
	req = json_pack("{s:I,s:O,s:s}", "threshold", (json_int_t)o->threshold,
	    "recipients", arr, "reason", o->reason);
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	if (rs_post_plan(o, "/v1/reshares", body, 201, "refused", &p) != 0)
		goto out;
	rs_print(p);
	printf("proposed re-share %s: another admin approves it with `cofferctl "
	    "tenant reshare approve --reshare %s`\n", p->id, p->id);
	rc = CTL_EXIT_OK;
out:
	rs_plan_free(&p);
	free(body);
	json_decref(req);
	json_decref(arr);
	free(f);
	return rc;
}

static int
rs_act(const rs_opts *o, const char *action)
{
	rs_plan *p = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/v1/reshares/%s/%s", o->reshare, action);
	if (rs_post_plan(o, path, NULL, 200, "refused", &p) != 0)
		return CTL_EXIT_FAIL;
	rs_print(p);
	if (strcmp(action, "approve") == 0)
		printf("re-share %s approved: the old custodians deal with `cofferctl "
		    "tenant reshare deal --reshare %s`\n", p->id, p->id);
	else
		printf("re-share %s cancelled\n", p->id);
	rs_plan_free(&p);
	return CTL_EXIT_OK;
}

static int
rs_show(const rs_opts *o)
{
	rs_plan *p = NULL;

	if (rs_fetch(o, &p) != 0)
		return CTL_EXIT_FAIL;
	if (o->json) {
		json_dumpf(p->j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else
		rs_print(p);
	rs_plan_free(&p);
	return CTL_EXIT_OK;
}

static int
rs_list_cmd(const rs_opts *o)
{
	json_t *j = NULL, *v;
	char a[48], b[16], c[40];
	size_t i;

	if (ctl_api_get_json(&o->api, "list", "/v1/reshares", &j) != 0)
		return CTL_EXIT_FAIL;
	if (o->json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(j);
		return CTL_EXIT_OK;
	}
	printf("%-36s  %-9s  %-7s  %-5s  %s\n", "RESHARE", "STATE", "GEN",
	    "K/N", "CREATED");
	json_array_foreach(json_object_get(j, "reshares"), i, v) {
		char gen[32];
		json_t *to = json_object_get(v, "to_generation");

		if (json_is_integer(to))
			snprintf(gen, sizeof(gen), "%lld->%lld", (long long)
			    json_integer_value(json_object_get(v, "from_generation")),
			    (long long)json_integer_value(to));
		else
			snprintf(gen, sizeof(gen), "%lld->", (long long)
			    json_integer_value(json_object_get(v, "from_generation")));
		printf("%-36s  %-9s  %-7s  %lld/%-3lld  %s\n",
		    ctl_api_str(v, "reshare_id", a, sizeof(a)),
		    ctl_api_str(v, "state", b, sizeof(b)), gen,
		    (long long)json_integer_value(json_object_get(v, "new_threshold")),
		    (long long)json_integer_value(json_object_get(v, "new_custodians")),
		    ctl_api_str(v, "created_at", c, sizeof(c)));
	}
	json_decref(j);
	return CTL_EXIT_OK;
}

/* -- deal -------------------------------------------------------------------------- */

/* The plan's recipients are the file's, in order: 0, or -1 printed naming
 * the first difference. */
static int
rs_same_recipients(const rs_opts *o, const rs_plan *p, const rs_rfile *f)
{
	size_t i, n = p->nrecips > f->n ? p->nrecips : f->n;

	for (i = 0; i < n; i++) {
		if (i >= f->n) {
			ctl_fail("%s: recipient #%zu: the plan names '%s', %s has no "
			    "recipient #%zu", o->verb, i + 1, p->recips[i].name,
			    o->recipients, i + 1);
			return -1;
		}
		if (i >= p->nrecips) {
			ctl_fail("%s: recipient #%zu: %s names '%s', the plan has no "
			    "recipient #%zu", o->verb, i + 1, o->recipients,
			    f->r[i].name, i + 1);
			return -1;
		}
		if (strcmp(p->recips[i].name, f->r[i].name) != 0) {
			ctl_fail("%s: recipient #%zu: the plan names '%s', %s names "
			    "'%s'", o->verb, i + 1, p->recips[i].name, o->recipients,
			    f->r[i].name);
			return -1;
		}
		if (memcmp(p->recips[i].pk, f->r[i].pk, VAULT_RESHARE_PK_BYTES) != 0) {
			ctl_fail("%s: recipient #%zu: the plan's key for '%s' differs "
			    "from %s", o->verb, i + 1, p->recips[i].name, o->recipients);
			return -1;
		}
	}
	return 0;
}

/* 1 only for "yes" typed on the terminal. */
static int
rs_confirm(const char *verb, const char *question)
{
	char line[16];
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (tty == NULL) {
		ctl_fail("%s: no terminal to confirm on; pass --yes to go ahead "
		    "without asking", verb);
		return 0;
	}
	fprintf(tty, "%s Type 'yes' to go ahead: ", question);
	fflush(tty);
	ok = fgets(line, sizeof(line), tty) != NULL && strcmp(line, "yes\n") == 0;
	fclose(tty);
	return ok;
}

/* The served tenant key checked against the share file's header. */
static int
rs_deal_check_file(const rs_opts *o, const rs_plan *p,
    const vault_sharefile_info *info)
{
	if (memcmp(info->tenant_id, p->ctx.tenant_id, VAULT_ID_BYTES) != 0) {
		ctl_fail("%s: %s is a share of another tenant than re-share %s's",
		    o->verb, o->share, p->id);
		return -1;
	}
	if (memcmp(info->tenant_pk, p->T, VAULT_POINT_BYTES) != 0) {
		ctl_fail("%s: the tenant public key the API serves differs from "
		    "the one in %s (the database's tenant key is not the pinned one)",
		    o->verb, o->share);
		return -1;
	}
	if (info->generation != p->ctx.from_generation ||
	    p->tk_gen != p->ctx.from_generation) {
		ctl_fail("%s: this share file is of generation %u; the re-share "
		    "deals generation %u", o->verb, info->generation,
		    p->ctx.from_generation);
		return -1;
	}
	if (info->k != p->k_old || info->n != p->n_old ||
	    info->index < 1 || info->index > p->n_old) {
		ctl_fail("%s: %s is share %u of %u (threshold %u); the API serves "
		    "generation %u as %u-of-%u", o->verb, o->share, info->index,
		    info->n, info->k, p->ctx.from_generation, p->k_old, p->n_old);
		return -1;
	}
	if (info->holder != VAULT_SHARE_HOLDER_CUSTODIAN) {
		ctl_fail("%s: %s is held by a designated third party, not a "
		    "custodian: it does not deal", o->verb, o->share);
		return -1;
	}
	return 0;
}

static void
rs_deal_show(const rs_plan *p, const vault_sharefile_info *info)
{
	char a[RS_SHOW + 1], fp[VAULT_FINGERPRINT_HEX_BYTES], kid[33];
	size_t i;

	if (vault_tenant_fingerprint(p->T, fp, sizeof(fp)) != 0)
		snprintf(fp, sizeof(fp), "?");
	printf("Re-share %s\n", p->id);
	printf("  tenant:       %s, key fingerprint %s\n", p->tenant, fp);
	printf("  generation:   %u -> %u\n", p->ctx.from_generation,
	    p->ctx.from_generation + 1);
	printf("  threshold:    %u -> %u\n", p->k_old, p->ctx.k_new);
	printf("  custodians:   %u -> %u\n", p->n_old, p->ctx.n_new);
	printf("  reason:       %s\n", ctl_api_str(p->j, "reason", a, sizeof(a)));
	for (i = 0; i < p->nrecips; i++) {
		rs_key_id(p->recips[i].pk, kid);
		printf("  recipient %u:  %s, key id %s\n", p->recips[i].index,
		    p->recips[i].name, kid);
	}
	printf("  your share:   custodian %u of %u (threshold %u)\n", info->index,
	    info->n, info->k);
	fflush(stdout);
}

static int
rs_deal(const rs_opts *o)
{
	rs_rfile *f = malloc(sizeof(*f));
	rs_plan *p = NULL;
	vault_sharefile_info info;
	unsigned char *file = NULL, *share = NULL, *sub = NULL, *E = NULL;
	unsigned char sealed[VAULT_RESHARE_SEALED_BYTES], V[VAULT_POINT_BYTES];
	char err[RS_ERR], *pass = NULL, *body = NULL, path[128];
	char hex[RS_HEXSEALED + 1];
	json_t *req = NULL, *ce = NULL, *se = NULL;
	ctl_api_buf b;
	size_t flen = 0, sublen = 0, i;
	long status = 0;
	int rc = CTL_EXIT_FAIL;

	memset(&b, 0, sizeof(b));
	if (f == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		return CTL_EXIT_FAIL;
	}
	if (vault_init() != 0) {
		ctl_fail("%s: libsodium failed to initialise", o->verb);
		goto out;
	}
	if (util_check_secret_file(o->api.key, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (rs_rfile_load(o->recipients, 0, f, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (util_read_file(o->share, 65536, &file, &flen, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (vault_sharefile_inspect(file, flen, &info, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s: %s", o->verb, o->share, err);
		goto out;
	}
	if (rs_fetch(o, &p) != 0)
		goto out;
	if (strcmp(p->state, "dealing") != 0) {
		ctl_fail("%s: re-share %s is %s, not dealing%s", o->verb, p->id,
		    p->state, strcmp(p->state, "proposed") == 0 ? " (a second admin "
		    "approves it first)" : "");
		goto out;
	}
	if (rs_same_recipients(o, p, f) != 0 ||
	    rs_deal_check_file(o, p, &info) != 0)
		goto out;
	if (rs_dealing_of(p, info.index) != NULL) {
		ctl_fail("%s: custodian %u has already dealt in re-share %s",
		    o->verb, info.index, p->id);
		goto out;
	}
	rs_deal_show(p, &info);
	if (!o->yes && !rs_confirm(o->verb, "Deal sub-shares of your share to "
	    "these recipients?")) {
		ctl_fail("%s: not dealt", o->verb);
		goto out;
	}
	if ((pass = vault_secure_alloc(RS_PASS_MAX)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	if (util_read_passphrase(o->passfile, "Share passphrase: ", pass,
	    RS_PASS_MAX, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (vault_sharefile_open(file, flen, pass, strlen(pass), &info, &share,
	    err, sizeof(err)) != 0) {
		ctl_fail("%s: %s: %s", o->verb, o->share, err);
		goto out;
	}
	vault_secure_free(pass);
	pass = NULL;
	/* The share is the one the served commitments describe, and the V_i
	 * they imply is the public share served (E_0 will be checked
	 * against it by every recipient). */
	if (vault_tenant_verify_share(p->C, (size_t)p->k_old * VAULT_POINT_BYTES,
	    info.index, share, err, sizeof(err)) != 0 ||
	    vault_tenant_public_share(p->C, (size_t)p->k_old * VAULT_POINT_BYTES,
	    info.index, V, err, sizeof(err)) != 0 ||
	    memcmp(V, p->V + (size_t)(info.index - 1) * VAULT_POINT_BYTES,
	    sizeof(V)) != 0) {
		ctl_fail("%s: share %u of %s does not verify against the "
		    "commitments and public shares the API serves for generation %u; "
		    "nothing was sent", o->verb, info.index, o->share,
		    p->ctx.from_generation);
		goto out;
	}
	sublen = (size_t)p->ctx.n_new * VAULT_SCALAR_BYTES;
	E = malloc((size_t)p->ctx.k_new * VAULT_POINT_BYTES);
	sub = vault_secure_alloc(sublen);
	if (E == NULL || sub == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	if (vault_reshare_deal(&p->ctx, share, E, (size_t)p->ctx.k_new *
	    VAULT_POINT_BYTES, sub, sublen, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	vault_secure_free(share);
	share = NULL;
	if ((ce = json_array()) == NULL || (se = json_array()) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	for (i = 0; i < p->ctx.k_new; i++) {
		util_hex(hex, E + i * VAULT_POINT_BYTES, VAULT_POINT_BYTES);
		if (json_array_append_new(ce, json_string(hex)) != 0) {
			ctl_fail("%s: out of memory", o->verb);
			goto out;
		}
	}
	/* Sealed to the keys pinned in the recipients file (equal to the
	 * plan's, checked above). */
	for (i = 0; i < p->ctx.n_new; i++) {
		if (vault_reshare_seal(&p->ctx, info.index, (unsigned)i + 1,
		    f->r[i].pk, sub + i * VAULT_SCALAR_BYTES, sealed, err,
		    sizeof(err)) != 0) {
			ctl_fail("%s: recipient %zu: %s", o->verb, i + 1, err);
			goto out;
		}
		util_hex(hex, sealed, sizeof(sealed));
		if (json_array_append_new(se, json_string(hex)) != 0) {
			ctl_fail("%s: out of memory", o->verb);
			goto out;
		}
	}
	vault_wipe(sub, sublen);
	vault_secure_free(sub);
	sub = NULL;
	req = json_pack("{s:I,s:I,s:O,s:O}", "dealer_index",
	    (json_int_t)info.index, "generation", (json_int_t)info.generation,
	    "commitments", ce, "sealed", se);
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/reshares/%s/dealings", p->id);
	if (ctl_api_request(&o->api, "POST", path, body, &status, &b) != 0)
		goto out;
	if (status != 201) {
		ctl_api_error(&o->api, "dealing refused", status, &b);
		goto out;
	}
	printf("dealt: custodian %u → %u recipients (generation %u → %u)\n",
	    info.index, p->ctx.n_new, p->ctx.from_generation,
	    p->ctx.from_generation + 1);
	rc = CTL_EXIT_OK;
out:
	if (sub != NULL) {
		vault_wipe(sub, sublen);
		vault_secure_free(sub);
	}
	vault_secure_free(share);
	vault_secure_free(pass);
	if (file != NULL) {
		vault_wipe(file, flen);
		free(file);
	}
	vault_wipe(sealed, sizeof(sealed));
	ctl_api_buf_free(&b);
	free(body);
	free(E);
	json_decref(req);
	json_decref(ce);
	json_decref(se);
	rs_plan_free(&p);
	free(f);
	return rc;
}

/* -- pins ---------------------------------------------------------------------------- */

/* Load the tenant pin PATH (DIR/TENANT.pin: the name in the file must be
 * TENANT).  0, or -1 printed. */
static int
rs_pin_load(const rs_opts *o, pins_tenant *pin)
{
	char dir[4096], tenant[PINS_NAME_MAX + 8], err[RS_ERR];
	const char *slash = strrchr(o->pin, '/'), *base = slash ? slash + 1 : o->pin;
	size_t bl = strlen(base);

	if (bl <= 4 || strcmp(base + bl - 4, ".pin") != 0 ||
	    bl - 4 >= sizeof(tenant) || strlen(o->pin) >= sizeof(dir)) {
		ctl_fail("%s: --pin must name a tenant pin file TENANT.pin", o->verb);
		return -1;
	}
	memcpy(tenant, base, bl - 4);
	tenant[bl - 4] = '\0';
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == o->pin)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - o->pin), o->pin);
	if (pins_tenant_load(dir, tenant, pin, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		return -1;
	}
	return 0;
}

/* The generation the API serves is the one pinned: tenant, T, generation,
 * K, N, every commitment and public share.  0, or -1 printed. */
static int
rs_pin_compare(const rs_opts *o, const rs_plan *p, const pins_tenant *pin)
{
	const char *what = NULL;

	if (memcmp(pin->tenant_id, p->ctx.tenant_id, VAULT_ID_BYTES) != 0)
		what = "tenant id";
	else if (memcmp(pin->public_key, p->T, VAULT_POINT_BYTES) != 0)
		what = "tenant public key";
	else if (pin->generation != p->tk_gen ||
	    pin->generation != p->ctx.from_generation) {
		ctl_fail("%s: %s is the pin of generation %u; re-share %s deals "
		    "generation %u", o->verb, o->pin, pin->generation, p->id,
		    p->ctx.from_generation);
		return -1;
	} else if (pin->k != p->k_old || pin->n != p->n_old)
		what = "threshold or number of custodians";
	else if (memcmp(pin->commitments, p->C, (size_t)pin->k *
	    VAULT_POINT_BYTES) != 0)
		what = "commitments";
	else if (memcmp(pin->public_shares, p->V, (size_t)pin->n *
	    VAULT_POINT_BYTES) != 0)
		what = "public shares";
	if (what != NULL) {
		ctl_fail("%s: the %s the API serves for generation %u differs from "
		    "%s (the database's tenant key is not the pinned one)", o->verb,
		    what, p->ctx.from_generation, o->pin);
		return -1;
	}
	return 0;
}

/* The transcript over the dealings served (ascending dealer index). */
static int
rs_transcript(const rs_opts *o, const rs_plan *p,
    unsigned char out[VAULT_RESHARE_DIGEST_BYTES])
{
	unsigned char *pks = NULL, *E = NULL;
	unsigned dealers[RS_MAX];
	size_t i, elen = (size_t)p->ctx.k_new * VAULT_POINT_BYTES;
	char err[RS_ERR];
	int rc = -1;

	pks = malloc((size_t)p->ctx.n_new * VAULT_RESHARE_PK_BYTES);
	E = malloc((p->ndeals ? p->ndeals : 1) * elen);
	if (pks == NULL || E == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	for (i = 0; i < p->nrecips; i++)
		memcpy(pks + i * VAULT_RESHARE_PK_BYTES, p->recips[i].pk,
		    VAULT_RESHARE_PK_BYTES);
	for (i = 0; i < p->ndeals; i++) {
		dealers[i] = p->deals[i].dealer;
		memcpy(E + i * elen, p->deals[i].E, elen);
	}
	if (vault_reshare_transcript(&p->ctx, pks, dealers, p->ndeals, E, out,
	    err, sizeof(err)) != 0) {
		ctl_fail("%s: transcript: %s", o->verb, err);
		goto out;
	}
	rc = 0;
out:
	free(pks);
	free(E);
	return rc;
}

/* C' from the qualified dealings (each checked: E_0 is the dealer's
 * pinned public share) and T from the pin.  out: K' points. */
static int
rs_new_commitments(const rs_opts *o, const rs_plan *p, const pins_tenant *pin,
    unsigned char *out)
{
	size_t i, elen = (size_t)p->ctx.k_new * VAULT_POINT_BYTES;
	unsigned char *E = malloc((p->nq ? p->nq : 1) * elen);
	char err[RS_ERR];
	int rc = -1;

	if (E == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		return -1;
	}
	for (i = 0; i < p->nq; i++) {
		const rs_dealing *d = rs_dealing_of(p, p->q[i]);

		if (d == NULL) {
			ctl_fail("%s: the qualified set names dealer %u, whose dealing "
			    "the API does not serve", o->verb, p->q[i]);
			goto out;
		}
		if (vault_reshare_check_dealing(&p->ctx, d->E, elen,
		    pin->public_shares + (size_t)(d->dealer - 1) * VAULT_POINT_BYTES,
		    err, sizeof(err)) != 0) {
			ctl_fail("%s: dealer %u: %s", o->verb, d->dealer, err);
			goto out;
		}
		memcpy(E + i * elen, d->E, elen);
	}
	if (vault_reshare_commitments(&p->ctx, p->q, p->nq, E, pin->public_key,
	    out, elen, err, sizeof(err)) != 0) {
		ctl_fail("%s: the new commitments: %s", o->verb, err);
		goto out;
	}
	rc = 0;
out:
	free(E);
	return rc;
}

/* Finalised, with a qualified set of exactly K_old dealers, a transcript
 * every recipient reported.  0, or -1 printed. */
static int
rs_check_final(const rs_opts *o, const rs_plan *p,
    unsigned char tr[VAULT_RESHARE_DIGEST_BYTES])
{
	char s1[24], s2[24];
	size_t i;

	if (p->nq != p->k_old) {
		ctl_fail("%s: the qualified set has %zu dealers; generation %u "
		    "needs exactly %u", o->verb, p->nq, p->ctx.from_generation,
		    p->k_old);
		return -1;
	}
	if (p->to_gen != p->ctx.from_generation + 1) {
		ctl_fail("%s: the API serves no new generation for a finalised "
		    "re-share", o->verb);
		return -1;
	}
	if (rs_transcript(o, p, tr) != 0)
		return -1;
	vault_reshare_digest_short(tr, s1, sizeof(s1));
	if (p->has_transcript && memcmp(tr, p->transcript, sizeof(p->transcript))
	    != 0) {
		vault_reshare_digest_short(p->transcript, s2, sizeof(s2));
		ctl_fail("%s: the dealings served give transcript %s, the API "
		    "states %s", o->verb, s1, s2);
		return -1;
	}
	for (i = 0; i < p->nreports; i++)
		if (memcmp(p->reports[i].transcript, tr, sizeof(p->reports[i].
		    transcript)) != 0) {
			vault_reshare_digest_short(p->reports[i].transcript, s2,
			    sizeof(s2));
			ctl_fail("%s: recipient %u reported transcript %s, the "
			    "dealings served give %s", o->verb, p->reports[i].recipient,
			    s2, s1);
			return -1;
		}
	return 0;
}

static int
rs_pin(const rs_opts *o)
{
	pins_tenant *old = calloc(1, sizeof(*old)), *nw = calloc(1, sizeof(*nw));
	rs_plan *p = NULL;
	unsigned char tr[VAULT_RESHARE_DIGEST_BYTES];
	char err[RS_ERR], s[24], *text = NULL;
	const struct group *gr = NULL;
	size_t tlen = 0, j;
	int rc = CTL_EXIT_FAIL;

	if (old == NULL || nw == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	if (o->group != NULL && (gr = getgrnam(o->group)) == NULL) {
		ctl_fail("%s: --group %s: no such group", o->verb, o->group);
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (access(o->out, F_OK) == 0) {
		ctl_fail("%s: %s already exists; not overwriting a pin", o->verb,
		    o->out);
		goto out;
	}
	if (vault_init() != 0) {
		ctl_fail("%s: libsodium failed to initialise", o->verb);
		goto out;
	}
	if (rs_pin_load(o, old) != 0 || rs_fetch(o, &p) != 0)
		goto out;
	if (strcmp(p->state, "finalized") != 0) {
		ctl_fail("%s: re-share %s is %s, not finalized: no new generation "
		    "to pin", o->verb, p->id, p->state);
		goto out;
	}
	if (rs_pin_compare(o, p, old) != 0 || rs_check_final(o, p, tr) != 0)
		goto out;
	memcpy(nw->tenant_id, old->tenant_id, sizeof(nw->tenant_id));
	memcpy(nw->name, old->name, sizeof(nw->name));
	memcpy(nw->public_key, old->public_key, sizeof(nw->public_key));
	nw->generation = p->to_gen;
	nw->k = p->ctx.k_new;
	nw->n = p->ctx.n_new;
	if (rs_new_commitments(o, p, old, nw->commitments) != 0)
		goto out;
	for (j = 1; j <= nw->n; j++)
		if (vault_tenant_public_share(nw->commitments, (size_t)nw->k *
		    VAULT_POINT_BYTES, (unsigned)j, nw->public_shares + (j - 1) *
		    VAULT_POINT_BYTES, err, sizeof(err)) != 0) {
			ctl_fail("%s: public share %zu: %s", o->verb, j, err);
			goto out;
		}
	if (pins_tenant_encode(nw, &text, &tlen, err, sizeof(err)) != 0 ||
	    util_write_file(o->out, text, tlen, 0644, 0, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (gr != NULL && ctl_tenant_give(o->out, gr->gr_gid, o->group, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		(void)unlink(o->out);
		goto out;
	}
	vault_reshare_digest_short(tr, s, sizeof(s));
	printf("tenant pin %s: tenant %s generation %u, %u-of-%u, the same "
	    "public key; transcript %s\n", o->out, nw->name, nw->generation, nw->k,
	    nw->n, s);
	ctl_fail("install %s as %s.pin in the API's and the gateways' keys_dir: "
	    "the API refuses builds for the tenant until it is there", o->out,
	    nw->name);
	rc = CTL_EXIT_OK;
out:
	free(text);
	free(old);
	free(nw);
	rs_plan_free(&p);
	return rc;
}

/* -- receive ----------------------------------------------------------------------- */

typedef struct rs_rx {
	unsigned       me;                   /* recipient index j */
	unsigned char  pk[VAULT_RESHARE_PK_BYTES];
	unsigned char *sk;                   /* guarded */
	unsigned char *keyfile;
	size_t         keyfile_len;
} rs_rx;

/* Open the recipient key file (asked once). */
static int
rs_rx_unlock(const rs_opts *o, rs_rx *rx)
{
	vault_keyfile_info info;
	char err[RS_ERR], *pass;
	int rc = -1;

	if (rx->sk != NULL)
		return 0;
	if ((pass = vault_secure_alloc(RS_PASS_MAX)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		return -1;
	}
	if (util_read_passphrase(o->passfile, "Passphrase for the custodian key: ",
	    pass, RS_PASS_MAX, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (vault_keyfile_open(rx->keyfile, rx->keyfile_len, pass, strlen(pass),
	    &info, &rx->sk, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s: %s", o->verb, o->keyfile, err);
		goto out;
	}
	rc = 0;
out:
	vault_secure_free(pass);
	return rc;
}

/* Open and check the sub-share dealing d sealed to us, with V of the
 * dealer from the PIN.  0 good (sub in out); -1 with why in err, which
 * names the dealer ("dealer 2: …"). */
static int
rs_rx_open(const rs_plan *p, const rs_rx *rx, const pins_tenant *pin,
    const rs_dealing *d, unsigned char out[VAULT_SCALAR_BYTES], char *err,
    size_t err_len)
{
	char why[RS_ERR];

	if (vault_reshare_open(&p->ctx, d->dealer, rx->me, rx->pk, rx->sk,
	    d->sealed + (size_t)(rx->me - 1) * VAULT_RESHARE_SEALED_BYTES,
	    VAULT_RESHARE_SEALED_BYTES, out, err, err_len) != 0)
		return -1;
	if (vault_reshare_check_subshare(&p->ctx, d->E, (size_t)p->ctx.k_new *
	    VAULT_POINT_BYTES, pin->public_shares + (size_t)(d->dealer - 1) *
	    VAULT_POINT_BYTES, rx->me, out, why, sizeof(why)) != 0) {
		vault_wipe(out, VAULT_SCALAR_BYTES);
		snprintf(err, err_len, "dealer %u: %.400s", d->dealer, why);
		return -1;
	}
	return 0;
}

/* Check every dealing, report.  *p replaced by the API's answer. */
static int
rs_rx_report(const rs_opts *o, rs_plan **pp, const rs_rx *rx,
    const pins_tenant *pin)
{
	rs_plan *p = *pp, *np = NULL;
	unsigned char tr[VAULT_RESHARE_DIGEST_BYTES], *sub = NULL;
	char err[RS_ERR], hex[2 * VAULT_RESHARE_DIGEST_BYTES + 1], s[24];
	char path[128], *body = NULL;
	json_t *bad = json_array(), *req = NULL;
	ctl_api_buf b;
	size_t i;
	long status = 0;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (bad == NULL || (sub = vault_secure_alloc(VAULT_SCALAR_BYTES)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	for (i = 0; i < p->ndeals; i++) {
		const rs_dealing *d = &p->deals[i];

		if (rs_rx_open(p, rx, pin, d, sub, err, sizeof(err)) != 0) {
			printf("%s\n", err);
			if (json_array_append_new(bad, json_integer(d->dealer)) != 0) {
				ctl_fail("%s: out of memory", o->verb);
				goto out;
			}
		}
		vault_wipe(sub, VAULT_SCALAR_BYTES);
	}
	if (rs_transcript(o, p, tr) != 0)
		goto out;
	util_hex(hex, tr, sizeof(tr));
	req = json_pack("{s:I,s:O,s:s}", "recipient_index", (json_int_t)rx->me,
	    "bad_dealers", bad, "transcript", hex);
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/reshares/%s/reports", p->id);
	if (ctl_api_request(&o->api, "POST", path, body, &status, &b) != 0)
		goto out;
	if (status != 201) {
		ctl_api_error(&o->api, "report refused", status, &b);
		goto out;
	}
	vault_reshare_digest_short(tr, s, sizeof(s));
	printf("transcript %s: compare it with the other custodians\n", s);
	fflush(stdout);
	if (rs_plan_from_body(o, &b, &np) != 0)
		goto out;
	rs_plan_free(pp);
	*pp = np;
	rc = 0;
out:
	vault_secure_free(sub);
	ctl_api_buf_free(&b);
	free(body);
	json_decref(req);
	json_decref(bad);
	return rc;
}

/* The new share from the qualified dealers, checked, written. */
static int
rs_rx_combine(const rs_opts *o, const rs_plan *p, const rs_rx *rx,
    const pins_tenant *pin)
{
	unsigned char tr[VAULT_RESHARE_DIGEST_BYTES], *subs = NULL, *s = NULL;
	unsigned char *C = NULL;
	const rs_report *mine = rs_report_of(p, rx->me);
	vault_sharefile_info info;
	char err[RS_ERR], list[RS_MAX * 5];
	size_t i, clen = (size_t)p->ctx.k_new * VAULT_POINT_BYTES;
	int rc = -1;

	if (rs_check_final(o, p, tr) != 0)
		goto out;
	if (mine == NULL || memcmp(mine->transcript, tr, sizeof(tr)) != 0) {
		ctl_fail("%s: the dealings the API serves now are not the ones "
		    "you reported on: not combining", o->verb);
		goto out;
	}
	subs = vault_secure_alloc(p->nq * VAULT_SCALAR_BYTES);
	s = vault_secure_alloc(VAULT_SCALAR_BYTES);
	C = malloc(clen);
	if (subs == NULL || s == NULL || C == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		goto out;
	}
	for (i = 0; i < p->nq; i++) {
		const rs_dealing *d = rs_dealing_of(p, p->q[i]);

		if (d == NULL || mine->bad[p->q[i]] ||
		    rs_rx_open(p, rx, pin, d, subs + i * VAULT_SCALAR_BYTES, err,
		    sizeof(err)) != 0) {
			ctl_fail("%s: the qualified set (%s) includes dealer %u, whose "
			    "sub-share to you did not verify: not combining", o->verb,
			    rs_list(p->q, p->nq, list, sizeof(list)), p->q[i]);
			goto out;
		}
	}
	if (rs_new_commitments(o, p, pin, C) != 0)
		goto out;
	if (vault_reshare_combine(p->q, p->nq, subs, s, err, sizeof(err)) != 0 ||
	    vault_tenant_verify_share(C, clen, rx->me, s, err, sizeof(err)) != 0) {
		ctl_fail("%s: the new share: %s", o->verb, err);
		goto out;
	}
	vault_wipe(subs, p->nq * VAULT_SCALAR_BYTES);
	memset(&info, 0, sizeof(info));
	memcpy(info.tenant_id, pin->tenant_id, sizeof(info.tenant_id));
	memcpy(info.tenant_pk, pin->public_key, sizeof(info.tenant_pk));
	info.index = rx->me;
	info.n = p->ctx.n_new;
	info.k = p->ctx.k_new;
	info.generation = p->to_gen;
	info.holder = o->third_party ? VAULT_SHARE_HOLDER_THIRD_PARTY :
	    VAULT_SHARE_HOLDER_CUSTODIAN;
	info.opslimit = VAULT_SHAREFILE_OPSLIMIT_MODERATE;
	info.memlimit = VAULT_SHAREFILE_MEMLIMIT_MODERATE;
	if (ctl_share_write(&info, s, o->sharepass, o->out) != 0)
		goto out;
	printf("new share written: custodian %u of %u (threshold %u), "
	    "generation %u\n", info.index, info.n, info.k, info.generation);
	rc = 0;
out:
	if (subs != NULL) {
		vault_wipe(subs, p->nq * VAULT_SCALAR_BYTES);
		vault_secure_free(subs);
	}
	vault_secure_free(s);
	free(C);
	return rc;
}

/* Our index in the plan, by our key; the served generation is the pin's. */
static int
rs_rx_check_plan(const rs_opts *o, const rs_plan *p, rs_rx *rx,
    const pins_tenant *pin)
{
	char kid[33];
	size_t i;

	rx->me = 0;
	for (i = 0; i < p->nrecips; i++)
		if (memcmp(p->recips[i].pk, rx->pk, sizeof(rx->pk)) == 0)
			rx->me = p->recips[i].index;
	if (rx->me == 0) {
		rs_key_id(rx->pk, kid);
		ctl_fail("%s: the key in %s (key id %s) is not a recipient of "
		    "re-share %s", o->verb, o->keyfile, kid, p->id);
		return -1;
	}
	return rs_pin_compare(o, p, pin);
}

static int
rs_receive(const rs_opts *o)
{
	pins_tenant *pin = calloc(1, sizeof(*pin));
	vault_keyfile_info kinfo;
	rs_plan *p = NULL;
	rs_rx rx;
	char err[RS_ERR], list[RS_MAX * 5];
	time_t deadline = time(NULL) + o->wait;
	int rc = CTL_EXIT_FAIL;

	memset(&rx, 0, sizeof(rx));
	if (pin == NULL) {
		ctl_fail("%s: out of memory", o->verb);
		return CTL_EXIT_FAIL;
	}
	if (access(o->out, F_OK) == 0) {
		ctl_fail("%s: %s already exists; not overwriting a share file",
		    o->verb, o->out);
		goto out;
	}
	if (vault_init() != 0) {
		ctl_fail("%s: libsodium failed to initialise", o->verb);
		goto out;
	}
	if (util_check_secret_file(o->api.key, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (util_read_file(o->keyfile, 65536, &rx.keyfile, &rx.keyfile_len, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s: %s", o->verb, err);
		goto out;
	}
	if (vault_keyfile_inspect(rx.keyfile, rx.keyfile_len, &kinfo, err,
	    sizeof(err)) != 0) {
		ctl_fail("%s: %s: %s", o->verb, o->keyfile, err);
		goto out;
	}
	memcpy(rx.pk, kinfo.pk, sizeof(rx.pk));
	if (rs_pin_load(o, pin) != 0 || rs_fetch(o, &p) != 0 ||
	    rs_rx_check_plan(o, p, &rx, pin) != 0)
		goto out;
	for (;;) {
		if (strcmp(p->state, "cancelled") == 0) {
			ctl_fail("%s: re-share %s was cancelled", o->verb, p->id);
			goto out;
		}
		if (strcmp(p->state, "failed") == 0) {
			char a[RS_SHOW + 1];

			ctl_fail("%s: re-share %s failed: %s", o->verb, p->id,
			    ctl_api_str(p->j, "failure", a, sizeof(a)));
			goto out;
		}
		if (strcmp(p->state, "finalized") == 0)
			break;
		if (rs_report_of(p, rx.me) == NULL &&
		    strcmp(p->state, "dealing") == 0 && p->ndeals >= p->k_old) {
			if (rs_rx_unlock(o, &rx) != 0 ||
			    rs_rx_report(o, &p, &rx, pin) != 0 ||
			    rs_rx_check_plan(o, p, &rx, pin) != 0)
				goto out;
			continue;
		}
		if (time(NULL) >= deadline) {
			if (rs_report_of(p, rx.me) != NULL)
				ctl_fail("reported; the re-share is waiting for "
				    "recipients %s: run receive again", rs_waiting(p, list,
				    sizeof(list)));
			else
				ctl_fail("not reported: re-share %s is %s with %zu "
				    "dealing(s) in, %u needed: run receive again", p->id,
				    p->state, p->ndeals, p->k_old);
			rc = 3;
			goto out;
		}
		sleep(RS_POLL_S);
		rs_plan_free(&p);
		if (rs_fetch(o, &p) != 0 || rs_rx_check_plan(o, p, &rx, pin) != 0)
			goto out;
	}
	if (rs_rx_unlock(o, &rx) != 0 || rs_rx_combine(o, p, &rx, pin) != 0)
		goto out;
	rc = CTL_EXIT_OK;
out:
	vault_box_key_free(&rx.sk);
	if (rx.keyfile != NULL) {
		vault_wipe(rx.keyfile, rx.keyfile_len);
		free(rx.keyfile);
	}
	rs_plan_free(&p);
	free(pin);
	return rc;
}

/* -- dispatch ---------------------------------------------------------------------- */

int
ctl_tenant_reshare(int argc, char **argv)
{
	rs_opts o;
	int rc;

	if ((rc = rs_parse(argc, argv, &o)) != 0)
		return rc == 1 ? CTL_EXIT_OK : rc;
	if (strcmp(o.sub, "propose") == 0)
		return rs_propose(&o);
	if (strcmp(o.sub, "approve") == 0 || strcmp(o.sub, "cancel") == 0)
		return rs_act(&o, o.sub);
	if (strcmp(o.sub, "show") == 0)
		return rs_show(&o);
	if (strcmp(o.sub, "list") == 0)
		return rs_list_cmd(&o);
	if (strcmp(o.sub, "deal") == 0)
		return rs_deal(&o);
	if (strcmp(o.sub, "receive") == 0)
		return rs_receive(&o);
	return rs_pin(&o);
}

/* -- custodian keygen ---------------------------------------------------------------- */

int
ctl_cmd_custodian(int argc, char **argv)
{
	const char *name = NULL, *out = NULL, *passfile = NULL, *rfile = NULL;
	unsigned char file[VAULT_KEYFILE_BYTES];
	vault_keyfile_info info;
	char err[RS_ERR], hex[RS_HEXPT + 1];
	size_t flen = 0;
	int c, rc = CTL_EXIT_FAIL;

	if (argc < 2 || strcmp(argv[1], "keygen") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0)) {
			fputs(rs_keygen_usage, stdout);
			return CTL_EXIT_OK;
		}
		return ctl_usage(rs_keygen_usage, "custodian: the only subcommand "
		    "is 'keygen'");
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", rs_long, NULL)) != -1) {
		switch (c) {
		case RS_O_NAME:       name = optarg; break;
		case RS_O_OUT:        out = optarg; break;
		case RS_O_PASS:       passfile = optarg; break;
		case RS_O_RECIPIENTS: rfile = optarg; break;
		case RS_O_HELP:
			fputs(rs_keygen_usage, stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage(rs_keygen_usage, "custodian keygen: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(rs_keygen_usage, "custodian keygen: unexpected "
		    "argument");
	if (name == NULL || out == NULL)
		return ctl_usage(rs_keygen_usage, "custodian keygen: --name and "
		    "--out are required");
	if (names_check("user name", name, err, sizeof(err)) != 0) {
		ctl_fail("custodian keygen: %s", err);
		return CTL_EXIT_USAGE;
	}
	if (access(out, F_OK) == 0) {
		ctl_fail("custodian keygen: %s already exists; not overwriting a "
		    "key file", out);
		return CTL_EXIT_FAIL;
	}
	/* A name the recipients file already holds with another key is
	 * refused before a key exists. */
	if (rfile != NULL) {
		rs_rfile *f = malloc(sizeof(*f));
		size_t i;
		int clash = 0;

		if (f == NULL || rs_rfile_load(rfile, 1, f, err, sizeof(err)) != 0) {
			ctl_fail("custodian keygen: %s", f == NULL ? "out of memory" :
			    err);
			free(f);
			return CTL_EXIT_FAIL;
		}
		for (i = 0; i < f->n; i++)
			clash |= strcmp(f->r[i].name, name) == 0;
		free(f);
		if (clash) {
			ctl_fail("custodian keygen: %s: recipient %s is already listed "
			    "with another key", rfile, name);
			return CTL_EXIT_FAIL;
		}
	}
	memset(&info, 0, sizeof(info));   /* no tenant, no user: no database */
	if (ctl_keyfile_make(passfile, "custodian key", &info, file, sizeof(file),
	    &flen) != 0)
		goto out;
	if (util_write_file(out, file, flen, 0600, 0, err, sizeof(err)) != 0) {
		ctl_fail("custodian keygen: %s", err);
		goto out;
	}
	if (rfile != NULL && rs_rfile_append(rfile, name, info.pk, err,
	    sizeof(err)) != 0) {
		ctl_fail("custodian keygen: %s", err);
		if (unlink(out) != 0)
			ctl_fail("custodian keygen: could not remove %s: remove it by "
			    "hand", out);
		goto out;
	}
	util_hex(hex, info.pk, sizeof(info.pk));
	printf("recipient %s %s\n", name, hex);
	ctl_fail("custodian key for %s: secret key written to %s "
	    "(passphrase-protected; keep both safe)%s%s", name, out,
	    rfile != NULL ? "; public key appended to " : "",
	    rfile != NULL ? rfile : "");
	rc = CTL_EXIT_OK;
out:
	vault_wipe(file, sizeof(file));
	return rc;
}
