/*
 * backend/record.c - what the store keeps about each issued certificate.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include <estkit/pki.h>

#include "backend/record.h"
#include "util.h"

static int unix_time(const ASN1_TIME *t, long long *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (long long)timegm(&tm);
	return 0;
}

/* DER of a certificate or request into a malloc'd buffer. */
static int der_cert(X509 *x, unsigned char **der, size_t *len)
{
	unsigned char *tmp = NULL;
	int n = i2d_X509(x, &tmp);

	if (n <= 0)
		return -1;
	*der = malloc((size_t)n);
	if (*der != NULL)
		memcpy(*der, tmp, (size_t)n);
	OPENSSL_free(tmp);
	*len = (size_t)n;
	return *der != NULL ? 0 : -1;
}

static int der_csr(X509_REQ *x, unsigned char **der, size_t *len)
{
	unsigned char *tmp = NULL;
	int n = i2d_X509_REQ(x, &tmp);

	if (n <= 0)
		return -1;
	*der = malloc((size_t)n);
	if (*der != NULL)
		memcpy(*der, tmp, (size_t)n);
	OPENSSL_free(tmp);
	*len = (size_t)n;
	return *der != NULL ? 0 : -1;
}

/* See backend/record.h. */
enum estkit_status estd_record_build_der(const unsigned char *req_der, size_t req_len,
					 X509 *cert, const char *requester, const char *label,
					 const char *op, struct estd_cert_record *rec)
{
	enum estkit_status rc = ESTKIT_ENOMEM;

	memset(rec, 0, sizeof(*rec));
	if (req_der == NULL || req_len == 0 || cert == NULL)
		return ESTKIT_EINVAL;
	if (estkit_cert_serial_hex(cert, &rec->serial) != ESTKIT_OK ||
	    estkit_name_oneline(X509_get_subject_name(cert), &rec->subject) != ESTKIT_OK ||
	    estkit_name_oneline(X509_get_issuer_name(cert), &rec->issuer) != ESTKIT_OK ||
	    estkit_cert_sans(cert, &rec->sans) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_EINTERNAL;
	if (unix_time(X509_get0_notBefore(cert), &rec->not_before) != 0 ||
	    unix_time(X509_get0_notAfter(cert), &rec->not_after) != 0)
		goto out;
	rec->issued_at = (long long)time(NULL);
	rc = ESTKIT_ENOMEM;
	rec->requester = estd_strdup(requester != NULL ? requester : "anonymous");
	rec->label = estd_strdup(label != NULL ? label : "");
	rec->op = estd_strdup(op != NULL ? op : "");
	if (rec->requester == NULL || rec->label == NULL || rec->op == NULL)
		goto out;
	if ((rec->csr_der = malloc(req_len)) == NULL)
		goto out;
	memcpy(rec->csr_der, req_der, req_len);
	rec->csr_len = req_len;
	if (der_cert(cert, &rec->cert_der, &rec->cert_len) != 0)
		goto out;
	rc = ESTKIT_OK;
out:
	if (rc != ESTKIT_OK)
		estd_record_clear(rec);
	return rc;
}

/* See backend/record.h. */
enum estkit_status estd_record_build(X509_REQ *csr, X509 *cert, const char *requester,
				     const char *label, const char *op,
				     struct estd_cert_record *rec)
{
	unsigned char *der = NULL;
	size_t len = 0;
	enum estkit_status rc;

	memset(rec, 0, sizeof(*rec));
	if (csr == NULL || cert == NULL)
		return ESTKIT_EINVAL;
	if (der_csr(csr, &der, &len) != 0)
		return ESTKIT_ENOMEM;
	rc = estd_record_build_der(der, len, cert, requester, label, op, rec);
	free(der);
	return rc;
}

void estd_record_clear(struct estd_cert_record *rec)
{
	if (rec == NULL)
		return;
	estkit_free(rec->serial);
	estkit_free(rec->subject);
	estkit_free(rec->issuer);
	estkit_free(rec->sans);
	free(rec->requester);
	free(rec->label);
	free(rec->op);
	free(rec->csr_der);
	free(rec->cert_der);
	memset(rec, 0, sizeof(*rec));
}

/* See backend/record.h. */
enum estkit_status estd_record_cert(struct estd_store *st, struct estkit_request *req,
				    X509_REQ *csr, const unsigned char *raw, size_t rawlen,
				    X509 *cert)
{
	struct estd_cert_record rec;
	const char *who = estkit_request_identity(req), *label = estkit_request_label(req);
	const char *op = estkit_op_name(estkit_request_op(req));
	enum estkit_status rc;

	rc = raw != NULL ? estd_record_build_der(raw, rawlen, cert, who, label, op, &rec)
			 : estd_record_build(csr, cert, who, label, op, &rec);
	if (rc != ESTKIT_OK)
		return rc;
	rc = estd_store_cert_insert(st, &rec);
	estd_record_clear(&rec);
	return rc;
}
