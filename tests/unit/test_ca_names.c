/*
 * test_ca_names.c - src/estd/ca/names.c: the subject and subjectAltName a
 * CSR asks for are bounded and well-formed before the CA copies them (NUL
 * bytes, control bytes, malformed dNSName / rfc822Name / URI / iPAddress,
 * too many names, an oversized subject), and otherName / registeredID
 * names only as the profile allows (type listed, bounded string value).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include "ca/names.h"

struct san_case {
	int type;            /* GEN_DNS, GEN_EMAIL, GEN_URI, GEN_IPADD */
	const char *value;
	int len;             /* -1: strlen */
	int ok;
};

/* The check under a profile allowing no otherName nor registeredID. */
static enum estkit_status check_sans(const GENERAL_NAMES *g, int max_sans, size_t max_subject,
				     char *reason, size_t rlen)
{
	const struct estd_names_policy pol = { max_sans, max_subject, NULL, 0 };

	return estd_names_check_sans(g, &pol, reason, rlen);
}

static GENERAL_NAMES *one_san(const struct san_case *c)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = c->type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
	int len = c->len >= 0 ? c->len : (int)strlen(c->value);

	assert_non_null(gens);
	assert_non_null(g);
	assert_non_null(s);
	assert_int_equal(ASN1_STRING_set(s, c->value, len), 1);
	GENERAL_NAME_set0_value(g, c->type, s);
	assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
	return gens;
}

static void test_san_values(void **state)
{
	static const struct san_case cases[] = {
		{ GEN_DNS, "host.example.com", -1, 1 },
		{ GEN_DNS, "*.example.com", -1, 1 },
		{ GEN_DNS, "a-b_c.Example.COM", -1, 1 },
		{ GEN_DNS, "localhost", -1, 1 },
		{ GEN_EMAIL, "user@example.com", -1, 1 },
		{ GEN_URI, "https://example.com/a?b=c", -1, 1 },
		{ GEN_IPADD, "\x7f\0\0\x01", 4, 1 },
		{ GEN_IPADD, "0123456789abcdef", 16, 1 },
		/* malformed */
		{ GEN_DNS, "evil.example\0.good.example", 26, 0 },
		{ GEN_DNS, "", 0, 0 },
		{ GEN_DNS, ".example.com", -1, 0 },
		{ GEN_DNS, "example.com.", -1, 0 },
		{ GEN_DNS, "a..b", -1, 0 },
		{ GEN_DNS, "a b.example", -1, 0 },
		{ GEN_DNS, "a\r\nb.example", -1, 0 },
		{ GEN_DNS, "foo.*.example", -1, 0 },
		{ GEN_DNS, "*", -1, 0 },
		{ GEN_DNS, "f*o.example", -1, 0 },
		{ GEN_DNS, "\xc3\xa9.example", -1, 0 },
		{ GEN_DNS, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x", -1, 0 },
		{ GEN_EMAIL, "no-at-sign", -1, 0 },
		{ GEN_EMAIL, "a@b\0c", 5, 0 },
		{ GEN_EMAIL, "a b@c", -1, 0 },
		{ GEN_URI, "https://x/\x01", -1, 0 },
		{ GEN_URI, "", 0, 0 },
		{ GEN_IPADD, "\x7f\0\x01", 3, 0 },
		{ GEN_IPADD, "", 0, 0 },
	};
	char reason[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		GENERAL_NAMES *g = one_san(&cases[i]);
		enum estkit_status st = check_sans(g, 10, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason));
		if ((st == ESTKIT_OK) != cases[i].ok)
			fail_msg("case %zu: status %d", i, (int)st);
		if (!cases[i].ok)
			assert_non_null(strstr(reason, "subjectAltName"));
		GENERAL_NAMES_free(g);
	}
	assert_int_equal(check_sans(NULL, 0, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason)), ESTKIT_OK);
}

static void test_san_count_is_bounded(void **state)
{
	static const int counts[] = { 0, 1, 5, 6, 1000 };
	char reason[256], dns[32];
	size_t i;
	int j;

	(void)state;
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		GENERAL_NAMES *gens = GENERAL_NAMES_new();
		for (j = 0; j < counts[i]; j++) {
			struct san_case c = { GEN_DNS, dns, -1, 1 };
			GENERAL_NAMES *one = NULL;
			snprintf(dns, sizeof(dns), "h%d.example", j);
			one = one_san(&c);
			assert_true(sk_GENERAL_NAME_push(gens, sk_GENERAL_NAME_pop(one)) > 0);
			GENERAL_NAMES_free(one);
		}
		assert_int_equal(check_sans(gens, 5, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason)) == ESTKIT_OK,
				 counts[i] <= 5);
		GENERAL_NAMES_free(gens);
	}
}

/* A directoryName SAN is held to the configured max_subject, as the subject is. */
static void test_dirname_san_follows_max_subject(void **state)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	X509_NAME *dn = X509_NAME_new();
	char reason[256];

	(void)state;
	assert_non_null(gens);
	assert_non_null(g);
	assert_non_null(dn);
	assert_int_equal(X509_NAME_add_entry_by_txt(dn, "CN", MBSTRING_UTF8,
						    (const unsigned char *)"a directory name of some length",
						    -1, -1, 0), 1);
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, dn);
	assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
	assert_int_equal(check_sans(gens, 5, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason)), ESTKIT_OK);
	assert_int_equal(check_sans(gens, 5, 16, reason, sizeof(reason)),
			 ESTKIT_EPOLICY);
	assert_non_null(strstr(reason, "subjectAltName"));
	GENERAL_NAMES_free(gens);
}

#define UPN "1.3.6.1.4.1.311.20.2.3"
#define SMTP_UTF8 "1.3.6.1.5.5.7.8.9"

struct other_case {
	int gen;            /* GEN_OTHERNAME or GEN_RID */
	const char *oid;    /* otherName type-id, or the registeredID */
	int vtype;          /* V_ASN1_* of the otherName value */
	const char *value;
	int len;            /* -1: strlen */
	int allow_upn;      /* the policy lists UPN (and PrintableString-free types) */
	int allow_rid;
	const char *reason; /* NULL: accepted; else a word of the reason */
};

/* One otherName or registeredID SAN as the CSR decoder would give it. */
static GENERAL_NAMES *other_san(const struct other_case *c, const char *big)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_OBJECT *oid = OBJ_txt2obj(c->oid, 1);
	const char *v = c->value != NULL ? c->value : big;

	assert_non_null(gens);
	assert_non_null(g);
	assert_non_null(oid);
	if (c->gen == GEN_RID) {
		GENERAL_NAME_set0_value(g, GEN_RID, oid);
	} else {
		ASN1_TYPE *t = ASN1_TYPE_new();
		ASN1_STRING *s = ASN1_STRING_type_new(c->vtype);

		assert_non_null(t);
		assert_non_null(s);
		assert_int_equal(ASN1_STRING_set(s, v, c->len >= 0 ? c->len : (int)strlen(v)), 1);
		ASN1_TYPE_set(t, c->vtype, s);
		assert_int_equal(GENERAL_NAME_set0_othername(g, oid, t), 1);
	}
	assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
	return gens;
}

static void test_othername_and_rid_policy(void **state)
{
	static const struct other_case cases[] = {
		/* a UPN: refused by default, allowed when listed */
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "user@example.org", -1, 1, 0, NULL },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "user@example.org", -1, 0, 0, UPN },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "user@example.org", -1, 0, 1,
		  "allow_othername = " UPN },
		{ GEN_OTHERNAME, UPN, V_ASN1_IA5STRING, "user@example.org", -1, 1, 0, NULL },
		{ GEN_OTHERNAME, UPN, V_ASN1_PRINTABLESTRING, "user", -1, 1, 0, NULL },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "j\xc3\xb6rg@example.org", -1, 1, 0, NULL },
		/* another type is not allowed by the UPN entry */
		{ GEN_OTHERNAME, SMTP_UTF8, V_ASN1_UTF8STRING, "user@example.org", -1, 1, 1,
		  SMTP_UTF8 },
		/* allowed type, bad value */
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, NULL, 1100, 1, 0, "longer than 1024" }, /* oversize */
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, NULL, 1018, 1, 0, NULL }, /* 1022 DER */
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, NULL, 1021, 1, 0, "longer than 1024" }, /* 1025 DER */
		{ GEN_OTHERNAME, UPN, V_ASN1_OCTET_STRING, "user@example.org", -1, 1, 0,
		  "UTF8String" },
		{ GEN_OTHERNAME, UPN, V_ASN1_INTEGER, "\x05", 1, 1, 0, "UTF8String" },
		{ GEN_OTHERNAME, UPN, V_ASN1_BMPSTRING, "\0u\0s", 4, 1, 0, "UTF8String" },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "user\0@evil", 10, 1, 0, "control" },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "a\r\nb", -1, 1, 0, "control" },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "", 0, 1, 0, "control" },
		{ GEN_OTHERNAME, UPN, V_ASN1_UTF8STRING, "\xc3(", -1, 1, 0, "control" }, /* bad UTF-8 */
		/* registeredID */
		{ GEN_RID, "1.2.3.4", 0, NULL, 0, 1, 0, "allow_registered_id" },
		{ GEN_RID, "1.2.3.4", 0, NULL, 0, 0, 1, NULL },
	};
	char reason[256], big[1200];
	STACK_OF(ASN1_OBJECT) *types = sk_ASN1_OBJECT_new_null();
	size_t i;

	(void)state;
	memset(big, 'u', sizeof(big));
	assert_non_null(types);
	assert_true(sk_ASN1_OBJECT_push(types, OBJ_txt2obj(UPN, 1)) > 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct estd_names_policy pol = { 10, ESTD_MAX_SUBJECT_DEFAULT,
						       cases[i].allow_upn ? types : NULL,
						       cases[i].allow_rid };
		GENERAL_NAMES *g = other_san(&cases[i], big);
		enum estkit_status st;

		reason[0] = '\0';
		st = estd_names_check_sans(g, &pol, reason, sizeof(reason));
		if ((st == ESTKIT_OK) != (cases[i].reason == NULL))
			fail_msg("case %zu: status %d (%s)", i, (int)st, reason);
		if (cases[i].reason != NULL && strstr(reason, cases[i].reason) == NULL)
			fail_msg("case %zu: reason '%s' lacks '%s'", i, reason, cases[i].reason);
		GENERAL_NAMES_free(g);
	}
	sk_ASN1_OBJECT_pop_free(types, ASN1_OBJECT_free);
}

struct subj_case {
	int type;          /* MBSTRING_UTF8 or V_ASN1_BMPSTRING */
	const char *value;
	int len;
	int repeat;        /* how many OU entries */
	int ok;
};

static void test_subject_values_and_size(void **state)
{
	static const struct subj_case cases[] = {
		{ MBSTRING_UTF8, "device 1", -1, 1, 1 },
		{ MBSTRING_UTF8, "caf\xc3\xa9", -1, 1, 1 },
		{ V_ASN1_BMPSTRING, "\0a\0b", 4, 1, 1 },      /* NUL bytes of UCS-2 are fine */
		{ MBSTRING_UTF8, "x", -1, 40, 1 },
		/* malformed or too big */
		{ MBSTRING_UTF8, "evil\0.good", 10, 1, 0 },
		{ MBSTRING_UTF8, "line\nbreak", -1, 1, 0 },
		{ MBSTRING_UTF8, "del\x7f", -1, 1, 0 },
		{ V_ASN1_BMPSTRING, "\0a\0\0", 4, 1, 0 },     /* U+0000 */
		{ MBSTRING_UTF8, "0123456789012345678901234567890123456789", -1, 60, 0 },
	};
	char reason[256];
	size_t i;
	int j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509_NAME *n = X509_NAME_new();
		const struct subj_case *c = &cases[i];
		int len = c->len >= 0 ? c->len : (int)strlen(c->value);
		enum estkit_status st;
		for (j = 0; j < c->repeat; j++)
			assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName,
								    c->type,
								    (const unsigned char *)c->value,
								    len, -1, 0),
					 1);
		st = estd_names_check_subject(n, 1024, reason, sizeof(reason));
		if ((st == ESTKIT_OK) != c->ok)
			fail_msg("case %zu: status %d", i, (int)st);
		X509_NAME_free(n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_san_values),
		cmocka_unit_test(test_san_count_is_bounded),
		cmocka_unit_test(test_dirname_san_follows_max_subject),
		cmocka_unit_test(test_othername_and_rid_policy),
		cmocka_unit_test(test_subject_values_and_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
