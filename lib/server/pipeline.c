/*
 * pipeline.c - the job-pool side of a request: authenticate (Basic, whose
 * crypt(3) check is slow by design and so never runs on an event loop),
 * decode and verify the CSR, apply the re-enrollment rules of RFC 7030 4.2.2,
 * call the backend and encode its answer. Runs on a job thread and never
 * touches evhttp: everything it needs was copied into the request.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

/* Every name of a is in b. */
static int names_subset(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	int i, j, na = sk_GENERAL_NAME_num(a), nb = sk_GENERAL_NAME_num(b);

	/* an absent extension is the empty set (sk_num(NULL) is -1) */
	if (na < 0)
		na = 0;
	if (nb < 0)
		nb = 0;

	for (i = 0; i < na; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(a, i);
		for (j = 0; j < nb; j++)
			if (GENERAL_NAME_cmp(g, sk_GENERAL_NAME_value(b, j)) == 0)
				break;
		if (j == nb)
			return 0;
	}
	return 1;
}

/* RFC 7030 4.2.2: the CSR's subjectAltName set equals the certificate's. */
static int sans_equal(X509_REQ *csr, X509 *cert)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *a = NULL, *b = NULL;
	int eq = 0;

	if (exts != NULL)
		a = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	b = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	eq = names_subset(a, b) && names_subset(b, a);
	GENERAL_NAMES_free(a);
	GENERAL_NAMES_free(b);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return eq;
}

/* 1 when authz uses the auth-scheme name (case-insensitive, RFC 7235 2.1). */
static int scheme_is(const char *authz, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(authz, name, n) == 0 && (authz[n] == ' ' || authz[n] == '\t');
}

/*
 * HTTP Basic (RFC 7617) or Digest (RFC 7616) through the backend, each only
 * when enabled. 0 when authenticated or not asked.
 */
static int authenticate(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	unsigned methods = r->srv->cfg.auth_methods;
	char *user = NULL, *pass = NULL;
	int ok = 0;

	if (r->authz == NULL) {
		if (r->peer_cert != NULL || r->user != NULL) /* a certificate or an SRP login */
			return 0;
		/* RFC 7894: the CSR's otpChallenge may authenticate it (ek_authorize_run) */
		r->otp_pending = ek_authorize_otp_possible(r);
		return r->otp_pending ? 0 : -1;
	}
	if (r->srv->digest != NULL && scheme_is(r->authz, "Digest")) {
		ok = ek_digest_authenticate(r, &user) == 0;
	} else if ((methods & ESTKIT_AUTH_BASIC) && scheme_is(r->authz, "Basic") &&
		   ek_route_parse_basic(r->authz, &user, &pass) == 0) {
		if (ek_authorize_take_basic_otp(r, user, &pass)) {
			OPENSSL_free(user);
			return 0;
		}
		ok = be->check_basic != NULL && be->check_basic(be->ctx, r->label, user, pass) == 1;
	}
	if (ok) {
		size_t n = strlen(user) + sizeof("user:");
		r->identity = OPENSSL_realloc(r->identity, n);
		if (r->identity != NULL)
			snprintf(r->identity, n, "user:%s", user);
		OPENSSL_free(r->user); /* the HTTP user names the request, as over a certificate */
		r->user = user;
		user = NULL;
	}
	OPENSSL_free(user);
	if (pass != NULL)
		OPENSSL_clear_free(pass, strlen(pass));
	return ok && r->identity != NULL ? 0 : -1;
}

/*
 * 1 when the request carries HTTP Basic credentials of the one-time-token
 * user name. A device holding a token (RFC 7894) sends them wherever it is
 * challenged or sends them first, but a token authenticates only an initial
 * enrollment, where it is consumed: elsewhere (/csrattrs) the request is
 * anonymous, not a failed login counted against the peer.
 */
static int basic_is_otp_user(const struct estkit_request *r)
{
	const char *otp_user = r->srv->otp_basic_user;
	char *user = NULL, *pass = NULL;
	int is = 0;

	if (otp_user == NULL || r->authz == NULL ||
	    !(r->srv->cfg.auth_methods & ESTKIT_AUTH_BASIC) || !scheme_is(r->authz, "Basic") ||
	    ek_route_parse_basic(r->authz, &user, &pass) != 0)
		return 0;
	is = strcmp(user, otp_user) == 0;
	OPENSSL_free(user);
	if (pass != NULL)
		OPENSSL_clear_free(pass, strlen(pass));
	return is;
}

/* 401 with a challenge, or 503 (no failed attempt) when credentials cannot be checked now. */
static void auth_refused(struct estkit_request *r)
{
	if (r->auth_unavailable) {
		ek_request_set(r, 503, "cannot check credentials now, retry later");
		return;
	}
	ek_authfail_reject(r); /* 401 with a challenge, counted against the peer */
}

/* base64 -> DER PKCS#10 -> self-signature (RFC 7030 4.2.1, RFC 8951). */
static int decode_csr(struct estkit_request *r)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int rc = -1;

	if (estkit_b64_decode((const char *)r->body, r->bodylen, &der, &derlen) != ESTKIT_OK) {
		ek_request_set(r, 400, "malformed base64");
		goto out;
	}
	if (estkit_csr_decode(der, derlen, &r->csr) != ESTKIT_OK) {
		ek_request_set(r, 400, "malformed PKCS#10");
		goto out;
	}
	if (estkit_csr_verify(r->csr) != ESTKIT_OK) {
		ek_request_set(r, 400, "CSR signature does not verify");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	estkit_free(der);
	return rc;
}

/* RFC 7030 4.2.2: re-enrollment renews the certificate the client holds. */
static int reenroll_rules(struct estkit_request *r)
{
	if (r->peer_cert == NULL)
		return 0; /* allowed only when reenroll_requires_cert is off */
	if (X509_NAME_cmp(X509_REQ_get_subject_name(r->csr),
			  X509_get_subject_name(r->peer_cert)) != 0) {
		ek_request_set(r, 400, "subject does not match the certificate being renewed");
		return -1;
	}
	if (!sans_equal(r->csr, r->peer_cert)) {
		ek_request_set(r, 400,
			       "subjectAltName does not match the certificate being renewed");
		return -1;
	}
	return 0;
}

/* certs -> base64 certs-only PKCS#7 in r->resp_body (RFC 7030 4.1.3, 4.2.3). */
static int encode_certs(struct estkit_request *r, STACK_OF(X509) *certs)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int rc = -1;

	if (estkit_pkcs7_certs_encode(certs, &der, &derlen) != ESTKIT_OK ||
	    estkit_b64_encode(der, derlen, &r->resp_body, &r->resp_len) != ESTKIT_OK)
		goto out;
	if (r->op != ESTKIT_OP_CACERTS && r->serial[0] == '\0') {
		char *hex = NULL;
		if (estkit_cert_serial_hex(sk_X509_value(certs, 0), &hex) == ESTKIT_OK)
			estkit_request_set_serial(r, hex);
		estkit_free(hex);
	}
	rc = 0;
out:
	estkit_free(der);
	return rc;
}

/* See server_internal.h. */
void ek_pipeline_result(struct estkit_request *r, enum estkit_status st, STACK_OF(X509) *certs)
{
	const char *what = estkit_op_name(r->op);

	if (st == ESTKIT_OK && sk_X509_num(certs) > 0 && encode_certs(r, certs) == 0) {
		r->status = 200;
	} else if (st == ESTKIT_OK) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "%s: backend returned no usable certificates",
			      what);
		ek_request_set(r, 500, "internal error");
	} else if (st == ESTKIT_EPENDING) {
		ek_request_set(r, 202, "request accepted, retry later");
	} else if (st == ESTKIT_EBUSY) {
		if (!r->failed || r->status != 503)
			ek_request_set(r, 503, "temporarily unavailable");
	} else if (!r->failed) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "%s: backend failed without a reason: %s",
			      what, estkit_strerror(st));
		ek_request_set(r, 500, "internal error");
	}
	OSSL_STACK_OF_X509_free(certs);
}

static void run_enroll(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status st;

	if (authenticate(r) != 0) {
		auth_refused(r);
		return;
	}
	if (r->op == ESTKIT_OP_FULLCMC) {
		ek_fullcmc_run(r);
		return;
	}
	if (r->op == ESTKIT_OP_SIMPLEREENROLL && r->peer_cert == NULL &&
	    r->srv->cfg.reenroll_requires_cert) {
		ek_request_set(r, 403, "re-enrollment requires the certificate being renewed as "
				       "TLS client certificate");
		return;
	}
	if (decode_csr(r) != 0 || ek_chanbind_check(r) != 0) {
		/* an anonymous client learns nothing about its request */
		if (r->otp_pending && r->otp_http == NULL) {
			r->want_auth = 1;
			ek_request_set(r, 401, "authentication required");
		}
		return;
	}
	if (r->op == ESTKIT_OP_SIMPLEREENROLL && reenroll_rules(r) != 0)
		return;
	if (ek_authorize_run(r) != 0)
		return;
	if (r->op == ESTKIT_OP_SERVERKEYGEN) {
		ek_serverkeygen_run(r); /* RFC 7030 4.4.1: treated as any enroll CSR */
	} else {
		st = be->enroll(be->ctx, r, r->csr, &certs);
		ek_pipeline_result(r, st, certs);
	}
	ek_authorize_done(r);
}

/* RFC 7030 4.5.2: 200 with base64 DER CsrAttrs, or 204 when there are none. */
static void run_csrattrs(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	unsigned char *der = NULL;
	size_t len = 0;
	enum estkit_status st;

	if (r->authz != NULL && !basic_is_otp_user(r) && authenticate(r) != 0) {
		auth_refused(r);
		return;
	}
	st = be->csrattrs(be->ctx, r, &der, &len);
	if (st == ESTKIT_OK && (der == NULL || len == 0)) {
		r->status = 204;
	} else if (st == ESTKIT_OK) {
		if (estkit_b64_encode(der, len, &r->resp_body, &r->resp_len) == ESTKIT_OK) {
			r->resp_ctype = "application/csrattrs";
			r->status = 200;
		} else {
			ek_request_set(r, 500, "internal error");
		}
	} else if (st == ESTKIT_EAUTH) {
		r->want_auth = 1;
		ek_request_set(r, 401, "authentication required");
	} else {
		ek_pipeline_result(r, st, NULL);
	}
	OPENSSL_free(der);
}

/* See server_internal.h. */
void ek_pipeline_run(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status st;

	if (r->op == ESTKIT_OP_CACERTS) {
		st = be->cacerts(be->ctx, r, &certs);
		ek_pipeline_result(r, st, certs);
	} else if (r->op == ESTKIT_OP_CSRATTRS) {
		run_csrattrs(r);
	} else {
		run_enroll(r);
	}
	/* the password and the request are no longer needed; wipe early */
	if (r->authz != NULL) {
		OPENSSL_clear_free(r->authz, strlen(r->authz));
		r->authz = NULL;
	}
}
