/* api/capture.c — GET /v1/capture: the capture completeness report of the
 * caller's tenant (migration 0021's coffer.capture_report; README "Capture
 * completeness"), for admins and auditors.  Numbers, times and device ids
 * only: never content or a participant.
 *
 *   ?silence=SECONDS   1..31622400 (366 days), default 3600
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/handlers.h"
#include "api/request.h"
#include "common/pg.h"

#define CAP_ERR          512U
#define CAP_SILENCE_MAX  31622400L

static json_t *
cap_int(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() :
	    json_integer(strtoll(PQgetvalue(res, i, col), NULL, 10));
}

static json_t *
cap_str(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() :
	    json_string(PQgetvalue(res, i, col));
}

void
api_h_capture_report(api_req *r)
{
	pg_params p = PG_PARAMS_INIT;
	const char *q = api_query(r, "silence");
	char err[CAP_ERR], secs[24];
	json_t *list = NULL, *d;
	PGresult *res;
	long silence = 3600;
	int i, incomplete = 0;

	api_target(r, "capture");
	if (q != NULL) {
		char *end;

		silence = strtol(q, &end, 10);
		if (q[0] < '0' || q[0] > '9' || *end != '\0' || silence < 1 ||
		    silence > CAP_SILENCE_MAX) {
			api_fail(r, 400, "bad_request", "invalid", "silence must be "
			    "1..31622400 seconds");
			return;
		}
	}
	snprintf(secs, sizeof(secs), "%ld", silence);
	pg_param_text(&p, r->who.tenant_id_str);
	pg_param_text(&p, secs);
	res = pg_query(r->db, "SELECT device_id, active, "
	    API_TS("last_record_at") ", " API_TS("heartbeat_at") ", "
	    API_TS("last_seen") ", last_seq, seq_high, received, missing, "
	    "gap_count, gaps, duplicates, silent, clock_skew_ms, outbox "
	    "FROM coffer.capture_report($1::uuid, $2::bigint * "
	    "interval '1 second')", &p, err, sizeof(err));
	if (res == NULL) {
		api_fail_db(r, "capture report", err);
		return;
	}
	if ((list = json_array()) == NULL)
		goto oom;
	for (i = 0; i < PQntuples(res); i++) {
		int silent = strcmp(PQgetvalue(res, i, 12), "t") == 0;

		if (silent || strtoll(PQgetvalue(res, i, 8), NULL, 10) > 0 ||
		    strtoll(PQgetvalue(res, i, 11), NULL, 10) > 0)
			incomplete++;
		d = json_pack("{s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
		    "s:o, s:o, s:b, s:o, s:o}",
		    "device", cap_str(res, i, 0),
		    "active", strcmp(PQgetvalue(res, i, 1), "t") == 0,
		    "last_record_at", cap_str(res, i, 2),
		    "heartbeat_at", cap_str(res, i, 3),
		    "last_seen", cap_str(res, i, 4),
		    "last_seq", cap_int(res, i, 5),
		    "seq_high", cap_int(res, i, 6),
		    "received", cap_int(res, i, 7),
		    "missing", cap_int(res, i, 8),
		    "gap_count", cap_int(res, i, 9),
		    "gaps", cap_str(res, i, 10),
		    "duplicates", cap_int(res, i, 11),
		    "silent", silent,
		    "clock_skew_ms", cap_int(res, i, 13),
		    "outbox", cap_int(res, i, 14));
		if (d == NULL || json_array_append_new(list, d) != 0)
			goto oom;
	}
	api_detail(r, "devices", json_integer(PQntuples(res)));
	api_detail(r, "incomplete", json_integer(incomplete));
	PQclear(res);
	api_reply(r, 200, json_pack("{s:i, s:i, s:o}", "silence_s",
	    (json_int_t)silence, "incomplete", incomplete, "devices", list));
	return;
oom:
	PQclear(res);
	json_decref(list);
	api_fail_internal(r, "capture report", "out of memory");
}
