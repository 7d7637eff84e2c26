/*
 * pki_internal.h - helpers shared by the files of lib/pki (not public API).
 */
#ifndef EK_PKI_INTERNAL_H
#define EK_PKI_INTERNAL_H

#include <stddef.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>

/*
 * Copies the contents of a memory BIO into a new NUL-terminated buffer
 * (freed with estkit_free()). *outlen, if not NULL, gets the length without
 * the NUL.
 */
enum estkit_status ek_bio_to_string(BIO *bio, char **out, size_t *outlen);

/* 1 when buf holds a PEM armour line ("-----BEGIN "), else 0. */
int ek_pki_looks_pem(const unsigned char *buf, size_t len);

/* 1 when every byte of buf is a base64 alphabet, padding or white-space byte. */
int ek_pki_looks_b64(const unsigned char *buf, size_t len);

/*
 * The digest a request or certificate signed by key should use: SHA-256,
 * SHA-384 for P-384, SHA-512 for P-521, NULL for Ed25519/Ed448 (which hash
 * internally). Borrowed static object.
 */
const EVP_MD *ek_pki_sign_md(EVP_PKEY *key);

/*
 * Formats subjectAltName entries as "DNS:x, IP:1.2.3.4, ..." (see
 * estkit_cert_sans()). gens may be NULL: the result is then "".
 */
enum estkit_status ek_sans_format(const GENERAL_NAMES *gens, char **out);

/*
 * A private key from memory: PEM, DER, or base64 of DER; unencrypted only,
 * never prompts. len must be > 0. NULL when it does not parse (errors stay on
 * OpenSSL's queue). The buffer behind estkit_key_load(), and the fuzz entry.
 */
EVP_PKEY *ek_key_parse(const unsigned char *in, size_t len);

/*
 * Builds one GeneralName from "DNS:x", "IP:a", "URI:u" or "email:e" (prefix
 * case-insensitive). NULL on bad syntax or out of memory.
 */
GENERAL_NAME *ek_san_parse(const char *s);

#endif /* EK_PKI_INTERNAL_H */
