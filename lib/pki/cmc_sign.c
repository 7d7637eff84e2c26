/*
 * cmc_sign.c - the CMS SignedData around PKIData / PKIResponse (RFC 5272
 * 3.2.1 and 3.2.2, RFC 5652 5) through OpenSSL's CMS API.
 *
 * A request signed with a key that has no certificate yet (the PKCS#10 POP
 * case, RFC 5272 3.2.1.3.2) names its signer by subjectKeyIdentifier. OpenSSL's
 * CMS code wants a certificate for every signer, so both sides make a
 * throw-away one holding the key and that identifier; it is never sent.
 */
#include <string.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "pki/cmc_asn1.h"
#include "pki/pki_internal.h"

#define CMS_FLAGS (CMS_BINARY | CMS_NOSMIMECAP)

/*
 * A stand-in certificate for key with SKI = SHA-1(public key). OpenSSL only
 * reads its extensions once it encodes, so it is signed: with key itself
 * when private (sign = 1), else with a throw-away P-256 key - nobody checks
 * that signature (CMS_NO_SIGNER_CERT_VERIFY).
 */
static X509 *keyid_cert(EVP_PKEY *key, int sign)
{
	EVP_PKEY *eph = NULL;
	X509 *x = X509_new();
	ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509_NAME *n = NULL;

	if (x == NULL || ski == NULL || !X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) || !X509_set_pubkey(x, key))
		goto err;
	n = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					(const unsigned char *)"estkit CMC key", -1, -1, 0) ||
	    !X509_set_issuer_name(x, n) || X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 60) == NULL)
		goto err;
	/* RFC 5280 4.2.1.2 method 1, as RFC 5272 3.2.1.3.2 suggests */
	if (!X509_pubkey_digest(x, EVP_sha1(), md, &mdlen) ||
	    !ASN1_OCTET_STRING_set(ski, md, (int)mdlen) ||
	    !X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_REPLACE))
		goto err;
	if (!sign && (eph = EVP_EC_gen("P-256")) == NULL)
		goto err;
	if (X509_sign(x, sign ? key : eph, sign ? ek_pki_sign_md(key) : EVP_sha256()) <= 0)
		goto err;
	EVP_PKEY_free(eph);
	ASN1_OCTET_STRING_free(ski);
	return x;
err:
	EVP_PKEY_free(eph);
	ASN1_OCTET_STRING_free(ski);
	X509_free(x);
	return NULL;
}

static int content_nid(int response)
{
	return response ? NID_id_cct_PKIResponse : NID_id_cct_PKIData;
}

static enum estkit_status cms_to_der(CMS_ContentInfo *cms, unsigned char **out, size_t *outlen)
{
	unsigned char *der = NULL;
	int n = i2d_CMS_ContentInfo(cms, &der);

	if (n <= 0)
		return ESTKIT_ENOMEM;
	*out = der;
	*outlen = (size_t)n;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_sign(const unsigned char *content, size_t len, int response,
				   X509 *cert, EVP_PKEY *key, STACK_OF(X509) *extra,
				   unsigned char **out, size_t *outlen)
{
	CMS_ContentInfo *cms = NULL;
	X509 *tmp = NULL;
	BIO *in = NULL;
	unsigned int fl = CMS_FLAGS;
	enum estkit_status rc = ESTKIT_ECRYPTO;
	int i;

	if (content == NULL || len == 0 || len > INT_MAX || key == NULL || out == NULL ||
	    outlen == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (cert == NULL) {
		tmp = keyid_cert(key, 1);
		fl |= CMS_USE_KEYID | CMS_NOCERTS;
	}
	in = BIO_new_mem_buf(content, (int)len);
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_FLAGS | CMS_PARTIAL);
	if (in == NULL || cms == NULL || (cert == NULL && tmp == NULL))
		goto out;
	if (!CMS_set1_eContentType(cms, OBJ_nid2obj(content_nid(response))))
		goto out;
	if (CMS_add1_signer(cms, cert != NULL ? cert : tmp, key, ek_pki_sign_md(key), fl) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(extra); i++)
		if (!CMS_add1_cert(cms, sk_X509_value(extra, i)))
			goto out;
	if (!CMS_final(cms, in, NULL, CMS_FLAGS))
		goto out;
	rc = cms_to_der(cms, out, outlen);
out:
	BIO_free(in);
	X509_free(tmp);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* Parses a SignedData of the expected content type. */
static enum estkit_status cms_parse(const unsigned char *der, size_t len, int response,
				    CMS_ContentInfo **out)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;

	if (der == NULL || len == 0 || len > ESTKIT_MAX_DECODE)
		return ESTKIT_EINVAL;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != content_nid(response) ||
	    CMS_get0_content(cms) == NULL || *CMS_get0_content(cms) == NULL ||
	    sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) < 1) {
		CMS_ContentInfo_free(cms);
		return ESTKIT_EPARSE;
	}
	*out = cms;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_open(const unsigned char *der, size_t len, int response,
				   unsigned char **content, size_t *clen, STACK_OF(X509) **certs)
{
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING *os = NULL;
	enum estkit_status rc;

	if (content == NULL || clen == NULL)
		return ESTKIT_EINVAL;
	*content = NULL;
	if (certs != NULL)
		*certs = NULL;
	rc = cms_parse(der, len, response, &cms);
	if (rc != ESTKIT_OK)
		return rc;
	os = *CMS_get0_content(cms);
	rc = ESTKIT_ENOMEM;
	*content = OPENSSL_memdup(os->data, (size_t)os->length);
	if (*content == NULL && os->length > 0)
		goto out;
	*clen = (size_t)os->length;
	if (certs != NULL) {
		*certs = CMS_get1_certs(cms); /* NULL when it carries none */
		if (*certs == NULL)
			*certs = sk_X509_new_null();
		if (*certs == NULL)
			goto out;
	}
	rc = ESTKIT_OK;
out:
	if (rc != ESTKIT_OK) {
		OPENSSL_free(*content);
		*content = NULL;
	}
	CMS_ContentInfo_free(cms);
	return rc;
}

/* *signer = a reference to the first signer's certificate unless it is tmp. */
static int signer_ref(CMS_ContentInfo *cms, X509 *tmp, EVP_PKEY *key, X509 **signer)
{
	STACK_OF(X509) *signers = CMS_get0_signers(cms);
	int i, ok = sk_X509_num(signers) > 0;

	for (i = 0; ok && i < sk_X509_num(signers); i++) {
		X509 *s = sk_X509_value(signers, i);
		if (key != NULL && EVP_PKEY_eq(X509_get0_pubkey(s), key) != 1)
			ok = 0;
		if (ok && i == 0 && s != tmp && signer != NULL && X509_up_ref(s))
			*signer = s;
	}
	sk_X509_free(signers);
	return ok;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_verify_key(const unsigned char *der, size_t len, EVP_PKEY *key,
					 X509 **signer)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *tmp = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (signer != NULL)
		*signer = NULL;
	if (key == NULL || certs == NULL)
		goto out;
	if ((rc = cms_parse(der, len, 0, &cms)) != ESTKIT_OK &&
	    (rc = cms_parse(der, len, 1, &cms)) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ENOMEM;
	tmp = keyid_cert(key, 0);
	if (tmp == NULL || !sk_X509_push(certs, tmp))
		goto out;
	rc = ESTKIT_ECRYPTO;
	if (CMS_verify(cms, certs, NULL, NULL, NULL, CMS_FLAGS | CMS_NO_SIGNER_CERT_VERIFY) != 1)
		goto out;
	if (!signer_ref(cms, tmp, key, signer))
		goto out;
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	sk_X509_free(certs);
	X509_free(tmp);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_verify_carried(const unsigned char *der, size_t len,
					     X509 **signer)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis = NULL;
	enum estkit_status rc;
	int i;

	if (signer == NULL)
		return ESTKIT_EINVAL;
	*signer = NULL;
	if ((rc = cms_parse(der, len, 0, &cms)) != ESTKIT_OK &&
	    (rc = cms_parse(der, len, 1, &cms)) != ESTKIT_OK)
		return rc;
	rc = ESTKIT_ENOTFOUND;
	sis = CMS_get0_SignerInfos(cms);
	if (CMS_set1_signers_certs(cms, NULL, 0) < 0)
		goto out;
	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		X509 *x = NULL;
		CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, i), NULL, &x, NULL, NULL);
		if (x == NULL)
			goto out;
	}
	rc = ESTKIT_ECRYPTO;
	if (CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_FLAGS | CMS_NO_SIGNER_CERT_VERIFY) != 1 ||
	    !signer_ref(cms, NULL, NULL, signer) || *signer == NULL)
		goto out;
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	return rc;
}
