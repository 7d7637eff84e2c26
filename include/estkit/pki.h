/*
 * estkit/pki.h - the PKI building blocks EST needs: base64 (RFC 8951 rules),
 * PEM/DER files, PKCS#7 certs-only, PKCS#10 requests, key generation.
 *
 * Ownership: every object or buffer returned through an out-parameter belongs
 * to the caller. Buffers are freed with estkit_free(); OpenSSL objects with
 * their OpenSSL free function (X509_free, X509_REQ_free, EVP_PKEY_free,
 * OSSL_STACK_OF_X509_free). Inputs are borrowed and never freed. On failure
 * out-parameters are left NULL/0. Functions here have no handle: failure
 * details stay on OpenSSL's error queue (ERR_*) for the caller to read.
 */
#ifndef ESTKIT_PKI_H
#define ESTKIT_PKI_H

#include <stddef.h>
#include <sys/types.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/opensslv.h>
#include <estkit/error.h>

/*
 * OpenSSL 3.0 and 3.1 lack OSSL_STACK_OF_X509_free() (added in 3.2), the
 * function this header names for freeing certificate stacks; provide it.
 */
#if OPENSSL_VERSION_NUMBER < 0x30200000L && !defined(OSSL_STACK_OF_X509_free)
#define OSSL_STACK_OF_X509_free(s) sk_X509_pop_free((s), X509_free)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Largest input any estkit decoder accepts (16 MiB). Larger is ESTKIT_ETOOBIG. */
#define ESTKIT_MAX_DECODE (16u * 1024u * 1024u)

/* Frees a buffer returned by libestkit. NULL is a no-op. */
ESTKIT_API void estkit_free(void *p);

/* Like estkit_free(), but wipes len bytes first (for keys and passwords). */
ESTKIT_API void estkit_free_secret(void *p, size_t len);

/* ---- base64 ---------------------------------------------------------------- */

/*
 * Encodes len bytes as base64 with a line break ("\n") after every 64
 * characters and at the end, as RFC 7030 examples show. *out is a
 * NUL-terminated string; *outlen (if not NULL) its length without the NUL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_b64_encode(const unsigned char *in, size_t len, char **out, size_t *outlen);

/*
 * Decodes base64. Per RFC 8951, white space (space, tab, CR, LF) anywhere is
 * ignored. Everything else is strict: only the standard alphabet, padding only
 * at the end and only as much as needed, no data after padding, no leftover
 * bits. Empty input (after white space) is ESTKIT_EPARSE.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* ---- files ---------------------------------------------------------------------- */

/* Reads a whole file (at most ESTKIT_MAX_DECODE bytes). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_file_read(const char *path, unsigned char **out, size_t *outlen);

/*
 * Writes a file atomically: a temporary file in the same directory, created
 * with mode `mode` (e.g. 0600 for keys) from the start, written, fsync'ed,
 * renamed over path, and the directory fsync'ed. Readers see the old or the
 * new content, never a mix.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* ---- certificates, keys and requests: load and save ---------------------------- */

/*
 * Loads every certificate in a file or buffer. Accepts PEM (one or more
 * CERTIFICATE blocks; other blocks such as CRLs are skipped), a single DER
 * certificate, DER or base64 PKCS#7 certs-only. Empty or certificate-free
 * input is ESTKIT_EPARSE.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_certs_load(const char *path, STACK_OF(X509) **out);
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_certs_parse(const unsigned char *in, size_t len, STACK_OF(X509) **out);

/* Loads the first certificate of a file (same formats as estkit_certs_load). */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cert_load(const char *path, X509 **out);

/* Loads a private key: PEM (PKCS#8, traditional) or DER PKCS#8. Unencrypted only. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_key_load(const char *path, EVP_PKEY **out);

/*
 * Loads a private key through OSSL_STORE from uri: a file path or "file:"
 * URI, or a URI of a loaded OpenSSL provider (a TPM or PKCS#11 provider,
 * e.g. "pkcs11:token=dev;object=est"), so that the key may stay in hardware.
 * propq is a property query for fetching (e.g. "provider=tpm2"), or NULL.
 * The caller loads the provider first (OSSL_PROVIDER_load or openssl.cnf).
 * The EVP_PKEY works wherever libestkit takes a key: TLS client
 * authentication (estkit_client_set_client_key) and request signing
 * (estkit_csr_new, estkit_client_reenroll_csr). ESTKIT_ENOTFOUND when the
 * URI cannot be opened or holds no private key; ESTKIT_EPARSE when it cannot
 * be read. Passphrase-protected keys are not supported (no UI method).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_key_load_uri(const char *uri, const char *propq, EVP_PKEY **out);

/*
 * Loads a PKCS#10 request: PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE
 * REQUEST"), DER, or bare base64 of DER (as /simpleenroll bodies are).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csr_load(const char *path, X509_REQ **out);

/* Writes certificates as concatenated PEM, atomically, mode 0644. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_certs_save(const char *path, STACK_OF(X509) *certs);
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cert_save(const char *path, X509 *cert);

/* Writes a private key as unencrypted PKCS#8 PEM, atomically, mode 0600. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_key_save(const char *path, EVP_PKEY *key);

/* Writes a request as PEM, atomically, mode 0644. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csr_save(const char *path, X509_REQ *csr);

/* ---- PKCS#7 certs-only (RFC 7030 4.1.3, RFC 5652 degenerate SignedData) -------- */

/* Encodes certificates (at least one) as DER certs-only SignedData. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_pkcs7_certs_encode(STACK_OF(X509) *certs, unsigned char **der, size_t *derlen);

/* Decodes DER certs-only SignedData. No certificates is ESTKIT_EPARSE. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_pkcs7_certs_decode(const unsigned char *der, size_t derlen, STACK_OF(X509) **out);

/* ---- PKCS#10 -------------------------------------------------------------------- */

/* Decodes a DER PKCS#10 request; trailing bytes are ESTKIT_EPARSE. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_decode(const unsigned char *der, size_t derlen, X509_REQ **out);

/* Encodes a request as DER. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_encode(X509_REQ *csr, unsigned char **der, size_t *derlen);

/*
 * Verifies the request's self-signature with its own public key (proof of
 * possession). ESTKIT_ECRYPTO when it does not verify or the key is unusable.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csr_verify(X509_REQ *csr);

/*
 * Key description of a public key, e.g. "EC P-256", "RSA 2048", "ED25519":
 * *type is "EC", "RSA", "ED25519", "ED448" or "DSA"; *bits the key size in
 * bits (curve size for EC); *curve the NIST/SN curve name for EC else NULL
 * (static strings, never freed).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_key_describe(EVP_PKEY *key, const char **type, int *bits, const char **curve);

/* ---- generation -------------------------------------------------------------- */

/*
 * Generates a key from a spec: "ec:P-256" (default when spec is NULL or ""),
 * "ec:P-384", "ec:P-521", "rsa:2048" .. "rsa:8192" (multiple of 8, at least
 * 2048), "ed25519". Also accepted: "ec" (= P-256), "rsa" (= 3072),
 * "prime256v1"/"secp384r1" curve names. Unknown spec: ESTKIT_EINVAL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_key_generate(const char *spec, EVP_PKEY **out);

/*
 * Parses a subject in OpenSSL's slash form "/CN=x/O=y" or RFC 4514-ish comma
 * form "CN=x,O=y" (commas and slashes escapable with a backslash). Values are
 * UTF-8. Unknown attribute names or empty input: ESTKIT_EINVAL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_name_parse(const char *subject, X509_NAME **out);

/*
 * Builds and signs a PKCS#10 request for key. subject as estkit_name_parse;
 * sans is an array of nsans strings "DNS:host", "IP:192.0.2.1" (or IPv6),
 * "URI:https://...", "email:a@b" put in an extensionRequest subjectAltName.
 * The signature hash is SHA-256 (SHA-384 for P-384, SHA-512 for P-521,
 * none for Ed25519). challenge_password, if not NULL, is added as the
 * PKCS#9 challengePassword attribute (used for channel binding).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_new(EVP_PKEY *key, const char *subject, const char *const *sans, size_t nsans,
	       const char *challenge_password, X509_REQ **out);

/* ---- inspection helpers ------------------------------------------------------------- */

/*
 * SHA-256 fingerprint of a certificate's DER as 64 lowercase hex digits,
 * written to out (at least 65 bytes).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cert_fingerprint(X509 *cert, char out[65]);

/*
 * Compares a user-given fingerprint (hex, any case, with or without ':'
 * separators, optionally prefixed "sha256:" or "SHA256:") with a
 * certificate's SHA-256 fingerprint. Returns 1 when equal, 0 otherwise.
 */
ESTKIT_API int estkit_cert_fingerprint_matches(X509 *cert, const char *fingerprint);

/* Serial number as lowercase hex without leading zeros ("0" for zero). Caller frees. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cert_serial_hex(X509 *cert, char **out);

/* Name as a one-line RFC 2253 string ("CN=x,O=y"). Caller frees with estkit_free(). */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_name_oneline(const X509_NAME *name, char **out);

/*
 * subjectAltName entries of a certificate or request as "DNS:x", "IP:1.2.3.4",
 * "URI:u", "email:e" strings, joined with ", " (empty string when none).
 * Caller frees with estkit_free().
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_cert_sans(X509 *cert, char **out);
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csr_sans(X509_REQ *csr, char **out);

/*
 * Of certs, the one whose public key equals key (the newly issued leaf in an
 * enrollment response). Borrowed from certs; NULL when none matches.
 */
ESTKIT_API X509 *estkit_certs_find_by_key(STACK_OF(X509) *certs, EVP_PKEY *key);

/* ---- request attributes (RFC 2985 5.4.1, RFC 7894) ---------------------------------- */

/* Single-valued DirectoryString attributes of a PKCS#10 request. */
enum estkit_csr_attr {
	ESTKIT_ATTR_CHALLENGE_PASSWORD = 0,   /* PKCS#9 challengePassword, 1.2.840.113549.1.9.7 */
	ESTKIT_ATTR_OTP_CHALLENGE = 1,        /* RFC 7894 otpChallenge, id-aa 56 */
	ESTKIT_ATTR_REVOCATION_CHALLENGE = 2, /* RFC 7894 revocationChallenge, id-aa 57 */
	ESTKIT_ATTR_EST_IDENTITY_LINKING = 3, /* RFC 7894 estIdentityLinking, id-aa 58 */
};

/*
 * The value of attr in csr as a NUL-terminated UTF-8 string (caller frees
 * with estkit_free()). ESTKIT_ENOTFOUND when absent; ESTKIT_EPARSE when the
 * attribute appears twice, holds other than one value, is not a
 * DirectoryString, holds a NUL byte or is longer than 255 bytes.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_get_attr(X509_REQ *csr, enum estkit_csr_attr attr, char **out);

/*
 * Sets attr to value (1..255 bytes of UTF-8), replacing any earlier value;
 * PrintableString when value fits, else UTF8String. The request must be
 * (re-)signed afterwards with estkit_csr_sign().
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_set_attr(X509_REQ *csr, enum estkit_csr_attr attr, const char *value);

/* Sets the public key of key and signs csr with it (hash as estkit_csr_new()). */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_csr_sign(X509_REQ *csr, EVP_PKEY *key);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_PKI_H */
