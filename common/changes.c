/* common/changes.c — the change listener behind common/changes.h.
 *
 * The thread waits in poll(2) on the connection's socket and an eventfd
 * (changes_stop); a LISTEN connection carries no queries after its LISTEN,
 * so libpq's input is only notifications or the server's goodbye.
 *
 * Hazards: PQconsumeInput must run before PQnotifies sees anything, and a
 * dead connection shows as a failed PQconsumeInput or a status other than
 * CONNECTION_OK; pg_terminate_backend ends it that way (FATAL 57P01).
 */
#include "common/changes.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/log.h"
#include "common/pg.h"
#include "vault/mem.h"

struct changes {
	char       *conninfo;
	size_t      conninfo_len;
	char        app[64];
	char        tag[32];
	changes_fn  fn;
	void       *ctx;
	int         efd;
	atomic_int  stop;
	pthread_t   thread;
	PGconn     *conn;
};

unsigned
changes_kind(const char *payload)
{
	static const struct { const char *kind; unsigned mask; } k[] = {
		{ "tenant:", CHANGES_TENANT },
		{ "tenant_key:", CHANGES_TENANT },
		{ "device:", CHANGES_DEVICE },
		{ "user:", CHANGES_USER },
	};
	size_t i;

	if (payload == NULL)
		return CHANGES_ALL;
	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (strncmp(payload, k[i].kind, strlen(k[i].kind)) == 0)
			return k[i].mask;
	return CHANGES_ALL;
}

/* Wait ms, or less if stopped: 1 when stopped. */
static int
ch_sleep(changes *c, int ms)
{
	struct pollfd p = { c->efd, POLLIN, 0 };

	if (atomic_load(&c->stop))
		return 1;
	(void)poll(&p, 1, ms);
	return atomic_load(&c->stop) != 0;
}

/* Connect and LISTEN: 0, or -1 with err. */
static int
ch_connect(changes *c, char *err, size_t err_len)
{
	c->conn = pg_connect_app(c->conninfo, c->app, err, err_len);
	if (c->conn == NULL)
		return -1;
	/* the channel is a constant identifier: no parameter possible */
	if (pg_exec(c->conn, "LISTEN " CHANGES_CHANNEL, NULL, err,
	    err_len) != 0) {
		pg_close(&c->conn);
		return -1;
	}
	return 0;
}

/* Drain what arrived: the mask of kinds seen (0: none); -1 when the
 * connection is gone. */
static int
ch_drain(changes *c, unsigned *mask)
{
	PGnotify *nt;

	*mask = 0;
	if (PQconsumeInput(c->conn) == 0 || PQstatus(c->conn) != CONNECTION_OK)
		return -1;
	while ((nt = PQnotifies(c->conn)) != NULL) {
		if (strcmp(nt->relname, CHANGES_CHANNEL) == 0)
			*mask |= changes_kind(nt->extra);
		PQfreemem(nt);
	}
	return 0;
}

static void *
ch_main(void *arg)
{
	changes *c = arg;
	int backoff = CHANGES_BACKOFF_MIN_MS, lost = 0, ever = 0;
	char err[512];

	while (!atomic_load(&c->stop)) {
		struct pollfd p[2];
		unsigned mask;

		if (c->conn == NULL) {
			if (ch_connect(c, err, sizeof(err)) != 0) {
				if (!lost)
					log_warn("%s: change notifications: %s; changes "
					    "apply at the periodic refresh until the "
					    "connection is back (retrying)", c->tag, err);
				lost = 1;
				if (ch_sleep(c, backoff))
					break;
				backoff = backoff * 2 > CHANGES_BACKOFF_MAX_MS ?
				    CHANGES_BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			backoff = CHANGES_BACKOFF_MIN_MS;
			if (lost)
				log_info("%s: change notifications: listening again; "
				    "reloading everything", c->tag);
			else if (!ever)
				log_info("%s: change notifications: listening on %s",
				    c->tag, CHANGES_CHANNEL);
			/* what changed while nobody listened was not heard */
			if (lost || ever)
				c->fn(c->ctx, CHANGES_ALL);
			lost = 0;
			ever = 1;
		}
		p[0].fd = PQsocket(c->conn);
		p[0].events = POLLIN;
		p[0].revents = 0;
		p[1].fd = c->efd;
		p[1].events = POLLIN;
		p[1].revents = 0;
		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			snprintf(err, sizeof(err), "poll: %s", strerror(errno));
			goto lost_conn;
		}
		if (atomic_load(&c->stop))
			break;
		if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) == 0)
			continue;
		if (ch_drain(c, &mask) != 0) {
			snprintf(err, sizeof(err), "the connection ended");
			goto lost_conn;
		}
		if (mask != 0)
			c->fn(c->ctx, mask);
		continue;
lost_conn:
		log_warn("%s: change notifications: %s; changes apply at the "
		    "periodic refresh until the connection is back (retrying)",
		    c->tag, err);
		lost = 1;
		pg_close(&c->conn);
		if (ch_sleep(c, backoff))
			break;
	}
	pg_close(&c->conn);
	return NULL;
}

int
changes_start(changes **out, const char *conninfo, const char *app_name,
    const char *tag, changes_fn fn, void *ctx, char *err, size_t err_len)
{
	changes *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->conninfo = strdup(conninfo)) == NULL) {
		free(c);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	c->conninfo_len = strlen(c->conninfo);
	snprintf(c->app, sizeof(c->app), "%s", app_name);
	snprintf(c->tag, sizeof(c->tag), "%s", tag);
	c->fn = fn;
	c->ctx = ctx;
	atomic_init(&c->stop, 0);
	if ((c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, err_len, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = pthread_create(&c->thread, NULL, ch_main, c)) != 0) {
		snprintf(err, err_len, "cannot start the change listener: %s",
		    strerror(rc));
		close(c->efd);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	vault_wipe(c->conninfo, c->conninfo_len);
	free(c->conninfo);
	free(c);
	return -1;
}

void
changes_stop(changes **cp)
{
	changes *c;
	uint64_t one = 1;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	atomic_store(&c->stop, 1);
	if (write(c->efd, &one, sizeof(one)) < 0) {
		/* saturated: the thread is waking anyway */
	}
	(void)pthread_join(c->thread, NULL);
	close(c->efd);
	vault_wipe(c->conninfo, c->conninfo_len);
	free(c->conninfo);
	free(c);
	*cp = NULL;
}
