/* ctl/possession.c — `cofferctl share prove` and `cofferctl share health`:
 * share health, periodic proofs of possession (issue 16).
 *
 * share prove: unlock the share locally (passphrase), fetch a fresh
 * challenge from the API, check that it is for this share's tenant and
 * index, answer it (vault/possession.h: P = s_i·H on a point H this
 * machine derives from the challenge, with a Chaum-Pedersen proof) and
 * submit the answer; the API records the custodian as proven.  The share
 * is opened before anything is asked of the API: a share that does not
 * open sends nothing at all (no challenge is even fetched), and a slow
 * passphrase does not outlive a challenge.
 *
 * share health: the API's table of the current generation's seats
 * (proven, failed, not proven) and a summary line; exit 2 when fewer than
 * the threshold K are proven, for cron.
 *
 * Trusts: the share file once it opens; the API only as far as TLS with
 * the given CA proves it.  The API chooses only the challenge bytes, never
 * the point the share multiplies, so a hostile API cannot turn an answer
 * into a release partial.  Strings from the API are made printable and
 * capped before they are shown.  The share stays in guarded memory and
 * never leaves the machine.
 */
#include "ctl/ctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "ctl/apiclient.h"
#include "vault/mem.h"
#include "vault/possession.h"
#include "vault/sharefile.h"

#define POP_PASS_MAX 1024U
#define POP_ERR      512U
#define POP_EXIT_BELOW_K 2     /* share health: fewer than K proven */

const char ctl_possession_usage[] =
    "       cofferctl share prove --share FILE [--passphrase-file F]\n"
    "                             [--api URL] [--cert F --key F --ca F]\n"
    "       cofferctl share health [--json] [--api URL] [--cert F --key F --ca F]\n";

static const char pop_prove_usage[] =
    "usage: cofferctl share prove --share FILE [--passphrase-file F]\n"
    "                             [--api URL] [--cert F --key F --ca F]\n"
    "  custodian: prove to the API that this share still opens and is the\n"
    "  share of the current generation (a proof of possession on a fresh\n"
    "  challenge; nothing is released).  The share never leaves this machine.\n"
    "  defaults: --api $COFFER_API_URL, --cert $COFFER_CERT, --key $COFFER_KEY,\n"
    "  --ca $COFFER_CA.\n";

static const char pop_health_usage[] =
    "usage: cofferctl share health [--json] [--api URL] [--cert F --key F --ca F]\n"
    "  admin, auditor, custodian: which custodians of the tenant's current\n"
    "  share generation proved possession within the API's window.  Exit 0\n"
    "  when at least the threshold K did, 2 when fewer did, 1 on failure.\n"
    "  defaults: --api $COFFER_API_URL, --cert $COFFER_CERT, --key $COFFER_KEY,\n"
    "  --ca $COFFER_CA.\n";

enum { POP_OPT_SHARE = 1, POP_OPT_PASS, POP_OPT_API, POP_OPT_CERT,
       POP_OPT_KEY, POP_OPT_CA, POP_OPT_JSON, POP_OPT_HELP };

static const struct option pop_long[] = {
	{ "share",           required_argument, NULL, POP_OPT_SHARE },
	{ "passphrase-file", required_argument, NULL, POP_OPT_PASS },
	{ "api",             required_argument, NULL, POP_OPT_API },
	{ "cert",            required_argument, NULL, POP_OPT_CERT },
	{ "key",             required_argument, NULL, POP_OPT_KEY },
	{ "ca",              required_argument, NULL, POP_OPT_CA },
	{ "json",            no_argument,       NULL, POP_OPT_JSON },
	{ "help",            no_argument,       NULL, POP_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

typedef struct pop_opts {
	const char *share;
	const char *passfile;
	int         json;
	ctl_api     api;
} pop_opts;

/* argv[0] is "share", argv[1] the subcommand.  0 go on, -1 help printed,
 * else the usage exit status.  prove: --share required, --json refused;
 * health the reverse. */
static int
pop_parse(int argc, char **argv, int prove, pop_opts *o)
{
	const char *usage = prove ? pop_prove_usage : pop_health_usage;
	const char *verb = prove ? "share prove" : "share health";
	int c;

	memset(o, 0, sizeof(*o));
	ctl_api_init(&o->api, verb);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", pop_long, NULL)) != -1) {
		switch (c) {
		case POP_OPT_SHARE:
			if (!prove)
				goto unknown;
			o->share = optarg;
			break;
		case POP_OPT_PASS:
			if (!prove)
				goto unknown;
			o->passfile = optarg;
			break;
		case POP_OPT_JSON:
			if (prove)
				goto unknown;
			o->json = 1;
			break;
		case POP_OPT_API:  o->api.url = optarg; break;
		case POP_OPT_CERT: o->api.cert = optarg; break;
		case POP_OPT_KEY:  o->api.key = optarg; break;
		case POP_OPT_CA:   o->api.ca = optarg; break;
		case POP_OPT_HELP:
			fputs(usage, stdout);
			return -1;
		default:
			goto unknown;
		}
	}
	if (optind != argc - 1)
		return ctl_usage(usage, "%s: unexpected argument", verb);
	if (prove && o->share == NULL)
		return ctl_usage(usage, "%s: --share is required", verb);
	return ctl_api_check(&o->api, usage);
unknown:
	return ctl_usage(usage, "%s: unknown option or missing value", verb);
}

/* The challenge the API served, checked against the share: ids parse,
 * the tenant and index are the share file's.  0, or -1 printed. */
static int
pop_challenge(const json_t *j, const char *file,
    const vault_sharefile_info *info, char idstr[UTIL_UUID_STRLEN + 1],
    unsigned char ch[VAULT_POP_CHALLENGE_BYTES], uint32_t *generation)
{
	const char *id = json_string_value(json_object_get(j, "challenge_id"));
	const char *chh = json_string_value(json_object_get(j, "challenge"));
	const char *tid = json_string_value(json_object_get(j, "tenant_id"));
	json_int_t gen = json_integer_value(json_object_get(j, "generation"));
	json_int_t idx = json_integer_value(json_object_get(j, "custodian_index"));
	unsigned char cid[UTIL_UUID_BYTES], t[UTIL_UUID_BYTES];

	if (id == NULL || util_uuid_parse(cid, id) != 0 || chh == NULL ||
	    util_unhex(ch, VAULT_POP_CHALLENGE_BYTES, chh, strlen(chh)) != 0 ||
	    tid == NULL || util_uuid_parse(t, tid) != 0 ||
	    !json_is_integer(json_object_get(j, "generation")) || gen < 1 ||
	    gen > 0x7fffffff) {
		ctl_fail("share prove: the API sent a malformed challenge; nothing "
		    "was sent");
		return -1;
	}
	if (memcmp(t, info->tenant_id, sizeof(t)) != 0) {
		ctl_fail("share prove: %s is a share of another tenant than this "
		    "certificate's; nothing was sent", file);
		return -1;
	}
	if (idx != (json_int_t)info->index) {
		ctl_fail("share prove: this certificate holds custodian index %lld "
		    "of the current generation, but %s is share %u; nothing was "
		    "sent", (long long)idx, file, info->index);
		return -1;
	}
	util_uuid_format(idstr, cid);
	*generation = (uint32_t)gen;
	return 0;
}

int
ctl_share_prove(int argc, char **argv)
{
	pop_opts o;
	ctl_api_buf body;
	vault_sharefile_info info;
	unsigned char *file = NULL, *share = NULL;
	unsigned char ch[VAULT_POP_CHALLENGE_BYTES], ans[VAULT_POP_ANSWER_BYTES];
	char err[POP_ERR], *pass = NULL, *post = NULL, path[96];
	char cid[UTIL_UUID_STRLEN + 1], tbuf[CTL_API_SHOW + 1];
	char ph[2 * VAULT_POINT_BYTES + 1], pfh[2 * VAULT_POP_PROOF_BYTES + 1];
	const char *tenant;
	json_t *j = NULL;
	json_error_t je;
	uint32_t generation = 0;
	size_t flen = 0;
	long status = 0;
	int rc;

	memset(&body, 0, sizeof(body));
	if ((rc = pop_parse(argc, argv, 1, &o)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = CTL_EXIT_FAIL;
	if (vault_init() != 0) {
		ctl_fail("share prove: libsodium failed to initialise");
		return CTL_EXIT_FAIL;
	}
	if (util_check_secret_file(o.api.key, err, sizeof(err)) != 0) {
		ctl_fail("share prove: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (util_read_file(o.share, 65536, &file, &flen, err, sizeof(err)) != 0) {
		ctl_fail("share prove: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (vault_sharefile_inspect(file, flen, &info, err, sizeof(err)) != 0) {
		ctl_fail("share prove: share file does not open: %s", err);
		goto out;
	}
	if ((pass = vault_secure_alloc(POP_PASS_MAX)) == NULL) {
		ctl_fail("share prove: out of memory");
		goto out;
	}
	if (util_read_passphrase(o.passfile, "Share passphrase: ", pass,
	    POP_PASS_MAX, err, sizeof(err)) != 0) {
		ctl_fail("share prove: %s", err);
		goto out;
	}
	/* vault's one message for both: "wrong passphrase or corrupted share
	 * file" — a tampered file and a wrong passphrase look alike */
	if (vault_sharefile_open(file, flen, pass, strlen(pass), &info, &share,
	    err, sizeof(err)) != 0) {
		ctl_fail("share prove: share file does not open: %s", err);
		goto out;
	}
	vault_secure_free(pass);
	pass = NULL;

	if (ctl_api_request(&o.api, "POST", "/v1/possession/challenge", NULL,
	    &status, &body) != 0)
		goto out;
	if (status != 201) {
		ctl_api_error(&o.api, "challenge", status, &body);
		goto out;
	}
	if ((j = json_loadb(body.p != NULL ? body.p : "", body.len, 0, &je)) ==
	    NULL || !json_is_object(j)) {
		ctl_fail("share prove: the API's challenge is not a JSON object; "
		    "nothing was sent");
		goto out;
	}
	if (pop_challenge(j, o.share, &info, cid, ch, &generation) != 0)
		goto out;
	/* tbuf, or a static "-": it outlives j */
	tenant = ctl_api_str(j, "tenant", tbuf, sizeof(tbuf));
	if (vault_possession_prove(share, info.index, info.tenant_id, generation,
	    ch, ans, err, sizeof(err)) != 0) {
		ctl_fail("share prove: %s; nothing was sent", err);
		goto out;
	}
	vault_secure_free(share);
	share = NULL;
	util_hex(ph, ans, VAULT_POINT_BYTES);
	util_hex(pfh, ans + VAULT_POINT_BYTES, VAULT_POP_PROOF_BYTES);
	json_decref(j);
	if ((j = json_pack("{s:s, s:s}", "p", ph, "proof", pfh)) == NULL ||
	    (post = json_dumps(j, JSON_COMPACT)) == NULL) {
		ctl_fail("share prove: out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/possession/%s", cid);
	ctl_api_buf_free(&body);
	if (ctl_api_request(&o.api, "POST", path, post, &status, &body) != 0)
		goto out;
	if (status != 200) {
		ctl_api_error(&o.api, "possession", status, &body);
		goto out;
	}
	printf("custodian %u of tenant %s, generation %u: possession proven\n",
	    info.index, tenant, (unsigned)generation);
	rc = CTL_EXIT_OK;
out:
	vault_secure_free(share);
	vault_secure_free(pass);
	if (file != NULL) {
		vault_wipe(file, flen);
		free(file);
	}
	ctl_api_buf_free(&body);
	free(post);
	json_decref(j);
	return rc;
}

int
ctl_share_health(int argc, char **argv)
{
	pop_opts o;
	json_t *j = NULL, *v;
	char name[CTL_API_SHOW + 1], st[32], at[40];
	json_int_t k, proven;
	size_t i;
	int rc;

	if ((rc = pop_parse(argc, argv, 0, &o)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if (ctl_api_get_json(&o.api, "possession", "/v1/possession", &j) != 0)
		return CTL_EXIT_FAIL;
	k = json_integer_value(json_object_get(j, "threshold"));
	proven = json_integer_value(json_object_get(j, "proven"));
	if (!json_is_array(json_object_get(j, "custodians")) || k < 1 ||
	    !json_is_integer(json_object_get(j, "proven"))) {
		ctl_fail("share health: the API's answer is not the expected JSON "
		    "object");
		json_decref(j);
		return CTL_EXIT_FAIL;
	}
	if (o.json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		printf("%-5s  %-24s  %-10s  %s\n", "INDEX", "NAME", "STATUS",
		    "PROVEN_AT");
		json_array_foreach(json_object_get(j, "custodians"), i, v)
			printf("%-5lld  %-24s  %-10s  %s\n", (long long)
			    json_integer_value(json_object_get(v, "index")),
			    ctl_api_str(v, "name", name, sizeof(name)),
			    ctl_api_str(v, "status", st, sizeof(st)),
			    ctl_api_str(v, "proven_at", at, sizeof(at)));
		printf("proven %lld of %zu (threshold %lld)\n", (long long)proven,
		    json_array_size(json_object_get(j, "custodians")),
		    (long long)k);
	}
	json_decref(j);
	return proven < k ? POP_EXIT_BELOW_K : CTL_EXIT_OK;
}
