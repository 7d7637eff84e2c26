/*
 * backend/approval.h - enrollment on a label with `approval = manual`
 * (RFC 7030 4.2.3): the request waits in the store until an operator
 * approves or rejects it (`estd requests ...`); the client repeats the same
 * request after Retry-After and collects the certificate.
 *
 * The state lives only in the store, so any node sharing it can serve the
 * collection. The certificate is issued at collection time: the first
 * repeat after approval signs, then records the certificate and marks the
 * request issued in one transaction, before the answer is sent. Later
 * repeats get the same certificate from the store (nothing is issued twice).
 */
#ifndef ESTD_BACKEND_APPROVAL_H
#define ESTD_BACKEND_APPROVAL_H

#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "ca/issue.h"
#include "config.h"
#include "store/store.h"

struct estd_backend_ca;

/* What a manual-approval enrollment uses; all borrowed. */
struct estd_approval {
	struct estd_backend_ca *log;        /* for estd_backend_ca_log() */
	struct estd_store *store;
	struct estd_ca *ca;
	const struct estd_ca_profile *prof; /* the label's profile */
	const struct estd_label *label;     /* approval_manual, retry_after */
};

/*
 * Handles one /simpleenroll or /simplereenroll whose signature and key have
 * been checked. The CSR is first run through issuance (so a request the
 * profile refuses gets its 400 at once, never a 202); then, by the stored
 * request of this label and CSR DER (created pending if new):
 *   pending  -> ESTKIT_EPENDING, Retry-After = label->retry_after (202)
 *   rejected -> ESTKIT_EFORBIDDEN, 403 with the operator's reason
 *   approved -> the certificate, recorded and the request marked issued
 *   issued   -> the certificate recorded at collection
 * On ESTKIT_OK *cert is the certificate to send (caller frees); otherwise
 * the request has been failed with the HTTP status and reason.
 */
enum estkit_status estd_approval_enroll(const struct estd_approval *a,
					struct estkit_request *req, X509_REQ *csr, X509 **cert);

/* Lowercase hex SHA-256 of der (out: 65 bytes). 0 on success. */
int estd_approval_hash(const unsigned char *der, size_t len, char out[65]);

#endif /* ESTD_BACKEND_APPROVAL_H */
