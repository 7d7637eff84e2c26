/*
 * token.c - one-time enrollment tokens: secrets, their hashes, and the
 * constraints a token puts on the CSR it enrolls (token.h).
 */
#include "token.h"
#include "policy_match.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* See token.h. */
void estd_token_hash(const char *secret, char *hash)
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		memset(md, 0, sizeof(md)); /* never equals a stored hash of a real secret */
	to_hex(md, sizeof(md), hash);
}

/* See token.h. */
enum estkit_status estd_token_generate(char *id, char *secret, char *hash)
{
	unsigned char rnd[ESTD_TOKEN_ID_LEN / 2 + ESTD_TOKEN_RANDOM_BYTES];

	if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1)
		return ESTKIT_ECRYPTO;
	to_hex(rnd, ESTD_TOKEN_ID_LEN / 2, id);
	memcpy(secret, id, ESTD_TOKEN_ID_LEN);
	secret[ESTD_TOKEN_ID_LEN] = '.';
	to_hex(rnd + ESTD_TOKEN_ID_LEN / 2, ESTD_TOKEN_RANDOM_BYTES, secret + ESTD_TOKEN_ID_LEN + 1);
	estd_token_hash(secret, hash);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return ESTKIT_OK;
}

/* See token.h. */
int estd_token_parse(const char *secret, char *id)
{
	if (secret == NULL || strlen(secret) != ESTD_TOKEN_SECRET_LEN ||
	    secret[ESTD_TOKEN_ID_LEN] != '.' || !is_hex(secret, ESTD_TOKEN_ID_LEN) ||
	    !is_hex(secret + ESTD_TOKEN_ID_LEN + 1, 2 * ESTD_TOKEN_RANDOM_BYTES))
		return -1;
	memcpy(id, secret, ESTD_TOKEN_ID_LEN);
	id[ESTD_TOKEN_ID_LEN] = '\0';
	return 0;
}

/* See token.h. */
int estd_token_verify(const char *secret, const char *hash_hex)
{
	char h[ESTD_TOKEN_HASH_LEN + 1];
	int eq;

	if (hash_hex == NULL || strlen(hash_hex) != ESTD_TOKEN_HASH_LEN)
		return 0;
	estd_token_hash(secret, h);
	eq = CRYPTO_memcmp(h, hash_hex, ESTD_TOKEN_HASH_LEN) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return eq;
}

/* Splits the stored "DNS:a, IP:b" list into exact SAN patterns; count in *n. */
static int token_sans(const char *list, struct estd_san_pat *pats, size_t *n)
{
	char msg[128];

	*n = 0;
	while (*list != '\0') {
		size_t len = strcspn(list, ",");
		char *one = NULL;

		while (len > 0 && *list == ' ')
			list++, len--;
		if (*n == ESTD_TOKEN_MAX_SANS || (one = strndup(list, len)) == NULL)
			return -1;
		if (!estd_san_pat_parse(one, 1, &pats[*n], msg, sizeof(msg))) {
			free(one);
			return -1;
		}
		free(one);
		(*n)++;
		list += len + (list[len] == ',');
	}
	return 0;
}

/* Every SAN of the CSR is one of the token's. */
static int sans_fit(const struct estd_token_record *t, X509_REQ *csr, char *reason, size_t len)
{
	struct estd_san_pat pats[ESTD_TOKEN_MAX_SANS];
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *gens = NULL;
	size_t n = 0, j;
	int i, rc = -1, crit = -1;
	char buf[256];

	memset(pats, 0, sizeof(pats));
	if (token_sans(t->sans, pats, &n) != 0) {
		snprintf(reason, len, "the token's subjectAltNames do not load");
		goto out;
	}
	if (exts != NULL)
		gens = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	if (crit == -2 || (crit >= 0 && gens == NULL)) {
		snprintf(reason, len, "malformed subjectAltName in the request");
		goto out;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		for (j = 0; j < n && !estd_san_pat_match(&pats[j], sk_GENERAL_NAME_value(gens, i)); j++)
			;
		if (j == n) {
			snprintf(reason, len, "subjectAltName %s is not one the token allows",
				 estd_san_text(sk_GENERAL_NAME_value(gens, i), buf, sizeof(buf)));
			goto out;
		}
	}
	rc = 0;
out:
	for (j = 0; j < ESTD_TOKEN_MAX_SANS; j++)
		estd_san_pat_clear(&pats[j]);
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* See token.h. */
int estd_token_check_csr(const struct estd_token_record *t, X509_REQ *csr, char *reason,
			 size_t len)
{
	X509_NAME *want = NULL;
	int eq;

	if (estkit_name_parse(t->subject, &want) != ESTKIT_OK) {
		snprintf(reason, len, "the token's subject does not load");
		return -1;
	}
	eq = X509_NAME_cmp(want, X509_REQ_get_subject_name(csr)) == 0;
	X509_NAME_free(want);
	if (!eq) {
		snprintf(reason, len, "the request's subject is not the one the token allows");
		return -1;
	}
	return sans_fit(t, csr, reason, len);
}

/* See token.h. */
int estd_token_constraints(const char *subject, const char *const *sans, size_t nsans,
			   char **subject_out, char **sans_out, char *reason, size_t len)
{
	X509_NAME *name = NULL;
	struct estd_san_pat sp;
	char *list = NULL, *tmp;
	size_t i;

	*subject_out = *sans_out = NULL;
	if (nsans > ESTD_TOKEN_MAX_SANS)
		return snprintf(reason, len, "at most %d --san", ESTD_TOKEN_MAX_SANS), -1;
	if (subject == NULL || estkit_name_parse(subject, &name) != ESTKIT_OK ||
	    X509_NAME_entry_count(name) == 0 || estkit_name_oneline(name, &tmp) != ESTKIT_OK) {
		X509_NAME_free(name);
		return snprintf(reason, len, "--subject: not a subject (CN=...,O=...)"), -1;
	}
	X509_NAME_free(name);
	*subject_out = estd_strdup(tmp);
	estkit_free(tmp);
	list = estd_strdup("");
	for (i = 0; i < nsans && list != NULL; i++) {
		if (strchr(sans[i], ',') != NULL || !estd_san_pat_parse(sans[i], 1, &sp, reason, len))
			goto bad;
		estd_san_pat_clear(&sp);
		tmp = estd_strfmt("%s%s%s", list, i > 0 ? ", " : "", sans[i]);
		free(list);
		list = tmp;
	}
	if (*subject_out == NULL || list == NULL) {
		snprintf(reason, len, "out of memory");
		goto bad_nomsg;
	}
	*sans_out = list;
	return 0;
bad:
	if (strchr(sans[i], ',') != NULL)
		snprintf(reason, len, "--san %.64s: one name per --san", sans[i]);
bad_nomsg:
	free(list);
	free(*subject_out);
	*subject_out = NULL;
	return -1;
}

/* See token.h. */
int estd_token_parse_duration(const char *s, long long *out)
{
	size_t n = s != NULL ? strlen(s) : 0;
	long long mult = 1, v = 0;
	char num[16];

	if (n == 0 || n >= sizeof(num))
		return -1;
	switch (s[n - 1]) {
	case 's': mult = 1, n--; break;
	case 'm': mult = 60, n--; break;
	case 'h': mult = 3600, n--; break;
	case 'd': mult = 86400, n--; break;
	default: break;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (n == 0 || estd_parse_ll(num, 1, 31536000, &v) != 0 || v * mult < 60 ||
	    v * mult > 31536000)
		return -1;
	*out = v * mult;
	return 0;
}
