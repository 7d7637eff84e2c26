/*
 * fuzz_b64.c - estkit_b64_decode() on arbitrary text, and the round-trip
 * property decode(encode(x)) == x on arbitrary bytes.
 */
#include <estkit/pki.h>
#include "fuzz_common.h"

/*
 * Property: whatever bytes go in come back out of encode then decode (empty
 * input is excluded: its encoding decodes to ESTKIT_EPARSE by contract).
 */
static void round_trip(const uint8_t *data, size_t size)
{
	char *enc = NULL;
	unsigned char *dec = NULL;
	size_t enclen = 0, declen = 0;

	FZ_ASSERT(estkit_b64_encode(data, size, &enc, &enclen) == ESTKIT_OK);
	FZ_ASSERT(enclen == strlen(enc));
	FZ_ASSERT(estkit_b64_decode(enc, enclen, &dec, &declen) == ESTKIT_OK);
	FZ_ASSERT(declen == size);
	FZ_ASSERT(memcmp(dec, data, size) == 0);
	estkit_free(enc);
	estkit_free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec = NULL;
	size_t declen = 0;

	if (estkit_b64_decode((const char *)data, size, &dec, &declen) == ESTKIT_OK) {
		FZ_ASSERT(dec != NULL);
		FZ_ASSERT(declen <= size);
		estkit_free(dec);
	}
	if (size > 0)
		round_trip(data, size);
	ERR_clear_error();
	return 0;
}
