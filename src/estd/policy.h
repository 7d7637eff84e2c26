/*
 * policy.h - per-label enrollment policy: which identities may enroll on a
 * label and for which names. Keys of a [label] section (estd.conf(5)):
 *
 *   allow = user:alice, user:*, cert-subject:CN=*.example.com,O=Example,
 *           cert-issuer:CN=Vendor CA, cert-san:DNS:*.corp
 *   subject_pattern = CN=*.devices.example | CN=*.lab.example,*
 *   san_pattern = DNS:*.devices.example, IP:10.0.0.0/8, email:*@example.com
 *   san_must_match = user        ; every subjectAltName equals the HTTP user name
 *   cn_must_match = user         ; the one CN equals the HTTP user name
 *   max_sans = 100               ; subjectAltNames in a request, at most
 *
 * Patterns as in policy_match.h. `allow` unset: every authenticated client
 * may enroll (as before). /simplereenroll by the holder of the certificate
 * being renewed (RFC 7030 4.2.2 pins its names) and enrollments with a
 * one-time token (whose names the token pins) skip `allow` and the
 * *_must_match rules; the name patterns and max_sans apply to every request.
 */
#ifndef ESTD_POLICY_H
#define ESTD_POLICY_H

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* label max_sans default: 0, no label limit ([ca] max_sans still bounds every request) */
#define ESTD_POLICY_MAX_SANS_DEFAULT 0
#define ESTD_POLICY_MAX_ENTRIES 256 /* allow entries, patterns per key */

struct estd_policy;

/* Who asks, as the request pipeline knows it. */
struct estd_policy_who {
	const char *user;  /* HTTP user (Basic or Digest) or NULL */
	X509 *cert;        /* verified TLS client certificate or NULL */
	int token;         /* authenticated by a one-time token */
	int renewal;       /* /simplereenroll with the certificate being renewed */
};

/* 1 when key is one of the policy keys of a label section. */
int estd_policy_is_key(const char *key);

/*
 * Parses one policy key of a label into *pol (created on first use).
 * Returns 1, or 0 with a message in msg.
 */
int estd_policy_conf_set(struct estd_policy **pol, const char *key, const char *value,
			 char *msg, size_t msglen);

/* Frees a policy; NULL is a no-op. */
void estd_policy_free(struct estd_policy *pol);

/*
 * Checks a request: who may enroll (allow), then the CSR's names. pol NULL
 * is the default policy (max_sans only). 0 when allowed; -1 with a short
 * reason (for the 403 body and the log) in reason.
 */
int estd_policy_check(const struct estd_policy *pol, const struct estd_policy_who *who,
		      X509_REQ *csr, char *reason, size_t len);

/*
 * The name rules alone, for a subject and subjectAltNames (sans may be
 * NULL); user as in who. 0 or -1 with a reason.
 */
int estd_policy_check_names(const struct estd_policy *pol, const struct estd_policy_who *who,
			    const X509_NAME *subject, const GENERAL_NAMES *sans, char *reason,
			    size_t len);

#endif /* ESTD_POLICY_H */
