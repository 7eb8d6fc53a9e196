/* ctl/main.c — cofferctl: the operator's and custodian's command-line tool.
 *
 * Only dispatches: each verb lives in its own file (ctl/<verb>.c) behind
 * ctl_cmd_<verb>() and parses its own options.  A new verb is one line in
 * ctl_verbs[] below.
 *
 * `--help` / `-h` is answered here for every verb and subcommand, so a new
 * verb or subcommand needs nothing for it: main asks the verb for its
 * usage text (the one it prints on a usage error) with its own stdout and
 * stderr captured, stdin from /dev/null and ctl_connect() refusing, then
 * prints that text on stdout and exits 0.  The verb is asked as
 * `VERB [SUB] --help`, then `VERB [SUB]`, then `VERB --help`: a verb that
 * takes positional arguments may read "--help" as a file name, and one
 * whose options are all optional may take `VERB SUB` as a command (which
 * then stops at ctl_connect).  Nothing before the first "usage:" line
 * (the verb's own complaint about the option) is shown.  A SUB the usage
 * does not name (`cofferctl VERB SUB`) is a usage error, exit 2, so that
 * `VERB SUB --help` also tells a script whether SUB exists.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit.h"
#include "common/log.h"
#include "ctl/audit.h"
#include "ctl/ctl.h"
#include "ctl/archive.h"
#include "ctl/pki.h"
#include "common/version.h"

struct ctl_verb {
	const char *name;
	int       (*run)(int argc, char **argv);
	const char *summary;
};

static const struct ctl_verb ctl_verbs[] = {
	{ "migrate", ctl_cmd_migrate, "apply database migrations" },
	{ "tenant",  ctl_cmd_tenant,  "create a tenant, split, re-share and rotate its key" },
	{ "share",   ctl_cmd_share,   "custodian shares: check, prove possession, health" },
	{ "node",    ctl_cmd_node,    "register a node signing key (gateway, api, ctl, purge)" },
	{ "pki",     ctl_cmd_pki,     "certificate authorities and CRLs" },
	{ "device",  ctl_cmd_device,  "device certificates" },
	{ "capture", ctl_cmd_capture, "capture completeness per device: gaps, duplicates, silence" },
	{ "user",    ctl_cmd_user,    "user certificates and roles" },
	{ "verify",  ctl_cmd_verify,  "prove nothing was altered, reordered or removed" },
	{ "audit",   ctl_cmd_audit,   "list, export and verify the audit log (offline)" },
	{ "retention", ctl_cmd_retention, "retention policies per tenant and channel" },
	{ "hold",    ctl_cmd_hold,    "legal holds" },
	{ "purge",   ctl_cmd_purge,   "dispose of records past retention (tombstones, crypto-shredding)" },
	{ "approve", ctl_cmd_approve, "approve a matter with a custodian share" },
	{ "matter",  ctl_cmd_matter,  "legal: create, list, show, wait for, download and close matters" },
	{ "approvals", ctl_cmd_approvals, "custodians: the matters waiting for my approval" },
	{ "export",  ctl_cmd_export,  "open a sealed production (export open)" },
	{ "keygen",  ctl_cmd_keygen,  "production key pair for a legal user" },
	{ "custodian", ctl_cmd_custodian, "custodian keygen: a key pair to receive a re-shared share" },
};
#define CTL_NVERBS (sizeof(ctl_verbs) / sizeof(ctl_verbs[0]))

static void
ctl_verbs_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cofferctl VERB [options]\n\nverbs:\n");
	for (i = 0; i < CTL_NVERBS; i++)
		fprintf(f, "  %-10s %s\n", ctl_verbs[i].name, ctl_verbs[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "this list; `cofferctl VERB [SUB] "
	    "--help` for a verb's options");
	fprintf(f, "\n`cofferctl --version` prints the version.\n");
}

#define CTL_HELP_MAX (64U * 1024U)   /* bytes of usage text kept */

static int
ctl_is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Read back what went to fd (a tmpfile) into buf; its length. */
static size_t
ctl_help_slurp(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return 0;
	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

/* The usage text in buf: from its first line starting "usage:", or NULL. */
static const char *
ctl_help_usage(const char *buf)
{
	const char *p = buf;

	for (;;) {
		if (strncmp(p, "usage:", 6) == 0)
			return p;
		p = strchr(p, '\n');
		if (p == NULL)
			return NULL;
		p++;
	}
}

/* One try: run the verb on hargv with fds 0, 1, 2 redirected; the usage
 * text it printed (on stdout with status 0, or on stderr) is copied to
 * out.  0 when there was one. */
static int
ctl_help_try(const struct ctl_verb *v, int hargc, char **hargv,
             char *out, size_t cap)
{
	FILE *fo = tmpfile(), *fe = tmpfile();
	int save[3] = { -1, -1, -1 }, nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int rc = -1, vrc, i;
	const char *u;

	if (fo == NULL || fe == NULL || nul < 0)
		goto done;
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 3; i++)
		if ((save[i] = dup(i)) < 0)
			goto restore;
	if (dup2(nul, 0) < 0 || dup2(fileno(fo), 1) < 0 ||
	    dup2(fileno(fe), 2) < 0)
		goto restore;
	optind = 0;
	vrc = v->run(hargc, hargv);
	fflush(stdout);
	fflush(stderr);
	if (vrc == CTL_EXIT_OK && ctl_help_slurp(fileno(fo), out, cap) > 0 &&
	    (u = ctl_help_usage(out)) != NULL) {
		memmove(out, u, strlen(u) + 1);
		rc = 0;
	} else if (ctl_help_slurp(fileno(fe), out, cap) > 0 &&
	    (u = ctl_help_usage(out)) != NULL) {
		memmove(out, u, strlen(u) + 1);
		rc = 0;
	}
restore:
	for (i = 0; i < 3; i++)
		if (save[i] >= 0) {
			(void)dup2(save[i], i);
			close(save[i]);
		}
	clearerr(stdin);
done:
	if (fo != NULL)
		fclose(fo);
	if (fe != NULL)
		fclose(fe);
	if (nul >= 0)
		close(nul);
	return rc;
}

/* `cofferctl VERB [SUB] … --help`: the usage of VERB (SUB) on stdout, 0;
 * the verb runs no command (see the top of this file). */
static int
ctl_help(const struct ctl_verb *v, const char *sub)
{
	char verb[64], subw[64], help[] = "--help";
	char *tries[3][4];
	int ntries[3], t;
	char *out;

	snprintf(verb, sizeof(verb), "%s", v->name);
	snprintf(subw, sizeof(subw), "%s", sub != NULL ? sub : "");
	tries[0][0] = verb; tries[0][1] = subw; tries[0][2] = help;
	ntries[0] = 3;
	tries[1][0] = verb; tries[1][1] = subw;
	ntries[1] = 2;
	tries[2][0] = verb; tries[2][1] = help;
	ntries[2] = 2;
	if (sub == NULL) {           /* VERB --help, then VERB alone */
		tries[0][1] = help;
		ntries[0] = 2;
		ntries[1] = 1;
	}
	out = malloc(CTL_HELP_MAX);
	if (out == NULL) {
		ctl_fail("out of memory");
		return CTL_EXIT_FAIL;
	}
	ctl_help_mode_set(1);
	for (t = 0; t < 3; t++) {
		tries[t][ntries[t]] = NULL;
		if (ctl_help_try(v, ntries[t], tries[t], out, CTL_HELP_MAX) == 0)
			break;
	}
	ctl_help_mode_set(0);
	if (t == 3) {
		free(out);
		ctl_fail("%s: no usage text", v->name);
		return CTL_EXIT_FAIL;
	}
	if (sub != NULL) {
		/* a subcommand the usage does not name is a usage error, so that
		 * `VERB SUB --help` also tells whether SUB exists */
		char want[160];

		snprintf(want, sizeof(want), "cofferctl %s %s ", v->name, sub);
		if (strstr(out, want) == NULL) {
			want[strlen(want) - 1] = '\n';
			if (strstr(out, want) == NULL) {
				ctl_fail("%s: unknown subcommand '%.64s'", v->name, sub);
				fputs(out, stderr);
				free(out);
				return CTL_EXIT_USAGE;
			}
		}
	}
	fputs(out, stdout);
	free(out);
	return CTL_EXIT_OK;
}

static const struct ctl_verb *
ctl_verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < CTL_NVERBS; i++)
		if (strcmp(name, ctl_verbs[i].name) == 0)
			return &ctl_verbs[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct ctl_verb *v;
	const char *verb, *sub;
	int i, rc;

	log_init("cofferctl");
	/* cofferctl writes key, share and certificate files: private by
	 * default, whatever the caller's umask. */
	umask(077);
	if (argc < 2) {
		ctl_verbs_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "--version") == 0 || strcmp(verb, "-V") == 0) {
		coffer_version_print(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(verb, "help") == 0 || ctl_is_help(verb)) {
		if (argc < 3) {
			ctl_verbs_usage(stdout);
			return CTL_EXIT_OK;
		}
		/* cofferctl help VERB [SUB] */
		v = ctl_verb_find(argv[2]);
		if (v == NULL) {
			ctl_fail("unknown verb '%.64s'", argv[2]);
			ctl_verbs_usage(stderr);
			return CTL_EXIT_USAGE;
		}
		return ctl_help(v, argc > 3 && argv[3][0] != '-' ? argv[3] : NULL);
	}
	v = ctl_verb_find(verb);
	if (v == NULL) {
		ctl_fail("unknown verb '%.64s'", verb);
		ctl_verbs_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	sub = argc > 2 && argv[2][0] != '-' ? argv[2] : NULL;
	for (i = 2; i < argc; i++)
		if (ctl_is_help(argv[i]))
			return ctl_help(v, sub);
	if (ctl_audit_env() != 0)
		return 1;
	rc = v->run(argc - 1, argv + 1);
	audit_signer_clear();
	return rc;
}
