/*
 * test_profile.c - parsing [profile] sections and checking requested keys
 * against allowed_keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/x509v3.h>

#include "ca/profile.h"
#include "ca_testutil.h"

#define DEFAULT_KU "digitalSignature, keyEncipherment"
#define DEFAULT_EKU "clientAuth"
#define DEFAULT_KEYS "ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519"

struct parse_case {
	const char *what;
	int days;
	const char *ku, *eku, *keys;
	int ok;
	const char *err_has;      /* substring the error must contain */
};

static char long_token[300];
static char many_tokens[1000];

static const struct parse_case parse_cases[] = {
	{ "defaults", 365, DEFAULT_KU, DEFAULT_EKU, DEFAULT_KEYS, 1, NULL },
	{ "names are case-insensitive", 30, "DIGITALSIGNATURE", "ClientAuth", "EC:P-256", 1, NULL },
	{ "empty key usage means none", 30, "", "", "rsa", 1, NULL },
	{ "no key usage at all", 30, NULL, NULL, "ed25519,ed448", 1, NULL },
	{ "dotted EKU OID", 30, "digitalSignature", "1.3.6.1.5.5.7.3.28, serverAuth", "rsa:3072", 1, NULL },
	{ "cmcRA and OCSPSigning", 30, "digitalSignature", "cmcRA,OCSPSigning", "ec:secp384r1", 1, NULL },
	{ "curve by SN name", 30, "keyAgreement", "", "ec:prime256v1, ec:secp256k1", 1, NULL },
	{ "spaces around tokens", 30, "  digitalSignature ,keyAgreement  ", " clientAuth ", " ec:P-256 ", 1, NULL },
	{ "unknown key usage", 30, "digitalSig", "", "rsa", 0, "'digitalSig'" },
	{ "keyCertSign refused", 30, "digitalSignature,keyCertSign", "", "rsa", 0, "'keyCertSign'" },
	{ "cRLSign refused", 30, "cRLSign", "", "rsa", 0, "'cRLSign'" },
	{ "empty entry", 30, "digitalSignature,,keyAgreement", "", "rsa", 0, "empty entry" },
	{ "trailing comma", 30, "digitalSignature,", "", "rsa", 0, "empty entry" },
	{ "unknown EKU name", 30, "", "fooAuth", "rsa", 0, "'fooAuth'" },
	{ "EKU OID with empty arc", 30, "", "1..2", "rsa", 0, "'1..2'" },
	{ "EKU OID with trailing dot", 30, "", "1.2.", "rsa", 0, "'1.2.'" },
	{ "EKU single arc", 30, "", "1", "rsa", 0, "'1'" },
	{ "EKU listed twice", 30, "", "clientAuth, 1.3.6.1.5.5.7.3.2", "rsa", 0, "twice" },
	{ "unknown curve", 30, "", "", "ec:P-999", 0, "'ec:P-999'" },
	{ "ec without curve", 30, "", "", "ec", 0, "'ec'" },
	{ "RSA minimum under 2048", 30, "", "", "rsa:1024", 0, "'rsa:1024'" },
	{ "RSA minimum not a number", 30, "", "", "rsa:abc", 0, "'rsa:abc'" },
	{ "RSA minimum empty", 30, "", "", "rsa:", 0, "'rsa:'" },
	{ "RSA minimum trailing junk", 30, "", "", "rsa:2048x", 0, "'rsa:2048x'" },
	{ "RSA minimum overflowing", 30, "", "", "rsa:99999999999999999999", 0, "rsa:9999" },
	{ "DSA is no allowed key", 30, "", "", "dsa:2048", 0, "'dsa:2048'" },
	{ "ed25519 takes no argument", 30, "", "", "ed25519:1", 0, "'ed25519:1'" },
	{ "no allowed keys", 30, "", "", "", 0, "no key would be accepted" },
	{ "missing allowed keys", 30, "", "", NULL, 0, "allowed_keys" },
	{ "zero validity", 0, DEFAULT_KU, DEFAULT_EKU, DEFAULT_KEYS, 0, "validity_days" },
	{ "negative validity", -5, DEFAULT_KU, DEFAULT_EKU, DEFAULT_KEYS, 0, "validity_days" },
	{ "validity over 100 years", 36501, DEFAULT_KU, DEFAULT_EKU, DEFAULT_KEYS, 0, "validity_days" },
	{ "oversized token", 30, long_token, "", "rsa", 0, "too long" },
	{ "too many entries", 30, "", many_tokens, "rsa", 0, "too long" },
};

static void build_oversized_inputs(void)
{
	size_t i, off = 0;

	memset(long_token, 'a', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	for (i = 0; i < 100 && off + 12 < sizeof(many_tokens); i++)
		off += (size_t)snprintf(many_tokens + off, sizeof(many_tokens) - off, "%s1.2.%zu",
					i ? "," : "", i);
}

static void test_profile_parse_table(void **state)
{
	size_t i;

	(void)state;
	build_oversized_inputs();
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct estd_profile src = { (char *)"p", c->days, (char *)c->ku, (char *)c->eku,
					    (char *)c->keys, 1, NULL, 0, NULL, 0 };
		struct estd_ca_profile *p = NULL;
		char err[512] = "";
		enum estkit_status rc = estd_profile_parse(&src, &p, err, sizeof(err));

		print_message("case: %s -> %s\n", c->what, rc == ESTKIT_OK ? "ok" : err);
		if (c->ok) {
			assert_int_equal(rc, ESTKIT_OK);
			assert_non_null(p);
		} else {
			assert_int_not_equal(rc, ESTKIT_OK);
			assert_null(p);
			assert_non_null(strstr(err, c->err_has));
			assert_non_null(strstr(err, "profile p"));
		}
		estd_profile_free(p);
	}
}

/* allow_othername: dotted OIDs only, each once; none by default. */
static void test_profile_allow_othername(void **state)
{
	static const struct {
		const char *list;
		int n;              /* OIDs parsed; -1: refused */
		const char *err_has;
	} cases[] = {
		{ NULL, 0, NULL },
		{ "1.3.6.1.4.1.311.20.2.3", 1, NULL },
		{ "1.3.6.1.4.1.311.20.2.3, 1.3.6.1.5.5.7.8.9", 2, NULL },
		{ "upn", -1, "'upn' is not a dotted OID" },
		{ "msUPN", -1, "not a dotted OID" },
		{ "1.3.6.1.4.1.311.20.2.3, 1.3.6.1.4.1.311.20.2.3", -1, "listed twice" },
		{ "1.3.6.1.4.1.311.20.2.3,", -1, "empty entry" },
		{ "1..3", -1, "not a dotted OID" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_profile src = { (char *)"p", 30, (char *)DEFAULT_KU, (char *)DEFAULT_EKU,
					    (char *)DEFAULT_KEYS, 1, NULL, 0,
					    (char *)cases[i].list, i == 1 };
		struct estd_ca_profile *p = NULL;
		char err[512] = "";
		enum estkit_status rc = estd_profile_parse(&src, &p, err, sizeof(err));

		if ((rc == ESTKIT_OK) != (cases[i].n >= 0))
			fail_msg("case %zu: %s", i, err);
		if (cases[i].n < 0) {
			assert_non_null(strstr(err, cases[i].err_has));
			assert_non_null(strstr(err, "allow_othername"));
			continue;
		}
		assert_int_equal(sk_ASN1_OBJECT_num(p->othername_types), cases[i].n);
		assert_int_equal(p->registered_id, i == 1);
		estd_profile_free(p);
	}
}

static struct estd_ca_profile *parse(const char *ku, const char *eku, const char *keys)
{
	struct estd_profile src = { (char *)"t", 365, (char *)ku, (char *)eku, (char *)keys, 1, NULL, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	char err[256];

	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), ESTKIT_OK);
	return p;
}

static void test_profile_parse_builds_bits_and_oids(void **state)
{
	struct estd_ca_profile *p = parse("digitalSignature, keyEncipherment, nonRepudiation",
					  "clientAuth, 1.3.6.1.5.5.7.3.28",
					  "ec:P-384, rsa:3072, ed25519");

	(void)state;
	assert_int_equal(p->key_usage, X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_KEY_ENCIPHERMENT |
					       X509v3_KU_NON_REPUDIATION);
	assert_int_equal(sk_ASN1_OBJECT_num(p->eku), 2);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(p->eku, 0)), NID_client_auth);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(p->eku, 1)), NID_cmcRA);
	assert_int_equal(p->nkeys, 3);
	assert_int_equal(p->keys[0].kind, ESTD_KEY_EC);
	assert_int_equal(p->keys[0].curve_nid, NID_secp384r1);
	assert_int_equal(p->keys[1].kind, ESTD_KEY_RSA);
	assert_int_equal(p->keys[1].min_bits, 3072);
	assert_int_equal(p->keys[2].kind, ESTD_KEY_ED25519);
	assert_int_equal(p->validity_days, 365);
	assert_int_equal(p->copy_sans, 1);
	estd_profile_free(p);
	estd_profile_free(NULL);
}

struct key_case {
	const char *what;
	const char *type, *curve;
	size_t bits;
	const char *allowed;
	const char *reason;       /* NULL: accepted; else the exact refusal */
};

static const struct key_case key_cases[] = {
	{ "RSA 2048 at the minimum", "RSA", NULL, 2048, "rsa:2048", NULL },
	{ "RSA 3072 above the minimum", "RSA", NULL, 3072, "rsa:2048", NULL },
	{ "RSA 1024 below the minimum", "RSA", NULL, 1024, "rsa:2048",
	  "RSA key of 1024 bits is below the profile minimum of 2048" },
	{ "RSA 2048 below a 3072 minimum", "RSA", NULL, 2048, "ec:P-256, rsa:3072",
	  "RSA key of 2048 bits is below the profile minimum of 3072" },
	{ "lowest RSA minimum wins", "RSA", NULL, 2048, "rsa:4096, rsa:2048", NULL },
	{ "RSA not allowed at all", "RSA", NULL, 2048, "ec:P-256",
	  "RSA keys are not allowed by the profile" },
	{ "P-256 allowed", "EC", "P-256", 0, "ec:P-256", NULL },
	{ "P-384 allowed", "EC", "P-384", 0, "ec:P-256, ec:P-384", NULL },
	{ "P-384 not listed", "EC", "P-384", 0, "ec:P-256, rsa:2048",
	  "EC curve P-384 is not allowed by the profile" },
	{ "secp256k1 disallowed", "EC", "secp256k1", 0, "ec:P-256, ec:P-384, ec:P-521",
	  "EC curve secp256k1 is not allowed by the profile" },
	{ "secp256k1 when listed", "EC", "secp256k1", 0, "ec:secp256k1", NULL },
	{ "EC not allowed at all", "EC", "P-256", 0, "rsa:2048",
	  "EC keys are not allowed by the profile" },
	{ "Ed25519 allowed", "ED25519", NULL, 0, "ed25519", NULL },
	{ "Ed25519 not listed", "ED25519", NULL, 0, "ec:P-256, ed448",
	  "Ed25519 keys are not allowed by the profile" },
	{ "Ed448 allowed", "ED448", NULL, 0, "ed448", NULL },
};

static void test_profile_check_key_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *c = &key_cases[i];
		struct estd_ca_profile *p = parse("digitalSignature", "clientAuth", c->allowed);
		EVP_PKEY *k = tu_key(c->type, c->curve, c->bits);
		char reason[256] = "";
		enum estkit_status rc = estd_profile_check_key(p, k, reason, sizeof(reason));

		print_message("case: %s -> %s\n", c->what, rc == ESTKIT_OK ? "ok" : reason);
		if (c->reason == NULL) {
			assert_int_equal(rc, ESTKIT_OK);
		} else {
			assert_int_equal(rc, ESTKIT_EPOLICY);
			assert_string_equal(reason, c->reason);
		}
		EVP_PKEY_free(k);
		estd_profile_free(p);
	}
}

/* Keys from requests of libEST's test suite: a DSA-1024 and an RSA-1024 request. */
static void test_profile_refuses_dsa_and_small_rsa_from_real_csrs(void **state)
{
	struct estd_ca_profile *p = parse("digitalSignature", "clientAuth", "rsa:2048, ec:P-256");
	X509_REQ *dsa = tu_csr_b64_file(ESTKIT_VECTORS_DIR "/ca/US902__US902_PKCS10_DSA1024.b64");
	X509_REQ *rsa = tu_csr_b64_file(ESTKIT_VECTORS_DIR "/ca/US903__US903_PKCS10_STALE_POP.b64");
	X509_REQ *ok = tu_csr_b64_file(ESTKIT_VECTORS_DIR "/ca/US902__US902_PKCS10_ECDSA256.b64");
	char reason[256];

	(void)state;
	assert_non_null(dsa);
	assert_non_null(rsa);
	assert_non_null(ok);
	assert_int_equal(estd_profile_check_key(p, X509_REQ_get0_pubkey(dsa), reason,
						sizeof(reason)), ESTKIT_EPOLICY);
	assert_string_equal(reason, "DSA keys are not accepted");
	assert_int_equal(estd_profile_check_key(p, X509_REQ_get0_pubkey(rsa), reason,
						sizeof(reason)), ESTKIT_EPOLICY);
	assert_string_equal(reason, "RSA key of 1024 bits is below the profile minimum of 2048");
	assert_int_equal(estd_profile_check_key(p, X509_REQ_get0_pubkey(ok), reason,
						sizeof(reason)), ESTKIT_OK);
	assert_int_equal(estd_profile_check_key(p, NULL, reason, sizeof(reason)), ESTKIT_EINVAL);
	X509_REQ_free(dsa);
	X509_REQ_free(rsa);
	X509_REQ_free(ok);
	estd_profile_free(p);
}

/* RFC 5480 3 / RFC 8410 5: usages a key algorithm cannot carry are dropped. */
static void test_profile_key_usage_follows_key_algorithm(void **state)
{
	struct estd_ca_profile *p = parse("digitalSignature, keyEncipherment, keyAgreement",
					  "", "rsa, ec:P-256, ed25519");
	EVP_PKEY *rsa = tu_key("RSA", NULL, 2048);
	EVP_PKEY *ec = tu_key("EC", "P-256", 0);
	EVP_PKEY *ed = tu_key("ED25519", NULL, 0);

	(void)state;
	assert_int_equal(estd_profile_key_usage_for(p, rsa),
			 X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_KEY_ENCIPHERMENT);
	assert_int_equal(estd_profile_key_usage_for(p, ec),
			 X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_KEY_AGREEMENT);
	assert_int_equal(estd_profile_key_usage_for(p, ed), X509v3_KU_DIGITAL_SIGNATURE);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
	estd_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_profile_parse_table),
		cmocka_unit_test(test_profile_allow_othername),
		cmocka_unit_test(test_profile_parse_builds_bits_and_oids),
		cmocka_unit_test(test_profile_check_key_table),
		cmocka_unit_test(test_profile_refuses_dsa_and_small_rsa_from_real_csrs),
		cmocka_unit_test(test_profile_key_usage_follows_key_algorithm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
