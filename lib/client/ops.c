/*
 * ops.c - the EST operations: /cacerts (verified and bootstrap),
 * /simpleenroll and /simplereenroll (RFC 7030 4.1, 4.2).
 */
#include <string.h>

#include <openssl/err.h>

#include "client/client_internal.h"

/* A 200 answer must be application/pkcs7-mime certs-only (RFC 7030 4.1.3, 4.2.3). */
static enum estkit_status certs_response(struct estkit_client *c, const char *op,
                                         const struct ek_response *r, STACK_OF(X509) * *out)
{
	enum estkit_status rc = ESTKIT_EINTERNAL;

	if (r->status != 200)
		return ek_client_http_error(c, op, r);
	if (!ek_client_media_type_is(r->content_type, "application/pkcs7-mime"))
		return ek_client_fail(
		    c, ESTKIT_EPROTO,
		    "unexpected Content-Type \"%s\" from /%s (want application/pkcs7-mime)",
		    r->content_type, op);
	rc = ek_client_decode_certs(r->body, r->bodylen, out);
	ERR_clear_error();
	if (rc == ESTKIT_ETOOBIG)
		return ek_client_fail(c, rc, "response from /%s too large", op);
	if (rc != ESTKIT_OK)
		return ek_client_fail(c, ESTKIT_EPROTO,
		                      "malformed certs-only response from /%s: %s", op,
		                      estkit_strerror(rc));
	return ESTKIT_OK;
}

enum estkit_status estkit_client_cacerts(struct estkit_client *c, STACK_OF(X509) * *out)
{
	struct ek_response r;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL)
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	rc = ek_client_perform(c, "cacerts", NULL, NULL, 0, &r);
	if (rc == ESTKIT_OK)
		rc = certs_response(c, "cacerts", &r, out);
	ek_response_clear(&r);
	return rc;
}

enum estkit_status estkit_client_cacerts_bootstrap(struct estkit_client *c, const char *fingerprint,
                                                   STACK_OF(X509) * *out)
{
	struct ek_response r;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || fingerprint == NULL || fingerprint[0] == '\0')
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	rc = ek_client_perform(c, "cacerts", NULL, NULL, 1, &r);
	if (rc != ESTKIT_OK)
		goto out;
	rc = certs_response(c, "cacerts", &r, &certs);
	if (rc != ESTKIT_OK)
		goto out;
	rc = ek_client_bootstrap_check(c, certs, r.peer_chain, fingerprint);
	if (rc != ESTKIT_OK)
		goto out;
	*out = certs;
	certs = NULL;
	rc = ESTKIT_OK;
out:
	ek_certs_free(certs);
	ek_response_clear(&r);
	return rc;
}

/* POST the base64 of the DER request (RFC 7030 4.2.1, RFC 8951). */
static enum estkit_status enroll(struct estkit_client *c, const char *op, X509_REQ *csr,
                                 STACK_OF(X509) * *out)
{
	struct ek_response r;
	unsigned char *der = NULL;
	size_t derlen = 0;
	char *b64 = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || csr == NULL || out == NULL)
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	memset(&r, 0, sizeof(r));
	rc = ek_client_csr_b64(c, csr, &der, &derlen, &b64);
	if (rc != ESTKIT_OK)
		goto out;
	rc = ek_client_perform(c, op, "application/pkcs10", b64, 0, &r);
	if (rc == ESTKIT_OK)
		rc = certs_response(c, op, &r, out);
out:
	estkit_client_channel_unpin(c); /* a pin covers one enrollment (chanbind.c) */
	estkit_free(der);
	estkit_free(b64);
	ek_response_clear(&r);
	return rc;
}

enum estkit_status estkit_client_simpleenroll(struct estkit_client *c, X509_REQ *csr,
                                              STACK_OF(X509) * *out)
{
	return enroll(c, "simpleenroll", csr, out);
}

enum estkit_status estkit_client_simplereenroll(struct estkit_client *c, X509_REQ *csr,
                                                STACK_OF(X509) * *out)
{
	return enroll(c, "simplereenroll", csr, out);
}
