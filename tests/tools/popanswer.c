/* tests/tools/popanswer.c — TEST ONLY: a proof of possession computed with
 * any share file for any index, so a test can play a custodian answering
 * with somebody else's share (cofferctl share prove refuses to), or answer
 * a challenge it fetched itself with curl.
 *
 *   popanswer SHARE PASSFILE INDEX CHALLENGE-JSON
 *
 * CHALLENGE-JSON is the API's answer to POST /v1/possession/challenge (a
 * file); the tenant id, generation and challenge are taken from it, the
 * index from the command line.  Prints the answer body,
 * {"p":"<hex>","proof":"<hex>"}, on stdout.  Exit 0, or 1 with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/util.h"
#include "vault/mem.h"
#include "vault/possession.h"
#include "vault/sharefile.h"

static int
pa_fail(const char *what, const char *why)
{
	fprintf(stderr, "popanswer: %s: %s\n", what, why);
	return 1;
}

int
main(int argc, char **argv)
{
	unsigned char *file = NULL, *share = NULL, tid[VAULT_ID_BYTES];
	unsigned char ch[VAULT_POP_CHALLENGE_BYTES], ans[VAULT_POP_ANSWER_BYTES];
	char err[512], pass[1024], ph[2 * VAULT_POINT_BYTES + 1];
	char pfh[2 * VAULT_POP_PROOF_BYTES + 1];
	const char *t, *c;
	vault_sharefile_info info;
	json_error_t je;
	json_t *j;
	size_t flen = 0;
	long idx;

	if (argc != 5)
		return pa_fail("usage", "popanswer SHARE PASSFILE INDEX CHALLENGE-JSON");
	if (vault_init() != 0)
		return pa_fail("libsodium", "initialisation failed");
	idx = strtol(argv[3], NULL, 10);
	if ((j = json_load_file(argv[4], 0, &je)) == NULL)
		return pa_fail(argv[4], je.text);
	t = json_string_value(json_object_get(j, "tenant_id"));
	c = json_string_value(json_object_get(j, "challenge"));
	if (t == NULL || util_uuid_parse(tid, t) != 0 || c == NULL ||
	    util_unhex(ch, sizeof(ch), c, strlen(c)) != 0)
		return pa_fail(argv[4], "not a challenge");
	if (util_read_file(argv[1], 4096, &file, &flen, err, sizeof(err)) != 0)
		return pa_fail(argv[1], err);
	if (util_read_passphrase(argv[2], NULL, pass, sizeof(pass), err,
	    sizeof(err)) != 0)
		return pa_fail(argv[2], err);
	if (vault_sharefile_open(file, flen, pass, strlen(pass), &info, &share,
	    err, sizeof(err)) != 0)
		return pa_fail(argv[1], err);
	if (vault_possession_prove(share, (unsigned)idx, tid, (uint32_t)
	    json_integer_value(json_object_get(j, "generation")), ch, ans, err,
	    sizeof(err)) != 0)
		return pa_fail("prove", err);
	vault_secure_free(share);
	util_hex(ph, ans, VAULT_POINT_BYTES);
	util_hex(pfh, ans + VAULT_POINT_BYTES, VAULT_POP_PROOF_BYTES);
	printf("{\"p\":\"%s\",\"proof\":\"%s\"}\n", ph, pfh);
	json_decref(j);
	free(file);
	return 0;
}
