/* api/dual.h — dual control: acts one person proposes and a second,
 * different person approves (migrations/0009_two_person.sql).
 *
 * Releasing a hold, shortening retention, lowering the retention floor and
 * closing a matter that has a production do not happen when their route
 * is called: the route calls api_dual_propose(), which records a pending
 * request and answers 202 with its id.  POST /v1/requests/{id}/approve by
 * another person (persons, not accounts: api_identity.person_id) applies
 * the act in the approver's transaction; /refuse ends it.
 *
 * Who may approve what:
 *   hold.release       admin or legal
 *   matter.close       legal
 *   retention.shorten  admin
 *   retention.floor    admin
 */
#ifndef COFFER_API_DUAL_H
#define COFFER_API_DUAL_H

#include <jansson.h>

#include "api/request.h"

#define API_DUAL_TTL_HOURS  72   /* a pending request expires after this */

/* Record a pending request for action on target with params (ownership
 * taken) and answer 202 {"status":"pending", "request_id", ...}; the
 * request's audit event gets "two_person":"proposed" and the id.  Refuses
 * with 409 "request_pending" when one is pending for the same act and
 * target already (its id in the message).  0, or -1 after api_fail. */
int api_dual_propose(api_req *r, const char *action, const char *target,
                     json_t *params);

/* The "a different person" rule (persons, not accounts): 0 when the caller
 * is another person than proposer_person (a person id); else 403
 * "same_person" with message and -1.  Every two-person route uses this. */
int api_dual_other_person(api_req *r, const char *proposer_person,
                          const char *message);

void api_h_request_list(api_req *r);
void api_h_request_approve(api_req *r);
void api_h_request_refuse(api_req *r);

#define API_MATTER_CLOSED_ALREADY  1
#define API_MATTER_BUSY            2   /* approved or building */

/* Close the matter {midstr} of the caller's tenant now, under its row
 * lock: 0 (prev gets the state it left), API_MATTER_CLOSED_ALREADY,
 * API_MATTER_BUSY, or -1 after api_fail.  The caller decides who may. */
int api_matter_close_apply(api_req *r, const char *midstr, char *prev,
                           size_t prev_cap);

#endif
