/*
 * backend/record.h - turning an issued certificate into a store record.
 */
#ifndef ESTD_BACKEND_RECORD_H
#define ESTD_BACKEND_RECORD_H

#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "store/store.h"

/*
 * Fills rec (all fields allocated; release with estd_record_clear()) from
 * the certificate, its request and who asked: serial hex, one-line subject
 * and issuer, SANs, validity, issued_at = now, requester, label, op, and the
 * DER of both.
 */
enum estkit_status estd_record_build(X509_REQ *csr, X509 *cert, const char *requester,
				     const char *label, const char *op,
				     struct estd_cert_record *rec);

/*
 * The same from the request's DER as received (req_der is copied): for a
 * request that is not a PKCS#10, such as a CRMF CertReqMsg (RFC 4211).
 */
enum estkit_status estd_record_build_der(const unsigned char *req_der, size_t req_len,
					 X509 *cert, const char *requester, const char *label,
					 const char *op, struct estd_cert_record *rec);

/* Frees the fields of a record filled by estd_record_build() and zeroes it. */
void estd_record_clear(struct estd_cert_record *rec);

/*
 * Builds the record for a certificate issued for req and inserts it; the
 * certificate is durable when this returns ESTKIT_OK. ESTKIT_EEXIST when the
 * serial is taken. The request kept is raw (rawlen bytes, a CRMF CertReqMsg)
 * when raw is not NULL, else the DER of csr.
 */
enum estkit_status estd_record_cert(struct estd_store *st, struct estkit_request *req,
				    X509_REQ *csr, const unsigned char *raw, size_t rawlen,
				    X509 *cert);

#endif /* ESTD_BACKEND_RECORD_H */
