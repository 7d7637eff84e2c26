/*
 * backend/skg.h - estd's side of /serverkeygen (RFC 7030 4.4): which key to
 * generate for a request, and the symmetric key-encryption keys of a label.
 */
#ifndef ESTD_BACKEND_SKG_H
#define ESTD_BACKEND_SKG_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "config.h"

#define ESTD_KEK_ID_MAX 64 /* characters of a serverkeygen_kek identifier */

/*
 * Generates the key for a /serverkeygen request: the label's
 * serverkeygen_key spec when set, else the same type and size as the CSR's
 * public key (RSA bits, EC curve, Ed25519). ESTKIT_EPOLICY (reason for the
 * client) when the CSR's key type cannot be reproduced.
 */
enum estkit_status estd_skg_generate(const struct estd_label *label, X509_REQ *csr,
				     EVP_PKEY **out, char *reason, size_t rlen);

/*
 * The label's key-encryption key when id equals its serverkeygen_kek
 * identifier: reads the hex file (16, 24 or 32 bytes) into *kek
 * (OPENSSL_malloc'ed, the caller wipes it). ESTKIT_ENOTFOUND when the label
 * has no key or another identifier; ESTKIT_EIO / ESTKIT_EPARSE for a file
 * that cannot be used.
 */
enum estkit_status estd_skg_kek(const struct estd_label *label, const unsigned char *id,
				size_t idlen, unsigned char **kek, size_t *keklen);

/* 1 when v is "ID:PATH" with a valid identifier (config syntax check). */
int estd_skg_kek_syntax_ok(const char *v);

/* 1 when spec is a key spec estkit_key_generate() accepts. */
int estd_skg_keyspec_ok(const char *spec);

#endif /* ESTD_BACKEND_SKG_H */
