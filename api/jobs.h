/* api/jobs.h — production builds as background jobs.
 *
 * When a matter reaches its K-th valid approval the approval's transaction
 * moves it to state 'building'; after that COMMIT the request queues a job
 * here.  A worker thread (job_threads of them) runs the production builder
 * (api/production.h) on its own database connection, writes progress to
 * matters.progress as it goes, and ends the matter in 'ready' or 'failed'
 * in one transaction with the productions row and the audit event.
 *
 * Jobs live only in memory: a matter left in 'building' by a stopped
 * process is queued again at start-up (api_jobs_resume); the builder starts
 * over from the approvals stored in the database.
 */
#ifndef COFFER_API_JOBS_H
#define COFFER_API_JOBS_H

#include <stddef.h>

#include <libpq-fe.h>

#include "api/config.h"

typedef struct api_jobs api_jobs;

/* Start cfg->job_threads workers.  cfg is borrowed for the jobs' life. */
int  api_jobs_new(api_jobs **out, const api_config *cfg, char *err,
                  size_t err_len) __attribute__((warn_unused_result));

/* Queue a build of (tenant, matter) — uuid texts.  A matter already queued
 * or running is not queued twice.  0, or -1 when the queue is full. */
int  api_jobs_submit(api_jobs *j, const char *tenant_id, const char *matter_id)
     __attribute__((warn_unused_result));

/* Queue every matter found in state 'building' (after a restart). */
int  api_jobs_resume(api_jobs *j, PGconn *db, char *err, size_t err_len)
     __attribute__((warn_unused_result));

/* Stop taking jobs, let running builds finish, join the workers, free. */
void api_jobs_free(api_jobs **j);

#endif
