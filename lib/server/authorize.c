/*
 * authorize.c - the authorization stage of an enrollment (job side): the
 * one-time password an unauthenticated initial enrollment may carry (RFC
 * 7894 otpChallenge, or HTTP Basic with the configured OTP user name), and
 * the backend's authorize / authorize_done callbacks around fulfilment.
 */
#include <string.h>
#include <openssl/crypto.h>
#include "server/server_internal.h"

/* See server_internal.h. */
int ek_authorize_otp_possible(const struct estkit_request *r)
{
	/* RFC 7894 3: otpChallenge is for initial enrollment, not renewal or CMC */
	return r->srv->backend.authorize != NULL &&
	       (r->op == ESTKIT_OP_SIMPLEENROLL || r->op == ESTKIT_OP_SERVERKEYGEN);
}

/* See server_internal.h. */
int ek_authorize_take_basic_otp(struct estkit_request *r, const char *user, char **pass)
{
	const char *otp_user = r->srv->otp_basic_user;

	if (otp_user == NULL || strcmp(user, otp_user) != 0 || !ek_authorize_otp_possible(r))
		return 0;
	if (r->otp_http != NULL)
		OPENSSL_clear_free(r->otp_http, strlen(r->otp_http));
	r->otp_http = *pass;
	*pass = NULL;
	r->otp_pending = r->peer_cert == NULL && r->user == NULL;
	return 1;
}

/* Both places carry a password: they must be the same one. */
static int otp_consistent(const struct estkit_request *r)
{
	size_t n;

	if (r->otp == NULL || r->otp_http == NULL)
		return 1;
	n = strlen(r->otp);
	return strlen(r->otp_http) == n && CRYPTO_memcmp(r->otp, r->otp_http, n) == 0;
}

/* See server_internal.h. */
int ek_authorize_run(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	enum estkit_status st;

	if (be->authorize == NULL)
		return 0;
	if (!otp_consistent(r)) {
		ek_request_set(r, 400, "otpChallenge and the HTTP one-time password differ");
		return -1;
	}
	if (r->otp_pending && r->otp == NULL && r->otp_http == NULL) {
		r->want_auth = 1;
		ek_request_set(r, 401, "authentication required");
		return -1;
	}
	st = be->authorize(be->ctx, r, r->csr);
	if (st == ESTKIT_OK && r->otp_pending && r->identity == NULL) {
		/* the backend let an unauthenticated request through without naming it */
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "authorize accepted an anonymous request");
		st = ESTKIT_EAUTH;
		ek_request_set(r, 401, "authentication required");
	}
	if (st == ESTKIT_OK) {
		r->authorized = 1;
		return 0;
	}
	if (!r->failed && r->status < 400)
		ek_request_set(r, 403, "not authorized");
	if (r->status == 401)
		r->want_auth = 1;
	return -1;
}

/* See server_internal.h. */
void ek_authorize_done(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;

	if (r->authorized && be->authorize_done != NULL)
		be->authorize_done(be->ctx, r, r->status);
}

/* See estkit/server.h. */
const char *estkit_request_otp(const struct estkit_request *req)
{
	return req->otp != NULL ? req->otp : req->otp_http;
}

/* See estkit/server.h. */
enum estkit_status estkit_request_set_identity(struct estkit_request *req, const char *identity)
{
	char *copy = NULL;

	if (req == NULL || identity == NULL || *identity == '\0')
		return ESTKIT_EINVAL;
	if ((copy = OPENSSL_strdup(identity)) == NULL)
		return ESTKIT_ENOMEM;
	OPENSSL_free(req->identity);
	req->identity = copy;
	return ESTKIT_OK;
}

/* See estkit/server.h. */
const char *estkit_request_serial(const struct estkit_request *req)
{
	return req->serial[0] != '\0' ? req->serial : NULL;
}
