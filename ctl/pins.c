/* ctl/pins.c — a matter checked against the pins before a custodian
 * contributes (ctl/pins.h).  Trusts the share file (it opened, or will
 * open, under the custodian's passphrase) and the node pins file; nothing
 * the API sends.  Public material only: no share byte is printed.
 */
#include "ctl/pins.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/pins.h"
#include "common/util.h"
#include "ctl/common.h"
#include "vault/chain.h"
#include "vault/tenant.h"

static void cp_fail(const char *matter_id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_fail's one line, worded for a contribution that stopped here. */
static void
cp_fail(const char *matter_id, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctl_fail("approve: %s; nothing was sent for matter %s", msg, matter_id);
}

/* Hex member of exactly n bytes; 0 or -1. */
static int
cp_hex(json_t *o, const char *key, unsigned char *out, size_t n)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	return util_unhex(out, n, s, strlen(s));
}

int
ctl_pins_check_matter(json_t *matter, const vault_sharefile_info *info,
    const char *share_path, const char *matter_id, const char *nodes_path)
{
	json_t *tk = json_object_get(matter, "tenant_key");
	json_t *epochs = json_object_get(matter, "epochs"), *ep;
	unsigned char T[VAULT_POINT_BYTES];
	pins_nodes *pins = NULL;
	char err[1024];
	size_t i;
	int rc = -1;

	if (cp_hex(tk, "public_key", T, sizeof(T)) != 0) {
		cp_fail(matter_id, "matter %s: the API sent no tenant key to check "
		    "against %s", matter_id, share_path);
		return -1;
	}
	if (memcmp(T, info->tenant_pk, sizeof(T)) != 0) {
		cp_fail(matter_id, "matter %s: the tenant public key the API serves "
		    "differs from the one in %s (the database's tenant key is not "
		    "the pinned one)", matter_id, share_path);
		return -1;
	}
	if (nodes_path == NULL || nodes_path[0] == '\0') {
		cp_fail(matter_id, "no node pins (--nodes FILE or $COFFER_NODE_PINS): "
		    "the matter's epochs cannot be authenticated");
		return -1;
	}
	if (pins_nodes_load(nodes_path, &pins, err, sizeof(err)) != 0) {
		cp_fail(matter_id, "%s", err);
		return -1;
	}
	json_array_foreach(epochs, i, ep) {
		const char *eid = json_string_value(json_object_get(ep, "epoch_id"));
		const char *node = json_string_value(json_object_get(ep, "node"));
		const char *at = json_string_value(json_object_get(ep, "signed_at_us"));
		const unsigned char *pin;
		unsigned char dbpk[VAULT_SIGN_PK_BYTES], sig[VAULT_SIG_BYTES];
		unsigned char wrapped[VAULT_WRAPPED_EK_BYTES], h[VAULT_HASH_BYTES];
		char shown[80], sn[80];
		vault_epoch_stmt es;
		char *end = NULL;

		memset(&es, 0, sizeof(es));
		if (eid == NULL || util_uuid_parse(es.epoch_id, eid) != 0) {
			cp_fail(matter_id, "the API sent a malformed epoch (entry %zu)", i);
			goto out;
		}
		log_printable(shown, sizeof(shown), eid, strlen(eid));
		if (json_is_null(json_object_get(ep, "signature")) ||
		    json_object_get(ep, "signature") == NULL) {
			cp_fail(matter_id, "epoch %s is not signed by a gateway node "
			    "(made before migration 0005_pins?): refusing to "
			    "contribute", shown);
			goto out;
		}
		if (node == NULL || cp_hex(ep, "signature", sig, sizeof(sig)) != 0 ||
		    cp_hex(ep, "r", es.R, sizeof(es.R)) != 0 ||
		    util_uuid_parse(es.stream_id, json_string_value(json_object_get(ep,
		    "stream_id")) ? json_string_value(json_object_get(ep,
		    "stream_id")) : "") != 0 ||
		    util_uuid_parse(es.node_id, json_string_value(json_object_get(ep,
		    "node_id")) ? json_string_value(json_object_get(ep,
		    "node_id")) : "") != 0 ||
		    cp_hex(ep, "wrapped_hash", es.wrapped_hash,
		    sizeof(es.wrapped_hash)) != 0 || at == NULL) {
			cp_fail(matter_id, "epoch %s: malformed signature fields", shown);
			goto out;
		}
		es.signed_at = strtoll(at, &end, 10);
		if (end == at || *end != '\0') {
			cp_fail(matter_id, "epoch %s: malformed signature fields", shown);
			goto out;
		}
		log_printable(sn, sizeof(sn), node, strlen(node));
		if ((pin = pins_nodes_find(pins, node)) == NULL) {
			cp_fail(matter_id, "epoch %s: node %s is not pinned in %s",
			    shown, sn, nodes_path);
			goto out;
		}
		if (cp_hex(ep, "node_public_key", dbpk, sizeof(dbpk)) != 0 ||
		    memcmp(dbpk, pin, sizeof(dbpk)) != 0) {
			cp_fail(matter_id, "epoch %s: node %s's key in the database "
			    "differs from its pin in %s", shown, sn, nodes_path);
			goto out;
		}
		/* A shredded epoch has no wrapped key: the signed hash stands. */
		if (!json_is_null(json_object_get(ep, "wrapped_key"))) {
			if (cp_hex(ep, "wrapped_key", wrapped, sizeof(wrapped)) != 0) {
				cp_fail(matter_id, "epoch %s: malformed wrapped key", shown);
				goto out;
			}
			vault_wrapped_hash(wrapped, sizeof(wrapped), h);
			if (memcmp(h, es.wrapped_hash, sizeof(h)) != 0) {
				cp_fail(matter_id, "epoch %s: its wrapped key does not match "
				    "the hash its node signed (altered epoch row)", shown);
				goto out;
			}
		}
		memcpy(es.tenant_id, info->tenant_id, sizeof(es.tenant_id));
		memcpy(es.tenant_pk, info->tenant_pk, sizeof(es.tenant_pk));
		if (vault_epoch_stmt_verify(pin, &es, sig) != 0) {
			cp_fail(matter_id, "epoch %s: its signature does not verify under "
			    "node %s's pinned key (forged or altered epoch row)", shown,
			    sn);
			goto out;
		}
	}
	rc = 0;
out:
	pins_nodes_free(&pins);
	return rc;
}

int
ctl_pins_check_share(json_t *matter, const unsigned char *share,
    const vault_sharefile_info *info, const char *share_path,
    const char *matter_id)
{
	json_t *tk = json_object_get(matter, "tenant_key");
	json_t *cs = json_object_get(tk, "commitments");
	json_t *vs = json_object_get(tk, "public_shares");
	unsigned char *commits = NULL, V[VAULT_POINT_BYTES], Vs[VAULT_POINT_BYTES];
	char err[256];
	size_t i, n = json_array_size(cs);
	int rc = -1;

	if (n == 0 || n > 255 || (commits = malloc(n * VAULT_POINT_BYTES)) == NULL) {
		cp_fail(matter_id, "matter %s: the API sent no tenant commitments",
		    matter_id);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(cs, i));

		if (s == NULL || strlen(s) != 2 * VAULT_POINT_BYTES ||
		    util_unhex(commits + i * VAULT_POINT_BYTES, VAULT_POINT_BYTES, s,
		    strlen(s)) != 0) {
			cp_fail(matter_id, "matter %s: malformed tenant commitment",
			    matter_id);
			goto out;
		}
	}
	if (n != info->k || vault_tenant_verify_share(commits, n * VAULT_POINT_BYTES,
	    info->index, share, err, sizeof(err)) != 0) {
		cp_fail(matter_id, "matter %s: share %u of %s does not verify against "
		    "the tenant commitments the API serves (the database's "
		    "commitments are not the pinned ones)", matter_id, info->index,
		    share_path);
		goto out;
	}
	{
		const char *s = json_string_value(json_array_get(vs, info->index - 1));

		if (s == NULL || strlen(s) != 2 * VAULT_POINT_BYTES ||
		    util_unhex(V, sizeof(V), s, strlen(s)) != 0 ||
		    vault_tenant_public_share(commits, n * VAULT_POINT_BYTES,
		    info->index, Vs, err, sizeof(err)) != 0 ||
		    memcmp(V, Vs, sizeof(V)) != 0) {
			cp_fail(matter_id, "matter %s: the public share %u the API serves "
			    "is not this share's (the database's public shares are not "
			    "the pinned ones)", matter_id, info->index);
			goto out;
		}
	}
	rc = 0;
out:
	free(commits);
	return rc;
}
