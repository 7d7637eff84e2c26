/*
 * fuzz_csrattrs.c - estkit_csrattrs_decode() of a DER CsrAttrs (RFC 7030
 * 4.5.2, RFC 9908), then everything a client or server does with one: check,
 * walk the items, print, interpret (wants), encode; and the property that
 * what decoded encodes and decodes again to the same number of items.
 */
#include <estkit/csrattrs.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

/* Walks every item and value as estkit_csrattrs_print() callers would. */
static void walk(const struct estkit_csrattrs *a)
{
	int n = estkit_csrattrs_count(a);

	for (int i = 0; i < n; i++) {
		int is_attr = 0;
		FZ_ASSERT(estkit_csrattrs_oid(a, i, &is_attr) != NULL);
		for (int j = 0; j < estkit_csrattrs_nvalues(a, i); j++)
			(void)estkit_csrattrs_value(a, i, j);
		(void)estkit_csrattrs_understood(a, i);
	}
}

/* Property: encode(decode(x)) decodes again, with as many items. */
static void round_trip(const struct estkit_csrattrs *a)
{
	struct estkit_csrattrs *b = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	FZ_ASSERT(estkit_csrattrs_encode(a, &der, &len) == ESTKIT_OK);
	FZ_ASSERT(estkit_csrattrs_decode(der, len, &b) == ESTKIT_OK);
	FZ_ASSERT(estkit_csrattrs_count(b) == estkit_csrattrs_count(a));
	estkit_csrattrs_free(b);
	estkit_free(der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estkit_csrattrs *a = NULL;
	struct estkit_csrattrs_wants w;
	char why[256];
	char *text = NULL;

	if (estkit_csrattrs_decode(data, size, &a) != ESTKIT_OK) {
		ERR_clear_error();
		return 0;
	}
	FZ_ASSERT(a != NULL);
	(void)estkit_csrattrs_check(a, why, sizeof(why));
	walk(a);
	if (estkit_csrattrs_print(a, &text) == ESTKIT_OK)
		estkit_free(text);
	if (estkit_csrattrs_wants(a, &w) == ESTKIT_OK)
		estkit_csrattrs_wants_clear(&w);
	round_trip(a);
	estkit_csrattrs_free(a);
	ERR_clear_error();
	return 0;
}
