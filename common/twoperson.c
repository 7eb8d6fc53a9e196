/* common/twoperson.c — classify retention changes for the two-person rule
 * (common/twoperson.h).  Reads only; the change itself is
 * common/retention.c's and the rule's enforcement is the caller's: a
 * shortening goes through a dual-control request (api/dual.c), cofferctl
 * refuses it.
 */
#include "common/twoperson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg.h"

void
twoperson_floor_message(char *out, size_t cap, unsigned days,
    unsigned floor_days)
{
	snprintf(out, cap, "retention of %u days is below the tenant's "
	    "regulatory floor of %u days (lowering the floor needs two persons)",
	    days, floor_days);
}

int
twoperson_retention_class(PGconn *c,
    const unsigned char tenant_id[UTIL_UUID_BYTES], const char *channel,
    unsigned days, twoperson_retention *out, char *err, size_t err_len)
{
	pg_params p = PG_PARAMS_INIT;
	PGresult *r;
	long eff;        /* days in force for the channel, -1 forever */
	int npol;

	memset(out, 0, sizeof(*out));
	pg_param_bin(&p, tenant_id, UTIL_UUID_BYTES);
	pg_param_text(&p, channel);
	/* 1: policies of the tenant; 2: the channel's own policy, else '*'
	 * (-1 forever, NULL none); 3: the channel's own row as text. */
	r = pg_query(c, "SELECT t.retention_floor_days, "
	    "(SELECT pg_catalog.count(*) FROM coffer.retention_policies rp "
	    " WHERE rp.tenant_id = t.tenant_id), "
	    "(SELECT CASE WHEN rp.retention IS NULL THEN -1 ELSE "
	    "  pg_catalog.date_part('day', rp.retention)::int END "
	    " FROM coffer.retention_policies rp WHERE rp.tenant_id = t.tenant_id "
	    " AND rp.channel IN ($2, '*') ORDER BY rp.channel = '*' LIMIT 1), "
	    "coalesce((SELECT CASE WHEN rp.retention IS NULL THEN 'forever' "
	    "  ELSE rp.retention::text END FROM coffer.retention_policies rp "
	    " WHERE rp.tenant_id = t.tenant_id AND rp.channel = $2), 'none') "
	    "FROM coffer.tenants t WHERE t.tenant_id = $1::uuid", &p, err,
	    err_len);
	if (r == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, err_len, "no tenant");
		return -1;
	}
	out->floor_days = (unsigned)strtoul(PQgetvalue(r, 0, 0), NULL, 10);
	npol = atoi(PQgetvalue(r, 0, 1));
	eff = PQgetisnull(r, 0, 2) ? -2 : strtol(PQgetvalue(r, 0, 2), NULL, 10);
	snprintf(out->own, sizeof(out->own), "%.60s", PQgetvalue(r, 0, 3));
	PQclear(r);
	if (eff == -2)
		snprintf(out->effective, sizeof(out->effective), "none");
	else if (eff == -1)
		snprintf(out->effective, sizeof(out->effective), "forever");
	else
		snprintf(out->effective, sizeof(out->effective), "%ld days", eff);
	out->below_floor = days != 0 && days < out->floor_days;
	if (npol == 0)
		out->klass = TWOPERSON_FIRST;
	else if (days != 0 && (eff < 0 || (long)days < eff))
		out->klass = TWOPERSON_SHORTER;
	else
		out->klass = TWOPERSON_LONGER;
	return 0;
}
