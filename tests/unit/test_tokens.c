/*
 * test_tokens.c - one-time enrollment tokens: secrets and hashes
 * (src/estd/token.c, malformed secrets in the table), durations, CSR
 * constraints, and the store (sqlite_tokens.c): claim exactly once, also
 * from many threads at once, release, revoke, expiry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>
#include <estkit/pki.h>

#include "store/store.h"
#include "token.h"

static char tmpdir[1024];
static char dbpath[1100];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/estd-tokens-XXXXXX", base ? base : P_tmpdir);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/estd.db", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char path[1200];

	(void)state;
	snprintf(path, sizeof(path), "%s-wal", dbpath);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", dbpath);
	unlink(path);
	unlink(dbpath);
	rmdir(tmpdir);
	return 0;
}

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

static struct estd_store *open_store(void)
{
	struct estd_store *st = NULL;
	char *err = NULL;

	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_OK);
	return st;
}

static void insert(struct estd_store *st, const char *id, long long expires)
{
	struct estd_token_record t = {(char *)id, (char *)"00", (char *)"", (char *)"CN=x",
				      (char *)"", 1, expires, 0, 0, (char *)"test", NULL, NULL};

	assert_int_equal(estd_store_token_insert(st, &t), ESTKIT_OK);
}

static void test_store_claim_release_revoke(void **state)
{
	struct estd_store *st = open_store();
	struct estd_token_record *t = NULL;

	(void)state;
	insert(st, "aaaa", 1000);
	insert(st, "bbbb", 1000);
	insert(st, "cccc", 100);
	assert_int_equal(estd_store_token_claim(st, "aaaa", 500, "peer 1"), ESTKIT_OK);
	assert_int_equal(estd_store_token_claim(st, "aaaa", 500, "peer 2"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_claim(st, "nope", 500, "peer 2"), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_token_claim(st, "cccc", 500, "peer 2"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_release(st, "aaaa"), ESTKIT_OK);
	assert_int_equal(estd_store_token_claim(st, "aaaa", 500, "peer 3"), ESTKIT_OK);
	assert_int_equal(estd_store_token_set_serial(st, "aaaa", "1f"), ESTKIT_OK);
	/* once a certificate is recorded the token never comes back */
	assert_int_equal(estd_store_token_release(st, "aaaa"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_get(st, "aaaa", &t), ESTKIT_OK);
	assert_string_equal(t->used_by, "peer 3");
	assert_string_equal(t->serial, "1f");
	assert_int_equal(t->used_at, 500);
	estd_token_record_free(t);
	assert_int_equal(estd_store_token_revoke(st, "aaaa", 600), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_revoke(st, "bbbb", 600), ESTKIT_OK);
	assert_int_equal(estd_store_token_revoke(st, "bbbb", 600), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_claim(st, "bbbb", 700, "peer 4"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_token_revoke(st, "zzzz", 600), ESTKIT_ENOTFOUND);
	insert(st, "dddd", 1000);
	{
		struct estd_token_record dup = {(char *)"dddd", (char *)"00", (char *)"",
						(char *)"CN=x", (char *)"", 1, 5, 0, 0, NULL, NULL,
						NULL};
		assert_int_equal(estd_store_token_insert(st, &dup), ESTKIT_EEXIST);
	}
	estd_store_close(st);
}

#define RACERS 8

struct racer {
	struct estd_store *st;
	enum estkit_status rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct estd_store *own = open_store(); /* its own connection, like another node */

	r->rc = estd_store_token_claim(own, "race", 10, "racer");
	estd_store_close(own);
	return NULL;
}

static void test_store_concurrent_claims_one_wins(void **state)
{
	struct estd_store *st = open_store();
	pthread_t th[RACERS];
	struct racer r[RACERS];
	int i, wins = 0;

	(void)state;
	insert(st, "race", 1000);
	for (i = 0; i < RACERS; i++) {
		r[i].st = st;
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		if (r[i].rc == ESTKIT_OK)
			wins++;
		else
			assert_int_equal(r[i].rc, ESTKIT_EEXIST);
	}
	assert_int_equal(wins, 1);
	estd_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_parse_verify),
		cmocka_unit_test(test_malformed_secrets_table),
		cmocka_unit_test(test_duration_table),
		cmocka_unit_test(test_constraints_and_csr_check),
		cmocka_unit_test_setup_teardown(test_store_claim_release_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_concurrent_claims_one_wins, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
