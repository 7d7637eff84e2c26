/*
 * skg_decrypt.c - opening a server-generated private key that came back
 * encrypted (RFC 7030 4.4.2): CMS EnvelopedData around a SignedData around
 * the PKCS#8 PrivateKeyInfo.
 */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <estkit/pki.h>
#include <estkit/serverkeygen.h>

/* The EnvelopedData's content, decrypted into a wiping memory BIO. */
static enum estkit_status open_envelope(const unsigned char *der, size_t len,
					const unsigned char *kek, size_t keklen, EVP_PKEY *pkey,
					X509 *cert, BIO **plain)
{
	BIO *in = BIO_new_mem_buf(der, (int)len);
	CMS_ContentInfo *env = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	*plain = BIO_new(BIO_s_secmem());
	if (in == NULL || *plain == NULL)
		goto out;
	rc = ESTKIT_EPARSE;
	env = d2i_CMS_bio(in, NULL);
	if (env == NULL || OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped)
		goto out;
	rc = ESTKIT_ECRYPTO;
	if (kek != NULL && CMS_decrypt_set1_key(env, (unsigned char *)kek, keklen, NULL, 0) != 1)
		goto out;
	if (CMS_decrypt(env, kek != NULL ? NULL : pkey, kek != NULL ? NULL : cert, NULL, *plain,
			CMS_BINARY) != 1)
		goto out;
	rc = ESTKIT_OK;
out:
	if (rc != ESTKIT_OK) {
		BIO_free(*plain);
		*plain = NULL;
	}
	CMS_ContentInfo_free(env);
	BIO_free(in);
	return rc;
}

/* A store of the trust anchors for the key generator's signature (any purpose). */
static X509_STORE *signer_store(STACK_OF(X509) *trust)
{
	X509_STORE *st = X509_STORE_new();
	int i;

	if (st == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(trust); i++)
		if (X509_STORE_add_cert(st, sk_X509_value(trust, i)) != 1)
			goto err;
	/* the EST server signs with its TLS certificate, whose purpose is serverAuth */
	if (X509_STORE_set_purpose(st, X509_PURPOSE_ANY) != 1)
		goto err;
	return st;
err:
	X509_STORE_free(st);
	return NULL;
}

/* The SignedData in plain, verified; its content (PKCS#8) parsed. */
static enum estkit_status open_signed(BIO *plain, STACK_OF(X509) *trust, EVP_PKEY **out)
{
	CMS_ContentInfo *sd = d2i_CMS_bio(plain, NULL);
	BIO *content = BIO_new(BIO_s_secmem());
	X509_STORE *st = NULL;
	unsigned int flags = CMS_BINARY;
	char *data = NULL;
	long n = 0;
	enum estkit_status rc = ESTKIT_EPARSE;

	if (sd == NULL || content == NULL ||
	    OBJ_obj2nid(CMS_get0_type(sd)) != NID_pkcs7_signed)
		goto out;
	if (trust == NULL)
		flags |= CMS_NO_SIGNER_CERT_VERIFY;
	else if ((st = signer_store(trust)) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	if (CMS_verify(sd, NULL, st, NULL, content, flags) != 1) {
		rc = ESTKIT_EUNTRUSTED;
		goto out;
	}
	n = BIO_get_mem_data(content, &data);
	rc = n > 0 ? estkit_pkcs8_decode((unsigned char *)data, (size_t)n, out) : ESTKIT_EPARSE;
out:
	X509_STORE_free(st);
	BIO_free(content);
	CMS_ContentInfo_free(sd);
	return rc;
}

/* See estkit/serverkeygen.h. */
enum estkit_status estkit_serverkeygen_key_decrypt(const unsigned char *der, size_t len,
						   const unsigned char *kek, size_t keklen,
						   EVP_PKEY *pkey, X509 *cert,
						   STACK_OF(X509) *signer_trust, EVP_PKEY **out)
{
	BIO *plain = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (der == NULL || len == 0 || len > ESTKIT_MAX_DECODE || out == NULL ||
	    (kek == NULL && pkey == NULL) || (kek != NULL && keklen == 0))
		return ESTKIT_EINVAL;
	rc = open_envelope(der, len, kek, keklen, pkey, cert, &plain);
	if (rc == ESTKIT_OK)
		rc = open_signed(plain, signer_trust, out);
	BIO_free(plain);
	ERR_clear_error();
	return rc;
}
