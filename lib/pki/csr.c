/*
 * csr.c - PKCS#10 requests (RFC 2986): DER in and out, proof-of-possession.
 */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* See estkit/pki.h. */
enum estkit_status estkit_csr_decode(const unsigned char *der, size_t derlen, X509_REQ **out)
{
	const unsigned char *p = der;
	X509_REQ *req = NULL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (der == NULL && derlen > 0))
		return ESTKIT_EINVAL;
	if (derlen > ESTKIT_MAX_DECODE)
		return ESTKIT_ETOOBIG;
	if (derlen == 0)
		return ESTKIT_EPARSE;
	if ((req = d2i_X509_REQ(NULL, &p, (long)derlen)) == NULL)
		return ESTKIT_EPARSE;
	/* Bytes after the request would be unauthenticated smuggled data. */
	if (p != der + derlen) {
		X509_REQ_free(req);
		return ESTKIT_EPARSE;
	}
	*out = req;
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_encode(X509_REQ *csr, unsigned char **der, size_t *derlen)
{
	unsigned char *buf = NULL, *p;
	int n;

	if (der != NULL)
		*der = NULL;
	if (derlen != NULL)
		*derlen = 0;
	if (csr == NULL || der == NULL || derlen == NULL)
		return ESTKIT_EINVAL;
	if ((n = i2d_X509_REQ(csr, NULL)) <= 0)
		return ESTKIT_ECRYPTO;
	if ((buf = OPENSSL_malloc((size_t)n)) == NULL)
		return ESTKIT_ENOMEM;
	p = buf;
	if (i2d_X509_REQ(csr, &p) != n) {
		OPENSSL_free(buf);
		return ESTKIT_ECRYPTO;
	}
	*der = buf;
	*derlen = (size_t)n;
	return ESTKIT_OK;
}

/*
 * See estkit/pki.h. The signature over the request proves possession of
 * the private key (RFC 7030 3.4 relies on it).
 */
enum estkit_status estkit_csr_verify(X509_REQ *csr)
{
	EVP_PKEY *key;

	if (csr == NULL)
		return ESTKIT_EINVAL;
	if ((key = X509_REQ_get0_pubkey(csr)) == NULL)
		return ESTKIT_ECRYPTO;
	if (X509_REQ_verify_ex(csr, key, NULL, NULL) != 1)
		return ESTKIT_ECRYPTO;
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_sans(X509_REQ *csr, char **out)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	enum estkit_status rc;
	int crit = -1;

	if (out != NULL)
		*out = NULL;
	if (csr == NULL || out == NULL)
		return ESTKIT_EINVAL;
	ERR_set_mark();
	exts = X509_REQ_get_extensions(csr);
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	/* crit -1: absent; -2: more than one SAN extension, which is malformed. */
	if (gens == NULL && crit != -1) {
		ERR_clear_last_mark();
		rc = ESTKIT_EPARSE;
		goto out;
	}
	ERR_pop_to_mark();
	rc = ek_sans_format(gens, out);
out:
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}
