/* tests/lib/auditlog_fixture.h — a small exported audit log (the JSONL of
 * `cofferctl audit export`, ctl/audit.c) built without a database: events
 * hashed with common/audit.c's audit_event_hash, signed with a node key
 * from a fixed seed, and the signed head.  Header only: the unit test
 * (tests/unit/test_auditread.c) and the fuzz target's seed writer
 * (tests/fuzz/fuzz_auditlog.c) include it.  Call vault_init() first.
 */
#ifndef COFFER_TESTS_AUDITLOG_FIXTURE_H
#define COFFER_TESTS_AUDITLOG_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "common/audit.h"
#include "common/util.h"
#include "ctl/audit.h"
#include "vault/chain.h"

#define ALF_NODE     "fx-ctl"
#define ALF_NODE_ID  "6e6f6465-0000-4000-8000-000000000001"
#define ALF_TENANT   "74656e61-0000-4000-8000-000000000001"

/* The fixture's node public key (hex) for a pins file. */
static __attribute__((unused)) int
alf_keys(unsigned char pk[32], unsigned char **sk)
{
	unsigned char seed[32];

	memset(seed, 7, sizeof(seed));
	return vault_sign_key_from_seed(seed, pk, sk);
}

/* The writer's signature of (tenant, event_no, hash) by the fixture node. */
static __attribute__((unused)) int
alf_sign(const unsigned char *sk, const unsigned char tid[16],
    const unsigned char nid[16], uint64_t event_no,
    const unsigned char hash[32], const unsigned char red[32],
    unsigned char sig[64])
{
	vault_audit_stmt st;

	memset(&st, 0, sizeof(st));
	memcpy(st.tenant_id, tid, 16);
	st.event_no = event_no;
	memcpy(st.event_hash, hash, 32);
	memcpy(st.node_id, nid, 16);
	memcpy(st.redactions, red, 32);
	return vault_audit_stmt_sign(sk, &st, sig);
}

/* n events (1..20) of one tenant chain, role operator, into out.  0 or -1. */
static __attribute__((unused)) int
alf_export(char *out, size_t cap, unsigned n)
{
	unsigned char pk[32], *sk = NULL, tid[16], nid[16];
	unsigned char prev[32], hash[32], red[32], sig[64];
	char pkh[65], ph[65], hh[65], sh[129], rh[65], at[CTL_AUDIT_TIME_LEN];
	char detail[64];
	size_t len = 0;
	unsigned i;
	int w;

	if (n < 1 || n > 20 || alf_keys(pk, &sk) != 0 ||
	    util_uuid_parse(tid, ALF_TENANT) != 0 ||
	    util_uuid_parse(nid, ALF_NODE_ID) != 0)
		return -1;
	vault_audit_redactions_hash(NULL, 0, red);
	util_hex(pkh, pk, 32);
	w = snprintf(out, cap, "{\"coffer_audit_export\":1,\"tenant\":\"fx\","
	    "\"tenant_id\":\"%s\",\"legacy_last\":0,\"redactions\":null,"
	    "\"nodes\":[{\"node_id\":\"%s\",\"name\":\"%s\",\"kind\":\"ctl\","
	    "\"public_key\":\"%s\"}]}\n", ALF_TENANT, ALF_NODE_ID, ALF_NODE, pkh);
	if (w < 0 || (size_t)w >= cap)
		goto fail;
	len = (size_t)w;
	memset(prev, 0, sizeof(prev));
	for (i = 1; i <= n; i++) {
		audit_field f[AUDIT_NFIELDS];
		int64_t at_us = 1767225600000000LL + (int64_t)i * 1000001LL;

		snprintf(detail, sizeof(detail), "{\"actor_name\": \"op\", \"n\": %u}",
		    i);
		f[AUDIT_F_ACTOR].p = "cofferctl uid=0 db=x";
		f[AUDIT_F_ROLE].p = "operator";
		f[AUDIT_F_ACTION].p = i == 1 ? "tenant.init" : "user.issue";
		f[AUDIT_F_TARGET].p = NULL;
		f[AUDIT_F_OUTCOME].p = "ok";
		f[AUDIT_F_REQUEST_ID].p = NULL;
		f[AUDIT_F_DETAIL].p = detail;
		for (w = 0; w < AUDIT_NFIELDS; w++)
			f[w].len = f[w].p != NULL ? strlen(f[w].p) : 0;
		if (audit_event_hash(prev, tid, i, at_us, f, hash) != 0 ||
		    alf_sign(sk, tid, nid, i, hash, red, sig) != 0)
			goto fail;
		ctl_audit_time_format(at, at_us);
		util_hex(ph, prev, 32);
		util_hex(hh, hash, 32);
		util_hex(sh, sig, 64);
		w = snprintf(out + len, cap - len, "{\"event_no\":%u,\"at\":\"%s\","
		    "\"actor\":\"%s\",\"role\":\"operator\",\"action\":\"%s\","
		    "\"target\":null,\"outcome\":\"ok\",\"request_id\":null,"
		    "\"detail\":\"{\\\"actor_name\\\": \\\"op\\\", \\\"n\\\": %u}\","
		    "\"redacted\":false,\"prev_hash\":\"%s\",\"event_hash\":\"%s\","
		    "\"signer\":\"%s\",\"signer_name\":\"%s\",\"signature\":\"%s\"}\n",
		    i, at, f[AUDIT_F_ACTOR].p, f[AUDIT_F_ACTION].p, i, ph, hh,
		    ALF_NODE_ID, ALF_NODE, sh);
		if (w < 0 || (size_t)w >= cap - len)
			goto fail;
		len += (size_t)w;
		memcpy(prev, hash, 32);
	}
	if (alf_sign(sk, tid, nid, n, prev, red, sig) != 0)
		goto fail;
	util_hex(hh, prev, 32);
	util_hex(rh, red, 32);
	util_hex(sh, sig, 64);
	w = snprintf(out + len, cap - len, "{\"head\":{\"tenant_id\":\"%s\","
	    "\"event_no\":%u,\"event_hash\":\"%s\",\"node\":\"%s\",\"node_id\":"
	    "\"%s\",\"redactions\":\"%s\",\"signature\":\"%s\"}}\n", ALF_TENANT,
	    n, hh, ALF_NODE, ALF_NODE_ID, rh, sh);
	if (w < 0 || (size_t)w >= cap - len)
		goto fail;
	vault_sign_key_free(&sk);
	return 0;
fail:
	vault_sign_key_free(&sk);
	return -1;
}

#endif
