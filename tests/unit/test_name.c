/*
 * test_name.c - subjects from and to text, and certificate inspection:
 * fingerprints, serials, subjectAltName lists, find-by-key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>

struct name_case {
	const char *in;
	enum estkit_status rc;
	const char *oneline; /* estkit_name_oneline of the result */
};

static const struct name_case name_cases[] = {
	{"/CN=a/O=b", ESTKIT_OK, "O=b,CN=a"},
	{"CN=a,O=b", ESTKIT_OK, "CN=a,O=b"},
	{"CN=a, O=b", ESTKIT_OK, "CN=a,O=b"},
	{"CN = a , O = b", ESTKIT_OK, "CN=a,O=b"},
	{"CN=a b c", ESTKIT_OK, "CN=a b c"},
	{"/CN=a\\/b/O=c", ESTKIT_OK, "O=c,CN=a/b"},
	{"CN=a\\,b,O=c", ESTKIT_OK, "CN=a\\,b,O=c"},
	{"/CN=a,b", ESTKIT_OK, "CN=a\\,b"},
	{"CN=a/b", ESTKIT_OK, "CN=a/b"},
	{"/CN=x=y", ESTKIT_OK, "CN=x=y"},
	{"CN=J\xc3\xbcrgen", ESTKIT_OK, "CN=J\xc3\xbcrgen"},
	{"CN=trailing\\ ", ESTKIT_OK, "CN=trailing\\ "},
	{"/C=US/ST=CA/L=San Jose/O=Org/OU=Unit/CN=host/emailAddress=a@b.example"
	 "/serialNumber=123/DC=example/UID=u1",
	 ESTKIT_OK,
	 "UID=u1,DC=example,serialNumber=123,emailAddress=a@b.example,CN=host,OU=Unit,O=Org,"
	 "L=San Jose,ST=CA,C=US"},
	{"commonName=long form", ESTKIT_OK, "CN=long form"},
	{"2.5.4.3=by oid", ESTKIT_OK, "CN=by oid"},
	{"", ESTKIT_EINVAL, NULL},
	{" ", ESTKIT_EINVAL, NULL},
	{"/", ESTKIT_EINVAL, NULL},
	{"CN", ESTKIT_EINVAL, NULL},
	{"CN=", ESTKIT_EINVAL, NULL},
	{"/CN=", ESTKIT_EINVAL, NULL},
	{"CN= ", ESTKIT_EINVAL, NULL},
	{"=a", ESTKIT_EINVAL, NULL},
	{"/CN=a/", ESTKIT_EINVAL, NULL},
	{"CN=a,", ESTKIT_EINVAL, NULL},
	{"CN=a,,O=b", ESTKIT_EINVAL, NULL},
	{"/CN=a//O=b", ESTKIT_EINVAL, NULL},
	{"FOO=bar", ESTKIT_EINVAL, NULL},
	{"CN=a,NOTANATTR=b", ESTKIT_EINVAL, NULL},
	{"C=USA", ESTKIT_EINVAL, NULL},
	{"CN=a\\", ESTKIT_EINVAL, NULL},
	{"C\\N=a", ESTKIT_EINVAL, NULL},
};

static void test_name_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		X509_NAME *name = (X509_NAME *)1;
		char *line = NULL;
		enum estkit_status rc = estkit_name_parse(c->in, &name);

		if (rc != c->rc)
			fail_msg("'%s': rc %d, want %d", c->in, rc, c->rc);
		if (rc != ESTKIT_OK) {
			assert_null(name);
			continue;
		}
		assert_int_equal(estkit_name_oneline(name, &line), ESTKIT_OK);
		if (strcmp(line, c->oneline) != 0)
			fail_msg("'%s': printed '%s', want '%s'", c->in, line, c->oneline);
		estkit_free(line);
		X509_NAME_free(name);
	}
	ERR_clear_error();
}

/* What estkit_name_oneline prints parses back to the same name. */
static void test_name_oneline_parses_back_to_the_same_name(void **state)
{
	static const char *const subjects[] = {
		"/C=DE/O=Example Org/CN=device 1",
		"/CN=a\\,b/O=c\\/d",
		"/CN=J\xc3\xbcrgen/serialNumber=42",
	};

	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		X509_NAME *a = NULL, *b = NULL;
		char *line = NULL;

		assert_int_equal(estkit_name_parse(subjects[i], &a), ESTKIT_OK);
		assert_int_equal(estkit_name_oneline(a, &line), ESTKIT_OK);
		if (estkit_name_parse(line, &b) != ESTKIT_OK)
			fail_msg("'%s' does not parse back", line);
		if (X509_NAME_cmp(a, b) != 0)
			fail_msg("'%s' parsed back to a different name", line);
		estkit_free(line);
		X509_NAME_free(a);
		X509_NAME_free(b);
	}
}

static void test_name_parse_rejects_null_and_oversized(void **state)
{
	X509_NAME *name = NULL;
	char *line = NULL;
	char *big = malloc(20000);

	assert_non_null(big);
	memcpy(big, "CN=", 3);
	memset(big + 3, 'a', 19996);
	big[19999] = '\0';
	assert_int_equal(estkit_name_parse(big, &name), ESTKIT_EINVAL);
	assert_int_equal(estkit_name_parse(NULL, &name), ESTKIT_EINVAL);
	assert_int_equal(estkit_name_parse("CN=a", NULL), ESTKIT_EINVAL);
	assert_null(name);
	assert_int_equal(estkit_name_oneline(NULL, &line), ESTKIT_EINVAL);
	assert_null(line);
	free(big);
	ERR_clear_error();
}

/* ---- inspection ------------------------------------------------------------ */

/* A self-signed certificate with the given serial (hex) and optional SAN config. */
static X509 *make_cert(EVP_PKEY *key, const char *serial_hex, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	const EVP_MD *md;
	BIGNUM *bn = NULL;

	assert_non_null(x);
	assert_true(BN_hex2bn(&bn, serial_hex) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	assert_int_equal(estkit_name_parse("CN=inspect", &name), ESTKIT_OK);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (san != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);

		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	/* Ed25519 signs without a separate digest. */
	md = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	assert_true(X509_sign(x, key, md) > 0);
	return x;
}

static void test_cert_serial_hex_is_lowercase_without_leading_zeros(void **state)
{
	static const struct {
		const char *serial;
		const char *want;
	} cases[] = {
		{"0", "0"},
		{"A", "a"},
		{"0F", "f"},
		{"FF01", "ff01"},
		{"0102030405060708090A0B0C0D0E0F10", "102030405060708090a0b0c0d0e0f10"},
		{"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "7fffffffffffffffffffffffffffffff"},
	};
	EVP_PKEY *key = NULL;

	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = make_cert(key, cases[i].serial, NULL);
		char *hex = NULL;

		assert_int_equal(estkit_cert_serial_hex(x, &hex), ESTKIT_OK);
		assert_string_equal(hex, cases[i].want);
		estkit_free(hex);
		X509_free(x);
	}
	assert_int_equal(estkit_cert_serial_hex(NULL, NULL), ESTKIT_EINVAL);
	EVP_PKEY_free(key);
}

static void test_fingerprint_matching_table(void **state)
{
	EVP_PKEY *key = NULL;
	X509 *x;
	char fp[65], upper[65], colons[200], buf[256], wrong[65];
	unsigned char md[32];
	unsigned int n = 0;

	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	x = make_cert(key, "01", NULL);
	assert_int_equal(estkit_cert_fingerprint(x, fp), ESTKIT_OK);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	for (unsigned int i = 0; i < n; i++) {
		char two[3];

		snprintf(two, sizeof(two), "%02x", md[i]);
		assert_memory_equal(fp + 2 * i, two, 2);
		snprintf(upper + 2 * i, 3, "%02X", md[i]);
		snprintf(colons + 3 * i, 4, "%02X:", md[i]);
	}
	colons[3 * n - 1] = '\0';
	memcpy(wrong, fp, sizeof(wrong));
	wrong[63] = wrong[63] == '0' ? '1' : '0';

	assert_int_equal(estkit_cert_fingerprint_matches(x, fp), 1);
	assert_int_equal(estkit_cert_fingerprint_matches(x, upper), 1);
	assert_int_equal(estkit_cert_fingerprint_matches(x, colons), 1);
	snprintf(buf, sizeof(buf), "sha256:%s", fp);
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 1);
	snprintf(buf, sizeof(buf), "SHA256:%s", colons);
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 1);

	assert_int_equal(estkit_cert_fingerprint_matches(x, wrong), 0);
	snprintf(buf, sizeof(buf), "sha1:%s", fp);
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 0);
	snprintf(buf, sizeof(buf), "%.62s", fp); /* too short */
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 0);
	snprintf(buf, sizeof(buf), "%s00", fp); /* too long */
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 0);
	snprintf(buf, sizeof(buf), "%.63sg", fp); /* not hex */
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 0);
	snprintf(buf, sizeof(buf), " %s", fp);
	assert_int_equal(estkit_cert_fingerprint_matches(x, buf), 0);
	assert_int_equal(estkit_cert_fingerprint_matches(x, ""), 0);
	assert_int_equal(estkit_cert_fingerprint_matches(x, "sha256:"), 0);
	assert_int_equal(estkit_cert_fingerprint_matches(x, NULL), 0);
	assert_int_equal(estkit_cert_fingerprint_matches(NULL, fp), 0);
	assert_int_equal(estkit_cert_fingerprint(NULL, fp), ESTKIT_EINVAL);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_cert_sans_lists_every_kind(void **state)
{
	static const struct {
		const char *conf;
		const char *want;
	} cases[] = {
		{NULL, ""},
		{"DNS:a.example", "DNS:a.example"},
		{"DNS:a.example,IP:192.0.2.1,IP:2001:db8::5,URI:https://x.example/,"
		 "email:ops@example.com",
		 "DNS:a.example, IP:192.0.2.1, IP:2001:db8::5, URI:https://x.example/, "
		 "email:ops@example.com"},
		{"RID:1.2.3.4", "RID:1.2.3.4"},
	};
	EVP_PKEY *key = NULL;

	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x = make_cert(key, "02", cases[i].conf);
		char *list = NULL;

		assert_int_equal(estkit_cert_sans(x, &list), ESTKIT_OK);
		assert_string_equal(list, cases[i].want);
		estkit_free(list);
		X509_free(x);
	}
	assert_int_equal(estkit_cert_sans(NULL, NULL), ESTKIT_EINVAL);
	EVP_PKEY_free(key);
}

static void test_certs_find_by_key_returns_the_matching_leaf(void **state)
{
	EVP_PKEY *k1 = NULL, *k2 = NULL, *k3 = NULL;
	STACK_OF(X509) *certs = sk_X509_new_null();
	X509 *a, *b;

	assert_int_equal(estkit_key_generate("ec", &k1), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ed25519", &k2), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec", &k3), ESTKIT_OK);
	a = make_cert(k1, "03", NULL);
	b = make_cert(k2, "04", NULL);
	assert_true(sk_X509_push(certs, a) > 0);
	assert_true(sk_X509_push(certs, b) > 0);
	assert_ptr_equal(estkit_certs_find_by_key(certs, k2), b);
	assert_ptr_equal(estkit_certs_find_by_key(certs, k1), a);
	assert_null(estkit_certs_find_by_key(certs, k3));
	assert_null(estkit_certs_find_by_key(NULL, k1));
	assert_null(estkit_certs_find_by_key(certs, NULL));
	OSSL_STACK_OF_X509_free(certs);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_parse_table),
		cmocka_unit_test(test_name_oneline_parses_back_to_the_same_name),
		cmocka_unit_test(test_name_parse_rejects_null_and_oversized),
		cmocka_unit_test(test_cert_serial_hex_is_lowercase_without_leading_zeros),
		cmocka_unit_test(test_fingerprint_matching_table),
		cmocka_unit_test(test_cert_sans_lists_every_kind),
		cmocka_unit_test(test_certs_find_by_key_returns_the_matching_leaf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
