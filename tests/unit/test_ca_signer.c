/*
 * test_ca_signer.c - the signer picks the digest the key calls for and
 * never hands out the private key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/objects.h>

#include "ca/signer.h"
#include "ca_testutil.h"

struct sig_case {
	const char *type, *curve;
	size_t bits;
	int sig_nid;
};

static const struct sig_case sig_cases[] = {
	{ "EC", "P-256", 0, NID_ecdsa_with_SHA256 },
	{ "EC", "P-384", 0, NID_ecdsa_with_SHA384 },
	{ "EC", "P-521", 0, NID_ecdsa_with_SHA512 },
	{ "RSA", NULL, 2048, NID_sha256WithRSAEncryption },
	{ "ED25519", NULL, 0, NID_ED25519 },
	{ "ED448", NULL, 0, NID_ED448 },
};

static void test_signer_digest_follows_key_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sig_cases) / sizeof(sig_cases[0]); i++) {
		EVP_PKEY *k = tu_key(sig_cases[i].type, sig_cases[i].curve, sig_cases[i].bits);
		X509 *x = tu_ca_cert(k, "sig", 30, 1);

		print_message("case: %s %s\n", sig_cases[i].type,
			      sig_cases[i].curve ? sig_cases[i].curve : "");
		assert_int_equal(X509_get_signature_nid(x), sig_cases[i].sig_nid);
		assert_int_equal(X509_verify(x, k), 1);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

static void test_signer_public_key_has_no_private_half(void **state)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	EVP_PKEY *pub = NULL;
	struct estd_signer *s = NULL;
	X509 *x = tu_ca_cert(k, "pub", 30, 1);
	BIGNUM *priv = NULL;

	(void)state;
	assert_int_equal(estd_signer_new(k, &s), ESTKIT_OK);
	assert_int_equal(estd_signer_public_key(s, &pub), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(pub, k), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pub, "priv", &priv), 0);
	assert_null(priv);
	assert_int_equal(estd_signer_matches_cert(s, x), 1);
	EVP_PKEY_free(pub);
	assert_int_equal(estd_signer_public_key(NULL, &pub), ESTKIT_EINVAL);
	assert_null(pub);
	X509_free(x);
	estd_signer_free(s);
	estd_signer_free(NULL);
	EVP_PKEY_free(k);
}

static void test_signer_refuses_unusable_keys_and_files(void **state)
{
	EVP_PKEY *x25519 = tu_key("X25519", NULL, 0);
	struct estd_signer *s = (struct estd_signer *)1;
	char *err = NULL;

	(void)state;
	assert_int_equal(estd_signer_new(x25519, &s), ESTKIT_EINVAL);
	assert_null(s);
	assert_int_equal(estd_signer_new(NULL, &s), ESTKIT_EINVAL);
	assert_int_not_equal(estd_signer_load("does/not/exist.key", &s, &err), ESTKIT_OK);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "cannot read CA key does/not/exist.key"));
	free(err);
	assert_int_equal(estd_signer_sign_cert(NULL, NULL), ESTKIT_EINVAL);
	EVP_PKEY_free(x25519);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signer_digest_follows_key_table),
		cmocka_unit_test(test_signer_public_key_has_no_private_half),
		cmocka_unit_test(test_signer_refuses_unusable_keys_and_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
