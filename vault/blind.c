/* vault/blind.c — blind-index tokens (keyed BLAKE2b) and the normalisation
 * of participant identifiers.
 *
 * Input values come from endpoint agents and are hostile: every function
 * bounds what it reads by the given length, never by a NUL, and never copies
 * more than VAULT_PARTICIPANT_MAX bytes to the stack. Normalised values and
 * hash state are wiped on every path: a participant identifier is metadata we
 * promised not to keep. Error messages name the rule broken, never the value.
 * Trusts libsodium for BLAKE2b and randomness; no I/O besides randomness.
 */
#include "vault/blind.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "vault/codec.h"
#include "vault/err.h"
#include "vault/mem.h"

#define DOMAIN_PARTICIPANT   0x01U
#define DOMAIN_CONVERSATION  0x02U
#define DOMAIN_DEDUP         0x03U

_Static_assert(VAULT_BIK_BYTES >= crypto_generichash_KEYBYTES_MIN &&
               VAULT_BIK_BYTES <= crypto_generichash_KEYBYTES_MAX, "BIK size");
_Static_assert(VAULT_TOKEN_BYTES <= crypto_generichash_BYTES, "token size");

#define PHONE_MIN_DIGITS  8U
#define PHONE_MAX_DIGITS  15U

static int
is_ascii_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

static unsigned char
ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int
is_phone_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == ' ' || c == '-' || c == '.' ||
	    c == '(' || c == ')';
}

static int
phone_chars_only(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_phone_char(s[i]))
			return 0;
	return 1;
}

/* Narrow [*p, *p + *len) to exclude leading and trailing ASCII whitespace. */
static void
trim(const unsigned char **p, size_t *len)
{
	while (*len > 0 && is_ascii_space((*p)[0])) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && is_ascii_space((*p)[*len - 1]))
		(*len)--;
}

/* Strict UTF-8 (RFC 3629) without control characters. 0, or -1 with err. */
static int
check_text(const unsigned char *s, size_t len, char *err, size_t err_len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t      cp;
		size_t        n;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f) {
				vault_err_set(err, err_len,
				        "value contains a control character");
				return -1;
			}
			i++;
			continue;
		}
		if ((n = vault_utf8_seq(s + i, len - i, &cp)) == 0)
			goto bad;   /* not well-formed (RFC 3629) */
		if (cp >= 0x80U && cp <= 0x9fU) {
			vault_err_set(err, err_len, "value contains a control character");
			return -1;
		}
		i += n;
	}
	return 0;

bad:
	vault_err_set(err, err_len, "value is not valid UTF-8");
	return -1;
}

static int
normalize_phone(const unsigned char *s, size_t len, char *out, size_t out_cap,
                size_t *out_len, char *err, size_t err_len)
{
	size_t i, n = 0, digits = 0;

	if (len >= 1 && s[0] == '+') {
		i = 1;
	} else if (len >= 2 && s[0] == '0' && s[1] == '0') {
		i = 2;
	} else {
		vault_err_set(err, err_len, "phone number must start with '+' or '00'");
		return -1;
	}
	if (out_cap < 1 + PHONE_MAX_DIGITS) {
		vault_err_set(err, err_len, "output buffer too small");
		return -1;
	}
	out[n++] = '+';
	for (; i < len; i++) {
		unsigned char c = s[i];

		/* "+44 (0)20 …": the national trunk prefix, not dialled from
		 * abroad, so not part of the E.164 number */
		if (c == '(' && len - i >= 3 && s[i + 1] == '0' &&
		    s[i + 2] == ')') {
			i += 2;
			continue;
		}
		if (c >= '0' && c <= '9') {
			if (++digits > PHONE_MAX_DIGITS) {
				vault_err_set(err, err_len,
				        "phone number must have 8 to 15 digits");
				return -1;
			}
			out[n++] = (char)c;
		} else if (!is_phone_char(c)) {
			vault_err_set(err, err_len, "phone number may contain only "
			        "digits, spaces, dashes, dots and parentheses");
			return -1;
		}
	}
	if (digits < PHONE_MIN_DIGITS) {
		vault_err_set(err, err_len, "phone number must have 8 to 15 digits");
		return -1;
	}
	if (out[1] == '0') {
		vault_err_set(err, err_len, "phone number must not start with 0 after "
		        "the international prefix");
		return -1;
	}
	*out_len = n;
	return 0;
}

/* Email and handle: length, UTF-8 and control checks, then ASCII fold. */
static int
normalize_text(vault_participant_kind kind, const unsigned char *s,
               size_t len, char *out, size_t out_cap, size_t *out_len,
               char *err, size_t err_len)
{
	size_t i, ats = 0, at = 0;

	if (len > VAULT_PARTICIPANT_MAX) {
		vault_err_set(err, err_len, "value is longer than 256 bytes");
		return -1;
	}
	if (check_text(s, len, err, err_len) != 0)
		return -1;
	if (kind == VAULT_PARTICIPANT_EMAIL) {
		for (i = 0; i < len; i++) {
			if (s[i] == '@') {
				ats++;
				at = i;
			}
		}
		if (ats != 1) {
			vault_err_set(err, err_len,
			        "email address must contain exactly one '@'");
			return -1;
		}
		if (at == 0) {
			vault_err_set(err, err_len, "email address has an empty local part");
			return -1;
		}
		if (at == len - 1) {
			vault_err_set(err, err_len, "email address has an empty domain");
			return -1;
		}
	}
	if (out_cap < len) {
		vault_err_set(err, err_len, "output buffer too small");
		return -1;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)ascii_lower(s[i]);
	*out_len = len;
	return 0;
}

vault_participant_kind
vault_participant_classify(const char *value, size_t len)
{
	const unsigned char *s = (const unsigned char *)value;

	if (s == NULL)
		return VAULT_PARTICIPANT_HANDLE;
	trim(&s, &len);
	if (len >= 1 && s[0] == '+')
		return VAULT_PARTICIPANT_PHONE;
	if (len >= 2 && s[0] == '0' && s[1] == '0' && phone_chars_only(s, len))
		return VAULT_PARTICIPANT_PHONE;
	if (len >= 2 && s[0] != '@' && memchr(s + 1, '@', len - 1) != NULL)
		return VAULT_PARTICIPANT_EMAIL;
	return VAULT_PARTICIPANT_HANDLE;
}

int
vault_participant_normalize(vault_participant_kind kind,
                            const char *value, size_t len,
                            char *out, size_t out_cap, size_t *out_len,
                            char *err, size_t err_len)
{
	const unsigned char *s = (const unsigned char *)value;
	int                  rc = -1;

	if (out_len != NULL)
		*out_len = 0;
	if (out == NULL || out_len == NULL) {
		vault_err_set(err, err_len, "missing output buffer");
		goto fail;
	}
	if (s == NULL && len > 0) {
		vault_err_set(err, err_len, "missing value");
		goto fail;
	}
	trim(&s, &len);
	if (len == 0) {
		vault_err_set(err, err_len, "empty value");
		goto fail;
	}
	switch (kind) {
	case VAULT_PARTICIPANT_PHONE:
		rc = normalize_phone(s, len, out, out_cap, out_len, err, err_len);
		break;
	case VAULT_PARTICIPANT_EMAIL:
	case VAULT_PARTICIPANT_HANDLE:
		rc = normalize_text(kind, s, len, out, out_cap, out_len, err,
		                    err_len);
		break;
	default:
		vault_err_set(err, err_len, "unknown participant kind");
		break;
	}

fail:
	if (rc != 0) {
		if (out_len != NULL)
			*out_len = 0;
		if (out != NULL && out_cap > 0)
			sodium_memzero(out, out_cap);
	}
	return rc;
}

int
vault_participant_scope_normalize(const char *value, size_t len,
                                  const char *default_cc,
                                  char *out, size_t out_cap, size_t *out_len,
                                  char *err, size_t err_len)
{
	const unsigned char *s = (const unsigned char *)value;
	vault_participant_kind kind;
	char                 e164[2 + PHONE_MAX_DIGITS + 8];
	size_t               i, n = 0, ccl, nd = 0, skip = 0;
	int                  rc = -1;

	if (out_len != NULL)
		*out_len = 0;
	if (s == NULL && len > 0) {
		vault_err_set(err, err_len, "missing value");
		return -1;
	}
	trim(&s, &len);
	kind = vault_participant_classify((const char *)s, len);
	if (kind != VAULT_PARTICIPANT_HANDLE || len == 0)
		return vault_participant_normalize(kind, (const char *)s, len, out,
		                                   out_cap, out_len, err, err_len);
	for (i = 0; i < len; i++)
		if (s[i] >= '0' && s[i] <= '9')
			nd++;
	if (nd > 0 && phone_chars_only(s, len)) {
		/* A national number. */
		ccl = default_cc != NULL ? strlen(default_cc) : 0;
		if (ccl == 0) {
			vault_err_set(err, err_len, "number without '+' and no "
			              "default country code (cofferctl tenant "
			              "set-country)");
			return -1;
		}
		if (ccl > 3 || strspn(default_cc, "0123456789") != ccl) {
			vault_err_set(err, err_len, "the tenant's default country "
			              "code is not 1..3 digits");
			return -1;
		}
		for (i = 0; i < len && (s[i] < '0' || s[i] > '9'); i++)
			;
		if (s[i] == '0') {
			skip = 1;                       /* national trunk prefix */
		} else if (nd >= ccl + 10) {
			size_t k = 0, j;

			for (j = i; j < len && k < ccl; j++)
				if (s[j] >= '0' && s[j] <= '9') {
					if ((char)s[j] != default_cc[k])
						break;
					k++;
				}
			if (k == ccl)
				ccl = 0;                /* the country code is there */
		}
		if (nd - skip + ccl > PHONE_MAX_DIGITS) {
			vault_err_set(err, err_len, "phone number has more than 15 "
			              "digits with its country code");
			return -1;
		}
		e164[n++] = '+';
		memcpy(e164 + n, default_cc, ccl);
		n += ccl;
		for (i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				continue;
			if (skip > 0) {
				skip--;
				continue;
			}
			e164[n++] = (char)s[i];
		}
		rc = vault_participant_normalize(VAULT_PARTICIPANT_PHONE, e164, n,
		                                 out, out_cap, out_len, err, err_len);
		sodium_memzero(e164, sizeof(e164));
		return rc;
	}
	if (s[0] != '@' && memchr(s, ':', len) == NULL) {
		vault_err_set(err, err_len, "a bare name matches no handle: "
		              "write it with its '@' or network");
		return -1;
	}
	return vault_participant_normalize(kind, (const char *)s, len, out,
	                                   out_cap, out_len, err, err_len);
}

struct part {
	const unsigned char *p;
	size_t               len;
};

/* The guards every token function starts with: a token buffer, zeroed
 * here so that a refusal leaves no stale token behind, and a key. */
static int
token_args(const unsigned char *bik, unsigned char *token_out,
           char *err, size_t err_len)
{
	if (token_out == NULL) {
		vault_err_set(err, err_len, "missing token buffer");
		return -1;
	}
	sodium_memzero(token_out, VAULT_TOKEN_BYTES);
	if (bik == NULL) {
		vault_err_set(err, err_len, "missing blind-index key");
		return -1;
	}
	return 0;
}

/* token = BLAKE2b-256-keyed(bik, domain ‖ parts...)[0..16], streamed;
 * token_out is wiped when it fails. */
static int
token_hash(const unsigned char bik[VAULT_BIK_BYTES], unsigned char domain,
           const struct part *parts, size_t nparts,
           unsigned char token_out[VAULT_TOKEN_BYTES],
           char *err, size_t err_len)
{
	crypto_generichash_state st;
	unsigned char            full[crypto_generichash_BYTES];
	size_t                   i;
	int                      rc = -1;

	if (crypto_generichash_init(&st, bik, VAULT_BIK_BYTES,
	                            sizeof(full)) != 0 ||
	    crypto_generichash_update(&st, &domain, 1) != 0)
		goto fail;
	for (i = 0; i < nparts; i++) {
		if (parts[i].len > 0 &&
		    crypto_generichash_update(&st, parts[i].p, parts[i].len) != 0)
			goto fail;
	}
	if (crypto_generichash_final(&st, full, sizeof(full)) != 0)
		goto fail;
	memcpy(token_out, full, VAULT_TOKEN_BYTES);
	rc = 0;

fail:
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(full, sizeof(full));
	if (rc != 0) {
		sodium_memzero(token_out, VAULT_TOKEN_BYTES);
		vault_err_set(err, err_len, "hash failed");
	}
	return rc;
}

static int
participant_token(int classify, vault_participant_kind kind,
                  const unsigned char bik[VAULT_BIK_BYTES],
                  const char *value, size_t len,
                  unsigned char token_out[VAULT_TOKEN_BYTES],
                  char *err, size_t err_len)
{
	char        norm[VAULT_PARTICIPANT_MAX];
	size_t      norm_len = 0;
	struct part part;
	int         rc = -1;

	sodium_memzero(norm, sizeof(norm));
	if (token_args(bik, token_out, err, err_len) != 0)
		goto fail;
	if (classify)
		kind = vault_participant_classify(value, len);
	if (vault_participant_normalize(kind, value, len, norm, sizeof(norm),
	                                &norm_len, err, err_len) != 0)
		goto fail;
	part.p = (const unsigned char *)norm;
	part.len = norm_len;
	rc = token_hash(bik, DOMAIN_PARTICIPANT, &part, 1, token_out, err,
	                err_len);

fail:
	sodium_memzero(norm, sizeof(norm));
	return rc;
}

int
vault_participant_token(const unsigned char bik[VAULT_BIK_BYTES],
                        const char *value, size_t len,
                        unsigned char token_out[VAULT_TOKEN_BYTES],
                        char *err, size_t err_len)
{
	return participant_token(1, VAULT_PARTICIPANT_HANDLE, bik, value, len,
	                         token_out, err, err_len);
}

int
vault_participant_token_normalized(const unsigned char bik[VAULT_BIK_BYTES],
                                   const char *norm, size_t len,
                                   unsigned char token_out[VAULT_TOKEN_BYTES],
                                   char *err, size_t err_len)
{
	struct part part;

	if (token_args(bik, token_out, err, err_len) != 0)
		return -1;
	if (norm == NULL || len == 0 || len > VAULT_PARTICIPANT_MAX) {
		vault_err_set(err, err_len, "normalised participant must be "
		              "1..%u bytes", (unsigned)VAULT_PARTICIPANT_MAX);
		return -1;
	}
	part.p = (const unsigned char *)norm;
	part.len = len;
	return token_hash(bik, DOMAIN_PARTICIPANT, &part, 1, token_out, err,
	                  err_len);
}

int
vault_phone_token(const unsigned char bik[VAULT_BIK_BYTES],
                  const char *value, size_t len,
                  unsigned char token_out[VAULT_TOKEN_BYTES],
                  char *err, size_t err_len)
{
	return participant_token(0, VAULT_PARTICIPANT_PHONE, bik, value, len,
	                         token_out, err, err_len);
}

int
vault_email_token(const unsigned char bik[VAULT_BIK_BYTES],
                  const char *value, size_t len,
                  unsigned char token_out[VAULT_TOKEN_BYTES],
                  char *err, size_t err_len)
{
	return participant_token(0, VAULT_PARTICIPANT_EMAIL, bik, value, len,
	                         token_out, err, err_len);
}

int
vault_handle_token(const unsigned char bik[VAULT_BIK_BYTES],
                   const char *value, size_t len,
                   unsigned char token_out[VAULT_TOKEN_BYTES],
                   char *err, size_t err_len)
{
	return participant_token(0, VAULT_PARTICIPANT_HANDLE, bik, value, len,
	                         token_out, err, err_len);
}

/* 1..VAULT_BLIND_ID_MAX bytes; the messages name the field, not the value. */
static int
check_id(const char *id, size_t len, const char *empty_msg,
         const char *long_msg, char *err, size_t err_len)
{
	if (id == NULL || len == 0) {
		vault_err_set(err, err_len, "%s", empty_msg);
		return -1;
	}
	if (len > VAULT_BLIND_ID_MAX) {
		vault_err_set(err, err_len, "%s", long_msg);
		return -1;
	}
	return 0;
}

int
vault_conversation_token(const unsigned char bik[VAULT_BIK_BYTES],
                         const char *conv_id, size_t len,
                         unsigned char token_out[VAULT_TOKEN_BYTES],
                         char *err, size_t err_len)
{
	struct part part;

	if (token_args(bik, token_out, err, err_len) != 0 ||
	    check_id(conv_id, len, "conversation id is empty",
	             "conversation id is longer than 1024 bytes",
	             err, err_len) != 0)
		return -1;
	part.p = (const unsigned char *)conv_id;
	part.len = len;
	return token_hash(bik, DOMAIN_CONVERSATION, &part, 1, token_out, err,
	                  err_len);
}

int
vault_dedup_ids_check(const char *device_id, size_t device_id_len,
                      const char *source_id, size_t source_id_len,
                      char *err, size_t err_len)
{
	if (check_id(device_id, device_id_len, "device id is empty",
	             "device id is longer than 1024 bytes", err, err_len) != 0 ||
	    check_id(source_id, source_id_len, "source message id is empty",
	             "source message id is longer than 1024 bytes",
	             err, err_len) != 0)
		return -1;
	return 0;
}

int
vault_dedup_token(const unsigned char bik[VAULT_BIK_BYTES],
                  const char *device_id, size_t device_id_len,
                  const char *source_id, size_t source_id_len,
                  unsigned char token_out[VAULT_TOKEN_BYTES],
                  char *err, size_t err_len)
{
	unsigned char dev_len[4], src_len[4];
	struct part   parts[4];

	if (token_args(bik, token_out, err, err_len) != 0 ||
	    vault_dedup_ids_check(device_id, device_id_len, source_id,
	                          source_id_len, err, err_len) != 0)
		return -1;

	/* lengths fit: both are at most VAULT_BLIND_ID_MAX */
	vault_be32_put(dev_len, (uint32_t)device_id_len);
	vault_be32_put(src_len, (uint32_t)source_id_len);
	parts[0].p = dev_len;
	parts[0].len = sizeof(dev_len);
	parts[1].p = (const unsigned char *)device_id;
	parts[1].len = device_id_len;
	parts[2].p = src_len;
	parts[2].len = sizeof(src_len);
	parts[3].p = (const unsigned char *)source_id;
	parts[3].len = source_id_len;
	return token_hash(bik, DOMAIN_DEDUP, parts, 4, token_out, err, err_len);
}

int
vault_bik_new(unsigned char **bik_out)
{
	unsigned char *bik;

	if (bik_out == NULL)
		return -1;
	*bik_out = NULL;
	if (vault_init() != 0)
		return -1;
	if ((bik = vault_secure_alloc(VAULT_BIK_BYTES)) == NULL)
		return -1;
	randombytes_buf(bik, VAULT_BIK_BYTES);
	*bik_out = bik;
	return 0;
}

void
vault_bik_free(unsigned char **bik)
{
	if (bik == NULL || *bik == NULL)
		return;
	vault_secure_free(*bik);
	*bik = NULL;
}
