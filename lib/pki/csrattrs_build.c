/*
 * csrattrs_build.c - building CsrAttrs from configuration words (RFC 9908 3,
 * 4): bare OIDs, key-type attributes, extensionRequest and the
 * CertificationRequestInfoTemplate.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "csrattrs_internal.h"
#include "pki_internal.h"

/* Appends an item; takes ownership of it on success. */
static enum estkit_status push_item(struct estkit_csrattrs *a, EK_ATTR_OR_OID *it)
{
	if (sk_EK_ATTR_OR_OID_num(a->items) >= ESTKIT_CSRATTRS_MAX_ITEMS)
		return ESTKIT_ETOOBIG;
	if (!sk_EK_ATTR_OR_OID_push(a->items, it))
		return ESTKIT_ENOMEM;
	return ESTKIT_OK;
}

/* Appends an attribute of type oid (ownership taken) with one value (ownership taken). */
static enum estkit_status push_attr(struct estkit_csrattrs *a, ASN1_OBJECT *oid, ASN1_TYPE *val)
{
	EK_ATTR_OR_OID *it = NULL;
	X509_ATTRIBUTE *attr = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (oid == NULL || val == NULL)
		goto out;
	/* len -1: the value is copied with ASN1_TYPE_set1() */
	attr = X509_ATTRIBUTE_create_by_OBJ(NULL, oid, val->type, val->value.ptr, -1);
	if (attr == NULL || (it = (EK_ATTR_OR_OID *)ASN1_item_new(
				     ASN1_ITEM_rptr(EK_ATTR_OR_OID))) == NULL)
		goto out;
	it->type = EK_AOO_ATTR;
	it->d.attribute = attr;
	attr = NULL;
	if ((rc = push_item(a, it)) == ESTKIT_OK)
		it = NULL;
out:
	ASN1_item_free((ASN1_VALUE *)it, ASN1_ITEM_rptr(EK_ATTR_OR_OID));
	X509_ATTRIBUTE_free(attr);
	ASN1_OBJECT_free(oid);
	ASN1_TYPE_free(val);
	return rc;
}

/* The value of "ecPublicKey:CURVE" (an OID) or "rsaEncryption:BITS" (an INTEGER). */
static ASN1_TYPE *key_param(int key_nid, const char *param)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	char *end = NULL;
	long bits;

	if (t == NULL)
		return NULL;
	if (key_nid == NID_X9_62_id_ecPublicKey) {
		ASN1_OBJECT *curve = ek_oid_from_name(param);
		if (curve != NULL && ek_nid_is_curve(OBJ_obj2nid(curve))) {
			ASN1_TYPE_set(t, V_ASN1_OBJECT, curve);
			return t;
		}
		ASN1_OBJECT_free(curve);
	} else if (key_nid == NID_rsaEncryption) {
		bits = strtol(param, &end, 10);
		if (end != param && *end == '\0' && bits >= 1024 && bits <= 16384) {
			ASN1_INTEGER *i = ASN1_INTEGER_new();
			if (i != NULL && ASN1_INTEGER_set(i, bits)) {
				ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
				return t;
			}
			ASN1_INTEGER_free(i);
		}
	}
	ASN1_TYPE_free(t);
	return NULL;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_add_spec(struct estkit_csrattrs *a, const char *spec)
{
	char name[129];
	const char *colon = NULL;
	ASN1_OBJECT *oid = NULL;
	EK_ATTR_OR_OID *it = NULL;
	enum estkit_status rc;
	size_t n;

	if (a == NULL || spec == NULL || (n = strlen(spec)) == 0 || n >= sizeof(name))
		return ESTKIT_EINVAL;
	colon = strchr(spec, ':');
	n = colon != NULL ? (size_t)(colon - spec) : n;
	memcpy(name, spec, n);
	name[n] = '\0';
	oid = ek_oid_from_name(name);
	ERR_clear_error();
	if (oid == NULL)
		return ESTKIT_EINVAL;
	if (colon != NULL) {
		ASN1_TYPE *val = key_param(OBJ_obj2nid(oid), colon + 1);
		if (val == NULL) {
			ASN1_OBJECT_free(oid);
			return ESTKIT_EINVAL;
		}
		return push_attr(a, oid, val);
	}
	if ((it = (EK_ATTR_OR_OID *)ASN1_item_new(ASN1_ITEM_rptr(EK_ATTR_OR_OID))) == NULL) {
		ASN1_OBJECT_free(oid);
		return ESTKIT_ENOMEM;
	}
	it->type = EK_AOO_OID;
	it->d.oid = oid;
	if ((rc = push_item(a, it)) != ESTKIT_OK)
		ASN1_item_free((ASN1_VALUE *)it, ASN1_ITEM_rptr(EK_ATTR_OR_OID));
	return rc;
}

/* A SEQUENCE-typed ASN1_TYPE holding the DER of val as item it. */
static ASN1_TYPE *pack(const void *val, const ASN1_ITEM *it)
{
	ASN1_STRING *seq = ASN1_item_pack((void *)val, it, NULL);
	ASN1_TYPE *t = NULL;

	if (seq == NULL || (t = ASN1_TYPE_new()) == NULL) {
		ASN1_STRING_free(seq);
		return NULL;
	}
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	return t;
}

/* See estkit/csrattrs.h. RFC 9908 3.2: the value is Extensions, never a bare OID. */
enum estkit_status estkit_csrattrs_add_extreq(struct estkit_csrattrs *a,
					      const STACK_OF(X509_EXTENSION) *exts)
{
	if (a == NULL || sk_X509_EXTENSION_num(exts) <= 0)
		return ESTKIT_EINVAL;
	return push_attr(a, OBJ_nid2obj(NID_ext_req), pack(exts, ASN1_ITEM_rptr(X509_EXTENSIONS)));
}

/* subjectAltName of sans as one extension list. */
static enum estkit_status san_exts(const char *const *sans, size_t nsans,
				   STACK_OF(X509_EXTENSION) **out)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	*out = NULL;
	if (gens == NULL)
		return ESTKIT_ENOMEM;
	for (size_t i = 0; i < nsans; i++) {
		if ((g = ek_san_parse(sans[i])) == NULL)
			goto out;
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			rc = ESTKIT_ENOMEM;
			goto out;
		}
	}
	rc = ESTKIT_ECRYPTO;
	if (X509V3_add1_i2d(out, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) != 1)
		goto out;
	rc = ESTKIT_OK;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_add_san_request(struct estkit_csrattrs *a,
						   const char *const *sans, size_t nsans)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	enum estkit_status rc;

	if (a == NULL || sans == NULL || nsans == 0 || nsans > 64)
		return ESTKIT_EINVAL;
	if ((rc = san_exts(sans, nsans, &exts)) == ESTKIT_OK)
		rc = estkit_csrattrs_add_extreq(a, exts);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return rc;
}

/* NameTemplate from a Name: one RDN per entry, every value present. */
static EK_NAME_TMPL *name_template(const X509_NAME *name)
{
	EK_NAME_TMPL *nt = sk_EK_RDN_TMPL_new_null();
	EK_RDN_TMPL *rdn = NULL;
	EK_ATTR_TMPL *at = NULL;

	for (int i = 0; nt != NULL && i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);

		rdn = sk_EK_ATTR_TMPL_new_null();
		at = (EK_ATTR_TMPL *)ASN1_item_new(ASN1_ITEM_rptr(EK_ATTR_TMPL));
		if (rdn == NULL || at == NULL ||
		    (at->type = OBJ_dup(X509_NAME_ENTRY_get_object(e))) == NULL ||
		    (at->value = ASN1_TYPE_new()) == NULL ||
		    !ASN1_TYPE_set1(at->value, ASN1_STRING_type(d), d) ||
		    !sk_EK_ATTR_TMPL_push(rdn, at))
			goto err;
		at = NULL;
		if (!sk_EK_RDN_TMPL_push(nt, rdn))
			goto err;
		rdn = NULL;
	}
	return nt;
err:
	ASN1_item_free((ASN1_VALUE *)at, ASN1_ITEM_rptr(EK_ATTR_TMPL));
	ASN1_item_free((ASN1_VALUE *)rdn, ASN1_ITEM_rptr(EK_RDN_TMPL));
	ASN1_item_free((ASN1_VALUE *)nt, ASN1_ITEM_rptr(EK_NAME_TMPL));
	return NULL;
}

/* SubjectPublicKeyInfoTemplate for "ecPublicKey:CURVE", "rsaEncryption", "ED25519"... */
static EK_SPKI_TMPL *spki_template(const char *key)
{
	EK_SPKI_TMPL *sp = (EK_SPKI_TMPL *)ASN1_item_new(ASN1_ITEM_rptr(EK_SPKI_TMPL));
	const char *colon = strchr(key, ':');
	char name[129];
	size_t n = colon != NULL ? (size_t)(colon - key) : strlen(key);
	ASN1_OBJECT *alg = NULL, *curve = NULL;
	int nid;

	if (sp == NULL || n >= sizeof(name))
		goto err;
	memcpy(name, key, n);
	name[n] = '\0';
	if ((alg = ek_oid_from_name(name)) == NULL)
		goto err;
	nid = OBJ_obj2nid(alg);
	if (nid == NID_X9_62_id_ecPublicKey) {
		curve = colon != NULL ? ek_oid_from_name(colon + 1) : NULL;
		if (curve == NULL || !ek_nid_is_curve(OBJ_obj2nid(curve)) ||
		    !X509_ALGOR_set0(sp->algorithm, alg, V_ASN1_OBJECT, curve))
			goto err;
	} else if ((nid == NID_rsaEncryption || nid == NID_ED25519 || nid == NID_ED448) &&
		   colon == NULL) {
		/* RFC 3279 2.3.1: rsaEncryption parameters are NULL; RFC 8410: absent */
		if (!X509_ALGOR_set0(sp->algorithm, alg,
				     nid == NID_rsaEncryption ? V_ASN1_NULL : V_ASN1_UNDEF, NULL))
			goto err;
	} else {
		goto err;
	}
	return sp;
err:
	ASN1_OBJECT_free(alg);
	ASN1_OBJECT_free(curve);
	ASN1_item_free((ASN1_VALUE *)sp, ASN1_ITEM_rptr(EK_SPKI_TMPL));
	return NULL;
}

/* id-aa-extensionReqTemplate attribute with the subjectAltName of sans (RFC 9908 4). */
static X509_ATTRIBUTE *ext_template_attr(const char *const *sans, size_t nsans)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	EK_EXT_TMPLS *tl = sk_EK_EXT_TMPL_new_null();
	EK_EXT_TMPL *et = NULL;
	ASN1_OBJECT *type = ek_oid_from_name("extensionReqTemplate");
	ASN1_TYPE *val = NULL;
	X509_ATTRIBUTE *attr = NULL;

	if (tl == NULL || type == NULL || san_exts(sans, nsans, &exts) != ESTKIT_OK)
		goto out;
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
		if ((et = (EK_EXT_TMPL *)ASN1_item_new(ASN1_ITEM_rptr(EK_EXT_TMPL))) == NULL ||
		    (et->id = OBJ_dup(X509_EXTENSION_get_object(x))) == NULL ||
		    (et->value = ASN1_STRING_dup(X509_EXTENSION_get_data(x))) == NULL ||
		    !sk_EK_EXT_TMPL_push(tl, et))
			goto out;
		et = NULL;
	}
	if ((val = pack(tl, ASN1_ITEM_rptr(EK_EXT_TMPLS))) != NULL)
		attr = X509_ATTRIBUTE_create_by_OBJ(NULL, type, V_ASN1_SEQUENCE, val->value.ptr, -1);
out:
	ASN1_item_free((ASN1_VALUE *)et, ASN1_ITEM_rptr(EK_EXT_TMPL));
	ASN1_item_free((ASN1_VALUE *)tl, ASN1_ITEM_rptr(EK_EXT_TMPLS));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_OBJECT_free(type);
	ASN1_TYPE_free(val);
	return attr;
}

/* Fills a template; EINVAL for a bad key spec or SAN. */
static enum estkit_status template_fill(EK_CRI_TMPL *t, const X509_NAME *subject,
					const char *key, const char *const *sans, size_t nsans)
{
	X509_ATTRIBUTE *attr = NULL;

	if (!ASN1_INTEGER_set(t->version, 0)) /* RFC 9908 4: v1 (0) */
		return ESTKIT_ENOMEM;
	if (subject != NULL && (t->subject = name_template(subject)) == NULL)
		return ESTKIT_ENOMEM;
	if (key != NULL && (t->spki = spki_template(key)) == NULL)
		return ESTKIT_EINVAL;
	if (t->attributes == NULL && (t->attributes = sk_X509_ATTRIBUTE_new_null()) == NULL)
		return ESTKIT_ENOMEM;
	if (nsans > 0) {
		if ((attr = ext_template_attr(sans, nsans)) == NULL)
			return ESTKIT_EINVAL;
		if (!sk_X509_ATTRIBUTE_push(t->attributes, attr)) {
			X509_ATTRIBUTE_free(attr);
			return ESTKIT_ENOMEM;
		}
	}
	return ESTKIT_OK;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_add_template(struct estkit_csrattrs *a,
						const X509_NAME *subject, const char *key,
						const char *const *sans, size_t nsans)
{
	EK_CRI_TMPL *t = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (a == NULL || (subject == NULL && key == NULL && nsans == 0) ||
	    (sans == NULL && nsans > 0) || nsans > 64)
		return ESTKIT_EINVAL;
	if ((t = (EK_CRI_TMPL *)ASN1_item_new(ASN1_ITEM_rptr(EK_CRI_TMPL))) == NULL)
		goto out;
	if ((rc = template_fill(t, subject, key, sans, nsans)) != ESTKIT_OK)
		goto out;
	rc = push_attr(a, ek_oid_from_name("certificationRequestInfoTemplate"),
		       pack(t, ASN1_ITEM_rptr(EK_CRI_TMPL)));
out:
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(EK_CRI_TMPL));
	ERR_clear_error();
	return rc;
}
