/*
 * token.h - one-time enrollment tokens: `estd token create` prints a secret
 * once; the store keeps its SHA-256. The secret is "ID.SECRET": ID 16 hex
 * digits (public, names the token in `estd token list`), SECRET 40 hex
 * digits (160 random bits), so one string identifies and proves the token
 * whether it arrives as the CSR's otpChallenge (RFC 7894) or as the HTTP
 * Basic password of the user name "token".
 */
#ifndef ESTD_TOKEN_H
#define ESTD_TOKEN_H

#include <stddef.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "store/store.h"

#define ESTD_TOKEN_ID_LEN 16      /* hex digits */
#define ESTD_TOKEN_RANDOM_BYTES 20
#define ESTD_TOKEN_SECRET_LEN (ESTD_TOKEN_ID_LEN + 1 + 2 * ESTD_TOKEN_RANDOM_BYTES)
#define ESTD_TOKEN_HASH_LEN 64    /* hex SHA-256 */
#define ESTD_TOKEN_MAX_SANS 64

/*
 * A new token: id (ESTD_TOKEN_ID_LEN + 1), secret (ESTD_TOKEN_SECRET_LEN + 1,
 * wipe it after printing) and the hash to store (ESTD_TOKEN_HASH_LEN + 1).
 */
enum estkit_status estd_token_generate(char *id, char *secret, char *hash);

/* The id part of a presented secret into id (ESTD_TOKEN_ID_LEN + 1). -1 when malformed. */
int estd_token_parse(const char *secret, char *id);

/* Hex SHA-256 of secret into hash (ESTD_TOKEN_HASH_LEN + 1). */
void estd_token_hash(const char *secret, char *hash);

/* 1 when secret hashes to hash_hex; the hashes compare in constant time. */
int estd_token_verify(const char *secret, const char *hash_hex);

/*
 * 0 when the CSR fits the token: its subject equals the token's (X.500
 * comparison), each of its subjectAltNames is one of the token's. -1 with a
 * reason otherwise.
 */
int estd_token_check_csr(const struct estd_token_record *t, X509_REQ *csr, char *reason,
			 size_t len);

/*
 * Checks and normalises the constraints of a new token: subject (parsed,
 * written back RFC 2253 in *subject_out) and SANs ("DNS:x", "IP:a",
 * "email:e", "URI:u"; joined in *sans_out as ", " list). Both malloc'ed.
 * 0, or -1 with a reason.
 */
int estd_token_constraints(const char *subject, const char *const *sans, size_t nsans,
			   char **subject_out, char **sans_out, char *reason, size_t len);

/* "90s", "30m", "24h", "7d" or plain seconds into 60..31536000 (one year). 0 or -1. */
int estd_token_parse_duration(const char *s, long long *out);

#endif /* ESTD_TOKEN_H */
