/* common/imsg.c — see imsg.h.  Trusts nothing it reads: lengths are
 * checked by the caller through imsg_expect() before any payload byte is
 * read. */
#include "common/imsg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
imsg_write(int fd, uint32_t type, uint64_t id, const struct iovec *iov,
    int iovcnt)
{
	unsigned char hdr[IMSG_HDR_BYTES];
	struct iovec v[IMSG_IOV_MAX + 1];
	size_t total = 0;
	uint32_t len;
	int i, n = 1;

	if (iovcnt < 0 || iovcnt > IMSG_IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < iovcnt; i++) {
		total += iov[i].iov_len;
		if (iov[i].iov_len > 0)
			v[n++] = iov[i];
	}
	if (total > UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	len = (uint32_t)total;
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &len, 4);
	memcpy(hdr + 8, &id, 8);
	v[0].iov_base = hdr;
	v[0].iov_len = sizeof(hdr);
	i = 0;
	while (i < n) {
		ssize_t w = writev(fd, v + i, n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* 1 all read, 0 nothing read before the end, -1 error or cut short */
static int
imsg_fill(int fd, void *buf, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)buf + off, n - off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (off == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		off += (size_t)r;
	}
	return 1;
}

int
imsg_read_hdr(int fd, imsg_hdr *h)
{
	unsigned char hdr[IMSG_HDR_BYTES];
	int rc;

	memset(h, 0, sizeof(*h));
	rc = imsg_fill(fd, hdr, sizeof(hdr));
	if (rc <= 0)
		return rc;
	memcpy(&h->type, hdr, 4);
	memcpy(&h->len, hdr + 4, 4);
	memcpy(&h->id, hdr + 8, 8);
	return 1;
}

int
imsg_read(int fd, void *buf, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = imsg_fill(fd, buf, n);
	if (rc == 0) {
		errno = EPROTO;
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

const char *
imsg_name(uint32_t type)
{
	switch (type) {
	case IMSG_SUBMIT:    return "SUBMIT";
	case IMSG_RELOAD:    return "RELOAD";
	case IMSG_DONE:      return "DONE";
	case IMSG_PEER:      return "PEER";
	case IMSG_PEER_R:    return "PEER_R";
	case IMSG_METRICS:   return "METRICS";
	case IMSG_METRICS_R: return "METRICS_R";
	case IMSG_READY:     return "READY";
	case IMSG_KTOKENS:   return "KTOKENS";
	case IMSG_KSEED_NEW: return "KSEED_NEW";
	case IMSG_KSEED_HAS: return "KSEED_HAS";
	case IMSG_KSEED_DESTROY: return "KSEED_DESTROY";
	case IMSG_KBLIND:    return "KBLIND";
	case IMSG_KAUDIT_SIGN: return "KAUDIT_SIGN";
	case IMSG_KHEAD_SIGN: return "KHEAD_SIGN";
	case IMSG_KBUILD:    return "KBUILD";
	case IMSG_KREPLY:    return "KREPLY";
	case IMSG_KREADY:    return "KREADY";
	case IMSG_KMETRICS:  return "KMETRICS";
	case IMSG_KENTERED_SEAL: return "KENTERED_SEAL";
	case IMSG_KENTERED_OPEN: return "KENTERED_OPEN";
	default:             return "unknown";
	}
}

int
imsg_expect(const imsg_hdr *h, uint32_t type, size_t min, size_t max,
    char *err, size_t err_len)
{
	if (h->type != type) {
		snprintf(err, err_len, "message of type %s (%u), want %s",
		    imsg_name(h->type), (unsigned)h->type, imsg_name(type));
		return -1;
	}
	if (h->len < min || h->len > max) {
		if (min == max)
			snprintf(err, err_len, "%s of %u bytes, want %zu",
			    imsg_name(type), (unsigned)h->len, min);
		else
			snprintf(err, err_len, "%s of %u bytes, want %zu..%zu",
			    imsg_name(type), (unsigned)h->len, min, max);
		return -1;
	}
	return 0;
}
