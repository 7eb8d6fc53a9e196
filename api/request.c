/* api/request.c — the helpers handlers fill a request with (api/request.h):
 * reply, refusal, audit target and detail, body and parameters.  They
 * only set fields; server.c sends the answer and writes the audit event. */
#include "api/request.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/log.h"
#include "common/pg.h"
#include "common/util.h"

/* -- handler helpers ---------------------------------------------------------- */

void
api_reply(api_req *r, unsigned status, json_t *body)
{
	if (body == NULL) {
		api_fail_internal(r, "reply", "out of memory");
		return;
	}
	json_decref(r->reply);
	r->reply = body;
	r->status = status;
	r->err_code = NULL;
}

void
api_reply_raw(api_req *r, unsigned status, char *data, size_t len,
    const char *content_type)
{
	free(r->raw);
	r->raw = data;
	r->raw_len = len;
	r->raw_type = content_type;
	r->status = status;
	r->err_code = NULL;
}

void
api_reply_fd(api_req *r, int fd, uint64_t len, const char *filename)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	r->fd_len = len;
	r->status = 200;
	r->err_code = NULL;
	if (filename != NULL)
		snprintf(r->disposition, sizeof(r->disposition),
		    "attachment; filename=\"%s\"", filename);
}

void
api_header(api_req *r, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < 2; i++)
		if (r->extra_header[i][0][0] == '\0') {
			snprintf(r->extra_header[i][0], sizeof(r->extra_header[i][0]),
			    "%s", name);
			snprintf(r->extra_header[i][1], sizeof(r->extra_header[i][1]),
			    "%s", value);
			return;
		}
}

void
api_fail(api_req *r, unsigned status, const char *code, const char *outcome,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err_msg, sizeof(r->err_msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->err_code = code;
	r->outcome = outcome;
	json_decref(r->reply);
	r->reply = NULL;
	free(r->raw);
	r->raw = NULL;
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
}

void
api_fail_db(api_req *r, const char *what, const char *err)
{
	log_error("request %s: %s: %s", r->request_id, what, err);
	if (pg_last_sqlstate_is(PG_SQLSTATE_CONNECTION_FAILURE) ||
	    (r->db != NULL && PQstatus(r->db) != CONNECTION_OK)) {
		r->retry_after = 5;
		api_fail(r, 503, "unavailable", "failed",
		    "the archive database is unavailable; try again later");
	} else {
		api_fail(r, 500, "internal", "failed",
		    "internal error (request id %s)", r->request_id);
	}
}

void
api_fail_internal(api_req *r, const char *what, const char *err)
{
	log_error("request %s: %s: %s", r->request_id, what, err);
	api_fail(r, 500, "internal", "failed", "internal error (request id %s)",
	    r->request_id);
}

void
api_target(api_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->target, sizeof(r->target), fmt, ap);
	va_end(ap);
}

void
api_detail(api_req *r, const char *key, json_t *v)
{
	if (v == NULL)
		return;
	if (r->detail == NULL && (r->detail = json_object()) == NULL) {
		json_decref(v);
		return;
	}
	json_object_set_new(r->detail, key, v);
}

json_t *
api_body_object(api_req *r)
{
	json_error_t e;
	json_t *j;

	if (r->body == NULL || r->body_len == 0) {
		api_fail(r, 400, "bad_request", "invalid",
		    "a JSON object is required as the request body");
		return NULL;
	}
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL) {
		/* e.text can quote the input: only the position is shown. */
		api_fail(r, 400, "bad_request", "invalid",
		    "the request body is not valid JSON (line %d, column %d)",
		    e.line, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_fail(r, 400, "bad_request", "invalid",
		    "the request body must be a JSON object");
		return NULL;
	}
	return j;
}

const char *
api_query(api_req *r, const char *key)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)r->conn,
	    MHD_GET_ARGUMENT_KIND, key);
}

int
api_param_uuid(api_req *r, unsigned char out[UTIL_UUID_BYTES],
    char text[UTIL_UUID_STRLEN + 1])
{
	char shown[48];

	if (util_uuid_parse(out, r->param) != 0) {
		log_printable(shown, sizeof(shown), r->param, strlen(r->param));
		api_target(r, "id:%s", shown);
		api_fail(r, 404, "not_found", NULL, "no such object");
		return -1;
	}
	util_uuid_format(text, out);
	return 0;
}

int
api_json_only(api_req *r, const json_t *obj, const char *where,
    const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
		int ok = 0;

		(void)v;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = 1;
		if (!ok) {
			char shown[40];

			log_printable(shown, sizeof(shown), key, strlen(key));
			api_fail(r, 400, "bad_request", "invalid",
			    "unknown member '%s' in %s", shown, where);
			return -1;
		}
	}
	return 0;
}
