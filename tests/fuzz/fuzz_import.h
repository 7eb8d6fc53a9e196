/* tests/fuzz/fuzz_import.h — what the five importer targets share
 * (tests/fuzz/fuzz_import_*.c; header only, as run.sh builds each target
 * from its one file).
 *
 * fi_ctx() makes a context with a small contact list and, from the
 * input's first byte, one of three zones and a date order; the sink
 * checks that every line is one line (the validator, rec_check, has
 * already run in imp_emit).  fi_done() checks the outcome: a refusal has
 * a printable message, a success a report that is valid JSON.
 */
#ifndef COFFER_TESTS_FUZZ_IMPORT_H
#define COFFER_TESTS_FUZZ_IMPORT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/import/import.h"
#include "gateway/record.h"
#include "tests/fuzz/fuzz_common.h"
#include "vault/mem.h"

static imp_contacts *fi_contacts;
static size_t fi_lines;

static int
fi_sink(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (len == 0 || memchr(line, '\n', len) != NULL)
		abort();
	fi_lines++;
	return 0;
}

static void
fi_init(void)
{
	static const char csv[] = "name,number\nAlice Smith,+15550100001\n"
	    "Bob Example,+15550100002\nDana Owner,+15550100009\n"
	    "user123456789,+15550100001\nParticipant Name,+15550100003\n";
	char err[256];

	if (fi_contacts != NULL)
		return;
	if (vault_init() != 0)
		abort();
	rec_init();
	if (imp_contacts_load(&fi_contacts, csv, sizeof(csv) - 1, "44", err,
	    sizeof(err)) != 0)
		abort();
}

static imp_ctx *
fi_ctx(const char *fmt, uint8_t mode)
{
	static const char *const zones[] = { NULL, "Europe/London",
	    "America/New_York" };
	imp_opts o;
	imp_ctx *c = NULL;
	char err[256];

	fi_init();
	memset(&o, 0, sizeof(o));
	o.owner = "+15550100009";
	o.default_cc = "44";
	o.tz = zones[mode % 3];
	o.date_order = (imp_date_order)((mode >> 2) % 3);
	o.contacts = fi_contacts;
	o.lim.input_max = 1U << 20;
	o.lim.media_max = 1U << 16;
	o.lim.archive_max = 4U << 20;
	o.lim.entries_max = 64;
	o.lim.messages_max = 2000;
	o.lim.body_max = 1U << 16;
	if (imp_ctx_new(&c, fmt, &o, fi_sink, NULL, err, sizeof(err)) != 0)
		abort();
	fi_lines = 0;
	return c;
}

static void
fi_done(imp_ctx **c, int rc, const char *err)
{
	char *rep;
	json_t *j;

	if (rc != 0) {
		if (getenv("FI_DEBUG") != NULL)
			fprintf(stderr, "refused: [%s]\n", err);
		fz_msg(err);
	} else {
		if (imp_imported(*c) != fi_lines)
			abort();
		if ((rep = imp_report_json(*c)) == NULL)
			abort();
		if ((j = json_loads(rep, 0, NULL)) == NULL)
			abort();
		json_decref(j);
		free(rep);
	}
	imp_ctx_free(c);
}

#endif
