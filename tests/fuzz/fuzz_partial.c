/* tests/fuzz/fuzz_partial.c — libFuzzer target for custodian partials and
 * their Chaum-Pedersen proofs: the API's two decoders — of an approval body
 * (api_partials_decode) and of a stored approval as the production builder
 * reads it back from coffer.approvals (api_partials_stored_decode, both
 * api/approvals.c) — and vault's verify and combine (vault/threshold.c),
 * against one fixed 2-of-3 tenant with one wrapped epoch key
 * (deterministic, so the committed seeds hold genuine partials).
 *
 * The first input byte picks the mode (mod 4):
 *   0: the rest is an approval body {"custodian_index", "partials": [...]},
 *      parsed with jansson like the API does, decoded, and every decoded
 *      partial verified for its epoch;
 *   1: the rest is one raw partial (index byte, P, c ‖ z), verified;
 *   2: the rest is up to four partials, each either a genuine one (by
 *      index) or raw bytes, combined and unwrapped;
 *   3: the next byte is the custodian index (mod 255, + 1), the rest a
 *      stored approval ({"<epoch>": {"p","proof"}} or {"partials": [...]}),
 *      parsed with jansson like the builder does, decoded, and every
 *      decoded partial verified for its epoch.
 *
 * Beyond "does not crash": a decoded array is sorted, without repeats, and
 * carries the caller's index; what the API stores for a decoded body (and
 * for a decoded stored approval) decodes back to exactly the same array;
 * a partial verifies only when it is exactly the custodian's genuine one
 * for the fixture's epoch (no other encoding of P, c or z passes);
 * combining verifies nothing, but the epoch key only ever comes out equal
 * to the real one, and k genuine partials of distinct custodians always
 * open it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/partials.h"
#include "common/util.h"
#include "tests/fuzz/fuzz_common.h"
#include "vault/mem.h"
#include "vault/tenant.h"
#include "vault/threshold.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_K 2U
#define FZ_N 3U
#define FZ_RAW (1U + VAULT_POINT_BYTES + VAULT_PROOF_BYTES)

static struct {
	unsigned char T[VAULT_POINT_BYTES];
	unsigned char V[FZ_N + 1][VAULT_POINT_BYTES];
	unsigned char tenant_id[VAULT_ID_BYTES];
	unsigned char matter_id[VAULT_ID_BYTES];
	unsigned char epoch_id[VAULT_ID_BYTES];
	unsigned char ek[VAULT_EK_BYTES];
	unsigned char R[VAULT_POINT_BYTES];
	unsigned char wrapped[VAULT_WRAPPED_EK_BYTES];
	vault_partial genuine[FZ_N + 1];
} fx;

static int
fz_is_genuine(const vault_partial *p)
{
	return p->index >= 1 && p->index <= FZ_N &&
	    memcmp(p->P, fx.genuine[p->index].P, VAULT_POINT_BYTES) == 0 &&
	    memcmp(p->proof, fx.genuine[p->index].proof, VAULT_PROOF_BYTES) == 0;
}

/* A body as the API gets it, for seeds: custodian idx answering the
 * fixture's epoch (and optionally a second, made-up one). */
static void
fz_body_seed(const char *name, unsigned idx, const char *epoch, int extra,
    int flip)
{
	char p[2 * VAULT_POINT_BYTES + 1], c[65], z[65], eid[UTIL_UUID_STRLEN + 1];
	char buf[1024];
	int n;

	util_hex(p, fx.genuine[idx].P, VAULT_POINT_BYTES);
	util_hex(c, fx.genuine[idx].proof, 32);
	util_hex(z, fx.genuine[idx].proof + 32, 32);
	if (flip)
		z[63] = z[63] == '0' ? '1' : '0';
	util_uuid_format(eid, fx.epoch_id);
	buf[0] = 0;
	n = snprintf(buf + 1, sizeof(buf) - 1,
	    "{\"custodian_index\":%u,\"partials\":[{\"epoch_id\":\"%s\","
	    "\"p\":\"%s\",\"c\":\"%s\",\"z\":\"%s\"}%s]}", idx,
	    epoch != NULL ? epoch : eid, p, c, z, extra ?
	    ",{\"epoch_id\":\"00000000-0000-4000-8000-000000000001\","
	    "\"p\":\"00\",\"c\":\"00\",\"z\":\"00\"}" : "");
	fz_seed(name, buf, (size_t)n + 1);
}

/* A stored approval as the builder reads it, for seeds: mode 3, index,
 * then the document (the API's object form, or the submitted array under
 * "partials"; optionally the epoch twice, once in upper case). */
static void
fz_stored_seed(const char *name, unsigned idx, int array, int twice)
{
	char p[2 * VAULT_POINT_BYTES + 1], pr[2 * VAULT_PROOF_BYTES + 1];
	char c[65], z[65], eid[UTIL_UUID_STRLEN + 1], up[UTIL_UUID_STRLEN + 1];
	char buf[1024];
	size_t i;
	int n;

	util_hex(p, fx.genuine[idx].P, VAULT_POINT_BYTES);
	util_hex(pr, fx.genuine[idx].proof, VAULT_PROOF_BYTES);
	util_hex(c, fx.genuine[idx].proof, 32);
	util_hex(z, fx.genuine[idx].proof + 32, 32);
	util_uuid_format(eid, fx.epoch_id);
	for (i = 0; i <= UTIL_UUID_STRLEN; i++)
		up[i] = eid[i] >= 'a' && eid[i] <= 'f' ? (char)(eid[i] - 32) : eid[i];
	buf[0] = 3;
	buf[1] = (char)(idx - 1);
	if (array)
		n = snprintf(buf + 2, sizeof(buf) - 2, "{\"partials\":[{\"epoch_id\":"
		    "\"%s\",\"p\":\"%s\",\"c\":\"%s\",\"z\":\"%s\"}]}", eid, p, c, z);
	else
		n = snprintf(buf + 2, sizeof(buf) - 2, "{\"%s\":{\"p\":\"%s\","
		    "\"proof\":\"%s\"}%s%s%s%s%s%s%s}", eid, p, pr,
		    twice ? ",\"" : "", twice ? up : "", twice ? "\":{\"p\":\"" : "",
		    twice ? p : "", twice ? "\",\"proof\":\"" : "",
		    twice ? pr : "", twice ? "\"}" : "");
	fz_seed(name, buf, (size_t)n + 2);
}

static void
fz_write_seeds(void)
{
	unsigned char raw[1 + 4 * (1 + FZ_RAW)];
	unsigned i;

	memset(raw, 0, sizeof(raw));     /* seeds are the same every time */
	fz_body_seed("body-1", 1, NULL, 0, 0);
	fz_body_seed("body-3", 3, NULL, 0, 0);
	fz_body_seed("body-flipped", 2, NULL, 0, 1);
	fz_body_seed("body-other-epoch", 1,
	    "00000000-0000-4000-8000-0000000000aa", 0, 0);
	fz_body_seed("body-two", 2, NULL, 1, 0);
	fz_stored_seed("stored-1", 1, 0, 0);
	fz_stored_seed("stored-3", 3, 0, 0);
	fz_stored_seed("stored-array-2", 2, 1, 0);
	fz_stored_seed("stored-twice", 1, 0, 1);
	for (i = 1; i <= FZ_N; i++) {
		char name[32];

		raw[0] = 1;
		raw[1] = (unsigned char)i;
		memcpy(raw + 2, fx.genuine[i].P, VAULT_POINT_BYTES);
		memcpy(raw + 2 + VAULT_POINT_BYTES, fx.genuine[i].proof,
		    VAULT_PROOF_BYTES);
		snprintf(name, sizeof(name), "raw-%u", i);
		fz_seed(name, raw, 1 + FZ_RAW);
	}
	/* combine: genuine 1 and 3; genuine 2 and a raw one */
	raw[0] = 2;
	raw[1] = 0x81;
	raw[2] = 0x83;
	fz_seed("combine-13", raw, 3);
	raw[1] = 0x82;
	raw[2] = 0x00;
	memcpy(raw + 3, fx.genuine[1].P, VAULT_POINT_BYTES);
	fz_seed("combine-2raw", raw, 3 + FZ_RAW);
	fz_seeds_done();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	vault_tenant_keys *keys = NULL;
	unsigned char commitments[FZ_K * VAULT_POINT_BYTES];
	vault_release_ctx rctx;
	unsigned i;

	(void)argc;
	(void)argv;
	fz_deterministic_rng();
	if (vault_init() != 0 ||
	    vault_tenant_generate(&keys, FZ_K, FZ_N, err, sizeof(err)) != 0 ||
	    vault_tenant_keys_commitments(keys, commitments,
	    sizeof(commitments)) != 0)
		abort();
	vault_tenant_keys_public_key(keys, fx.T);
	randombytes_buf(fx.tenant_id, sizeof(fx.tenant_id));
	randombytes_buf(fx.matter_id, sizeof(fx.matter_id));
	randombytes_buf(fx.epoch_id, sizeof(fx.epoch_id));
	fx.epoch_id[6] = (unsigned char)((fx.epoch_id[6] & 0x0f) | 0x40);
	fx.epoch_id[8] = (unsigned char)((fx.epoch_id[8] & 0x3f) | 0x80);
	randombytes_buf(fx.ek, sizeof(fx.ek));
	if (vault_ek_wrap(fx.T, fx.tenant_id, fx.epoch_id, fx.ek, fx.R,
	    fx.wrapped) != 0)
		abort();
	vault_release_ctx_init(&rctx, fx.tenant_id, fx.matter_id, fx.epoch_id,
	    NULL);
	for (i = 1; i <= FZ_N; i++)
		if (vault_tenant_public_share(commitments, sizeof(commitments), i,
		    fx.V[i], err, sizeof(err)) != 0 ||
		    vault_threshold_partial(vault_tenant_keys_share(keys, i), i,
		    &rctx, fx.R, &fx.genuine[i], err, sizeof(err)) != 0)
			abort();
	vault_tenant_keys_free(&keys);
	fz_write_seeds();
	return 0;
}

/* Verify p (for epoch) as the API does; success only for the genuine one. */
static void
fz_verify(const vault_partial *p, const unsigned char epoch[VAULT_ID_BYTES])
{
	char err[256];
	vault_release_ctx rctx;

	if (p->index < 1 || p->index > FZ_N)
		return;
	err[0] = '\0';
	vault_release_ctx_init(&rctx, fx.tenant_id, fx.matter_id, epoch, NULL);
	if (vault_threshold_verify(p, fx.V[p->index], &rctx, fx.R, err,
	    sizeof(err)) == 0) {
		if (!fz_is_genuine(p) ||
		    memcmp(epoch, fx.epoch_id, VAULT_ID_BYTES) != 0)
			abort();
	} else {
		fz_msg(err);
	}
}

/* The decoders' contract on a result: sorted, no epoch twice, the
 * caller's index, epoch_text the epoch's uuid; each partial verifies only
 * when genuine. */
static void
fz_check_decoded(const api_partial *a, size_t n, unsigned idx)
{
	size_t i;

	if (n > 0 && a == NULL)
		abort();
	for (i = 0; i < n; i++) {
		unsigned char back[UTIL_UUID_BYTES];

		if (a[i].part.index != idx ||
		    util_uuid_parse(back, a[i].epoch_text) != 0 ||
		    memcmp(back, a[i].epoch_id, UTIL_UUID_BYTES) != 0 ||
		    (i > 0 && memcmp(a[i - 1].epoch_id, a[i].epoch_id,
		    UTIL_UUID_BYTES) >= 0))
			abort();
		fz_verify(&a[i].part, a[i].epoch_id);
	}
}

/* What the API stores for a (decoded) array, read back by the builder's
 * decoder: exactly the same partials. */
static void
fz_round_trip(const api_partial *a, size_t n, unsigned idx)
{
	json_t *stored = api_partials_stored(a, n);
	api_partial *b = NULL;
	size_t m = 0, i;
	char msg[256];

	if (stored == NULL)
		abort();
	if (api_partials_stored_decode(stored, idx, &b, &m, msg,
	    sizeof(msg)) != 0 || m != n)
		abort();
	for (i = 0; i < n; i++)
		if (memcmp(a[i].epoch_id, b[i].epoch_id, UTIL_UUID_BYTES) != 0 ||
		    strcmp(a[i].epoch_text, b[i].epoch_text) != 0 ||
		    a[i].part.index != b[i].part.index ||
		    memcmp(a[i].part.P, b[i].part.P, VAULT_POINT_BYTES) != 0 ||
		    memcmp(a[i].part.proof, b[i].part.proof,
		    VAULT_PROOF_BYTES) != 0)
			abort();
	free(b);
	json_decref(stored);
}

/* A stored approval as the builder reads it (jansson's default flags:
 * a repeated key keeps its last value). */
static void
fz_stored(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *doc;
	api_partial *a = (api_partial *)1;
	size_t n = 7;
	char msg[256];
	unsigned idx;

	if (size < 1)
		return;
	idx = (unsigned)data[0] % 255U + 1U;
	if ((doc = json_loadb((const char *)data + 1, size - 1, 0, &je)) == NULL)
		return;
	msg[0] = '\0';
	if (api_partials_stored_decode(doc, idx, &a, &n, msg, sizeof(msg)) != 0) {
		if (a != NULL || n != 0)
			abort();
		fz_msg(msg);
		json_decref(doc);
		return;
	}
	if (json_is_array(json_object_get(doc, "partials")) &&
	    json_object_size(doc) == 1 ?
	    n != json_array_size(json_object_get(doc, "partials")) :
	    n != json_object_size(doc))
		abort();
	fz_check_decoded(a, n, idx);
	fz_round_trip(a, n, idx);
	free(a);
	json_decref(doc);
}

static void
fz_body(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &je);
	const json_t *ci, *arr;
	api_partial *a = (api_partial *)1;
	size_t n = 7, bad = 7;
	char msg[256];
	unsigned idx = 1;

	if (body == NULL)
		return;
	ci = json_object_get(body, "custodian_index");
	if (json_is_integer(ci) && json_integer_value(ci) >= 1 &&
	    json_integer_value(ci) <= 255)
		idx = (unsigned)json_integer_value(ci);
	arr = json_is_array(body) ? body : json_object_get(body, "partials");
	msg[0] = '\0';
	if (api_partials_decode(arr, idx, &a, &n, msg, sizeof(msg), &bad) != 0) {
		if (a != NULL || n != 0 || bad > json_array_size(arr))
			abort();
		fz_msg(msg);
		json_decref(body);
		return;
	}
	if (n != json_array_size(arr) || bad != 0)
		abort();
	fz_check_decoded(a, n, idx);
	fz_round_trip(a, n, idx);
	free(a);
	json_decref(body);
}

static void
fz_raw(vault_partial *p, const uint8_t *data, size_t size)
{
	unsigned char raw[FZ_RAW];

	memset(raw, 0, sizeof(raw));
	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	memset(p, 0, sizeof(*p));
	p->index = raw[0];
	memcpy(p->P, raw + 1, VAULT_POINT_BYTES);
	memcpy(p->proof, raw + 1 + VAULT_POINT_BYTES, VAULT_PROOF_BYTES);
}

/* Selector byte s: s & 0x80 -> genuine partial of index s & 3 (1..3; 0
 * gives index 1), else FZ_RAW raw bytes follow. */
static void
fz_combine(const uint8_t *data, size_t size)
{
	vault_partial ps[4];
	unsigned char S[VAULT_POINT_BYTES], ek[VAULT_EK_BYTES];
	char err[256];
	size_t off = 0, n = 0, i, j;
	unsigned distinct_genuine = 0, all_genuine = 1, complete;

	while (off < size && n < 4) {
		uint8_t s = data[off++];

		if (s & 0x80) {
			unsigned idx = (s & 3) == 0 ? 1 : (s & 3);
			ps[n++] = fx.genuine[idx];
		} else {
			size_t take = size - off < FZ_RAW ? size - off : FZ_RAW;
			fz_raw(&ps[n], data + off, take);
			off += take;
			if (!fz_is_genuine(&ps[n]))
				all_genuine = 0;
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		int first = 1;

		for (j = 0; j < i; j++)
			if (ps[j].index == ps[i].index)
				first = 0;
		if (first && fz_is_genuine(&ps[i]))
			distinct_genuine++;
	}
	complete = all_genuine && distinct_genuine == n && n >= FZ_K;
	if (vault_threshold_combine(ps, n, S, err, sizeof(err)) != 0) {
		if (complete)
			abort();   /* k genuine partials of distinct custodians */
		fz_msg(err);
		for (i = 0; i < VAULT_POINT_BYTES; i++)
			if (S[i] != 0)
				abort();   /* S_out is zeroed on failure */
		return;
	}
	if (vault_threshold_unwrap(S, fx.R, fx.T, fx.tenant_id, fx.epoch_id,
	    fx.wrapped, ek, err, sizeof(err)) == 0) {
		if (memcmp(ek, fx.ek, sizeof(ek)) != 0)
			abort();
	} else if (complete) {
		abort();   /* ... must open the epoch key */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vault_partial p;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fz_body(data + 1, size - 1);
		break;
	case 1:
		fz_raw(&p, data + 1, size - 1);
		fz_verify(&p, fx.epoch_id);
		break;
	case 2:
		fz_combine(data + 1, size - 1);
		break;
	default:
		fz_stored(data + 1, size - 1);
		break;
	}
	return 0;
}
