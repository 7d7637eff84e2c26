/*
 * test_serverkeygen.c - the pieces of /serverkeygen (RFC 7030 4.4) that do not
 * need a network: the key-identifier CSR attributes, PKCS#8 decoding, opening
 * a CMS-wrapped key (EnvelopedData around SignedData around PKCS#8, built
 * here with plain OpenSSL), and estd's key choice and key-encryption keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include <estkit/pki.h>
#include <estkit/serverkeygen.h>

#include "backend/skg.h"
#include "ca_testutil.h"

static unsigned char *pkcs8_of(EVP_PKEY *k, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
	unsigned char *der = NULL;
	int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);

	PKCS8_PRIV_KEY_INFO_free(p8);
	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

static void test_key_id_attributes_round_trip(void **state)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(k, "kid", NULL, NULL);
	unsigned char big[ESTKIT_KEY_ID_MAX + 1], *id = NULL;
	size_t len = 0;

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(estkit_csr_get_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC, &id, &len),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_csr_add_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC, big, 0, k),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_add_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC, big, sizeof(big), k),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_add_key_id(csr, (enum estkit_key_id_kind)7, big, 4, k),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_add_key_id(csr, ESTKIT_KEY_ID_ASYMMETRIC,
					       (const unsigned char *)"\x01\x02\x03", 3, k),
			 ESTKIT_OK);
	/* signed again: the attribute is covered by the signature */
	assert_int_equal(estkit_csr_verify(csr), ESTKIT_OK);
	assert_int_equal(estkit_csr_get_key_id(csr, ESTKIT_KEY_ID_ASYMMETRIC, &id, &len),
			 ESTKIT_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(id, "\x01\x02\x03", 3);
	estkit_free(id);
	assert_int_equal(estkit_csr_get_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC, &id, &len),
			 ESTKIT_ENOTFOUND);
	/* without signing again the old signature no longer verifies */
	assert_int_equal(estkit_csr_add_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC,
					       (const unsigned char *)"kek-1", 5, NULL),
			 ESTKIT_OK);
	assert_int_not_equal(estkit_csr_verify(csr), ESTKIT_OK);
	assert_int_equal(estkit_csr_get_key_id(csr, ESTKIT_KEY_ID_SYMMETRIC, &id, &len),
			 ESTKIT_OK);
	assert_memory_equal(id, "kek-1", 5);
	estkit_free(id);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

static void test_malformed_key_id_attributes_are_refused(void **state)
{
	static const char *oid = ESTKIT_OID_DECRYPT_KEY_ID;
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509_REQ *utf8 = tu_csr(k, "a", NULL, NULL), *twice = tu_csr(k, "b", NULL, NULL);
	X509_REQ *empty = tu_csr(k, "c", NULL, NULL);
	X509_REQ *cases[2] = { utf8, empty };
	unsigned char *id = NULL;
	size_t len = 0, i;

	(void)state;
	assert_int_equal(X509_REQ_add1_attr_by_txt(utf8, oid, MBSTRING_UTF8,
						   (const unsigned char *)"kek", 3), 1);
	assert_int_equal(estkit_csr_add_key_id(twice, ESTKIT_KEY_ID_SYMMETRIC,
					       (const unsigned char *)"a", 1, NULL), ESTKIT_OK);
	assert_int_equal(estkit_csr_add_key_id(twice, ESTKIT_KEY_ID_SYMMETRIC,
					       (const unsigned char *)"b", 1, NULL), ESTKIT_EEXIST);
	X509_REQ_free(twice);
	assert_int_equal(X509_REQ_add1_attr_by_txt(empty, oid, V_ASN1_OCTET_STRING,
						   (const unsigned char *)"", 0), 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(estkit_csr_get_key_id(cases[i], ESTKIT_KEY_ID_SYMMETRIC, &id,
						       &len), ESTKIT_EPARSE);
		assert_null(id);
		X509_REQ_free(cases[i]);
	}
	assert_int_equal(estkit_csr_get_key_id(NULL, ESTKIT_KEY_ID_SYMMETRIC, &id, &len),
			 ESTKIT_EINVAL);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

static void test_pkcs8_decode_accepts_only_whole_keys(void **state)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0), *out = NULL;
	size_t len = 0, cut;
	unsigned char *der = pkcs8_of(k, &len), *longer = NULL;

	(void)state;
	assert_int_equal(estkit_pkcs8_decode(der, len, &out), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(out, k), 1);
	EVP_PKEY_free(out);
	for (cut = 1; cut < len; cut++) {
		assert_int_not_equal(estkit_pkcs8_decode(der, cut, &out), ESTKIT_OK);
		assert_null(out);
	}
	longer = OPENSSL_malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(estkit_pkcs8_decode(longer, len + 1, &out), ESTKIT_EPARSE);
	assert_int_equal(estkit_pkcs8_decode(NULL, 4, &out), ESTKIT_EINVAL);
	assert_int_equal(estkit_pkcs8_decode(der, 0, &out), ESTKIT_EINVAL);
	OPENSSL_free(longer);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* What estd sends: EnvelopedData(kekri or ktri) of SignedData(PKCS#8). */
static unsigned char *wrap(EVP_PKEY *key, X509 *signer, EVP_PKEY *signer_key,
			   const unsigned char *kek, size_t keklen, X509 *recip, size_t *len)
{
	size_t p8len = 0;
	unsigned char *p8 = pkcs8_of(key, &p8len), *sdder = NULL, *out = NULL;
	BIO *in = BIO_new_mem_buf(p8, (int)p8len), *sdbio = NULL;
	CMS_ContentInfo *sd = CMS_sign(signer, signer_key, NULL, in, CMS_BINARY), *env = NULL;
	STACK_OF(X509) *rcpts = sk_X509_new_null();
	int n = i2d_CMS_ContentInfo(sd, &sdder);

	assert_true(n > 0);
	sdbio = BIO_new_mem_buf(sdder, n);
	if (kek != NULL) {
		env = CMS_encrypt(NULL, sdbio, EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL);
		assert_non_null(CMS_add0_recipient_key(env, NID_undef, OPENSSL_memdup(kek, keklen),
						       keklen, OPENSSL_memdup("id", 2), 2, NULL,
						       NULL, NULL));
		assert_int_equal(CMS_final(env, sdbio, NULL, CMS_BINARY), 1);
	} else {
		sk_X509_push(rcpts, recip);
		env = CMS_encrypt(rcpts, sdbio, EVP_aes_128_cbc(), CMS_BINARY);
	}
	assert_non_null(env);
	n = i2d_CMS_ContentInfo(env, &out);
	assert_true(n > 0);
	*len = (size_t)n;
	sk_X509_free(rcpts);
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(sd);
	BIO_free(sdbio);
	BIO_free(in);
	OPENSSL_free(sdder);
	OPENSSL_free(p8);
	return out;
}

static void test_key_decrypt_with_symmetric_key(void **state)
{
	static const unsigned char kek[32] = "0123456789abcdef0123456789abcdef";
	static const unsigned char wrong[32] = "0123456789abcdef0123456789abcdeX";
	EVP_PKEY *key = tu_key("EC", "P-256", 0), *ca_key = tu_key("EC", "P-256", 0), *out = NULL;
	EVP_PKEY *other_key = tu_key("EC", "P-256", 0);
	X509 *ca = tu_ca_cert(ca_key, "signer", 30, 1), *other = tu_ca_cert(other_key, "x", 30, 1);
	STACK_OF(X509) *trust = sk_X509_new_null(), *untrusted = sk_X509_new_null();
	size_t len = 0, cut;
	unsigned char *der = wrap(key, ca, ca_key, kek, sizeof(kek), NULL, &len);

	(void)state;
	sk_X509_push(trust, ca);
	sk_X509_push(untrusted, other);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, kek, sizeof(kek), NULL, NULL,
							 trust, &out), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(out, key), 1);
	EVP_PKEY_free(out);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, kek, sizeof(kek), NULL, NULL,
							 NULL, &out), ESTKIT_OK);
	EVP_PKEY_free(out);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, kek, sizeof(kek), NULL, NULL,
							 untrusted, &out), ESTKIT_EUNTRUSTED);
	assert_null(out);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, wrong, sizeof(wrong), NULL,
							 NULL, NULL, &out), ESTKIT_ECRYPTO);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, kek, 16, NULL, NULL, NULL,
							 &out), ESTKIT_ECRYPTO);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, NULL, 0, NULL, NULL, NULL,
							 &out), ESTKIT_EINVAL);
	for (cut = 0; cut < len; cut += 7) {
		assert_int_not_equal(estkit_serverkeygen_key_decrypt(der, cut, kek, sizeof(kek),
								     NULL, NULL, NULL, &out),
				     ESTKIT_OK);
		assert_null(out);
	}
	OPENSSL_free(der);
	sk_X509_free(trust);
	sk_X509_free(untrusted);
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	ERR_clear_error();
}

static void test_key_decrypt_with_recipient_certificate(void **state)
{
	EVP_PKEY *key = tu_key("EC", "P-256", 0), *rkey = tu_key("RSA", NULL, 2048), *out = NULL;
	EVP_PKEY *other = tu_key("RSA", NULL, 2048);
	X509 *rcert = tu_ca_cert(rkey, "recipient", 30, 0);
	size_t len = 0, p8len = 0;
	unsigned char *der = wrap(key, rcert, rkey, NULL, 0, rcert, &len);
	unsigned char *p8 = pkcs8_of(key, &p8len);

	(void)state;
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, NULL, 0, rkey, rcert, NULL,
							 &out), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(out, key), 1);
	EVP_PKEY_free(out);
	assert_int_equal(estkit_serverkeygen_key_decrypt(der, len, NULL, 0, other, NULL, NULL,
							 &out), ESTKIT_ECRYPTO);
	/* a bare PKCS#8 is not a CMS envelope */
	assert_int_equal(estkit_serverkeygen_key_decrypt(p8, p8len, NULL, 0, rkey, rcert, NULL,
							 &out), ESTKIT_EPARSE);
	OPENSSL_free(p8);
	OPENSSL_free(der);
	X509_free(rcert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(rkey);
	EVP_PKEY_free(other);
	ERR_clear_error();
}

static void test_estd_generates_a_key_like_the_csr_or_the_label_says(void **state)
{
	static const struct {
		const char *type, *curve;
		size_t bits;
		const char *label_spec;
		enum estkit_status rc;
		int want_id, want_bits;
	} cases[] = {
		{ "EC", "P-384", 0, NULL, ESTKIT_OK, EVP_PKEY_EC, 384 },
		{ "RSA", NULL, 2048, NULL, ESTKIT_OK, EVP_PKEY_RSA, 2048 },
		{ "ED25519", NULL, 0, NULL, ESTKIT_OK, EVP_PKEY_ED25519, 0 },
		{ "RSA", NULL, 2048, "ec:P-256", ESTKIT_OK, EVP_PKEY_EC, 256 },
		{ "EC", "secp256k1", 0, NULL, ESTKIT_EPOLICY, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *k = tu_key(cases[i].type, cases[i].curve, cases[i].bits), *out = NULL;
		X509_REQ *csr = tu_csr(k, "gen", NULL, NULL);
		struct estd_label label = { .name = (char *)"",
					    .serverkeygen_key = (char *)cases[i].label_spec };
		char reason[128] = "";
		enum estkit_status rc = estd_skg_generate(&label, csr, &out, reason, sizeof(reason));

		if (rc != cases[i].rc)
			fail_msg("case %zu: %s (%s)", i, estkit_strerror(rc), reason);
		if (rc == ESTKIT_OK) {
			assert_int_equal(EVP_PKEY_get_base_id(out), cases[i].want_id);
			if (cases[i].want_bits != 0)
				assert_int_equal(EVP_PKEY_get_bits(out), cases[i].want_bits);
			assert_int_not_equal(EVP_PKEY_eq(out, k), 1);
		} else {
			assert_null(out);
			assert_true(reason[0] != '\0');
		}
		EVP_PKEY_free(out);
		X509_REQ_free(csr);
		EVP_PKEY_free(k);
	}
	ERR_clear_error();
}

static void test_estd_kek_files(void **state)
{
	static const struct {
		const char *text;
		enum estkit_status rc;
		size_t len;
	} cases[] = {
		{ "00112233445566778899aabbccddeeff\n", ESTKIT_OK, 16 },
		{ "00112233 44556677 8899AABB CCDDEEFF 0011223344556677\n", ESTKIT_OK, 24 },
		{ "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", ESTKIT_OK,
		  32 },
		{ "", ESTKIT_EPARSE, 0 },
		{ "0011223344556677889900aabbccddee0", ESTKIT_EPARSE, 0 },       /* odd */
		{ "00112233445566778899aabbccddee", ESTKIT_EPARSE, 0 },          /* 15 bytes */
		{ "00112233445566778899aabbccddeeffgg", ESTKIT_EPARSE, 0 },      /* not hex */
		{ "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
		  ESTKIT_EPARSE, 0 }, /* 33 bytes */
	};
	char dir[] = "/tmp/estd-skg-XXXXXX", path[PATH_MAX], value[PATH_MAX + 16];
	struct estd_label label = { .name = (char *)"" };
	unsigned char *kek = NULL;
	size_t len = 0, i;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/kek.hex", dir);
	snprintf(value, sizeof(value), "dev-1:%s", path);
	label.serverkeygen_kek = value;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(cases[i].text, fp);
		fclose(fp);
		enum estkit_status rc = estd_skg_kek(&label, (const unsigned char *)"dev-1", 5,
						     &kek, &len);
		if (rc != cases[i].rc)
			fail_msg("case %zu: %s", i, estkit_strerror(rc));
		assert_int_equal(len, cases[i].len);
		assert_true(rc == ESTKIT_OK ? kek != NULL : kek == NULL);
		estkit_free_secret(kek, len);
	}
	/* another identifier, a prefix of it, no key configured */
	assert_int_equal(estd_skg_kek(&label, (const unsigned char *)"dev-2", 5, &kek, &len),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estd_skg_kek(&label, (const unsigned char *)"dev", 3, &kek, &len),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estd_skg_kek(NULL, (const unsigned char *)"dev-1", 5, &kek, &len),
			 ESTKIT_ENOTFOUND);
	unlink(path);
	assert_int_equal(estd_skg_kek(&label, (const unsigned char *)"dev-1", 5, &kek, &len),
			 ESTKIT_EIO);
	rmdir(dir);
}

static void test_estd_config_syntax_checks(void **state)
{
	(void)state;
	assert_true(estd_skg_keyspec_ok("ec:P-256"));
	assert_true(estd_skg_keyspec_ok("rsa:3072"));
	assert_true(estd_skg_keyspec_ok("ed25519"));
	assert_false(estd_skg_keyspec_ok("rsa:1024"));
	assert_false(estd_skg_keyspec_ok("rsa:3073"));
	assert_false(estd_skg_keyspec_ok("ec:P-999"));
	assert_false(estd_skg_keyspec_ok("dsa"));
	assert_true(estd_skg_kek_syntax_ok("id:file"));
	assert_false(estd_skg_kek_syntax_ok(":file"));
	assert_false(estd_skg_kek_syntax_ok("id:"));
	assert_false(estd_skg_kek_syntax_ok("file"));
	assert_false(estd_skg_kek_syntax_ok("a b:file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_id_attributes_round_trip),
		cmocka_unit_test(test_malformed_key_id_attributes_are_refused),
		cmocka_unit_test(test_pkcs8_decode_accepts_only_whole_keys),
		cmocka_unit_test(test_key_decrypt_with_symmetric_key),
		cmocka_unit_test(test_key_decrypt_with_recipient_certificate),
		cmocka_unit_test(test_estd_generates_a_key_like_the_csr_or_the_label_says),
		cmocka_unit_test(test_estd_kek_files),
		cmocka_unit_test(test_estd_config_syntax_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
