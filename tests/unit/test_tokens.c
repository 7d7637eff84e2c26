/*
 * test_tokens.c - one-time enrollment tokens: secrets and hashes
 * (src/estd/token.c, malformed secrets in the table), durations and CSR
 * constraints. The tokens in the store (claim exactly once, also from many
 * connections at once, release, revoke, expiry, list) are in
 * test_store_engines.c, which runs them on every engine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <estkit/pki.h>

#include "store/store.h"
#include "token.h"

static void test_generate_parse_verify(void **state)
{
	char id[ESTD_TOKEN_ID_LEN + 1], id2[ESTD_TOKEN_ID_LEN + 1];
	char secret[ESTD_TOKEN_SECRET_LEN + 1], other[ESTD_TOKEN_SECRET_LEN + 1];
	char hash[ESTD_TOKEN_HASH_LEN + 1], h2[ESTD_TOKEN_HASH_LEN + 1];

	(void)state;
	assert_int_equal(estd_token_generate(id, secret, hash), ESTKIT_OK);
	assert_int_equal(strlen(secret), ESTD_TOKEN_SECRET_LEN);
	assert_int_equal(estd_token_parse(secret, id2), 0);
	assert_string_equal(id, id2);
	assert_true(estd_token_verify(secret, hash));
	assert_null(strstr(hash, secret + ESTD_TOKEN_ID_LEN + 1));
	memcpy(other, secret, sizeof(other));
	other[ESTD_TOKEN_SECRET_LEN - 1] = other[ESTD_TOKEN_SECRET_LEN - 1] == '0' ? '1' : '0';
	assert_false(estd_token_verify(other, hash));
	assert_false(estd_token_verify(secret, "short"));
	assert_false(estd_token_verify(secret, NULL));
	assert_int_equal(estd_token_generate(id2, other, h2), ESTKIT_OK);
	assert_string_not_equal(id, id2); /* 64 random bits each */
	assert_string_not_equal(hash, h2);
}

static const char *const bad_secrets[] = {
	"", "x", "0123456789abcdef", "0123456789abcdef.",
	"0123456789abcdef.0123456789abcdef0123456789abcdef0123456",    /* one short */
	"0123456789abcdef.0123456789abcdef0123456789abcdef012345678",  /* one long */
	"0123456789ABCDEF.0123456789abcdef0123456789abcdef01234567",   /* upper case */
	"0123456789abcdef:0123456789abcdef0123456789abcdef01234567",   /* separator */
	"0123456789abcdeg.0123456789abcdef0123456789abcdef01234567",   /* not hex */
	"0123456789abcdef.0123456789abcdef0123456789abcdef0123456 ",
};

static void test_malformed_secrets_table(void **state)
{
	char id[ESTD_TOKEN_ID_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_secrets) / sizeof(bad_secrets[0]); i++)
		if (estd_token_parse(bad_secrets[i], id) != -1)
			fail_msg("secret %zu '%s' parsed", i, bad_secrets[i]);
	assert_int_equal(estd_token_parse(NULL, id), -1);
	assert_int_equal(estd_token_parse("0123456789abcdef.0123456789abcdef0123456789abcdef01234567",
					  id), 0);
}

struct dur_case {
	const char *in;
	long long out; /* -1: refused */
};

static const struct dur_case dur_cases[] = {
	{"24h", 86400}, {"30m", 1800}, {"7d", 604800}, {"3600", 3600}, {"90s", 90},
	{"365d", 31536000}, {"366d", -1}, {"59s", -1}, {"0", -1}, {"", -1}, {"h", -1},
	{"-5m", -1}, {"1y", -1}, {"1.5h", -1}, {"99999999999999999d", -1}, {"10 m", -1},
};

static void test_duration_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
		long long v = -1;
		int rc = estd_token_parse_duration(dur_cases[i].in, &v);

		if ((rc == 0 ? v : -1) != dur_cases[i].out)
			fail_msg("'%s' gave %d/%lld", dur_cases[i].in, rc, v);
	}
	assert_int_equal(estd_token_parse_duration(NULL, &(long long){0}), -1);
}

static void test_constraints_and_csr_check(void **state)
{
	static const char *const sans[] = {"DNS:Dev1.Example", "IP:192.0.2.1"};
	static const char *const bad_sans[] = {"DNS:*.example"};
	static const char *const two[] = {"DNS:a,DNS:b"};
	static const char *const csr_ok[] = {"DNS:dev1.example."};
	static const char *const csr_more[] = {"DNS:dev1.example", "DNS:evil.example"};
	struct estd_token_record t;
	char *subject = NULL, *list = NULL, reason[256];
	EVP_PKEY *key = NULL;
	X509_REQ *r = NULL;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(estd_token_constraints("/CN=dev1/O=Ex", sans, 2, &subject, &list,
						reason, sizeof(reason)), 0);
	assert_string_equal(subject, "O=Ex,CN=dev1"); /* RFC 2253 order */
	assert_string_equal(list, "DNS:Dev1.Example, IP:192.0.2.1");
	assert_int_equal(estd_token_constraints("CN=x", bad_sans, 1, &t.subject, &t.sans, reason,
						sizeof(reason)), -1);
	assert_int_equal(estd_token_constraints("CN=x", two, 1, &t.subject, &t.sans, reason,
						sizeof(reason)), -1);
	assert_int_equal(estd_token_constraints("NOPE", NULL, 0, &t.subject, &t.sans, reason,
						sizeof(reason)), -1);
	assert_int_equal(estd_token_constraints(NULL, NULL, 0, &t.subject, &t.sans, reason,
						sizeof(reason)), -1);
	t.subject = subject;
	t.sans = list;
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(key, "/CN=dev1/O=ex", csr_ok, 1, NULL, &r), ESTKIT_OK);
	assert_int_equal(estd_token_check_csr(&t, r, reason, sizeof(reason)), 0);
	X509_REQ_free(r);
	assert_int_equal(estkit_csr_new(key, "/CN=dev1/O=ex", csr_more, 2, NULL, &r), ESTKIT_OK);
	assert_int_equal(estd_token_check_csr(&t, r, reason, sizeof(reason)), -1);
	assert_non_null(strstr(reason, "evil.example"));
	X509_REQ_free(r);
	assert_int_equal(estkit_csr_new(key, "/CN=dev2/O=ex", NULL, 0, NULL, &r), ESTKIT_OK);
	assert_int_equal(estd_token_check_csr(&t, r, reason, sizeof(reason)), -1);
	X509_REQ_free(r);
	EVP_PKEY_free(key);
	free(subject);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_parse_verify),
		cmocka_unit_test(test_malformed_secrets_table),
		cmocka_unit_test(test_duration_table),
		cmocka_unit_test(test_constraints_and_csr_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
