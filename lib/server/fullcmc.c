/*
 * fullcmc.c - the job side of /fullcmc (RFC 7030 4.3): base64 body -> DER,
 * the backend's fullcmc callback, and the base64 CMC-response answer, which
 * RFC 7030 4.3.2 wants for rejections (4xx/5xx) as well as for success.
 */
#include <openssl/crypto.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

#define CMC_RESPONSE_TYPE "application/pkcs7-mime; smime-type=CMC-response"

/* See server_internal.h. */
void ek_fullcmc_run(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	unsigned char *der = NULL, *out = NULL;
	size_t derlen = 0, outlen = 0;
	enum estkit_status st;

	if (estkit_b64_decode((const char *)r->body, r->bodylen, &der, &derlen) != ESTKIT_OK) {
		ek_request_set(r, 400, "malformed base64");
		goto out;
	}
	st = be->fullcmc(be->ctx, r, der, derlen, &out, &outlen);
	if (out != NULL) {
		if (estkit_b64_encode(out, outlen, &r->resp_body, &r->resp_len) != ESTKIT_OK) {
			ek_request_set(r, 500, "internal error");
			goto out;
		}
		r->resp_ctype = CMC_RESPONSE_TYPE;
	}
	if (st == ESTKIT_OK && out != NULL) {
		r->status = 200;
	} else if (st == ESTKIT_OK || !r->failed) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "fullcmc: backend failed without a reason: %s",
			      estkit_strerror(st));
		r->resp_ctype = NULL;
		ek_request_set(r, 500, "internal error");
	}
out:
	OPENSSL_free(out);
	estkit_free(der);
}
