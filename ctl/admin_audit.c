/* ctl/admin_audit.c — the audit event of one cofferctl administrative act.
 *
 * Every verb that changes who may do what (users, devices, tenants, nodes,
 * keys, retention, holds, purges) appends exactly one event, in the
 * transaction that makes its change durable (common/audit.h).  cofferctl
 * has no client certificate: the actor is "cofferctl uid=N db=ROLE"
 * (ctl_actor) with role "operator", and the detail names the person behind
 * the uid (actor_name, the OS login name) beside actor_role "operator".
 *
 * Events that concern no tenant (node init) go to the nil-uuid chain,
 * which `cofferctl verify` checks like any tenant's.
 *
 * Every event is signed (issue 13.5) with the operator's node key, kind
 * ctl: COFFER_AUDIT_KEY (key file) and COFFER_AUDIT_NODE (its node name);
 * COFFER_AUDIT_WITNESS names the audit witness file (ctl_audit_env).
 */
#include "ctl/ctl.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/audit.h"
#include "common/log.h"
#include "common/util.h"

/* The OS login name of the real uid, printable and capped, or "". */
static void
ctl_login_name(char *out, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	out[0] = '\0';
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL || pw.pw_name == NULL || pw.pw_name[0] == '\0')
		return;
	log_printable(out, cap, pw.pw_name, strlen(pw.pw_name));
}

int
ctl_admin_audit(PGconn *db, const char *tenant_id, const char *action,
    const char *target, const char *outcome, const json_t *detail,
    char *err, size_t err_len)
{
	audit_event ev;
	json_t *d = NULL;
	char *text = NULL, actor[AUDIT_ACTOR_MAX], login[64];
	int rc = -1;

	memset(&ev, 0, sizeof(ev));
	if (tenant_id != NULL && util_uuid_parse(ev.tenant_id, tenant_id) != 0) {
		snprintf(err, err_len, "audit: malformed tenant id");
		goto fail;
	}
	d = detail != NULL ? json_deep_copy(detail) : json_object();
	if (d == NULL || !json_is_object(d)) {
		snprintf(err, err_len, "audit: out of memory");
		goto fail;
	}
	ctl_login_name(login, sizeof(login));
	if (login[0] != '\0')
		json_object_set_new(d, "actor_name", json_string(login));
	json_object_set_new(d, "actor_role", json_string("operator"));
	if ((text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		snprintf(err, err_len, "audit: out of memory");
		goto fail;
	}
	ctl_actor(db, actor, sizeof(actor));
	ev.actor = actor;
	ev.role = "operator";
	ev.action = action;
	ev.target = target;
	ev.outcome = outcome != NULL ? outcome : "ok";
	ev.detail_json = text;
	if (audit_append(db, &ev, NULL, NULL, err, err_len) != 0)
		goto fail;
	rc = 0;
fail:
	free(text);
	json_decref(d);
	return rc;
}

int
ctl_audit_env(void)
{
	const char *key = getenv("COFFER_AUDIT_KEY");
	const char *node = getenv("COFFER_AUDIT_NODE");
	const char *wit = getenv("COFFER_AUDIT_WITNESS");
	char err[512];

	audit_signer_clear();
	/* Not fatal here: verify, migrate and the PKI verbs need no signer;
	 * a verb that audits fails at its first event. */
	if (key != NULL && key[0] != '\0' &&
	    audit_signer_load(node, key, err, sizeof(err)) != 0)
		ctl_fail("warning: COFFER_AUDIT_KEY/"
		    "COFFER_AUDIT_NODE: %s: audited verbs will fail", err);
	if (audit_set_witness(wit, err, sizeof(err)) != 0) {
		ctl_fail("COFFER_AUDIT_WITNESS: %s", err);
		return -1;
	}
	return 0;
}
