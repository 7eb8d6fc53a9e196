/* common/priv.c — dropping root for good (see priv.h).
 *
 * The strict version once written only in the gateway, now shared with the
 * API: after setgroups/setgid/setuid every id and the group list are read
 * back, regaining root must fail, and PR_SET_NO_NEW_PRIVS is set.
 *
 * Hazard: glibc applies set*id() and setgroups() to every thread of the
 * process, but PR_SET_NO_NEW_PRIVS is per thread (and inherited by threads
 * created later); it covers the calling thread and what it starts after.
 */
#include "common/priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vault/mem.h"

int
priv_lookup(const char *user, priv_target *out, char *err, size_t err_len)
{
	struct passwd *pw;

	memset(out, 0, sizeof(*out));
	if (user == NULL || user[0] == '\0' ||
	    (pw = getpwnam(user)) == NULL) {
		snprintf(err, err_len, "user: no such account '%.64s'",
		    user != NULL ? user : "");
		return -1;
	}
	if (strlen(pw->pw_name) >= sizeof(out->name)) {
		snprintf(err, err_len, "user: name too long");
		return -1;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	memcpy(out->name, pw->pw_name, strlen(pw->pw_name) + 1);
	return 0;
}

int
priv_drop(const priv_target *t, char *err, size_t err_len)
{
	gid_t groups[4];
	int ng;

	if (t->uid == 0) {
		snprintf(err, err_len, "user '%s' is root; name an unprivileged "
		    "account", t->name);
		return -1;
	}
	if (setgroups(1, &t->gid) != 0 || setgid(t->gid) != 0 ||
	    setuid(t->uid) != 0) {
		snprintf(err, err_len, "dropping privileges to '%s': %s",
		    t->name, strerror(errno));
		return -1;
	}
	ng = getgroups(4, groups);
	if (getuid() != t->uid || geteuid() != t->uid ||
	    getgid() != t->gid || getegid() != t->gid ||
	    ng != 1 || groups[0] != t->gid) {
		snprintf(err, err_len, "privileges not dropped as expected");
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, err_len, "root could be regained after dropping "
		    "privileges");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, err_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* changing ids resets "dumpable" from fs.suid_dumpable: harden again */
	return vault_harden_process(err, err_len);
}
