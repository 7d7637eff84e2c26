/*
 * backend/ca_issue.h - issuing and recording with the built-in CA, shared by
 * backend/ca.c (the estkit_backend callbacks) and backend/ca_cmc.c (/fullcmc).
 */
#ifndef ESTD_BACKEND_CA_ISSUE_H
#define ESTD_BACKEND_CA_ISSUE_H

#include "backend/ca.h"
#include "backend/cmc.h"

/*
 * Issues for csr with ca under prof and records it with the request
 * `recorded` (the client's own CSR; csr differs for /serverkeygen) and raw
 * (the CertReqMsg of a CRMF request, or NULL), retrying on a serial the
 * store already holds. Returns the recorded certificate in *cert, or fails
 * the request (HTTP status and message set on req); a refusal of the request
 * itself (ESTKIT_EPOLICY, ESTKIT_EPARSE) also leaves its reason in why (may
 * be NULL), for answers that carry it elsewhere (a CMC statusString).
 */
enum estkit_status estd_backend_ca_issue_record(struct estd_backend_ca *b, struct estd_ca *ca,
						const struct estd_ca_profile *prof,
						struct estkit_request *req, X509_REQ *csr,
						X509_REQ *recorded, const struct estd_raw_req *raw,
						X509 **cert, char *why, size_t whylen);

#endif /* ESTD_BACKEND_CA_ISSUE_H */
