/* agent/config.h — coffer-agent configuration file (the gateway's
 * "key = value" format, common/conf.h).  Keys, defaults and ranges are in
 * agent/config.c's table and the README's "coffer-agent" section.
 */
#ifndef COFFER_AGENT_CONFIG_H
#define COFFER_AGENT_CONFIG_H

#include <stddef.h>

#define AGENT_PATH_MAX 1024U

typedef struct agent_config {
	char     gateway_url[512];      /* https://HOST:PORT */
	char     server_ca_file[AGENT_PATH_MAX];
	char     cert_file[AGENT_PATH_MAX];
	char     key_file[AGENT_PATH_MAX];
	char     spool_dir[AGENT_PATH_MAX];
	char     state_dir[AGENT_PATH_MAX];
	int      capture_seq;           /* add "capture_seq" to each line */
	int      heartbeat;
	unsigned heartbeat_s;
	unsigned batch_max_records;
	size_t   batch_max_bytes;
	unsigned outbox_max_records;
	size_t   outbox_max_bytes;
	unsigned retry_min_ms;
	unsigned retry_max_s;
	unsigned request_timeout_s;
	unsigned spool_poll_ms;
} agent_config;

void agent_config_defaults(agent_config *c);

/* Load path over the defaults.  0, or -1 with a message naming the file,
 * the line and the key in err. */
int  agent_config_load(agent_config *c, const char *path, char *err,
                       size_t err_len) __attribute__((warn_unused_result));

/* "https://HOST:PORT" (HOST a name, IPv4, or [IPv6]; no path): 0 or -1. */
int  agent_config_url_ok(const char *url);

#endif
