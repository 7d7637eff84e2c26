/*
 * csrattrs.c - CsrAttrs (RFC 7030 4.5.2, RFC 9908 3 and 4): the ASN.1
 * templates, decoding, encoding and item access. Building is in
 * csrattrs_build.c, printing and checking in csrattrs_print.c, the client's
 * reading in csrattrs_wants.c.
 */
#include <string.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <estkit/pki.h>
#include "csrattrs_internal.h"

ASN1_CHOICE(EK_ATTR_OR_OID) = {
	ASN1_SIMPLE(EK_ATTR_OR_OID, d.oid, ASN1_OBJECT),
	ASN1_SIMPLE(EK_ATTR_OR_OID, d.attribute, X509_ATTRIBUTE),
} ASN1_CHOICE_END(EK_ATTR_OR_OID)

ASN1_ITEM_TEMPLATE(EK_CSRATTRS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs, EK_ATTR_OR_OID)
ASN1_ITEM_TEMPLATE_END(EK_CSRATTRS)

ASN1_SEQUENCE(EK_ATTR_TMPL) = {
	ASN1_SIMPLE(EK_ATTR_TMPL, type, ASN1_OBJECT),
	ASN1_OPT(EK_ATTR_TMPL, value, ASN1_ANY),
} ASN1_SEQUENCE_END(EK_ATTR_TMPL)

ASN1_ITEM_TEMPLATE(EK_RDN_TMPL) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, RDNTemplate, EK_ATTR_TMPL)
ASN1_ITEM_TEMPLATE_END(EK_RDN_TMPL)

ASN1_ITEM_TEMPLATE(EK_NAME_TMPL) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, NameTemplate, EK_RDN_TMPL)
ASN1_ITEM_TEMPLATE_END(EK_NAME_TMPL)

ASN1_SEQUENCE(EK_SPKI_TMPL) = {
	ASN1_SIMPLE(EK_SPKI_TMPL, algorithm, X509_ALGOR),
	ASN1_OPT(EK_SPKI_TMPL, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(EK_SPKI_TMPL)

ASN1_SEQUENCE(EK_EXT_TMPL) = {
	ASN1_SIMPLE(EK_EXT_TMPL, id, ASN1_OBJECT),
	ASN1_OPT(EK_EXT_TMPL, critical, ASN1_FBOOLEAN),
	ASN1_OPT(EK_EXT_TMPL, value, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(EK_EXT_TMPL)

ASN1_ITEM_TEMPLATE(EK_EXT_TMPLS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, ExtensionTemplates, EK_EXT_TMPL)
ASN1_ITEM_TEMPLATE_END(EK_EXT_TMPLS)

/* RFC 9908 Appendix A: DEFINITIONS IMPLICIT TAGS */
ASN1_SEQUENCE(EK_CRI_TMPL) = {
	ASN1_SIMPLE(EK_CRI_TMPL, version, ASN1_INTEGER),
	/* an item template cannot itself be OPTIONAL: SEQUENCE OF RDN here */
	ASN1_SEQUENCE_OF_OPT(EK_CRI_TMPL, subject, EK_RDN_TMPL),
	ASN1_IMP_OPT(EK_CRI_TMPL, spki, EK_SPKI_TMPL, 0),
	ASN1_IMP_SET_OF(EK_CRI_TMPL, attributes, X509_ATTRIBUTE, 1),
} ASN1_SEQUENCE_END(EK_CRI_TMPL)

/* Names OpenSSL does not know, or knows by a different short name. */
static const struct {
	const char *name;
	const char *oid;
} aliases[] = {
	{"ecPublicKey", "1.2.840.10045.2.1"},
	{"certificationRequestInfoTemplate", ESTKIT_OID_CRI_TEMPLATE},
	{"extensionReqTemplate", ESTKIT_OID_EXT_REQ_TEMPLATE},
	{"macAddress", "1.3.6.1.1.1.1.22"},
	{"extensionRequest", "1.2.840.113549.1.9.14"},
};

/* See csrattrs_internal.h. */
ASN1_OBJECT *ek_oid_from_name(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > 128)
		return NULL;
	/* dotted form: digits separated by single dots (OpenSSL takes "1.2.3.") */
	if (name[0] >= '0' && name[0] <= '9' &&
	    (strspn(name, "0123456789.") != n || name[n - 1] == '.' || strstr(name, "..") != NULL ||
	     strchr(name, '.') == NULL))
		return NULL;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].name) == 0)
			return OBJ_txt2obj(aliases[i].oid, 1);
	return OBJ_txt2obj(name, 0);
}

/* See csrattrs_internal.h. */
void ek_oid_name(const ASN1_OBJECT *oid, char *buf, size_t len)
{
	char dotted[128];
	int nid = OBJ_obj2nid(oid);

	buf[0] = '\0';
	if (OBJ_obj2txt(dotted, sizeof(dotted), oid, 1) <= 0)
		dotted[0] = '\0';
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(dotted, aliases[i].oid) == 0) {
			snprintf(buf, len, "%s", aliases[i].name);
			return;
		}
	}
	/* the long name reads best ("sha256WithRSAEncryption"), unless it is prose */
	if (nid != NID_undef && OBJ_nid2ln(nid) != NULL && strchr(OBJ_nid2ln(nid), ' ') == NULL)
		snprintf(buf, len, "%s", OBJ_nid2ln(nid));
	else if (nid != NID_undef && OBJ_nid2sn(nid) != NULL)
		snprintf(buf, len, "%s", OBJ_nid2sn(nid));
	else
		snprintf(buf, len, "%s", dotted[0] != '\0' ? dotted : "?");
}

static int oid_is(const ASN1_OBJECT *oid, const char *dotted)
{
	char txt[128];

	return oid != NULL && OBJ_obj2txt(txt, sizeof(txt), oid, 1) > 0 && strcmp(txt, dotted) == 0;
}

/* See csrattrs_internal.h. */
int ek_oid_is_cri_template(const ASN1_OBJECT *oid)
{
	return oid_is(oid, ESTKIT_OID_CRI_TEMPLATE);
}

/* See csrattrs_internal.h. */
int ek_oid_is_ext_template(const ASN1_OBJECT *oid)
{
	return oid_is(oid, ESTKIT_OID_EXT_REQ_TEMPLATE);
}

/* See csrattrs_internal.h. */
int ek_nid_is_curve(int nid)
{
	EC_builtin_curve curves[128];
	size_t n = EC_get_builtin_curves(curves, sizeof(curves) / sizeof(curves[0]));

	if (nid == NID_undef)
		return 0;
	for (size_t i = 0; i < n && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].nid == nid)
			return 1;
	return 0;
}

/* See csrattrs_internal.h. */
void *ek_asn1_unpack(const ASN1_TYPE *t, const ASN1_ITEM *it)
{
	const unsigned char *p = NULL;
	void *v = NULL;
	long len;

	if (t == NULL || t->type != V_ASN1_SEQUENCE || t->value.sequence == NULL)
		return NULL;
	p = t->value.sequence->data;
	len = t->value.sequence->length;
	v = ASN1_item_d2i(NULL, &p, len, it);
	if (v != NULL && p != t->value.sequence->data + len) {
		ASN1_item_free(v, it);
		v = NULL;
	}
	return v;
}

/* See estkit/csrattrs.h. */
struct estkit_csrattrs *estkit_csrattrs_new(void)
{
	struct estkit_csrattrs *a = OPENSSL_zalloc(sizeof(*a));

	if (a == NULL)
		return NULL;
	if ((a->items = sk_EK_ATTR_OR_OID_new_null()) == NULL) {
		OPENSSL_free(a);
		return NULL;
	}
	return a;
}

/* See estkit/csrattrs.h. */
void estkit_csrattrs_free(struct estkit_csrattrs *a)
{
	if (a == NULL)
		return;
	ASN1_item_free((ASN1_VALUE *)a->items, ASN1_ITEM_rptr(EK_CSRATTRS));
	OPENSSL_free(a);
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_decode(const unsigned char *der, size_t len,
					  struct estkit_csrattrs **out)
{
	struct estkit_csrattrs *a = NULL;
	const unsigned char *p = der;
	enum estkit_status rc = ESTKIT_EPARSE;

	if (out != NULL)
		*out = NULL;
	if (der == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if (len > ESTKIT_CSRATTRS_MAX_DER)
		return ESTKIT_ETOOBIG;
	if ((a = OPENSSL_zalloc(sizeof(*a))) == NULL)
		return ESTKIT_ENOMEM;
	a->items = (EK_CSRATTRS *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(EK_CSRATTRS));
	if (a->items == NULL || p != der + len)
		goto out;
	if (sk_EK_ATTR_OR_OID_num(a->items) > ESTKIT_CSRATTRS_MAX_ITEMS) {
		rc = ESTKIT_ETOOBIG;
		goto out;
	}
	*out = a;
	a = NULL;
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	estkit_csrattrs_free(a);
	return rc;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_encode(const struct estkit_csrattrs *a, unsigned char **der,
					  size_t *len)
{
	unsigned char *buf = NULL;
	int n;

	if (der != NULL)
		*der = NULL;
	if (len != NULL)
		*len = 0;
	if (a == NULL || der == NULL || len == NULL)
		return ESTKIT_EINVAL;
	n = ASN1_item_i2d((const ASN1_VALUE *)a->items, &buf, ASN1_ITEM_rptr(EK_CSRATTRS));
	if (n <= 0)
		return ESTKIT_ECRYPTO;
	*der = buf;
	*len = (size_t)n;
	return ESTKIT_OK;
}

/* See csrattrs_internal.h. */
const EK_ATTR_OR_OID *ek_csrattrs_item(const struct estkit_csrattrs *a, int i)
{
	if (a == NULL || i < 0 || i >= sk_EK_ATTR_OR_OID_num(a->items))
		return NULL;
	return sk_EK_ATTR_OR_OID_value(a->items, i);
}

/* See estkit/csrattrs.h. */
int estkit_csrattrs_count(const struct estkit_csrattrs *a)
{
	return a == NULL ? 0 : sk_EK_ATTR_OR_OID_num(a->items);
}

/* See estkit/csrattrs.h. */
const ASN1_OBJECT *estkit_csrattrs_oid(const struct estkit_csrattrs *a, int i, int *is_attr)
{
	const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);

	if (is_attr != NULL)
		*is_attr = it != NULL && it->type == EK_AOO_ATTR;
	if (it == NULL)
		return NULL;
	if (it->type == EK_AOO_OID)
		return it->d.oid;
	return X509_ATTRIBUTE_get0_object(it->d.attribute);
}

/* See estkit/csrattrs.h. */
int estkit_csrattrs_nvalues(const struct estkit_csrattrs *a, int i)
{
	const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);

	if (it == NULL || it->type != EK_AOO_ATTR)
		return 0;
	return X509_ATTRIBUTE_count(it->d.attribute);
}

/* See estkit/csrattrs.h. */
const ASN1_TYPE *estkit_csrattrs_value(const struct estkit_csrattrs *a, int i, int j)
{
	const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);

	if (it == NULL || it->type != EK_AOO_ATTR || j < 0)
		return NULL;
	return X509_ATTRIBUTE_get0_type(it->d.attribute, j);
}
