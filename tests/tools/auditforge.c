/* tests/tools/auditforge.c — TEST ONLY: the issue-13.5 attacker.  Appends
 * one correctly chained audit event to a tenant's chain with plain SQL, as
 * whatever database role the PG* environment names (coffer_api, coffer_purge
 * or the owner): it reads the chain's tail, hashes the event exactly as
 * common/audit.c does (the chain is unkeyed), and INSERTs it.  Optionally it
 * signs the event with a node key file it holds (a compromised API host
 * holds the API's key), under the node name given.
 *
 *   auditforge TENANT-UUID ROLE ACTION [--key FILE --node NAME]
 *              [--signer-node NAME] [--detail JSON]
 *
 * --signer-node names the node recorded as signer when it differs from the
 * node whose key signs (a signature by another key).  Prints "forged event
 * N" and exits 0 when the row was written; 1 with the database's message
 * otherwise.  Never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/pg.h"
#include "common/util.h"
#include "vault/chain.h"
#include "vault/mem.h"

static int
af_node(PGconn *c, const char *name, unsigned char id[16])
{
	pg_params p = PG_PARAMS_INIT;
	char err[512];
	PGresult *r;
	int rc = -1;

	p.result_binary = 1;
	pg_param_text(&p, name);
	r = pg_query(c, "SELECT node_id FROM coffer.nodes WHERE name = $1", &p,
	    err, sizeof(err));
	if (r != NULL && PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 16) {
		memcpy(id, PQgetvalue(r, 0, 0), 16);
		rc = 0;
	} else {
		fprintf(stderr, "auditforge: node %s: %s\n", name,
		    r == NULL ? err : "not found");
	}
	PQclear(r);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *key = NULL, *node = NULL, *signer_node = NULL, *detail = NULL;
	unsigned char tid[16], prev[32], hash[32], sig[VAULT_SIG_BYTES];
	unsigned char node_id[16], *data = NULL, pk[VAULT_SIGN_PK_BYTES];
	unsigned char *sk = NULL;
	char err[1024], eno_s[24];
	audit_field f[AUDIT_NFIELDS];
	vault_audit_stmt st;
	PGresult *r = NULL;
	PGconn *c = NULL;
	uint64_t eno = 1;
	int64_t at;
	size_t len;
	int a, rc = 1;

	if (argc < 4 || util_uuid_parse(tid, argv[1]) != 0) {
		fprintf(stderr, "usage: auditforge TENANT-UUID ROLE ACTION [--key "
		    "FILE --node NAME] [--signer-node NAME] [--detail JSON]\n");
		return 2;
	}
	for (a = 4; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--key") == 0)
			key = argv[a + 1];
		else if (strcmp(argv[a], "--node") == 0)
			node = argv[a + 1];
		else if (strcmp(argv[a], "--signer-node") == 0)
			signer_node = argv[a + 1];
		else if (strcmp(argv[a], "--detail") == 0)
			detail = argv[a + 1];
		else
			return 2;
	}
	if (vault_init() != 0 || (c = pg_connect(NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "auditforge: %s\n", err);
		return 1;
	}
	{
		pg_params p = PG_PARAMS_INIT;

		p.result_binary = 1;
		pg_param_bin(&p, tid, 16);
		pg_param_text(&p, detail);
		/* The redaction list only when signing (coffer_purge reads it
		 * from migration 0008 on). */
		r = pg_query(c, key != NULL ? "SELECT (SELECT event_no FROM "
		    "coffer.audit_events WHERE tenant_id = $1::uuid ORDER BY "
		    "event_no DESC LIMIT 1), (SELECT event_hash FROM "
		    "coffer.audit_events WHERE tenant_id = $1::uuid ORDER BY "
		    "event_no DESC LIMIT 1), pg_catalog.clock_timestamp(), "
		    "$2::jsonb::text, (SELECT pg_catalog.string_agg("
		    "x.event_no::text, ',' ORDER BY x.event_no) FROM "
		    "coffer.audit_redactions x WHERE x.tenant_id = $1::uuid)" :
		    "SELECT (SELECT event_no FROM coffer.audit_events WHERE "
		    "tenant_id = $1::uuid ORDER BY event_no DESC LIMIT 1), "
		    "(SELECT event_hash FROM coffer.audit_events WHERE tenant_id = "
		    "$1::uuid ORDER BY event_no DESC LIMIT 1), "
		    "pg_catalog.clock_timestamp(), $2::jsonb::text, NULL::text",
		    &p, err, sizeof(err));
		if (r == NULL) {
			fprintf(stderr, "auditforge: %s\n", err);
			goto out;
		}
	}
	memset(prev, 0, sizeof(prev));
	if (!PQgetisnull(r, 0, 0)) {
		eno = vault_be64_get(PQgetvalue(r, 0, 0)) + 1;
		memcpy(prev, PQgetvalue(r, 0, 1), 32);
	}
	at = (int64_t)vault_be64_get(PQgetvalue(r, 0, 2)) + PG_EPOCH_US;
	memset(f, 0, sizeof(f));
	f[AUDIT_F_ACTOR].p = "forger";
	f[AUDIT_F_ACTOR].len = 6;
	f[AUDIT_F_ROLE].p = argv[2];
	f[AUDIT_F_ROLE].len = strlen(argv[2]);
	f[AUDIT_F_ACTION].p = argv[3];
	f[AUDIT_F_ACTION].len = strlen(argv[3]);
	f[AUDIT_F_OUTCOME].p = "ok";
	f[AUDIT_F_OUTCOME].len = 2;
	if (!PQgetisnull(r, 0, 3)) {
		f[AUDIT_F_DETAIL].p = PQgetvalue(r, 0, 3);
		f[AUDIT_F_DETAIL].len = (size_t)PQgetlength(r, 0, 3);
	}
	if (audit_event_hash(prev, tid, eno, at, f, hash) != 0)
		goto out;
	if (key != NULL) {
		if (node == NULL || af_node(c, signer_node != NULL ? signer_node :
		    node, node_id) != 0)
			goto out;
		if (util_read_file(key, 65, &data, &len, err, sizeof(err)) != 0 ||
		    len != VAULT_SIGN_SK_BYTES ||
		    vault_sign_key_from_seed(data, pk, &sk) != 0) {
			fprintf(stderr, "auditforge: key %s unusable\n", key);
			goto out;
		}
		memset(&st, 0, sizeof(st));
		memcpy(st.tenant_id, tid, 16);
		st.event_no = eno;
		memcpy(st.event_hash, hash, 32);
		memcpy(st.node_id, node_id, 16);
		vault_audit_redactions_hash(PQgetisnull(r, 0, 4) ? NULL :
		    PQgetvalue(r, 0, 4), PQgetisnull(r, 0, 4) ? 0 :
		    (size_t)PQgetlength(r, 0, 4), st.redactions);
		if (vault_audit_stmt_sign(sk, &st, sig) != 0)
			goto out;
	}
	{
		pg_params p = PG_PARAMS_INIT;
		snprintf(eno_s, sizeof(eno_s), "%llu", (unsigned long long)eno);
		pg_param_bin(&p, tid, 16);
		pg_param_text(&p, eno_s);
		pg_param_bin(&p, prev, 32);
		pg_param_bin(&p, hash, 32);
		pg_param_bin(&p, PQgetvalue(r, 0, 2), 8);
		pg_param_text(&p, argv[2]);
		pg_param_text(&p, argv[3]);
		pg_param_text(&p, f[AUDIT_F_DETAIL].p);
		if (key != NULL) {
			pg_param_bin(&p, node_id, 16);
			pg_param_bin(&p, sig, sizeof(sig));
		}
		/* Unsigned: the columns are left out, so the same forgery runs
		 * against a schema from before migration 0008. */
		if (pg_exec(c, key != NULL ? "INSERT INTO coffer.audit_events "
		    "(tenant_id, event_no, prev_hash, event_hash, at, actor, role, "
		    "action, outcome, detail, signer, signature) VALUES ($1::uuid, "
		    "$2::bigint, $3, $4, $5::timestamptz, 'forger', $6, $7, 'ok', "
		    "$8::jsonb, $9::uuid, $10)" : "INSERT INTO coffer.audit_events "
		    "(tenant_id, event_no, prev_hash, event_hash, at, actor, role, "
		    "action, outcome, detail) VALUES ($1::uuid, $2::bigint, $3, $4, "
		    "$5::timestamptz, 'forger', $6, $7, 'ok', $8::jsonb)",
		    &p, err, sizeof(err)) != 0) {
			fprintf(stderr, "auditforge: %s\n", err);
			goto out;
		}
	}
	printf("forged event %llu\n", (unsigned long long)eno);
	rc = 0;
out:
	if (data != NULL) {
		vault_wipe(data, len);
		free(data);
	}
	vault_sign_key_free(&sk);
	PQclear(r);
	pg_close(&c);
	return rc;
}
