/*
 * csrattrs_wants.c - what a client makes of CsrAttrs (RFC 9908): key type and
 * size, signature hash, challengePassword, subject and subjectAltName.
 *
 * RFC 9908 5: a client that understands both styles uses the
 * CertificationRequestInfoTemplate only and ignores every other element.
 */
#include <string.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "csrattrs_internal.h"

/* Appends the subjectAltName names of one extension value to w->sans. */
static int add_sans(struct estkit_csrattrs_wants *w, const ASN1_OCTET_STRING *val)
{
	const unsigned char *p = ASN1_STRING_get0_data(val);
	GENERAL_NAMES *gens = d2i_GENERAL_NAMES(NULL, &p, ASN1_STRING_length(val));
	int ok = gens != NULL;

	if (ok && w->sans == NULL && (w->sans = sk_GENERAL_NAME_new_null()) == NULL)
		ok = 0;
	while (ok && sk_GENERAL_NAME_num(gens) > 0) {
		GENERAL_NAME *g = sk_GENERAL_NAME_shift(gens);
		int type = 0;
		const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);

		/* RFC 9908 4: an empty value is for the client to fill in; we cannot */
		if ((type == GEN_DNS || type == GEN_IPADD || type == GEN_URI || type == GEN_EMAIL) &&
		    ASN1_STRING_length(s) == 0) {
			GENERAL_NAME_free(g);
			continue;
		}
		if (!sk_GENERAL_NAME_push(w->sans, g)) {
			GENERAL_NAME_free(g);
			ok = 0;
		}
	}
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return ok;
}

/* extensionRequest value: 1 when it held only subjectAltName, which we took. */
static int use_extreq(struct estkit_csrattrs_wants *w, const ASN1_TYPE *v)
{
	STACK_OF(X509_EXTENSION) *exts = ek_asn1_unpack(v, ASN1_ITEM_rptr(X509_EXTENSIONS));
	int ok = sk_X509_EXTENSION_num(exts) > 0;

	for (int i = 0; ok && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
		ok = OBJ_obj2nid(X509_EXTENSION_get_object(x)) == NID_subject_alt_name &&
		     add_sans(w, X509_EXTENSION_get_data(x));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return ok;
}

/* extensionReqTemplate: subjectAltName values taken, the rest not understood. */
static int use_ext_templates(struct estkit_csrattrs_wants *w, const ASN1_TYPE *v)
{
	EK_EXT_TMPLS *tl = ek_asn1_unpack(v, ASN1_ITEM_rptr(EK_EXT_TMPLS));
	int ok = sk_EK_EXT_TMPL_num(tl) > 0;

	for (int i = 0; ok && i < sk_EK_EXT_TMPL_num(tl); i++) {
		const EK_EXT_TMPL *et = sk_EK_EXT_TMPL_value(tl, i);
		ok = OBJ_obj2nid(et->id) == NID_subject_alt_name && et->value != NULL &&
		     add_sans(w, et->value);
	}
	ASN1_item_free((ASN1_VALUE *)tl, ASN1_ITEM_rptr(EK_EXT_TMPLS));
	ERR_clear_error();
	return ok;
}

/* A key algorithm with its parameter (curve OID, RSA size); 1 when understood. */
static int use_key(struct estkit_csrattrs_wants *w, int nid, const ASN1_TYPE *param)
{
	if (nid == NID_X9_62_id_ecPublicKey) {
		w->key_nid = nid;
		if (param == NULL)
			return 1;
		if (param->type != V_ASN1_OBJECT || !ek_nid_is_curve(OBJ_obj2nid(param->value.object)))
			return 0;
		w->curve_nid = OBJ_obj2nid(param->value.object);
		return 1;
	}
	if (nid == NID_rsaEncryption) {
		long bits = param != NULL && param->type == V_ASN1_INTEGER
				    ? ASN1_INTEGER_get(param->value.integer)
				    : 0;
		w->key_nid = nid;
		if (param != NULL && param->type != V_ASN1_NULL && (bits < 1024 || bits > 16384))
			return 0;
		w->rsa_bits = (int)bits;
		return 1;
	}
	if (nid == NID_ED25519 || nid == NID_ED448) {
		w->key_nid = nid;
		return param == NULL;
	}
	return 0;
}

/* A bare OID; 1 when understood. */
static int use_oid(struct estkit_csrattrs_wants *w, const ASN1_OBJECT *o)
{
	int nid = OBJ_obj2nid(o), md = NID_undef, pk = NID_undef;

	if (nid == NID_pkcs9_challengePassword) {
		w->challenge_password = 1;
		return 1;
	}
	if (nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512) {
		w->md_nid = nid;
		return 1;
	}
	if (ek_nid_is_curve(nid)) { /* RFC 7030 A.2 style: a bare curve OID */
		w->key_nid = NID_X9_62_id_ecPublicKey;
		w->curve_nid = nid;
		return 1;
	}
	if (nid != NID_undef && OBJ_find_sigid_algs(nid, &md, &pk) == 1) {
		if (md != NID_sha256 && md != NID_sha384 && md != NID_sha512 && md != NID_undef)
			return 0;
		w->md_nid = md;
		if (w->key_nid == 0)
			w->key_nid = pk == NID_rsaEncryption || pk == NID_X9_62_id_ecPublicKey ||
						     pk == NID_ED25519 || pk == NID_ED448
					     ? pk
					     : 0;
		return 1;
	}
	return use_key(w, nid, NULL);
}

/* A NameTemplate: only the RDNs whose values are all present. */
static int use_subject(struct estkit_csrattrs_wants *w, const EK_NAME_TMPL *nt)
{
	if ((w->subject = X509_NAME_new()) == NULL)
		return 0;
	for (int i = 0; i < sk_EK_RDN_TMPL_num(nt); i++) {
		const EK_RDN_TMPL *rdn = sk_EK_RDN_TMPL_value(nt, i);
		for (int j = 0; j < sk_EK_ATTR_TMPL_num(rdn); j++) {
			const EK_ATTR_TMPL *at = sk_EK_ATTR_TMPL_value(rdn, j);
			const ASN1_STRING *s = NULL;

			if (at->value == NULL || at->value->type == V_ASN1_OBJECT ||
			    at->value->type == V_ASN1_BOOLEAN || at->value->type == V_ASN1_NULL)
				continue;
			s = at->value->value.asn1_string;
			if (ASN1_STRING_length(s) > 0 &&
			    !X509_NAME_add_entry_by_OBJ(w->subject, at->type, ASN1_STRING_type(s),
							ASN1_STRING_get0_data(s),
							ASN1_STRING_length(s), -1, j > 0 ? -1 : 0))
				return 0;
		}
	}
	return 1;
}

/* RFC 9908 4: everything from the template; 1 when all of it was understood. */
static int use_template(struct estkit_csrattrs_wants *w, const ASN1_TYPE *v)
{
	EK_CRI_TMPL *t = ek_asn1_unpack(v, ASN1_ITEM_rptr(EK_CRI_TMPL));
	int ok = t != NULL;

	if (ok && t->subject != NULL)
		ok = use_subject(w, t->subject);
	if (ok && t->spki != NULL) {
		const ASN1_OBJECT *o = NULL;
		const void *pval = NULL;
		int ptype = 0;
		ASN1_TYPE *param = NULL;

		X509_ALGOR_get0(&o, &ptype, &pval, t->spki->algorithm);
		param = t->spki->algorithm->parameter;
		ok = use_key(w, OBJ_obj2nid(o), param);
	}
	for (int i = 0; ok && i < sk_X509_ATTRIBUTE_num(t->attributes); i++) {
		X509_ATTRIBUTE *at = sk_X509_ATTRIBUTE_value(t->attributes, i);
		const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object(at);

		if (ek_oid_is_ext_template(o))
			ok = use_ext_templates(w, X509_ATTRIBUTE_get0_type(at, 0));
		else if (OBJ_obj2nid(o) == NID_ext_req)
			ok = use_extreq(w, X509_ATTRIBUTE_get0_type(at, 0));
		else if (OBJ_obj2nid(o) == NID_pkcs9_challengePassword)
			w->challenge_password = 1;
		else
			ok = 0;
	}
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(EK_CRI_TMPL));
	ERR_clear_error();
	return ok;
}

/* Applies item i to w; 1 when understood. */
static int use_item(struct estkit_csrattrs_wants *w, const struct estkit_csrattrs *a, int i)
{
	const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);
	const ASN1_OBJECT *o = estkit_csrattrs_oid(a, i, NULL);
	int nid = OBJ_obj2nid(o), n = estkit_csrattrs_nvalues(a, i);

	if (it->type == EK_AOO_OID)
		return use_oid(w, o);
	if (n != 1 && nid != NID_pkcs9_challengePassword)
		return 0;
	if (nid == NID_pkcs9_challengePassword) {
		w->challenge_password = 1;
		return 1;
	}
	if (nid == NID_ext_req)
		return use_extreq(w, estkit_csrattrs_value(a, i, 0));
	if (ek_oid_is_cri_template(o))
		return use_template(w, estkit_csrattrs_value(a, i, 0));
	return use_key(w, nid, estkit_csrattrs_value(a, i, 0));
}

/* Index of the template attribute, or -1. */
static int template_index(const struct estkit_csrattrs *a)
{
	for (int i = 0; i < estkit_csrattrs_count(a); i++) {
		int is_attr = 0;
		const ASN1_OBJECT *o = estkit_csrattrs_oid(a, i, &is_attr);
		if (is_attr && ek_oid_is_cri_template(o))
			return i;
	}
	return -1;
}

/* See estkit/csrattrs.h. */
int estkit_csrattrs_understood(const struct estkit_csrattrs *a, int i)
{
	struct estkit_csrattrs_wants w;
	int t = template_index(a), ok;

	if (i < 0 || i >= estkit_csrattrs_count(a))
		return 0;
	if (t >= 0 && i != t)
		return 0; /* RFC 9908 5: ignored when a template is present */
	memset(&w, 0, sizeof(w));
	ok = use_item(&w, a, i);
	estkit_csrattrs_wants_clear(&w);
	return ok;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_wants(const struct estkit_csrattrs *a,
					 struct estkit_csrattrs_wants *w)
{
	int t;

	if (w != NULL)
		memset(w, 0, sizeof(*w));
	if (a == NULL || w == NULL)
		return ESTKIT_EINVAL;
	t = template_index(a);
	for (int i = 0; i < estkit_csrattrs_count(a); i++) {
		if (t >= 0 && i != t)
			continue; /* RFC 9908 5: the template alone counts */
		if (!use_item(w, a, i))
			w->unknown++;
	}
	ERR_clear_error();
	return ESTKIT_OK;
}

/* See estkit/csrattrs.h. */
void estkit_csrattrs_wants_clear(struct estkit_csrattrs_wants *w)
{
	if (w == NULL)
		return;
	X509_NAME_free(w->subject);
	GENERAL_NAMES_free(w->sans);
	memset(w, 0, sizeof(*w));
}
