/*
 * signer_wire.c - framing, encoding and the signer's sanity checks for the
 * network process <-> signer process protocol (signer_wire.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/signer_wire.h"

typedef struct estd_signer_req_st {
	ASN1_INTEGER *id;
	ASN1_INTEGER *op;
	ASN1_INTEGER *key;
	ASN1_OCTET_STRING *data;
	STACK_OF(X509) *extra;
} ESTD_SIGNER_REQ;

typedef struct estd_signer_rsp_st {
	ASN1_INTEGER *id;
	ASN1_INTEGER *status;
	ASN1_OCTET_STRING *data;
	ASN1_UTF8STRING *reason;
} ESTD_SIGNER_RSP;

DECLARE_ASN1_FUNCTIONS(ESTD_SIGNER_REQ)
DECLARE_ASN1_FUNCTIONS(ESTD_SIGNER_RSP)

ASN1_SEQUENCE(ESTD_SIGNER_REQ) = {
	ASN1_SIMPLE(ESTD_SIGNER_REQ, id, ASN1_INTEGER),
	ASN1_SIMPLE(ESTD_SIGNER_REQ, op, ASN1_INTEGER),
	ASN1_SIMPLE(ESTD_SIGNER_REQ, key, ASN1_INTEGER),
	ASN1_SIMPLE(ESTD_SIGNER_REQ, data, ASN1_OCTET_STRING),
	ASN1_SEQUENCE_OF_OPT(ESTD_SIGNER_REQ, extra, X509),
} ASN1_SEQUENCE_END(ESTD_SIGNER_REQ)

ASN1_SEQUENCE(ESTD_SIGNER_RSP) = {
	ASN1_SIMPLE(ESTD_SIGNER_RSP, id, ASN1_INTEGER),
	ASN1_SIMPLE(ESTD_SIGNER_RSP, status, ASN1_INTEGER),
	ASN1_SIMPLE(ESTD_SIGNER_RSP, data, ASN1_OCTET_STRING),
	ASN1_OPT(ESTD_SIGNER_RSP, reason, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(ESTD_SIGNER_RSP)

IMPLEMENT_ASN1_FUNCTIONS(ESTD_SIGNER_REQ)
IMPLEMENT_ASN1_FUNCTIONS(ESTD_SIGNER_RSP)

#define HDR 4
#define MAX_STATUS 1000

void estd_signer_msg_clear(struct estd_signer_msg *m)
{
	if (m == NULL)
		return;
	free(m->data);
	free(m->reason);
	sk_X509_pop_free(m->extra, X509_free);
	memset(m, 0, sizeof(*m));
}

long estd_signer_frame_len(const unsigned char hdr[4])
{
	unsigned long n = ((unsigned long)hdr[0] << 24) | ((unsigned long)hdr[1] << 16) |
			  ((unsigned long)hdr[2] << 8) | (unsigned long)hdr[3];

	if (n == 0 || n > ESTD_SIGNER_MAX_FRAME)
		return -1;
	return (long)n;
}

/* Header + DER in one malloc'd buffer. */
static enum estkit_status frame(const unsigned char *der, int n, unsigned char **out,
				size_t *outlen)
{
	if (n <= 0)
		return ESTKIT_ECRYPTO;
	if ((size_t)n > ESTD_SIGNER_MAX_FRAME)
		return ESTKIT_ETOOBIG;
	*out = malloc((size_t)n + HDR);
	if (*out == NULL)
		return ESTKIT_ENOMEM;
	(*out)[0] = (unsigned char)((unsigned)n >> 24);
	(*out)[1] = (unsigned char)((unsigned)n >> 16);
	(*out)[2] = (unsigned char)((unsigned)n >> 8);
	(*out)[3] = (unsigned char)n;
	memcpy(*out + HDR, der, (size_t)n);
	*outlen = (size_t)n + HDR;
	return ESTKIT_OK;
}

static int set_int(ASN1_INTEGER *ai, int64_t v)
{
	return ASN1_INTEGER_set_int64(ai, v) == 1;
}

static enum estkit_status encode_req(const struct estd_signer_msg *m, unsigned char **out,
				     size_t *outlen)
{
	ESTD_SIGNER_REQ *r = ESTD_SIGNER_REQ_new();
	unsigned char *der = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;
	int n, i;

	if (r == NULL)
		return ESTKIT_ENOMEM;
	if (!set_int(r->id, m->id) || !set_int(r->op, m->op) || !set_int(r->key, m->key) ||
	    ASN1_OCTET_STRING_set(r->data, m->data != NULL ? m->data : (const unsigned char *)"",
				  (int)m->len) != 1)
		goto out;
	if (m->extra != NULL && sk_X509_num(m->extra) > 0) {
		if ((r->extra = sk_X509_new_null()) == NULL)
			goto out;
		for (i = 0; i < sk_X509_num(m->extra); i++) {
			X509 *x = sk_X509_value(m->extra, i);

			if (!X509_up_ref(x))
				goto out;
			if (!sk_X509_push(r->extra, x)) {
				X509_free(x);
				goto out;
			}
		}
	}
	n = i2d_ESTD_SIGNER_REQ(r, &der);
	rc = frame(der, n, out, outlen);
out:
	OPENSSL_free(der);
	ESTD_SIGNER_REQ_free(r);
	return rc;
}

static enum estkit_status encode_rsp(const struct estd_signer_msg *m, unsigned char **out,
				     size_t *outlen)
{
	ESTD_SIGNER_RSP *r = ESTD_SIGNER_RSP_new();
	unsigned char *der = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;
	int n;

	if (r == NULL)
		return ESTKIT_ENOMEM;
	if (!set_int(r->id, m->id) || !set_int(r->status, m->status) ||
	    ASN1_OCTET_STRING_set(r->data, m->data != NULL ? m->data : (const unsigned char *)"",
				  (int)m->len) != 1)
		goto out;
	if (m->reason != NULL) {
		if ((r->reason = ASN1_UTF8STRING_new()) == NULL ||
		    ASN1_STRING_set(r->reason, m->reason, -1) != 1)
			goto out;
	}
	n = i2d_ESTD_SIGNER_RSP(r, &der);
	rc = frame(der, n, out, outlen);
out:
	OPENSSL_free(der);
	ESTD_SIGNER_RSP_free(r);
	return rc;
}

enum estkit_status estd_signer_msg_encode(const struct estd_signer_msg *m, int response,
					  unsigned char **out, size_t *outlen)
{
	if (out == NULL || outlen == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	*outlen = 0;
	if (m == NULL || m->len > ESTD_SIGNER_MAX_FRAME || (m->len > 0 && m->data == NULL))
		return ESTKIT_EINVAL;
	return response ? encode_rsp(m, out, outlen) : encode_req(m, out, outlen);
}

/* An INTEGER in [lo, hi] into *v; 0 otherwise. */
static int get_int(const ASN1_INTEGER *ai, int64_t lo, int64_t hi, int64_t *v)
{
	return ASN1_INTEGER_get_int64(v, ai) == 1 && *v >= lo && *v <= hi;
}

/* A heap copy of an OCTET STRING's bytes (at least 1 byte allocated). */
static int copy_data(const ASN1_OCTET_STRING *os, unsigned char **data, size_t *len)
{
	int n = ASN1_STRING_length(os);

	*data = malloc(n > 0 ? (size_t)n : 1);
	if (*data == NULL)
		return 0;
	if (n > 0)
		memcpy(*data, ASN1_STRING_get0_data(os), (size_t)n);
	*len = (size_t)n;
	return 1;
}

static enum estkit_status decode_req(const unsigned char *der, size_t len,
				     struct estd_signer_msg *m)
{
	const unsigned char *p = der;
	ESTD_SIGNER_REQ *r = d2i_ESTD_SIGNER_REQ(NULL, &p, (long)len);
	enum estkit_status rc = ESTKIT_EPARSE;
	int64_t id, op, key;

	if (r == NULL || p != der + len)
		goto out;
	if (!get_int(r->id, 0, UINT32_MAX, &id) ||
	    !get_int(r->op, ESTD_SIGNER_OP_PUBKEY, ESTD_SIGNER_OP_SIGN_CMS, &op) ||
	    !get_int(r->key, 0, ESTD_SIGNER_MAX_KEYS - 1, &key))
		goto out;
	if (r->extra != NULL && op != ESTD_SIGNER_OP_SIGN_CMS)
		goto out;
	rc = ESTKIT_ENOMEM;
	if (!copy_data(r->data, &m->data, &m->len))
		goto out;
	m->id = (uint32_t)id;
	m->op = (int)op;
	m->key = (int)key;
	m->extra = r->extra; /* taken over */
	r->extra = NULL;
	rc = ESTKIT_OK;
out:
	ESTD_SIGNER_REQ_free(r);
	return rc;
}

static enum estkit_status decode_rsp(const unsigned char *der, size_t len,
				     struct estd_signer_msg *m)
{
	const unsigned char *p = der;
	ESTD_SIGNER_RSP *r = d2i_ESTD_SIGNER_RSP(NULL, &p, (long)len);
	enum estkit_status rc = ESTKIT_EPARSE;
	int64_t id, status;
	int n;

	if (r == NULL || p != der + len)
		goto out;
	if (!get_int(r->id, 0, UINT32_MAX, &id) || !get_int(r->status, 0, MAX_STATUS, &status))
		goto out;
	rc = ESTKIT_ENOMEM;
	if (!copy_data(r->data, &m->data, &m->len))
		goto out;
	if (r->reason != NULL) {
		n = ASN1_STRING_length(r->reason);
		if ((m->reason = malloc((size_t)n + 1)) == NULL)
			goto out;
		memcpy(m->reason, ASN1_STRING_get0_data(r->reason), (size_t)n);
		m->reason[n] = '\0';
	}
	m->id = (uint32_t)id;
	m->status = (int)status;
	rc = ESTKIT_OK;
out:
	ESTD_SIGNER_RSP_free(r);
	return rc;
}

enum estkit_status estd_signer_msg_decode(const unsigned char *der, size_t len, int response,
					  struct estd_signer_msg *m)
{
	enum estkit_status rc;

	if (m == NULL)
		return ESTKIT_EINVAL;
	memset(m, 0, sizeof(*m));
	if (der == NULL || len == 0 || len > ESTD_SIGNER_MAX_FRAME)
		return ESTKIT_EPARSE;
	rc = response ? decode_rsp(der, len, m) : decode_req(der, len, m);
	if (rc != ESTKIT_OK)
		estd_signer_msg_clear(m);
	return rc;
}

enum estkit_status estd_signer_frame_write(int fd, const unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ESTKIT_ENET;
		buf += n;
		len -= (size_t)n;
	}
	return ESTKIT_OK;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly len bytes before the deadline (-1: none). */
static enum estkit_status read_full(int fd, unsigned char *buf, size_t len, long long deadline)
{
	struct pollfd pfd;
	long long left;
	ssize_t n;
	int r;

	while (len > 0) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0)
			return ESTKIT_ETIMEOUT;
		r = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ESTKIT_ENET;
		if (r == 0)
			return ESTKIT_ETIMEOUT;
		n = recv(fd, buf, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return ESTKIT_ENET;
		buf += n;
		len -= (size_t)n;
	}
	return ESTKIT_OK;
}

enum estkit_status estd_signer_frame_read(int fd, int timeout_ms, unsigned char **out,
					  size_t *outlen)
{
	unsigned char hdr[HDR];
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	enum estkit_status rc;
	long n;

	*out = NULL;
	*outlen = 0;
	rc = read_full(fd, hdr, sizeof(hdr), deadline);
	if (rc != ESTKIT_OK)
		return rc;
	n = estd_signer_frame_len(hdr);
	if (n < 0)
		return ESTKIT_EPARSE;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return ESTKIT_ENOMEM;
	rc = read_full(fd, *out, (size_t)n, deadline);
	if (rc != ESTKIT_OK) {
		free(*out);
		*out = NULL;
		return rc;
	}
	*outlen = (size_t)n;
	return ESTKIT_OK;
}

static pthread_once_t parse_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *parse_libctx;

/*
 * A library context with only the null provider. A certificate parsed in it
 * keeps its public key undecoded: OpenSSL 3.0 decodes the key of every
 * parsed certificate through the provider decoders, 1.5 million
 * instructions, a fifth of an enrollment with the signer process
 * (BENCHMARKS.md), and nothing the signer checks or signs needs the key
 * (the extension flags, the issuer name and the DER do not). Made once,
 * kept for the life of the process.
 */
static void parse_libctx_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (ctx != NULL && OSSL_PROVIDER_load(ctx, "null") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
	}
	parse_libctx = ctx;
}

/* See signer_wire.h. */
enum estkit_status estd_cert_parse_keyless(const unsigned char *der, size_t len, X509 **out)
{
	const unsigned char *p = der;
	X509 *x = NULL;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (pthread_once(&parse_once, parse_libctx_init) != 0 || parse_libctx == NULL)
		return ESTKIT_ENOMEM;
	if (der == NULL || len == 0 || len > ESTD_SIGNER_MAX_FRAME)
		return ESTKIT_EPARSE;
	x = (X509 *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509), parse_libctx,
				     NULL);
	if (x == NULL || p != der + len) {
		X509_free(x);
		return ESTKIT_EPARSE;
	}
	*out = x;
	return ESTKIT_OK;
}

enum estkit_status estd_signer_check_cert(const unsigned char *der, size_t len,
					  const X509_NAME *issuer, X509 **out, char *reason,
					  size_t rlen)
{
	X509 *x = NULL;
	uint32_t flags;
	enum estkit_status rc;

	*out = NULL;
	rc = estd_cert_parse_keyless(der, len, &x);
	if (rc != ESTKIT_OK) {
		snprintf(reason, rlen, "%s", rc == ESTKIT_ENOMEM
						 ? "out of memory"
						 : "not one well-formed DER certificate");
		return rc;
	}
	if (issuer == NULL || X509_NAME_cmp(X509_get_issuer_name(x), issuer) != 0) {
		snprintf(reason, rlen, "the issuer is not this signer's CA");
		X509_free(x);
		return ESTKIT_EPOLICY;
	}
	/* EXFLAG_CA: basicConstraints cA TRUE; EXFLAG_INVALID: undecodable extensions. */
	flags = X509_get_extension_flags(x);
	if ((flags & (EXFLAG_CA | EXFLAG_INVALID)) != 0 ||
	    ((flags & EXFLAG_KUSAGE) != 0 && (X509_get_key_usage(x) & KU_KEY_CERT_SIGN) != 0)) {
		snprintf(reason, rlen, "refusing to sign a CA certificate");
		X509_free(x);
		return ESTKIT_EPOLICY;
	}
	*out = x;
	return ESTKIT_OK;
}

enum estkit_status estd_signer_check_crl(const unsigned char *der, size_t len,
					 const X509_NAME *issuer, X509_CRL **out, char *reason,
					 size_t rlen)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;

	*out = NULL;
	if (der == NULL || len == 0 || len > ESTD_SIGNER_MAX_FRAME ||
	    (crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL || p != der + len) {
		snprintf(reason, rlen, "not one well-formed DER CRL");
		X509_CRL_free(crl);
		return ESTKIT_EPARSE;
	}
	if (issuer == NULL || X509_NAME_cmp(X509_CRL_get_issuer(crl), issuer) != 0) {
		snprintf(reason, rlen, "the CRL issuer is not this signer's CA");
		X509_CRL_free(crl);
		return ESTKIT_EPOLICY;
	}
	*out = crl;
	return ESTKIT_OK;
}

/* ---- the network process's placeholder signature ------------------------------- */

static pthread_once_t placeholder_once = PTHREAD_ONCE_INIT;
static EVP_PKEY *placeholder_key;
static EVP_MD *placeholder_md;

/*
 * ECDSA P-256: the cheapest signature OpenSSL 3.0 makes here (about 0.3
 * million instructions with SHA-256, against 0.7 million for Ed25519, whose
 * generic code has no assembler; BENCHMARKS.md). The digest is fetched once
 * rather than looked up by name on every signature.
 */
static void placeholder_init(void)
{
	placeholder_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	placeholder_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * OpenSSL 3.0 has no setter for a certificate's two AlgorithmIdentifiers, and
 * an unsigned X509 does not encode to parseable DER; signing with a throw-away
 * key fills them (the signer's X509_sign_ctx replaces all three fields).
 */
static EVP_PKEY *placeholder(const EVP_MD **md)
{
	if (pthread_once(&placeholder_once, placeholder_init) != 0 || placeholder_md == NULL)
		return NULL;
	*md = placeholder_md;
	return placeholder_key;
}

enum estkit_status estd_signer_tbs_cert(X509 *x, unsigned char **out, size_t *outlen)
{
	const EVP_MD *md = NULL;
	EVP_PKEY *k = placeholder(&md);
	int n;

	*out = NULL;
	*outlen = 0;
	if (k == NULL || X509_sign(x, k, md) <= 0)
		return ESTKIT_ECRYPTO;
	n = i2d_X509(x, out);
	if (n <= 0)
		return ESTKIT_ECRYPTO;
	*outlen = (size_t)n;
	return ESTKIT_OK;
}

enum estkit_status estd_signer_tbs_crl(X509_CRL *crl, unsigned char **out, size_t *outlen)
{
	const EVP_MD *md = NULL;
	EVP_PKEY *k = placeholder(&md);
	int n;

	*out = NULL;
	*outlen = 0;
	if (k == NULL || X509_CRL_sign(crl, k, md) <= 0)
		return ESTKIT_ECRYPTO;
	n = i2d_X509_CRL(crl, out);
	if (n <= 0)
		return ESTKIT_ECRYPTO;
	*outlen = (size_t)n;
	return ESTKIT_OK;
}
