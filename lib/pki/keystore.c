/*
 * keystore.c - private keys from anywhere OpenSSL can reach: a file, or an
 * OpenSSL provider's URI (e.g. a TPM or PKCS#11 provider: "tpm2tss:..." or
 * "pkcs11:..."), through the OSSL_STORE API. The key never leaves the
 * provider; libestkit only uses it through EVP_PKEY (TLS client key, CSR
 * signature).
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/store.h>

#include <estkit/pki.h>

enum estkit_status estkit_key_load_uri(const char *uri, const char *propq, EVP_PKEY **out)
{
	OSSL_STORE_CTX *st = NULL;
	OSSL_STORE_INFO *info = NULL;
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	if (out != NULL)
		*out = NULL;
	if (uri == NULL || out == NULL || uri[0] == '\0')
		return ESTKIT_EINVAL;
	st = OSSL_STORE_open_ex(uri, NULL, propq, NULL, NULL, NULL, NULL, NULL);
	if (st == NULL)
		return ESTKIT_ENOTFOUND;
	/* only private keys: a store may also hold certificates */
	if (OSSL_STORE_expect(st, OSSL_STORE_INFO_PKEY) != 1) {
		rc = ESTKIT_ECRYPTO;
		goto out;
	}
	while (*out == NULL && !OSSL_STORE_eof(st)) {
		info = OSSL_STORE_load(st);
		if (info == NULL) {
			if (OSSL_STORE_error(st))
				rc = ESTKIT_EPARSE;
			break;
		}
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			*out = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	if (*out != NULL)
		rc = ESTKIT_OK;
out:
	OSSL_STORE_close(st);
	return rc;
}
