/*
 * ca_testutil.h - helpers shared by the estd CA unit tests (test_ca_*.c,
 * test_profile.c): keys, a throw-away CA, and CSRs carrying arbitrary
 * requested extensions, all built with plain OpenSSL so the tests do not
 * depend on the code under test to make their inputs.
 */
#ifndef CA_TESTUTIL_H
#define CA_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/issue.h"
#include "ca/signer.h"

/* "RSA" + bits, "EC" + curve, or "ED25519"/"ED448". Aborts on failure. */
static inline EVP_PKEY *tu_key(const char *type, const char *curve, size_t bits)
{
	EVP_PKEY *k = NULL;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
	else if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	if (k == NULL)
		abort();
	return k;
}

/*
 * A self-signed CA certificate for key, valid from now - 1 h for `days`
 * days (negative: already expired), built with the CA module's helpers.
 * ca_flag 0 makes a non-CA certificate (for refusal tests).
 */
static inline X509 *tu_ca_cert(EVP_PKEY *key, const char *cn, long days, int ca_flag)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	struct estd_signer *s = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	time_t now = time(NULL);

	if (x == NULL || name == NULL)
		abort();
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
				   -1, 0);
	X509_set_version(x, X509_VERSION_3);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	if (estd_cert_set_random_serial(x) != ESTKIT_OK)
		abort();
	if (days < 0) {
		X509_time_adj_ex(X509_getm_notBefore(x), (int)days - 10, 0, &now);
		X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, &now);
	} else {
		X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &now);
		X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, &now);
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
				  ca_flag ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
				  ca_flag ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (estd_cert_add_key_ids(x, x) != ESTKIT_OK || estd_signer_new(key, &s) != ESTKIT_OK ||
	    estd_signer_sign_cert(s, x) != ESTKIT_OK)
		abort();
	estd_signer_free(s);
	X509_NAME_free(name);
	return x;
}

/* A CA object around a fresh EC P-256 key and tu_ca_cert(). */
static inline struct estd_ca *tu_ca(long days, X509 **cert_out)
{
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509 *cert = tu_ca_cert(key, "Test CA", days, 1);
	struct estd_signer *s = NULL;
	struct estd_ca *ca = NULL;

	if (estd_signer_new(key, &s) != ESTKIT_OK || estd_ca_new(cert, s, &ca) != ESTKIT_OK)
		abort();
	EVP_PKEY_free(key);
	if (cert_out != NULL)
		*cert_out = cert;
	else
		X509_free(cert);
	return ca;
}

/*
 * A CSR for key with subject CN=cn (NULL: empty subject) and requested
 * extensions given as (nid, "openssl conf value") pairs ending with nid 0.
 */
static inline X509_REQ *tu_csr(EVP_PKEY *key, const char *cn, const int *nids,
			       const char *const *values)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509V3_CTX ctx;
	int i;

	if (req == NULL || exts == NULL)
		abort();
	X509_REQ_set_version(req, X509_REQ_VERSION_1);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					   (const unsigned char *)cn, -1, -1, 0);
	X509_REQ_set_pubkey(req, key);
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	for (i = 0; nids != NULL && nids[i] != 0; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nids[i], values[i]);

		if (e == NULL)
			abort();
		sk_X509_EXTENSION_push(exts, e);
	}
	if (sk_X509_EXTENSION_num(exts) > 0)
		X509_REQ_add_extensions(req, exts);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()) <= 0)
		abort();
	return req;
}

/* Reads a file of base64 DER (white space allowed) into a CSR; NULL on failure. */
static inline X509_REQ *tu_csr_b64_file(const char *path)
{
	BIO *f = BIO_new_file(path, "rb");
	BIO *b64 = BIO_new(BIO_f_base64());
	X509_REQ *req = NULL;

	if (f != NULL && b64 != NULL) {
		BIO_push(b64, f);
		req = d2i_X509_REQ_bio(b64, NULL);
		BIO_free_all(b64);
	} else {
		BIO_free(f);
		BIO_free(b64);
	}
	return req;
}

#endif /* CA_TESTUTIL_H */
