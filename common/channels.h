/* common/channels.h — the one list of message channels the archive knows.
 *
 * Must match the CHECK on coffer.records.channel and coffer.channel_ok()
 * (migrations/).  The gateway checks ingested records against it; the API
 * and cofferctl check hold, matter, retention and production scopes.
 */
#ifndef COFFER_COMMON_CHANNELS_H
#define COFFER_COMMON_CHANNELS_H

#include <stddef.h>

/* The list's own copy of the len bytes at s (no NUL needed) when they name
 * a channel, exactly and case-sensitively; else NULL.  The pointer is a
 * static string, valid for the life of the process. */
const char *channels_find(const char *s, size_t len);

/* The channel's place in the list (0 .. channels_count() - 1), or -1: what
 * the gateway's two processes send each other instead of the name. */
int channels_index(const char *s, size_t len);

/* The name at place i (a static string), or NULL when i is out of range. */
const char *channels_name(unsigned i);

/* How many channels the list holds. */
unsigned channels_count(void);

/* 1 if c (NUL-terminated) is a channel; 0 otherwise and for NULL or "*". */
int channels_ok(const char *c);

#endif
