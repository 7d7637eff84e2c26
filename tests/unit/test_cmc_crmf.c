/*
 * test_cmc_crmf.c - CRMF requests (RFC 4211) in lib/pki/cmc_crmf.c: the
 * builder's CertReqMsg (certReqId = body part id, signature POP), the CA's
 * POP check and template reading, against CertReqMsgs made directly with
 * OpenSSL's CRMF calls (good, tampered, without POP, raVerified, without
 * public key, with fields the CA chooses) and malformed DER.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <estkit/cmc.h>
#include <estkit/pki.h>

static EVP_PKEY *key_new(const char *spec)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(estkit_key_generate(spec, &k), ESTKIT_OK);
	return k;
}

enum shape {
	GOOD,         /* subject + key + SAN, signature POP */
	TAMPERED,     /* template changed after the POP was made */
	NO_POP,       /* no ProofOfPossession at all */
	RA_VERIFIED,  /* raVerified */
	NO_PUBKEY,    /* subject only, signature POP */
	WITH_SERIAL,  /* serialNumber in the template (the CA's to choose) */
	OTHER_KEY,    /* signature POP made with a key other than the template's */
};

/* A CertReqMsg made with OpenSSL's CRMF calls only, not with the code under test. */
static OSSL_CRMF_MSG *ossl_msg(enum shape s, EVP_PKEY *k, EVP_PKEY *other)
{
	OSSL_CRMF_MSG *m = OSSL_CRMF_MSG_new();
	X509_NAME *subj = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
						  "DNS:crmf.example");

	assert_non_null(m);
	assert_non_null(san);
	assert_true(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					       (const unsigned char *)"crmf-unit", -1, -1, 0));
	assert_true(ASN1_INTEGER_set(sn, 77));
	assert_true(OSSL_CRMF_MSG_set_certReqId(m, 5));
	assert_true(OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(m),
						s == NO_PUBKEY ? NULL : k, subj, NULL,
						s == WITH_SERIAL ? sn : NULL));
	assert_true(OSSL_CRMF_MSG_push0_extension(m, san));
	if (s == RA_VERIFIED)
		assert_true(OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_RAVERIFIED, m, NULL, NULL,
						      NULL, NULL));
	else if (s != NO_POP)
		assert_true(OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, m,
						      s == OTHER_KEY ? other : k, EVP_sha256(),
						      NULL, NULL));
	if (s == TAMPERED) {
		X509_NAME *evil = X509_NAME_new();
		assert_true(X509_NAME_add_entry_by_txt(evil, "CN", MBSTRING_ASC,
						       (const unsigned char *)"crmf-evil", -1, -1,
						       0));
		assert_true(OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(m), NULL, evil,
							NULL, NULL));
		X509_NAME_free(evil);
	}
	X509_NAME_free(subj);
	ASN1_INTEGER_free(sn);
	return m;
}

struct pcase {
	const char *name;
	enum shape shape;
	int accept_ra;
	enum estkit_status pop;        /* estkit_cmc_crmf_verify_pop */
	enum estkit_cmc_fail fail;
	enum estkit_status tmpl;       /* estkit_cmc_crmf_to_csr */
};

static const struct pcase pcases[] = {
	{ "good signature POP", GOOD, 0, ESTKIT_OK, ESTKIT_CMC_FAIL_NONE, ESTKIT_OK },
	{ "template changed after signing", TAMPERED, 0, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_FAILED,
	  ESTKIT_OK },
	{ "POP signed by another key", OTHER_KEY, 0, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_FAILED,
	  ESTKIT_OK },
	{ "no POP", NO_POP, 0, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_REQUIRED_FAIL, ESTKIT_OK },
	{ "no POP, even for an RA", NO_POP, 1, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_REQUIRED_FAIL,
	  ESTKIT_OK },
	{ "raVerified not allowed", RA_VERIFIED, 0, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_FAILED,
	  ESTKIT_OK },
	{ "raVerified from a trusted RA", RA_VERIFIED, 1, ESTKIT_OK, ESTKIT_CMC_FAIL_NONE,
	  ESTKIT_OK },
	{ "template without public key", NO_PUBKEY, 0, ESTKIT_ECRYPTO, ESTKIT_CMC_POP_FAILED,
	  ESTKIT_EPARSE },
	{ "serialNumber in the template", WITH_SERIAL, 0, ESTKIT_OK, ESTKIT_CMC_FAIL_NONE,
	  ESTKIT_EPARSE },
};

/* Each shape after a DER round trip, as the server sees it. */
static void test_pop_and_template(void **state)
{
	EVP_PKEY *k = key_new("ec:P-256"), *other = key_new("ec:P-256");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		OSSL_CRMF_MSG *m = ossl_msg(c->shape, k, other), *back = NULL;
		unsigned char *der = NULL;
		const unsigned char *p = NULL;
		X509_REQ *csr = NULL;
		const char *why = NULL;
		enum estkit_cmc_fail fail = ESTKIT_CMC_BAD_ALG;
		int n = i2d_OSSL_CRMF_MSG(m, &der);

		print_message("case: %s\n", c->name);
		assert_true(n > 0);
		p = der;
		back = d2i_OSSL_CRMF_MSG(NULL, &p, n);
		assert_non_null(back);
		assert_int_equal(estkit_cmc_crmf_verify_pop(back, c->accept_ra, &fail), c->pop);
		assert_int_equal(fail, c->fail);
		assert_int_equal(estkit_cmc_crmf_to_csr(back, &csr, &why), c->tmpl);
		if (c->tmpl == ESTKIT_OK) {
			assert_null(why);
			assert_true(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), k) == 1);
			/* the SAN reaches the profile as a PKCS#10 extensionRequest */
			STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
			assert_int_equal(sk_X509_EXTENSION_num(exts), 1);
			assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(
						 sk_X509_EXTENSION_value(exts, 0))),
					 NID_subject_alt_name);
			sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		} else {
			assert_null(csr);
			assert_non_null(why);
		}
		X509_REQ_free(csr);
		OSSL_CRMF_MSG_free(back);
		OSSL_CRMF_MSG_free(m);
		OPENSSL_free(der);
	}
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

/* The builder: certReqId = body part id, POP verifies, template = the CSR's content. */
static void test_builder(void **state)
{
	static const char *const specs[] = { "ec:P-256", "rsa:2048", "ed25519" };
	const char *sans[] = { "DNS:built.example" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		EVP_PKEY *k = key_new(specs[i]);
		X509_REQ *csr = NULL, *back = NULL;
		struct estkit_cmc_req *r = NULL, *d = NULL;
		unsigned char *der = NULL;
		size_t len = 0;
		uint32_t bp10 = 0, bp = 0, got = 0;
		enum estkit_cmc_req_type type;
		OSSL_CRMF_MSG *m = NULL;
		enum estkit_cmc_fail fail;
		const char *why = NULL;

		print_message("key: %s\n", specs[i]);
		assert_int_equal(estkit_csr_new(k, "/CN=built", sans, 1, NULL, &csr), ESTKIT_OK);
		assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
		/* mixed: a PKCS#10 first, then the CRMF */
		assert_int_equal(estkit_cmc_req_add_pkcs10(r, csr, &bp10), ESTKIT_OK);
		assert_int_equal(estkit_cmc_req_add_crmf_csr(r, csr, k, &bp), ESTKIT_OK);
		assert_int_equal(bp, bp10 + 1);
		assert_int_equal(estkit_cmc_req_encode(r, &der, &len), ESTKIT_OK);
		assert_int_equal(estkit_cmc_req_decode(der, len, &d), ESTKIT_OK);
		assert_int_equal(estkit_cmc_req_count(d), 2);
		assert_int_equal(estkit_cmc_req_get(d, 1, &got, &type, NULL, &m), ESTKIT_OK);
		assert_int_equal(type, ESTKIT_CMC_REQ_CRMF);
		assert_int_equal(got, bp); /* RFC 5272 3.2.1.3.2 */
		assert_int_equal(OSSL_CRMF_MSG_get_certReqId(m), (int)bp);
		assert_int_equal(estkit_cmc_crmf_verify_pop(m, 0, &fail), ESTKIT_OK);
		/* and OpenSSL's own check agrees, outside our wrapper */
		{
			STACK_OF(OSSL_CRMF_MSG) *one = sk_OSSL_CRMF_MSG_new_null();
			assert_true(sk_OSSL_CRMF_MSG_push(one, m) == 1);
			assert_int_equal(OSSL_CRMF_MSGS_verify_popo(one, 0, 0, NULL, NULL), 1);
			sk_OSSL_CRMF_MSG_free(one);
		}
		assert_int_equal(estkit_cmc_crmf_to_csr(m, &back, &why), ESTKIT_OK);
		assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(back),
					       X509_REQ_get_subject_name(csr)), 0);
		assert_true(EVP_PKEY_eq(X509_REQ_get0_pubkey(back), k) == 1);
		X509_REQ_free(back);
		X509_REQ_free(csr);
		estkit_cmc_req_free(r);
		estkit_cmc_req_free(d);
		estkit_free(der);
		EVP_PKEY_free(k);
	}
}

static void test_builder_refuses(void **state)
{
	EVP_PKEY *k = key_new("ec:P-256"), *other = key_new("ec:P-256");
	X509_REQ *csr = NULL, *out = NULL;
	struct estkit_cmc_req *r = NULL;
	enum estkit_cmc_fail fail;
	const char *why = NULL;

	(void)state;
	assert_int_equal(estkit_csr_new(k, "/CN=x", NULL, 0, NULL, &csr), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	/* the POP key must be the request's key */
	assert_int_equal(estkit_cmc_req_add_crmf_csr(r, csr, other, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_add_crmf_csr(r, NULL, k, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_add_crmf_csr(NULL, csr, k, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_count(r), 0);
	assert_int_equal(estkit_cmc_crmf_verify_pop(NULL, 0, &fail), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_crmf_to_csr(NULL, &out, &why), ESTKIT_EINVAL);
	estkit_cmc_req_free(r);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

/*
 * Malformed CertReqMsgs inside a PKIData: reqSequence { [1] <bytes> }. The
 * PKIData decoder must refuse them rather than hand out a half-read message.
 */
static void test_garbage_certreqmsg(void **state)
{
	static const struct {
		const char *name;
		unsigned char der[24];
		size_t len;
	} bad[] = {
		{ "empty crm", { 0x30, 0x0a, 0x30, 0x00, 0x30, 0x02, 0xa1, 0x00, 0x30, 0x00, 0x30,
				 0x00 }, 12 },
		{ "crm holding an INTEGER", { 0x30, 0x0d, 0x30, 0x00, 0x30, 0x05, 0xa1, 0x03, 0x02,
					      0x01, 0x05, 0x30, 0x00, 0x30, 0x00 }, 15 },
		{ "certReq without template", { 0x30, 0x0f, 0x30, 0x00, 0x30, 0x07, 0xa1, 0x05,
						0x30, 0x03, 0x02, 0x01, 0x01, 0x30, 0x00, 0x30,
						0x00 }, 17 },
		{ "length past the end", { 0x30, 0x0c, 0x30, 0x00, 0x30, 0x04, 0xa1, 0x7f, 0x30,
					   0x00, 0x30, 0x00, 0x30, 0x00 }, 14 },
		{ "primitive [1]", { 0x30, 0x0d, 0x30, 0x00, 0x30, 0x05, 0x81, 0x03, 0x30, 0x01,
				     0x00, 0x30, 0x00, 0x30, 0x00 }, 15 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct estkit_cmc_req *r = NULL;

		print_message("case: %s\n", bad[i].name);
		assert_int_equal(estkit_cmc_req_decode(bad[i].der, bad[i].len, &r), ESTKIT_EPARSE);
		assert_null(r);
	}
	ERR_clear_error();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pop_and_template),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_builder_refuses),
		cmocka_unit_test(test_garbage_certreqmsg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
