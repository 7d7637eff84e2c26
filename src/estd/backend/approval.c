/*
 * backend/approval.c - enrollments held for an operator's decision
 * (`approval = manual`, RFC 7030 4.2.3). See approval.h for the states.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <estkit/pki.h>

#include "backend/approval.h"
#include "backend/ca.h"
#include "backend/record.h"
#include "util.h"

/* As in ca.c: serial collisions are astronomically rare, a few retries cover them. */
#define ISSUE_ATTEMPTS 5

/* Lowercase hex SHA-256 of der. */
int estd_approval_hash(const unsigned char *der, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (der == NULL || len == 0 || EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
	return 0;
}

/* Frees what build_request() allocated (each field with its own allocator). */
static void clear_request(struct estd_request_record *r)
{
	free(r->label);
	free(r->op);
	free(r->requester);
	estkit_free(r->subject);
	estkit_free(r->sans);
	OPENSSL_free(r->csr_der);
	free(r->csr_sha256);
	memset(r, 0, sizeof(*r));
}

/* The row to store for csr: who asked, on which label, what, and the DER with its hash. */
static enum estkit_status build_request(struct estkit_request *req, X509_REQ *csr,
					struct estd_request_record *r)
{
	char hash[65];
	int n;

	memset(r, 0, sizeof(*r));
	n = i2d_X509_REQ(csr, &r->csr_der);
	if (n <= 0)
		return ESTKIT_EPARSE;
	r->csr_len = (size_t)n;
	if (estd_approval_hash(r->csr_der, r->csr_len, hash) != 0)
		goto err;
	r->csr_sha256 = estd_strdup(hash);
	r->label = estd_strdup(estkit_request_label(req));
	r->op = estd_strdup(estkit_op_name(estkit_request_op(req)));
	r->requester = estd_strdup(estkit_request_identity(req));
	if (r->csr_sha256 == NULL || r->label == NULL || r->op == NULL || r->requester == NULL ||
	    estkit_name_oneline(X509_REQ_get_subject_name(csr), &r->subject) != ESTKIT_OK ||
	    estkit_csr_sans(csr, &r->sans) != ESTKIT_OK)
		goto err;
	return ESTKIT_OK;
err:
	clear_request(r);
	return ESTKIT_ENOMEM;
}

/* The certificate recorded with serial (a request collected before). */
static enum estkit_status stored_cert(const struct estd_approval *a, struct estkit_request *req,
				      const char *serial, X509 **cert)
{
	struct estd_cert_record *rec = NULL;
	const unsigned char *p;
	enum estkit_status rc = estd_store_cert_get(a->store, serial, &rec);

	if (rc == ESTKIT_OK) {
		p = rec->cert_der;
		*cert = p != NULL ? d2i_X509(NULL, &p, (long)rec->cert_len) : NULL;
		if (*cert == NULL)
			rc = ESTKIT_EPARSE;
	}
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(a->log, ESTKIT_LOG_ERROR,
				    "certificate %s of a collected request cannot be read: %s", serial,
				    rc == ESTKIT_EPARSE ? "bad DER" : estd_store_errmsg(a->store));
		estkit_request_fail(req, estd_store_http_status(rc),
				    "could not read the issued certificate");
	}
	estd_cert_record_free(rec);
	return rc;
}

/* Someone else marked the request first: answer with what the store says now. */
static enum estkit_status lost_race(const struct estd_approval *a, struct estkit_request *req,
				    long long id, X509 **cert)
{
	struct estd_request_record *now = NULL;
	enum estkit_status rc = estd_store_request_get(a->store, id, &now);

	if (rc == ESTKIT_OK && strcmp(now->status, "issued") == 0) {
		rc = stored_cert(a, req, now->serial, cert);
	} else {
		estkit_request_fail(req, 500, "the request changed state while being collected");
		rc = ESTKIT_EINTERNAL;
	}
	estd_request_record_free(now);
	return rc;
}

/*
 * An approved request: issue now (the only signature a held request ever
 * gets), record it with the request's requester and mark the request
 * issued, in one transaction.
 */
static enum estkit_status collect(const struct estd_approval *a, struct estkit_request *req,
				  X509_REQ *csr, const struct estd_request_record *row,
				  X509 **cand, X509 **cert)
{
	struct estd_cert_record rec;
	char reason[256];
	enum estkit_status rc = ESTKIT_EINTERNAL;
	int attempt;

	for (attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
		if (*cand == NULL &&
		    (rc = estd_ca_issue_keyless(a->ca, a->prof, csr, cand, reason,
						sizeof(reason))) != ESTKIT_OK)
			break;
		rc = estd_record_build(csr, *cand, row->requester, row->label, row->op, &rec);
		if (rc == ESTKIT_OK)
			rc = estd_store_request_issue(a->store, row->id, &rec);
		estd_record_clear(&rec);
		if (rc == ESTKIT_OK) {
			*cert = *cand;
			*cand = NULL;
			return ESTKIT_OK;
		}
		X509_free(*cand);
		*cand = NULL;
		if (rc == ESTKIT_EPOLICY)
			return lost_race(a, req, row->id, cert);
		if (rc != ESTKIT_EEXIST)
			break;
	}
	estd_backend_ca_log(a->log, ESTKIT_LOG_ERROR, "request %lld: could not issue: %s (%s)",
			    row->id, estd_store_errmsg(a->store), estkit_strerror(rc));
	estkit_request_fail(req, estd_store_http_status(rc), "could not record the certificate");
	return rc == ESTKIT_OK ? ESTKIT_EINTERNAL : rc;
}

/* The answer for the stored request row (approval.h). */
static enum estkit_status answer(const struct estd_approval *a, struct estkit_request *req,
				 X509_REQ *csr, const struct estd_request_record *row,
				 X509 **cand, X509 **cert)
{
	if (strcmp(row->status, "pending") == 0) {
		/* RFC 7030 4.2.3: 202 with Retry-After; the client repeats the same request */
		estkit_request_set_retry_after(req, (unsigned)a->label->retry_after);
		return ESTKIT_EPENDING;
	}
	if (strcmp(row->status, "rejected") == 0) {
		estkit_request_fail(req, 403, "request %lld rejected: %s", row->id,
				    row->reason[0] != '\0' ? row->reason : "no reason given");
		return ESTKIT_EFORBIDDEN;
	}
	if (strcmp(row->status, "approved") == 0)
		return collect(a, req, csr, row, cand, cert);
	if (strcmp(row->status, "issued") == 0)
		return stored_cert(a, req, row->serial, cert);
	estkit_request_fail(req, 500, "request in an unknown state");
	return ESTKIT_EINTERNAL;
}

/* The profile's refusals become a 400 before anything is stored; nothing is signed here. */
static enum estkit_status policy_check(const struct estd_approval *a, struct estkit_request *req,
				       X509_REQ *csr)
{
	char reason[256];
	enum estkit_status rc = estd_ca_check_request(a->ca, a->prof, csr, reason, sizeof(reason));

	if (rc == ESTKIT_EPOLICY || rc == ESTKIT_EPARSE) {
		estkit_request_fail(req, 400, "%s", reason);
	} else if (rc != ESTKIT_OK) {
		estd_backend_ca_log(a->log, ESTKIT_LOG_ERROR, "checking the request failed: %s (%s)",
				    reason, estkit_strerror(rc));
		estkit_request_fail(req, 500, "could not issue the certificate");
	}
	return rc;
}

/* See approval.h. */
enum estkit_status estd_approval_enroll(const struct estd_approval *a,
					struct estkit_request *req, X509_REQ *csr, X509 **cert)
{
	struct estd_request_record in;
	struct estd_request_record *row = NULL;
	X509 *cand = NULL;
	enum estkit_status rc;
	int created = 0;

	memset(&in, 0, sizeof(in));
	*cert = NULL;
	rc = policy_check(a, req, csr);
	if (rc != ESTKIT_OK)
		goto out;
	rc = build_request(req, csr, &in);
	if (rc == ESTKIT_OK)
		rc = estd_store_request_submit(a->store, &in, &row, &created);
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(a->log, ESTKIT_LOG_ERROR, "could not store the request: %s (%s)",
				    estd_store_errmsg(a->store), estkit_strerror(rc));
		estkit_request_fail(req, estd_store_http_status(rc), "could not store the request");
		goto out;
	}
	if (created)
		estd_backend_ca_log(a->log, ESTKIT_LOG_INFO,
				    "request %lld from %s on label '%s' is pending approval: %s",
				    row->id, row->requester, row->label, row->subject);
	rc = answer(a, req, csr, row, &cand, cert);
out:
	X509_free(cand);
	estd_request_record_free(row);
	clear_request(&in);
	return rc;
}
