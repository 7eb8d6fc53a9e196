/* common/priv.h — dropping root for good, one way for both daemons.
 *
 * A daemon started as root opens what it needs (sockets, key files, pid
 * file), then calls priv_drop(): supplementary groups reduced to the
 * account's own group, gid, uid; then it proves the drop (real, effective
 * and group ids, exactly one group, root cannot be regained), sets
 * PR_SET_NO_NEW_PRIVS and hardens the process again (a credential change
 * resets the dumpable flag).  Whether root without an account is allowed
 * at all is the caller's policy, not this module's.
 */
#ifndef COFFER_COMMON_PRIV_H
#define COFFER_COMMON_PRIV_H

#include <stddef.h>
#include <sys/types.h>

#define PRIV_NAME_MAX 64U

typedef struct priv_target {
	uid_t uid;
	gid_t gid;
	char  name[PRIV_NAME_MAX];
} priv_target;

/* Look the account up (before threads start: NSS may load modules).
 * 0 with *out filled, or -1 with "user: no such account 'NAME'" or
 * "user: name too long".  *out is zeroed first. */
int priv_lookup(const char *user, priv_target *out, char *err,
                size_t err_len) __attribute__((warn_unused_result));

/* Drop to t for good, as described above.  Refuses uid 0 ("user 'NAME' is
 * root; name an unprivileged account").  Must run as root (else setgroups
 * fails: "dropping privileges to 'NAME': ...").  0 or -1 and a message. */
int priv_drop(const priv_target *t, char *err, size_t err_len)
    __attribute__((warn_unused_result));

#endif
