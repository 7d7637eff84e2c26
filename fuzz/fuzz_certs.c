/*
 * fuzz_certs.c - estkit_certs_parse(): PEM bundles, DER certificates,
 * PKCS#7 certs-only (DER, PEM or base64), as the loaders sniff them.
 */
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;

	if (estkit_certs_parse(data, size, &certs) == ESTKIT_OK) {
		FZ_ASSERT(certs != NULL);
		for (int i = 0; i < sk_X509_num(certs); i++) {
			char *sans = NULL;
			if (estkit_cert_sans(sk_X509_value(certs, i), &sans) == ESTKIT_OK)
				estkit_free(sans);
		}
		OSSL_STACK_OF_X509_free(certs);
	}
	ERR_clear_error();
	return 0;
}
