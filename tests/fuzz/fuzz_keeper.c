/* tests/fuzz/fuzz_keeper.c — libFuzzer target for what coffer-api's keeper
 * reads from the front (api/keeper.c): the input's first byte picks a
 * request type (KTOKENS .. KMETRICS), the rest is its payload; it goes
 * through the keeper's own size rule (keeper_expect) and, when accepted,
 * its handler (keeper_handle) on a bare keeper holding one tenant's
 * blind-index key ("acme") and no seed, answering into a socketpair that
 * is drained after each request.
 *
 * Beyond "does not crash": every answer is one KREPLY of the request's id
 * with a status of -1, 0 or 1, and a KTOKENS answered 0 carries exactly
 * 16 bytes per value the request counted.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/config.h"
#include "api/keeper.h"
#include "common/imsg.h"
#include "vault/blind.h"
#include "vault/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keeper *fz_k;
static api_config     fz_cfg;
static int            fz_sv[2] = { -1, -1 };

static void
fz_init(void)
{
	unsigned char bik[VAULT_BIK_BYTES];
	char dir[] = "/tmp/fuzz_keeper.XXXXXX", path[128], err[256];
	int fd;

	if (vault_init() != 0 || mkdtemp(dir) == NULL)
		abort();
	memset(bik, 0x5a, sizeof(bik));
	snprintf(path, sizeof(path), "%s/acme.bik", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, bik, sizeof(bik)) != (ssize_t)sizeof(bik))
		abort();
	close(fd);
	api_config_defaults(&fz_cfg);
	snprintf(fz_cfg.keys_dir, sizeof(fz_cfg.keys_dir), "%s", dir);
	snprintf(fz_cfg.productions_dir, sizeof(fz_cfg.productions_dir), "%s",
	    dir);
	snprintf(fz_cfg.blind_dir, sizeof(fz_cfg.blind_dir), "%s", dir);
	if (keeper_new_bare(&fz_k, &fz_cfg, err, sizeof(err)) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, fz_sv) != 0)
		abort();
	/* room for the largest answer (16 KiB of values: 4 Ki tokens, 64 KiB) */
	{
		int sz = 4 * 1024 * 1024;

		(void)setsockopt(fz_sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(fz_sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t types[] = { IMSG_KTOKENS, IMSG_KSEED_HAS,
	    IMSG_KBLIND, IMSG_KAUDIT_SIGN, IMSG_KHEAD_SIGN, IMSG_KMETRICS,
	    IMSG_KREPLY };
	unsigned char *p, *ans;
	uint32_t type, count = 0;
	char err[256];
	imsg_hdr h;
	int32_t st;

	if (fz_k == NULL)
		fz_init();
	if (size < 1 || size > 16384)
		return 0;
	type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	size--;
	if (keeper_expect(type, (uint32_t)size, err, sizeof(err)) != 0)
		return 0;
	/* the keeper reads the payload into a buffer of exactly its size */
	if ((p = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(p, data + 1, size);
	if (type == IMSG_KTOKENS && size >= 8)
		memcpy(&count, p + 4, 4);
	err[0] = '\0';
	if (keeper_handle(fz_k, fz_sv[0], type, 77, p, size, err,
	    sizeof(err)) != 0) {
		free(p);
		if (err[0] == '\0')
			abort();          /* a refusal always says why */
		return 0;
	}
	free(p);
	if (imsg_read_hdr(fz_sv[1], &h) != 1 || h.type != IMSG_KREPLY ||
	    h.id != 77 || h.len < 4)
		abort();
	if ((ans = malloc(h.len)) == NULL || imsg_read(fz_sv[1], ans, h.len) != 0)
		abort();
	memcpy(&st, ans, 4);
	if (st < -1 || st > 1)
		abort();
	if (type == IMSG_KTOKENS && st == 0 &&
	    h.len - 4 != (size_t)count * VAULT_TOKEN_BYTES)
		abort();
	free(ans);
	return 0;
}
