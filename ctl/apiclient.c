/* ctl/apiclient.c — cofferctl's HTTPS client of coffer-api (libcurl).
 *
 * Trusts the API only as far as TLS with the given CA proves its identity:
 * everything it sends is data for the caller to check; bodies are bounded
 * (CTL_API_BODY_MAX in memory), error messages are made printable and
 * capped before they are shown.  The client key file is checked like every
 * secret file (regular, owner, mode) before use.
 */
#include "ctl/apiclient.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/util.h"
#include "ctl/ctl.h"

#define CTL_API_URL_MAX   2048U
#define CTL_API_BODY_MAX  (64U * 1024U * 1024U)  /* a matter with very many epochs */
#define CTL_API_ERR_MAX   65536U                 /* an error body on download */
#define CTL_API_TIMEOUT_S 120L
#define CTL_API_RETRIES   10       /* GETs answered 429 */
#define CTL_API_ERR_SHOW  600U   /* characters of an API error message */

void
ctl_api_init(ctl_api *a, const char *verb)
{
	memset(a, 0, sizeof(*a));
	a->verb = verb;
	a->url = getenv("COFFER_API_URL");
	a->cert = getenv("COFFER_CERT");
	a->key = getenv("COFFER_KEY");
	a->ca = getenv("COFFER_CA");
}

int
ctl_api_check(const ctl_api *a, const char *usage)
{
	if (a->url == NULL || a->cert == NULL || a->key == NULL || a->ca == NULL)
		return ctl_usage(usage, "%s: --api, --cert, --key and --ca are "
		    "required (or COFFER_API_URL, COFFER_CERT, COFFER_KEY, "
		    "COFFER_CA)", a->verb);
	if (strncmp(a->url, "https://", 8) != 0)
		return ctl_usage(usage, "%s: --api must be an https:// URL", a->verb);
	return 0;
}

void
ctl_api_buf_free(ctl_api_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static size_t
ctl_api_mem_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	ctl_api_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > CTL_API_BODY_MAX) {
		b->too_big = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

struct ctl_api_file {
	int                fd;
	unsigned long long bytes;
};

static size_t
ctl_api_file_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ctl_api_file *f = arg;
	size_t n = size * nmemb, off = 0;
	ssize_t w;

	while (off < n) {
		w = write(f->fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += (size_t)w;
	}
	f->bytes += n;
	return n;
}

/* One transfer; the body goes to wfn(warg). */
static int
ctl_api_perform(const ctl_api *a, const char *method, const char *path,
    const char *body, curl_write_callback wfn, void *warg, int too_big,
    long *status)
{
	static int curl_up;
	char url[CTL_API_URL_MAX];
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	CURLcode cc;
	char err[256];
	int rc = -1, post = strcmp(method, "POST") == 0;

	*status = 0;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", a->url, path) >=
	    sizeof(url)) {
		ctl_fail("%s: API URL too long", a->verb);
		return -1;
	}
	if (util_check_secret_file(a->key, err, sizeof(err)) != 0) {
		ctl_fail("%s: %s", a->verb, err);
		return -1;
	}
	/* Once per process; cofferctl exits after its verb. */
	if (!curl_up) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			ctl_fail("%s: libcurl initialisation failed", a->verb);
			return -1;
		}
		curl_up = 1;
	}
	if ((c = curl_easy_init()) == NULL) {
		ctl_fail("%s: libcurl initialisation failed", a->verb);
		return -1;
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (post && hdrs != NULL)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if (hdrs == NULL) {
		ctl_fail("%s: out of memory", a->verb);
		goto out;
	}
	if (body == NULL)
		body = "";
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CAINFO, a->ca) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLCERT, a->cert) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLKEY, a->key) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT, CTL_API_TIMEOUT_S) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wfn) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, warg) != CURLE_OK ||
	    (post &&
	    (curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(body)) != CURLE_OK))) {
		ctl_fail("%s: libcurl refused an option (too old?)", a->verb);
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		ctl_fail("%s: %s: %s%s", a->verb, a->url, curl_easy_strerror(cc),
		    too_big ? " (response too large)" : "");
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
		ctl_fail("%s: no HTTP status", a->verb);
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

int
ctl_api_request(const ctl_api *a, const char *method, const char *path,
    const char *body, long *status, ctl_api_buf *out)
{
	int rc, tries = 0;

	/* The API limits each person's request rate (429): a verb that reads
	 * many matters waits and asks again, a few times, for reads only. */
	do {
		if (tries > 0)
			sleep(1);
		ctl_api_buf_free(out);
		rc = ctl_api_perform(a, method, path, body, ctl_api_mem_cb, out, 0,
		    status);
	} while (rc == 0 && *status == 429 && strcmp(method, "GET") == 0 &&
	    ++tries < CTL_API_RETRIES);
	if (rc != 0 && out->too_big)
		ctl_fail("%s: the API's answer is larger than %u bytes", a->verb,
		    CTL_API_BODY_MAX);
	return rc;
}

int
ctl_api_download(const ctl_api *a, const char *path, const char *out_path,
    long *status, ctl_api_buf *err_body, unsigned long long *bytes)
{
	struct ctl_api_file f = { -1, 0 };
	struct stat st;
	char *buf = NULL;
	ssize_t got;

	*bytes = 0;
	ctl_api_buf_free(err_body);
	f.fd = open(out_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (f.fd < 0) {
		ctl_fail("%s: %s: %s", a->verb, out_path, strerror(errno));
		return -1;
	}
	if (ctl_api_perform(a, "GET", path, NULL, ctl_api_file_cb, &f, 0,
	    status) != 0 || (*status == 200 && fsync(f.fd) != 0)) {
		if (*status == 200)
			ctl_fail("%s: %s: %s", a->verb, out_path, strerror(errno));
		(void)close(f.fd);
		(void)unlink(out_path);
		return -1;
	}
	if (*status != 200) {
		/* The API's error, small: read it back, keep no file. */
		if (fstat(f.fd, &st) == 0 && st.st_size < (off_t)CTL_API_ERR_MAX &&
		    (buf = calloc(1, (size_t)st.st_size + 1)) != NULL &&
		    (got = pread(f.fd, buf, (size_t)st.st_size, 0)) >= 0) {
			err_body->p = buf;
			err_body->len = (size_t)got;
			err_body->cap = (size_t)st.st_size + 1;
			buf = NULL;
		}
		free(buf);
		(void)close(f.fd);
		(void)unlink(out_path);
		return 0;
	}
	if (close(f.fd) != 0) {
		ctl_fail("%s: %s: %s", a->verb, out_path, strerror(errno));
		(void)unlink(out_path);
		return -1;
	}
	*bytes = f.bytes;
	return 0;
}

void
ctl_api_error(const ctl_api *a, const char *what, long status,
    const ctl_api_buf *b)
{
	char code[64] = "", msg[CTL_API_ERR_SHOW + 1] = "";
	json_error_t je;
	json_t *j = b->p ? json_loadb(b->p, b->len, 0, &je) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *s;

	if ((s = json_string_value(json_object_get(e, "code"))) != NULL)
		log_printable(code, sizeof(code), s, strlen(s));
	if ((s = json_string_value(json_object_get(e, "message"))) != NULL)
		log_printable(msg, sizeof(msg), s, strlen(s));
	ctl_fail("%s: %s: HTTP %ld%s%s%s%s", a->verb, what, status,
	    code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
	json_decref(j);
}

int
ctl_api_get_json(const ctl_api *a, const char *what, const char *path,
    json_t **out)
{
	ctl_api_buf b;
	json_error_t je;
	long status = 0;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if (ctl_api_request(a, "GET", path, NULL, &status, &b) != 0)
		return -1;
	if (status != 200) {
		ctl_api_error(a, what, status, &b);
		ctl_api_buf_free(&b);
		return -1;
	}
	*out = json_loadb(b.p != NULL ? b.p : "", b.len, 0, &je);
	ctl_api_buf_free(&b);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		ctl_fail("%s: %s: the API's answer is not a JSON object", a->verb,
		    what);
		return -1;
	}
	return 0;
}

const char *
ctl_api_str(const json_t *o, const char *key, char *buf, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		return "-";
	return log_printable(buf, cap, s, strlen(s));
}
