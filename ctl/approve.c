/* ctl/approve.c — `cofferctl approve`: a custodian's approval of a matter,
 * as threshold-decryption partials computed on the custodian's machine.
 *
 * Flow: fetch the matter over mutual TLS (libcurl, the custodian's people
 * certificate), show what is being released (title, legal basis, scope,
 * time range, epochs, records), ask for confirmation and the share
 * passphrase, unlock the share locally, and for every epoch of the matter
 * check that the API's blinded point R' is a known multiple of the epoch's
 * own R (its proof), compute P'_i = s_i·R' with its Chaum-Pedersen proof
 * bound to tenant, matter, epoch, the matter's frozen recipient key and
 * the custodian index (vault/threshold.h); POST them.  The custodian never
 * answers the real R: stored answers cannot be combined into a release.
 *
 * Trusts: the share file once it opens under the passphrase, and the API
 * only as far as TLS with the given CA proves its identity.  Everything the
 * API sends is data to check: ids must parse, R must be a valid group
 * element (vault_threshold_partial refuses others), strings shown to the
 * custodian are made printable and capped.  The share never leaves guarded
 * memory and never leaves the machine; only P_i and the proof are sent
 * (they reveal nothing of s_i beyond what V_i = s_i·B already does).
 */
#include "ctl/ctl.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "ctl/apiclient.h"
#include "ctl/pins.h"
#include "vault/mem.h"
#include "vault/sharefile.h"
#include "vault/threshold.h"

#define AP_ERR        512U
#define AP_PASS_MAX   1024U
#define AP_SHOW       CTL_API_SHOW

static const char ap_usage_text[] =
    "usage: cofferctl approve --matter M --share FILE [--passphrase-file F]\n"
    "                         [--api URL] [--cert F --key F --ca F] [--nodes F] [--yes]\n"
    "  defaults: --api $COFFER_API_URL, --cert $COFFER_CERT, --key $COFFER_KEY,\n"
    "  --ca $COFFER_CA, --nodes $COFFER_NODE_PINS (gateway node keys pinned by\n"
    "  `node init --pins`: every epoch must be signed by one of them).  Shows the matter, asks for confirmation (unless --yes)\n"
    "  and the share passphrase, and submits this custodian's partials.  The\n"
    "  share never leaves this machine.\n";

typedef struct ap_opts {
	const char *matter;
	const char *share;
	const char *passfile;
	ctl_api     api;
	const char *nodes;              /* node pins (issue 12) */
	int         yes;
} ap_opts;

/* Ask on the terminal; 1 only for "yes". */
static int
ap_confirm(void)
{
	char line[16];
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (tty == NULL) {
		ctl_fail("approve: no terminal to confirm on; pass --yes to "
		    "approve without asking");
		return 0;
	}
	fputs("Approve the release of these records? Type 'yes' to approve: ", tty);
	fflush(tty);
	ok = fgets(line, sizeof(line), tty) != NULL &&
	    strcmp(line, "yes\n") == 0;
	fclose(tty);
	return ok;
}

static void
ap_show(json_t *m, const char *matter_id, size_t nepochs)
{
	char a[AP_SHOW + 1], b[AP_SHOW + 1];
	json_t *scope = json_object_get(m, "scope"), *ch, *v;
	size_t i;

	printf("Matter %s\n", matter_id);
	printf("  title:        %s\n", ctl_api_str(m, "title", a, sizeof(a)));
	printf("  legal basis:  %s\n", ctl_api_str(m, "legal_basis", a, sizeof(a)));
	printf("  requested by: %s\n", ctl_api_str(json_object_get(m, "requester"),
	    "name", a, sizeof(a)));
	printf("  state:        %s\n", ctl_api_str(m, "state", a, sizeof(a)));
	printf("  time range:   %s .. %s", ctl_api_str(scope, "from", a, sizeof(a)),
	    ctl_api_str(scope, "to", b, sizeof(b)));
	printf(" (clock: %s)\n", ctl_api_str(scope, "time_clock", a, sizeof(a)));
	printf("  scope:        %lld participant(s), %lld conversation(s), "
	    "channels: ", (long long)json_integer_value(json_object_get(scope,
	    "participants")), (long long)json_integer_value(json_object_get(scope,
	    "conversations")));
	ch = json_object_get(scope, "channels");
	if (json_array_size(ch) == 0)
		printf("all");
	json_array_foreach(ch, i, v) {
		const char *s = json_string_value(v);

		printf("%s%s", i ? ", " : "", s ? log_printable(a, 32, s, strlen(s)) :
		    "?");
	}
	printf("\n");
	/* As legal typed them (issue 15.4): whose records are released. */
	json_array_foreach(json_object_get(scope, "participants_entered"), i, v) {
		const char *s = json_string_value(v);

		printf("%s%s", i ? ", " : "  participants: ", s ? log_printable(a,
		    sizeof(a), s, strlen(s)) : "?");
	}
	if (json_array_size(json_object_get(scope, "participants_entered")) > 0)
		printf("\n");
	/* the seed that sealed them is gone (api/blind.h): say so, not
	 * nothing, so the custodian asks before releasing */
	if (json_is_string(json_object_get(scope,
	    "participants_entered_unavailable"))) {
		const char *s = json_string_value(json_object_get(scope,
		    "participants_entered_unavailable"));

		printf("  participants: as entered unavailable: %s\n",
		    log_printable(a, sizeof(a), s, strlen(s)));
	}
	if (json_is_integer(json_object_get(m, "record_count")))
		printf("  records:      %lld in scope\n", (long long)json_integer_value(
		    json_object_get(m, "record_count")));
	printf("  epochs:       %zu (one partial each)\n", nepochs);
	if (json_is_integer(json_object_get(m, "threshold")))
		printf("  approvals:    %zu of %lld so far\n",
		    json_array_size(json_object_get(m, "approvals")),
		    (long long)json_integer_value(json_object_get(m, "threshold")));
	fflush(stdout);
}

enum { AP_OPT_MATTER = 1, AP_OPT_SHARE, AP_OPT_PASS, AP_OPT_API, AP_OPT_CERT,
       AP_OPT_KEY, AP_OPT_CA, AP_OPT_YES, AP_OPT_HELP, AP_OPT_NODES };

static const struct option ap_long[] = {
	{ "matter",          required_argument, NULL, AP_OPT_MATTER },
	{ "share",           required_argument, NULL, AP_OPT_SHARE },
	{ "passphrase-file", required_argument, NULL, AP_OPT_PASS },
	{ "api",             required_argument, NULL, AP_OPT_API },
	{ "cert",            required_argument, NULL, AP_OPT_CERT },
	{ "key",             required_argument, NULL, AP_OPT_KEY },
	{ "ca",              required_argument, NULL, AP_OPT_CA },
	{ "yes",             no_argument,       NULL, AP_OPT_YES },
	{ "nodes",           required_argument, NULL, AP_OPT_NODES },
	{ "help",            no_argument,       NULL, AP_OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static int
ap_parse(int argc, char **argv, ap_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	ctl_api_init(&o->api, "approve");
	o->nodes = getenv("COFFER_NODE_PINS");
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", ap_long, NULL)) != -1) {
		switch (c) {
		case AP_OPT_MATTER: o->matter = optarg; break;
		case AP_OPT_SHARE:  o->share = optarg; break;
		case AP_OPT_PASS:   o->passfile = optarg; break;
		case AP_OPT_API:    o->api.url = optarg; break;
		case AP_OPT_CERT:   o->api.cert = optarg; break;
		case AP_OPT_KEY:    o->api.key = optarg; break;
		case AP_OPT_CA:     o->api.ca = optarg; break;
		case AP_OPT_YES:    o->yes = 1; break;
		case AP_OPT_NODES:  o->nodes = optarg; break;
		case AP_OPT_HELP:
			fputs(ap_usage_text, stdout);
			return -1;
		default:
			return ctl_usage(ap_usage_text, "approve: unknown "
			    "option or missing value");
		}
	}
	if (optind != argc)
		return ctl_usage(ap_usage_text, "approve: unexpected argument");
	if (o->matter == NULL || o->share == NULL)
		return ctl_usage(ap_usage_text, "approve: --matter and --share "
		    "are required");
	return ctl_api_check(&o->api, ap_usage_text);
}

/* Partials for every epoch: [{"epoch_id","p","c","z"}]. */
static json_t *
ap_partials(json_t *epochs, const unsigned char *share,
    const vault_sharefile_info *info, const unsigned char matter[16],
    const unsigned char recipient[VAULT_RECIPIENT_BYTES])
{
	json_t *out = json_array(), *ep;
	char err[AP_ERR];
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(epochs, i, ep) {
		const char *eid = json_string_value(json_object_get(ep, "epoch_id"));
		const char *rh = json_string_value(json_object_get(ep, "r"));
		const char *rbh = json_string_value(json_object_get(ep, "rb"));
		const char *bph = json_string_value(json_object_get(ep, "bp"));
		unsigned char epoch[16], R[VAULT_POINT_BYTES], Rb[VAULT_POINT_BYTES];
		unsigned char bp[VAULT_PROOF_BYTES];
		vault_release_ctx ctx;
		char ph[2 * VAULT_POINT_BYTES + 1], ch[65], zh[65];
		vault_partial part;
		json_t *o;

		if (eid == NULL || util_uuid_parse(epoch, eid) != 0 || rh == NULL ||
		    util_unhex(R, sizeof(R), rh, strlen(rh)) != 0) {
			ctl_fail("approve: the API sent a malformed epoch "
			    "(entry %zu)", i);
			goto fail;
		}
		if (rbh == NULL || bph == NULL ||
		    util_unhex(Rb, sizeof(Rb), rbh, strlen(rbh)) != 0 ||
		    util_unhex(bp, sizeof(bp), bph, strlen(bph)) != 0) {
			ctl_fail("approve: epoch %s: the API sent no blinded "
			    "point (an API older "
			    "than the blinded release?); nothing was sent", eid);
			goto fail;
		}
		vault_release_ctx_init(&ctx, info->tenant_id, matter, epoch,
		    recipient);
		/* R' = R (ρ = 1) would be the unblinded answer itself; R' equal
		 * to another epoch's R would answer that epoch. */
		{
			json_t *o2;
			size_t j;

			json_array_foreach(epochs, j, o2) {
				const char *r2 = json_string_value(json_object_get(o2, "r"));

				if (r2 != NULL && strcasecmp(r2, rbh) == 0) {
					ctl_fail("approve: epoch %s: the API "
					    "asks for an answer on an "
					    "epoch's own R, not a blinded point; nothing was "
					    "sent", eid);
					goto fail;
				}
			}
		}
		/* Answer R' only if it is a known multiple of this epoch's own
		 * R: otherwise the partial could open another epoch. */
		if (vault_blind_verify(&ctx, R, Rb, bp, err, sizeof(err)) != 0) {
			ctl_fail("approve: epoch %s: %s; nothing was "
			    "sent", eid, err);
			goto fail;
		}
		if (vault_threshold_partial(share, info->index, &ctx, Rb, &part, err,
		    sizeof(err)) != 0) {
			ctl_fail("approve: epoch %s: %s", eid, err);
			goto fail;
		}
		util_hex(ph, part.P, sizeof(part.P));
		util_hex(ch, part.proof, 32);
		util_hex(zh, part.proof + 32, 32);
		o = json_pack("{s:s,s:s,s:s,s:s}", "epoch_id", eid, "p", ph, "c", ch,
		    "z", zh);
		if (o == NULL || json_array_append_new(out, o) != 0) {
			ctl_fail("approve: out of memory");
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Issue 16: with "keys" (an API that knows key rotation), narrow the
 * matter to the share's key: its entry becomes "tenant_key" and "epochs"
 * keeps the epochs under it; *gen becomes the generation the share must
 * be of.  A share whose key the matter does not use is refused by name; a
 * re-shared (retired) one is left to the caller's generation checks.
 * 0, or -1 after ctl_fail. */
static int
ap_pick_key(json_t *m, const vault_sharefile_info *info, const char *path,
    const char *matter_id, json_int_t *gen)
{
	json_t *keys = json_object_get(m, "keys"), *v, *mine = NULL, *eps;
	json_int_t keygen = 0;
	char tph[2 * VAULT_POINT_BYTES + 1];
	size_t i;

	if (!json_is_array(keys) || json_array_size(keys) == 0)
		return 0;               /* an older API, or no epochs */
	util_hex(tph, info->tenant_pk, VAULT_POINT_BYTES);
	json_array_foreach(keys, i, v) {
		const char *pk = json_string_value(json_object_get(v, "public_key"));
		json_int_t g = json_integer_value(json_object_get(v, "generation"));

		if (g == (json_int_t)info->generation)
			mine = v;
		if (pk != NULL && strcasecmp(pk, tph) == 0)
			keygen = g;
	}
	if (mine == NULL) {
		if (keygen > (json_int_t)info->generation) {
			*gen = keygen;      /* re-shared: the retired message */
			return 0;
		}
		if ((json_int_t)info->generation > *gen)
			return 0;           /* newer than the API's: its message */
		ctl_fail("approve: matter %s has no records under generation %u's "
		    "key: that share is not needed (%s)", matter_id,
		    info->generation, path);
		return -1;
	}
	if ((eps = json_array()) == NULL)
		goto oom;
	json_array_foreach(json_object_get(m, "epochs"), i, v)
		if (json_integer_value(json_object_get(v, "key_generation")) ==
		    (json_int_t)info->generation &&
		    json_array_append(eps, v) != 0) {
			json_decref(eps);
			goto oom;
		}
	/* The newest key stays checked as served in "tenant_key" (the
	 * tenant_keys row, what pins.sh swaps); an older key by its entry. */
	if (json_object_set_new(m, "epochs", eps) != 0 ||
	    ((json_int_t)info->generation != *gen &&
	    json_object_set(m, "tenant_key", mine) != 0))
		goto oom;
	*gen = (json_int_t)info->generation;
	return 0;
oom:
	ctl_fail("approve: out of memory");
	return -1;
}

int
ctl_cmd_approve(int argc, char **argv)
{
	ap_opts o;
	ctl_api_buf body;
	json_t *m = NULL, *who = NULL, *epochs, *parts = NULL, *req = NULL, *v;
	json_error_t je;
	vault_sharefile_info info;
	unsigned char matter[16], tid[16], *file = NULL, *share = NULL;
	unsigned char recipient[VAULT_RECIPIENT_BYTES];
	char path[256], err[AP_ERR], *pass = NULL, *post = NULL, shown[AP_SHOW + 1];
	const char *s;
	size_t flen = 0, i;
	long status = 0;
	json_int_t gen, who_idx = 0;
	int rc;

	memset(&body, 0, sizeof(body));
	if ((rc = ap_parse(argc, argv, &o)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = CTL_EXIT_FAIL;
	if (util_uuid_parse(matter, o.matter) != 0)
		return ctl_usage(ap_usage_text, "approve: --matter must be a "
		    "matter id (uuid)");
	if (vault_init() != 0) {
		ctl_fail("approve: libsodium failed to initialise");
		return CTL_EXIT_FAIL;
	}
	if (util_check_secret_file(o.api.key, err, sizeof(err)) != 0) {
		ctl_fail("approve: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (util_read_file(o.share, 65536, &file, &flen, err, sizeof(err)) != 0) {
		ctl_fail("approve: %s", err);
		return CTL_EXIT_FAIL;
	}
	if (vault_sharefile_inspect(file, flen, &info, err, sizeof(err)) != 0) {
		ctl_fail("approve: %s: %s", o.share, err);
		goto out;
	}

	/* Who the API thinks we are: a custodian holding this share's index. */
	if (ctl_api_request(&o.api, "GET", "/v1/whoami", NULL, &status, &body) != 0)
		goto out;
	if (status == 200 && (who = json_loadb(body.p, body.len, 0, &je)) != NULL) {
		json_int_t idx = json_integer_value(json_object_get(who,
		    "custodian_index"));

		if ((s = json_string_value(json_object_get(who, "role"))) != NULL &&
		    strcmp(s, "custodian") != 0) {
			ctl_fail("approve: this certificate is a %s's, not a "
			    "custodian's",
			    log_printable(shown, 32, s, strlen(s)));
			goto out;
		}
		who_idx = idx;
		s = json_string_value(json_object_get(who, "tenant_id"));
		if (s == NULL)
			s = json_string_value(json_object_get(who, "tenant"));
		if (s != NULL && util_uuid_parse(tid, s) == 0 &&
		    memcmp(tid, info.tenant_id, sizeof(tid)) != 0) {
			ctl_fail("approve: %s is a share of another tenant "
			    "than this certificate's", o.share);
			goto out;
		}
	} else if (status != 200 && status != 404) {
		ctl_api_error(&o.api, "whoami", status, &body);
		goto out;
	}
	free(body.p);
	memset(&body, 0, sizeof(body));

	snprintf(path, sizeof(path), "/v1/matters/%s", o.matter);
	if (ctl_api_request(&o.api, "GET", path, NULL, &status, &body) != 0)
		goto out;
	if (status != 200) {
		ctl_api_error(&o.api, "matter", status, &body);
		goto out;
	}
	if ((m = json_loadb(body.p, body.len, 0, &je)) == NULL ||
	    !json_is_object(m) || !json_is_array(epochs = json_object_get(m,
	    "epochs"))) {
		ctl_fail("approve: the API's matter is not the expected JSON "
		    "object");
		goto out;
	}
	s = json_string_value(json_object_get(m, "matter_id"));
	if (s != NULL && strcmp(s, o.matter) != 0) {
		ctl_fail("approve: the API answered with another matter");
		goto out;
	}
	s = json_string_value(json_object_get(m, "tenant_id"));
	if (s != NULL && (util_uuid_parse(tid, s) != 0 ||
	    memcmp(tid, info.tenant_id, sizeof(tid)) != 0)) {
		ctl_fail("approve: %s is a share of another tenant than matter "
		    "%s's", o.share,
		    o.matter);
		goto out;
	}
	if ((s = json_string_value(json_object_get(m, "state"))) != NULL &&
	    strcmp(s, "closed") == 0) {
		ctl_fail("approve: matter %s is closed", o.matter);
		goto out;
	}
	/* Share generations (issue 16): only the current generation's shares
	 * are accepted; an older one is retired by a re-share. */
	gen = json_integer_value(json_object_get(json_object_get(m,
	    "tenant_key"), "generation"));
	if (gen < 1)
		gen = 1;                /* an API from before share generations */
	/* Rotated tenants (issue 16): the share answers only the epochs
	 * under its own key, checked against that key's entry in "keys". */
	if (ap_pick_key(m, &info, o.share, o.matter, &gen) != 0)
		goto out;
	epochs = json_object_get(m, "epochs");
	if ((json_int_t)info.generation < gen) {
		ctl_fail("approve: %s is a share of generation %u; the tenant key "
		    "was re-shared and is at generation %lld: this share is "
		    "retired (approve with your generation-%lld share file)",
		    o.share, info.generation, (long long)gen, (long long)gen);
		goto out;
	}
	if ((json_int_t)info.generation > gen) {
		ctl_fail("approve: %s is a share of generation %u, newer than the "
		    "API's generation %lld", o.share, info.generation,
		    (long long)gen);
		goto out;
	}
	/* After the generation: a retired share's index may belong to
	 * someone else now, and the generation is the reason to give. */
	if (who_idx != 0 && who_idx != (json_int_t)info.index) {
		ctl_fail("approve: this certificate belongs to "
		    "custodian %lld, but %s is "
		    "share %u", (long long)who_idx, o.share, info.index);
		goto out;
	}
	json_array_foreach(json_object_get(m, "approvals"), i, v) {
		json_int_t ag = json_integer_value(json_object_get(v, "generation"));

		if ((ag == 0 || ag == gen) &&
		    json_integer_value(json_object_get(v, "custodian_index")) ==
		    (json_int_t)info.index) {
			ctl_fail("approve: custodian %u has already approved "
			    "matter %s",
			    info.index, o.matter);
			goto out;
		}
	}
	if (json_array_size(epochs) == 0) {
		ctl_fail("approve: matter %s has no records in scope: nothing "
		    "to approve",
		    o.matter);
		goto out;
	}
	if (ctl_pins_check_matter(m, &info, o.share, o.matter, o.nodes) != 0)
		goto out;
	s = json_string_value(json_object_get(m, "recipient_key"));
	if (s == NULL || util_unhex(recipient, sizeof(recipient), s,
	    strlen(s)) != 0) {
		ctl_fail("approve: matter %s has no production recipient key "
		    "frozen: it cannot be released", o.matter);
		goto out;
	}
	ap_show(m, o.matter, json_array_size(epochs));
	printf("  recipient:    production key %.16s… (frozen at creation)\n", s);
	printf("  your share:   custodian %u of %u (threshold %u), generation %u\n",
	    info.index, info.n, info.k, info.generation);
	fflush(stdout);
	if (!o.yes && !ap_confirm()) {
		ctl_fail("approve: not approved");
		goto out;
	}

	if ((pass = vault_secure_alloc(AP_PASS_MAX)) == NULL) {
		ctl_fail("approve: out of memory");
		goto out;
	}
	if (util_read_passphrase(o.passfile, "Share passphrase: ", pass,
	    AP_PASS_MAX, err, sizeof(err)) != 0) {
		ctl_fail("approve: %s", err);
		goto out;
	}
	if (vault_sharefile_open(file, flen, pass, strlen(pass), &info, &share,
	    err, sizeof(err)) != 0) {
		ctl_fail("approve: %s: %s", o.share, err);
		goto out;
	}
	vault_secure_free(pass);
	pass = NULL;
	if (ctl_pins_check_share(m, share, &info, o.share, o.matter) != 0)
		goto out;
	parts = ap_partials(epochs, share, &info, matter, recipient);
	vault_secure_free(share);
	share = NULL;
	if (parts == NULL)
		goto out;
	req = json_pack("{s:I,s:I,s:O}", "custodian_index", (json_int_t)info.index,
	    "generation", (json_int_t)info.generation, "partials", parts);
	if (req == NULL || (post = json_dumps(req, JSON_COMPACT)) == NULL) {
		ctl_fail("approve: out of memory");
		goto out;
	}
	free(body.p);
	memset(&body, 0, sizeof(body));
	snprintf(path, sizeof(path), "/v1/matters/%s/approvals", o.matter);
	if (ctl_api_request(&o.api, "POST", path, post, &status, &body) != 0)
		goto out;
	if (status != 200 && status != 201) {
		ctl_api_error(&o.api, "approval refused", status, &body);
		goto out;
	}
	{
		json_error_t je2;
		json_t *ans = json_loadb(body.p != NULL ? body.p : "", body.len, 0,
		    &je2);
		json_int_t got = json_integer_value(json_object_get(ans,
		    "approvals"));
		json_int_t k = json_integer_value(json_object_get(ans, "threshold"));

		const char *st = json_string_value(json_object_get(ans, "state"));
		const char *msg = json_string_value(json_object_get(ans, "message"));

		/* The deciding approval: say what happens next (the API's state:
		 * a regulator request may wait for the designated third party,
		 * a matter across key generations for another key's K). */
		if (msg != NULL && (st == NULL || strcmp(st, "building") != 0))
			printf("approval of matter %s recorded: custodian %u; %s\n",
			    o.matter, info.index, log_printable(shown, sizeof(shown),
			    msg, strlen(msg)));
		else if (k > 0 && got == k && (st == NULL ||
		    strcmp(st, "building") == 0))
			printf("threshold reached (%lld of %lld): the production is "
			    "building; legal can run `cofferctl matter wait %s`\n",
			    (long long)k, (long long)json_integer_value(
			    json_object_get(m, "custodians")), o.matter);
		else
			printf("approval of matter %s recorded: custodian %u, %zu "
			    "partial(s) with proofs\n", o.matter, info.index,
			    json_array_size(parts));
		json_decref(ans);
	}
	rc = CTL_EXIT_OK;
out:
	if (share != NULL)
		vault_secure_free(share);
	if (pass != NULL)
		vault_secure_free(pass);
	if (file != NULL) {
		vault_wipe(file, flen);
		free(file);
	}
	free(body.p);
	free(post);
	json_decref(req);
	json_decref(parts);
	json_decref(m);
	json_decref(who);
	return rc;
}
