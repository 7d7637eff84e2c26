/*
 * reenroll_csr.c - the request for /simplereenroll. RFC 7030 4.2.2: the
 * Subject and SubjectAltName must be identical to the certificate being
 * renewed, so they are copied as DER objects rather than round-tripped
 * through text (which could reorder or re-encode attributes).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/client.h>
#include <estkit/pki.h>

/* SHA-256, with the stronger hash for the larger curves; none for EdDSA. */
static const EVP_MD *digest_for(EVP_PKEY *key)
{
	const char *type = NULL;
	const char *curve = NULL;
	int bits = 0;

	if (estkit_key_describe(key, &type, &bits, &curve) != ESTKIT_OK)
		return EVP_sha256();
	if (strcmp(type, "ED25519") == 0 || strcmp(type, "ED448") == 0)
		return NULL;
	if (strcmp(type, "EC") == 0 && bits >= 512)
		return EVP_sha512();
	if (strcmp(type, "EC") == 0 && bits >= 384)
		return EVP_sha384();
	return EVP_sha256();
}

static int copy_san(X509 *current, X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	int idx = X509_get_ext_by_NID(current, NID_subject_alt_name, -1);
	int ok = 0;

	if (idx < 0)
		return 1; /* nothing to copy */
	if ((exts = sk_X509_EXTENSION_new_null()) == NULL)
		return 0;
	ext = X509_EXTENSION_dup(X509_get_ext(current, idx));
	if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	ok = X509_REQ_add_extensions(req, exts);
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return ok;
}

enum estkit_status estkit_client_reenroll_csr(X509 *current, EVP_PKEY *key, X509_REQ **out)
{
	X509_REQ *req = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	if (out != NULL)
		*out = NULL;
	if (current == NULL || key == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((req = X509_REQ_new()) == NULL)
		return ESTKIT_ENOMEM;
	if (!X509_REQ_set_version(req, 0) ||
	    !X509_REQ_set_subject_name(req, X509_get_subject_name(current)) ||
	    !X509_REQ_set_pubkey(req, key) || !copy_san(current, req))
		goto out;
	if (X509_REQ_sign(req, key, digest_for(key)) <= 0)
		goto out;
	*out = req;
	req = NULL;
	rc = ESTKIT_OK;
out:
	X509_REQ_free(req);
	return rc;
}
