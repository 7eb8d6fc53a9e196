/* ctl/export.h — `cofferctl export open` as a function, for the verbs that
 * open a production they just fetched (`matter download --open`). */
#ifndef COFFER_CTL_EXPORT_H
#define COFFER_CTL_EXPORT_H

struct export_opts {
	const char *in;         /* the sealed production */
	const char *key;        /* the legal user's production key file */
	const char *out;        /* a new or empty directory */
	const char *passfile;   /* NULL: ask on the terminal */
	const char *nodes;      /* node pins; NULL: $COFFER_NODE_PINS */
};

/* Decrypt, prove and write the production (README, "Productions are
 * proofs"); prints what `export open` prints.  The exit status (0 or 1). */
int ctl_export_open(const struct export_opts *o);

#endif
