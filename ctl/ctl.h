/* ctl/ctl.h — cofferctl verbs and the helpers they share.
 *
 * Each verb is `int ctl_cmd_<verb>(int argc, char **argv)` with argv[0] the
 * verb itself; it returns the process exit status: 0 success, 1 failure,
 * 2 usage error.  Verbs print results on stdout and errors on stderr.
 */
#ifndef COFFER_CTL_CTL_H
#define COFFER_CTL_CTL_H

#include <stddef.h>
#include <sys/types.h>

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
int ctl_cmd_capture(int argc, char **argv);   /* ctl/capture.c */
int ctl_cmd_keygen(int argc, char **argv);    /* ctl/keygen.c: user keygen */
int ctl_cmd_custodian(int argc, char **argv); /* ctl/reshare.c: custodian keygen */
/* `tenant reshare …` (ctl/reshare.c), from ctl_cmd_tenant; its usage. */
int ctl_tenant_reshare(int argc, char **argv);
extern const char ctl_reshare_usage[];
/* `tenant rotate` (ctl/tenant.c): its usage. */
extern const char ctl_rotate_usage[];

/* A new X25519 key pair sealed into a passphrase-protected key file image
 * (ctl/keygen.c; vault/production.h format, Argon2id MODERATE): the
 * passphrase from passfile or asked twice on the terminal ("Passphrase for
 * the WHAT: "), at least 8 characters; info's ids as given, info->pk set.
 * The secret key never leaves guarded memory.  0, or -1 printed. */
struct vault_keyfile_info;
int ctl_keyfile_make(const char *passfile, const char *what,
                     struct vault_keyfile_info *info, unsigned char *file,
                     size_t file_cap, size_t *file_len)
    __attribute__((warn_unused_result));

/* A custodian share file (ctl/tenant.c, the one writer: tenant init and
 * tenant reshare receive): the passphrase from passfile or asked twice
 * ("Passphrase for custodian I: "), sealed with info (vault/sharefile.h),
 * written to path 0600, never over an existing file.  0, or -1 printed. */
struct vault_sharefile_info;
int ctl_share_write(const struct vault_sharefile_info *info,
                    const unsigned char *share, const char *passfile,
                    const char *path) __attribute__((warn_unused_result));

/* Give a daemon's key or pin file to group (gid) with mode 0640, through
 * a descriptor (ctl/tenant.c).  0, or -1 with err. */
int ctl_tenant_give(const char *path, gid_t gid, const char *group,
                    char *err, size_t err_len)
    __attribute__((warn_unused_result));

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
