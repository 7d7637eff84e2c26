/*
 * load.c - certificates, keys and requests from buffers and files, sniffing
 * the encoding: PEM, DER, base64 of DER, PKCS#7 certs-only.
 */
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* See pki_internal.h. */
int ek_pki_looks_pem(const unsigned char *buf, size_t len)
{
	static const char armour[] = "-----BEGIN ";

	return memmem(buf, len, armour, sizeof(armour) - 1) != NULL;
}

/* Decodes exactly one DER certificate covering all of der. */
static X509 *cert_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Appends a DER certificate or DER PKCS#7 certs-only to certs. */
static enum estkit_status add_der(const unsigned char *der, size_t len, STACK_OF(X509) *certs)
{
	STACK_OF(X509) *more = NULL;
	enum estkit_status rc;
	X509 *x;

	if ((x = cert_from_der(der, len)) != NULL) {
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			return ESTKIT_ENOMEM;
		}
		return ESTKIT_OK;
	}
	if ((rc = estkit_pkcs7_certs_decode(der, len, &more)) != ESTKIT_OK)
		return rc;
	while (sk_X509_num(more) > 0) {
		x = sk_X509_shift(more);
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			OSSL_STACK_OF_X509_free(more);
			return ESTKIT_ENOMEM;
		}
	}
	sk_X509_free(more);
	return ESTKIT_OK;
}

/* Every CERTIFICATE (and PKCS7) block of a PEM text; other blocks skipped. */
static enum estkit_status add_pem(const unsigned char *in, size_t len, STACK_OF(X509) *certs)
{
	enum estkit_status rc = ESTKIT_EPARSE;
	BIO *bio = NULL;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;

	if ((bio = BIO_new_mem_buf(in, (int)len)) == NULL)
		return ESTKIT_ENOMEM;
	while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		rc = ESTKIT_OK;
		if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
		    strcmp(name, PEM_STRING_PKCS7) == 0)
			rc = add_der(data, (size_t)dlen, certs);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
		if (rc != ESTKIT_OK)
			goto out;
	}
	/* The loop ends on "no start line" at EOF; anything else is damage. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		rc = ESTKIT_EPARSE;
out:
	BIO_free(bio);
	return rc;
}

/* Sniffs the encoding and appends what it holds. */
static enum estkit_status add_any(const unsigned char *in, size_t len, STACK_OF(X509) *certs)
{
	enum estkit_status rc;
	unsigned char *der = NULL;
	size_t derlen = 0;

	if (ek_pki_looks_pem(in, len))
		return add_pem(in, len, certs);
	/* A DER SEQUENCE; base64 text could also start with '0', so fall back. */
	if (in[0] == 0x30 && add_der(in, len, certs) == ESTKIT_OK)
		return ESTKIT_OK;
	if (!ek_pki_looks_b64(in, len))
		return ESTKIT_EPARSE;
	/* RFC 7030 4.1.3: /cacerts bodies are base64 of DER certs-only. */
	if ((rc = estkit_b64_decode((const char *)in, len, &der, &derlen)) != ESTKIT_OK)
		return rc;
	rc = add_der(der, derlen, certs);
	OPENSSL_free(der);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_certs_parse(const unsigned char *in, size_t len, STACK_OF(X509) **out)
{
	enum estkit_status rc;
	STACK_OF(X509) *certs = NULL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (in == NULL && len > 0))
		return ESTKIT_EINVAL;
	if (len > ESTKIT_MAX_DECODE)
		return ESTKIT_ETOOBIG;
	if (len == 0)
		return ESTKIT_EPARSE;
	if ((certs = sk_X509_new_null()) == NULL)
		return ESTKIT_ENOMEM;
	ERR_set_mark();
	rc = add_any(in, len, certs);
	if (rc == ESTKIT_OK && sk_X509_num(certs) == 0)
		rc = ESTKIT_EPARSE;
	if (rc != ESTKIT_OK) {
		ERR_clear_last_mark();
		OSSL_STACK_OF_X509_free(certs);
		return rc;
	}
	/* Failed sniffing attempts are not errors of a successful parse. */
	ERR_pop_to_mark();
	*out = certs;
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
enum estkit_status estkit_certs_load(const char *path, STACK_OF(X509) **out)
{
	enum estkit_status rc;
	unsigned char *buf = NULL;
	size_t len = 0;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((rc = estkit_file_read(path, &buf, &len)) != ESTKIT_OK)
		return rc;
	rc = estkit_certs_parse(buf, len, out);
	estkit_free(buf);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_cert_load(const char *path, X509 **out)
{
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((rc = estkit_certs_load(path, &certs)) != ESTKIT_OK)
		return rc;
	*out = sk_X509_shift(certs);
	OSSL_STACK_OF_X509_free(certs);
	return ESTKIT_OK;
}

/* A request from DER, or from base64 of DER when it is not DER. */
static enum estkit_status csr_from_binary(const unsigned char *in, size_t len, X509_REQ **out)
{
	enum estkit_status rc;
	unsigned char *der = NULL;
	size_t derlen = 0;

	if (in[0] == 0x30 && estkit_csr_decode(in, len, out) == ESTKIT_OK)
		return ESTKIT_OK;
	if (!ek_pki_looks_b64(in, len))
		return ESTKIT_EPARSE;
	/* RFC 7030 4.2.1: /simpleenroll bodies are base64 of the DER request. */
	if ((rc = estkit_b64_decode((const char *)in, len, &der, &derlen)) != ESTKIT_OK)
		return rc;
	rc = estkit_csr_decode(der, derlen, out);
	OPENSSL_free(der);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_load(const char *path, X509_REQ **out)
{
	enum estkit_status rc;
	unsigned char *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((rc = estkit_file_read(path, &buf, &len)) != ESTKIT_OK)
		return rc;
	ERR_set_mark();
	rc = ESTKIT_EPARSE;
	if (len == 0) {
		goto out;
	} else if (ek_pki_looks_pem(buf, len)) {
		/* Matches "CERTIFICATE REQUEST" and "NEW CERTIFICATE REQUEST". */
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
			rc = ESTKIT_ENOMEM;
		else if ((*out = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) != NULL)
			rc = ESTKIT_OK;
	} else {
		rc = csr_from_binary(buf, len, out);
	}
out:
	if (rc == ESTKIT_OK)
		ERR_pop_to_mark();
	else
		ERR_clear_last_mark();
	BIO_free(bio);
	estkit_free(buf);
	return rc;
}
