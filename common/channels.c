/* common/channels.c — the channel list (see channels.h).  Compares bytes,
 * never a prefix: "sms" is a channel, "sm" and "smsx" are not. */
#include "common/channels.h"

#include <string.h>

static const char *const channels[] = {
	"signal", "whatsapp", "telegram", "wechat", "sms", "mms", "rcs",
	"imessage", "email", "voice", "other"
};

const char *
channels_find(const char *s, size_t len)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
		if (strlen(channels[i]) == len && memcmp(channels[i], s, len) == 0)
			return channels[i];
	return NULL;
}

int
channels_ok(const char *c)
{
	return c != NULL && channels_find(c, strlen(c)) != NULL;
}
