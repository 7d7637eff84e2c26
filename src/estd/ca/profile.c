/*
 * profile.c - parsing issuance profiles and checking requested keys
 * against them. Profiles are parsed once (at load and at reload), so a typo
 * is reported when estd starts, not when the first client enrolls.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "ca/profile.h"
#include "ca/names.h"

#define TOKEN_MAX 128
#define TOKENS_MAX 64

struct ku_name {
	const char *name;
	unsigned flag;
};

/* RFC 5280 4.2.1.3 names; keyCertSign and cRLSign are refused separately. */
static const struct ku_name ku_names[] = {
	{ "digitalSignature", X509v3_KU_DIGITAL_SIGNATURE },
	{ "nonRepudiation", X509v3_KU_NON_REPUDIATION },
	{ "contentCommitment", X509v3_KU_NON_REPUDIATION },
	{ "keyEncipherment", X509v3_KU_KEY_ENCIPHERMENT },
	{ "dataEncipherment", X509v3_KU_DATA_ENCIPHERMENT },
	{ "keyAgreement", X509v3_KU_KEY_AGREEMENT },
	{ "encipherOnly", X509v3_KU_ENCIPHER_ONLY },
	{ "decipherOnly", X509v3_KU_DECIPHER_ONLY },
};

struct eku_name {
	const char *name;
	int nid;
};

static const struct eku_name eku_names[] = {
	{ "serverAuth", NID_server_auth },
	{ "clientAuth", NID_client_auth },
	{ "codeSigning", NID_code_sign },
	{ "emailProtection", NID_email_protect },
	{ "timeStamping", NID_time_stamp },
	{ "OCSPSigning", NID_OCSP_sign },
	{ "cmcCA", NID_cmcCA },
	{ "cmcRA", NID_cmcRA },
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Splits a comma list into trimmed tokens in buf (modified in place).
 * Returns the token count, or -1 with err set for an empty entry, an
 * over-long entry or too many entries.
 */
static int split_list(char *buf, char **tok, const char *what, char *err, size_t errlen)
{
	int n = 0;
	char *p = buf;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return 0;
	for (;;) {
		char *end = strchr(p, ',');
		char *e;

		if (end != NULL)
			*end = '\0';
		while (isspace((unsigned char)*p))
			p++;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*p == '\0' || e - p >= TOKEN_MAX || n >= TOKENS_MAX) {
			errf(err, errlen, "%s: %s", what,
			     *p == '\0' ? "empty entry in the list" : "entry or list too long");
			return -1;
		}
		tok[n++] = p;
		if (end == NULL)
			return n;
		p = end + 1;
	}
}

/* One entry of a profile list; 0, or -1 with err set. what: "profile P: key". */
typedef int (*list_entry_fn)(const char *tok, void *arg, const char *what, char *err,
			     size_t errlen);

/*
 * Calls fn for each entry of the comma list of key in profile pname: the
 * one copy, split and bound check of key_usage and extended_key_usage.
 * An absent list is empty. 0, or -1 with err set.
 */
static int for_each_entry(const char *list, const char *pname, const char *key,
			  list_entry_fn fn, void *arg, char *err, size_t errlen)
{
	char buf[TOKEN_MAX * 8];
	char *tok[TOKENS_MAX];
	char what[160];
	int n, i;

	snprintf(what, sizeof(what), "profile %s: %s", pname, key);
	if (list == NULL)
		return 0;
	if (strlen(list) >= sizeof(buf)) {
		errf(err, errlen, "%s: value too long", what);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	n = split_list(buf, tok, what, err, errlen);
	for (i = 0; i < n; i++)
		if (fn(tok[i], arg, what, err, errlen) != 0)
			return -1;
	return n < 0 ? -1 : 0;
}

/* key_usage entry: an RFC 5280 4.2.1.3 name, ORed into *(unsigned *)arg. */
static int ku_entry(const char *tok, void *arg, const char *what, char *err, size_t errlen)
{
	unsigned flag = 0;
	size_t k;

	if (strcasecmp(tok, "keyCertSign") == 0 || strcasecmp(tok, "cRLSign") == 0) {
		/* RFC 5280 4.2.1.3: keyCertSign needs cA TRUE; we issue end entities. */
		errf(err, errlen, "%s: '%s' is for CA certificates; profiles issue "
		     "end-entity certificates only", what, tok);
		return -1;
	}
	for (k = 0; k < sizeof(ku_names) / sizeof(ku_names[0]); k++)
		if (strcasecmp(tok, ku_names[k].name) == 0)
			flag = ku_names[k].flag;
	if (flag == 0) {
		errf(err, errlen, "%s: unknown key usage '%s'", what, tok);
		return -1;
	}
	*(unsigned *)arg |= flag;
	return 0;
}

static int parse_key_usage(const char *list, unsigned *out, const char *pname, char *err,
			   size_t errlen)
{
	*out = 0;
	return for_each_entry(list, pname, "key_usage", ku_entry, out, err, errlen);
}

/* A dotted OID: digits and single dots, at least two arcs. */
static int is_dotted_oid(const char *s)
{
	int dots = 0;
	const char *p;

	if (!isdigit((unsigned char)s[0]))
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (p[1] == '\0' || p[1] == '.')
				return 0;
			dots++;
		} else if (!isdigit((unsigned char)*p)) {
			return 0;
		}
	}
	return dots >= 1;
}

static ASN1_OBJECT *eku_object(const char *tok)
{
	size_t k;

	for (k = 0; k < sizeof(eku_names) / sizeof(eku_names[0]); k++)
		if (strcasecmp(tok, eku_names[k].name) == 0)
			return OBJ_nid2obj(eku_names[k].nid);
	if (is_dotted_oid(tok))
		return OBJ_txt2obj(tok, 1);
	return NULL;
}

/* Pushes obj (taken) on stack unless listed already. 0, or -1 with err set. */
static int push_once(STACK_OF(ASN1_OBJECT) *stack, ASN1_OBJECT *obj, const char *tok,
		     const char *what, char *err, size_t errlen)
{
	int j;

	for (j = 0; j < sk_ASN1_OBJECT_num(stack); j++) {
		if (OBJ_cmp(sk_ASN1_OBJECT_value(stack, j), obj) == 0) {
			ASN1_OBJECT_free(obj);
			errf(err, errlen, "%s: '%s' listed twice", what, tok);
			return -1;
		}
	}
	if (!sk_ASN1_OBJECT_push(stack, obj)) {
		ASN1_OBJECT_free(obj);
		errf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	return 0;
}

/* extended_key_usage entry: a name or dotted OID, pushed on the stack arg, once. */
static int eku_entry(const char *tok, void *arg, const char *what, char *err, size_t errlen)
{
	ASN1_OBJECT *obj = NULL;

	ERR_set_mark();
	obj = eku_object(tok);
	ERR_pop_to_mark();
	if (obj == NULL) {
		errf(err, errlen, "%s: unknown extended key usage '%s' (a name such as "
		     "clientAuth, or a dotted OID)", what, tok);
		return -1;
	}
	return push_once(arg, obj, tok, what, err, errlen);
}

static int parse_eku(const char *list, STACK_OF(ASN1_OBJECT) *eku, const char *pname,
		     char *err, size_t errlen)
{
	return for_each_entry(list, pname, "extended_key_usage", eku_entry, eku, err, errlen);
}

/* allow_othername entry: the dotted OID of an otherName type-id, pushed on arg, once. */
static int othername_entry(const char *tok, void *arg, const char *what, char *err,
			   size_t errlen)
{
	ASN1_OBJECT *obj = NULL;

	ERR_set_mark();
	obj = is_dotted_oid(tok) ? OBJ_txt2obj(tok, 1) : NULL;
	ERR_pop_to_mark();
	if (obj == NULL) {
		errf(err, errlen, "%s: '%s' is not a dotted OID (e.g. 1.3.6.1.4.1.311.20.2.3, "
		     "the Microsoft UPN)", what, tok);
		return -1;
	}
	return push_once(arg, obj, tok, what, err, errlen);
}

/* NID of a curve named "P-256" (NIST) or "prime256v1"/"secp256k1" (SN); NID_undef if unknown. */
static int curve_nid(const char *name)
{
	EC_builtin_curve curves[128];
	size_t n, i;
	int nid;

	nid = EC_curve_nist2nid(name);
	if (nid != NID_undef)
		return nid;
	nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		return NID_undef;
	n = EC_get_builtin_curves(curves, sizeof(curves) / sizeof(curves[0]));
	for (i = 0; i < n && i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].nid == nid)
			return nid;
	return NID_undef;
}

/* The name a curve is shown by in messages: "P-256", else its short name. */
static const char *curve_display(int nid)
{
	const char *s = EC_curve_nid2nist(nid);

	return s != NULL ? s : OBJ_nid2sn(nid);
}

static int parse_rsa_bits(const char *arg, int *bits)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 2048 || v > ESTD_RSA_MAX_BITS)
		return -1;
	*bits = (int)v;
	return 0;
}

static int parse_one_key(char *tok, struct estd_allowed_key *k)
{
	char *arg = strchr(tok, ':');

	if (arg != NULL)
		*arg++ = '\0';
	memset(k, 0, sizeof(*k));
	if (strcasecmp(tok, "ec") == 0 && arg != NULL) {
		k->kind = ESTD_KEY_EC;
		k->curve_nid = curve_nid(arg);
		return k->curve_nid == NID_undef ? -1 : 0;
	}
	if (strcasecmp(tok, "rsa") == 0) {
		k->kind = ESTD_KEY_RSA;
		k->min_bits = 2048;
		return arg == NULL ? 0 : parse_rsa_bits(arg, &k->min_bits);
	}
	if (arg != NULL)
		return -1;
	if (strcasecmp(tok, "ed25519") == 0)
		k->kind = ESTD_KEY_ED25519;
	else if (strcasecmp(tok, "ed448") == 0)
		k->kind = ESTD_KEY_ED448;
	else
		return -1;
	return 0;
}

static int parse_allowed_keys(const char *list, struct estd_ca_profile *p, char *err,
			      size_t errlen)
{
	char buf[TOKEN_MAX * 8];
	char *tok[TOKENS_MAX];
	char what[160];
	int n, i;

	snprintf(what, sizeof(what), "profile %s: allowed_keys", p->name);
	if (list == NULL || strlen(list) >= sizeof(buf)) {
		errf(err, errlen, "%s: %s", what, list == NULL ? "missing" : "value too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	n = split_list(buf, tok, what, err, errlen);
	if (n <= 0) {
		if (n == 0)
			errf(err, errlen, "%s: empty: no key would be accepted", what);
		return -1;
	}
	p->keys = calloc((size_t)n, sizeof(*p->keys));
	if (p->keys == NULL) {
		errf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char orig[TOKEN_MAX];

		snprintf(orig, sizeof(orig), "%s", tok[i]);
		if (parse_one_key(tok[i], &p->keys[i]) != 0) {
			errf(err, errlen, "%s: bad key type '%s' (use ec:P-256, ec:P-384, ec:P-521, "
			     "rsa:BITS with 2048 <= BITS <= %d, ed25519 or ed448)", what, orig,
			     ESTD_RSA_MAX_BITS);
			return -1;
		}
		p->nkeys++;
	}
	return 0;
}

/*
 * crl_url: an http:// or https:// URI of printable ASCII without blanks or
 * commas (RFC 5280 4.2.1.13: HTTP is the usual CRL distribution point).
 */
static int parse_crl_url(const char *url, struct estd_ca_profile *p, char *err, size_t errlen)
{
	size_t i, n = url != NULL ? strlen(url) : 0;

	if (url == NULL)
		return 0;
	if (n > 512 || !(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) ||
	    n <= 8) {
		errf(err, errlen, "profile %s: crl_url: want an http:// or https:// URL", p->name);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (url[i] <= ' ' || url[i] >= 0x7f || url[i] == ',') {
			errf(err, errlen, "profile %s: crl_url: no blanks, commas or non-ASCII",
			     p->name);
			return -1;
		}
	}
	p->crl_url = strdup(url);
	return p->crl_url != NULL ? 0 : -1;
}

enum estkit_status estd_profile_parse(const struct estd_profile *src,
				      struct estd_ca_profile **out, char *err, size_t errlen)
{
	struct estd_ca_profile *p = NULL;
	const char *name;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out == NULL || src == NULL) {
		errf(err, errlen, "no profile");
		return ESTKIT_EINVAL;
	}
	*out = NULL;
	name = src->name != NULL ? src->name : "";
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->name = strdup(name)) == NULL ||
	    (p->eku = sk_ASN1_OBJECT_new_null()) == NULL ||
	    (p->othername_types = sk_ASN1_OBJECT_new_null()) == NULL) {
		errf(err, errlen, "profile %s: out of memory", name);
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	if (src->validity_days <= 0 || src->validity_days > 36500) {
		errf(err, errlen, "profile %s: validity_days: %d is not between 1 and 36500",
		     name, src->validity_days);
		goto out;
	}
	p->validity_days = src->validity_days;
	/* 0: not set (validity_days applies); else the range the config key allows */
	if (src->validity_seconds != 0 &&
	    (src->validity_seconds < 10 || src->validity_seconds > 31536000)) {
		errf(err, errlen, "profile %s: validity_seconds: %d is not between 10 and 31536000",
		     name, src->validity_seconds);
		goto out;
	}
	p->validity_seconds = src->validity_seconds;
	p->copy_sans = src->copy_sans != 0;
	p->registered_id = src->allow_registered_id != 0;
	p->max_sans = ESTD_MAX_SANS_DEFAULT; /* [ca] max_sans may lower or raise it */
	p->max_subject = ESTD_MAX_SUBJECT_DEFAULT;
	if (parse_crl_url(src->crl_url, p, err, errlen) != 0 ||
	    parse_key_usage(src->key_usage, &p->key_usage, name, err, errlen) != 0 ||
	    parse_eku(src->ext_key_usage, p->eku, name, err, errlen) != 0 ||
	    for_each_entry(src->allow_othername, name, "allow_othername", othername_entry,
			   p->othername_types, err, errlen) != 0 ||
	    parse_allowed_keys(src->allowed_keys, p, err, errlen) != 0)
		goto out;
	*out = p;
	p = NULL;
	rc = ESTKIT_OK;
out:
	estd_profile_free(p);
	return rc;
}

void estd_profile_free(struct estd_ca_profile *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->crl_url);
	sk_ASN1_OBJECT_pop_free(p->eku, ASN1_OBJECT_free);
	sk_ASN1_OBJECT_pop_free(p->othername_types, ASN1_OBJECT_free);
	free(p->keys);
	free(p);
}

static int has_kind(const struct estd_ca_profile *p, enum estd_key_kind kind)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].kind == kind)
			return 1;
	return 0;
}

static enum estkit_status check_ec(const struct estd_ca_profile *p, EVP_PKEY *key,
				   char *reason, size_t rlen)
{
	char group[80];
	size_t i;
	int nid;

	if (!has_kind(p, ESTD_KEY_EC)) {
		errf(reason, rlen, "EC keys are not allowed by the profile");
		return ESTKIT_EPOLICY;
	}
	if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1) {
		errf(reason, rlen, "EC keys with explicit curve parameters are not accepted");
		return ESTKIT_EPOLICY;
	}
	nid = curve_nid(group);
	for (i = 0; nid != NID_undef && i < p->nkeys; i++)
		if (p->keys[i].kind == ESTD_KEY_EC && p->keys[i].curve_nid == nid)
			return ESTKIT_OK;
	errf(reason, rlen, "EC curve %s is not allowed by the profile",
	     nid != NID_undef ? curve_display(nid) : group);
	return ESTKIT_EPOLICY;
}

static enum estkit_status check_rsa(const struct estd_ca_profile *p, EVP_PKEY *key,
				    char *reason, size_t rlen)
{
	int bits = EVP_PKEY_get_bits(key);
	int min = 0;
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].kind == ESTD_KEY_RSA && (min == 0 || p->keys[i].min_bits < min))
			min = p->keys[i].min_bits;
	if (min == 0) {
		errf(reason, rlen, "RSA keys are not allowed by the profile");
		return ESTKIT_EPOLICY;
	}
	if (bits < min) {
		errf(reason, rlen, "RSA key of %d bits is below the profile minimum of %d", bits,
		     min);
		return ESTKIT_EPOLICY;
	}
	if (bits > ESTD_RSA_MAX_BITS) {
		errf(reason, rlen, "RSA key of %d bits is above the maximum of %d", bits,
		     ESTD_RSA_MAX_BITS);
		return ESTKIT_EPOLICY;
	}
	return ESTKIT_OK;
}

enum estkit_status estd_profile_check_key(const struct estd_ca_profile *p, EVP_PKEY *key,
					  char *reason, size_t rlen)
{
	const char *tname;

	if (p == NULL || key == NULL) {
		errf(reason, rlen, "no public key");
		return ESTKIT_EINVAL;
	}
	if (EVP_PKEY_is_a(key, "RSA"))
		return check_rsa(p, key, reason, rlen);
	if (EVP_PKEY_is_a(key, "EC"))
		return check_ec(p, key, reason, rlen);
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) {
		enum estd_key_kind kind = EVP_PKEY_is_a(key, "ED25519") ? ESTD_KEY_ED25519
									 : ESTD_KEY_ED448;

		if (has_kind(p, kind))
			return ESTKIT_OK;
		errf(reason, rlen, "%s keys are not allowed by the profile",
		     kind == ESTD_KEY_ED25519 ? "Ed25519" : "Ed448");
		return ESTKIT_EPOLICY;
	}
	if (EVP_PKEY_is_a(key, "DSA")) {
		errf(reason, rlen, "DSA keys are not accepted");
		return ESTKIT_EPOLICY;
	}
	tname = EVP_PKEY_get0_type_name(key);
	errf(reason, rlen, "%s keys are not accepted", tname != NULL ? tname : "unknown");
	return ESTKIT_EPOLICY;
}

unsigned estd_profile_key_usage_for(const struct estd_ca_profile *p, EVP_PKEY *key)
{
	unsigned ku, allowed;

	if (p == NULL)
		return 0;
	ku = p->key_usage;
	if (key == NULL || EVP_PKEY_is_a(key, "RSA"))
		allowed = ~(unsigned)(X509v3_KU_KEY_AGREEMENT | X509v3_KU_ENCIPHER_ONLY |
				      X509v3_KU_DECIPHER_ONLY);
	else if (EVP_PKEY_is_a(key, "EC"))
		allowed = ~(unsigned)(X509v3_KU_KEY_ENCIPHERMENT | X509v3_KU_DATA_ENCIPHERMENT);
	else
		allowed = X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_NON_REPUDIATION;
	return ku & allowed;
}
