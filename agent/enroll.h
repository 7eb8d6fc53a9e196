/* agent/enroll.h — `coffer-agent enroll`: the device's own key pair and a
 * certificate for it from a one-time code (agent/enroll.c).
 */
#ifndef COFFER_AGENT_ENROLL_H
#define COFFER_AGENT_ENROLL_H

#include <stdio.h>

#include "agent/config.h"

/* Make a P-256 key pair, send a CSR for device with the code read from
 * code_in (one line) to url/simpleenroll (url: https://HOST:PORT/
 * .well-known/est/TENANT), trusting ca_file (NULL: cfg's server_ca_file);
 * when the certificate that comes back carries the key, write cfg's
 * key_file (0600) and cert_file.  0, or -1 with err (the server's reason
 * when it refused). */
int agent_enroll(const agent_config *cfg, const char *url, const char *device,
                 const char *ca_file, FILE *code_in, char *err,
                 size_t err_len) __attribute__((warn_unused_result));

/* The first certificate (an X509 *, the caller frees) of the server's
 * answer, a base64 certs-only PKCS#7 (line breaks allowed), or NULL. */
void *agent_enroll_p7_cert(const char *b64, size_t len);

#endif
