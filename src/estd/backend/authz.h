/*
 * backend/authz.h - estd's authorization stage (estkit_backend.authorize):
 * the label's enrollment policy (policy.h) for every request, and one-time
 * enrollment tokens (token.h) for clients without other credentials.
 */
#ifndef ESTD_BACKEND_AUTHZ_H
#define ESTD_BACKEND_AUTHZ_H

#include <estkit/server.h>

/* The HTTP Basic user name whose password is a one-time token. */
#define ESTD_TOKEN_BASIC_USER "token"

/* estkit_backend.authorize; ctx is the struct estd_backend_ca. */
enum estkit_status estd_authz_authorize(void *ctx, struct estkit_request *req, X509_REQ *csr);

/* estkit_backend.authorize_done: gives back or finalises a claimed token. */
void estd_authz_done(void *ctx, struct estkit_request *req, int http_status);

#endif /* ESTD_BACKEND_AUTHZ_H */
