/* tests/fuzz/fuzz_jtext.c — libFuzzer target for common/jtext.c, which
 * reads decrypted records in a production build (api/production.c) and
 * the gateway's ingest lines (gateway/record.c).
 *
 * Checks beyond "does not crash": whatever jtext_load takes, jansson's
 * json_loadb takes too and makes the same tree (the same dump, keys in
 * the same order); every string of that tree is written by jtext_escape
 * exactly as json_dumpb writes it, and counted alike.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/jtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_strings(const json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v), w, c;
		char *want, *got;

		c = jtext_escape(NULL, s, n);
		if ((want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL ||
		    (got = malloc(c)) == NULL)
			abort();
		w = jtext_escape(got, s, n);
		if (w != c || w != strlen(want) || memcmp(got, want, w) != 0)
			abort();
		free(got);
		free(want);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			fuzz_strings(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			fuzz_strings(e);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *scratch = malloc(size + 1);
	json_t *fast, *slow;
	json_error_t je;

	if (scratch == NULL)
		return 0;
	fast = jtext_load((const char *)data, size, scratch);
	if (fast != NULL) {
		char *a, *b;

		slow = json_loadb((const char *)data, size, 0, &je);
		if (slow == NULL)
			abort();
		a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
		b = json_dumps(slow, JSON_COMPACT | JSON_ENCODE_ANY);
		if (a == NULL || b == NULL || strcmp(a, b) != 0)
			abort();
		free(a);
		free(b);
		fuzz_strings(fast);
		json_decref(slow);
		json_decref(fast);
	}
	free(scratch);
	return 0;
}
