/* common/channels.c — the channel list (see channels.h).  Compares bytes,
 * never a prefix: "sms" is a channel, "sm" and "smsx" are not. */
#include "common/channels.h"

#include <string.h>

static const char *const channels[] = {
	"signal", "whatsapp", "telegram", "wechat", "sms", "mms", "rcs",
	"imessage", "email", "voice", "other"
};

#define CHANNELS_N (sizeof(channels) / sizeof(channels[0]))

int
channels_index(const char *s, size_t len)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < CHANNELS_N; i++)
		if (strlen(channels[i]) == len && memcmp(channels[i], s, len) == 0)
			return (int)i;
	return -1;
}

const char *
channels_find(const char *s, size_t len)
{
	int i = channels_index(s, len);

	return i < 0 ? NULL : channels[i];
}

const char *
channels_name(unsigned i)
{
	return i < CHANNELS_N ? channels[i] : NULL;
}

unsigned
channels_count(void)
{
	return (unsigned)CHANNELS_N;
}

int
channels_ok(const char *c)
{
	return c != NULL && channels_find(c, strlen(c)) != NULL;
}
