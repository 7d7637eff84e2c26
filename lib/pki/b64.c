/*
 * b64.c - base64 as RFC 7030 bodies use it (RFC 4648 alphabet), decoded with
 * the RFC 8951 rule: white space anywhere is ignored, everything else strict.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <estkit/pki.h>
#include "pki_internal.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 8951 3.2: receivers tolerate these four anywhere in the body. */
static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* See pki_internal.h. */
int ek_pki_looks_b64(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!is_ws(buf[i]) && buf[i] != '=' && b64_value(buf[i]) < 0)
			return 0;
	}
	return 1;
}

/*
 * Encodes with a "\n" after every 64 characters and at the end (RFC 7030
 * Appendix A bodies look like that). Zero bytes encode as "".
 */
enum estkit_status estkit_b64_encode(const unsigned char *in, size_t len, char **out,
				     size_t *outlen)
{
	size_t chars, total, i, o = 0, col = 0;
	char *buf = NULL;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || (in == NULL && len > 0))
		return ESTKIT_EINVAL;
	if (len > ESTKIT_MAX_DECODE * 2u)
		return ESTKIT_ETOOBIG;
	chars = (len + 2) / 3 * 4;
	total = chars + (chars + 63) / 64 + 1;
	if ((buf = OPENSSL_malloc(total)) == NULL)
		return ESTKIT_ENOMEM;
	for (i = 0; i < len; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char q[4];

		if (n > 1)
			v |= (unsigned long)in[i + 1] << 8;
		if (n > 2)
			v |= in[i + 2];
		q[0] = alphabet[(v >> 18) & 63];
		q[1] = alphabet[(v >> 12) & 63];
		q[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
		q[3] = n > 2 ? alphabet[v & 63] : '=';
		for (size_t k = 0; k < 4; k++) {
			buf[o++] = q[k];
			if (++col == 64) {
				buf[o++] = '\n';
				col = 0;
			}
		}
	}
	if (col > 0)
		buf[o++] = '\n';
	buf[o] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = o;
	return ESTKIT_OK;
}

/* Emits the bytes of one complete quantum; checks the bits padding drops are 0. */
static int flush_quad(const int q[4], int pad, unsigned char *dst, size_t *o)
{
	unsigned long v = ((unsigned long)q[0] << 18) | ((unsigned long)q[1] << 12) |
			  ((unsigned long)q[2] << 6) | (unsigned long)q[3];

	/* RFC 4648 3.5: the pad bits must be zero; non-zero is a second spelling. */
	if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
		return 0;
	dst[(*o)++] = (unsigned char)(v >> 16);
	if (pad < 2)
		dst[(*o)++] = (unsigned char)(v >> 8);
	if (pad < 1)
		dst[(*o)++] = (unsigned char)v;
	return 1;
}

/* The strict decoding loop; returns 0 on any malformation. */
static int decode_strict(const unsigned char *in, size_t len, unsigned char *dst, size_t *o)
{
	int q[4];
	int nq = 0, pad = 0, done = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = in[i];
		int v;

		if (is_ws(c))
			continue;
		if (done)
			return 0; /* data after the padded final quantum */
		if (c == '=') {
			if (nq < 2)
				return 0; /* "=" may only replace the 3rd and 4th character */
			pad++;
			q[nq++] = 0;
		} else {
			if (pad > 0 || (v = b64_value(c)) < 0)
				return 0;
			q[nq++] = v;
		}
		if (nq == 4) {
			if (!flush_quad(q, pad, dst, o))
				return 0;
			done = pad > 0;
			nq = 0;
		}
	}
	/* A partial quantum: missing padding or a lone final character. */
	return nq == 0 && *o > 0;
}

/* See estkit/pki.h: white space ignored (RFC 8951), otherwise strict. */
enum estkit_status estkit_b64_decode(const char *in, size_t len, unsigned char **out,
				     size_t *outlen)
{
	unsigned char *buf = NULL;
	size_t o = 0;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || outlen == NULL || (in == NULL && len > 0))
		return ESTKIT_EINVAL;
	if (len > ESTKIT_MAX_DECODE)
		return ESTKIT_ETOOBIG;
	if (len == 0)
		return ESTKIT_EPARSE;
	if ((buf = OPENSSL_malloc(len / 4 * 3 + 3)) == NULL)
		return ESTKIT_ENOMEM;
	if (!decode_strict((const unsigned char *)in, len, buf, &o)) {
		OPENSSL_clear_free(buf, len / 4 * 3 + 3);
		return ESTKIT_EPARSE;
	}
	*out = buf;
	*outlen = o;
	return ESTKIT_OK;
}
