/*
 * keyid_attr.c - the CSR attributes that ask for a server-generated key to
 * be encrypted (RFC 7030 4.4.1.1 DecryptKeyIdentifier, 4.4.1.2
 * AsymmetricDecryptKeyIdentifier; both an OCTET STRING), and PKCS#8 decoding.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <estkit/pki.h>
#include <estkit/serverkeygen.h>
#include "pki_internal.h"

static ASN1_OBJECT *kind_obj(enum estkit_key_id_kind kind)
{
	const char *oid = kind == ESTKIT_KEY_ID_ASYMMETRIC ? ESTKIT_OID_ASYMM_DECRYPT_KEY_ID
							   : ESTKIT_OID_DECRYPT_KEY_ID;

	if (kind != ESTKIT_KEY_ID_SYMMETRIC && kind != ESTKIT_KEY_ID_ASYMMETRIC)
		return NULL;
	return OBJ_txt2obj(oid, 1);
}

/* See estkit/serverkeygen.h. */
enum estkit_status estkit_csr_add_key_id(X509_REQ *csr, enum estkit_key_id_kind kind,
					 const unsigned char *id, size_t len, EVP_PKEY *sign_key)
{
	ASN1_OBJECT *obj = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (csr == NULL || id == NULL || len == 0 || len > ESTKIT_KEY_ID_MAX)
		return ESTKIT_EINVAL;
	obj = kind_obj(kind);
	if (obj == NULL)
		return ESTKIT_EINVAL;
	if (X509_REQ_get_attr_by_OBJ(csr, obj, -1) >= 0) {
		ASN1_OBJECT_free(obj);
		return ESTKIT_EEXIST;
	}
	rc = X509_REQ_add1_attr_by_OBJ(csr, obj, V_ASN1_OCTET_STRING, id, (int)len) == 1
		     ? ESTKIT_OK
		     : ESTKIT_ENOMEM;
	if (rc == ESTKIT_OK && sign_key != NULL &&
	    X509_REQ_sign(csr, sign_key, ek_pki_sign_md(sign_key)) <= 0)
		rc = ESTKIT_ECRYPTO;
	ASN1_OBJECT_free(obj);
	return rc;
}

/* The one OCTET STRING value of attribute a, or NULL. */
static const ASN1_OCTET_STRING *attr_octets(X509_ATTRIBUTE *a)
{
	ASN1_TYPE *t = NULL;

	if (X509_ATTRIBUTE_count(a) != 1)
		return NULL;
	t = X509_ATTRIBUTE_get0_type(a, 0);
	if (t == NULL || t->type != V_ASN1_OCTET_STRING)
		return NULL;
	return t->value.octet_string;
}

/* See estkit/serverkeygen.h. */
enum estkit_status estkit_csr_get_key_id(X509_REQ *csr, enum estkit_key_id_kind kind,
					 unsigned char **id, size_t *len)
{
	ASN1_OBJECT *obj = NULL;
	const ASN1_OCTET_STRING *os = NULL;
	int loc = -1, n = 0;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (id != NULL)
		*id = NULL;
	if (len != NULL)
		*len = 0;
	if (csr == NULL || id == NULL || len == NULL || (obj = kind_obj(kind)) == NULL)
		return ESTKIT_EINVAL;
	loc = X509_REQ_get_attr_by_OBJ(csr, obj, -1);
	if (loc < 0) {
		rc = ESTKIT_ENOTFOUND;
		goto out;
	}
	rc = ESTKIT_EPARSE;
	if (X509_REQ_get_attr_by_OBJ(csr, obj, loc) >= 0)
		goto out; /* twice */
	os = attr_octets(X509_REQ_get_attr(csr, loc));
	n = os != NULL ? ASN1_STRING_length(os) : 0;
	if (n <= 0 || n > ESTKIT_KEY_ID_MAX)
		goto out;
	*id = OPENSSL_memdup(ASN1_STRING_get0_data(os), (size_t)n);
	if (*id == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	*len = (size_t)n;
	rc = ESTKIT_OK;
out:
	ASN1_OBJECT_free(obj);
	return rc;
}

/* See estkit/serverkeygen.h. */
enum estkit_status estkit_pkcs8_decode(const unsigned char *der, size_t len, EVP_PKEY **out)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	enum estkit_status rc = ESTKIT_EPARSE;

	if (out != NULL)
		*out = NULL;
	if (der == NULL || out == NULL || len == 0 || len > ESTKIT_MAX_DECODE)
		return ESTKIT_EINVAL;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (p8 == NULL || p != der + len)
		goto out;
	*out = EVP_PKCS82PKEY(p8);
	if (*out != NULL)
		rc = ESTKIT_OK;
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	return rc;
}
