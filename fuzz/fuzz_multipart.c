/*
 * fuzz_multipart.c - estkit_multipart_parse() (RFC 2046 multipart/mixed, the
 * RFC 7030 4.4.2 /serverkeygen response). Input: the Content-Type header
 * value, a '\n', then the body.
 */
#include <estkit/multipart.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

/* Every part must lie inside the parsed multipart's copy: walk them all. */
static void walk(const struct estkit_multipart *mp)
{
	size_t n = estkit_multipart_count(mp), sum = 0;

	for (size_t i = 0; i < n; i++) {
		const struct estkit_mime_part *p = estkit_multipart_part(mp, i);
		FZ_ASSERT(p != NULL);
		if (p->content_type != NULL)
			sum += strlen(p->content_type);
		if (p->encoding != NULL)
			sum += strlen(p->encoding);
		for (size_t j = 0; j < p->len; j++)
			sum += p->data[j];
	}
	FZ_ASSERT(estkit_multipart_part(mp, n) == NULL);
	(void)estkit_multipart_find(mp, "application/pkcs8");
	(void)estkit_multipart_find(mp, "application/pkcs7-mime");
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t clen = nl != NULL ? (size_t)(nl - data) : size;
	char *ctype = fz_strndup(data, clen);
	const uint8_t *body = nl != NULL ? nl + 1 : data + size;
	size_t blen = size - (size_t)(body - data);
	struct estkit_multipart *mp = NULL;

	if (estkit_multipart_parse(ctype, body, blen, &mp) == ESTKIT_OK) {
		FZ_ASSERT(mp != NULL);
		walk(mp);
		estkit_multipart_free(mp);
	} else {
		FZ_ASSERT(mp == NULL);
	}
	free(ctype);
	ERR_clear_error();
	return 0;
}
