/*
 * test_ca_names.c - src/estd/ca/names.c: the subject and subjectAltName a
 * CSR asks for are bounded and well-formed before the CA copies them (NUL
 * bytes, control bytes, malformed dNSName / rfc822Name / URI / iPAddress,
 * too many names, an oversized subject).
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
		enum estkit_status st = estd_names_check_sans(g, 10, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason));
		if ((st == ESTKIT_OK) != cases[i].ok)
			fail_msg("case %zu: status %d", i, (int)st);
		if (!cases[i].ok)
			assert_non_null(strstr(reason, "subjectAltName"));
		GENERAL_NAMES_free(g);
	}
	assert_int_equal(estd_names_check_sans(NULL, 0, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason)), ESTKIT_OK);
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
		assert_int_equal(estd_names_check_sans(gens, 5, ESTD_MAX_SUBJECT_DEFAULT, reason, sizeof(reason)) == ESTKIT_OK,
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
	assert_int_equal(estd_names_check_sans(gens, 5, ESTD_MAX_SUBJECT_DEFAULT, reason,
					       sizeof(reason)), ESTKIT_OK);
	assert_int_equal(estd_names_check_sans(gens, 5, 16, reason, sizeof(reason)),
			 ESTKIT_EPOLICY);
	assert_non_null(strstr(reason, "subjectAltName"));
	GENERAL_NAMES_free(gens);
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
		cmocka_unit_test(test_subject_values_and_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
