/*
 * fuzz_csr.c - estkit_csr_decode() of a PKCS#10 request (DER, RFC 7030
 * 4.2.1), then what the server does with it: verify the self-signature,
 * describe the key, list the subjectAltNames, print the subject.
 */
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

/* The inspection the enrollment path applies to a request that decoded. */
static void inspect(X509_REQ *csr)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	const char *type = NULL, *curve = NULL;
	char *sans = NULL, *subject = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;
	int bits = 0;

	(void)estkit_csr_verify(csr);
	if (pub != NULL)
		(void)estkit_key_describe(pub, &type, &bits, &curve);
	if (estkit_csr_sans(csr, &sans) == ESTKIT_OK)
		estkit_free(sans);
	if (estkit_name_oneline(X509_REQ_get_subject_name(csr), &subject) == ESTKIT_OK)
		estkit_free(subject);
	if (estkit_csr_encode(csr, &der, &derlen) == ESTKIT_OK)
		estkit_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *csr = NULL;

	if (estkit_csr_decode(data, size, &csr) == ESTKIT_OK) {
		FZ_ASSERT(csr != NULL);
		inspect(csr);
		X509_REQ_free(csr);
	}
	ERR_clear_error();
	return 0;
}
