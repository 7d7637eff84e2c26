/*
 * csrattrs.c - GET /csrattrs (RFC 7030 4.5): base64 DER CsrAttrs, or 204
 * when the server has none.
 */
#include <string.h>

#include <openssl/err.h>
#include <estkit/csrattrs.h>

#include "client/client_internal.h"

/* Decodes a 200 body and checks its outer structure; *der is the caller's. */
static enum estkit_status csrattrs_body(struct estkit_client *c, const struct ek_response *r,
                                        unsigned char **der, size_t *len)
{
	struct estkit_csrattrs *a = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	enum estkit_status rc;

	/* RFC 7030 4.5.2: application/csrattrs */
	if (!ek_client_media_type_is(r->content_type, "application/csrattrs"))
		return ek_client_fail(c, ESTKIT_EPROTO,
		                      "unexpected Content-Type \"%s\" from /csrattrs "
		                      "(want application/csrattrs)",
		                      r->content_type);
	if (r->toobig)
		return ek_client_fail(c, ESTKIT_ETOOBIG, "response from /csrattrs too large");
	/* RFC 8951: the body is base64 of DER whatever Content-Transfer-Encoding says */
	rc = estkit_b64_decode((const char *)r->body, r->bodylen, &buf, &n);
	if (rc == ESTKIT_OK)
		rc = estkit_csrattrs_decode(buf, n, &a);
	estkit_csrattrs_free(a);
	ERR_clear_error();
	if (rc != ESTKIT_OK) {
		estkit_free(buf);
		return ek_client_fail(c, rc == ESTKIT_ETOOBIG ? rc : ESTKIT_EPROTO,
		                      "malformed CsrAttrs from /csrattrs: %s", estkit_strerror(rc));
	}
	*der = buf;
	*len = n;
	return ESTKIT_OK;
}

enum estkit_status estkit_client_csrattrs(struct estkit_client *c, unsigned char **der,
                                          size_t *len)
{
	struct ek_response r;
	enum estkit_status rc;

	if (der != NULL)
		*der = NULL;
	if (len != NULL)
		*len = 0;
	if (c == NULL || der == NULL || len == NULL)
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	rc = ek_client_perform(c, "csrattrs", NULL, NULL, 0, &r);
	if (rc == ESTKIT_OK && r.status == 204)
		rc = ESTKIT_OK; /* RFC 7030 4.5.2: no attributes */
	else if (rc == ESTKIT_OK && r.status == 200)
		rc = csrattrs_body(c, &r, der, len);
	else if (rc == ESTKIT_OK)
		rc = ek_client_http_error(c, "csrattrs", &r);
	ek_response_clear(&r);
	return rc;
}
