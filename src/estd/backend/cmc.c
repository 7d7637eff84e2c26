/*
 * backend/cmc.c - /fullcmc for the built-in CA (RFC 7030 4.3, RFC 5272).
 *
 * Who signed the SignedData decides what the PKIData may do:
 *  - a signer certificate carried in it, issued by this CA or, during a
 *    rollover, by its new CA (or the TLS client certificate): an
 *    authenticated client or RA; it may submit requests and revoke its own
 *    certificate; one with the id-kp-cmcRA extended key usage (RFC 6402) is
 *    an RA whose raVerified CRMF requests are accepted;
 *  - no certificate, signer named by subjectKeyIdentifier (RFC 5272
 *    3.2.1.3.2): the SignedData must verify with the public key of every
 *    request (PKCS#10, or CRMF certTemplate) it carries; without a request
 *    it cannot be verified and is refused. Such a message revokes only for
 *    an HTTP identity listed in [auth] revokers.
 * A CRMF CertReqMsg (RFC 4211) is read into a PKCS#10 (subject, key,
 * extensions) after its POP is checked, and issued through the same label
 * policy and profile; the store keeps the CertReqMsg.
 * Identities in [auth] revokers may revoke any certificate of this CA. The
 * HTTP layer has already authenticated the client (Basic or TLS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <estkit/cmc.h>
#include <estkit/pki.h>

#include "backend/cmc.h"
#include "ca/issue.h"
#include "store/store.h"
#include "util.h"

#define REASON_LEN 256
#define ID_SECRET_MAX 1024 /* bytes of an identityProofV2 secret */

struct cmc_job {
	struct estd_backend_ca *b;
	struct estkit_request *req;
	const unsigned char *der;
	size_t len;
	struct estkit_cmc_req *pd;
	struct estkit_cmc_resp *resp;
	X509 *signer;            /* carried signer certificate, verified; NULL: key-signed */
	STACK_OF(X509) *cas;     /* this CA, and the new one of a rollover (both trusted) */
	STACK_OF(X509) *issued;
	int nok, nfail;
	int http;                /* HTTP status when everything failed */
};

/* One CMCStatusInfoV2 for one body part; failures count toward the HTTP answer. */
static enum estkit_status status(struct cmc_job *j, uint32_t bp, enum estkit_cmc_status st,
				 enum estkit_cmc_fail fail, const char *text, int http)
{
	if (st == ESTKIT_CMC_SUCCESS) {
		j->nok++;
	} else {
		j->nfail++;
		if (http > j->http)
			j->http = http;
	}
	return estkit_cmc_resp_add_status(j->resp, st, &bp, 1, fail, text);
}

/*
 * The CAs whose certificates authenticate: this CA and, while a rollover is
 * configured, its new CA: the explicit anchors the TLS layer trusts for
 * client certificates too (estd adds the new root at start and on reload).
 */
static enum estkit_status load_cas(struct cmc_job *j)
{
	X509 *cur = estd_ca_cert(estd_backend_ca_ca(j->b));
	X509 *next = estd_backend_ca_next_root(j->b);

	j->cas = sk_X509_new_null();
	if (j->cas == NULL || !X509_up_ref(cur) || !sk_X509_push(j->cas, cur)) {
		X509_free(next);
		return ESTKIT_ENOMEM;
	}
	if (next != NULL && !sk_X509_push(j->cas, next)) {
		X509_free(next);
		return ESTKIT_ENOMEM;
	}
	return ESTKIT_OK;
}

/* 1 when x was issued and signed by one of j->cas (both may share a subject name). */
static int issued_by_us(const struct cmc_job *j, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(j->cas); i++) {
		X509 *ca = sk_X509_value(j->cas, i);
		if (X509_check_issued(ca, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(ca)) == 1)
			return 1;
	}
	return 0;
}

/* 1 when name is the subject of one of j->cas. */
static int names_us(const struct cmc_job *j, const X509_NAME *name)
{
	int i;

	for (i = 0; i < sk_X509_num(j->cas); i++)
		if (X509_NAME_cmp(name, X509_get_subject_name(sk_X509_value(j->cas, i))) == 0)
			return 1;
	return 0;
}

/* The public key of reqSequence entry i (PKCS#10 or CRMF certTemplate); *tmp to free. */
static EVP_PKEY *entry_key(struct cmc_job *j, int i, X509_REQ **tmp)
{
	enum estkit_cmc_req_type type;
	X509_REQ *csr = NULL;
	OSSL_CRMF_MSG *m = NULL;
	const char *why = NULL;

	*tmp = NULL;
	if (estkit_cmc_req_get(j->pd, i, NULL, &type, &csr, &m) != ESTKIT_OK)
		return NULL;
	if (type == ESTKIT_CMC_REQ_CRMF && estkit_cmc_crmf_to_csr(m, tmp, &why) == ESTKIT_OK)
		csr = *tmp;
	return csr != NULL ? X509_REQ_get0_pubkey(csr) : NULL;
}

/*
 * No signer certificate: the SignedData must verify with the key of its first
 * request (RFC 5272 3.2.1.3.2); do_pkcs10() and do_crmf() check every other
 * one. A message without one cannot be verified at all and is refused.
 */
static enum estkit_status key_signed(struct cmc_job *j, const char **why)
{
	X509_REQ *tmp = NULL;
	EVP_PKEY *key = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;
	int i;

	for (i = 0; i < estkit_cmc_req_count(j->pd) && key == NULL; i++) {
		X509_REQ_free(tmp);
		key = entry_key(j, i, &tmp);
	}
	*why = "no signer certificate, and no request whose key signed the message";
	if (key != NULL) {
		*why = "the CMS signature does not verify with the requested key";
		if (estkit_cmc_verify_key(j->der, j->len, key, NULL) == ESTKIT_OK)
			rc = ESTKIT_OK;
	}
	X509_REQ_free(tmp);
	return rc;
}

/* The signer: a carried certificate of this CA or its new one (or the TLS one), or SKI-named. */
static enum estkit_status check_signer(struct cmc_job *j, const char **why)
{
	X509 *peer = estkit_request_peer_cert(j->req);
	enum estkit_status rc = estkit_cmc_verify_carried(j->der, j->len, &j->signer);

	if (rc == ESTKIT_ENOTFOUND)
		return key_signed(j, why);
	if (rc != ESTKIT_OK) {
		*why = "the CMS signature does not verify";
		return ESTKIT_ECRYPTO;
	}
	/* RFC 7030 4.1.3: during a rollover certificates of the old and the new CA are valid */
	if ((peer != NULL && X509_cmp(peer, j->signer) == 0) || issued_by_us(j, j->signer))
		return ESTKIT_OK;
	*why = "the signer certificate was not issued by this CA";
	return ESTKIT_EUNTRUSTED;
}

/*
 * A signer certificate of this CA (not merely the TLS client certificate,
 * which [auth] client_ca may have let in) with the id-kp-cmcRA extended key
 * usage (RFC 6402).
 */
static int signer_is_ra(const struct cmc_job *j)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	int i, ra = 0;

	if (j->signer == NULL || !issued_by_us(j, j->signer))
		return 0;
	eku = X509_get_ext_d2i(j->signer, NID_ext_key_usage, NULL, NULL);
	for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku) && !ra; i++)
		ra = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA;
	EXTENDED_KEY_USAGE_free(eku);
	return ra;
}

/*
 * identityProofV2 (RFC 5272 6.2.1): required by the label, or present and
 * checkable with the label's secret. A missing or wrong proof is badIdentity.
 */
static enum estkit_status check_identity(struct cmc_job *j, const char **why)
{
	char sec[ID_SECRET_MAX + 1];
	char msg[512];
	char *path = NULL;
	int required = 0;
	enum estkit_status rc;

	rc = estd_backend_ca_cmc_idproof(j->b, estkit_request_label(j->req), &required, &path);
	if (rc != ESTKIT_OK || path == NULL) {
		*why = "identityProofV2 required but no secret configured";
		rc = rc != ESTKIT_OK ? rc : required ? ESTKIT_EAUTH : ESTKIT_OK;
		goto out;
	}
	/* its first line, 1..ID_SECRET_MAX bytes, in a file for the owner's eyes only */
	if ((rc = estd_secret_file_line(path, "secret", sec, ID_SECRET_MAX, msg, sizeof(msg))) !=
	    ESTKIT_OK) {
		estd_backend_ca_log(j->b, ESTKIT_LOG_ERROR, "cmc_identity_secret_file %s", msg);
		*why = "identity secret unavailable";
		rc = ESTKIT_EAUTH;
		goto out;
	}
	rc = estkit_cmc_req_check_identity(j->pd, (const unsigned char *)sec, strlen(sec));
	if (rc == ESTKIT_ENOTFOUND && !required)
		rc = ESTKIT_OK;
	*why = rc == ESTKIT_ENOTFOUND ? "identityProofV2 required (RFC 5272 6.2.1)"
	       : rc == ESTKIT_EPARSE  ? "identityProofV2 malformed or with other algorithms"
				      : "identityProofV2 does not match";
	if (rc != ESTKIT_OK)
		rc = ESTKIT_EAUTH;
out:
	OPENSSL_cleanse(sec, sizeof(sec));
	free(path);
	return rc;
}

/* Issues csr (verified) under the label's policy and profile; raw: what the store keeps. */
static enum estkit_status issue(struct cmc_job *j, uint32_t bp, X509_REQ *csr,
				const struct estd_raw_req *raw)
{
	char reason[REASON_LEN];
	X509 *cert = NULL;
	char *serial = NULL;

	if (j->signer == NULL &&
	    estkit_cmc_verify_key(j->der, j->len, X509_REQ_get0_pubkey(csr), NULL) != ESTKIT_OK)
		return status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_MESSAGE_CHECK,
			      "SignedData not signed by the requested key", 400);
	if (estd_backend_ca_cmc_issue(j->b, j->req, csr, raw, &cert, reason, sizeof(reason)) !=
	    ESTKIT_OK)
		return status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST, reason, 400);
	if (!sk_X509_push(j->issued, cert)) {
		X509_free(cert);
		return ESTKIT_ENOMEM;
	}
	if (estkit_cert_serial_hex(cert, &serial) == ESTKIT_OK)
		estkit_request_set_serial(j->req, serial);
	estkit_free(serial);
	return status(j, bp, ESTKIT_CMC_SUCCESS, ESTKIT_CMC_FAIL_NONE, NULL, 0);
}

/* One PKCS#10 entry of reqSequence (RFC 5272 3.2.1.3.1). */
static enum estkit_status do_pkcs10(struct cmc_job *j, uint32_t bp, X509_REQ *csr)
{
	if (estkit_csr_verify(csr) != ESTKIT_OK)
		return status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_POP_FAILED,
			      "PKCS#10 signature does not verify", 400);
	return issue(j, bp, csr, NULL);
}

/*
 * One CRMF entry (RFC 5272 3.2.1.3.2, RFC 4211), answered under its
 * certReqId: POP first (raVerified from a CMC RA only), then the template
 * as a PKCS#10 through the same policy and profile.
 */
static enum estkit_status do_crmf(struct cmc_job *j, uint32_t bp, OSSL_CRMF_MSG *m)
{
	struct estd_raw_req raw = { NULL, 0 };
	unsigned char *der = NULL;
	X509_REQ *csr = NULL;
	const X509_NAME *issuer = NULL;
	const char *why = NULL;
	enum estkit_cmc_fail fail = ESTKIT_CMC_POP_FAILED;
	enum estkit_status rc;
	int n;

	if (estkit_cmc_crmf_verify_pop(m, signer_is_ra(j), &fail) != ESTKIT_OK) {
		rc = status(j, bp, ESTKIT_CMC_FAILED, fail,
			    fail == ESTKIT_CMC_POP_REQUIRED_FAIL
				    ? "the CertReqMsg carries no proof of possession"
				    : "proof of possession failed (a signature that does not verify, "
				      "or raVerified from a signer that is not a CMC RA)",
			    400);
		goto out;
	}
	if (estkit_cmc_crmf_to_csr(m, &csr, &why) != ESTKIT_OK) {
		rc = status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST, why, 400);
		goto out;
	}
	issuer = OSSL_CRMF_CERTTEMPLATE_get0_issuer(OSSL_CRMF_MSG_get0_tmpl(m));
	if (issuer != NULL && !names_us(j, issuer)) {
		rc = status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			    "the certTemplate names another issuer", 400);
		goto out;
	}
	rc = ESTKIT_ENOMEM;
	if ((n = i2d_OSSL_CRMF_MSG(m, &der)) <= 0)
		goto out;
	raw.der = der;
	raw.len = (size_t)n;
	rc = issue(j, bp, csr, &raw);
out:
	OPENSSL_free(der);
	X509_REQ_free(csr);
	return rc;
}

static enum estkit_status do_requests(struct cmc_job *j)
{
	int i, n = estkit_cmc_req_count(j->pd);
	enum estkit_status rc = ESTKIT_OK;

	for (i = 0; i < n && rc == ESTKIT_OK; i++) {
		enum estkit_cmc_req_type type;
		X509_REQ *csr = NULL;
		OSSL_CRMF_MSG *m = NULL;
		uint32_t bp = 0;

		if (estkit_cmc_req_get(j->pd, i, &bp, &type, &csr, &m) != ESTKIT_OK)
			rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
				    "malformed bodyPartID", 400);
		else if (type == ESTKIT_CMC_REQ_PKCS10)
			rc = do_pkcs10(j, bp, csr);
		else if (type == ESTKIT_CMC_REQ_CRMF)
			rc = do_crmf(j, bp, m);
		else
			rc = status(j, bp, ESTKIT_CMC_NOSUPPORT, ESTKIT_CMC_FAIL_NONE,
				    "only PKCS#10 and CRMF certification requests are supported",
				    400);
	}
	return rc;
}

/* Holder (signer certificate is the one revoked) or a configured revoker. */
static int may_revoke(struct cmc_job *j, const struct estkit_cmc_revoke *rv, char *by,
		      size_t bylen)
{
	char *subj = NULL;
	int ok = 0;

	snprintf(by, bylen, "%s", estkit_request_identity(j->req));
	if (estd_backend_ca_is_revoker(j->b, by))
		return 1;
	if (j->signer == NULL ||
	    estkit_name_oneline(X509_get_subject_name(j->signer), &subj) != ESTKIT_OK)
		return 0;
	snprintf(by, bylen, "cert:%s", subj);
	ok = (ASN1_INTEGER_cmp(X509_get0_serialNumber(j->signer), rv->serial) == 0 &&
	      X509_NAME_cmp(X509_get_issuer_name(j->signer), rv->issuer) == 0) ||
	     estd_backend_ca_is_revoker(j->b, by);
	estkit_free(subj);
	return ok;
}

static char *serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL && !BN_is_negative(bn) ? BN_bn2hex(bn) : NULL;

	BN_free(bn);
	return hex;
}

/* One revokeRequest control (RFC 5272 6.11). */
static enum estkit_status do_revoke(struct cmc_job *j, const struct estkit_cmc_revoke *rv)
{
	char by[512];
	char *hex = NULL;
	enum estkit_status rc;

	/* the old CA or, during a rollover, the new one (RFC 7030 4.1.3) */
	if (!names_us(j, rv->issuer))
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_CERT_ID,
			      "issuer is not this CA", 400);
	if (!may_revoke(j, rv, by, sizeof(by)))
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_IDENTITY,
			      "not allowed to revoke this certificate", 403);
	hex = serial_hex(rv->serial);
	if (hex == NULL)
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_CERT_ID,
			      "invalid serial number", 400);
	rc = estd_store_revoke(estd_backend_ca_store(j->b), hex, rv->reason,
			       (long long)time(NULL), by);
	if (rc == ESTKIT_OK)
		estd_backend_ca_log(j->b, ESTKIT_LOG_INFO, "revoked serial=%s reason=%d by=%s", hex,
				    rv->reason, by);
	OPENSSL_free(hex);
	if (rc == ESTKIT_ENOTFOUND || rc == ESTKIT_EINVAL)
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_CERT_ID,
			      "no certificate with this serial was issued", 400);
	if (rc == ESTKIT_EEXIST)
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			      "certificate already revoked", 400);
	if (rc != ESTKIT_OK)
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_INTERNAL_CA_ERROR,
			      "could not record the revocation", 500);
	return status(j, rv->body_part, ESTKIT_CMC_SUCCESS, ESTKIT_CMC_FAIL_NONE, NULL, 0);
}

static enum estkit_status do_revocations(struct cmc_job *j)
{
	int i, n = estkit_cmc_req_revoke_count(j->pd);
	enum estkit_status rc = ESTKIT_OK;

	if (n < 0)
		return status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			      "malformed revokeRequest", 400);
	for (i = 0; i < n && rc == ESTKIT_OK; i++) {
		struct estkit_cmc_revoke rv;

		rc = estkit_cmc_req_revoke_get(j->pd, i, &rv);
		if (rc == ESTKIT_OK)
			rc = do_revoke(j, &rv);
	}
	return rc;
}

/* Decode, authenticate and process; CMC-level failures become statuses. */
static enum estkit_status process(struct cmc_job *j)
{
	unsigned char *content = NULL;
	size_t clen = 0;
	const char *why = NULL;
	enum estkit_status rc;

	if (estkit_cmc_open(j->der, j->len, 0, &content, &clen, NULL) != ESTKIT_OK ||
	    estkit_cmc_req_decode(content, clen, &j->pd) != ESTKIT_OK) {
		rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			    "not a CMS SignedData holding a PKIData", 400);
		goto out;
	}
	if ((rc = load_cas(j)) != ESTKIT_OK)
		goto out;
	rc = estkit_cmc_resp_answer(j->resp, j->pd);
	if (rc == ESTKIT_EPARSE)
		rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			    "malformed transactionId or senderNonce", 400);
	if (rc != ESTKIT_OK || j->nfail > 0)
		goto out;
	if (check_signer(j, &why) != ESTKIT_OK) {
		rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_MESSAGE_CHECK, why, 400);
		goto out;
	}
	if ((rc = check_identity(j, &why)) != ESTKIT_OK) {
		rc = rc == ESTKIT_EAUTH
			 ? status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_IDENTITY, why, 403)
			 : rc;
		goto out;
	}
	if (estkit_cmc_req_count(j->pd) == 0 && estkit_cmc_req_revoke_count(j->pd) == 0) {
		rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
			    "the PKIData holds no request", 400);
		goto out;
	}
	rc = do_requests(j);
	if (rc == ESTKIT_OK)
		rc = do_revocations(j);
out:
	estkit_free(content);
	return rc;
}

/*
 * PKIResponse -> SignedData signed by the CA that issued the certificates in
 * it (the new one after a rollover switch, RFC 7030 4.1.3), issued
 * certificates and CA cert carried.
 */
static enum estkit_status sign_response(struct cmc_job *j, unsigned char **out, size_t *outlen)
{
	unsigned char *der = NULL;
	size_t len = 0;
	enum estkit_status rc = estkit_cmc_resp_encode(j->resp, &der, &len);

	if (rc == ESTKIT_OK)
		rc = estd_backend_ca_cmc_sign(j->b, sk_X509_value(j->issued, 0), der, len,
					      j->issued, out, outlen);
	estkit_free(der);
	return rc;
}

/* See backend/cmc.h. */
enum estkit_status estd_backend_cmc_fullcmc(void *ctx, struct estkit_request *req,
					    const unsigned char *der, size_t len,
					    unsigned char **out, size_t *outlen)
{
	struct cmc_job j = { .b = ctx, .req = req, .der = der, .len = len };
	enum estkit_status rc;

	*out = NULL;
	j.issued = sk_X509_new_null();
	rc = j.issued != NULL ? estkit_cmc_resp_new(&j.resp) : ESTKIT_ENOMEM;
	if (rc == ESTKIT_OK)
		rc = process(&j);
	if (rc == ESTKIT_OK)
		rc = sign_response(&j, out, outlen);
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(j.b, ESTKIT_LOG_ERROR, "fullcmc: %s", estkit_strerror(rc));
		estkit_request_fail(req, 500, "internal error");
	} else if (j.nok == 0) {
		/* RFC 7030 4.3.2: a rejection is a 4xx with the CMC response as body */
		estkit_request_fail(req, j.http != 0 ? j.http : 400, "CMC request failed");
		rc = ESTKIT_EPOLICY;
	}
	if (rc != ESTKIT_OK && rc != ESTKIT_EPOLICY) {
		estkit_free(*out);
		*out = NULL;
	}
	sk_X509_pop_free(j.issued, X509_free);
	estkit_cmc_resp_free(j.resp);
	estkit_cmc_req_free(j.pd);
	X509_free(j.signer);
	sk_X509_pop_free(j.cas, X509_free);
	return rc;
}
