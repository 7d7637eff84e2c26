/*
 * test_policy.c - enrollment policy (src/estd/policy*.c): DNS/value/IP/
 * e-mail/URI/DN matching, pattern syntax (malformed patterns in every
 * table), the policy keys, and the check of whole requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>

#include "policy.h"
#include "policy_match.h"

struct dns_case {
	const char *pat, *name;
	int match;
};

static const struct dns_case dns_cases[] = {
	{"*.example.com", "a.example.com", 1},
	{"*.example.com", "A.EXAMPLE.COM", 1},
	{"*.example.com", "a.example.com.", 1},        /* one trailing dot */
	{"*.example.com", "a.example.com..", 0},
	{"*.example.com", "example.com", 0},           /* '*' is not empty */
	{"*.example.com", "a.b.example.com", 0},       /* '*' is one label */
	{"*.example.com", ".example.com", 0},
	{"*.example.com", "aexample.com", 0},
	{"*.example.com", "a.example.com.evil", 0},
	{"*.example.com", "xn--bcher-kva.example.com", 1}, /* IDNA A-label */
	{"*.example.com", "b\xc3\xbc" "cher.example.com", 0}, /* U-label: never */
	{"*.example.com", "a b.example.com", 0},
	{"*.example.com", "-a.example.com", 0},
	{"*.example.com", "a..example.com", 0},
	{"host.example.com", "HOST.example.com", 1},
	{"host.example.com", "host.example.co", 0},
	{"host.example.com", "ost.example.com", 0},
	{"*", "anything.example", 1},
	{"*", "", 0},
	{"*", "bad name", 0},
};

static void test_dns_match_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dns_cases) / sizeof(dns_cases[0]); i++) {
		const struct dns_case *c = &dns_cases[i];

		if (estd_dns_match(c->pat, c->name, strlen(c->name)) != c->match)
			fail_msg("case %zu: %s vs %s wanted %d", i, c->pat, c->name, c->match);
	}
	/* an embedded NUL never matches */
	assert_int_equal(estd_dns_match("*.example.com", "a\0.example.com", 14), 0);
}

struct pat_case {
	const char *pat;
	int ok;
};

static const struct pat_case value_pats[] = {
	{"*", 1}, {"*.example.com", 1}, {"exact value", 1}, {"", 0}, {"a*", 0}, {"*a", 0},
	{"a*.example.com", 0}, {"*.*.example.com", 0}, {"**", 0}, {"*.", 0}, {"*.ex ample", 0},
	{"x.*.example", 0}, {"tab\there", 0},
};

static void test_value_pattern_syntax_table(void **state)
{
	size_t i;
	char big[1100];

	(void)state;
	for (i = 0; i < sizeof(value_pats) / sizeof(value_pats[0]); i++)
		if (estd_value_pattern_ok(value_pats[i].pat) != value_pats[i].ok)
			fail_msg("pattern '%s' wanted %d", value_pats[i].pat, value_pats[i].ok);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(estd_value_pattern_ok(big), 0); /* oversized */
}

struct san_case {
	const char *pat;    /* SAN pattern */
	int parses;
	const char *name;   /* "DNS:x" etc. for a GeneralName, NULL: none */
	int match;
};

static GENERAL_NAME *gen_of(const char *s)
{
	GENERAL_NAME *g = NULL;
	X509V3_CTX ctx;
	CONF_VALUE cv = {NULL, NULL, NULL};
	char type[16];
	const char *colon = strchr(s, ':');

	X509V3_set_ctx_nodb(&ctx);
	snprintf(type, sizeof(type), "%.*s", (int)(colon - s), s);
	cv.name = type;
	cv.value = (char *)colon + 1;
	g = v2i_GENERAL_NAME(NULL, &ctx, &cv);
	return g;
}

static const struct san_case san_cases[] = {
	{"DNS:*.corp", 1, "DNS:a.corp", 1},
	{"DNS:*.corp", 1, "DNS:a.b.corp", 0},
	{"dns:*.corp", 1, "DNS:A.CORP", 1},
	{"DNS:*.corp", 1, "IP:10.0.0.1", 0},           /* type must agree */
	{"IP:10.0.0.0/8", 1, "IP:10.255.1.2", 1},
	{"IP:10.0.0.0/8", 1, "IP:11.0.0.1", 0},
	{"IP:10.0.0.0/8", 1, "IP:::ffff:10.0.0.1", 0}, /* v6 never matches a v4 net */
	{"IP:192.168.1.0/25", 1, "IP:192.168.1.127", 1},
	{"IP:192.168.1.0/25", 1, "IP:192.168.1.128", 0},
	{"IP:2001:db8::/32", 1, "IP:2001:db8:1::5", 1},
	{"IP:2001:db8::/32", 1, "IP:2001:db9::5", 0},
	{"IP:0.0.0.0/0", 1, "IP:8.8.8.8", 1},
	{"IP:10.1.2.3", 1, "IP:10.1.2.3", 1},
	{"IP:10.1.2.3", 1, "IP:10.1.2.4", 0},
	{"email:*@example.com", 1, "email:alice@example.com", 1},
	{"email:*@example.com", 1, "email:alice@EXAMPLE.com", 1},
	{"email:*@example.com", 1, "email:alice@evil.com", 0},
	{"email:alice@example.com", 1, "email:Alice@example.com", 0}, /* local part exact */
	{"email:*@*.example.com", 1, "email:a@x.example.com", 1},
	{"URI:*", 1, "URI:https://x.example/", 1},
	{"URI:https://x.example/", 1, "URI:https://x.example/a", 0},
	/* malformed patterns */
	{"IP:10.0.0.1/8", 0, NULL, 0},   /* host bits */
	{"IP:10.0.0.0/33", 0, NULL, 0},
	{"IP:10.0.0.0/", 0, NULL, 0},
	{"IP:10.0.0.0/-1", 0, NULL, 0},
	{"IP:300.0.0.0/8", 0, NULL, 0},
	{"IP:", 0, NULL, 0},
	{"DNS:", 0, NULL, 0},
	{"DNS:a*.corp", 0, NULL, 0},
	{"DNS:*.*.corp", 0, NULL, 0},
	{"DNS:bad name", 0, NULL, 0},
	{"DNS:b\xc3\xbc" "cher.example", 0, NULL, 0},
	{"email:a*@example.com", 0, NULL, 0},
	{"email:noat", 0, NULL, 0},
	{"URI:a*", 0, NULL, 0},
	{"FTP:x", 0, NULL, 0},
	{"*", 0, NULL, 0},
	{"", 0, NULL, 0},
};

static void test_san_pattern_table(void **state)
{
	size_t i;
	char msg[256];

	(void)state;
	for (i = 0; i < sizeof(san_cases) / sizeof(san_cases[0]); i++) {
		const struct san_case *c = &san_cases[i];
		struct estd_san_pat sp;
		GENERAL_NAME *g = NULL;
		int parsed = estd_san_pat_parse(c->pat, 0, &sp, msg, sizeof(msg));

		if (parsed != c->parses)
			fail_msg("case %zu: '%s' parses %d, wanted %d", i, c->pat, parsed, c->parses);
		if (parsed && c->name != NULL) {
			g = gen_of(c->name);
			assert_non_null(g);
			if (estd_san_pat_match(&sp, g) != c->match)
				fail_msg("case %zu: %s vs %s wanted %d", i, c->pat, c->name, c->match);
		}
		GENERAL_NAME_free(g);
		estd_san_pat_clear(&sp);
	}
}

static void test_exact_san_refuses_wildcards_and_prefixes(void **state)
{
	struct estd_san_pat sp;
	char msg[256];

	(void)state;
	assert_int_equal(estd_san_pat_parse("DNS:*.corp", 1, &sp, msg, sizeof(msg)), 0);
	assert_int_equal(estd_san_pat_parse("IP:10.0.0.0/8", 1, &sp, msg, sizeof(msg)), 0);
	assert_int_equal(estd_san_pat_parse("URI:*", 1, &sp, msg, sizeof(msg)), 0);
	assert_int_equal(estd_san_pat_parse("DNS:a.corp", 1, &sp, msg, sizeof(msg)), 1);
	estd_san_pat_clear(&sp);
}

struct dn_case {
	const char *pat;
	int parses;
	const char *name;
	int match;
};

static const struct dn_case dn_cases[] = {
	{"CN=*.devices.example", 1, "CN=a.devices.example", 1},
	{"CN=*.devices.example", 1, "CN=A.Devices.Example", 1},
	{"CN=*.devices.example", 1, "CN=a.b.devices.example", 0},
	{"CN=*.devices.example", 1, "CN=a.devices.example,O=x", 0},   /* closed pattern */
	{"CN=*.devices.example,*", 1, "CN=a.devices.example,O=x", 1}, /* open pattern */
	{"CN=*,O=Example", 1, "O=Example,CN=anything", 1},            /* order free */
	{"CN=*,O=Example", 1, "CN=x,O=Other", 0},
	{"OU=a,OU=*", 1, "OU=b,OU=a", 1},                              /* literal first */
	{"OU=a,OU=*", 1, "OU=b,OU=c", 0},
	{"*", 1, "CN=x,O=y", 1},
	{"CN=x", 1, "CN=x,CN=x", 0},
	{"CN=a*", 0, NULL, 0},
	{"CN=*.*.x", 0, NULL, 0},
	{"NOSUCHTYPE=x", 0, NULL, 0},
	{"", 0, NULL, 0},
	{"CN", 0, NULL, 0},
};

static void test_dn_pattern_table(void **state)
{
	size_t i;
	char msg[256];

	(void)state;
	for (i = 0; i < sizeof(dn_cases) / sizeof(dn_cases[0]); i++) {
		const struct dn_case *c = &dn_cases[i];
		struct estd_dn_pat dp;
		X509_NAME *n = NULL;
		int parsed = estd_dn_pat_parse(c->pat, &dp, msg, sizeof(msg));

		if (parsed != c->parses)
			fail_msg("case %zu: '%s' parses %d, wanted %d", i, c->pat, parsed, c->parses);
		if (parsed && c->name != NULL) {
			assert_int_equal(estkit_name_parse(c->name, &n), ESTKIT_OK);
			if (estd_dn_pat_match(&dp, n) != c->match)
				fail_msg("case %zu: %s vs %s wanted %d", i, c->pat, c->name, c->match);
		}
		X509_NAME_free(n);
		estd_dn_pat_clear(&dp);
	}
}

struct key_case {
	const char *key, *value;
	int ok;
};

static const struct key_case key_cases[] = {
	{"allow", "user:alice, user:*", 1},
	{"allow", "cert-subject:CN=*.example.com,O=Example, user:bob", 1},
	{"allow", "cert-issuer:CN=Vendor CA, cert-san:DNS:*.corp", 1},
	{"allow", "group:x", 0},
	{"allow", "user:a*", 0},
	{"allow", "", 0},
	{"allow", ", ,", 0},
	{"allow", "cert-san:FTP:x", 0},
	{"subject_pattern", "CN=*.devices.example | CN=*.lab.example,*", 1},
	{"subject_pattern", "CN=x*", 0},
	{"subject_pattern", "|", 0},
	{"san_pattern", "DNS:*.d.example, IP:10.0.0.0/8", 1},
	{"san_pattern", "DNS:*.d.example,", 1},
	{"san_pattern", "DNS:x, IP:1.2.3.4/40", 0},
	{"san_must_match", "user", 1},
	{"san_must_match", "cn", 0},
	{"cn_must_match", "user", 1},
	{"cn_must_match", "", 0},
	{"max_sans", "0", 1},
	{"max_sans", "1024", 1},
	{"max_sans", "1025", 0},
	{"max_sans", "-1", 0},
	{"max_sans", "ten", 0},
};

static void test_policy_keys_table(void **state)
{
	size_t i;
	char msg[512];

	(void)state;
	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		struct estd_policy *p = NULL;
		int ok = estd_policy_conf_set(&p, key_cases[i].key, key_cases[i].value, msg,
					      sizeof(msg));

		if (ok != key_cases[i].ok)
			fail_msg("case %zu: %s = %s gave %d (%s)", i, key_cases[i].key,
				 key_cases[i].value, ok, msg);
		if (!ok)
			assert_true(msg[0] != '\0');
		estd_policy_free(p);
	}
	assert_true(estd_policy_is_key("allow"));
	assert_false(estd_policy_is_key("profile"));
}

/* A signed request for subject with the SANs (NULL-terminated). */
static X509_REQ *csr_of(EVP_PKEY *key, const char *subject, const char *const *sans)
{
	X509_REQ *req = NULL;
	size_t n = 0;

	while (sans != NULL && sans[n] != NULL)
		n++;
	assert_int_equal(estkit_csr_new(key, subject, sans, n, NULL, &req), ESTKIT_OK);
	return req;
}

struct check_case {
	const char *user;      /* HTTP user or NULL */
	int token, renewal;
	const char *subject;
	const char *sans[4];
	int allowed;
	const char *reason;    /* substring of the reason when refused */
};

static const struct check_case check_cases[] = {
	{"alice", 0, 0, "CN=a.d.example", {"DNS:a.d.example", "IP:10.0.0.9"}, 1, NULL},
	{"bob", 0, 0, "CN=a.d.example", {NULL}, 0, "may not enroll"},
	{NULL, 0, 0, "CN=a.d.example", {NULL}, 0, "may not enroll"},
	{NULL, 1, 0, "CN=a.d.example", {NULL}, 1, NULL},          /* tokens skip allow */
	{NULL, 0, 1, "CN=a.d.example", {NULL}, 1, NULL},          /* renewals too */
	{NULL, 1, 0, "CN=other", {NULL}, 0, "subject_pattern"},  /* but not the names */
	{"alice", 0, 0, "CN=a.d.example", {"DNS:x.example"}, 0, "san_pattern"},
	{"alice", 0, 0, "CN=a.d.example", {"IP:11.0.0.1"}, 0, "san_pattern"},
	{"alice", 0, 0, "CN=a.d.example",
	 {"DNS:a.d.example", "DNS:b.d.example", "DNS:c.d.example"}, 0, "at most 2"},
};

static void test_policy_check_table(void **state)
{
	struct estd_policy *p = NULL;
	EVP_PKEY *key = NULL;
	char msg[512];
	size_t i;

	(void)state;
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	assert_true(estd_policy_conf_set(&p, "allow", "user:alice", msg, sizeof(msg)));
	assert_true(estd_policy_conf_set(&p, "subject_pattern", "CN=*.d.example", msg,
					 sizeof(msg)));
	assert_true(estd_policy_conf_set(&p, "san_pattern", "DNS:*.d.example, IP:10.0.0.0/8", msg,
					 sizeof(msg)));
	assert_true(estd_policy_conf_set(&p, "max_sans", "2", msg, sizeof(msg)));
	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		struct estd_policy_who who = {c->user, NULL, c->token, c->renewal};
		X509_REQ *req = csr_of(key, c->subject, c->sans);
		char reason[512] = "";
		int rc = estd_policy_check(p, &who, req, reason, sizeof(reason));

		if ((rc == 0) != c->allowed || (c->reason != NULL && strstr(reason, c->reason) == NULL))
			fail_msg("case %zu: rc %d reason '%s'", i, rc, reason);
		X509_REQ_free(req);
	}
	estd_policy_free(p);
	EVP_PKEY_free(key);
}

static void test_must_match_user(void **state)
{
	struct estd_policy *p = NULL;
	EVP_PKEY *key = NULL;
	char msg[512];
	static const char *const alice[] = {"DNS:alice", NULL};
	static const char *const alice_dot[] = {"DNS:ALICE.", NULL};
	static const char *const bob[] = {"DNS:bob", NULL};
	struct estd_policy_who who = {"alice", NULL, 0, 0}, anon = {NULL, NULL, 0, 0};
	X509_REQ *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL, *r5 = NULL;

	(void)state;
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	assert_true(estd_policy_conf_set(&p, "cn_must_match", "user", msg, sizeof(msg)));
	assert_true(estd_policy_conf_set(&p, "san_must_match", "user", msg, sizeof(msg)));
	r1 = csr_of(key, "CN=alice", alice);
	r2 = csr_of(key, "CN=Alice", alice);          /* CN compares exactly */
	r3 = csr_of(key, "CN=alice", bob);
	r4 = csr_of(key, "CN=alice", NULL);           /* a SAN is required */
	r5 = csr_of(key, "CN=alice", alice_dot);      /* DNS: case and dot aside */
	assert_int_equal(estd_policy_check(p, &who, r1, msg, sizeof(msg)), 0);
	assert_int_equal(estd_policy_check(p, &who, r2, msg, sizeof(msg)), -1);
	assert_int_equal(estd_policy_check(p, &who, r3, msg, sizeof(msg)), -1);
	assert_int_equal(estd_policy_check(p, &who, r4, msg, sizeof(msg)), -1);
	assert_int_equal(estd_policy_check(p, &who, r5, msg, sizeof(msg)), 0);
	assert_int_equal(estd_policy_check(p, &anon, r1, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "no HTTP user"));
	X509_REQ_free(r1);
	X509_REQ_free(r2);
	X509_REQ_free(r3);
	X509_REQ_free(r4);
	X509_REQ_free(r5);
	estd_policy_free(p);
	EVP_PKEY_free(key);
}

/*
 * Without a label max_sans the policy sets no SAN count limit (the CA-wide
 * [ca] max_sans refuses abusive requests with 400 before policy runs); with
 * max_sans = N, N pass and N + 1 are refused.
 */
static void test_policy_caps_sans(void **state)
{
	enum { N = 100 };
	const char *sans[N + 2];
	char names[N + 1][32];
	struct estd_policy_who who = {"u", NULL, 0, 0};
	struct estd_policy *p = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	char msg[256];
	int i;

	(void)state;
	for (i = 0; i <= N; i++) {
		snprintf(names[i], sizeof(names[i]), "DNS:h%d.example", i);
		sans[i] = names[i];
	}
	sans[N + 1] = NULL;
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	req = csr_of(key, "CN=many", sans);
	assert_int_equal(estd_policy_check(NULL, &who, req, msg, sizeof(msg)), 0);
	assert_true(estd_policy_conf_set(&p, "max_sans", "100", msg, sizeof(msg)));
	assert_int_equal(estd_policy_check(p, &who, req, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "at most 100"));
	X509_REQ_free(req);
	sans[N] = NULL;
	req = csr_of(key, "CN=many", sans);
	assert_int_equal(estd_policy_check(p, &who, req, msg, sizeof(msg)), 0);
	X509_REQ_free(req);
	estd_policy_free(p);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_match_table),
		cmocka_unit_test(test_value_pattern_syntax_table),
		cmocka_unit_test(test_san_pattern_table),
		cmocka_unit_test(test_exact_san_refuses_wildcards_and_prefixes),
		cmocka_unit_test(test_dn_pattern_table),
		cmocka_unit_test(test_policy_keys_table),
		cmocka_unit_test(test_policy_check_table),
		cmocka_unit_test(test_must_match_user),
		cmocka_unit_test(test_policy_caps_sans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
