/* tests/unit/test_api_routes.c — the pieces of coffer-api that decide
 * before any database is touched: the route allowlist (404 for anything
 * unknown, 405 for a known path with another method), the decoding of a
 * custodian's partials (strict shape, exact hex, no epoch twice), the
 * RFC 3339 check that keeps "now"/"infinity" out of scopes, and that a
 * partial verifies only for the matter, epoch, index and tenant it was made
 * for (the binding the approval handler relies on).  No database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/partials.h"
#include "api/metrics.h"
#include "api/server.h"
#include "common/retention.h"
#include "vault/mem.h"
#include "vault/tenant.h"

static void
test_routes_allowlist(void **state)
{
	static const struct {
		const char *method, *path;
		unsigned    status;        /* 0: matched */
		const char *action;
		const char *param;
	} cases[] = {
		{ "GET",  "/v1/whoami", 0, "whoami", "" },
		{ "POST", "/v1/matters", 0, "matter.create", "" },
		{ "GET",  "/v1/matters", 0, "matter.list", "" },
		{ "GET",  "/v1/matters/abc", 0, "matter.show", "abc" },
		{ "POST", "/v1/matters/abc/close", 0, "matter.close", "abc" },
		{ "POST", "/v1/matters/abc/approvals", 0, "approval.submit", "abc" },
		{ "GET",  "/v1/matters/abc/production", 0, "production.download", "abc" },
		{ "POST", "/v1/holds", 0, "hold.create", "" },
		{ "GET",  "/v1/holds", 0, "hold.list", "" },
		{ "POST", "/v1/holds/h1/release", 0, "hold.release", "h1" },
		{ "GET",  "/v1/retention", 0, "retention.list", "" },
		{ "PUT",  "/v1/retention", 0, "retention.set", "" },
		{ "GET",  "/v1/audit", 0, "audit.export", "" },
		{ "GET",  "/v1/verify", 0, "verify.run", "" },
		/* the diagnostic surface of other products: nothing here */
		{ "GET",  "/heapdump", 404, NULL, NULL },
		{ "GET",  "/actuator/health", 404, NULL, NULL },
		{ "GET",  "/actuator", 404, NULL, NULL },
		{ "GET",  "/management/info", 404, NULL, NULL },
		{ "GET",  "/debug", 404, NULL, NULL },
		{ "GET",  "/env", 404, NULL, NULL },
		{ "GET",  "/.git/config", 404, NULL, NULL },
		{ "GET",  "/metrics", 404, NULL, NULL },
		{ "GET",  "/", 404, NULL, NULL },
		{ "GET",  "", 404, NULL, NULL },
		{ "GET",  "v1/whoami", 404, NULL, NULL },
		{ "GET",  "/v1/whoami/", 404, NULL, NULL },
		{ "GET",  "//v1/whoami", 404, NULL, NULL },
		{ "GET",  "/v1//whoami", 404, NULL, NULL },
		{ "GET",  "/v1/matters/", 404, NULL, NULL },
		{ "GET",  "/v1/matters//close", 404, NULL, NULL },
		{ "GET",  "/v1/matters/a/b/c", 404, NULL, NULL },
		{ "GET",  "/V1/WHOAMI", 404, NULL, NULL },
		{ "TRACE", "/heapdump", 404, NULL, NULL },
		/* known paths, other methods */
		{ "TRACE", "/v1/matters", 405, NULL, NULL },
		{ "DELETE", "/v1/matters/abc", 405, NULL, NULL },
		{ "HEAD", "/v1/whoami", 405, NULL, NULL },
		{ "OPTIONS", "/v1/audit", 405, NULL, NULL },
		{ "GET",  "/v1/matters/abc/approvals", 405, NULL, NULL },
		{ "POST", "/v1/verify", 405, NULL, NULL },
		{ "get",  "/v1/whoami", 405, NULL, NULL },
	};
	const api_route *rt;
	char param[80];
	unsigned status;
	size_t i;
	int idx;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = api_route_match(cases[i].method, cases[i].path, &rt, &idx,
		    param, sizeof(param), &status);

		if (cases[i].status == 0) {
			if (rc != 0 || rt == NULL)
				fail_msg("%s %s not matched", cases[i].method,
				    cases[i].path);
			assert_string_equal(rt->action, cases[i].action);
			assert_string_equal(param, cases[i].param);
			assert_ptr_equal(&api_routes[idx], rt);
		} else {
			if (rc == 0 || rt != NULL || status != cases[i].status)
				fail_msg("%s %s: status %u, expected %u", cases[i].method,
				    cases[i].path, status, cases[i].status);
			assert_string_equal(param, "");
		}
	}
	/* An over-long segment is no id. */
	{
		char path[256];

		memset(path, 'a', sizeof(path));
		memcpy(path, "/v1/matters/", 12);
		path[sizeof(path) - 1] = '\0';
		assert_int_not_equal(api_route_match("GET", path, &rt, &idx, param,
		    sizeof(param), &status), 0);
		assert_int_equal(status, 404);
	}
}

static void
test_route_table_roles(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < api_nroutes; i++) {
		const api_route *r = &api_routes[i];

		assert_non_null(r->fn);
		assert_true(r->roles != 0);
		if (strncmp(r->pattern, "/v1/matters/{id}/approvals", 26) == 0)
			assert_int_equal(r->roles, API_ROLE_CUSTODIAN);
		if (strcmp(r->action, "production.download") == 0)
			assert_int_equal(r->roles, API_ROLE_LEGAL);
		if (strncmp(r->action, "audit.", 6) == 0 ||
		    strncmp(r->action, "verify.", 7) == 0)
			assert_int_equal(r->roles, API_ROLE_AUDITOR);
		if (strncmp(r->action, "retention.", 10) == 0)
			assert_int_equal(r->roles, API_ROLE_ADMIN);
		/* admin never reaches content */
		if (strncmp(r->action, "matter.", 7) == 0 ||
		    strncmp(r->action, "production.", 11) == 0 ||
		    strncmp(r->action, "approval.", 9) == 0)
			assert_int_equal(r->roles & API_ROLE_ADMIN, 0);
	}
}

static json_t *
partial(const char *epoch, const char *p, const char *c, const char *z)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "epoch_id", epoch, "p", p, "c",
	    c, "z", z);
}

#define HEX64A "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX64B "2222222222222222222222222222222222222222222222222222222222222222"
#define E1 "00000000-0000-4000-8000-000000000002"
#define E2 "00000000-0000-4000-8000-000000000001"

static void
test_partials_decode(void **state)
{
	api_partial *a = NULL;
	char msg[256];
	size_t n, bad;
	json_t *arr;

	(void)state;
	arr = json_pack("[o, o]", partial(E1, HEX64A, HEX64B, HEX64A),
	    partial(E2, HEX64B, HEX64A, HEX64B));
	assert_int_equal(api_partials_decode(arr, 3, &a, &n, msg, sizeof(msg),
	    &bad), 0);
	assert_int_equal(n, 2);
	/* sorted by epoch id bytes */
	assert_string_equal(a[0].epoch_text, E2);
	assert_string_equal(a[1].epoch_text, E1);
	assert_int_equal(a[0].part.index, 3);
	assert_int_equal(a[0].part.P[0], 0x22);
	assert_int_equal(a[0].part.proof[0], 0x11);
	assert_int_equal(a[0].part.proof[32], 0x22);
	free(a);
	json_decref(arr);

	/* empty is a (decodable) empty set */
	arr = json_array();
	assert_int_equal(api_partials_decode(arr, 1, &a, &n, msg, sizeof(msg),
	    &bad), 0);
	assert_int_equal(n, 0);
	free(a);
	json_decref(arr);

	/* each malformed shape is refused */
	{
		json_t *bads[] = {
			json_pack("[o, o]", partial(E1, HEX64A, HEX64A, HEX64A),
			    partial(E1, HEX64B, HEX64B, HEX64B)),          /* twice */
			json_pack("[o]", partial("not-a-uuid", HEX64A, HEX64A, HEX64A)),
			json_pack("[o]", partial(E1, "11", HEX64A, HEX64A)),  /* short */
			json_pack("[o]", partial(E1, HEX64A "11", HEX64A, HEX64A)),
			json_pack("[o]", partial(E1, HEX64A, HEX64A,
			    "zz11111111111111111111111111111111111111111111111111111111111111")),
			json_pack("[{s:s, s:s, s:s}]", "epoch_id", E1, "p", HEX64A, "c",
			    HEX64A),                                        /* no z */
			json_pack("[{s:s, s:s, s:s, s:s, s:i}]", "epoch_id", E1, "p",
			    HEX64A, "c", HEX64A, "z", HEX64A, "extra", 1),
			json_pack("[i]", 7),
			json_pack("{s:s}", "epoch_id", E1),                 /* not array */
		};
		size_t i;

		for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			assert_non_null(bads[i]);
			if (api_partials_decode(bads[i], 1, &a, &n, msg, sizeof(msg),
			    &bad) == 0)
				fail_msg("malformed case %zu accepted", i);
			assert_null(a);
			/* never echoes the submitted bytes */
			assert_null(strstr(msg, "1111111111"));
			json_decref(bads[i]);
		}
	}
}

/* A real 2-of-3 key: a partial verifies only where it was made. */
/* A release context for these ids, recipient zero (rotating buffers). */
static const vault_release_ctx *
tc(const unsigned char *t, const unsigned char *m, const unsigned char *e)
{
	static vault_release_ctx c[4];
	static unsigned n;
	vault_release_ctx *x = &c[n++ % 4];

	vault_release_ctx_init(x, t, m, e, NULL);
	return x;
}

static void
test_partial_binding(void **state)
{
	unsigned char tenant[16] = { 1 }, other_tenant[16] = { 2 };
	unsigned char matter_x[16] = { 3 }, matter_y[16] = { 4 };
	unsigned char epoch[16] = { 5 }, epoch2[16] = { 6 };
	unsigned char T[32], R[32], R2[32], V1[32], V2[32], wrapped[72];
	unsigned char ek[32] = { 9 };
	vault_tenant_keys *keys = NULL;
	vault_partial p;
	char err[256];

	(void)state;
	assert_int_equal(vault_init(), 0);
	assert_int_equal(vault_tenant_generate(&keys, 2, 3, err, sizeof(err)), 0);
	vault_tenant_keys_public_key(keys, T);
	assert_int_equal(vault_tenant_keys_public_share(keys, 1, V1), 0);
	assert_int_equal(vault_tenant_keys_public_share(keys, 2, V2), 0);
	assert_int_equal(vault_ek_wrap(T, tenant, epoch, ek, R, wrapped), 0);
	assert_int_equal(vault_ek_wrap(T, tenant, epoch2, ek, R2, wrapped), 0);
	assert_int_equal(vault_threshold_partial(vault_tenant_keys_share(keys, 1),
	    1, tc(tenant, matter_x, epoch), R, &p, err, sizeof(err)), 0);

	assert_int_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	/* replayed on another matter */
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_y, epoch), R, err, sizeof(err)), 0);
	/* another epoch, another R */
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch2), R2, err, sizeof(err)), 0);
	/* claimed by custodian 2 */
	p.index = 2;
	assert_int_not_equal(vault_threshold_verify(&p, V2, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "custodian 2"));
	p.index = 1;
	/* another tenant */
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(other_tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	/* tampered P, c, z */
	p.P[3] ^= 1;
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	p.P[3] ^= 1;
	p.proof[5] ^= 1;
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	p.proof[5] ^= 1;
	p.proof[40] ^= 1;
	assert_int_not_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	p.proof[40] ^= 1;
	assert_int_equal(vault_threshold_verify(&p, V1, tc(tenant, matter_x, epoch), R, err, sizeof(err)), 0);
	vault_tenant_keys_free(&keys);
}

static void
test_times(void **state)
{
	static const char *const good[] = {
		"2026-01-10T00:00:00Z", "2026-01-10t00:00:00z",
		"2026-01-10 00:00:00Z", "2026-01-10T00:00:00.123456Z",
		"2026-01-10T00:00:00+02:00", "2026-01-10T00:00:00.5-05:30",
	};
	static const char *const badv[] = {
		"now", "today", "infinity", "-infinity", "epoch", "",
		"2026-01-10", "2026-01-10T00:00:00", "2026-01-10T00:00Z",
		"2026-01-10T00:00:00+0200", "2026-01-10T00:00:00.Z",
		"2026-01-10T00:00:00.1234567890Z", "2026-01-10T00:00:00Z ",
		"x026-01-10T00:00:00Z", "2026-01-10T00:00:00Zjunk",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!util_rfc3339_ok(good[i]))
			fail_msg("refused %s", good[i]);
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); i++)
		if (util_rfc3339_ok(badv[i]))
			fail_msg("accepted '%s'", badv[i]);
}

static void
test_metrics_page(void **state)
{
	static const char *const names[] = { "whoami", "matter.create" };
	char *page = NULL;
	size_t len = 0;

	(void)state;
	api_metrics_init(names, 2);
	api_metrics_request(0, 200);
	api_metrics_request(1, 201);
	api_metrics_request(-1, 404);
	api_metrics_request(1, 418);
	api_metrics_refusal(API_REFUSE_NOT_FOUND);
	api_metrics_approval(1);
	api_metrics_approval(0);
	api_metrics_production(API_PROD_BUILT);
	api_metrics_rate_limited(API_LIMIT_APPROVAL);
	assert_int_equal(api_metrics_render(&page, &len), 0);
	assert_int_equal(strlen(page), len);
	assert_non_null(strstr(page,
	    "coffer_api_requests_total{route=\"whoami\",status=\"200\"} 1\n"));
	assert_non_null(strstr(page,
	    "coffer_api_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
	assert_non_null(strstr(page,
	    "coffer_api_requests_total{route=\"matter.create\",status=\"other\"} 1\n"));
	assert_non_null(strstr(page, "coffer_api_approvals_total{result=\"accepted\"} 1\n"));
	assert_non_null(strstr(page, "coffer_api_approvals_total{result=\"rejected\"} 1\n"));
	assert_non_null(strstr(page, "coffer_api_productions_total{event=\"built\"} 1\n"));
	assert_non_null(strstr(page, "coffer_api_rate_limited_total{class=\"approval\"} 1\n"));
	free(page);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_allowlist),
		cmocka_unit_test(test_route_table_roles),
		cmocka_unit_test(test_partials_decode),
		cmocka_unit_test(test_partial_binding),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_metrics_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
