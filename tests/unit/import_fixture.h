/* tests/unit/import_fixture.h — shared by the test_import_*.c binaries
 * (header only): run one importer into memory and look at its lines with
 * jansson.
 *
 * imf_run() makes a context with the given options and sink, runs the
 * importer function the test passes (a closure over the path), and keeps
 * the output, the parsed lines, the context (for the report) and the
 * error message.
 */
#ifndef COFFER_TESTS_IMPORT_FIXTURE_H
#define COFFER_TESTS_IMPORT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/import/import.h"
#include "gateway/record.h"
#include "vault/mem.h"

#define IMF_DATA "tests/data/import/"
#define IMF_OWNER "+15550100009"

typedef struct imf {
	char     *out;         /* every line, '\n' after each */
	size_t    out_len;
	size_t    out_cap;
	json_t   *lines[256];
	size_t    n;
	imp_ctx  *c;
	imp_contacts *contacts;
	int       rc;
	char      err[512];
} imf;

static __attribute__((unused)) int
imf_sink(void *arg, const char *line, size_t len)
{
	imf *r = arg;
	json_error_t je;

	if (r->out_len + len + 2 > r->out_cap) {
		size_t cap = r->out_cap ? r->out_cap : 4096;

		while (cap < r->out_len + len + 2)
			cap *= 2;
		if ((r->out = realloc(r->out, cap)) == NULL)
			return -1;
		r->out_cap = cap;
	}
	memcpy(r->out + r->out_len, line, len);
	r->out_len += len;
	r->out[r->out_len++] = '\n';
	r->out[r->out_len] = '\0';
	if (r->n < 256)
		r->lines[r->n++] = json_loadb(line, len, 0, &je);
	return 0;
}

static __attribute__((unused)) void
imf_free(imf *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		json_decref(r->lines[i]);
	free(r->out);
	imp_ctx_free(&r->c);
	imp_contacts_free(&r->contacts);
	memset(r, 0, sizeof(*r));
}

/* A context for fmt with o (contacts loaded from contacts_csv if given);
 * the test then calls the importer with r->c. */
static __attribute__((unused)) int
imf_ctx(imf *r, const char *fmt, imp_opts *o, const char *contacts_csv)
{
	memset(r, 0, sizeof(*r));
	if (contacts_csv != NULL) {
		if (imp_contacts_file(&r->contacts, contacts_csv, o->default_cc,
		    r->err, sizeof(r->err)) != 0)
			return -1;
		o->contacts = r->contacts;
	}
	return imp_ctx_new(&r->c, fmt, o, imf_sink, r, r->err, sizeof(r->err));
}

static __attribute__((unused)) const char *
imf_str(const imf *r, size_t i, const char *key)
{
	json_t *v;

	if (i >= r->n || r->lines[i] == NULL)
		return NULL;
	v = json_object_get(r->lines[i], key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* recipients joined with ',' */
static __attribute__((unused)) const char *
imf_rcpt(const imf *r, size_t i, char *buf, size_t cap)
{
	json_t *a, *v;
	size_t k, off = 0;

	buf[0] = '\0';
	if (i >= r->n || r->lines[i] == NULL)
		return buf;
	a = json_object_get(r->lines[i], "recipients");
	json_array_foreach(a, k, v)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", k ? "," : "",
		    json_string_value(v));
	return buf;
}

static __attribute__((unused)) json_t *
imf_att(const imf *r, size_t i, size_t k)
{
	if (i >= r->n || r->lines[i] == NULL)
		return NULL;
	return json_array_get(json_object_get(r->lines[i], "attachments"), k);
}

static __attribute__((unused)) const char *
imf_att_str(const imf *r, size_t i, size_t k, const char *key)
{
	json_t *a = imf_att(r, i, k);

	return a ? json_string_value(json_object_get(a, key)) : NULL;
}

/* The whole output against an expected NDJSON file (IMF_WRITE_EXPECTED=1
 * rewrites it: review the diff before committing). */
static __attribute__((unused)) int
imf_same_as(const imf *r, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;
	int same = 0;

	if (f != NULL) {
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		if (n >= 0 && (buf = malloc((size_t)n + 1)) != NULL &&
		    fread(buf, 1, (size_t)n, f) == (size_t)n)
			same = (size_t)n == r->out_len &&
			    memcmp(buf, r->out, r->out_len) == 0;
		fclose(f);
	}
	if (!same && getenv("IMF_WRITE_EXPECTED") != NULL &&
	    (f = fopen(path, "wb")) != NULL) {
		if (r->out_len > 0)
			fwrite(r->out, 1, r->out_len, f);
		fclose(f);
	}
	free(buf);
	return same;
}

static __attribute__((unused)) int
imf_setup(void **state)
{
	(void)state;
	if (vault_init() != 0)
		return -1;
	rec_init();
	return 0;
}

#endif
