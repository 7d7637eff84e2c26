/*
 * cmc_crmf.c - CRMF certification requests (RFC 4211) inside a PKIData
 * (RFC 5272 3.2.1.3.2): building one with a signature POP, and, for a CA,
 * checking its POP and reading its certTemplate as a PKCS#10 request.
 * Everything goes through OpenSSL's CRMF code and ASN.1 templates.
 */
#include <limits.h>
#include <openssl/err.h>
#include <openssl/crmferr.h>
#include "pki/cmc_asn1.h"
#include "pki/cmc_internal.h"
#include "pki/pki_internal.h"

/* A CertReqMsg for csr's subject, key and extensions, with certReqId id and a signature POP. */
static enum estkit_status crmf_build(X509_REQ *csr, EVP_PKEY *key, uint32_t id,
				     OSSL_CRMF_MSG **out)
{
	OSSL_CRMF_MSG *m = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	*out = NULL;
	if (id > INT_MAX)
		return ESTKIT_EINVAL;
	m = OSSL_CRMF_MSG_new();
	if (m == NULL || OSSL_CRMF_MSG_set_certReqId(m, (int)id) != 1)
		goto out;
	/* RFC 4211 4.1: with subject and publicKey present the POP signs CertRequest itself */
	if (OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(m), key,
					X509_REQ_get_subject_name(csr), NULL, NULL) != 1)
		goto out;
	exts = X509_REQ_get_extensions(csr);
	if (exts != NULL && sk_X509_EXTENSION_num(exts) > 0) {
		if (OSSL_CRMF_MSG_set0_extensions(m, exts) != 1)
			goto out;
		exts = NULL;
	}
	rc = ESTKIT_ECRYPTO;
	if (OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, m, key, ek_pki_sign_md(key), NULL,
				      NULL) != 1)
		goto out;
	*out = m;
	m = NULL;
	rc = ESTKIT_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	OSSL_CRMF_MSG_free(m);
	return rc;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_add_crmf_csr(struct estkit_cmc_req *r, X509_REQ *csr,
					       EVP_PKEY *key, uint32_t *body_part)
{
	OSSL_CRMF_MSG *m = NULL;
	enum estkit_status rc;

	if (r == NULL || csr == NULL || key == NULL ||
	    EVP_PKEY_eq(key, X509_REQ_get0_pubkey(csr)) != 1)
		return ESTKIT_EINVAL;
	/* RFC 5272 3.2.1.3.2: the certReqId is the body part id of the request */
	rc = crmf_build(csr, key, r->next_id, &m);
	if (rc == ESTKIT_OK)
		rc = estkit_cmc_req_add_crmf(r, m, body_part);
	OSSL_CRMF_MSG_free(m);
	ERR_clear_error();
	return rc;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_crmf_verify_pop(const OSSL_CRMF_MSG *msg, int accept_ra_verified,
					      enum estkit_cmc_fail *fail)
{
	STACK_OF(OSSL_CRMF_MSG) *one = NULL;
	unsigned long e = 0;
	int ok = 0;

	if (msg == NULL || fail == NULL)
		return ESTKIT_EINVAL;
	*fail = ESTKIT_CMC_POP_FAILED;
	/* OpenSSL 3.0 checks the POP of entry i of a CertReqMessages: a list of one */
	one = sk_OSSL_CRMF_MSG_new_null();
	if (one == NULL || !sk_OSSL_CRMF_MSG_push(one, (OSSL_CRMF_MSG *)msg)) {
		sk_OSSL_CRMF_MSG_free(one);
		return ESTKIT_ENOMEM;
	}
	ERR_set_mark();
	ok = OSSL_CRMF_MSGS_verify_popo(one, 0, accept_ra_verified ? 1 : 0, NULL, NULL) == 1;
	e = ERR_peek_last_error();
	ERR_pop_to_mark();
	sk_OSSL_CRMF_MSG_free(one); /* msg itself is borrowed */
	if (ok) {
		*fail = ESTKIT_CMC_FAIL_NONE;
		return ESTKIT_OK;
	}
	if (ERR_GET_LIB(e) == ERR_LIB_CRMF && ERR_GET_REASON(e) == CRMF_R_POPO_MISSING)
		*fail = ESTKIT_CMC_POP_REQUIRED_FAIL;
	return ESTKIT_ECRYPTO;
}

/* The certTemplate of msg through the mirror of its ASN.1 (cmc_asn1.h says why). */
static EK_CRMF_TMPL *tmpl_read(const OSSL_CRMF_MSG *msg)
{
	OSSL_CRMF_CERTTEMPLATE *t = OSSL_CRMF_MSG_get0_tmpl(msg);
	unsigned char *der = NULL;
	void *v = NULL;
	int n = t != NULL ? i2d_OSSL_CRMF_CERTTEMPLATE(t, &der) : -1;

	if (n <= 0 || ek_cmc_item_decode(ASN1_ITEM_rptr(EK_CRMF_TMPL), der, (size_t)n, &v) !=
			      ESTKIT_OK)
		v = NULL;
	OPENSSL_free(der);
	return v;
}

/* RFC 4211 5: fields the CA fills in itself, and the version, which can only be v3. */
static const char *tmpl_refused(const EK_CRMF_TMPL *t)
{
	if (t->serial != NULL)
		return "the certTemplate names a serialNumber (the CA chooses it, RFC 4211 5)";
	if (t->signing_alg != NULL)
		return "the certTemplate names a signingAlg (the CA chooses it, RFC 4211 5)";
	if (t->issuer_uid != NULL || t->subject_uid != NULL)
		return "the certTemplate carries a unique identifier (RFC 4211 5)";
	if (t->version != NULL && ASN1_INTEGER_get(t->version) != 2)
		return "the certTemplate asks for a certificate version other than v3";
	if (t->pubkey == NULL)
		return "the certTemplate has no publicKey";
	return NULL;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_crmf_to_csr(const OSSL_CRMF_MSG *msg, X509_REQ **csr,
					  const char **why)
{
	EK_CRMF_TMPL *t = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	enum estkit_status rc = ESTKIT_EPARSE;

	if (msg == NULL || csr == NULL || why == NULL)
		return ESTKIT_EINVAL;
	*csr = NULL;
	*why = "the certTemplate cannot be read";
	if ((t = tmpl_read(msg)) == NULL)
		goto out;
	if ((*why = tmpl_refused(t)) != NULL)
		goto out;
	*why = "the certTemplate's publicKey is not a usable key";
	if ((pub = X509_PUBKEY_get0(t->pubkey)) == NULL)
		goto out;
	*why = "out of memory";
	rc = ESTKIT_ENOMEM;
	if ((req = X509_REQ_new()) == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, pub) != 1 ||
	    (t->subject != NULL && X509_REQ_set_subject_name(req, t->subject) != 1))
		goto out;
	/* the requested extensions reach the profile as a PKCS#10's would */
	if (t->exts != NULL && sk_X509_EXTENSION_num(t->exts) > 0 &&
	    X509_REQ_add_extensions(req, t->exts) != 1)
		goto out;
	*csr = req;
	req = NULL;
	*why = NULL;
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	X509_REQ_free(req);
	EK_CRMF_TMPL_free(t);
	return rc;
}
