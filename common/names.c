/* common/names.c — the name rule (see names.h).
 *
 * Trusts nothing it is given: names come from command lines, certificates,
 * directory listings and the database.  The rule is checked byte by byte
 * (no locale, no UTF-8), so what passes here is safe as a file name, a DN
 * attribute and an argv word.
 */
#include "common/names.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

static int
names_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
names_ok(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || len == 0 || len > NAMES_MAX || s[0] == '.' ||
	    s[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!names_char_ok((unsigned char)s[i]))
			return 0;
	return 1;
}

int
names_check(const char *what, const char *name, char *err, size_t err_len)
{
	char shown[NAMES_MAX + 1];
	size_t len, i;

	if (name == NULL || name[0] == '\0') {
		snprintf(err, err_len, "invalid %s '': must be 1 to %u characters "
		    "of A-Z a-z 0-9 . _ -", what, NAMES_MAX);
		return -1;
	}
	len = strlen(name);
	log_printable(shown, sizeof(shown), name, len);
	if (len > NAMES_MAX) {
		snprintf(err, err_len, "invalid %s '%s...': longer than %u "
		    "characters", what, shown, NAMES_MAX);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (names_char_ok(c))
			continue;
		if (c >= 0x20 && c < 0x7f)
			snprintf(err, err_len, "invalid %s '%s': character '%c' "
			    "is not allowed (use A-Z a-z 0-9 . _ -)", what, shown,
			    c);
		else
			snprintf(err, err_len, "invalid %s '%s': character 0x%02x "
			    "is not allowed (use A-Z a-z 0-9 . _ -)", what, shown,
			    c);
		return -1;
	}
	if (name[0] == '.' || name[0] == '-') {
		snprintf(err, err_len, "invalid %s '%s': must not start with "
		    "'.' or '-'", what, shown);
		return -1;
	}
	return 0;
}
