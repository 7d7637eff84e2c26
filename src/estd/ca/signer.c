/*
 * signer.c - the in-process signer: the CA key and the only code that uses it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <estkit/pki.h>

#include <estkit/cmc.h>
#include "ca/signer.h"

struct estd_signer {
	EVP_PKEY *key;
};

/* The digest for a key: NULL for the EdDSA keys that hash internally. */
static const EVP_MD *digest_for(EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		return NULL;
	if (EVP_PKEY_is_a(key, "EC")) {
		int bits = EVP_PKEY_get_bits(key);

		if (bits > 384)
			return EVP_sha512();
		if (bits > 256)
			return EVP_sha384();
	}
	return EVP_sha256();
}

static int key_supported(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "EC") ||
	       EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
}

enum estkit_status estd_signer_new(EVP_PKEY *key, struct estd_signer **out)
{
	struct estd_signer *s = NULL;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (key == NULL || !key_supported(key))
		return ESTKIT_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ESTKIT_ENOMEM;
	if (!EVP_PKEY_up_ref(key)) {
		free(s);
		return ESTKIT_ECRYPTO;
	}
	s->key = key;
	*out = s;
	return ESTKIT_OK;
}

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A heap copy of a formatted message for *err (NULL-safe). */
static void set_err(char **err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	size_t n;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf) + 1;
	*err = malloc(n);
	if (*err != NULL)
		memcpy(*err, buf, n);
}

enum estkit_status estd_signer_load(const char *path, struct estd_signer **out, char **err)
{
	EVP_PKEY *key = NULL;
	enum estkit_status rc;

	if (err != NULL)
		*err = NULL;
	if (out == NULL || path == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	rc = estkit_key_load(path, &key);
	if (rc != ESTKIT_OK) {
		set_err(err, "cannot read CA key %s: %s", path, estkit_strerror(rc));
		goto out;
	}
	rc = estd_signer_new(key, out);
	if (rc != ESTKIT_OK)
		set_err(err, "CA key %s: %s", path, "unsupported key type (RSA, EC, Ed25519, Ed448)");
out:
	EVP_PKEY_free(key);
	return rc;
}

void estd_signer_free(struct estd_signer *s)
{
	if (s == NULL)
		return;
	/* EVP_PKEY_free wipes the key material (OpenSSL clears private key buffers). */
	EVP_PKEY_free(s->key);
	free(s);
}

enum estkit_status estd_signer_sign_cert(struct estd_signer *s, X509 *tbs)
{
	EVP_MD_CTX *mctx = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	if (s == NULL || tbs == NULL)
		return ESTKIT_EINVAL;
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL)
		return ESTKIT_ENOMEM;
	if (EVP_DigestSignInit(mctx, NULL, digest_for(s->key), NULL, s->key) != 1)
		goto out;
	if (X509_sign_ctx(tbs, mctx) <= 0)
		goto out;
	rc = ESTKIT_OK;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int estd_signer_matches_cert(const struct estd_signer *s, X509 *cert)
{
	EVP_PKEY *pub = NULL;

	if (s == NULL || cert == NULL)
		return 0;
	pub = X509_get0_pubkey(cert);
	if (pub == NULL)
		return 0;
	ERR_set_mark();
	/* EVP_PKEY_eq compares the public halves; 1 only on an exact match. */
	if (EVP_PKEY_eq(pub, s->key) == 1) {
		ERR_pop_to_mark();
		return 1;
	}
	ERR_pop_to_mark();
	return 0;
}

enum estkit_status estd_signer_public_key(const struct estd_signer *s, EVP_PKEY **out)
{
	unsigned char *der = NULL;
	const unsigned char *p = NULL;
	int len;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (s == NULL)
		return ESTKIT_EINVAL;
	/* A round trip through SubjectPublicKeyInfo drops the private half. */
	len = i2d_PUBKEY(s->key, &der);
	if (len <= 0)
		return ESTKIT_ECRYPTO;
	p = der;
	*out = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return *out != NULL ? ESTKIT_OK : ESTKIT_ECRYPTO;
}

/* See signer.h. */
enum estkit_status estd_signer_sign_cms(struct estd_signer *s, X509 *cert,
					const unsigned char *content, size_t len,
					STACK_OF(X509) *extra, unsigned char **out, size_t *outlen)
{
	if (s == NULL || cert == NULL)
		return ESTKIT_EINVAL;
	return estkit_cmc_sign(content, len, 1, cert, s->key, extra, out, outlen);
}

/* See signer.h. */
enum estkit_status estd_signer_sign_crl(struct estd_signer *s, X509_CRL *crl)
{
	if (s == NULL || crl == NULL)
		return ESTKIT_EINVAL;
	return X509_CRL_sign(crl, s->key, digest_for(s->key)) > 0 ? ESTKIT_OK : ESTKIT_ECRYPTO;
}
