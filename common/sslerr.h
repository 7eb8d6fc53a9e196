/* common/sslerr.h — OpenSSL's reason in a caller's error buffer, one way.
 *
 * OpenSSL queues its errors per thread; a failure must report the reason
 * it queued and then empty the queue, or a later failure reports a stale
 * reason.  The gateway's TLS set-up, cofferctl's PKI and the load
 * generator all report through sslerr_set().
 */
#ifndef COFFER_COMMON_SSLERR_H
#define COFFER_COMMON_SSLERR_H

#include <stddef.h>

/* err = "WHAT: REASON", REASON being OpenSSL's most recent queued error;
 * when none is queued, "WHAT: OTHERWISE", or just "WHAT" when otherwise is
 * NULL.  The thread's OpenSSL error queue is cleared in every case. */
void sslerr_set(char *err, size_t err_len, const char *what,
                const char *otherwise);

#endif
