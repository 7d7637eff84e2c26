/*
 * csrattrs_internal.h - the ASN.1 types behind estkit/csrattrs.h, shared by
 * csrattrs.c (parse, build), csrattrs_print.c and csrattrs_wants.c.
 */
#ifndef EK_CSRATTRS_INTERNAL_H
#define EK_CSRATTRS_INTERNAL_H

#include <openssl/asn1t.h>
#include <openssl/safestack.h>
#include <openssl/x509.h>
#include <estkit/csrattrs.h>

/* AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute } (RFC 9908 3.1) */
#define EK_AOO_OID  0
#define EK_AOO_ATTR 1
typedef struct ek_attr_or_oid_st {
	int type;
	union {
		ASN1_OBJECT *oid;
		X509_ATTRIBUTE *attribute;
	} d;
} EK_ATTR_OR_OID;
DEFINE_STACK_OF(EK_ATTR_OR_OID)
typedef STACK_OF(EK_ATTR_OR_OID) EK_CSRATTRS;

/* SingleAttributeTemplate: like AttributeTypeAndValue with an OPTIONAL value */
typedef struct ek_attr_tmpl_st {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} EK_ATTR_TMPL;
DEFINE_STACK_OF(EK_ATTR_TMPL)
typedef STACK_OF(EK_ATTR_TMPL) EK_RDN_TMPL;
DEFINE_STACK_OF(EK_RDN_TMPL)
typedef STACK_OF(EK_RDN_TMPL) EK_NAME_TMPL;

/* SubjectPublicKeyInfoTemplate: the key itself is OPTIONAL */
typedef struct ek_spki_tmpl_st {
	X509_ALGOR *algorithm;
	ASN1_BIT_STRING *key;
} EK_SPKI_TMPL;

/* ExtensionTemplate: extnValue is OPTIONAL */
typedef struct ek_ext_tmpl_st {
	ASN1_OBJECT *id;
	ASN1_BOOLEAN critical;
	ASN1_OCTET_STRING *value;
} EK_EXT_TMPL;
DEFINE_STACK_OF(EK_EXT_TMPL)
typedef STACK_OF(EK_EXT_TMPL) EK_EXT_TMPLS;

/* CertificationRequestInfoTemplate (RFC 9908 4, IMPLICIT TAGS) */
typedef struct ek_cri_tmpl_st {
	ASN1_INTEGER *version;
	EK_NAME_TMPL *subject;
	EK_SPKI_TMPL *spki;
	STACK_OF(X509_ATTRIBUTE) *attributes;
} EK_CRI_TMPL;

DECLARE_ASN1_ITEM(EK_ATTR_OR_OID)
DECLARE_ASN1_ITEM(EK_CSRATTRS)
DECLARE_ASN1_ITEM(EK_ATTR_TMPL)
DECLARE_ASN1_ITEM(EK_RDN_TMPL)
DECLARE_ASN1_ITEM(EK_NAME_TMPL)
DECLARE_ASN1_ITEM(EK_SPKI_TMPL)
DECLARE_ASN1_ITEM(EK_EXT_TMPL)
DECLARE_ASN1_ITEM(EK_EXT_TMPLS)
DECLARE_ASN1_ITEM(EK_CRI_TMPL)

struct estkit_csrattrs {
	EK_CSRATTRS *items;
};

/* The item i (borrowed) or NULL. */
const EK_ATTR_OR_OID *ek_csrattrs_item(const struct estkit_csrattrs *a, int i);

/*
 * Decodes the whole of an ASN1_TYPE's encoding (a SEQUENCE value) as it.
 * NULL when the type is not a SEQUENCE, the DER is bad or bytes are left over.
 */
void *ek_asn1_unpack(const ASN1_TYPE *t, const ASN1_ITEM *it);

/* OID from a name (short, long, an alias like "ecPublicKey", or dotted). Caller frees. */
ASN1_OBJECT *ek_oid_from_name(const char *name);

/* A name for an OID: our own alias, OpenSSL's short name, or dotted text. */
void ek_oid_name(const ASN1_OBJECT *oid, char *buf, size_t len);

/* 1 when oid is id-aa-certificationRequestInfoTemplate / extensionReqTemplate. */
int ek_oid_is_cri_template(const ASN1_OBJECT *oid);
int ek_oid_is_ext_template(const ASN1_OBJECT *oid);

/* 1 when nid names an EC curve OpenSSL implements. */
int ek_nid_is_curve(int nid);

#endif /* EK_CSRATTRS_INTERNAL_H */
