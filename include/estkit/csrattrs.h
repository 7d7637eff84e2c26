/*
 * estkit/csrattrs.h - CSR attributes (RFC 7030 4.5, clarified by RFC 9908).
 *
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *
 * A struct estkit_csrattrs is the parsed (or being built) list, in order.
 * Each item is either a bare OID ("please include/use this") or an
 * attribute: a type OID with one or more values. RFC 9908 gives meaning to a
 * few of them, which estkit_csrattrs_wants() interprets for a client:
 *   - ecPublicKey attribute whose value is a curve OID, rsaEncryption
 *     attribute whose value is an INTEGER key size (RFC 9908 3.3-3.4);
 *   - a bare signature or hash OID (ecdsa-with-SHA384, sha256, ...);
 *   - challengePassword (RFC 7030 3.5);
 *   - extensionRequest attribute whose value is Extensions (RFC 9908 3.2:
 *     NOT a bare OID, as RFC 7030 4.5.2's example wrongly had it);
 *   - id-aa-certificationRequestInfoTemplate (RFC 9908 4) with subject,
 *     key algorithm and extensionReqTemplate.
 *
 *   struct estkit_csrattrs *a = NULL;
 *   if (estkit_csrattrs_decode(der, len, &a) == ESTKIT_OK) {
 *       char *text = NULL;
 *       if (estkit_csrattrs_print(a, &text) == ESTKIT_OK) puts(text);
 *       estkit_free(text);
 *   }
 *   estkit_csrattrs_free(a);
 */
#ifndef ESTKIT_CSRATTRS_H
#define ESTKIT_CSRATTRS_H

#include <stddef.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * RFC 9908 8 (IANA, SMI Security for S/MIME Attributes 1.2.840.113549.1.9.16.2):
 * id-aa-certificationRequestInfoTemplate (TBD2 in the draft) and
 * id-aa-extensionReqTemplate (TBD3). The draft text we test against
 * (draft-ietf-lamps-rfc7030-csrattrs-23) still says TBD2/TBD3, so the values
 * cannot be checked against it; .61/.62 are the values independent RFC 9908
 * implementations use. tests/unit/test_csrattrs.c pins the DER of both.
 */
#define ESTKIT_OID_CRI_TEMPLATE     "1.2.840.113549.1.9.16.2.61"
#define ESTKIT_OID_EXT_REQ_TEMPLATE "1.2.840.113549.1.9.16.2.62"

/* Upper bounds applied to every decode (RFC 7030 gives none; we must). */
#define ESTKIT_CSRATTRS_MAX_DER   65536
#define ESTKIT_CSRATTRS_MAX_ITEMS 256

struct estkit_csrattrs;

/* An empty list (valid: SIZE (0..MAX)). NULL when out of memory. */
ESTKIT_API struct estkit_csrattrs *estkit_csrattrs_new(void);

/* Frees the list. NULL is a no-op. */
ESTKIT_API void estkit_csrattrs_free(struct estkit_csrattrs *a);

/*
 * Decodes DER CsrAttrs. Trailing bytes, more than ESTKIT_CSRATTRS_MAX_DER
 * bytes or ESTKIT_CSRATTRS_MAX_ITEMS items are ESTKIT_EPARSE / ESTKIT_ETOOBIG.
 * Only the outer structure is checked; see estkit_csrattrs_check() for
 * the RFC 9908 meaning of the attributes. *out is the caller's.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_decode(const unsigned char *der, size_t len, struct estkit_csrattrs **out);

/* Encodes DER. *der is the caller's (estkit_free()). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_encode(const struct estkit_csrattrs *a, unsigned char **der, size_t *len);

/*
 * Semantic check per RFC 9908: every extensionRequest value is a DER
 * Extensions, every template attribute parses. On failure ESTKIT_EPARSE and,
 * when why is not NULL, a one-line reason ("item 3: extensionRequest value
 * is not Extensions (RFC 9908 3.2)") in why (whylen bytes).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_check(const struct estkit_csrattrs *a, char *why, size_t whylen);

/* ---- reading ------------------------------------------------------------------------- */

/* Number of items. */
ESTKIT_API int estkit_csrattrs_count(const struct estkit_csrattrs *a);

/*
 * Item i: its OID (the bare OID, or the attribute type), borrowed; *is_attr
 * (if not NULL) is 1 for an attribute. NULL when i is out of range.
 */
ESTKIT_API const ASN1_OBJECT *estkit_csrattrs_oid(const struct estkit_csrattrs *a, int i,
						  int *is_attr);

/* Number of values of attribute i (0 for a bare OID). */
ESTKIT_API int estkit_csrattrs_nvalues(const struct estkit_csrattrs *a, int i);

/* Value j of attribute i, borrowed; NULL when out of range. */
ESTKIT_API const ASN1_TYPE *estkit_csrattrs_value(const struct estkit_csrattrs *a, int i,
						  int j);

/*
 * Human-readable text, one item per line: "challengePassword",
 * "ecPublicKey (secp384r1)", "ecdsa-with-SHA384", "extensionRequest:
 * subjectAltName DNS:a.example", unknown OIDs as dotted text. A malformed
 * extensionRequest is printed as such, not refused. *out: estkit_free().
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csrattrs_print(const struct estkit_csrattrs *a,
							       char **out);

/* ---- building ------------------------------------------------------------------------ */

/*
 * Appends one item from a configuration word (names as OpenSSL knows them,
 * short or long, or dotted OIDs):
 *   "challengePassword"       bare OID
 *   "ecPublicKey:secp384r1"   attribute ecPublicKey, value the curve OID
 *   "rsaEncryption:3072"      attribute rsaEncryption, value INTEGER 3072
 *   "ecdsa-with-SHA384"       bare OID
 * Unknown names: ESTKIT_EINVAL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csrattrs_add_spec(struct estkit_csrattrs *a,
								  const char *spec);

/*
 * Appends an extensionRequest attribute (RFC 9908 3.2) holding exts
 * (borrowed, at least one extension).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_add_extreq(struct estkit_csrattrs *a, const STACK_OF(X509_EXTENSION) *exts);

/*
 * Appends an extensionRequest whose subjectAltName holds the names of sans
 * ("DNS:host", "IP:addr", "URI:u", "email:e"; nsans >= 1).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_add_san_request(struct estkit_csrattrs *a, const char *const *sans, size_t nsans);

/*
 * Appends an id-aa-certificationRequestInfoTemplate attribute (RFC 9908 4):
 * subject (borrowed, may be NULL), key spec as estkit_csrattrs_add_spec's
 * "ecPublicKey:secp384r1" / "rsaEncryption" (may be NULL), and an
 * extensionReqTemplate holding subjectAltName sans (may be 0). At least
 * one of the three must be given.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_add_template(struct estkit_csrattrs *a, const X509_NAME *subject,
			     const char *key, const char *const *sans, size_t nsans);

/* ---- interpreting (for a client building its request) ------------------------------ */

/* What the server asks for; fields are 0/NULL when it does not say. */
struct estkit_csrattrs_wants {
	int key_nid;            /* NID_X9_62_id_ecPublicKey, NID_rsaEncryption, NID_ED25519 ... */
	int curve_nid;          /* EC curve, e.g. NID_secp384r1 */
	int rsa_bits;           /* RSA key size */
	int md_nid;             /* signature hash: NID_sha256, NID_sha384, NID_sha512 */
	int challenge_password; /* 1 when challengePassword is listed */
	X509_NAME *subject;     /* owned: template subject, values present only */
	GENERAL_NAMES *sans;    /* owned: subjectAltName from extensionRequest/template */
	int unknown;            /* items none of the above understood */
};

/*
 * Fills w from a (w is zeroed first). Items it cannot use (e.g. a malformed
 * extensionRequest, macAddress) are counted in w->unknown; a caller lists
 * them with estkit_csrattrs_understood(). Free with estkit_csrattrs_wants_clear().
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csrattrs_wants(const struct estkit_csrattrs *a, struct estkit_csrattrs_wants *w);

/* 1 when estkit_csrattrs_wants() makes use of item i, else 0. */
ESTKIT_API int estkit_csrattrs_understood(const struct estkit_csrattrs *a, int i);

/* Frees what estkit_csrattrs_wants() allocated and zeroes w. */
ESTKIT_API void estkit_csrattrs_wants_clear(struct estkit_csrattrs_wants *w);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_CSRATTRS_H */
