/*
 * backend/cmc.c - /fullcmc for the built-in CA (RFC 7030 4.3, RFC 5272).
 *
 * Who signed the SignedData decides what the PKIData may do:
 *  - a signer certificate carried in it, issued by this CA (or the TLS
 *    client certificate): an authenticated client or RA; it may submit
 *    PKCS#10 requests and revoke its own certificate;
 *  - no certificate, signer named by subjectKeyIdentifier (RFC 5272
 *    3.2.1.3.2): the SignedData must verify with the public key of every
 *    PKCS#10 it carries (proof of possession); without a PKCS#10 it cannot
 *    be verified and is refused. Such a message revokes only for an HTTP
 *    identity listed in [auth] revokers.
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
#include <estkit/cmc.h>
#include <estkit/pki.h>

#include "backend/cmc.h"
#include "ca/issue.h"
#include "store/store.h"

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
 * No signer certificate: the SignedData must verify with the key of its first
 * PKCS#10 (RFC 5272 3.2.1.3.2); do_pkcs10() checks every other one. A message
 * without one cannot be verified at all and is refused.
 */
static enum estkit_status key_signed(struct cmc_job *j, const char **why)
{
	enum estkit_cmc_req_type type;
	X509_REQ *csr = NULL;
	int i;

	for (i = 0; i < estkit_cmc_req_count(j->pd); i++)
		if (estkit_cmc_req_get(j->pd, i, NULL, &type, &csr, NULL) == ESTKIT_OK &&
		    type == ESTKIT_CMC_REQ_PKCS10)
			break;
	if (csr == NULL) {
		*why = "no signer certificate, and no PKCS#10 whose key signed the message";
		return ESTKIT_ECRYPTO;
	}
	if (estkit_cmc_verify_key(j->der, j->len, X509_REQ_get0_pubkey(csr), NULL) != ESTKIT_OK) {
		*why = "the CMS signature does not verify with the requested key";
		return ESTKIT_ECRYPTO;
	}
	return ESTKIT_OK;
}

/* The signer: a carried certificate of this CA (or the TLS one), or SKI-named. */
static enum estkit_status check_signer(struct cmc_job *j, const char **why)
{
	X509 *peer = estkit_request_peer_cert(j->req);
	X509 *cacert = estd_ca_cert(estd_backend_ca_ca(j->b));
	enum estkit_status rc = estkit_cmc_verify_carried(j->der, j->len, &j->signer);

	if (rc == ESTKIT_ENOTFOUND)
		return key_signed(j, why);
	if (rc != ESTKIT_OK) {
		*why = "the CMS signature does not verify";
		return ESTKIT_ECRYPTO;
	}
	if ((peer != NULL && X509_cmp(peer, j->signer) == 0) ||
	    (X509_NAME_cmp(X509_get_issuer_name(j->signer), X509_get_subject_name(cacert)) == 0 &&
	     X509_verify(j->signer, X509_get0_pubkey(cacert)) == 1))
		return ESTKIT_OK;
	*why = "the signer certificate was not issued by this CA";
	return ESTKIT_EUNTRUSTED;
}

/* The secret of an identity file: its first line, 1..ID_SECRET_MAX bytes. */
static enum estkit_status read_secret(const char *path, unsigned char **sec, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n = 0, i = 0;
	enum estkit_status rc = estkit_file_read(path, &buf, &n);

	if (rc != ESTKIT_OK)
		return rc;
	while (i < n && buf[i] != '\n' && buf[i] != '\r')
		i++;
	if (i == 0 || i > ID_SECRET_MAX) {
		estkit_free_secret(buf, n);
		return ESTKIT_EINVAL;
	}
	OPENSSL_cleanse(buf + i, n - i);
	*sec = buf;
	*len = i;
	return ESTKIT_OK;
}

/*
 * identityProofV2 (RFC 5272 6.2.1): required by the label, or present and
 * checkable with the label's secret. A missing or wrong proof is badIdentity.
 */
static enum estkit_status check_identity(struct cmc_job *j, const char **why)
{
	unsigned char *sec = NULL;
	size_t len = 0;
	char *path = NULL;
	int required = 0;
	enum estkit_status rc;

	rc = estd_backend_ca_cmc_idproof(j->b, estkit_request_label(j->req), &required, &path);
	if (rc != ESTKIT_OK || path == NULL) {
		*why = "identityProofV2 required but no secret configured";
		rc = rc != ESTKIT_OK ? rc : required ? ESTKIT_EAUTH : ESTKIT_OK;
		goto out;
	}
	if ((rc = read_secret(path, &sec, &len)) != ESTKIT_OK) {
		estd_backend_ca_log(j->b, ESTKIT_LOG_ERROR, "cmc_identity_secret_file %s: %s", path,
				    estkit_strerror(rc));
		*why = "identity secret unavailable";
		rc = ESTKIT_EAUTH;
		goto out;
	}
	rc = estkit_cmc_req_check_identity(j->pd, sec, len);
	if (rc == ESTKIT_ENOTFOUND && !required)
		rc = ESTKIT_OK;
	*why = rc == ESTKIT_ENOTFOUND ? "identityProofV2 required (RFC 5272 6.2.1)"
	       : rc == ESTKIT_EPARSE  ? "identityProofV2 malformed or with other algorithms"
				      : "identityProofV2 does not match";
	if (rc != ESTKIT_OK)
		rc = ESTKIT_EAUTH;
out:
	estkit_free_secret(sec, len);
	free(path);
	return rc;
}

/* One PKCS#10 entry of reqSequence (RFC 5272 3.2.1.3.1). */
static enum estkit_status do_pkcs10(struct cmc_job *j, uint32_t bp, X509_REQ *csr)
{
	char reason[REASON_LEN];
	X509 *cert = NULL;
	char *serial = NULL;

	if (estkit_csr_verify(csr) != ESTKIT_OK)
		return status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_POP_FAILED,
			      "PKCS#10 signature does not verify", 400);
	if (j->signer == NULL &&
	    estkit_cmc_verify_key(j->der, j->len, X509_REQ_get0_pubkey(csr), NULL) != ESTKIT_OK)
		return status(j, bp, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_MESSAGE_CHECK,
			      "SignedData not signed by the requested key", 400);
	if (estd_backend_ca_cmc_issue(j->b, j->req, csr, &cert, reason, sizeof(reason)) !=
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

static enum estkit_status do_requests(struct cmc_job *j)
{
	int i, n = estkit_cmc_req_count(j->pd);
	enum estkit_status rc = ESTKIT_OK;

	for (i = 0; i < n && rc == ESTKIT_OK; i++) {
		enum estkit_cmc_req_type type;
		X509_REQ *csr = NULL;
		uint32_t bp = 0;

		if (estkit_cmc_req_get(j->pd, i, &bp, &type, &csr, NULL) != ESTKIT_OK)
			rc = status(j, 0, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_REQUEST,
				    "malformed bodyPartID", 400);
		else if (type == ESTKIT_CMC_REQ_PKCS10)
			rc = do_pkcs10(j, bp, csr);
		else
			rc = status(j, bp, ESTKIT_CMC_NOSUPPORT, ESTKIT_CMC_FAIL_NONE,
				    "only PKCS#10 certification requests are supported", 400);
	}
	return rc;
}

/* Holder (signer certificate is the one revoked) or a configured revoker. */
static int may_revoke(struct cmc_job *j, const ASN1_INTEGER *serial, char *by, size_t bylen)
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
	ok = ASN1_INTEGER_cmp(X509_get0_serialNumber(j->signer), serial) == 0 ||
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
	X509 *cacert = estd_ca_cert(estd_backend_ca_ca(j->b));
	char by[512];
	char *hex = NULL;
	enum estkit_status rc;

	if (X509_NAME_cmp(rv->issuer, X509_get_subject_name(cacert)) != 0)
		return status(j, rv->body_part, ESTKIT_CMC_FAILED, ESTKIT_CMC_BAD_CERT_ID,
			      "issuer is not this CA", 400);
	if (!may_revoke(j, rv->serial, by, sizeof(by)))
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
	return rc;
}
