/*
 * fuzz_name.c - estkit_name_parse(): subject strings as given to
 * `est enroll --subject` and profile templates ("/CN=x/O=y" or "CN=x,O=y").
 */
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_strndup(data, size);
	X509_NAME *name = NULL;
	char *line = NULL;

	if (estkit_name_parse(s, &name) == ESTKIT_OK) {
		FZ_ASSERT(name != NULL);
		if (estkit_name_oneline(name, &line) == ESTKIT_OK)
			estkit_free(line);
		X509_NAME_free(name);
	}
	free(s);
	ERR_clear_error();
	return 0;
}
