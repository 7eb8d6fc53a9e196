/* common/conf.h — table-driven "key = value" configuration files.
 *
 * The machinery both daemons share: read the file (size-bounded, no NUL),
 * split it into lines (length-bounded), parse each line
 *
 *     # a comment line
 *     key = value            # an inline comment after blank space
 *     key = "quoted value"   # keeps blanks and '#'; \" and \\ escape
 *     key =                  # empty string
 *
 * look the key up in the caller's option table, refuse unknown and repeated
 * keys, hand the value to the caller's `set` callback, and finally refuse
 * required string options left empty.
 *
 * Each daemon words its own errors: conf reports a conf_fault to the
 * caller's `fault` callback, which writes the message into err.  Value
 * syntax (numbers, ranges, addresses) is the caller's too; conf only offers
 * the shared pieces (booleans, binary size suffixes).
 */
#ifndef COFFER_COMMON_CONF_H
#define COFFER_COMMON_CONF_H

#include <stddef.h>

#define CONF_LINE_MAX  4096U   /* upper bound for conf_parser.max_line */
#define CONF_OPTS_MAX  64U     /* upper bound for conf_parser.nopts */

/* One option.  kind is the caller's own CFG_* value: conf passes it through
 * to `set` and never interprets it.  off is the field's offset in the
 * caller's struct; a required option is a char[] that must end non-empty. */
typedef struct conf_opt {
	const char *name;
	int         kind;
	size_t      off;
	size_t      len;        /* string capacity */
	double      min, max;   /* numeric range, inclusive */
	int         required;   /* must be set and non-empty */
} conf_opt;

typedef enum conf_fault {
	CONF_READ = 1,      /* err already holds util_read_file's message */
	CONF_NUL,           /* the file holds a NUL byte */
	CONF_LINE_LONG,     /* a line is longer than max_line bytes */
	CONF_SYNTAX,        /* not "key = value" */
	CONF_UNTERMINATED,  /* a quoted value without its closing '"' */
	CONF_AFTER_QUOTE,   /* text after the closing '"' */
	CONF_CONTROL,       /* a control character in a value (CONF_CR_IN_VALUE) */
	CONF_UNKNOWN,       /* the key is not in the table */
	CONF_TWICE,         /* the key was set on an earlier line */
	CONF_REQUIRED       /* a required option is missing or empty */
} conf_fault;

/* conf_parser.flags: the two daemons' historical line-ending rules. */
#define CONF_STRIP_CR     0x1U  /* drop one '\r' ending a line, then parse */
#define CONF_CR_IN_VALUE  0x2U  /* unquoted values also lose trailing '\r';
                                   control characters but tab are refused */

typedef struct conf_parser {
	const conf_opt *opts;
	size_t          nopts;      /* <= CONF_OPTS_MAX */
	size_t          max_file;   /* bytes */
	size_t          max_line;   /* longest line accepted, <= CONF_LINE_MAX */
	unsigned        flags;
	/* Store val (NUL-terminated, unquoted) for o in obj; 0, or -1 with the
	 * whole message in err. */
	int  (*set)(void *obj, const conf_opt *o, const char *val,
	            const char *path, unsigned lineno, char *err, size_t err_len);
	/* Word fault f into err.  lineno is 0 for faults of the whole file;
	 * key is the line's key (CONF_UNTERMINATED, CONF_AFTER_QUOTE,
	 * CONF_UNKNOWN, CONF_TWICE) or the option's name (CONF_REQUIRED), else
	 * NULL.  A key is [a-z0-9_]+ but of any length. */
	void (*fault)(conf_fault f, const char *path, unsigned lineno,
	              const char *key, size_t max_line, char *err, size_t err_len);
} conf_parser;

/* A decimal integer without sign; with allow_suffix, a k/M/G (KiB, MiB,
 * GiB) multiplier may follow.  0, or -1 on anything else or overflow. */
int conf_parse_number(const char *v, int allow_suffix, double *out)
    __attribute__((warn_unused_result));

/* The daemons' common wording of a fault (a conf_parser.fault callback):
 * "PATH:LINE: ..." with an unknown key shown printable and truncated. */
void conf_fault_message(conf_fault f, const char *path, unsigned lineno,
                        const char *key, size_t max_line, char *err,
                        size_t err_len);

/* Parse path into obj (already holding defaults).  0, or -1 with err set.
 * The file's bytes and line buffer are wiped (values may be passwords). */
int conf_load(const conf_parser *p, void *obj, const char *path,
              char *err, size_t err_len)
    __attribute__((warn_unused_result));

/* 0/1, yes/no, true/false, on/off (any case) into *out; 0 or -1. */
int conf_parse_bool(const char *v, int *out)
    __attribute__((warn_unused_result));

/* Binary size suffix k/K/KiB, m/M/MiB, g/G/GiB into *mult; 0 or -1. */
int conf_size_suffix(const char *s, unsigned long long *mult)
    __attribute__((warn_unused_result));

#endif
