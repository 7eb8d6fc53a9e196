/* api/handlers.h — the request handlers behind the route table
 * (api/server.c).  Each runs with r->who authenticated and its role already
 * allowed by the route, inside the request's transaction, and fills r
 * through the helpers of api/server.h.  Another tenant's object is
 * "not_found" (404), never "forbidden": nothing says it exists.
 */
#ifndef COFFER_API_HANDLERS_H
#define COFFER_API_HANDLERS_H

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

#endif
