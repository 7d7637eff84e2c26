/*
 * backend/authz.c - estd's authorization stage, run by libestkit right
 * before fulfilment (estkit_backend.authorize) whatever backend fulfils the
 * label: the label's enrollment policy for every request (policy.h), and
 * one-time tokens (token.h) for clients that came without credentials.
 *
 * A token is claimed here (one atomic store update: of concurrent requests
 * and nodes exactly one wins) before the certificate is issued, and given
 * back in authorize_done only when nothing was issued (a 4xx refusal, or
 * 202 while an operator decides); after a 5xx it stays used, because a
 * certificate may have been recorded.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "backend/authz.h"
#include "backend/ca.h"
#include "backend/cmc.h"
#include "backend/snapshot.h"
#include "policy.h"
#include "token.h"

#define TOKEN_PREFIX "token:"

/* Verifies and claims the one-time token of an unauthenticated request. */
static enum estkit_status token_claim(struct estd_backend_ca *b, struct estkit_request *req,
				      X509_REQ *csr, char *reason, size_t len)
{
	struct estd_store *st = estd_backend_ca_store(b);
	struct estd_token_record *t = NULL;
	const char *otp = estkit_request_otp(req);
	char id[ESTD_TOKEN_ID_LEN + 1], ident[64], by[160];
	enum estkit_status rc = ESTKIT_EAUTH;

	snprintf(reason, len, "authentication required");
	if (otp == NULL || estd_token_parse(otp, id) != 0 ||
	    estd_store_token_get(st, id, &t) != ESTKIT_OK || !estd_token_verify(otp, t->hash))
		goto out; /* unknown or wrong: 401, nothing more said */
	rc = ESTKIT_EFORBIDDEN;
	if (strcmp(t->label, estkit_request_label(req)) != 0) {
		snprintf(reason, len, "token %s is for another label", id);
		goto out;
	}
	if (t->revoked_at != 0 || t->used_at != 0 || t->expires_at <= (long long)time(NULL)) {
		snprintf(reason, len, "token %s is %s", id, t->revoked_at ? "revoked" :
			 t->used_at ? "already used" : "expired");
		goto out;
	}
	if (estd_token_check_csr(t, csr, reason, len) != 0) {
		size_t n = strlen(reason);

		/* "token ID: why" so the log names the token */
		if (n + ESTD_TOKEN_ID_LEN + 9 < len) {
			memmove(reason + ESTD_TOKEN_ID_LEN + 8, reason, n + 1);
			memcpy(reason, "token ", 6);
			memcpy(reason + 6, id, ESTD_TOKEN_ID_LEN);
			memcpy(reason + 6 + ESTD_TOKEN_ID_LEN, ": ", 2);
		}
		goto out;
	}
	snprintf(by, sizeof(by), "peer %s", estkit_request_peer_addr(req));
	rc = estd_store_token_claim(st, id, (long long)time(NULL), by);
	if (rc == ESTKIT_EEXIST) {
		snprintf(reason, len, "token %s is already used", id);
		rc = ESTKIT_EFORBIDDEN;
		goto out;
	}
	if (rc != ESTKIT_OK) {
		snprintf(reason, len, "token store unavailable");
		goto out;
	}
	snprintf(ident, sizeof(ident), TOKEN_PREFIX "%s", id);
	rc = estkit_request_set_identity(req, ident);
	if (rc != ESTKIT_OK && estd_store_token_release(st, id) != ESTKIT_OK)
		snprintf(reason, len, "out of memory");
out:
	estd_token_record_free(t);
	return rc;
}

static int http_status_of(enum estkit_status rc)
{
	return rc == ESTKIT_EAUTH ? 401 : rc == ESTKIT_EFORBIDDEN || rc == ESTKIT_EPOLICY ? 403
									      : 503;
}

/* See backend/authz.h. */
enum estkit_status estd_authz_authorize(void *ctx, struct estkit_request *req, X509_REQ *csr)
{
	struct estd_backend_ca *b = ctx;
	struct estd_snapshot *s = estd_backend_ca_snapshot(b);
	const struct estd_label *lab = estd_config_label(s->cfg, estkit_request_label(req));
	struct estd_policy_who who = {estkit_request_user(req), estkit_request_peer_cert(req), 0,
				      0};
	enum estkit_status rc = ESTKIT_ENOTFOUND;
	char reason[320];

	snprintf(reason, sizeof(reason), "unknown label");
	if (lab == NULL)
		goto out;
	who.renewal = estkit_request_op(req) == ESTKIT_OP_SIMPLEREENROLL && who.cert != NULL;
	if (who.user == NULL && who.cert == NULL) {
		rc = token_claim(b, req, csr, reason, sizeof(reason));
		if (rc != ESTKIT_OK)
			goto out;
		who.token = 1;
	}
	rc = ESTKIT_OK;
	if (estd_policy_check(lab->policy, &who, csr, reason, sizeof(reason)) != 0) {
		rc = ESTKIT_EPOLICY;
		if (who.token)
			estd_authz_done(b, req, 403); /* give the token back */
	}
out:
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(b, rc == ESTKIT_EAUTH ? ESTKIT_LOG_INFO : ESTKIT_LOG_WARN,
				    "authorization refused identity=%s label=%s peer=%s reason=%s",
				    estkit_request_identity(req),
				    estkit_request_label(req)[0] != '\0' ? estkit_request_label(req) : "-",
				    estkit_request_peer_addr(req), reason);
		estkit_request_fail(req, rc == ESTKIT_ENOTFOUND ? 404 : http_status_of(rc), "%s",
				    reason);
	}
	estd_snapshot_release(s);
	return rc;
}

/* See backend/authz.h. */
void estd_authz_done(void *ctx, struct estkit_request *req, int http_status)
{
	struct estd_backend_ca *b = ctx;
	struct estd_store *st = estd_backend_ca_store(b);
	const char *ident = estkit_request_identity(req);
	const char *id = ident + strlen(TOKEN_PREFIX);
	const char *serial = estkit_request_serial(req);
	enum estkit_status rc = ESTKIT_OK;

	if (strncmp(ident, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return;
	if (http_status == 200 && serial != NULL)
		rc = estd_store_token_set_serial(st, id, serial);
	else if (http_status == 202 || (http_status >= 400 && http_status < 500))
		rc = estd_store_token_release(st, id);
	if (rc != ESTKIT_OK)
		estd_backend_ca_log(b, ESTKIT_LOG_ERROR, "token %s: store update failed: %s", id,
				    estd_store_errmsg(st));
}
