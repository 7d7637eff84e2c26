/*
 * test_keygen.c - key specs and key descriptions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <estkit/pki.h>

struct spec_case {
	const char *spec;
	enum estkit_status rc;
	const char *type;
	int bits;
	const char *curve;
};

static const struct spec_case specs[] = {
	{NULL, ESTKIT_OK, "EC", 256, "P-256"},
	{"", ESTKIT_OK, "EC", 256, "P-256"},
	{"ec", ESTKIT_OK, "EC", 256, "P-256"},
	{"ec:P-256", ESTKIT_OK, "EC", 256, "P-256"},
	{"ec:P-384", ESTKIT_OK, "EC", 384, "P-384"},
	{"ec:P-521", ESTKIT_OK, "EC", 521, "P-521"},
	{"prime256v1", ESTKIT_OK, "EC", 256, "P-256"},
	{"secp384r1", ESTKIT_OK, "EC", 384, "P-384"},
	{"rsa:2048", ESTKIT_OK, "RSA", 2048, NULL},
	{"rsa:2056", ESTKIT_OK, "RSA", 2056, NULL},
	{"rsa", ESTKIT_OK, "RSA", 3072, NULL},
	{"ed25519", ESTKIT_OK, "ED25519", 256, NULL},
	{"rsa:1024", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:2040", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:2049", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:8200", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:99999999999999999999", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:-2048", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:+2048", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa: 2048", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:2048x", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:", ESTKIT_EINVAL, NULL, 0, NULL},
	{"rsa:0x800", ESTKIT_EINVAL, NULL, 0, NULL},
	{"ec:", ESTKIT_EINVAL, NULL, 0, NULL},
	{"ec:P-192", ESTKIT_EINVAL, NULL, 0, NULL},
	{"ec:P-256 ", ESTKIT_EINVAL, NULL, 0, NULL},
	{"ec:brainpoolP256r1", ESTKIT_EINVAL, NULL, 0, NULL},
	{"dsa:2048", ESTKIT_EINVAL, NULL, 0, NULL},
	{"x25519", ESTKIT_EINVAL, NULL, 0, NULL},
	{"ed25519:1", ESTKIT_EINVAL, NULL, 0, NULL},
	{"nonsense", ESTKIT_EINVAL, NULL, 0, NULL},
};

static void test_key_generate_spec_table(void **state)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		const struct spec_case *c = &specs[i];
		const char *name = c->spec ? c->spec : "(null)";
		const char *type = NULL, *curve = NULL;
		EVP_PKEY *key = (EVP_PKEY *)1;
		int bits = 0;
		enum estkit_status rc = estkit_key_generate(c->spec, &key);

		if (rc != c->rc)
			fail_msg("spec '%s': rc %d, want %d", name, rc, c->rc);
		if (rc != ESTKIT_OK) {
			assert_null(key);
			continue;
		}
		assert_int_equal(estkit_key_describe(key, &type, &bits, &curve), ESTKIT_OK);
		assert_string_equal(type, c->type);
		if (bits != c->bits)
			fail_msg("spec '%s': %d bits, want %d", name, bits, c->bits);
		if (c->curve == NULL)
			assert_null(curve);
		else
			assert_string_equal(curve, c->curve);
		EVP_PKEY_free(key);
	}
	assert_int_equal(estkit_key_generate("ec", NULL), ESTKIT_EINVAL);
	ERR_clear_error();
}

static void test_key_describe_of_request_keys(void **state)
{
	static const struct {
		const char *file;
		const char *type;
		int bits;
		const char *curve;
	} cases[] = {
		{"libest/US902__US902_PKCS10_ECDSA256.b64", "EC", 256, "P-256"},
		{"libest/US902__US902_PKCS10_RSA2048.b64", "RSA", 2048, NULL},
		{"libest/US902__US902_PKCS10_DSA1024.b64", "DSA", 1024, NULL},
		{"libest/US903__US903_PKCS10_STALE_POP.b64", "RSA", 1024, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512];
		X509_REQ *req = NULL;
		const char *type = NULL, *curve = NULL;
		int bits = 0;

		snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, cases[i].file);
		assert_int_equal(estkit_csr_load(path, &req), ESTKIT_OK);
		assert_int_equal(estkit_key_describe(X509_REQ_get0_pubkey(req), &type, &bits,
						     &curve),
				 ESTKIT_OK);
		assert_string_equal(type, cases[i].type);
		assert_int_equal(bits, cases[i].bits);
		if (cases[i].curve != NULL)
			assert_string_equal(curve, cases[i].curve);
		else
			assert_null(curve);
		/* Every output is optional. */
		assert_int_equal(estkit_key_describe(X509_REQ_get0_pubkey(req), NULL, NULL, NULL),
				 ESTKIT_OK);
		X509_REQ_free(req);
	}
	assert_int_equal(estkit_key_describe(NULL, NULL, NULL, NULL), ESTKIT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_generate_spec_table),
		cmocka_unit_test(test_key_describe_of_request_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
