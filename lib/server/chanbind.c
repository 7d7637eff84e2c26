/*
 * chanbind.c - linking identity and proof of possession (RFC 7030 3.5) on the
 * job side: the CSR carries the TLS channel binding of the connection it was
 * posted on, in the RFC 7894 estIdentityLinking attribute or (RFC 7030 3.5)
 * in challengePassword; the value was taken on the event loop when the
 * request arrived. Also picks up the RFC 7894 otpChallenge for the backend.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

/* The binding the CSR carries: estIdentityLinking first, then challengePassword. */
static int csr_binding(struct estkit_request *r, char **val, int *linking)
{
	enum estkit_status st = estkit_csr_get_attr(r->csr, ESTKIT_ATTR_EST_IDENTITY_LINKING, val);

	*linking = 1;
	if (st == ESTKIT_ENOTFOUND) {
		*linking = 0;
		st = estkit_csr_get_attr(r->csr, ESTKIT_ATTR_CHALLENGE_PASSWORD, val);
	}
	if (st == ESTKIT_OK || st == ESTKIT_ENOTFOUND)
		return 0;
	ek_request_set(r, 400, "malformed %s attribute",
		       *linking ? "estIdentityLinking" : "challengePassword");
	return -1;
}

static int otp_attr(struct estkit_request *r)
{
	enum estkit_status st = estkit_csr_get_attr(r->csr, ESTKIT_ATTR_OTP_CHALLENGE, &r->otp);

	if (st == ESTKIT_OK || st == ESTKIT_ENOTFOUND)
		return 0;
	ek_request_set(r, 400, "malformed otpChallenge attribute");
	return -1;
}

/* See server_internal.h. */
int ek_chanbind_check(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	char *val = NULL;
	int linking = 0, required = 0, rc = -1;
	size_t n = strlen(r->chanbind);

	if (otp_attr(r) != 0 || csr_binding(r, &val, &linking) != 0)
		goto out;
	/* RFC 7030 3.7: an RA verified the binding on its own client's connection */
	if (be->is_ra != NULL && be->is_ra(be->ctx, r) == 1) {
		rc = 0;
		goto out;
	}
	required = be->require_channel_binding != NULL &&
		   be->require_channel_binding(be->ctx, r->label) == 1;
	if (val != NULL && n > 0 && strlen(val) == n && CRYPTO_memcmp(val, r->chanbind, n) == 0)
		r->chanbind_ok = 1;
	if (r->chanbind_ok || !required) {
		/*
		 * Not required: estIdentityLinking exists only to carry the binding,
		 * so a wrong one is refused; a challengePassword may be a password
		 * meant for the backend and is left to it.
		 */
		if (!r->chanbind_ok && linking)
			goto mismatch;
		rc = 0;
		goto out;
	}
	if (val == NULL) {
		/* RFC 7030 3.5: say that linking identity and POP is required */
		ek_request_set(r, 400, "channel binding required: put the TLS channel binding "
				       "in challengePassword or estIdentityLinking");
		goto out;
	}
	if (n == 0) {
		ek_request_set(r, 400, "channel binding unavailable on this TLS connection "
				       "(TLS 1.2 without extended master secret)");
		goto out;
	}
mismatch:
	ek_request_set(r, 403, "channel binding does not match this TLS connection");
out:
	ERR_clear_error();
	if (val != NULL)
		OPENSSL_clear_free(val, strlen(val));
	return rc;
}

/* See estkit/server.h. */
const char *estkit_request_channel_binding(const struct estkit_request *req)
{
	return req->chanbind[0] != '\0' ? req->chanbind : NULL;
}

/* See estkit/server.h. */
int estkit_request_channel_bound(const struct estkit_request *req)
{
	return req->chanbind_ok;
}

/* See estkit/server.h. */
const char *estkit_request_otp(const struct estkit_request *req)
{
	return req->otp;
}
