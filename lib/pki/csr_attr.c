/*
 * csr_attr.c - the single-valued string attributes of a PKCS#10 request that
 * EST uses: PKCS#9 challengePassword (RFC 2985 5.4.1; RFC 7030 3.5 carries the
 * channel binding in it) and the RFC 7894 attributes otpChallenge,
 * revocationChallenge and estIdentityLinking. Each is a DirectoryString of at
 * most 255 characters, SINGLE VALUE TRUE.
 */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

#define ATTR_MAX 255 /* ub-challenge-password, ub-aa-otpChallenge, ... (RFC 2985, RFC 7894) */

/* RFC 7894 4: id-aa 56, 57, 58 (id-aa = 1.2.840.113549.1.9.16.2). */
static const char *const attr_oid[] = {
	[ESTKIT_ATTR_CHALLENGE_PASSWORD] = "1.2.840.113549.1.9.7",
	[ESTKIT_ATTR_OTP_CHALLENGE] = "1.2.840.113549.1.9.16.2.56",
	[ESTKIT_ATTR_REVOCATION_CHALLENGE] = "1.2.840.113549.1.9.16.2.57",
	[ESTKIT_ATTR_EST_IDENTITY_LINKING] = "1.2.840.113549.1.9.16.2.58",
};

static ASN1_OBJECT *attr_obj(enum estkit_csr_attr attr)
{
	if ((unsigned)attr >= sizeof(attr_oid) / sizeof(attr_oid[0]))
		return NULL;
	return OBJ_txt2obj(attr_oid[attr], 1);
}

/* DirectoryString (RFC 5280 4.1.2.4) -> UTF-8, refusing NUL bytes and over-long values. */
static enum estkit_status dirstring_utf8(const ASN1_TYPE *t, char **out)
{
	unsigned char *utf8 = NULL;
	int n = 0;

	switch (t->type) {
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_UTF8STRING:
	case V_ASN1_T61STRING:
	case V_ASN1_BMPSTRING:
	case V_ASN1_UNIVERSALSTRING:
		break;
	default:
		return ESTKIT_EPARSE;
	}
	n = ASN1_STRING_to_UTF8(&utf8, t->value.asn1_string);
	if (n < 0)
		return ESTKIT_EPARSE;
	if (n > ATTR_MAX || memchr(utf8, '\0', (size_t)n) != NULL) {
		OPENSSL_free(utf8);
		return ESTKIT_EPARSE;
	}
	*out = (char *)utf8; /* NUL-terminated by ASN1_STRING_to_UTF8 */
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_get_attr(X509_REQ *csr, enum estkit_csr_attr attr, char **out)
{
	ASN1_OBJECT *obj = NULL;
	X509_ATTRIBUTE *a = NULL;
	ASN1_TYPE *t = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	int idx = -1;

	if (out != NULL)
		*out = NULL;
	if (csr == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((obj = attr_obj(attr)) == NULL)
		goto out;
	rc = ESTKIT_ENOTFOUND;
	if ((idx = X509_REQ_get_attr_by_OBJ(csr, obj, -1)) < 0)
		goto out;
	rc = ESTKIT_EPARSE;
	/* SINGLE VALUE TRUE: one attribute holding exactly one value */
	if (X509_REQ_get_attr_by_OBJ(csr, obj, idx) >= 0)
		goto out;
	a = X509_REQ_get_attr(csr, idx);
	if (X509_ATTRIBUTE_count(a) != 1 || (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
		goto out;
	rc = dirstring_utf8(t, out);
out:
	ASN1_OBJECT_free(obj);
	return rc;
}

/* Removes every attribute with obj. */
static void remove_attr(X509_REQ *csr, const ASN1_OBJECT *obj)
{
	int idx = -1;

	while ((idx = X509_REQ_get_attr_by_OBJ(csr, obj, -1)) >= 0)
		X509_ATTRIBUTE_free(X509_REQ_delete_attr(csr, idx));
}

/* 1 when every byte of v is a PrintableString character (X.680 41.4). */
static int printable(const char *v)
{
	static const char extra[] = " '()+,-./:=?";

	for (; *v != '\0'; v++)
		if (!((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') ||
		      (*v >= '0' && *v <= '9') || strchr(extra, *v) != NULL))
			return 0;
	return 1;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_set_attr(X509_REQ *csr, enum estkit_csr_attr attr,
				       const char *value)
{
	ASN1_OBJECT *obj = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	size_t len = 0;
	int type = 0;

	if (csr == NULL || value == NULL || (len = strlen(value)) == 0 || len > ATTR_MAX)
		return ESTKIT_EINVAL;
	if ((obj = attr_obj(attr)) == NULL)
		goto out;
	remove_attr(csr, obj);
	/* PrintableString where it fits (what older servers expect), else UTF8String */
	type = printable(value) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
	rc = ESTKIT_ECRYPTO;
	if (!X509_REQ_add1_attr_by_OBJ(csr, obj, type, (const unsigned char *)value, (int)len))
		goto out;
	rc = ESTKIT_OK;
out:
	ASN1_OBJECT_free(obj);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_sign(X509_REQ *csr, EVP_PKEY *key)
{
	if (csr == NULL || key == NULL)
		return ESTKIT_EINVAL;
	if (X509_REQ_set_pubkey(csr, key) != 1 || X509_REQ_sign(csr, key, ek_pki_sign_md(key)) <= 0)
		return ESTKIT_ECRYPTO;
	return ESTKIT_OK;
}
