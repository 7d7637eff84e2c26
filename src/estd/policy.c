/*
 * policy.c - per-label enrollment policy (policy.h): the label keys parsed
 * into patterns at config load, and the check of one request against them.
 */
#include "policy.h"
#include "policy_match.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <estkit/pki.h>

enum allow_kind { A_USER, A_CERT_SUBJECT, A_CERT_ISSUER, A_CERT_SAN };

struct allow {
	enum allow_kind kind;
	char *user;               /* A_USER: value pattern */
	struct estd_dn_pat dn;    /* A_CERT_SUBJECT, A_CERT_ISSUER */
	struct estd_san_pat san;  /* A_CERT_SAN */
};

struct estd_policy {
	struct allow *allow;
	size_t nallow;
	struct estd_dn_pat *subj;
	size_t nsubj;
	struct estd_san_pat *san;
	size_t nsan;
	int san_must_match_user, cn_must_match_user;
	int max_sans;
};

static const struct {
	const char *prefix;
	enum allow_kind kind;
} allow_prefixes[] = {
	{"user:", A_USER}, {"cert-subject:", A_CERT_SUBJECT},
	{"cert-issuer:", A_CERT_ISSUER}, {"cert-san:", A_CERT_SAN},
};

/* See policy.h. */
int estd_policy_is_key(const char *key)
{
	static const char *const keys[] = {"allow", "subject_pattern", "san_pattern",
					   "san_must_match", "cn_must_match", "max_sans"};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/* Copies s[0..n) with blanks trimmed into a new string. */
static char *trimmed(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return strndup(s, n);
}

static int allow_kind_of(const char *piece, size_t *skip)
{
	size_t i;

	for (i = 0; i < sizeof(allow_prefixes) / sizeof(allow_prefixes[0]); i++)
		if (strncmp(piece, allow_prefixes[i].prefix, strlen(allow_prefixes[i].prefix)) == 0) {
			*skip = strlen(allow_prefixes[i].prefix);
			return (int)allow_prefixes[i].kind;
		}
	return -1;
}

/* One allow entry from its text (prefix included). */
static int allow_parse(const char *text, struct allow *a, char *msg, size_t msglen)
{
	size_t skip = 0;
	int kind = allow_kind_of(text, &skip);

	memset(a, 0, sizeof(*a));
	if (kind < 0) {
		snprintf(msg, msglen, "allow: '%.64s' is not user:, cert-subject:, cert-issuer: "
				      "or cert-san:", text);
		return 0;
	}
	a->kind = (enum allow_kind)kind;
	text += skip;
	if (a->kind == A_USER) {
		if (!estd_value_pattern_ok(text) || (a->user = estd_strdup(text)) == NULL) {
			snprintf(msg, msglen, "allow: user:%.64s is not a user name or '*'", text);
			return 0;
		}
		return 1;
	}
	if (a->kind == A_CERT_SAN)
		return estd_san_pat_parse(text, 0, &a->san, msg, msglen);
	return estd_dn_pat_parse(text, &a->dn, msg, msglen);
}

static void allow_clear(struct allow *a)
{
	free(a->user);
	estd_dn_pat_clear(&a->dn);
	estd_san_pat_clear(&a->san);
}

/*
 * allow = comma list. A DN holds commas too: a piece without a known
 * prefix continues the cert-subject:/cert-issuer: DN before it.
 */
static int set_allow(struct estd_policy *p, const char *v, char *msg, size_t msglen)
{
	char *cur = NULL, *piece = NULL, *joined = NULL;
	size_t skip;
	int ok = 1;

	while (ok && *v != '\0') {
		size_t n = strcspn(v, ",");

		piece = trimmed(v, n);
		v += n + (v[n] == ',');
		if (piece == NULL)
			goto oom;
		if (cur != NULL && allow_kind_of(piece, &skip) < 0 && strchr(piece, '=') != NULL &&
		    (strncmp(cur, "cert-subject:", 13) == 0 || strncmp(cur, "cert-issuer:", 12) == 0)) {
			joined = estd_strfmt("%s,%s", cur, piece);
			free(cur);
			free(piece);
			piece = NULL;
			if ((cur = joined) == NULL)
				goto oom;
			continue;
		}
		if (cur != NULL)
			ok = p->nallow < ESTD_POLICY_MAX_ENTRIES &&
			     allow_parse(cur, &p->allow[p->nallow++], msg, msglen);
		free(cur);
		cur = piece;
		piece = NULL;
	}
	if (ok && cur != NULL && *cur != '\0')
		ok = p->nallow < ESTD_POLICY_MAX_ENTRIES &&
		     allow_parse(cur, &p->allow[p->nallow++], msg, msglen);
	if (ok && p->nallow == 0)
		ok = 0, snprintf(msg, msglen, "allow: name at least one identity");
	if (p->nallow >= ESTD_POLICY_MAX_ENTRIES && msg[0] == '\0')
		snprintf(msg, msglen, "allow: at most %d entries", ESTD_POLICY_MAX_ENTRIES);
	free(cur);
	return ok;
oom:
	free(cur);
	snprintf(msg, msglen, "out of memory");
	return 0;
}

/* subject_pattern = DN | DN ...; san_pattern = SAN, SAN ... */
static int set_patterns(struct estd_policy *p, int subject, const char *v, char *msg,
			size_t msglen)
{
	int ok = 1;

	while (ok && *v != '\0') {
		size_t n = strcspn(v, subject ? "|" : ",");
		char *piece = trimmed(v, n);

		v += n + (v[n] != '\0');
		if (piece == NULL)
			return snprintf(msg, msglen, "out of memory"), 0;
		if ((subject ? p->nsubj : p->nsan) >= ESTD_POLICY_MAX_ENTRIES)
			ok = 0, snprintf(msg, msglen, "at most %d patterns", ESTD_POLICY_MAX_ENTRIES);
		else if (subject)
			ok = estd_dn_pat_parse(piece, &p->subj[p->nsubj++], msg, msglen);
		else
			ok = estd_san_pat_parse(piece, 0, &p->san[p->nsan++], msg, msglen);
		free(piece);
	}
	if (ok && (subject ? p->nsubj : p->nsan) == 0)
		ok = 0, snprintf(msg, msglen, "name at least one pattern");
	return ok;
}

static struct estd_policy *policy_new(void)
{
	struct estd_policy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->max_sans = ESTD_POLICY_MAX_SANS_DEFAULT;
	p->allow = calloc(ESTD_POLICY_MAX_ENTRIES, sizeof(*p->allow));
	p->subj = calloc(ESTD_POLICY_MAX_ENTRIES, sizeof(*p->subj));
	p->san = calloc(ESTD_POLICY_MAX_ENTRIES, sizeof(*p->san));
	if (p->allow == NULL || p->subj == NULL || p->san == NULL) {
		estd_policy_free(p);
		return NULL;
	}
	return p;
}

/* See policy.h. */
int estd_policy_conf_set(struct estd_policy **pol, const char *key, const char *value,
			 char *msg, size_t msglen)
{
	struct estd_policy *p = *pol;
	long long n = 0;

	msg[0] = '\0';
	if (p == NULL && (p = *pol = policy_new()) == NULL)
		return snprintf(msg, msglen, "out of memory"), 0;
	if (strcmp(key, "allow") == 0)
		return set_allow(p, value, msg, msglen);
	if (strcmp(key, "subject_pattern") == 0 || strcmp(key, "san_pattern") == 0)
		return set_patterns(p, key[1] == 'u', value, msg, msglen);
	if (strcmp(key, "max_sans") == 0) {
		if (estd_parse_ll(value, 0, 1024, &n) != 0)
			return snprintf(msg, msglen, "'%.32s' is not a number in 0..1024", value), 0;
		p->max_sans = (int)n;
		return 1;
	}
	if (strcmp(value, "user") != 0)
		return snprintf(msg, msglen, "the only value is 'user'"), 0;
	if (strcmp(key, "san_must_match") == 0)
		p->san_must_match_user = 1;
	else
		p->cn_must_match_user = 1;
	return 1;
}

/* See policy.h. */
void estd_policy_free(struct estd_policy *pol)
{
	size_t i;

	if (pol == NULL)
		return;
	for (i = 0; pol->allow != NULL && i < pol->nallow; i++)
		allow_clear(&pol->allow[i]);
	for (i = 0; pol->subj != NULL && i < pol->nsubj; i++)
		estd_dn_pat_clear(&pol->subj[i]);
	for (i = 0; pol->san != NULL && i < pol->nsan; i++)
		estd_san_pat_clear(&pol->san[i]);
	free(pol->allow);
	free(pol->subj);
	free(pol->san);
	free(pol);
}

/* ---- checking -------------------------------------------------------------------- */

static int cert_san_matches(const struct estd_san_pat *sp, X509 *cert)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int i, found = 0;

	for (i = 0; i < sk_GENERAL_NAME_num(gens) && !found; i++)
		found = estd_san_pat_match(sp, sk_GENERAL_NAME_value(gens, i));
	GENERAL_NAMES_free(gens);
	return found;
}

static int allow_matches(const struct allow *a, const struct estd_policy_who *who)
{
	switch (a->kind) {
	case A_USER:
		return who->user != NULL && estd_value_match(a->user, who->user, strlen(who->user), 0);
	case A_CERT_SUBJECT:
		return who->cert != NULL && estd_dn_pat_match(&a->dn, X509_get_subject_name(who->cert));
	case A_CERT_ISSUER:
		return who->cert != NULL && estd_dn_pat_match(&a->dn, X509_get_issuer_name(who->cert));
	case A_CERT_SAN:
		return who->cert != NULL && cert_san_matches(&a->san, who->cert);
	}
	return 0;
}

/* A value equals the user name (DNS names: case and one trailing dot aside). */
static int equals_user(const char *user, const char *v, size_t len, int dns)
{
	size_t n = strlen(user);

	if (dns && len > 1 && v[len - 1] == '.')
		len--;
	if (len != n || memchr(v, '\0', len) != NULL)
		return 0;
	return dns ? strncasecmp(user, v, n) == 0 : memcmp(user, v, n) == 0;
}

/* cn_must_match = user: exactly one CN, equal to the user name. */
static int cn_is_user(const X509_NAME *subject, const char *user)
{
	int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	unsigned char *u = NULL;
	int n, eq;

	if (i < 0 || X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0)
		return 0;
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
	eq = n >= 0 && equals_user(user, (const char *)u, (size_t)n, 0);
	OPENSSL_free(u);
	return eq;
}

static int san_is_user(const GENERAL_NAME *gen, const char *user)
{
	int type = -1;
	const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);

	if (s == NULL || (type != GEN_DNS && type != GEN_EMAIL && type != GEN_URI))
		return 0;
	return equals_user(user, (const char *)ASN1_STRING_get0_data(s),
			   (size_t)ASN1_STRING_length(s), type == GEN_DNS);
}

static int subject_allowed(const struct estd_policy *p, const X509_NAME *subject)
{
	size_t i;

	for (i = 0; i < p->nsubj; i++)
		if (estd_dn_pat_match(&p->subj[i], subject))
			return 1;
	return p->nsubj == 0;
}

static int san_allowed(const struct estd_policy *p, const GENERAL_NAME *gen)
{
	size_t i;

	for (i = 0; i < p->nsan; i++)
		if (estd_san_pat_match(&p->san[i], gen))
			return 1;
	return p->nsan == 0;
}

/* The *_must_match rules; skipped for renewals and tokens (their names are pinned). */
static int must_match(const struct estd_policy *p, const struct estd_policy_who *who,
		      const X509_NAME *subject, const GENERAL_NAMES *sans, char *reason,
		      size_t len)
{
	char buf[256];
	int i, n = sk_GENERAL_NAME_num(sans);

	if (who->renewal || who->token || (!p->cn_must_match_user && !p->san_must_match_user))
		return 0;
	if (who->user == NULL)
		return snprintf(reason, len, "%s_must_match = user: the request has no HTTP user",
				p->cn_must_match_user ? "cn" : "san"), -1;
	if (p->cn_must_match_user && !cn_is_user(subject, who->user))
		return snprintf(reason, len, "the subject's CN must be the user name %.64s",
				who->user), -1;
	if (p->san_must_match_user && n <= 0)
		return snprintf(reason, len, "a subjectAltName equal to the user name is required"), -1;
	for (i = 0; p->san_must_match_user && i < n; i++)
		if (!san_is_user(sk_GENERAL_NAME_value(sans, i), who->user))
			return snprintf(reason, len, "subjectAltName %s is not the user name %.64s",
					estd_san_text(sk_GENERAL_NAME_value(sans, i), buf, sizeof(buf)),
					who->user), -1;
	return 0;
}

/* See policy.h. */
int estd_policy_check_names(const struct estd_policy *pol, const struct estd_policy_who *who,
			    const X509_NAME *subject, const GENERAL_NAMES *sans, char *reason,
			    size_t len)
{
	int i, n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	int max = pol != NULL ? pol->max_sans : ESTD_POLICY_MAX_SANS_DEFAULT;
	char buf[256], *subj = NULL;

	if (max > 0 && n > max)
		return snprintf(reason, len, "%d subjectAltNames; this label allows at most %d", n,
				max), -1;
	if (pol == NULL)
		return 0;
	if (!subject_allowed(pol, subject)) {
		if (estkit_name_oneline(subject, &subj) != ESTKIT_OK)
			subj = NULL;
		snprintf(reason, len, "subject %.200s does not match subject_pattern",
			 subj != NULL ? subj : "?");
		estkit_free(subj);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!san_allowed(pol, sk_GENERAL_NAME_value(sans, i)))
			return snprintf(reason, len, "subjectAltName %s does not match san_pattern",
					estd_san_text(sk_GENERAL_NAME_value(sans, i), buf, sizeof(buf))),
			       -1;
	return must_match(pol, who, subject, sans, reason, len);
}

/* See policy.h. */
int estd_policy_check(const struct estd_policy *pol, const struct estd_policy_who *who,
		      X509_REQ *csr, char *reason, size_t len)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	GENERAL_NAMES *sans = NULL;
	int crit = -1, rc = -1;
	size_t i;

	if (pol != NULL && pol->nallow > 0 && !who->renewal && !who->token) {
		for (i = 0; i < pol->nallow && !allow_matches(&pol->allow[i], who); i++)
			;
		if (i == pol->nallow) {
			snprintf(reason, len, "this identity may not enroll on this label");
			goto out;
		}
	}
	if (exts != NULL)
		sans = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
	/* -1: absent; -2: more than one extension; a present but undecodable one: NULL, crit >= 0 */
	if (crit == -2 || (crit >= 0 && sans == NULL)) {
		snprintf(reason, len, "malformed subjectAltName in the request");
		goto out;
	}
	rc = estd_policy_check_names(pol, who, X509_REQ_get_subject_name(csr), sans, reason, len);
out:
	GENERAL_NAMES_free(sans);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}
