/* ctl/ctl.h — cofferctl verbs and the helpers they share.
 *
 * Each verb is `int ctl_cmd_<verb>(int argc, char **argv)` with argv[0] the
 * verb itself; it returns the process exit status: 0 success, 1 failure,
 * 2 usage error.  Verbs print results on stdout and errors on stderr.
 */
#ifndef COFFER_CTL_CTL_H
#define COFFER_CTL_CTL_H

#include <stddef.h>

#include <libpq-fe.h>

#include "ctl/common.h"

int ctl_cmd_migrate(int argc, char **argv);   /* ctl/migrate.c */
int ctl_cmd_tenant(int argc, char **argv);    /* ctl/tenant.c  */
int ctl_cmd_share(int argc, char **argv);     /* ctl/tenant.c  */
/* share prove, share health (ctl/possession.c), run by ctl_cmd_share with
 * argv[0] "share", argv[1] the subcommand; their usage lines for the
 * share verb's usage text. */
int ctl_share_prove(int argc, char **argv);
int ctl_share_health(int argc, char **argv);
extern const char ctl_possession_usage[];
int ctl_cmd_node(int argc, char **argv);      /* ctl/tenant.c  */
int ctl_cmd_approve(int argc, char **argv);   /* ctl/approve.c */
int ctl_cmd_matter(int argc, char **argv);    /* ctl/matter.c  */
int ctl_cmd_approvals(int argc, char **argv); /* ctl/matter.c: approvals pending */
int ctl_cmd_export(int argc, char **argv);    /* ctl/export.c  */
int ctl_cmd_keygen(int argc, char **argv);    /* ctl/keygen.c: user keygen */

/* Append the audit event of an administrative act (ctl/admin_audit.c) in
 * db's open transaction: actor ctl_actor(), role "operator", detail a copy
 * of detail (a JSON object, borrowed; NULL for none) plus actor_name (the
 * OS login name) and actor_role.  tenant_id is the tenant's uuid text, or
 * NULL for an event that concerns no tenant (the nil-uuid chain).
 * outcome NULL is "ok".  0, or -1 (err) with the transaction aborted: the
 * caller rolls back. */
struct json_t;
/* The operator's audit signer and witness from COFFER_AUDIT_KEY,
 * COFFER_AUDIT_NODE and COFFER_AUDIT_WITNESS (ctl/admin_audit.c); clears
 * any earlier signer; an unusable key is a warning (audited verbs then
 * fail).  0, or -1 with a message printed (witness path too long). */
int ctl_audit_env(void);
int ctl_admin_audit(PGconn *db, const char *tenant_id, const char *action,
              const char *target, const char *outcome,
              const struct json_t *detail, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
