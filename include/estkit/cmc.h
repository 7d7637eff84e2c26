/*
 * estkit/cmc.h - Certificate Management over CMS (RFC 5272, transport RFC
 * 5273), the subset EST's /fullcmc uses (RFC 7030 4.3).
 *
 * A request is a PKIData (controls + certification requests) carried as the
 * content of a CMS SignedData with eContentType id-cct-PKIData; an answer is
 * a PKIResponse (controls, among them CMCStatusInfoV2) in a SignedData with
 * eContentType id-cct-PKIResponse, the issued certificates in its
 * certificates field.
 *
 *   struct estkit_cmc_req *r = NULL;
 *   estkit_cmc_req_new(&r);                  // random transactionId + senderNonce
 *   estkit_cmc_req_add_pkcs10(r, csr, NULL);
 *   estkit_cmc_req_encode(r, &pkidata, &len);
 *   estkit_cmc_sign(pkidata, len, 0, NULL, key, &signed_der, &signed_len);
 *
 * Body part ids are given in order from 1. Controls understood: transactionId,
 * senderNonce, recipientNonce, identification, identityProofV2, revokeRequest
 * (requests) and statusInfoV2 (responses); others are kept and ignored.
 * Objects are not thread-safe; getters return data borrowed from the object.
 */
#ifndef ESTKIT_CMC_H
#define ESTKIT_CMC_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/crmf.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CMCStatus (RFC 5272 6.1.1) */
enum estkit_cmc_status {
	ESTKIT_CMC_SUCCESS = 0,
	ESTKIT_CMC_FAILED = 2,
	ESTKIT_CMC_PENDING = 3,
	ESTKIT_CMC_NOSUPPORT = 4,
	ESTKIT_CMC_CONFIRM_REQUIRED = 5,
	ESTKIT_CMC_POP_REQUIRED = 6,
	ESTKIT_CMC_PARTIAL = 7,
};

/* CMCFailInfo (RFC 5272 6.1.4); ESTKIT_CMC_FAIL_NONE when absent */
enum estkit_cmc_fail {
	ESTKIT_CMC_FAIL_NONE = -1,
	ESTKIT_CMC_BAD_ALG = 0,
	ESTKIT_CMC_BAD_MESSAGE_CHECK = 1,
	ESTKIT_CMC_BAD_REQUEST = 2,
	ESTKIT_CMC_BAD_TIME = 3,
	ESTKIT_CMC_BAD_CERT_ID = 4,
	ESTKIT_CMC_UNSUPPORTED_EXT = 5,
	ESTKIT_CMC_MUST_ARCHIVE_KEYS = 6,
	ESTKIT_CMC_BAD_IDENTITY = 7,
	ESTKIT_CMC_POP_REQUIRED_FAIL = 8,
	ESTKIT_CMC_POP_FAILED = 9,
	ESTKIT_CMC_NO_KEY_REUSE = 10,
	ESTKIT_CMC_INTERNAL_CA_ERROR = 11,
	ESTKIT_CMC_TRY_LATER = 12,
	ESTKIT_CMC_AUTH_DATA_FAIL = 13,
};

enum estkit_cmc_req_type { ESTKIT_CMC_REQ_PKCS10 = 0, ESTKIT_CMC_REQ_CRMF = 1,
			   ESTKIT_CMC_REQ_OTHER = 2 };

#define ESTKIT_CMC_NONCE_LEN 16   /* length of the nonces the builders make */
#define ESTKIT_CMC_MAX_NONCE 64   /* longest nonce accepted */

struct estkit_cmc_req;  /* PKIData */
struct estkit_cmc_resp; /* PKIResponse */

/* One revokeRequest control (RFC 5272 6.11). Borrowed from its request. */
struct estkit_cmc_revoke {
	uint32_t body_part;
	const X509_NAME *issuer;
	const ASN1_INTEGER *serial;
	int reason;                   /* CRLReason (RFC 5280 5.3.1) */
};

/* ---- PKIData --------------------------------------------------------------------- */

/* A new PKIData with a random positive transactionId and a 16-byte senderNonce. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cmc_req_new(struct estkit_cmc_req **out);

/* Frees a PKIData (and wipes an identity-proof secret). NULL is a no-op. */
ESTKIT_API void estkit_cmc_req_free(struct estkit_cmc_req *r);

/* Adds a PKCS#10 request (copied) as TaggedCertificationRequest; *body_part if not NULL. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_add_pkcs10(struct estkit_cmc_req *r, X509_REQ *csr, uint32_t *body_part);

/*
 * Adds a CRMF CertReqMsg (copied, RFC 4211); its certReqId is left as is and
 * is its body part id (RFC 5272 3.2.1.3.2), returned in *body_part if not
 * NULL. ESTKIT_EINVAL when msg has no usable certReqId.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_add_crmf(struct estkit_cmc_req *r, const OSSL_CRMF_MSG *msg, uint32_t *body_part);

/*
 * Adds a CRMF CertReqMsg (RFC 4211) made from csr, whose own signature is
 * not needed: the certTemplate holds csr's subject (empty if it has none),
 * public key and requested extensions; certReqId is the body part id the
 * message gets (RFC 5272 3.2.1.3.2), returned in *body_part if not NULL; the
 * proof of possession is a signature with key over the DER of CertRequest
 * (RFC 4211 4.1; SHA-256, none for Ed25519/Ed448). key must hold csr's
 * public key (ESTKIT_EINVAL otherwise). csr and key are borrowed.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_add_crmf_csr(struct estkit_cmc_req *r, X509_REQ *csr, EVP_PKEY *key,
			    uint32_t *body_part);

/* Adds a revokeRequest control for issuer + serial (both copied) with a CRLReason. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_add_revoke(struct estkit_cmc_req *r, const X509_NAME *issuer,
			  const ASN1_INTEGER *serial, int reason);

/* Adds the identification control (RFC 5272 6.2.3, UTF8String). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_set_identification(struct estkit_cmc_req *r, const char *id);

/*
 * Asks estkit_cmc_req_encode() to add identityProofV2 (RFC 5272 6.2.1):
 * proofAlgID sha256, macAlgId hmacWithSHA256, key = SHA-256(secret),
 * witness = HMAC(key, DER of reqSequence). The secret is copied and wiped on free.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_set_identity_secret(struct estkit_cmc_req *r, const unsigned char *secret,
				   size_t len);

/* DER of the PKIData. *out is the caller's (estkit_free). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_encode(struct estkit_cmc_req *r, unsigned char **out, size_t *outlen);

/* Parses a DER PKIData (the whole input, nothing after it). ESTKIT_EPARSE. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_decode(const unsigned char *der, size_t len, struct estkit_cmc_req **out);

/* transactionId; ESTKIT_ENOTFOUND when absent, ESTKIT_EPARSE when not a uint64. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_transaction_id(const struct estkit_cmc_req *r, uint64_t *id);

/* senderNonce (borrowed); ESTKIT_ENOTFOUND when absent. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_sender_nonce(const struct estkit_cmc_req *r, const unsigned char **nonce,
			    size_t *len);

/* identification as a NUL-terminated string (borrowed); ESTKIT_ENOTFOUND when absent. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_identification(const struct estkit_cmc_req *r, const char **id);

/*
 * Checks identityProofV2 against secret: ESTKIT_OK when the witness matches,
 * ESTKIT_EAUTH when it does not, ESTKIT_ENOTFOUND when the control is absent,
 * ESTKIT_EPARSE when it is malformed or names other algorithms.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_check_identity(const struct estkit_cmc_req *r, const unsigned char *secret,
			      size_t len);

/* Number of entries of reqSequence. */
ESTKIT_API int estkit_cmc_req_count(const struct estkit_cmc_req *r);

/*
 * Entry i of reqSequence: its body part id and type, and for PKCS#10 *csr,
 * for CRMF *crmf (borrowed; either pointer may be NULL). ESTKIT_EPARSE when a
 * bodyPartID is out of range.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_get(const struct estkit_cmc_req *r, int i, uint32_t *body_part,
		   enum estkit_cmc_req_type *type, X509_REQ **csr, OSSL_CRMF_MSG **crmf);

/* Number of revokeRequest controls; -1 when one is malformed. */
ESTKIT_API int estkit_cmc_req_revoke_count(const struct estkit_cmc_req *r);

/* revokeRequest i (valid while r lives). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_req_revoke_get(const struct estkit_cmc_req *r, int i, struct estkit_cmc_revoke *out);

/* ---- CRMF requests on the CA side (RFC 4211, RFC 5272 3.2.1.3.2) ------------- */

/*
 * Checks the proof of possession of msg (RFC 4211 4): a signature POP must
 * verify with the public key of its certTemplate; raVerified counts only
 * when accept_ra_verified is set (RFC 4211 4: an RA has checked the POP;
 * the caller must trust the RA that signed the PKIData). ESTKIT_OK, or ESTKIT_ECRYPTO with *fail
 * ESTKIT_CMC_POP_REQUIRED_FAIL (no POP) or ESTKIT_CMC_POP_FAILED (a
 * signature that does not verify, raVerified refused, or a key
 * encipherment/agreement POP, which needs an exchange /fullcmc has not).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_crmf_verify_pop(const OSSL_CRMF_MSG *msg, int accept_ra_verified,
			   enum estkit_cmc_fail *fail);

/*
 * The certTemplate of msg as a PKCS#10 request for a CA's usual issuing
 * path: its subject (empty when absent), publicKey, and extensions as an
 * extensionRequest. The request is not signed (the POP of msg stands for
 * it: see estkit_cmc_crmf_verify_pop), so it can neither be verified nor
 * DER-encoded. Refused with ESTKIT_EPARSE and *why (a static string): a
 * template that cannot be read, has no or an unusable publicKey, carries
 * serialNumber, signingAlg, issuerUID or subjectUID (RFC 4211 5: chosen by
 * the CA), or a version other than v3. validity and issuer are left to the
 * caller. *csr is the caller's.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_crmf_to_csr(const OSSL_CRMF_MSG *msg, X509_REQ **csr, const char **why);

/* ---- PKIResponse ------------------------------------------------------------------ */

/* An empty PKIResponse with a fresh random 16-byte senderNonce. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cmc_resp_new(struct estkit_cmc_resp **out);
ESTKIT_API void estkit_cmc_resp_free(struct estkit_cmc_resp *r);

/*
 * Echoes what RFC 5272 6.3 / 6.6 ask of a response to req: the same
 * transactionId, and recipientNonce = req's senderNonce (each when present).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_answer(struct estkit_cmc_resp *r, const struct estkit_cmc_req *req);

/*
 * Adds a CMCStatusInfoV2 control (RFC 5272 6.1.1) about the body parts
 * given (nbodies >= 1; RFC 5272 says 0 refers to the whole PKIData), with an
 * optional statusString and failInfo (ESTKIT_CMC_FAIL_NONE for none).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_add_status(struct estkit_cmc_resp *r, enum estkit_cmc_status status,
			   const uint32_t *bodies, size_t nbodies, enum estkit_cmc_fail fail,
			   const char *text);

ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_encode(struct estkit_cmc_resp *r, unsigned char **out, size_t *outlen);

ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_decode(const unsigned char *der, size_t len, struct estkit_cmc_resp **out);

ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_transaction_id(const struct estkit_cmc_resp *r, uint64_t *id);

/* recipientNonce / senderNonce of a response (borrowed). ESTKIT_ENOTFOUND when absent. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_recipient_nonce(const struct estkit_cmc_resp *r, const unsigned char **nonce,
				size_t *len);
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_sender_nonce(const struct estkit_cmc_resp *r, const unsigned char **nonce,
			     size_t *len);

/* Number of CMCStatusInfoV2 controls; -1 when one is malformed. */
ESTKIT_API int estkit_cmc_resp_status_count(const struct estkit_cmc_resp *r);

/*
 * Status i: its CMCStatus, failInfo (ESTKIT_CMC_FAIL_NONE when it has none)
 * and statusString (borrowed, NULL when absent; NUL-terminated).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_resp_status(const struct estkit_cmc_resp *r, int i, enum estkit_cmc_status *status,
		       enum estkit_cmc_fail *fail, const char **text);

/* Name of a failInfo value ("badRequest", ...); "unknown" otherwise. */
ESTKIT_API const char *estkit_cmc_fail_name(enum estkit_cmc_fail fail);

/* ---- CMS SignedData wrapping (RFC 5272 3.2.1, RFC 5652) ------------------------- */

/*
 * Signs content as a CMS SignedData with eContentType id-cct-PKIData
 * (response 0) or id-cct-PKIResponse (response 1). With a certificate the
 * signer is identified by issuerAndSerialNumber and cert plus extra go into
 * certificates; without one (self-signed PKCS#10 POP, RFC 5272 3.2.1.3.2) by
 * subjectKeyIdentifier = SHA-1 of the public key. SHA-256 digest (no
 * separate one for Ed25519/Ed448). *out is the caller's.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_sign(const unsigned char *content, size_t len, int response, X509 *cert,
		EVP_PKEY *key, STACK_OF(X509) *extra, unsigned char **out, size_t *outlen);

/*
 * Parses a SignedData, checks its eContentType (as for estkit_cmc_sign) and
 * hands back the content (caller frees) and the certificates it carries
 * (*certs may be NULL to skip; caller frees). Does NOT verify: see
 * estkit_cmc_verify_key(). ESTKIT_EPARSE for anything malformed.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_open(const unsigned char *der, size_t len, int response, unsigned char **content,
		size_t *clen, STACK_OF(X509) **certs);

/*
 * ESTKIT_OK when every SignerInfo of the SignedData verifies and was made
 * with key (matched by subjectKeyIdentifier or by a carried certificate
 * holding that key); ESTKIT_ECRYPTO otherwise. If signer is not NULL it
 * receives the signer certificate when one was carried (caller frees) or NULL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_verify_key(const unsigned char *der, size_t len, EVP_PKEY *key, X509 **signer);

/*
 * The certificate that signed der (carried in it, matched to the
 * SignerInfo) after checking the signature with it: ESTKIT_OK with *signer
 * (caller frees), ESTKIT_ENOTFOUND when the signer carried no certificate,
 * ESTKIT_ECRYPTO when the signature does not verify.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_cmc_verify_carried(const unsigned char *der, size_t len, X509 **signer);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_CMC_H */
