/*
 * fullcmc.c - POST /fullcmc (RFC 7030 4.3): a CMC request out, the CMC
 * response back, for a success (200) as for a rejection (4xx/5xx with a
 * CMC-response body, RFC 7030 4.3.2).
 */
#include <string.h>
#include <openssl/err.h>
#include "client/client_internal.h"

#define CMC_REQUEST_TYPE "application/pkcs7-mime; smime-type=CMC-request"

/* A CMC-response body (base64 or DER) into *out. */
static enum estkit_status cmc_body(struct estkit_client *c, const struct ek_response *r,
				   unsigned char **out, size_t *outlen)
{
	enum estkit_status rc;

	if (!ek_client_media_type_is(r->content_type, "application/pkcs7-mime"))
		return ek_client_fail(c, ESTKIT_EPROTO,
				      "unexpected Content-Type \"%s\" from /fullcmc",
				      r->content_type);
	rc = estkit_b64_decode((const char *)r->body, r->bodylen, out, outlen);
	if (rc != ESTKIT_OK)
		return ek_client_fail(c, ESTKIT_EPROTO, "malformed base64 in the CMC response");
	return ESTKIT_OK;
}

/* See estkit/client.h. */
enum estkit_status estkit_client_fullcmc(struct estkit_client *c, const unsigned char *der,
					 size_t len, unsigned char **out, size_t *outlen)
{
	struct ek_response r;
	char *b64 = NULL;
	enum estkit_status rc, http;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || der == NULL || len == 0 || out == NULL || outlen == NULL)
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	memset(&r, 0, sizeof(r));
	rc = estkit_b64_encode(der, len, &b64, NULL);
	if (rc != ESTKIT_OK) {
		rc = ek_client_fail(c, rc, "cannot encode the request");
		goto out;
	}
	rc = ek_client_perform(c, "fullcmc", CMC_REQUEST_TYPE, b64, 0, &r);
	if (rc != ESTKIT_OK)
		goto out;
	if (r.status == 200) {
		rc = cmc_body(c, &r, out, outlen);
		goto out;
	}
	http = ek_client_http_error(c, "fullcmc", &r);
	/* a rejection may carry the CMC response that says why */
	if (ek_client_media_type_is(r.content_type, "application/pkcs7-mime") &&
	    estkit_b64_decode((const char *)r.body, r.bodylen, out, outlen) != ESTKIT_OK)
		*out = NULL;
	rc = http;
out:
	ERR_clear_error();
	estkit_free(b64);
	ek_response_clear(&r);
	return rc;
}
