/*
 * signer_pkcs11.h - a CA key on a PKCS#11 token (RFC 7512 pkcs11: URI),
 * through OpenSSL's pkcs11 engine (libp11). The only file that uses the
 * deprecated ENGINE API (docs/design.md "PKCS#11 through the engine").
 */
#ifndef ESTD_CA_SIGNER_PKCS11_H
#define ESTD_CA_SIGNER_PKCS11_H

#include <openssl/evp.h>
#include <estkit/error.h>

/*
 * Opens the private key uri names (pkcs11:token=...;object=...). The PIN
 * comes from the first line of pin_file when given, else from the URI
 * (pin-value / pin-source, handled by libp11). module is the PKCS#11
 * library (NULL: the engine's default, p11-kit's proxy). The key stays on
 * the token: *out only refers to it. On failure *err (free()) says why.
 * Not fork-safe: open it in the process that signs.
 */
enum estkit_status estd_signer_pkcs11_load(const char *uri, const char *module,
					   const char *pin_file, EVP_PKEY **out, char **err);

/*
 * The same for the TLS server key ([server] tls_key): messages name the TLS
 * key. Call it in the process that serves TLS, after the signer process
 * was forked (the engine's module session is per process).
 */
enum estkit_status estd_signer_pkcs11_load_tls(const char *uri, const char *module,
					       const char *pin_file, EVP_PKEY **out, char **err);

/* 1 when s is a pkcs11: URI rather than a file path. */
int estd_signer_is_pkcs11(const char *s);

#endif /* ESTD_CA_SIGNER_PKCS11_H */
