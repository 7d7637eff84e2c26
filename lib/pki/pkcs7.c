/*
 * pkcs7.c - "certs-only" PKCS#7: a degenerate SignedData with no content and
 * no signers, only certificates (RFC 7030 4.1.3, RFC 5652 5.1).
 */
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Builds the SignedData structure; certs are up-referenced, not copied. */
static PKCS7 *certs_only_new(STACK_OF(X509) *certs)
{
	PKCS7 *p7 = NULL;

	if ((p7 = PKCS7_new()) == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed))
		goto err;
	/* RFC 5652 5.2: encapContentInfo of type id-data with the content absent. */
	p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
			goto err;
	}
	return p7;
err:
	PKCS7_free(p7);
	return NULL;
}

/* See estkit/pki.h. */
enum estkit_status estkit_pkcs7_certs_encode(STACK_OF(X509) *certs, unsigned char **der,
					     size_t *derlen)
{
	enum estkit_status rc = ESTKIT_ECRYPTO;
	PKCS7 *p7 = NULL;
	unsigned char *buf = NULL, *p;
	int n;

	if (der != NULL)
		*der = NULL;
	if (derlen != NULL)
		*derlen = 0;
	if (certs == NULL || der == NULL || derlen == NULL || sk_X509_num(certs) < 1)
		return ESTKIT_EINVAL;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (sk_X509_value(certs, i) == NULL)
			return ESTKIT_EINVAL;
	}
	if ((p7 = certs_only_new(certs)) == NULL)
		goto out;
	if ((n = i2d_PKCS7(p7, NULL)) <= 0)
		goto out;
	if ((buf = OPENSSL_malloc((size_t)n)) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	p = buf;
	if (i2d_PKCS7(p7, &p) != n)
		goto out;
	*der = buf;
	*derlen = (size_t)n;
	buf = NULL;
	rc = ESTKIT_OK;
out:
	OPENSSL_free(buf);
	PKCS7_free(p7);
	return rc;
}

/*
 * See estkit/pki.h. Accepts what RFC 7030's examples contain (empty crls
 * [1], empty digestAlgorithms and signerInfos); rejects trailing bytes and
 * any other content type than signedData.
 */
enum estkit_status estkit_pkcs7_certs_decode(const unsigned char *der, size_t derlen,
					     STACK_OF(X509) **out)
{
	enum estkit_status rc = ESTKIT_EPARSE;
	const unsigned char *p = der;
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7 = NULL;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || (der == NULL && derlen > 0))
		return ESTKIT_EINVAL;
	if (derlen > ESTKIT_MAX_DECODE)
		return ESTKIT_ETOOBIG;
	if (derlen == 0)
		return ESTKIT_EPARSE;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)derlen)) == NULL)
		goto out;
	if (p != der + derlen || !PKCS7_type_is_signed(p7) || p7->d.sign == NULL)
		goto out;
	certs = p7->d.sign->cert;
	if (certs == NULL || sk_X509_num(certs) < 1)
		goto out;
	if ((certs = X509_chain_up_ref(certs)) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	*out = certs;
	rc = ESTKIT_OK;
out:
	PKCS7_free(p7);
	return rc;
}
