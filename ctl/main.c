/* ctl/main.c — cofferctl: the operator's and custodian's command-line tool.
 *
 * Only dispatches: each verb lives in its own file (ctl/<verb>.c) behind
 * ctl_cmd_<verb>() and parses its own options.  A new verb is one line in
 * ctl_verbs[] below.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/audit.h"
#include "common/log.h"
#include "ctl/ctl.h"
#include "ctl/archive.h"
#include "ctl/pki.h"

struct ctl_verb {
	const char *name;
	int       (*run)(int argc, char **argv);
	const char *summary;
};

static const struct ctl_verb ctl_verbs[] = {
	{ "migrate", ctl_cmd_migrate, "apply database migrations" },
	{ "tenant",  ctl_cmd_tenant,  "create a tenant and split its key" },
	{ "share",   ctl_cmd_share,   "check a custodian share" },
	{ "node",    ctl_cmd_node,    "register a node signing key (gateway, api, ctl, purge)" },
	{ "pki",     ctl_cmd_pki,     "certificate authorities and CRLs" },
	{ "device",  ctl_cmd_device,  "device certificates" },
	{ "user",    ctl_cmd_user,    "user certificates and roles" },
	{ "verify",  ctl_cmd_verify,  "prove nothing was altered, reordered or removed" },
	{ "retention", ctl_cmd_retention, "retention policies per tenant and channel" },
	{ "hold",    ctl_cmd_hold,    "legal holds" },
	{ "purge",   ctl_cmd_purge,   "dispose of records past retention (tombstones, crypto-shredding)" },
	{ "approve", ctl_cmd_approve, "approve a matter with a custodian share" },
	{ "matter",  ctl_cmd_matter,  "legal: create, list, show, wait for, download and close matters" },
	{ "approvals", ctl_cmd_approvals, "custodians: the matters waiting for my approval" },
	{ "export",  ctl_cmd_export,  "open a sealed production (export open)" },
	{ "keygen",  ctl_cmd_keygen,  "production key pair for a legal user" },
};
#define CTL_NVERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

static void
ctl_verbs_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cofferctl VERB [options]\n\nverbs:\n");
	for (i = 0; i < CTL_NVERBS; i++)
		fprintf(f, "  %-10s %s\n", ctl_verbs[i].name, ctl_verbs[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "this list; `cofferctl VERB --help` "
	    "for a verb's options");
}

int
main(int argc, char **argv)
{
	const char *verb;
	size_t i;

	log_init("cofferctl");
	/* cofferctl writes key, share and certificate files: private by
	 * default, whatever the caller's umask. */
	umask(077);
	if (argc < 2) {
		ctl_verbs_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 ||
	    strcmp(verb, "-h") == 0) {
		if (argc < 3) {
			ctl_verbs_usage(stdout);
			return CTL_EXIT_OK;
		}
		verb = argv[2];            /* cofferctl help VERB */
		for (i = 0; i < CTL_NVERBS; i++) {
			if (strcmp(verb, ctl_verbs[i].name) == 0) {
				char help[] = "--help";
				char *hargv[3] = { argv[2], help, NULL };

				return ctl_verbs[i].run(2, hargv);
			}
		}
	}
	for (i = 0; i < CTL_NVERBS; i++)
		if (strcmp(verb, ctl_verbs[i].name) == 0) {
			int rc;

			if (ctl_audit_env() != 0)
				return 1;
			rc = ctl_verbs[i].run(argc - 1, argv + 1);
			audit_signer_clear();
			return rc;
		}
	ctl_fail("unknown verb '%.64s'", verb);
	ctl_verbs_usage(stderr);
	return CTL_EXIT_USAGE;
}
