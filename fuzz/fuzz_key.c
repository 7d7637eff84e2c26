/*
 * fuzz_key.c - private key loading from memory (ek_key_parse(), the buffer
 * behind estkit_key_load()): PEM, DER PKCS#8/traditional, base64 of DER.
 */
#include <openssl/evp.h>
#include <estkit/pki.h>
#include "pki/pki_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *key = NULL;
	const char *type = NULL, *curve = NULL;
	int bits = 0;

	if (size == 0)
		return 0;
	key = ek_key_parse(data, size);
	if (key != NULL) {
		(void)estkit_key_describe(key, &type, &bits, &curve);
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return 0;
}
