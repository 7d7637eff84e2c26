/*
 * fuzz_pkcs7.c - estkit_pkcs7_certs_decode() on DER (RFC 7030 4.1.3
 * certs-only responses); what decodes must encode again.
 */
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;

	if (estkit_pkcs7_certs_decode(data, size, &certs) == ESTKIT_OK) {
		FZ_ASSERT(certs != NULL);
		if (estkit_pkcs7_certs_encode(certs, &der, &derlen) == ESTKIT_OK)
			estkit_free(der);
		OSSL_STACK_OF_X509_free(certs);
	}
	ERR_clear_error();
	return 0;
}
