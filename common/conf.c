/* common/conf.c — table-driven "key = value" configuration files (format and
 * contract in conf.h).
 *
 * Trusts: nothing in the file.  Lines are bounded before they are copied,
 * keys are [a-z0-9_]+, and values reach the caller's struct only through its
 * `set` callback, which range-checks them.  conf itself never puts a value
 * into an error message (pg_conninfo may hold a password); callers decide
 * what of a key to echo.
 */
#include "common/conf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"
#include "vault/mem.h"

int
conf_parse_bool(const char *v, int *out)
{
	static const char *yes[] = { "1", "yes", "true", "on" };
	static const char *no[] = { "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int
conf_size_suffix(const char *s, unsigned long long *mult)
{
	if (strcmp(s, "k") == 0 || strcmp(s, "K") == 0 || strcmp(s, "KiB") == 0)
		*mult = 1024ULL;
	else if (strcmp(s, "m") == 0 || strcmp(s, "M") == 0 ||
	    strcmp(s, "MiB") == 0)
		*mult = 1024ULL * 1024ULL;
	else if (strcmp(s, "g") == 0 || strcmp(s, "G") == 0 ||
	    strcmp(s, "GiB") == 0)
		*mult = 1024ULL * 1024ULL * 1024ULL;
	else
		return -1;
	return 0;
}

int
conf_parse_number(const char *v, int allow_suffix, double *out)
{
	unsigned long long n = 0, mult = 1;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (n > (ULLONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
		p++;
	}
	if (*p != '\0' && (!allow_suffix || conf_size_suffix(p, &mult) != 0 ||
	    n > ULLONG_MAX / mult))
		return -1;
	*out = (double)(n * mult);
	return 0;
}

void
conf_fault_message(conf_fault f, const char *path, unsigned lineno,
    const char *key, size_t max_line, char *err, size_t err_len)
{
	char shown[64];

	switch (f) {
	case CONF_READ:
		return;     /* util_read_file's message stands */
	case CONF_NUL:
		snprintf(err, err_len, "%s: contains a NUL byte", path);
		return;
	case CONF_LINE_LONG:
		snprintf(err, err_len, "%s:%u: line longer than %zu bytes", path,
		    lineno, max_line);
		return;
	case CONF_SYNTAX:
	case CONF_CONTROL:
		snprintf(err, err_len, "%s:%u: expected 'key = value'", path, lineno);
		return;
	case CONF_UNTERMINATED:
		snprintf(err, err_len, "%s:%u: %s: unterminated quoted value", path,
		    lineno, key);
		return;
	case CONF_AFTER_QUOTE:
		snprintf(err, err_len, "%s:%u: %s: unexpected text after the "
		    "quoted value", path, lineno, key);
		return;
	case CONF_UNKNOWN:
		snprintf(err, err_len, "%s:%u: unknown option '%s'", path, lineno,
		    log_printable(shown, sizeof(shown), key, strlen(key)));
		return;
	case CONF_TWICE:
		snprintf(err, err_len, "%s:%u: option '%s' is set twice", path,
		    lineno, key);
		return;
	case CONF_REQUIRED:
		snprintf(err, err_len, "%s: missing required option '%s'", path, key);
		return;
	}
}

static int
conf_is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Parse one line in place.  1: a setting in *key and *val, 0: blank or comment,
 * -1: malformed, with the fault in *f (*key set when the key was read). */
static int
conf_split(char *line, unsigned flags, char **key, char **val, conf_fault *f)
{
	char *p = line, *k, *v, *w, *end;

	*key = NULL;
	*val = NULL;
	while (conf_is_blank(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	k = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	end = p;
	while (conf_is_blank(*p))
		p++;
	if (end == k || *p != '=') {
		*f = CONF_SYNTAX;
		return -1;
	}
	*end = '\0';
	*key = k;
	p++;
	while (conf_is_blank(*p))
		p++;
	if (*p == '"') {
		v = w = ++p;
		for (;;) {
			if (*p == '\0') {
				*f = CONF_UNTERMINATED;
				return -1;
			}
			if (*p == '"')
				break;
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			*w++ = *p++;
		}
		*w = '\0';
		p++;
		while (conf_is_blank(*p))
			p++;
		if (*p != '\0' && *p != '#') {
			*f = CONF_AFTER_QUOTE;
			return -1;
		}
	} else {
		v = p;
		/* an inline comment starts at '#' preceded by blank space */
		for (w = p; *w != '\0'; w++)
			if (*w == '#' && w > v && conf_is_blank(w[-1]))
				break;
		*w = '\0';
		while (w > v && (conf_is_blank(w[-1]) ||
		    ((flags & CONF_CR_IN_VALUE) && w[-1] == '\r')))
			*--w = '\0';
		if (*v == '#')
			*v = '\0';
	}
	if (flags & CONF_CR_IN_VALUE) {
		for (w = v; *w != '\0'; w++)
			if ((unsigned char)*w < 0x20 && *w != '\t') {
				*f = CONF_CONTROL;
				return -1;
			}
	}
	*val = v;
	return 1;
}

int
conf_load(const conf_parser *cp, void *obj, const char *path,
    char *err, size_t err_len)
{
	unsigned char *data = NULL;
	unsigned char seen[CONF_OPTS_MAX];
	char line[CONF_LINE_MAX + 1];
	size_t len = 0, pos = 0, i;
	unsigned lineno = 0;
	conf_fault f = CONF_SYNTAX;
	int rc = -1;

	memset(seen, 0, sizeof(seen));
	memset(line, 0, sizeof(line));
	if (cp->nopts > CONF_OPTS_MAX || cp->max_line > CONF_LINE_MAX)
		abort();    /* a table or limit this parser was not built for */
	if (util_read_file(path, cp->max_file, &data, &len, err, err_len) != 0) {
		cp->fault(CONF_READ, path, 0, NULL, cp->max_line, err, err_len);
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		cp->fault(CONF_NUL, path, 0, NULL, cp->max_line, err, err_len);
		goto fail;
	}
	while (pos < len) {
		const unsigned char *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (data + pos)) : len - pos;
		const conf_opt *o = NULL;
		char *key, *val;
		int k;

		lineno++;
		if (n > cp->max_line) {
			cp->fault(CONF_LINE_LONG, path, lineno, NULL, cp->max_line,
			    err, err_len);
			goto fail;
		}
		memcpy(line, data + pos, n);
		line[n] = '\0';
		if ((cp->flags & CONF_STRIP_CR) && n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		pos += n + (nl != NULL ? 1 : 0);
		k = conf_split(line, cp->flags, &key, &val, &f);
		if (k == 0)
			continue;
		if (k < 0) {
			cp->fault(f, path, lineno, key, cp->max_line, err, err_len);
			goto fail;
		}
		for (i = 0; i < cp->nopts; i++) {
			if (strcmp(cp->opts[i].name, key) == 0) {
				o = &cp->opts[i];
				break;
			}
		}
		if (o == NULL) {
			cp->fault(CONF_UNKNOWN, path, lineno, key, cp->max_line,
			    err, err_len);
			goto fail;
		}
		if (seen[i]) {
			cp->fault(CONF_TWICE, path, lineno, o->name, cp->max_line,
			    err, err_len);
			goto fail;
		}
		seen[i] = 1;
		if (cp->set(obj, o, val, path, lineno, err, err_len) != 0)
			goto fail;
	}
	for (i = 0; i < cp->nopts; i++) {
		const char *s = (const char *)obj + cp->opts[i].off;

		if (cp->opts[i].required && s[0] == '\0') {
			cp->fault(CONF_REQUIRED, path, 0, cp->opts[i].name,
			    cp->max_line, err, err_len);
			goto fail;
		}
	}
	rc = 0;
fail:
	/* the file may hold pg_conninfo with a password */
	vault_wipe(line, sizeof(line));
	vault_wipe(data, len);
	free(data);
	return rc;
}
