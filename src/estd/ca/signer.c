/*
 * signer.c - the signer: the CA key and the only code that uses it. Inline
 * (the key in this process: `estd init`, the admin commands, [ca] signer =
 * inline, and the signer workers themselves), or forwarding to the signer
 * process (signer_proc.h) when `estd run` installed one.
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
#include "ca/signer_pkcs11.h"
#include "ca/signer_proc.h"
#include "util.h"

struct estd_signer {
	EVP_PKEY *key;                 /* inline: the private key; process: its public half */
	struct estd_signer_proc *proc; /* NULL: inline */
	int slot;                      /* process: the key slot in the signer process */
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

/* A signer for a key the signer process holds: its public half, fetched once. */
static enum estkit_status open_remote(struct estd_signer_proc *p, const char *path,
				      struct estd_signer **out, char **err)
{
	struct estd_signer_msg req, rsp;
	const unsigned char *q = NULL;
	EVP_PKEY *pub = NULL;
	enum estkit_status rc;
	int slot = estd_signer_proc_slot(p, path);

	memset(&req, 0, sizeof(req));
	if (slot < 0) {
		set_err(err, "%s is not a key the signer process loaded at start; restart estd to "
			     "use it", path);
		return ESTKIT_ENOTFOUND;
	}
	req.op = ESTD_SIGNER_OP_PUBKEY;
	req.key = slot;
	rc = estd_signer_proc_call(p, &req, &rsp);
	if (rc == ESTKIT_OK && rsp.status != ESTKIT_OK) {
		set_err(err, "%s", rsp.reason != NULL ? rsp.reason : "the signer refused");
		rc = (enum estkit_status)rsp.status;
	} else if (rc != ESTKIT_OK) {
		set_err(err, "CA key %s: the signer process does not answer", path);
	} else {
		q = rsp.data;
		pub = d2i_PUBKEY(NULL, &q, (long)rsp.len);
		rc = pub != NULL ? ESTKIT_OK : ESTKIT_EPROTO;
	}
	if (rc == ESTKIT_OK && (*out = calloc(1, sizeof(**out))) == NULL)
		rc = ESTKIT_ENOMEM;
	if (rc == ESTKIT_OK) {
		(*out)->key = pub;
		(*out)->proc = p;
		(*out)->slot = slot;
		pub = NULL;
	}
	EVP_PKEY_free(pub);
	estd_signer_msg_clear(&rsp);
	return rc;
}

static enum estkit_status load_ref(const char *path, const char *module, const char *pin_file,
				   struct estd_signer **out, char **err)
{
	struct estd_signer_proc *p = estd_signer_proc_installed();
	EVP_PKEY *key = NULL;
	enum estkit_status rc;

	if (err != NULL)
		*err = NULL;
	if (out == NULL || path == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (p != NULL)
		return open_remote(p, path, out, err);
	if (estd_signer_is_pkcs11(path)) {
		char *perr = NULL;

		rc = estd_signer_pkcs11_load(path, module, pin_file, &key, &perr);
		if (rc != ESTKIT_OK) {
			set_err(err, "%s", perr != NULL ? perr : "cannot open the PKCS#11 key");
			free(perr);
			goto out;
		}
	} else {
		rc = estkit_key_load(path, &key);
		if (rc != ESTKIT_OK) {
			set_err(err, "cannot read CA key %s: %s", path, estkit_strerror(rc));
			goto out;
		}
	}
	rc = estd_signer_new(key, out);
	if (rc != ESTKIT_OK)
		set_err(err, "CA key %s: %s", path, "unsupported key type (RSA, EC, Ed25519, Ed448)");
out:
	EVP_PKEY_free(key);
	return rc;
}

enum estkit_status estd_signer_load(const char *path, struct estd_signer **out, char **err)
{
	return load_ref(path, NULL, NULL, out, err);
}

enum estkit_status estd_signer_load_cfg(const char *ref, const struct estd_config *cfg,
					struct estd_signer **out, char **err)
{
	return load_ref(ref, cfg != NULL ? cfg->ca_pkcs11_module : NULL,
			cfg != NULL ? cfg->ca_key_pin_file : NULL, out, err);
}

void estd_signer_free(struct estd_signer *s)
{
	if (s == NULL)
		return;
	/* EVP_PKEY_free wipes the key material (OpenSSL clears private key buffers). */
	EVP_PKEY_free(s->key);
	free(s);
}

/* One request to the signer process; ESTKIT_ECRYPTO (503 for clients) unless it signed. */
static enum estkit_status remote_call(struct estd_signer *s, struct estd_signer_msg *req,
				      struct estd_signer_msg *rsp)
{
	enum estkit_status rc = estd_signer_proc_call(s->proc, req, rsp);

	if (rc == ESTKIT_OK && rsp->status != ESTKIT_OK)
		rc = ESTKIT_ECRYPTO; /* estd_signer_proc_call() logged why */
	if (rc != ESTKIT_OK)
		estd_signer_msg_clear(rsp);
	return rc == ESTKIT_OK ? ESTKIT_OK : ESTKIT_ECRYPTO;
}

/*
 * Sends x (or crl) to the signer process and turns x into the signed
 * object in place: callers keep their pointer (signer.h). The extra
 * reference makes a failed decode free nothing of the caller's (d2i
 * releases a reference, not the object, when it fails on a reused one).
 */
static enum estkit_status remote_sign(struct estd_signer *s, int op, X509 *x, X509_CRL *crl,
				      enum estd_cert_key key, X509 **copy)
{
	struct estd_signer_msg req, rsp;
	unsigned char *der = NULL;
	const unsigned char *p = NULL;
	X509 *xr = x;
	X509_CRL *cr = crl;
	enum estkit_status rc;

	memset(&req, 0, sizeof(req));
	rc = x != NULL ? estd_signer_tbs_cert(x, &der, &req.len)
		       : estd_signer_tbs_crl(crl, &der, &req.len);
	if (rc != ESTKIT_OK)
		return ESTKIT_ECRYPTO;
	req.op = op;
	req.key = s->slot;
	req.data = der;
	rc = remote_call(s, &req, &rsp);
	OPENSSL_free(der);
	if (rc != ESTKIT_OK)
		return rc;
	p = rsp.data;
	if (copy != NULL) {
		/* a fresh object from the signed DER: the one parse the caller needs anyway */
		if (key == ESTD_CERT_KEY_DECODED) {
			*copy = d2i_X509(NULL, &p, (long)rsp.len);
			rc = *copy != NULL ? ESTKIT_OK : ESTKIT_EPROTO;
		} else {
			rc = estd_cert_parse_keyless(rsp.data, rsp.len, copy);
			if (rc == ESTKIT_OK)
				p = rsp.data + rsp.len;
			else if (rc == ESTKIT_EPARSE)
				rc = ESTKIT_EPROTO;
		}
	} else if (x != NULL && X509_up_ref(x)) {
		rc = d2i_X509(&xr, &p, (long)rsp.len) == x ? ESTKIT_OK : ESTKIT_EPROTO;
		X509_free(x);
	} else if (crl != NULL && X509_CRL_up_ref(crl)) {
		rc = d2i_X509_CRL(&cr, &p, (long)rsp.len) == crl ? ESTKIT_OK : ESTKIT_EPROTO;
		X509_CRL_free(crl);
	} else {
		rc = ESTKIT_ENOMEM;
	}
	if (rc == ESTKIT_OK && p != rsp.data + rsp.len)
		rc = ESTKIT_EPROTO;
	if (rc != ESTKIT_OK && copy != NULL) {
		X509_free(*copy);
		*copy = NULL;
	}
	estd_signer_msg_clear(&rsp);
	return rc == ESTKIT_OK ? ESTKIT_OK : ESTKIT_ECRYPTO;
}

static enum estkit_status remote_cms(struct estd_signer *s, const unsigned char *content,
				     size_t len, STACK_OF(X509) *extra, unsigned char **out,
				     size_t *outlen)
{
	struct estd_signer_msg req, rsp;
	enum estkit_status rc;

	*out = NULL;
	*outlen = 0;
	memset(&req, 0, sizeof(req));
	req.op = ESTD_SIGNER_OP_SIGN_CMS;
	req.key = s->slot;
	req.data = (unsigned char *)content; /* borrowed: not cleared below */
	req.len = len;
	req.extra = extra;
	rc = remote_call(s, &req, &rsp);
	if (rc != ESTKIT_OK)
		return rc;
	*out = OPENSSL_malloc(rsp.len > 0 ? rsp.len : 1);
	if (*out == NULL) {
		estd_signer_msg_clear(&rsp);
		return ESTKIT_ENOMEM;
	}
	memcpy(*out, rsp.data, rsp.len);
	*outlen = rsp.len;
	estd_signer_msg_clear(&rsp);
	return ESTKIT_OK;
}

enum estkit_status estd_signer_sign_cert(struct estd_signer *s, X509 *tbs)
{
	EVP_MD_CTX *mctx = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	if (s == NULL || tbs == NULL)
		return ESTKIT_EINVAL;
	if (s->proc != NULL)
		return remote_sign(s, ESTD_SIGNER_OP_SIGN_CERT, tbs, NULL, ESTD_CERT_KEY_DECODED,
				   NULL);
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

/* See signer.h. */
enum estkit_status estd_signer_sign_cert_copy(struct estd_signer *s, X509 *tbs,
					      enum estd_cert_key key, X509 **out)
{
	unsigned char *der = NULL;
	int len;
	enum estkit_status rc;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (s == NULL || tbs == NULL)
		return ESTKIT_EINVAL;
	if (s->proc != NULL)
		return remote_sign(s, ESTD_SIGNER_OP_SIGN_CERT, tbs, NULL, key, out);
	rc = estd_signer_sign_cert(s, tbs);
	if (rc != ESTKIT_OK)
		return rc;
	if (key == ESTD_CERT_KEY_DECODED) {
		*out = X509_dup(tbs);
		return *out != NULL ? ESTKIT_OK : ESTKIT_ENOMEM;
	}
	len = i2d_X509(tbs, &der);
	if (len <= 0)
		return ESTKIT_ECRYPTO;
	rc = estd_cert_parse_keyless(der, (size_t)len, out);
	OPENSSL_free(der);
	return rc == ESTKIT_EPARSE ? ESTKIT_ECRYPTO : rc;
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
	if (s->proc != NULL)
		return remote_cms(s, content, len, extra, out, outlen);
	return estkit_cmc_sign(content, len, 1, cert, s->key, extra, out, outlen);
}

/* See signer.h. */
enum estkit_status estd_signer_sign_crl(struct estd_signer *s, X509_CRL *crl)
{
	if (s == NULL || crl == NULL)
		return ESTKIT_EINVAL;
	if (s->proc != NULL)
		return remote_sign(s, ESTD_SIGNER_OP_SIGN_CRL, NULL, crl, ESTD_CERT_KEY_DECODED, NULL);
	return X509_CRL_sign(crl, s->key, digest_for(s->key)) > 0 ? ESTKIT_OK : ESTKIT_ECRYPTO;
}
