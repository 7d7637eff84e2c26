/*
 * backend/cmc.h - /fullcmc for the built-in CA (RFC 7030 4.3, RFC 5272):
 * certification requests issued through the label's profile, revokeRequest
 * recorded in the store, a PKIResponse signed by the CA.
 */
#ifndef ESTD_BACKEND_CMC_H
#define ESTD_BACKEND_CMC_H

#include <stddef.h>
#include <openssl/x509.h>
#include <estkit/server.h>

#include "backend/ca.h"

/* The estkit_backend fullcmc callback; ctx is the struct estd_backend_ca. */
enum estkit_status estd_backend_cmc_fullcmc(void *ctx, struct estkit_request *req,
					    const unsigned char *der, size_t len,
					    unsigned char **out, size_t *outlen);

/* A request as received, when it is not a PKCS#10 (a CRMF CertReqMsg): what the store keeps. */
struct estd_raw_req {
	const unsigned char *der;
	size_t len;
};

/*
 * Issues and records (op = the request's, "fullcmc") a certificate for a
 * verified csr under the label's profile; the store keeps raw when not NULL
 * (the CertReqMsg a CRMF csr was read from), else csr. On refusal reason
 * says why (for the client). Does not answer the request.
 */
enum estkit_status estd_backend_ca_cmc_issue(struct estd_backend_ca *b,
					     struct estkit_request *req, X509_REQ *csr,
					     const struct estd_raw_req *raw, X509 **cert,
					     char *reason, size_t rlen);

/* 1 when identity ("user:x" / "cert:SUBJECT" / "srp:x") is listed in [auth] revokers. */
int estd_backend_ca_is_revoker(struct estd_backend_ca *b, const char *identity);

/*
 * The label's identityProofV2 settings (RFC 5272 6.2.1): *required, and in
 * *secret_file a copy (free()) of the secret file's path or NULL.
 */
enum estkit_status estd_backend_ca_cmc_idproof(struct estd_backend_ca *b, const char *label,
					       int *required, char **secret_file);

/* The store and the CA behind the backend (borrowed). */
struct estd_store *estd_backend_ca_store(struct estd_backend_ca *b);
struct estd_ca *estd_backend_ca_ca(struct estd_backend_ca *b);

/*
 * Signs a PKIResponse (der, len) as CMS SignedData carrying extra, with the
 * key of the CA that issued issued (RFC 5272 3.2.2; during a rollover,
 * RFC 7030 4.1.3, the old or the new CA), or, when issued is NULL, of the CA
 * that issues now.
 */
enum estkit_status estd_backend_ca_cmc_sign(struct estd_backend_ca *b, X509 *issued,
					    const unsigned char *der, size_t len,
					    STACK_OF(X509) *extra, unsigned char **out,
					    size_t *outlen);

#endif /* ESTD_BACKEND_CMC_H */
