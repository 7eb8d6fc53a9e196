/* ctl/apiclient.h — cofferctl's HTTPS client of coffer-api (approve,
 * approvals, matter): mutual TLS with a person's certificate, HTTPS only,
 * no redirects, bounded bodies.
 *
 * Options every API verb takes: --api URL --cert F --key F --ca F,
 * defaulting to $COFFER_API_URL $COFFER_CERT $COFFER_KEY $COFFER_CA.
 */
#ifndef COFFER_CTL_APICLIENT_H
#define COFFER_CTL_APICLIENT_H

#include <stddef.h>

#include <jansson.h>

#define CTL_API_SHOW  200U      /* characters of peer text shown */

typedef struct ctl_api {
	const char *verb;       /* message prefix: "approve", "matter create" */
	const char *url;
	const char *cert;
	const char *key;
	const char *ca;
} ctl_api;

typedef struct ctl_api_buf {
	char   *p;              /* NUL-terminated */
	size_t  len;
	size_t  cap;
	int     too_big;
} ctl_api_buf;

/* Defaults from the environment; verb as given. */
void ctl_api_init(ctl_api *a, const char *verb);
/* 0, or the usage exit status (message printed with usage). */
int  ctl_api_check(const ctl_api *a, const char *usage);
/* One request: method "GET" or "POST" (body may be NULL: empty POST).
 * *status is the HTTP status; the body in out (free with ctl_api_buf_free).
 * 0, or -1 with a message printed (no answer). */
int  ctl_api_request(const ctl_api *a, const char *method, const char *path,
                     const char *body, long *status, ctl_api_buf *out)
     __attribute__((warn_unused_result));
/* GET path into the new file out_path (mode 0600, refused if it exists);
 * on a status other than 200 the file is removed and its body (the API's
 * error) left in err_body.  0 (see *status), or -1 printed. */
int  ctl_api_download(const ctl_api *a, const char *path,
                      const char *out_path, long *status,
                      ctl_api_buf *err_body, unsigned long long *bytes)
     __attribute__((warn_unused_result));
/* GET path and parse a JSON object: 0 with *out; -1 printed (an HTTP
 * status other than 200 reported with the API's message). */
int  ctl_api_get_json(const ctl_api *a, const char *what, const char *path,
                      json_t **out) __attribute__((warn_unused_result));
/* "VERB: WHAT: HTTP STATUS CODE: MESSAGE" from the API's error body. */
void ctl_api_error(const ctl_api *a, const char *what, long status,
                   const ctl_api_buf *b);
/* The string member key of o made printable and capped into buf; "-" if
 * absent. */
const char *ctl_api_str(const json_t *o, const char *key, char *buf,
                        size_t cap);
void ctl_api_buf_free(ctl_api_buf *b);

#endif
