/* api/handlers.h — the request handlers behind the route table
 * (api/server.c).  Each runs with r->who authenticated and its role already
 * allowed by the route, inside the request's transaction, and fills r
 * through the helpers of api/server.h.  Another tenant's object is
 * "not_found" (404), never "forbidden": nothing says it exists.
 */
#ifndef COFFER_API_HANDLERS_H
#define COFFER_API_HANDLERS_H

#include "api/pool.h"
#include "api/request.h"

/* server.c */
void api_h_whoami(api_req *r);

/* matters.c */
void api_h_matter_create(api_req *r);
void api_h_matter_list(api_req *r);
void api_h_matter_show(api_req *r);
void api_h_matter_close(api_req *r);
void api_h_production_get(api_req *r);

/* approvals.c */
void api_h_approval_submit(api_req *r);

/* holds.c */
void api_h_hold_create(api_req *r);
void api_h_hold_list(api_req *r);
void api_h_hold_release(api_req *r);
void api_h_retention_get(api_req *r);
void api_h_retention_put(api_req *r);
void api_h_retention_floor_put(api_req *r);

/* capture.c */
void api_h_capture_report(api_req *r);

/* dual.c (declared in api/dual.h too) */
void api_h_request_list(api_req *r);
void api_h_request_approve(api_req *r);
void api_h_request_refuse(api_req *r);

/* reshare.c (api/reshare.h) */
void api_h_reshare_propose(api_req *r);
void api_h_reshare_list(api_req *r);
void api_h_reshare_show(api_req *r);
void api_h_reshare_approve(api_req *r);
void api_h_reshare_cancel(api_req *r);
void api_h_reshare_deal(api_req *r);
void api_h_reshare_report(api_req *r);

/* audit_api.c */
void api_h_audit_export(api_req *r);
void api_h_verify(api_req *r);

/* possession.c: share health (issue 16) */
/* V_i, custodian index's public share of the current generation, from
 * coffer.tenant_keys and checked against the stored Feldman commitments:
 * a row the database owner swapped for another point is refused (500),
 * not believed.  0, or -1 after api_fail.  (api/approvals.c still does
 * the same check inline.) */
int  api_public_share(api_req *r, int index, unsigned char V[32]);
void api_h_possession_challenge(api_req *r);
void api_h_possession_answer(api_req *r);
void api_h_possession_list(api_req *r);
/* The /metrics listener, before each page: refresh the possession gauges
 * (api_metrics_possession) from the database when they are older than
 * 30 s or an answer was committed since; otherwise nothing.  Never
 * blocks on another refresh. */
void api_possession_metrics(api_pool *pool, const api_config *cfg);

#endif
