/* common/retention.c — legal holds and retention policies, one change at a
 * time in the caller's transaction (see retention.h).
 *
 * Trusts: the caller for the actor strings and the tenant id.  Checks the
 * rest (lengths, channel names, time syntax) before the database does, so
 * errors can say which field is wrong without quoting it.
 */
#include "common/retention.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/channels.h"
#include "common/pg.h"


/* Printable ASCII or any UTF-8 byte >= 0x80, no controls; 1..max bytes. */
static int
ret_text_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
retention_hold_create(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
    const retention_hold *h, unsigned char hold_id_out[UTIL_UUID_BYTES],
    char *from_out, char *to_out, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	char *parr = NULL, *carr = NULL, *charr = NULL;
	PGresult *r = NULL;
	size_t i;
	int rc = -1;

	memset(hold_id_out, 0, UTIL_UUID_BYTES);
	from_out[0] = to_out[0] = '\0';
	if (h->created_by == NULL || !ret_text_ok(h->created_by, RETENTION_BY_MAX)) {
		snprintf(err, err_len, "hold: creator missing or not printable");
		return -1;
	}
	if (h->reason != NULL && !ret_text_ok(h->reason, RETENTION_REASON_MAX * 4)) {
		snprintf(err, err_len, "hold: reason must be 1..%u characters "
		    "without control characters", RETENTION_REASON_MAX);
		return -1;
	}
	for (i = 0; i < h->nchannels; i++)
		if (!channels_ok(h->channels[i])) {
			snprintf(err, err_len, "hold: channel #%zu is not a known "
			    "channel", i + 1);
			return -1;
		}
	if ((h->from != NULL && !util_rfc3339_ok(h->from)) ||
	    (h->to != NULL && !util_rfc3339_ok(h->to))) {
		snprintf(err, err_len, "hold: from/to must be RFC 3339 date-times "
		    "with an offset");
		return -1;
	}
	if ((h->nparticipants > 0 &&
	    (parr = pg_bytea_array(h->participants, RETENTION_TOKEN_BYTES,
	    h->nparticipants)) == NULL) ||
	    (h->nconversations > 0 &&
	    (carr = pg_bytea_array(h->conversations, RETENTION_TOKEN_BYTES,
	    h->nconversations)) == NULL) ||
	    (h->nchannels > 0 &&
	    (charr = pg_text_array(h->channels, h->nchannels)) == NULL)) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	util_uuid_random(hold_id_out);
	pg_param_bin(&p, tenant_id, UTIL_UUID_BYTES);             /* $1 */
	pg_param_bin(&p, hold_id_out, UTIL_UUID_BYTES);           /* $2 */
	if (h->matter_id != NULL)
		pg_param_bin(&p, h->matter_id, UTIL_UUID_BYTES);      /* $3 */
	else
		pg_param_null(&p);
	pg_param_text(&p, h->reason);                             /* $4 */
	pg_param_text(&p, parr);                                  /* $5 */
	pg_param_text(&p, carr);                                  /* $6 */
	pg_param_text(&p, charr);                                 /* $7 */
	pg_param_text(&p, h->from);                               /* $8 */
	pg_param_text(&p, h->to);                                 /* $9 */
	pg_param_text(&p, h->created_by);                         /* $10 */
	r = pg_query(c, "INSERT INTO coffer.holds (tenant_id, hold_id, "
	    "matter_id, reason, participant_tokens, conversation_tokens, "
	    "channels, time_from, time_to, created_by) VALUES ($1::uuid, "
	    "$2::uuid, $3::uuid, $4, $5::bytea[], $6::bytea[], $7::text[], "
	    "$8::timestamptz, $9::timestamptz, $10) RETURNING "
	    "coalesce(pg_catalog.to_char(time_from AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ''), "
	    "coalesce(pg_catalog.to_char(time_to AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')", &p, err, err_len);
	if (r == NULL)
		goto out;
	if (PQntuples(r) != 1) {
		snprintf(err, err_len, "hold not written");
		goto out;
	}
	snprintf(from_out, RETENTION_TIME_MAX, "%s", PQgetvalue(r, 0, 0));
	snprintf(to_out, RETENTION_TIME_MAX, "%s", PQgetvalue(r, 0, 1));
	rc = 0;
out:
	PQclear(r);
	free(parr);
	free(carr);
	free(charr);
	if (rc != 0)
		memset(hold_id_out, 0, UTIL_UUID_BYTES);
	return rc;
}

int
retention_hold_release(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
    const unsigned char hold_id[UTIL_UUID_BYTES], const char *released_by,
    char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	int rc;

	if (released_by == NULL || !ret_text_ok(released_by, RETENTION_BY_MAX)) {
		snprintf(err, err_len, "hold: releaser missing or not printable");
		return -1;
	}
	pg_param_bin(&p, tenant_id, UTIL_UUID_BYTES);
	pg_param_bin(&p, hold_id, UTIL_UUID_BYTES);
	pg_param_text(&p, released_by);
	/* One statement: lock the row, release it if active, and say which
	 * case it was. */
	r = pg_query(c, "WITH h AS (SELECT hold_id, active FROM coffer.holds "
	    "  WHERE tenant_id = $1::uuid AND hold_id = $2::uuid FOR UPDATE), "
	    "u AS (UPDATE coffer.holds SET active = false, released_by = $3, "
	    "  released_at = pg_catalog.now() WHERE tenant_id = $1::uuid AND "
	    "  hold_id = $2::uuid AND active RETURNING 1) "
	    "SELECT (SELECT count(*) FROM h), (SELECT count(*) FROM u)",
	    &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_len, "unexpected answer releasing a hold");
		return -1;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "0") == 0)
		rc = RETENTION_NO_HOLD;
	else if (strcmp(PQgetvalue(r, 0, 1), "1") == 0)
		rc = RETENTION_RELEASED;
	else
		rc = RETENTION_NOT_ACTIVE;
	PQclear(r);
	return rc;
}

int
retention_policy_set(PGconn *c, const unsigned char tenant_id[UTIL_UUID_BYTES],
    const char *channel, unsigned days, const char *updated_by,
    char *old_out, char *new_out, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT, q = PG_PARAMS_INIT;
	PGresult *r = NULL;
	char dstr[16];

	old_out[0] = new_out[0] = '\0';
	if (channel == NULL ||
	    (strcmp(channel, "*") != 0 && !channels_ok(channel))) {
		snprintf(err, err_len, "retention: unknown channel");
		return -1;
	}
	if (days > RETENTION_DAYS_MAX) {
		snprintf(err, err_len, "retention: days must be 1..%u",
		    RETENTION_DAYS_MAX);
		return -1;
	}
	if (updated_by == NULL || !ret_text_ok(updated_by, RETENTION_BY_MAX)) {
		snprintf(err, err_len, "retention: actor missing or not printable");
		return -1;
	}
	if (audit_lock_tenant(c, tenant_id, err, err_len) != 0)
		return -1;
	pg_param_bin(&p, tenant_id, UTIL_UUID_BYTES);
	pg_param_text(&p, channel);
	r = pg_query(c, "SELECT retention IS NULL, retention::text "
	    "FROM coffer.retention_policies "
	    "WHERE tenant_id = $1::uuid AND channel = $2", &p, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) == 0)
		snprintf(old_out, RETENTION_VALUE_MAX, "none");
	else if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
		snprintf(old_out, RETENTION_VALUE_MAX, "forever");
	else
		snprintf(old_out, RETENTION_VALUE_MAX, "%.60s", PQgetvalue(r, 0, 1));
	PQclear(r);

	snprintf(dstr, sizeof(dstr), "%u", days);
	pg_param_bin(&q, tenant_id, UTIL_UUID_BYTES);
	pg_param_text(&q, channel);
	pg_param_text(&q, days == 0 ? NULL : dstr);
	pg_param_text(&q, updated_by);
	r = pg_query(c, "INSERT INTO coffer.retention_policies AS rp "
	    "(tenant_id, channel, retention, updated_by) VALUES ($1::uuid, "
	    "$2, pg_catalog.make_interval(days => $3::int), $4) "
	    "ON CONFLICT (tenant_id, channel) DO UPDATE SET "
	    "retention = EXCLUDED.retention, updated_by = EXCLUDED.updated_by, "
	    "updated_at = pg_catalog.now() "
	    "RETURNING retention IS NULL, retention::text", &q, err, err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_len, "retention policy not written");
		return -1;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
		snprintf(new_out, RETENTION_VALUE_MAX, "forever");
	else
		snprintf(new_out, RETENTION_VALUE_MAX, "%.60s", PQgetvalue(r, 0, 1));
	PQclear(r);
	return 0;
}
