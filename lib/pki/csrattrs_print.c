/*
 * csrattrs_print.c - human-readable CsrAttrs and the RFC 9908 semantic check.
 *
 * The printer never refuses: a well-formed CsrAttrs whose extensionRequest
 * is malformed (RFC 7030 4.5.2's own example, which RFC 9908 3.2 calls NOT
 * CORRECT) is printed with that problem spelled out. estkit_csrattrs_check()
 * turns the same findings into an error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "csrattrs_internal.h"
#include "pki_internal.h"

/* ---- semantic problems (shared by the printer and the check) ------------------- */

/* NULL when an extension's value decodes as its type (unknown types pass). */
static const char *ext_problem(const X509_EXTENSION *x)
{
	const X509V3_EXT_METHOD *m = X509V3_EXT_get((X509_EXTENSION *)x);
	void *v = NULL;

	if (m == NULL)
		return NULL;
	if ((v = X509V3_EXT_d2i((X509_EXTENSION *)x)) == NULL) {
		ERR_clear_error();
		return "an extension value does not decode as its type";
	}
	if (m->it != NULL)
		ASN1_item_free(v, ASN1_ITEM_ptr(m->it));
	else if (m->ext_free != NULL)
		m->ext_free(v);
	return NULL;
}

/* NULL when v is a well-formed Extensions (RFC 9908 3.2), else why not. */
static const char *extreq_problem(const ASN1_TYPE *v)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	const char *why = NULL;

	if (v == NULL || v->type != V_ASN1_SEQUENCE)
		return "value is not Extensions (RFC 9908 3.2: not a bare OID)";
	exts = ek_asn1_unpack(v, ASN1_ITEM_rptr(X509_EXTENSIONS));
	if (exts == NULL) {
		ERR_clear_error();
		return "value is not a SEQUENCE OF Extension (RFC 9908 3.2)";
	}
	if (sk_X509_EXTENSION_num(exts) == 0)
		why = "value holds no extension";
	for (int i = 0; why == NULL && i < sk_X509_EXTENSION_num(exts); i++)
		why = ext_problem(sk_X509_EXTENSION_value(exts, i));
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return why;
}

/* NULL when a CertificationRequestInfoTemplate follows RFC 9908 4. */
static const char *template_problem(const ASN1_TYPE *v)
{
	EK_CRI_TMPL *t = ek_asn1_unpack(v, ASN1_ITEM_rptr(EK_CRI_TMPL));
	const char *why = NULL;
	int nreq = 0, ntmpl = 0;

	if (t == NULL) {
		ERR_clear_error();
		return "value is not a CertificationRequestInfoTemplate (RFC 9908 4)";
	}
	if (ASN1_INTEGER_get(t->version) != 0)
		why = "template version is not v1 (0)";
	for (int i = 0; why == NULL && i < sk_X509_ATTRIBUTE_num(t->attributes); i++) {
		X509_ATTRIBUTE *at = sk_X509_ATTRIBUTE_value(t->attributes, i);
		const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object(at);
		EK_EXT_TMPLS *tl = NULL;

		if (OBJ_obj2nid(o) == NID_ext_req) {
			nreq++;
			why = extreq_problem(X509_ATTRIBUTE_get0_type(at, 0));
		} else if (ek_oid_is_ext_template(o)) {
			ntmpl++;
			tl = ek_asn1_unpack(X509_ATTRIBUTE_get0_type(at, 0),
					    ASN1_ITEM_rptr(EK_EXT_TMPLS));
			if (tl == NULL || X509_ATTRIBUTE_count(at) != 1)
				why = "extensionReqTemplate is not one ExtensionTemplates";
			ASN1_item_free((ASN1_VALUE *)tl, ASN1_ITEM_rptr(EK_EXT_TMPLS));
		}
	}
	/* RFC 9908 4: at most one extensionReqTemplate, never with extensionRequest */
	if (why == NULL && (ntmpl > 1 || (ntmpl > 0 && nreq > 0)))
		why = "template mixes or repeats extensionRequest/extensionReqTemplate";
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(EK_CRI_TMPL));
	ERR_clear_error();
	return why;
}

/* NULL when attribute i makes sense under RFC 9908, else why not. */
static const char *attr_problem(const X509_ATTRIBUTE *at)
{
	const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object((X509_ATTRIBUTE *)at);
	int nid = OBJ_obj2nid(o), n = X509_ATTRIBUTE_count(at);
	const char *why = NULL;

	if (n == 0)
		return "attribute has no value";
	for (int j = 0; why == NULL && j < n; j++) {
		const ASN1_TYPE *v = X509_ATTRIBUTE_get0_type((X509_ATTRIBUTE *)at, j);

		if (nid == NID_ext_req)
			why = extreq_problem(v);
		else if (ek_oid_is_cri_template(o))
			why = template_problem(v);
		else if (nid == NID_X9_62_id_ecPublicKey &&
			 (v->type != V_ASN1_OBJECT || !ek_nid_is_curve(OBJ_obj2nid(v->value.object))))
			why = "ecPublicKey value is not a known curve OID (RFC 9908 3.3)";
		else if (nid == NID_rsaEncryption && v->type != V_ASN1_INTEGER)
			why = "rsaEncryption value is not an INTEGER key size (RFC 9908 3.4)";
	}
	return why;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_check(const struct estkit_csrattrs *a, char *why,
					 size_t whylen)
{
	char name[80];

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (a == NULL)
		return ESTKIT_EINVAL;
	for (int i = 0; i < estkit_csrattrs_count(a); i++) {
		const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);
		const char *p = it->type == EK_AOO_ATTR ? attr_problem(it->d.attribute) : NULL;

		if (p == NULL)
			continue;
		ek_oid_name(estkit_csrattrs_oid(a, i, NULL), name, sizeof(name));
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "item %d: %s %s", i + 1, name, p);
		return ESTKIT_EPARSE;
	}
	return ESTKIT_OK;
}

/* ---- printing ---------------------------------------------------------------- */

/* Copies a scratch BIO's text into out with line breaks turned into "; ". */
static int flatten(BIO *out, BIO *scratch)
{
	char *data = NULL;
	long n = BIO_get_mem_data(scratch, &data);
	int ok = 1;

	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == ' '))
		n--;
	for (long i = 0; ok && i < n; i++) {
		if (data[i] == '\n')
			ok = BIO_puts(out, "; ") > 0;
		else if (data[i] != '\r')
			ok = BIO_write(out, &data[i], 1) == 1;
	}
	return ok;
}

/* One value of any type, on one line. */
static int print_value(BIO *b, const ASN1_TYPE *v)
{
	char name[128];
	int64_t n;

	switch (v->type) {
	case V_ASN1_OBJECT:
		ek_oid_name(v->value.object, name, sizeof(name));
		return BIO_puts(b, name) >= 0;
	case V_ASN1_BOOLEAN:
		return BIO_puts(b, v->value.boolean ? "TRUE" : "FALSE") > 0;
	case V_ASN1_INTEGER:
	case V_ASN1_ENUMERATED:
		if (ASN1_INTEGER_get_int64(&n, v->value.integer) == 1)
			return BIO_printf(b, "%" PRId64, n) > 0;
		ERR_clear_error();
		return i2a_ASN1_INTEGER(b, v->value.integer) > 0;
	case V_ASN1_NULL:
		return BIO_puts(b, "NULL") > 0;
	case V_ASN1_SEQUENCE:
	case V_ASN1_SET:
	case V_ASN1_OCTET_STRING:
	case V_ASN1_BIT_STRING:
	case V_ASN1_OTHER:
		return BIO_printf(b, "<%s, %d bytes>", ASN1_tag2str(v->type),
				  v->value.asn1_string->length) > 0;
	default:
		/* the string types: escape control and non-ASCII bytes */
		return BIO_puts(b, "\"") > 0 &&
		       ASN1_STRING_print_ex(b, v->value.asn1_string,
					    ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_ESC_MSB |
						    ASN1_STRFLGS_UTF8_CONVERT) >= 0 &&
		       BIO_puts(b, "\"") > 0;
	}
}

/* "subjectAltName DNS:a, DNS:b" or "keyUsage (critical) Digital Signature". */
static int print_ext(BIO *b, const ASN1_OBJECT *id, int critical, const ASN1_OCTET_STRING *val)
{
	char name[80];
	X509_EXTENSION *x = NULL;
	GENERAL_NAMES *gens = NULL;
	BIO *scratch = NULL;
	char *sans = NULL;
	int ok = 0;

	ek_oid_name(id, name, sizeof(name));
	if (BIO_printf(b, "%s%s", name, critical ? " (critical)" : "") <= 0)
		return 0;
	if (val == NULL)
		return BIO_puts(b, " (value left to the client)") > 0;
	if ((x = X509_EXTENSION_create_by_OBJ(NULL, id, critical, (ASN1_OCTET_STRING *)val)) == NULL ||
	    (scratch = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (OBJ_obj2nid(id) == NID_subject_alt_name &&
	    (gens = X509V3_EXT_d2i(x)) != NULL && ek_sans_format(gens, &sans) == ESTKIT_OK)
		ok = BIO_printf(b, " %s", sans) > 0;
	else if (ext_problem(x) != NULL)
		ok = BIO_puts(b, " MALFORMED (value does not decode)") > 0;
	else if (X509V3_EXT_print(scratch, x, X509V3_EXT_DEFAULT, 0) == 1)
		ok = BIO_puts(b, " ") > 0 && flatten(b, scratch);
	else
		ok = BIO_printf(b, " <%d bytes>", ASN1_STRING_length(val)) > 0;
out:
	ERR_clear_error();
	estkit_free(sans);
	GENERAL_NAMES_free(gens);
	BIO_free(scratch);
	X509_EXTENSION_free(x);
	return ok;
}

/* The extensions of an extensionRequest value, "; "-separated. */
static int print_extreq(BIO *b, const ASN1_TYPE *v)
{
	const char *why = extreq_problem(v);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	int ok = 1;

	if (why != NULL)
		return BIO_printf(b, "MALFORMED: %s", why) > 0;
	exts = ek_asn1_unpack(v, ASN1_ITEM_rptr(X509_EXTENSIONS));
	for (int i = 0; ok && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
		ok = (i == 0 || BIO_puts(b, "; ") > 0) &&
		     print_ext(b, X509_EXTENSION_get_object(x), X509_EXTENSION_get_critical(x),
			       X509_EXTENSION_get_data(x));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ok;
}

/* An ExtensionTemplates value. */
static int print_ext_templates(BIO *b, const ASN1_TYPE *v)
{
	EK_EXT_TMPLS *tl = ek_asn1_unpack(v, ASN1_ITEM_rptr(EK_EXT_TMPLS));
	int ok = 1;

	if (tl == NULL) {
		ERR_clear_error();
		return BIO_puts(b, "MALFORMED: not ExtensionTemplates") > 0;
	}
	for (int i = 0; ok && i < sk_EK_EXT_TMPL_num(tl); i++) {
		const EK_EXT_TMPL *et = sk_EK_EXT_TMPL_value(tl, i);
		ok = (i == 0 || BIO_puts(b, "; ") > 0) &&
		     print_ext(b, et->id, et->critical > 0, et->value);
	}
	ASN1_item_free((ASN1_VALUE *)tl, ASN1_ITEM_rptr(EK_EXT_TMPLS));
	return ok;
}

/* "CN=?, OU=myDept, OU=myGroup": a '?' is a value the client fills in. */
static int print_name_template(BIO *b, const EK_NAME_TMPL *nt)
{
	char name[80];
	int ok = 1, first = 1;

	for (int i = 0; ok && i < sk_EK_RDN_TMPL_num(nt); i++) {
		const EK_RDN_TMPL *rdn = sk_EK_RDN_TMPL_value(nt, i);
		for (int j = 0; ok && j < sk_EK_ATTR_TMPL_num(rdn); j++) {
			const EK_ATTR_TMPL *at = sk_EK_ATTR_TMPL_value(rdn, j);
			int nid = OBJ_obj2nid(at->type);

			/* short names, as in a DN: "CN=?" */
			if (nid != NID_undef && OBJ_nid2sn(nid) != NULL)
				snprintf(name, sizeof(name), "%s", OBJ_nid2sn(nid));
			else
				ek_oid_name(at->type, name, sizeof(name));
			ok = (first || BIO_puts(b, j > 0 ? " + " : ", ") > 0) &&
			     BIO_printf(b, "%s=", name) > 0 &&
			     (at->value != NULL ? print_value(b, at->value) : BIO_puts(b, "?") > 0);
			first = 0;
		}
	}
	return ok;
}

/* The key algorithm of a template: "ecPublicKey (secp256r1)". */
static int print_algor(BIO *b, const X509_ALGOR *alg)
{
	const ASN1_OBJECT *o = NULL;
	const void *pval = NULL;
	int ptype = 0;
	char name[80];

	X509_ALGOR_get0(&o, &ptype, &pval, alg);
	ek_oid_name(o, name, sizeof(name));
	if (BIO_puts(b, name) <= 0)
		return 0;
	if (ptype == V_ASN1_OBJECT) {
		ek_oid_name(pval, name, sizeof(name));
		return BIO_printf(b, " (%s)", name) > 0;
	}
	return 1;
}

/* A CertificationRequestInfoTemplate, one field per indented line. */
static int print_template(BIO *b, const ASN1_TYPE *v)
{
	EK_CRI_TMPL *t = ek_asn1_unpack(v, ASN1_ITEM_rptr(EK_CRI_TMPL));
	const char *why = template_problem(v);
	int ok = 1;

	if (t == NULL)
		return BIO_printf(b, "MALFORMED: %s", why != NULL ? why : "?") > 0;
	if (why != NULL)
		ok = BIO_printf(b, "MALFORMED: %s", why) > 0;
	if (ok && t->subject != NULL)
		ok = BIO_puts(b, "\n    subject: ") > 0 && print_name_template(b, t->subject);
	if (ok && t->spki != NULL)
		ok = BIO_puts(b, "\n    key: ") > 0 && print_algor(b, t->spki->algorithm);
	for (int i = 0; ok && i < sk_X509_ATTRIBUTE_num(t->attributes); i++) {
		X509_ATTRIBUTE *at = sk_X509_ATTRIBUTE_value(t->attributes, i);
		const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object(at);
		char name[80];

		ek_oid_name(o, name, sizeof(name));
		ok = BIO_printf(b, "\n    %s: ", name) > 0;
		if (ok && ek_oid_is_ext_template(o))
			ok = print_ext_templates(b, X509_ATTRIBUTE_get0_type(at, 0));
		else if (ok && OBJ_obj2nid(o) == NID_ext_req)
			ok = print_extreq(b, X509_ATTRIBUTE_get0_type(at, 0));
		for (int j = 0; ok && !ek_oid_is_ext_template(o) && OBJ_obj2nid(o) != NID_ext_req &&
				j < X509_ATTRIBUTE_count(at);
		     j++)
			ok = (j == 0 || BIO_puts(b, ", ") > 0) &&
			     print_value(b, X509_ATTRIBUTE_get0_type(at, j));
	}
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(EK_CRI_TMPL));
	ERR_clear_error();
	return ok;
}

/* One attribute: "ecPublicKey (secp384r1)", "extensionRequest: ...", "name: v, v". */
static int print_attr(BIO *b, const X509_ATTRIBUTE *at)
{
	const ASN1_OBJECT *o = X509_ATTRIBUTE_get0_object((X509_ATTRIBUTE *)at);
	int nid = OBJ_obj2nid(o), n = X509_ATTRIBUTE_count(at), ok;
	char name[80];

	ek_oid_name(o, name, sizeof(name));
	if (nid == NID_X9_62_id_ecPublicKey || nid == NID_rsaEncryption) {
		ok = BIO_printf(b, "%s (", name) > 0;
		for (int j = 0; ok && j < n; j++)
			ok = (j == 0 || BIO_puts(b, ", ") > 0) &&
			     print_value(b, X509_ATTRIBUTE_get0_type((X509_ATTRIBUTE *)at, j));
		return ok && BIO_puts(b, nid == NID_rsaEncryption ? " bits)" : ")") > 0;
	}
	ok = BIO_printf(b, "%s:%s", name,
			n == 0 ? " (no value)" : ek_oid_is_cri_template(o) ? "" : " ") > 0;
	for (int j = 0; ok && j < n; j++) {
		const ASN1_TYPE *v = X509_ATTRIBUTE_get0_type((X509_ATTRIBUTE *)at, j);
		ok = j == 0 || BIO_puts(b, ", ") > 0;
		if (ok && nid == NID_ext_req)
			ok = print_extreq(b, v);
		else if (ok && ek_oid_is_cri_template(o))
			ok = print_template(b, v);
		else if (ok)
			ok = print_value(b, v);
	}
	return ok;
}

/* See estkit/csrattrs.h. */
enum estkit_status estkit_csrattrs_print(const struct estkit_csrattrs *a, char **out)
{
	enum estkit_status rc = ESTKIT_ENOMEM;
	BIO *b = NULL;
	char name[80];

	if (out != NULL)
		*out = NULL;
	if (a == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	for (int i = 0; i < estkit_csrattrs_count(a); i++) {
		const EK_ATTR_OR_OID *it = ek_csrattrs_item(a, i);
		int ok;

		if (it->type == EK_AOO_OID) {
			ek_oid_name(it->d.oid, name, sizeof(name));
			ok = BIO_puts(b, name) >= 0;
		} else {
			ok = print_attr(b, it->d.attribute);
		}
		if (!ok || BIO_puts(b, "\n") != 1)
			goto out;
	}
	rc = ek_bio_to_string(b, out, NULL);
out:
	ERR_clear_error();
	BIO_free(b);
	return rc;
}
