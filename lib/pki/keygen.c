/*
 * keygen.c - key generation from a short spec, and describing a key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Maps EC spellings to the group name OpenSSL's EC keygen takes. */
static const char *ec_group(const char *name)
{
	static const struct {
		const char *alias;
		const char *group;
	} groups[] = {
		{"P-256", "P-256"},     {"prime256v1", "P-256"}, {"secp256r1", "P-256"},
		{"P-384", "P-384"},     {"secp384r1", "P-384"},  {"P-521", "P-521"},
		{"secp521r1", "P-521"},
	};

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strcasecmp(name, groups[i].alias) == 0)
			return groups[i].group;
	}
	return NULL;
}

/* "2048" .. "8192", multiple of 8; 0 when not. */
static size_t rsa_bits(const char *s)
{
	char *end = NULL;
	long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 2048 || v > 8192 || v % 8 != 0)
		return 0;
	return (size_t)v;
}

/* See estkit/pki.h. */
enum estkit_status estkit_key_generate(const char *spec, EVP_PKEY **out)
{
	const char *group = NULL;
	EVP_PKEY *key = NULL;
	size_t bits = 0;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return ESTKIT_EINVAL;
	if (spec == NULL || *spec == '\0' || strcasecmp(spec, "ec") == 0)
		group = "P-256";
	else if (strncasecmp(spec, "ec:", 3) == 0)
		group = ec_group(spec + 3);
	else if (strcasecmp(spec, "rsa") == 0)
		bits = 3072;
	else if (strncasecmp(spec, "rsa:", 4) == 0)
		bits = rsa_bits(spec + 4);
	else if (strcasecmp(spec, "ed25519") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		group = ec_group(spec);

	if (key == NULL && group == NULL && bits == 0)
		return ESTKIT_EINVAL;
	if (group != NULL)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
	else if (bits != 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
	if (key == NULL)
		return ESTKIT_ECRYPTO;
	*out = key;
	return ESTKIT_OK;
}

/* See pki_internal.h. */
const EVP_MD *ek_pki_sign_md(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448: return NULL;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_bits(key) >= 521)
			return EVP_sha512();
		if (EVP_PKEY_get_bits(key) >= 384)
			return EVP_sha384();
		return EVP_sha256();
	default: return EVP_sha256();
	}
}

/* The curve of an EC key as a static string: NIST name if it has one, else SN. */
static const char *ec_curve_name(EVP_PKEY *key)
{
	char name[80];
	const char *nist;
	int nid;

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					    NULL))
		return NULL;
	if ((nid = OBJ_sn2nid(name)) == NID_undef && (nid = OBJ_ln2nid(name)) == NID_undef &&
	    (nid = EC_curve_nist2nid(name)) == NID_undef)
		return NULL;
	if ((nist = EC_curve_nid2nist(nid)) != NULL)
		return nist;
	return OBJ_nid2sn(nid);
}

/* See estkit/pki.h. */
enum estkit_status estkit_key_describe(EVP_PKEY *key, const char **type, int *bits,
				       const char **curve)
{
	const char *t = NULL, *c = NULL;

	if (type != NULL)
		*type = NULL;
	if (bits != NULL)
		*bits = 0;
	if (curve != NULL)
		*curve = NULL;
	if (key == NULL)
		return ESTKIT_EINVAL;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS: t = "RSA"; break;
	case EVP_PKEY_EC: t = "EC"; break;
	case EVP_PKEY_ED25519: t = "ED25519"; break;
	case EVP_PKEY_ED448: t = "ED448"; break;
	case EVP_PKEY_DSA: t = "DSA"; break;
	default: return ESTKIT_EINVAL;
	}
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && (c = ec_curve_name(key)) == NULL)
		return ESTKIT_ECRYPTO;
	if (type != NULL)
		*type = t;
	if (bits != NULL)
		*bits = EVP_PKEY_get_bits(key);
	if (curve != NULL)
		*curve = c;
	return ESTKIT_OK;
}
