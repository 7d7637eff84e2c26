/*
 * cmc_asn1.h - ASN.1 types of CMC (RFC 5272 section 3 and its ASN.1 module,
 * RFC 5912 / RFC 6402), declared with OpenSSL's templates in cmc_asn1.c.
 * The module uses IMPLICIT tags. Only lib/pki/cmc*.c include this.
 */
#ifndef EK_CMC_ASN1_H
#define EK_CMC_ASN1_H

#include <stdint.h>
#include <openssl/asn1t.h>
#include <estkit/cmc.h>
#include <estkit/pki.h>
#include <openssl/crmf.h>
#include <openssl/x509.h>

/* TaggedAttribute ::= SEQUENCE { bodyPartID, attrType OID, attrValues SET OF ANY } */
typedef struct ek_cmc_tattr_st {
	ASN1_INTEGER *bpid;
	ASN1_OBJECT *type;
	STACK_OF(ASN1_TYPE) *values;
} EK_CMC_TATTR;

/* TaggedCertificationRequest ::= SEQUENCE { bodyPartID, CertificationRequest } */
typedef struct ek_cmc_tcr_st {
	ASN1_INTEGER *bpid;
	X509_REQ *req;
} EK_CMC_TCR;

/* orm [2] SEQUENCE { bodyPartID, requestMessageType OID, requestMessageValue ANY } */
typedef struct ek_cmc_orm_st {
	ASN1_INTEGER *bpid;
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} EK_CMC_ORM;

#define EK_CMC_TREQ_TCR 0
#define EK_CMC_TREQ_CRM 1
#define EK_CMC_TREQ_ORM 2

/* TaggedRequest ::= CHOICE { tcr [0], crm [1] CertReqMsg, orm [2] } */
typedef struct ek_cmc_treq_st {
	int type;
	union {
		EK_CMC_TCR *tcr;
		OSSL_CRMF_MSG *crm;
		EK_CMC_ORM *orm;
	} value;
} EK_CMC_TREQ;

/* TaggedContentInfo and OtherMsg: { bodyPartID, [OID,] ANY } (kept, not interpreted) */
typedef struct ek_cmc_tci_st {
	ASN1_INTEGER *bpid;
	ASN1_TYPE *content;
} EK_CMC_TCI;

typedef struct ek_cmc_omsg_st {
	ASN1_INTEGER *bpid;
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} EK_CMC_OMSG;

DEFINE_STACK_OF(EK_CMC_TATTR)
DEFINE_STACK_OF(EK_CMC_TREQ)
DEFINE_STACK_OF(EK_CMC_TCI)
DEFINE_STACK_OF(EK_CMC_OMSG)

/* PKIData ::= SEQUENCE { controlSequence, reqSequence, cmsSequence, otherMsgSequence } */
typedef struct ek_cmc_pkidata_st {
	STACK_OF(EK_CMC_TATTR) *controls;
	STACK_OF(EK_CMC_TREQ) *reqs;
	STACK_OF(EK_CMC_TCI) *cms;
	STACK_OF(EK_CMC_OMSG) *other;
} EK_CMC_PKIDATA;

/* PKIResponse ::= SEQUENCE { controlSequence, cmsSequence, otherMsgSequence } */
typedef struct ek_cmc_pkiresp_st {
	STACK_OF(EK_CMC_TATTR) *controls;
	STACK_OF(EK_CMC_TCI) *cms;
	STACK_OF(EK_CMC_OMSG) *other;
} EK_CMC_PKIRESP;

#define EK_CMC_BPREF_ID 0
#define EK_CMC_BPREF_PATH 1

/* BodyPartReference ::= CHOICE { bodyPartID, bodyPartPath SEQUENCE OF BodyPartID } */
typedef struct ek_cmc_bpref_st {
	int type;
	union {
		ASN1_INTEGER *id;
		STACK_OF(ASN1_INTEGER) *path;
	} value;
} EK_CMC_BPREF;

DEFINE_STACK_OF(EK_CMC_BPREF)

/*
 * CMCStatusInfoV2 ::= SEQUENCE { cMCStatus, bodyList SEQUENCE OF BodyPartReference,
 *   statusString UTF8String OPTIONAL, otherInfo OtherStatusInfo OPTIONAL }
 * otherInfo is a CHOICE of failInfo INTEGER, pendInfo SEQUENCE and
 * extendedFailInfo SEQUENCE: two untagged SEQUENCEs cannot be told apart by
 * tag, so it is kept as ANY and interpreted in cmc_resp.c.
 */
typedef struct ek_cmc_status_st {
	ASN1_INTEGER *status;
	STACK_OF(EK_CMC_BPREF) *bodies;
	ASN1_UTF8STRING *text;
	ASN1_TYPE *other;
} EK_CMC_STATUS;

/* PendInfo ::= SEQUENCE { pendToken OCTET STRING, pendTime GeneralizedTime } */
typedef struct ek_cmc_pendinfo_st {
	ASN1_OCTET_STRING *token;
	ASN1_GENERALIZEDTIME *time;
} EK_CMC_PENDINFO;

/* RevokeRequest ::= SEQUENCE { issuerName, serialNumber, reason CRLReason, ... } */
typedef struct ek_cmc_revreq_st {
	X509_NAME *issuer;
	ASN1_INTEGER *serial;
	ASN1_ENUMERATED *reason;
	ASN1_GENERALIZEDTIME *invalidity;
	ASN1_OCTET_STRING *passphrase;
	ASN1_UTF8STRING *comment;
} EK_CMC_REVREQ;

/* IdentifyProofV2 ::= SEQUENCE { proofAlgID, macAlgId, witness OCTET STRING } */
typedef struct ek_cmc_idproof_st {
	X509_ALGOR *proof_alg;
	X509_ALGOR *mac_alg;
	ASN1_OCTET_STRING *witness;
} EK_CMC_IDPROOF;

/* OptionalValidity ::= SEQUENCE { notBefore [0] Time OPTIONAL, notAfter [1] Time OPTIONAL } */
typedef struct ek_crmf_validity_st {
	ASN1_TIME *not_before;
	ASN1_TIME *not_after;
} EK_CRMF_VALIDITY;

/*
 * CertTemplate (RFC 4211 5), read back from OpenSSL's own encoding of an
 * OSSL_CRMF_CERTTEMPLATE: OpenSSL 3.0 has getters for subject, issuer,
 * serialNumber and extensions only, and a CA must also see publicKey,
 * version, signingAlg, validity and the unique identifiers. Name and Time
 * are CHOICEs, so their tags are explicit even in this IMPLICIT module.
 */
typedef struct ek_crmf_tmpl_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signing_alg;
	X509_NAME *issuer;
	EK_CRMF_VALIDITY *validity;
	X509_NAME *subject;
	X509_PUBKEY *pubkey;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *exts;
} EK_CRMF_TMPL;

DECLARE_ASN1_FUNCTIONS(EK_CMC_TATTR)
DECLARE_ASN1_FUNCTIONS(EK_CMC_TCR)
DECLARE_ASN1_FUNCTIONS(EK_CMC_ORM)
DECLARE_ASN1_FUNCTIONS(EK_CMC_TREQ)
DECLARE_ASN1_FUNCTIONS(EK_CMC_TCI)
DECLARE_ASN1_FUNCTIONS(EK_CMC_OMSG)
DECLARE_ASN1_FUNCTIONS(EK_CMC_PKIDATA)
DECLARE_ASN1_FUNCTIONS(EK_CMC_PKIRESP)
DECLARE_ASN1_FUNCTIONS(EK_CMC_BPREF)
DECLARE_ASN1_FUNCTIONS(EK_CMC_STATUS)
DECLARE_ASN1_FUNCTIONS(EK_CMC_PENDINFO)
DECLARE_ASN1_FUNCTIONS(EK_CMC_REVREQ)
DECLARE_ASN1_FUNCTIONS(EK_CMC_IDPROOF)
DECLARE_ASN1_FUNCTIONS(EK_CRMF_VALIDITY)
DECLARE_ASN1_FUNCTIONS(EK_CRMF_TMPL)

/*
 * The one DER encoder/decoder of PKIData and PKIResponse (shared by
 * cmc_req.c and cmc_resp.c). Encode: *out (OPENSSL_free) and *outlen.
 * Decode: the whole input must be one value of it, nothing after it;
 * ESTKIT_EINVAL for empty or oversized input, ESTKIT_EPARSE otherwise.
 */
enum estkit_status ek_cmc_item_encode(const ASN1_ITEM *it, const void *val, unsigned char **out,
				      size_t *outlen);
enum estkit_status ek_cmc_item_decode(const ASN1_ITEM *it, const unsigned char *der, size_t len,
				      void **val);

/* DER of the reqSequence alone (the identityProofV2 MAC input, RFC 5272 6.2.1). */
int ek_cmc_i2d_reqseq(STACK_OF(EK_CMC_TREQ) *reqs, unsigned char **out);

/* Control OIDs of RFC 5272 section 6 (id-cmc = 1.3.6.1.5.5.7.7), checked against its module. */
#define EK_OID_CMC_IDENTIFICATION "1.3.6.1.5.5.7.7.2"
#define EK_OID_CMC_TRANSACTIONID  "1.3.6.1.5.5.7.7.5"
#define EK_OID_CMC_SENDERNONCE    "1.3.6.1.5.5.7.7.6"
#define EK_OID_CMC_RECIPIENTNONCE "1.3.6.1.5.5.7.7.7"
#define EK_OID_CMC_REVOKEREQUEST  "1.3.6.1.5.5.7.7.17"
#define EK_OID_CMC_STATUSINFOV2   "1.3.6.1.5.5.7.7.25"
#define EK_OID_CMC_IDPROOFV2      "1.3.6.1.5.5.7.7.34"

/* ---- cmc_ctrl.c: controls shared by PKIData and PKIResponse ---- */

/* The single value of the n-th control of type oid (0 = first); NULL if none or malformed. */
ASN1_TYPE *ek_cmc_ctrl_find(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid, int n,
			    uint32_t *bpid);
/* Number of controls of type oid. */
int ek_cmc_ctrl_count(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid);
/* Appends a control with one value; val is taken on success only. 0 on success. */
int ek_cmc_ctrl_add(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
		    ASN1_TYPE *val);
/* Removes every control of type oid. */
void ek_cmc_ctrl_remove(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid);
/* BodyPartID (0..4294967295) of an INTEGER; 0 on success. */
int ek_cmc_bpid_get(const ASN1_INTEGER *a, uint32_t *out);
/* transactionId value / a nonce value of a control (see estkit/cmc.h for the codes). */
enum estkit_status ek_cmc_ctrl_u64(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid,
				   uint64_t *out);
enum estkit_status ek_cmc_ctrl_octets(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid,
				      const unsigned char **p, size_t *len);
/* Adds an INTEGER / OCTET STRING control. 0 on success. */
int ek_cmc_ctrl_add_u64(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
			uint64_t v);
int ek_cmc_ctrl_add_octets(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
			   const unsigned char *p, size_t len);
/* A random positive 63-bit value and random bytes. 0 on success. */
int ek_cmc_random_u64(uint64_t *out);

#endif /* EK_CMC_ASN1_H */
