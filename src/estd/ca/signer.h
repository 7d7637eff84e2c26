/*
 * signer.h - the one door to the CA private key (DESIGN.md section 4).
 *
 * Everything that needs a CA signature hands a to-be-signed object to the
 * signer; nothing else ever sees the key. The interface is deliberately
 * narrow so that the signer can later move into a separate process (or hold
 * an HSM session) without its callers changing.
 */
#ifndef ESTD_CA_SIGNER_H
#define ESTD_CA_SIGNER_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

struct estd_signer;

/*
 * Creates a signer holding key (a reference is taken; the caller keeps its
 * own and may free it). Accepted keys: RSA, EC on P-256/P-384/P-521 or any
 * named curve, Ed25519, Ed448.
 */
enum estkit_status estd_signer_new(EVP_PKEY *key, struct estd_signer **out);

/*
 * Creates a signer from a private key file (PEM or DER PKCS#8, unencrypted).
 * On failure *err (caller frees with estkit_free()) says why.
 */
enum estkit_status estd_signer_load(const char *path, struct estd_signer **out, char **err);

/*
 * As estd_signer_load() for a [ca] key reference ref: a file, or a pkcs11:
 * URI opened with cfg's [ca] pkcs11_module and key_pin_file. When `estd
 * run` started a signer process (signer_proc.h), both return a signer that
 * forwards to it (ref must be a key it loaded at start) and never read a key.
 */
struct estd_config;
enum estkit_status estd_signer_load_cfg(const char *ref, const struct estd_config *cfg,
					struct estd_signer **out, char **err);

/* Frees the signer and its key. NULL is a no-op. */
void estd_signer_free(struct estd_signer *s);

/*
 * Signs tbs (its signature algorithm fields are set here) with the CA key:
 * SHA-256 for RSA and EC P-256, SHA-384 for P-384, SHA-512 for P-521, no
 * separate digest for Ed25519/Ed448. Thread-safe. ESTKIT_ECRYPTO on failure.
 */
enum estkit_status estd_signer_sign_cert(struct estd_signer *s, X509 *tbs);

/* What a certificate handed back by estd_signer_sign_cert_copy() holds of its key. */
enum estd_cert_key {
	ESTD_CERT_KEY_DECODED,  /* as d2i_X509(): X509_get0_pubkey() works */
	ESTD_CERT_KEY_UNDECODED /* as estd_cert_parse_keyless(): no EVP_PKEY, 1.6 M Ir less */
};

/*
 * Signs tbs and gives the signed certificate as a fresh object parsed from
 * its DER (*out, caller frees): no cached state from the build, and with
 * the signer process one parse instead of two. key says whether *out's
 * public key is decoded; only a caller that needs it as an EVP_PKEY asks
 * for ESTD_CERT_KEY_DECODED. tbs itself may be left unsigned. Thread-safe.
 */
enum estkit_status estd_signer_sign_cert_copy(struct estd_signer *s, X509 *tbs,
					      enum estd_cert_key key, X509 **out);

/* 1 when cert's public key is the signer's key, else 0. */
int estd_signer_matches_cert(const struct estd_signer *s, X509 *cert);

/*
 * A public-only copy of the signer's key (for a self-signed certificate or a
 * key check); the private half never leaves the signer. Caller frees *out
 * with EVP_PKEY_free().
 */
enum estkit_status estd_signer_public_key(const struct estd_signer *s, EVP_PKEY **out);

/*
 * Signs content as the CMS SignedData of a CMC PKIResponse (RFC 5272
 * 3.2.2) with the CA key; cert (the CA certificate) names the signer and
 * goes into certificates with extra (issued certificates). *out is the
 * caller's (estkit_free). Thread-safe.
 */
enum estkit_status estd_signer_sign_cms(struct estd_signer *s, X509 *cert,
					const unsigned char *content, size_t len,
					STACK_OF(X509) *extra, unsigned char **out, size_t *outlen);

/* Signs a CRL (its signature algorithm chosen as for certificates). Thread-safe. */
enum estkit_status estd_signer_sign_crl(struct estd_signer *s, X509_CRL *crl);

#endif /* ESTD_CA_SIGNER_H */
