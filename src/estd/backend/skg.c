/*
 * backend/skg.c - key choice and key-encryption keys for /serverkeygen
 * (RFC 7030 4.4.1). Nothing here keeps a private key: the generated key goes
 * to the server, which wipes it after the response is built.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include <estkit/pki.h>

#include "backend/skg.h"
#include "util.h"

#define KEK_FILE_MAX 4096

/* The spec reproducing the CSR's key type ("rsa:3072", "ec:P-384", "ed25519"). */
static int spec_of_csr(X509_REQ *csr, char *spec, size_t len)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
	char group[80];

	switch (pub != NULL ? EVP_PKEY_get_base_id(pub) : 0) {
	case EVP_PKEY_RSA:
		snprintf(spec, len, "rsa:%d", EVP_PKEY_get_bits(pub));
		return 0;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), NULL))
			return -1;
		snprintf(spec, len, "ec:%s", group);
		return 0;
	case EVP_PKEY_ED25519:
		snprintf(spec, len, "ed25519");
		return 0;
	default:
		return -1;
	}
}

enum estkit_status estd_skg_generate(const struct estd_label *label, X509_REQ *csr,
				     EVP_PKEY **out, char *reason, size_t rlen)
{
	char spec[96];
	enum estkit_status rc;

	*out = NULL;
	if (label != NULL && label->serverkeygen_key != NULL)
		snprintf(spec, sizeof(spec), "%s", label->serverkeygen_key);
	else if (spec_of_csr(csr, spec, sizeof(spec)) != 0) {
		ERR_clear_error();
		snprintf(reason, rlen, "cannot generate a key of the CSR's key type");
		return ESTKIT_EPOLICY;
	}
	rc = estkit_key_generate(spec, out);
	if (rc == ESTKIT_EINVAL) {
		snprintf(reason, rlen, "cannot generate a key like the CSR's (%s)", spec);
		return ESTKIT_EPOLICY;
	}
	if (rc != ESTKIT_OK)
		snprintf(reason, rlen, "key generation failed (%s)", spec);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text (white space ignored) -> 16, 24 or 32 bytes. */
static enum estkit_status parse_hex_key(const unsigned char *text, size_t len,
					unsigned char *key, size_t *keylen)
{
	size_t i, n = 0;
	int hi = -1, v;

	for (i = 0; i < len; i++) {
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')
			continue;
		v = hexval(text[i]);
		if (v < 0 || n == 32)
			return ESTKIT_EPARSE;
		if (hi < 0) {
			hi = v;
			continue;
		}
		key[n++] = (unsigned char)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0 || (n != 16 && n != 24 && n != 32))
		return ESTKIT_EPARSE;
	*keylen = n;
	return ESTKIT_OK;
}

enum estkit_status estd_skg_kek(const struct estd_label *label, const unsigned char *id,
				size_t idlen, unsigned char **kek, size_t *keklen)
{
	const char *v = label != NULL ? label->serverkeygen_kek : NULL;
	const char *colon = v != NULL ? strchr(v, ':') : NULL;
	unsigned char *text = NULL, buf[32];
	size_t len = 0;
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	*kek = NULL;
	*keklen = 0;
	/* RFC 7030 4.4.1.1: the identifier names the key; compare in constant time */
	if (colon == NULL || (size_t)(colon - v) != idlen ||
	    CRYPTO_memcmp(v, id, idlen) != 0)
		return ESTKIT_ENOTFOUND;
	rc = estkit_file_read(colon + 1, &text, &len);
	if (rc != ESTKIT_OK)
		return ESTKIT_EIO;
	rc = len > KEK_FILE_MAX ? ESTKIT_EPARSE : parse_hex_key(text, len, buf, keklen);
	if (rc == ESTKIT_OK && (*kek = OPENSSL_memdup(buf, *keklen)) == NULL)
		rc = ESTKIT_ENOMEM;
	if (rc != ESTKIT_OK)
		*keklen = 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	estkit_free_secret(text, len);
	return rc;
}

int estd_skg_kek_syntax_ok(const char *v)
{
	const char *colon = strchr(v, ':'), *p;

	if (colon == NULL || colon == v || colon - v > ESTD_KEK_ID_MAX || colon[1] == '\0')
		return 0;
	for (p = v; p < colon; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

int estd_skg_keyspec_ok(const char *spec)
{
	long long bits = 0;
	EVP_PKEY *k = NULL;

	if (strncasecmp(spec, "rsa:", 4) == 0)
		return estd_parse_ll(spec + 4, 2048, 8192, &bits) == 0 && bits % 8 == 0;
	if (strcasecmp(spec, "rsa") == 0)
		return 1;
	/* EC and Ed25519 keys are cheap: let the generator itself judge the spec */
	if (estkit_key_generate(spec, &k) != ESTKIT_OK)
		return 0;
	EVP_PKEY_free(k);
	return 1;
}
