/*
 * test_cmc.c - CMC (RFC 5272) in lib/pki: PKIData and PKIResponse round
 * trips with every control we build, identityProofV2, the SignedData
 * wrapping (SKI-named and certificate signers), and malformed, truncated and
 * oversized inputs.
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
#include <estkit/cmc.h>
#include <estkit/pki.h>

static EVP_PKEY *key_new(void)
{
	EVP_PKEY *k = NULL;

	assert_int_equal(estkit_key_generate("ec:P-256", &k), ESTKIT_OK);
	return k;
}

static X509_REQ *csr_new(EVP_PKEY *k, const char *subj)
{
	X509_REQ *r = NULL;

	assert_int_equal(estkit_csr_new(k, subj, NULL, 0, NULL, &r), ESTKIT_OK);
	return r;
}

static X509 *selfsigned(EVP_PKEY *k, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = NULL;

	assert_non_null(x);
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	n = X509_get_subject_name(x);
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t",
					       -1, -1, 0));
	assert_true(X509_set_issuer_name(x, n));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_set_pubkey(x, k));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

/* A PKIData with one PKCS#10, a revokeRequest, identification and a proof. */
static struct estkit_cmc_req *full_request(EVP_PKEY *k, unsigned char **der, size_t *len)
{
	struct estkit_cmc_req *r = NULL;
	X509_REQ *csr = csr_new(k, "/CN=cmc-unit");
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	X509_NAME *iss = NULL;
	uint32_t bp = 0;

	assert_int_equal(estkit_name_parse("/CN=issuer", &iss), ESTKIT_OK);
	assert_true(ASN1_INTEGER_set(sn, 0x1234));
	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_add_pkcs10(r, csr, &bp), ESTKIT_OK);
	assert_int_equal(bp, 3); /* 1 transactionId, 2 senderNonce */
	assert_int_equal(estkit_cmc_req_add_revoke(r, iss, sn, 1), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_set_identification(r, "device-7"), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_set_identity_secret(r, (const unsigned char *)"s3cret", 6),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_encode(r, der, len), ESTKIT_OK);
	X509_REQ_free(csr);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(iss);
	return r;
}

static void test_request_round_trip(void **state)
{
	EVP_PKEY *k = key_new();
	unsigned char *der = NULL;
	size_t len = 0, n1 = 0, n2 = 0;
	struct estkit_cmc_req *a = full_request(k, &der, &len), *b = NULL;
	const unsigned char *nonce1 = NULL, *nonce2 = NULL;
	uint64_t t1 = 0, t2 = 0;
	const char *id = NULL;
	enum estkit_cmc_req_type type;
	X509_REQ *csr = NULL;
	struct estkit_cmc_revoke rv;
	uint32_t bp = 0;

	assert_int_equal(estkit_cmc_req_decode(der, len, &b), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_transaction_id(a, &t1), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_transaction_id(b, &t2), ESTKIT_OK);
	assert_true(t1 == t2 && t1 != 0);
	assert_int_equal(estkit_cmc_req_sender_nonce(b, &nonce2, &n2), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_sender_nonce(a, &nonce1, &n1), ESTKIT_OK);
	assert_int_equal(n2, ESTKIT_CMC_NONCE_LEN);
	assert_memory_equal(nonce1, nonce2, n1);
	assert_int_equal(estkit_cmc_req_identification(b, &id), ESTKIT_OK);
	assert_string_equal(id, "device-7");
	assert_int_equal(estkit_cmc_req_count(b), 1);
	assert_int_equal(estkit_cmc_req_get(b, 0, &bp, &type, &csr, NULL), ESTKIT_OK);
	assert_int_equal(type, ESTKIT_CMC_REQ_PKCS10);
	assert_int_equal(bp, 3);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(csr), k), 1);
	assert_int_equal(estkit_cmc_req_get(b, 1, &bp, &type, &csr, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_revoke_count(b), 1);
	assert_int_equal(estkit_cmc_req_revoke_get(b, 0, &rv), ESTKIT_OK);
	assert_int_equal(rv.reason, 1);
	assert_int_equal(ASN1_INTEGER_get(rv.serial), 0x1234);
	assert_int_equal(estkit_cmc_req_revoke_get(b, 1, &rv), ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_cmc_req_check_identity(b, (const unsigned char *)"s3cret", 6),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_check_identity(b, (const unsigned char *)"s3creT", 6),
			 ESTKIT_EAUTH);
	estkit_cmc_req_free(a);
	estkit_cmc_req_free(b);
	estkit_free(der);
	EVP_PKEY_free(k);
}

static void test_request_without_controls(void **state)
{
	struct estkit_cmc_req *r = NULL;
	/* PKIData ::= SEQUENCE { SEQ{}, SEQ{}, SEQ{}, SEQ{} } */
	static const unsigned char empty[] = { 0x30, 0x08, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0 };
	uint64_t t = 0;
	const unsigned char *n = NULL;
	size_t nl = 0;
	const char *id = NULL;

	assert_int_equal(estkit_cmc_req_decode(empty, sizeof(empty), &r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_transaction_id(r, &t), ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_cmc_req_sender_nonce(r, &n, &nl), ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_cmc_req_identification(r, &id), ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_cmc_req_check_identity(r, (const unsigned char *)"x", 1),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_cmc_req_count(r), 0);
	assert_int_equal(estkit_cmc_req_revoke_count(r), 0);
	estkit_cmc_req_free(r);
}

struct bad_input {
	const char *name;
	const unsigned char *der;
	size_t len;
	enum estkit_status want;
};

static const unsigned char not_seq[] = { 0x02, 0x01, 0x05 };
static const unsigned char three[] = { 0x30, 0x06, 0x30, 0, 0x30, 0, 0x30, 0 };
static const unsigned char bad_len[] = { 0x30, 0x7f, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0 };
static const unsigned char trailing[] = { 0x30, 0x08, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0 };
/* a TaggedRequest with an unknown [5] choice */
static const unsigned char bad_choice[] = { 0x30, 0x0a, 0x30, 0, 0x30, 0x02, 0xa5, 0x00,
					    0x30, 0, 0x30, 0 };

static const struct bad_input bad_pkidata[] = {
	{ "empty", not_seq, 0, ESTKIT_EINVAL },
	{ "oversized", not_seq, ESTKIT_MAX_DECODE + 1, ESTKIT_EINVAL },
	{ "INTEGER instead of SEQUENCE", not_seq, sizeof(not_seq), ESTKIT_EPARSE },
	{ "PKIResponse shape (3 sequences)", three, sizeof(three), ESTKIT_EPARSE },
	{ "length past the end", bad_len, sizeof(bad_len), ESTKIT_EPARSE },
	{ "trailing byte", trailing, sizeof(trailing), ESTKIT_EPARSE },
	{ "unknown TaggedRequest choice", bad_choice, sizeof(bad_choice), ESTKIT_EPARSE },
};

static void test_malformed_pkidata(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_pkidata) / sizeof(bad_pkidata[0]); i++) {
		struct estkit_cmc_req *r = NULL;
		enum estkit_status st = estkit_cmc_req_decode(bad_pkidata[i].der, bad_pkidata[i].len,
							      &r);
		if (st != bad_pkidata[i].want)
			fail_msg("%s: got %d", bad_pkidata[i].name, st);
		assert_null(r);
	}
	ERR_clear_error();
}

/* Every proper prefix of a valid PKIData and of its SignedData is refused. */
static void test_truncated_messages(void **state)
{
	EVP_PKEY *k = key_new();
	unsigned char *der = NULL, *sd = NULL, *c = NULL;
	size_t len = 0, sdlen = 0, clen = 0, cut;
	struct estkit_cmc_req *r = full_request(k, &der, &len), *d = NULL;

	assert_int_equal(estkit_cmc_sign(der, len, 0, NULL, k, NULL, &sd, &sdlen), ESTKIT_OK);
	for (cut = 1; cut < len; cut += (cut < 40 ? 1 : 17)) {
		assert_int_not_equal(estkit_cmc_req_decode(der, cut, &d), ESTKIT_OK);
		assert_null(d);
	}
	for (cut = 1; cut < sdlen; cut += (cut < 40 ? 1 : 23)) {
		assert_int_not_equal(estkit_cmc_open(sd, cut, 0, &c, &clen, NULL), ESTKIT_OK);
		assert_null(c);
		assert_int_not_equal(estkit_cmc_verify_key(sd, cut, k, NULL), ESTKIT_OK);
	}
	estkit_cmc_req_free(r);
	estkit_free(der);
	estkit_free(sd);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

static void test_response_round_trip(void **state)
{
	EVP_PKEY *k = key_new();
	unsigned char *der = NULL, *rder = NULL;
	size_t len = 0, rlen = 0, n1 = 0, n2 = 0, n3 = 0;
	struct estkit_cmc_req *req = full_request(k, &der, &len);
	struct estkit_cmc_resp *resp = NULL, *back = NULL;
	const uint32_t bodies[] = { 3, 4 };
	const unsigned char *sn = NULL, *rn = NULL, *own = NULL;
	uint64_t t1 = 0, t2 = 0;
	enum estkit_cmc_status st;
	enum estkit_cmc_fail fail;
	const char *text = NULL;

	assert_int_equal(estkit_cmc_resp_new(&resp), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_answer(resp, req), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_add_status(resp, ESTKIT_CMC_SUCCESS, bodies, 1,
						    ESTKIT_CMC_FAIL_NONE, NULL), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_add_status(resp, ESTKIT_CMC_FAILED, bodies + 1, 1,
						    ESTKIT_CMC_BAD_IDENTITY, "no"), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_add_status(resp, ESTKIT_CMC_FAILED, bodies, 0,
						    ESTKIT_CMC_BAD_REQUEST, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_resp_encode(resp, &rder, &rlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_decode(rder, rlen, &back), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_transaction_id(req, &t1), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_transaction_id(back, &t2), ESTKIT_OK);
	assert_true(t1 == t2);
	assert_int_equal(estkit_cmc_req_sender_nonce(req, &sn, &n1), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_recipient_nonce(back, &rn, &n2), ESTKIT_OK);
	assert_int_equal(n1, n2);
	assert_memory_equal(sn, rn, n1);
	assert_int_equal(estkit_cmc_resp_sender_nonce(back, &own, &n3), ESTKIT_OK);
	assert_int_equal(n3, ESTKIT_CMC_NONCE_LEN);
	assert_int_equal(estkit_cmc_resp_status_count(back), 2);
	assert_int_equal(estkit_cmc_resp_status(back, 0, &st, &fail, &text), ESTKIT_OK);
	assert_int_equal(st, ESTKIT_CMC_SUCCESS);
	assert_int_equal(fail, ESTKIT_CMC_FAIL_NONE);
	assert_null(text);
	assert_int_equal(estkit_cmc_resp_status(back, 1, &st, &fail, &text), ESTKIT_OK);
	assert_int_equal(st, ESTKIT_CMC_FAILED);
	assert_int_equal(fail, ESTKIT_CMC_BAD_IDENTITY);
	assert_string_equal(text, "no");
	assert_string_equal(estkit_cmc_fail_name(fail), "badIdentity");
	assert_string_equal(estkit_cmc_fail_name((enum estkit_cmc_fail)99), "unknown");
	assert_int_equal(estkit_cmc_resp_status(back, 2, &st, &fail, &text), ESTKIT_ENOTFOUND);
	/* a PKIData is not a PKIResponse */
	estkit_cmc_resp_free(back);
	back = NULL;
	assert_int_equal(estkit_cmc_resp_decode(der, len, &back), ESTKIT_EPARSE);
	estkit_cmc_resp_free(resp);
	estkit_cmc_req_free(req);
	estkit_free(der);
	estkit_free(rder);
	EVP_PKEY_free(k);
	ERR_clear_error();
}

static void test_sign_by_key_identifier(void **state)
{
	EVP_PKEY *k = key_new(), *other = key_new();
	unsigned char *der = NULL, *sd = NULL, *c = NULL;
	size_t len = 0, sdlen = 0, clen = 0;
	struct estkit_cmc_req *r = full_request(k, &der, &len);
	STACK_OF(X509) *certs = NULL;
	X509 *signer = NULL;

	assert_int_equal(estkit_cmc_sign(der, len, 0, NULL, k, NULL, &sd, &sdlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(sd, sdlen, 0, &c, &clen, &certs), ESTKIT_OK);
	assert_int_equal(clen, len);
	assert_memory_equal(c, der, len);
	assert_int_equal(sk_X509_num(certs), 0); /* the stand-in certificate is not sent */
	estkit_free(c); /* the next call sets c to NULL first: free it, or it leaks */
	c = NULL;
	assert_int_equal(estkit_cmc_open(sd, sdlen, 1, &c, &clen, NULL), ESTKIT_EPARSE);
	assert_null(c);
	assert_int_equal(estkit_cmc_verify_key(sd, sdlen, k, &signer), ESTKIT_OK);
	assert_null(signer);
	assert_int_equal(estkit_cmc_verify_key(sd, sdlen, other, NULL), ESTKIT_ECRYPTO);
	assert_int_equal(estkit_cmc_verify_carried(sd, sdlen, &signer), ESTKIT_ENOTFOUND);
	/* one flipped byte inside the signed content */
	sd[sdlen / 2] ^= 0x01;
	assert_int_not_equal(estkit_cmc_verify_key(sd, sdlen, k, NULL), ESTKIT_OK);
	sk_X509_pop_free(certs, X509_free);
	estkit_free(c);
	estkit_cmc_req_free(r);
	estkit_free(der);
	estkit_free(sd);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	ERR_clear_error();
}

static void test_sign_with_certificate(void **state)
{
	EVP_PKEY *k = key_new(), *other = key_new();
	X509 *cert = selfsigned(k, 77), *signer = NULL;
	unsigned char *sd = NULL;
	size_t sdlen = 0;
	static const unsigned char content[] = { 0x30, 0x06, 0x30, 0, 0x30, 0, 0x30, 0 };

	assert_int_equal(estkit_cmc_sign(content, sizeof(content), 1, cert, k, NULL, &sd, &sdlen),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_verify_carried(sd, sdlen, &signer), ESTKIT_OK);
	assert_int_equal(X509_cmp(signer, cert), 0);
	X509_free(signer);
	signer = NULL;
	assert_int_equal(estkit_cmc_verify_key(sd, sdlen, k, &signer), ESTKIT_OK);
	assert_non_null(signer);
	X509_free(signer);
	assert_int_equal(estkit_cmc_verify_key(sd, sdlen, other, NULL), ESTKIT_ECRYPTO);
	assert_int_equal(estkit_cmc_sign(content, sizeof(content), 1, cert, NULL, NULL, &sd,
					 &sdlen), ESTKIT_EINVAL);
	estkit_free(sd);
	X509_free(cert);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	ERR_clear_error();
}

static void test_crmf_request(void **state)
{
	EVP_PKEY *k = key_new();
	OSSL_CRMF_MSG *m = OSSL_CRMF_MSG_new();
	struct estkit_cmc_req *r = NULL, *d = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	enum estkit_cmc_req_type type;
	OSSL_CRMF_MSG *got = NULL;
	uint32_t bp = 0;

	assert_non_null(m);
	assert_true(OSSL_CRMF_MSG_set_certReqId(m, 9));
	assert_true(OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(m), k, NULL, NULL, NULL));
	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_add_crmf(r, m, &bp), ESTKIT_OK);
	assert_int_equal(bp, 9); /* the body part id the builder reports is the certReqId */
	bp = 0;
	assert_int_equal(estkit_cmc_req_encode(r, &der, &len), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_decode(der, len, &d), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_get(d, 0, &bp, &type, NULL, &got), ESTKIT_OK);
	assert_int_equal(type, ESTKIT_CMC_REQ_CRMF);
	assert_int_equal(bp, 9); /* RFC 5272 3.2.1.3.2: certReqId is the bodyPartID */
	assert_non_null(got);
	OSSL_CRMF_MSG_free(m);
	estkit_cmc_req_free(r);
	estkit_cmc_req_free(d);
	estkit_free(der);
	EVP_PKEY_free(k);
}

static void test_builder_rejects_bad_arguments(void **state)
{
	struct estkit_cmc_req *r = NULL;
	X509_NAME *n = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();

	assert_int_equal(estkit_cmc_req_new(NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_add_pkcs10(r, NULL, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_add_revoke(r, n, sn, 7 + 4), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_add_revoke(r, n, sn, -1), ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_req_set_identity_secret(r, (const unsigned char *)"", 0),
			 ESTKIT_EINVAL);
	assert_int_equal(estkit_cmc_sign((const unsigned char *)"x", 0, 0, NULL, NULL, NULL, NULL,
					 NULL), ESTKIT_EINVAL);
	estkit_cmc_req_free(r);
	estkit_cmc_req_free(NULL);
	estkit_cmc_resp_free(NULL);
	X509_NAME_free(n);
	ASN1_INTEGER_free(sn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_without_controls),
		cmocka_unit_test(test_malformed_pkidata),
		cmocka_unit_test(test_truncated_messages),
		cmocka_unit_test(test_response_round_trip),
		cmocka_unit_test(test_sign_by_key_identifier),
		cmocka_unit_test(test_sign_with_certificate),
		cmocka_unit_test(test_crmf_request),
		cmocka_unit_test(test_builder_rejects_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
