/*
 * policy_match.h - the name matching behind per-label enrollment policy
 * (policy.h) and one-time tokens (token.h): DNS names with a wildcard only
 * as the whole leftmost label (RFC 6125 6.4.3 style, no regular
 * expressions), IP addresses and CIDR networks, e-mail addresses, URIs,
 * and distinguished-name patterns.
 *
 * Case: DNS names, e-mail domains and DN attribute values compare
 * case-insensitively (ASCII only; X.500 caseIgnoreMatch); user names, URIs
 * and e-mail local parts exactly. One trailing dot of a DNS name is
 * ignored. Internationalised names must be in A-label form (xn--): a byte
 * outside printable ASCII never matches and never loads as a pattern.
 */
#ifndef ESTD_POLICY_MATCH_H
#define ESTD_POLICY_MATCH_H

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define ESTD_DNS_MAX 253 /* RFC 1035 2.3.4, without the trailing dot */

/* A SAN pattern: "DNS:*.corp", "IP:10.0.0.0/8", "email:*@example.com", "URI:*". */
struct estd_san_pat {
	int type;                 /* GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI */
	char *text;               /* DNS, email, URI pattern (owned); NULL for IP */
	unsigned char net[16];    /* IP network, zero host bits */
	int netlen;               /* 4 or 16 */
	int prefix;               /* 0..32 / 0..128 */
};

/* A DN pattern: "CN=*.devices.example,O=Example"; a last ",*" allows more attributes. */
struct estd_dn_pat {
	X509_NAME *name;          /* values may be "*" or "*.rest" (owned) */
	int open;                 /* ",*": attributes beyond the pattern's are allowed */
};

/* 1 when name (len bytes) is a DNS name: LDH/underscore labels of 1..63, total <= 253. */
int estd_dns_name_ok(const char *name, size_t len);

/*
 * A value pattern: "*" (any non-empty value), "*.REST" (exactly one more
 * leftmost label before REST, a DNS name) or a literal. 1 when valid: '*'
 * nowhere else, printable ASCII or UTF-8, 1..1024 bytes.
 */
int estd_value_pattern_ok(const char *pat);

/* 1 when value (len bytes) matches a value pattern; icase: ASCII case-insensitive. */
int estd_value_match(const char *pat, const char *value, size_t len, int icase);

/* 1 when name (len bytes, as in a dNSName) matches the DNS pattern. */
int estd_dns_match(const char *pat, const char *name, size_t len);

/*
 * Parses a SAN pattern (exact = 1: no wildcard, IP without prefix). 1, or 0
 * with a message in msg. sp is cleared first; estd_san_pat_clear() frees it.
 */
int estd_san_pat_parse(const char *s, int exact, struct estd_san_pat *sp, char *msg,
		       size_t msglen);
void estd_san_pat_clear(struct estd_san_pat *sp);

/* 1 when the GeneralName matches the SAN pattern. */
int estd_san_pat_match(const struct estd_san_pat *sp, const GENERAL_NAME *gen);

/* Parses a DN pattern. 1, or 0 with a message. */
int estd_dn_pat_parse(const char *s, struct estd_dn_pat *dp, char *msg, size_t msglen);
void estd_dn_pat_clear(struct estd_dn_pat *dp);

/* 1 when name matches the DN pattern (attribute order does not matter). */
int estd_dn_pat_match(const struct estd_dn_pat *dp, const X509_NAME *name);

/* "DNS:a.example" for logs and reasons, control bytes as '?', in buf. */
const char *estd_san_text(const GENERAL_NAME *gen, char *buf, size_t len);

#endif /* ESTD_POLICY_MATCH_H */
