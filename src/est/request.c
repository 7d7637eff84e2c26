/*
 * request.c - building a PKCS#10 request the way `est enroll` and `est agent`
 * both do: a new key of the planned type, the planned subject and altnames,
 * signed with the hash the server asked for (RFC 9908 3).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "common.h"

int est_request_from_plan(const char *cmd, const struct est_csr_plan *p, EVP_PKEY **key,
                          X509_REQ **csr)
{
	enum estkit_status rc;

	if (p->subject == NULL) {
		est_err(cmd, "need a subject (the server's CSR attributes name none)");
		return EST_EXIT_USAGE;
	}
	if ((rc = estkit_key_generate(p->key_type, key)) != ESTKIT_OK) {
		est_err(cmd, "cannot generate a key of type \"%s\": %s",
		        p->key_type != NULL ? p->key_type : "ec:P-256", estkit_strerror(rc));
		return rc == ESTKIT_EINVAL ? EST_EXIT_USAGE : EST_EXIT_FAIL;
	}
	rc = estkit_csr_new(*key, p->subject, p->sans, p->nsans, p->challenge, csr);
	if (rc != ESTKIT_OK) {
		est_err(cmd, "cannot build the request for \"%s\": %s", p->subject,
		        estkit_strerror(rc));
		return rc == ESTKIT_EINVAL ? EST_EXIT_USAGE : EST_EXIT_FAIL;
	}
	return est_request_sign(cmd, p, *key, *csr);
}

int est_request_sign(const char *cmd, const struct est_csr_plan *p, EVP_PKEY *key, X509_REQ *csr)
{
	/* RFC 9908 3: the signature hash the server asked for (Ed25519 has its own) */
	if (p->md != NULL && EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 &&
	    X509_REQ_sign(csr, key, p->md) <= 0) {
		ERR_clear_error();
		est_err(cmd, "cannot sign the request with %s", EVP_MD_get0_name(p->md));
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

int est_key_spec_of(EVP_PKEY *key, char *buf, size_t len)
{
	const char *type = NULL;
	const char *curve = NULL;
	int bits = 0;

	if (estkit_key_describe(key, &type, &bits, &curve) != ESTKIT_OK)
		return -1;
	if (strcmp(type, "EC") == 0 && curve != NULL)
		snprintf(buf, len, "ec:%s", curve);
	else if (strcmp(type, "RSA") == 0)
		snprintf(buf, len, "rsa:%d", bits);
	else if (strcmp(type, "ED25519") == 0)
		snprintf(buf, len, "ed25519");
	else
		return -1;
	return 0;
}
