/*
 * csr_new.c - building and signing a PKCS#10 request.
 */
#include <string.h>
#include <strings.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* See pki_internal.h. */
GENERAL_NAME *ek_san_parse(const char *s)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = {{"DNS:", GEN_DNS}, {"IP:", GEN_IPADD}, {"URI:", GEN_URI}, {"email:", GEN_EMAIL}};
	GENERAL_NAME *gen = NULL;
	ASN1_STRING *val = NULL;
	const char *v = NULL;
	int type = -1;

	for (size_t i = 0; s != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (strncasecmp(s, kinds[i].prefix, n) == 0) {
			v = s + n;
			type = kinds[i].type;
			break;
		}
	}
	if (v == NULL || *v == '\0' || strlen(v) > 1024)
		return NULL;
	if (type == GEN_IPADD) {
		val = a2i_IPADDRESS(v);
	} else if ((val = ASN1_IA5STRING_new()) != NULL &&
		   !ASN1_STRING_set(val, v, (int)strlen(v))) {
		ASN1_STRING_free(val);
		val = NULL;
	}
	if (val == NULL || (gen = GENERAL_NAME_new()) == NULL) {
		ASN1_STRING_free(val);
		return NULL;
	}
	GENERAL_NAME_set0_value(gen, type, val);
	return gen;
}

/* Adds an extensionRequest attribute holding subjectAltName (RFC 2985 5.4.2). */
static enum estkit_status add_sans(X509_REQ *req, const char *const *sans, size_t nsans)
{
	enum estkit_status rc = ESTKIT_EINVAL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gen = NULL;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		goto out;
	for (size_t i = 0; i < nsans; i++) {
		if ((gen = ek_san_parse(sans[i])) == NULL)
			goto out;
		if (!sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			rc = ESTKIT_ENOMEM;
			goto out;
		}
	}
	rc = ESTKIT_ECRYPTO;
	if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) != 1)
		goto out;
	if (!X509_REQ_add_extensions(req, exts))
		goto out;
	rc = ESTKIT_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* Fills in everything but the signature. */
static enum estkit_status csr_fill(X509_REQ *req, EVP_PKEY *key, const char *subject,
				   const char *const *sans, size_t nsans, const char *challenge)
{
	enum estkit_status rc;
	X509_NAME *name = NULL;

	if ((rc = estkit_name_parse(subject, &name)) != ESTKIT_OK)
		return rc;
	rc = ESTKIT_ECRYPTO;
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(req, name) ||
	    !X509_REQ_set_pubkey(req, key))
		goto out;
	if (nsans > 0 && (rc = add_sans(req, sans, nsans)) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ECRYPTO;
	/* RFC 7030 3.5: the channel-binding value travels as challengePassword. */
	if (challenge != NULL &&
	    !X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
				       (const unsigned char *)challenge, -1))
		goto out;
	rc = ESTKIT_OK;
out:
	X509_NAME_free(name);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_new(EVP_PKEY *key, const char *subject, const char *const *sans,
				  size_t nsans, const char *challenge_password, X509_REQ **out)
{
	enum estkit_status rc;
	X509_REQ *req = NULL;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || subject == NULL || out == NULL || (sans == NULL && nsans > 0))
		return ESTKIT_EINVAL;
	if (challenge_password != NULL && strlen(challenge_password) > 255)
		return ESTKIT_EINVAL; /* RFC 2985: ub-challenge-password is 255 */
	if ((req = X509_REQ_new()) == NULL)
		return ESTKIT_ENOMEM;
	if ((rc = csr_fill(req, key, subject, sans, nsans, challenge_password)) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ECRYPTO;
	if (X509_REQ_sign(req, key, ek_pki_sign_md(key)) <= 0)
		goto out;
	*out = req;
	req = NULL;
	rc = ESTKIT_OK;
out:
	X509_REQ_free(req);
	return rc;
}
