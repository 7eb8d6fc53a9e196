/* api/partials.c — decode the partials a custodian submits, write their
 * stored form, decode it back (api/partials.h).  Strict: every member is
 * checked, nothing submitted is ever echoed in a message. */
#include "api/partials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_MAX 1000000U      /* partials in one answer */

static int
part_hex_member(const json_t *o, const char *key, unsigned char *out,
    size_t len)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) != 2 * len)
		return -1;
	return util_unhex(out, len, json_string_value(v), 2 * len);
}

static int
part_cmp(const void *x, const void *y)
{
	return memcmp(((const api_partial *)x)->epoch_id,
	    ((const api_partial *)y)->epoch_id, UTIL_UUID_BYTES);
}

/* Epoch order (the database's uuid order is byte order too), no epoch
 * twice. */
static int
part_sort_unique(api_partial *a, size_t count, char *msg, size_t msg_len)
{
	size_t j;

	if (count > 1)
		qsort(a, count, sizeof(*a), part_cmp);
	for (j = 1; j < count; j++)
		if (memcmp(a[j - 1].epoch_id, a[j].epoch_id, UTIL_UUID_BYTES) == 0) {
			snprintf(msg, msg_len, "epoch %s is answered twice",
			    a[j].epoch_text);
			return -1;
		}
	return 0;
}

/* *a: room for count partials (none for 0), at most PART_MAX. */
static int
part_alloc(size_t count, api_partial **a, char *msg, size_t msg_len)
{
	*a = NULL;
	if (count > PART_MAX) {
		snprintf(msg, msg_len, "too many partials");
		return -1;
	}
	if (count > 0 && (*a = calloc(count, sizeof(**a))) == NULL) {
		snprintf(msg, msg_len, "out of memory");
		return -1;
	}
	return 0;
}

int
api_partials_decode(const json_t *partials, unsigned int index,
    api_partial **out, size_t *n, char *msg, size_t msg_len, size_t *bad)
{
	api_partial *a = NULL;
	size_t i, count;

	*out = NULL;
	*n = 0;
	*bad = 0;
	if (!json_is_array(partials)) {
		snprintf(msg, msg_len, "partials must be an array");
		return -1;
	}
	count = json_array_size(partials);
	if (part_alloc(count, &a, msg, msg_len) != 0)
		return -1;
	for (i = 0; i < count; i++) {
		const json_t *e = json_array_get(partials, i);
		const json_t *eid;
		unsigned char c[32], z[32];

		*bad = i + 1;
		if (!json_is_object(e) || json_object_size(e) != 4 ||
		    (eid = json_object_get(e, "epoch_id")) == NULL ||
		    !json_is_string(eid) ||
		    util_uuid_parse(a[i].epoch_id, json_string_value(eid)) != 0) {
			snprintf(msg, msg_len, "partial #%zu must be {\"epoch_id\", "
			    "\"p\", \"c\", \"z\"} with a uuid epoch_id", i + 1);
			goto fail;
		}
		if (part_hex_member(e, "p", a[i].part.P, sizeof(a[i].part.P)) != 0 ||
		    part_hex_member(e, "c", c, sizeof(c)) != 0 ||
		    part_hex_member(e, "z", z, sizeof(z)) != 0) {
			snprintf(msg, msg_len, "partial #%zu: p, c and z must be 64 hex "
			    "digits each", i + 1);
			goto fail;
		}
		memcpy(a[i].part.proof, c, 32);
		memcpy(a[i].part.proof + 32, z, 32);
		a[i].part.index = index;
		util_uuid_format(a[i].epoch_text, a[i].epoch_id);
	}
	*bad = 0;
	if (part_sort_unique(a, count, msg, msg_len) != 0)
		goto fail;
	*out = a;
	*n = count;
	return 0;
fail:
	free(a);
	return -1;
}

int
api_partials_stored_decode(json_t *doc, unsigned int index,
    api_partial **out, size_t *n, char *msg, size_t msg_len)
{
	api_partial *a = NULL;
	const char *key;
	json_t *v;
	const json_t *arr;
	size_t count, i = 0, bad;

	*out = NULL;
	*n = 0;
	if (!json_is_object(doc)) {
		snprintf(msg, msg_len, "partials are not an object");
		return -1;
	}
	arr = json_object_get(doc, "partials");
	if (json_object_size(doc) == 1 && json_is_array(arr))
		return api_partials_decode(arr, index, out, n, msg, msg_len, &bad);
	count = json_object_size(doc);
	if (part_alloc(count, &a, msg, msg_len) != 0)
		return -1;
	json_object_foreach(doc, key, v) {
		i++;
		if (i > count || util_uuid_parse(a[i - 1].epoch_id, key) != 0 ||
		    !json_is_object(v) || json_object_size(v) != 4 ||
		    part_hex_member(v, "p", a[i - 1].part.P,
		    sizeof(a[i - 1].part.P)) != 0 ||
		    part_hex_member(v, "proof", a[i - 1].part.proof,
		    sizeof(a[i - 1].part.proof)) != 0 ||
		    part_hex_member(v, "rb", a[i - 1].rb,
		    sizeof(a[i - 1].rb)) != 0 ||
		    part_hex_member(v, "bp", a[i - 1].bp,
		    sizeof(a[i - 1].bp)) != 0) {
			snprintf(msg, msg_len, "partial #%zu must be \"<epoch uuid>\": "
			    "{\"p\": 64 hex digits, \"proof\": 128 hex digits, "
			    "\"rb\": 64, \"bp\": 128}", i);
			goto fail;
		}
		a[i - 1].part.index = index;
		util_uuid_format(a[i - 1].epoch_text, a[i - 1].epoch_id);
	}
	if (i != count || part_sort_unique(a, count, msg, msg_len) != 0)
		goto fail;
	*out = a;
	*n = count;
	return 0;
fail:
	free(a);
	return -1;
}

json_t *
api_partials_stored(const api_partial *a, size_t n)
{
	char p[65], proof[129], rb[65], bp[129];
	json_t *o = json_object();
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		util_hex(p, a[i].part.P, sizeof(a[i].part.P));
		util_hex(proof, a[i].part.proof, sizeof(a[i].part.proof));
		util_hex(rb, a[i].rb, sizeof(a[i].rb));
		util_hex(bp, a[i].bp, sizeof(a[i].bp));
		if (json_object_set_new(o, a[i].epoch_text, json_pack("{s:s, s:s, "
		    "s:s, s:s}", "p", p, "proof", proof, "rb", rb, "bp", bp)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}
