/*
 * test_csr_attr.c - the single-valued string attributes of a request:
 * challengePassword (RFC 2985) and the RFC 7894 otpChallenge,
 * revocationChallenge and estIdentityLinking. RFC 7030 A.3/A.4 vectors,
 * round trips, and malformed attributes built by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <estkit/pki.h>

static X509_REQ *vector_csr(const char *rel)
{
	char path[512];
	unsigned char *text = NULL, *der = NULL;
	size_t len = 0, derlen = 0;
	X509_REQ *csr = NULL;

	snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, rel);
	assert_int_equal(estkit_file_read(path, &text, &len), ESTKIT_OK);
	assert_int_equal(estkit_b64_decode((char *)text, len, &der, &derlen), ESTKIT_OK);
	assert_int_equal(estkit_csr_decode(der, derlen, &csr), ESTKIT_OK);
	estkit_free(text);
	estkit_free(der);
	return csr;
}

struct vec {
	const char *file;
	enum estkit_csr_attr attr;
	enum estkit_status rc;
	const char *want;
};

/* RFC 7030 A.3 carries the example connection's tls-unique in challengePassword. */
static const struct vec vecs[] = {
	{"rfc7030/A.3-simpleenroll-request.b64", ESTKIT_ATTR_CHALLENGE_PASSWORD, ESTKIT_OK,
	 "+rrCir/7+EYu50T4"},
	{"rfc7030/A.4-serverkeygen-request.b64", ESTKIT_ATTR_CHALLENGE_PASSWORD, ESTKIT_OK,
	 "dFsAXmJnjokBtDvr"},
	{"rfc7030/A.3-simpleenroll-request.b64", ESTKIT_ATTR_OTP_CHALLENGE, ESTKIT_ENOTFOUND, NULL},
	{"rfc7030/A.3-simpleenroll-request.b64", ESTKIT_ATTR_EST_IDENTITY_LINKING,
	 ESTKIT_ENOTFOUND, NULL},
	{"rfc7030/A.3-simpleenroll-request.b64", (enum estkit_csr_attr)99, ESTKIT_EINVAL, NULL},
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		X509_REQ *csr = vector_csr(vecs[i].file);
		char *v = (char *)"junk";

		assert_int_equal(estkit_csr_get_attr(csr, vecs[i].attr, &v), vecs[i].rc);
		if (vecs[i].want != NULL)
			assert_string_equal(v, vecs[i].want);
		else
			assert_null(v);
		estkit_free(v);
		X509_REQ_free(csr);
	}
}

static X509_REQ *fresh_csr(EVP_PKEY **key)
{
	X509_REQ *csr = NULL;

	assert_int_equal(estkit_key_generate("ec:P-256", key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(*key, "CN=attr", NULL, 0, NULL, &csr), ESTKIT_OK);
	return csr;
}

struct rt {
	enum estkit_csr_attr attr;
	const char *value;
	enum estkit_status set_rc;
};

static char long255[256], long256[257];

static const struct rt rts[] = {
	{ESTKIT_ATTR_CHALLENGE_PASSWORD, "fXhfKB2t2kSnp+2/vm3Lq0C7GkvfLKUBdpBeDIFKG3U=", ESTKIT_OK},
	{ESTKIT_ATTR_OTP_CHALLENGE, "one time 1234", ESTKIT_OK},
	{ESTKIT_ATTR_REVOCATION_CHALLENGE, "gr\xc3\xbc\xc3\x9f dich", ESTKIT_OK}, /* UTF-8 */
	{ESTKIT_ATTR_EST_IDENTITY_LINKING, "U7z5/7kE6HcCfY8espeALqb0tmuLkrZhWH+/yHNmxbo=", ESTKIT_OK},
	{ESTKIT_ATTR_OTP_CHALLENGE, long255, ESTKIT_OK},
	{ESTKIT_ATTR_OTP_CHALLENGE, long256, ESTKIT_EINVAL},
	{ESTKIT_ATTR_OTP_CHALLENGE, "", ESTKIT_EINVAL},
	{ESTKIT_ATTR_OTP_CHALLENGE, NULL, ESTKIT_EINVAL},
	{(enum estkit_csr_attr)-1, "x", ESTKIT_EINVAL},
};

/* set -> sign -> DER -> decode -> verify -> get gives the value back. */
static void test_round_trip(void **state)
{
	(void)state;
	memset(long255, 'a', 255);
	memset(long256, 'b', 256);
	for (size_t i = 0; i < sizeof(rts) / sizeof(rts[0]); i++) {
		EVP_PKEY *key = NULL;
		X509_REQ *csr = fresh_csr(&key), *back = NULL;
		unsigned char *der = NULL;
		size_t derlen = 0;
		char *v = NULL;

		assert_int_equal(estkit_csr_set_attr(csr, rts[i].attr, rts[i].value), rts[i].set_rc);
		if (rts[i].set_rc == ESTKIT_OK) {
			/* set twice: the second value replaces the first (SINGLE VALUE) */
			assert_int_equal(estkit_csr_set_attr(csr, rts[i].attr, "first"), ESTKIT_OK);
			assert_int_equal(estkit_csr_set_attr(csr, rts[i].attr, rts[i].value), ESTKIT_OK);
			assert_int_equal(estkit_csr_sign(csr, key), ESTKIT_OK);
			assert_int_equal(estkit_csr_encode(csr, &der, &derlen), ESTKIT_OK);
			assert_int_equal(estkit_csr_decode(der, derlen, &back), ESTKIT_OK);
			assert_int_equal(estkit_csr_verify(back), ESTKIT_OK);
			assert_int_equal(estkit_csr_get_attr(back, rts[i].attr, &v), ESTKIT_OK);
			assert_string_equal(v, rts[i].value);
		}
		estkit_free(v);
		estkit_free(der);
		X509_REQ_free(back);
		X509_REQ_free(csr);
		EVP_PKEY_free(key);
	}
	assert_int_equal(estkit_csr_set_attr(NULL, ESTKIT_ATTR_OTP_CHALLENGE, "x"), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_sign(NULL, NULL), ESTKIT_EINVAL);
}

/* Malformed attributes built by hand, as a hostile client could send them. */
enum shape { TWO_ATTRS, TWO_VALUES, INTEGER_VALUE, NUL_BYTE, TOO_LONG, OCTET_STRING };

static void add_raw(X509_REQ *csr, int type, const char *bytes, int len, int values)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113549.1.9.16.2.56", 1);
	X509_ATTRIBUTE *a = X509_ATTRIBUTE_create_by_OBJ(NULL, obj, type,
							 (const unsigned char *)bytes, len);

	assert_non_null(a);
	while (--values > 0)
		assert_int_equal(X509_ATTRIBUTE_set1_data(a, type, bytes, len), 1);
	assert_int_equal(X509_REQ_add1_attr(csr, a), 1);
	X509_ATTRIBUTE_free(a);
	ASN1_OBJECT_free(obj);
}

/*
 * OpenSSL refuses to add an attribute twice, but a peer's DER may hold it
 * twice: add otpChallenge and revocationChallenge, then turn the OID of the
 * second (id-aa 57) into the first's (id-aa 56) in the encoding.
 */
static X509_REQ *duplicate_attr(X509_REQ *csr)
{
	static const unsigned char oid57[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
					      0x01, 0x09, 0x10, 0x02, 0x39};
	unsigned char *der = NULL;
	size_t derlen = 0, i;
	X509_REQ *back = NULL;

	assert_int_equal(estkit_csr_set_attr(csr, ESTKIT_ATTR_OTP_CHALLENGE, "a"), ESTKIT_OK);
	assert_int_equal(estkit_csr_set_attr(csr, ESTKIT_ATTR_REVOCATION_CHALLENGE, "b"),
			 ESTKIT_OK);
	assert_int_equal(estkit_csr_encode(csr, &der, &derlen), ESTKIT_OK);
	for (i = 0; i + sizeof(oid57) <= derlen; i++)
		if (memcmp(der + i, oid57, sizeof(oid57)) == 0)
			break;
	assert_true(i + sizeof(oid57) <= derlen);
	der[i + sizeof(oid57) - 1] = 0x38;
	assert_int_equal(estkit_csr_decode(der, derlen, &back), ESTKIT_OK);
	estkit_free(der);
	X509_REQ_free(csr);
	return back;
}

static void test_malformed(void **state)
{
	static const enum shape shapes[] = {TWO_ATTRS, TWO_VALUES, INTEGER_VALUE, NUL_BYTE,
					    TOO_LONG, OCTET_STRING};
	static char big[300];

	(void)state;
	memset(big, 'z', sizeof(big));
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		EVP_PKEY *key = NULL;
		X509_REQ *csr = fresh_csr(&key);
		char *v = NULL;

		switch (shapes[i]) {
		case TWO_ATTRS: csr = duplicate_attr(csr); break;
		case TWO_VALUES: add_raw(csr, V_ASN1_UTF8STRING, "a", 1, 2); break;
		case INTEGER_VALUE: add_raw(csr, V_ASN1_INTEGER, "\x01", 1, 1); break;
		case NUL_BYTE: add_raw(csr, V_ASN1_UTF8STRING, "a\0b", 3, 1); break;
		case TOO_LONG: add_raw(csr, V_ASN1_UTF8STRING, big, (int)sizeof(big), 1); break;
		case OCTET_STRING: add_raw(csr, V_ASN1_OCTET_STRING, "abc", 3, 1); break;
		}
		assert_int_equal(estkit_csr_get_attr(csr, ESTKIT_ATTR_OTP_CHALLENGE, &v),
				 ESTKIT_EPARSE);
		assert_null(v);
		X509_REQ_free(csr);
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
