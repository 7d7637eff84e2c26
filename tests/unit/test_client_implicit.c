/*
 * test_client_implicit.c - the client's implicit trust anchor database
 * (lib/client/implicit.c, RFC 7030 3.6, 4.1.1): which transfers use it, how it
 * is loaded, and that it stays apart from the explicit anchors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "client/client_internal.h"

/* A throw-away self-signed certificate. */
static X509 *self_signed(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();

	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"ta", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

static const char *write_pem(X509 *x, char *path, size_t len)
{
	FILE *f = NULL;
	int fd;

	snprintf(path, len, "%s/ek-implicit-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	return path;
}

/* Which operations a transfer authenticates with the implicit anchors. */
static void test_use_implicit_table(void **state)
{
	static const struct {
		int explicit_set, implicit_set, all_ops;
		const char *op;
		int want;
	} cases[] = {
		{0, 0, 0, "cacerts", 0},       /* nothing configured */
		{0, 1, 0, "cacerts", 1},       /* RFC 7030 4.1.1 bootstrap */
		{0, 1, 0, "simpleenroll", 0},  /* others need explicit anchors */
		{0, 1, 0, "fullcmc", 0},
		{0, 1, 0, "csrattrs", 0},
		{0, 1, 0, "", 0},
		{0, 1, 1, "simpleenroll", 1},  /* the user asked for it */
		{1, 1, 0, "cacerts", 0},       /* explicit anchors win (4.1.1 SHOULD disable) */
		{1, 1, 1, "simpleenroll", 0},
		{1, 0, 0, "cacerts", 0},
	};
	X509 *ta = self_signed();
	STACK_OF(X509) *one = sk_X509_new_null();
	char path[256];
	size_t i;

	(void)state;
	assert_true(sk_X509_push(one, ta) > 0);
	write_pem(ta, path, sizeof(path));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estkit_client *c = estkit_client_new("https://est.example");

		assert_non_null(c);
		if (cases[i].explicit_set)
			assert_int_equal(estkit_client_set_trust_certs(c, one), ESTKIT_OK);
		if (cases[i].implicit_set)
			assert_int_equal(estkit_client_set_implicit_trust(c, path, cases[i].all_ops),
					 ESTKIT_OK);
		if (ek_client_use_implicit(c, cases[i].op) != cases[i].want)
			fail_msg("case %zu (%s): want %d", i, cases[i].op, cases[i].want);
		/* switching off again */
		assert_int_equal(estkit_client_set_implicit_trust(c, NULL, 1), ESTKIT_OK);
		assert_int_equal(ek_client_use_implicit(c, cases[i].op), 0);
		estkit_client_free(c);
	}
	unlink(path);
	sk_X509_pop_free(one, X509_free);
}

/* Sources: a file, "system", and the bad ones (missing, empty name, garbage). */
static void test_sources(void **state)
{
	struct estkit_client *c = estkit_client_new("https://est.example");
	X509 *ta = self_signed();
	X509_STORE *st = X509_STORE_new();
	char path[256], junk[256];
	FILE *f = NULL;
	int fd;

	(void)state;
	assert_non_null(c);
	write_pem(ta, path, sizeof(path));
	assert_int_equal(estkit_client_set_implicit_trust(c, path, 0), ESTKIT_OK);
	assert_int_equal(sk_X509_num(c->implicit), 1);
	assert_int_equal(c->implicit_system, 0);
	assert_int_equal(ek_client_implicit_store(c, st), 0);
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(st)), 1);
	assert_int_equal(estkit_client_set_implicit_trust(c, "system", 0), ESTKIT_OK);
	assert_null(c->implicit);
	assert_int_equal(c->implicit_system, 1);
	/* bad sources keep the previous setting */
	assert_int_equal(estkit_client_set_implicit_trust(c, "", 0), ESTKIT_EINVAL);
	assert_int_not_equal(estkit_client_set_implicit_trust(c, "/nonexistent/ta.pem", 0),
			     ESTKIT_OK);
	snprintf(junk, sizeof(junk), "%s/ek-junk-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(junk);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_int_not_equal(estkit_client_set_implicit_trust(c, junk, 0), ESTKIT_OK);
	assert_int_equal(c->implicit_system, 1);
	assert_int_equal(estkit_client_set_implicit_trust(NULL, path, 0), ESTKIT_EINVAL);
	unlink(path);
	unlink(junk);
	X509_STORE_free(st);
	X509_free(ta);
	estkit_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_use_implicit_table),
		cmocka_unit_test(test_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
