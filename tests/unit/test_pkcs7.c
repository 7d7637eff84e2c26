/*
 * test_pkcs7.c - certs-only PKCS#7 and the certificate loaders that sniff
 * PEM, DER, base64 and PKCS#7.
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
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <estkit/pki.h>

static unsigned char *vector_bytes(const char *rel, size_t *len)
{
	char path[512];
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, rel);
	if (estkit_file_read(path, &buf, len) != ESTKIT_OK)
		fail_msg("cannot read vector %s", path);
	return buf;
}

static unsigned char *vector_der(const char *rel, size_t *derlen)
{
	size_t len = 0;
	unsigned char *text = vector_bytes(rel, &len), *der = NULL;

	assert_int_equal(estkit_b64_decode((char *)text, len, &der, derlen), ESTKIT_OK);
	estkit_free(text);
	return der;
}

static char *subject_of(X509 *x)
{
	char *s = NULL;

	assert_int_equal(estkit_name_oneline(X509_get_subject_name(x), &s), ESTKIT_OK);
	return s;
}

struct p7_vector {
	const char *file;
	int ncerts;
	const char *first_subject_part;
};

static const struct p7_vector p7_vectors[] = {
	{"rfc7030/A.1-cacerts-response.b64", 4, "CN=estExampleCA"},
	{"rfc7030/A.3-simpleenroll-response.b64", 1, "CN=demostep4"},
	{"libest/US4880__tc2-new-cert.pkcs7b64", 1, NULL},
};

/* The RFC examples carry an empty crls [1]; they must parse anyway. */
static void test_pkcs7_decode_rfc7030_and_libest_bodies(void **state)
{
	for (size_t i = 0; i < sizeof(p7_vectors) / sizeof(p7_vectors[0]); i++) {
		const struct p7_vector *v = &p7_vectors[i];
		size_t derlen = 0;
		unsigned char *der = vector_der(v->file, &derlen);
		STACK_OF(X509) *certs = NULL;
		char *subj;

		if (estkit_pkcs7_certs_decode(der, derlen, &certs) != ESTKIT_OK)
			fail_msg("%s did not decode", v->file);
		assert_int_equal(sk_X509_num(certs), v->ncerts);
		subj = subject_of(sk_X509_value(certs, 0));
		if (v->first_subject_part != NULL && strstr(subj, v->first_subject_part) == NULL)
			fail_msg("%s: first subject %s", v->file, subj);
		estkit_free(subj);
		OSSL_STACK_OF_X509_free(certs);
		estkit_free(der);
	}
}

static void test_pkcs7_encode_then_decode_keeps_certs_in_order(void **state)
{
	size_t derlen = 0, outlen = 0;
	unsigned char *der = vector_der("rfc7030/A.1-cacerts-response.b64", &derlen), *out = NULL;
	STACK_OF(X509) *certs = NULL, *back = NULL, *rev = NULL;

	assert_int_equal(estkit_pkcs7_certs_decode(der, derlen, &certs), ESTKIT_OK);
	/* Reverse the order so a sorting encoder would be caught. */
	rev = sk_X509_new_null();
	for (int i = sk_X509_num(certs) - 1; i >= 0; i--)
		assert_true(sk_X509_push(rev, sk_X509_value(certs, i)) > 0);
	assert_int_equal(estkit_pkcs7_certs_encode(rev, &out, &outlen), ESTKIT_OK);
	assert_int_equal(estkit_pkcs7_certs_decode(out, outlen, &back), ESTKIT_OK);
	assert_int_equal(sk_X509_num(back), sk_X509_num(rev));
	for (int i = 0; i < sk_X509_num(rev); i++)
		assert_int_equal(X509_cmp(sk_X509_value(back, i), sk_X509_value(rev, i)), 0);
	sk_X509_free(rev);
	OSSL_STACK_OF_X509_free(back);
	OSSL_STACK_OF_X509_free(certs);
	estkit_free(out);
	estkit_free(der);
}

static void test_pkcs7_encode_output_is_degenerate_signed_data(void **state)
{
	size_t derlen = 0, outlen = 0;
	unsigned char *der = vector_der("rfc7030/A.3-simpleenroll-response.b64", &derlen), *out = NULL;
	STACK_OF(X509) *certs = NULL;
	const unsigned char *p;
	PKCS7 *p7;

	assert_int_equal(estkit_pkcs7_certs_decode(der, derlen, &certs), ESTKIT_OK);
	assert_int_equal(estkit_pkcs7_certs_encode(certs, &out, &outlen), ESTKIT_OK);
	p = out;
	p7 = d2i_PKCS7(NULL, &p, (long)outlen);
	assert_non_null(p7);
	assert_true(PKCS7_type_is_signed(p7));
	/* RFC 5652 5.2: id-data content type, content absent, no signers. */
	assert_int_equal(OBJ_obj2nid(p7->d.sign->contents->type), NID_pkcs7_data);
	assert_null(p7->d.sign->contents->d.ptr);
	assert_int_equal(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	PKCS7_free(p7);
	OSSL_STACK_OF_X509_free(certs);
	estkit_free(out);
	estkit_free(der);
}

static void test_pkcs7_encode_rejects_empty_or_null(void **state)
{
	STACK_OF(X509) *empty = sk_X509_new_null();
	unsigned char *out = (unsigned char *)1;
	size_t outlen = 5;

	assert_int_equal(estkit_pkcs7_certs_encode(empty, &out, &outlen), ESTKIT_EINVAL);
	assert_null(out);
	assert_int_equal(outlen, 0);
	assert_int_equal(estkit_pkcs7_certs_encode(NULL, &out, &outlen), ESTKIT_EINVAL);
	sk_X509_free(empty);
}

static void test_pkcs7_decode_rejects_every_truncation(void **state)
{
	size_t derlen = 0;
	unsigned char *der = vector_der("rfc7030/A.3-simpleenroll-response.b64", &derlen);

	for (size_t cut = 0; cut < derlen; cut++) {
		unsigned char *copy = malloc(cut + 1);
		STACK_OF(X509) *certs = (STACK_OF(X509) *)1;

		assert_non_null(copy);
		memcpy(copy, der, cut);
		if (estkit_pkcs7_certs_decode(copy, cut, &certs) != ESTKIT_EPARSE)
			fail_msg("prefix of %zu of %zu bytes decoded", cut, derlen);
		assert_null(certs);
		free(copy);
	}
	ERR_clear_error();
	estkit_free(der);
}

static void test_pkcs7_decode_rejects_trailing_bytes_and_wrong_types(void **state)
{
	size_t derlen = 0, len = 0;
	unsigned char *der = vector_der("rfc7030/A.3-simpleenroll-response.b64", &derlen);
	unsigned char *buf = malloc(derlen + 2), *p;
	STACK_OF(X509) *certs = NULL;
	PKCS7 *p7;
	int n;

	/* Trailing bytes. */
	assert_non_null(buf);
	memcpy(buf, der, derlen);
	buf[derlen] = 0x00;
	buf[derlen + 1] = 0x00;
	assert_int_equal(estkit_pkcs7_certs_decode(buf, derlen + 2, &certs), ESTKIT_EPARSE);
	assert_int_equal(estkit_pkcs7_certs_decode(buf, derlen + 1, &certs), ESTKIT_EPARSE);
	free(buf);

	/* A PKCS#7 "data" object is not SignedData. */
	p7 = PKCS7_new();
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_data), 1);
	n = i2d_PKCS7(p7, NULL);
	buf = malloc((size_t)n);
	p = buf;
	assert_int_equal(i2d_PKCS7(p7, &p), n);
	assert_int_equal(estkit_pkcs7_certs_decode(buf, (size_t)n, &certs), ESTKIT_EPARSE);
	free(buf);
	PKCS7_free(p7);

	/* SignedData without certificates. */
	p7 = PKCS7_new();
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
	n = i2d_PKCS7(p7, NULL);
	assert_true(n > 0);
	buf = malloc((size_t)n);
	p = buf;
	assert_int_equal(i2d_PKCS7(p7, &p), n);
	assert_int_equal(estkit_pkcs7_certs_decode(buf, (size_t)n, &certs), ESTKIT_EPARSE);
	free(buf);
	PKCS7_free(p7);

	/* A certificate is not PKCS#7; base64 text is not DER. */
	assert_int_equal(estkit_pkcs7_certs_decode((unsigned char *)"MIIB", 4, &certs),
			 ESTKIT_EPARSE);
	assert_int_equal(estkit_pkcs7_certs_decode(der, 0, &certs), ESTKIT_EPARSE);
	assert_int_equal(estkit_pkcs7_certs_decode(der, ESTKIT_MAX_DECODE + 1u, &certs),
			 ESTKIT_ETOOBIG);
	assert_int_equal(estkit_pkcs7_certs_decode(NULL, 3, &certs), ESTKIT_EINVAL);
	assert_null(certs);
	(void)len;
	ERR_clear_error();
	estkit_free(der);
}

/* ---- estkit_certs_parse: every accepted encoding ------------------------------ */

/* PEM of the A.1 certificates, optionally with a CRL-like foreign block in between. */
static char *a1_as_pem(int with_foreign_block, size_t *len)
{
	size_t derlen = 0;
	unsigned char *der = vector_der("rfc7030/A.1-cacerts-response.b64", &derlen);
	STACK_OF(X509) *certs = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out;
	long n;

	assert_int_equal(estkit_pkcs7_certs_decode(der, derlen, &certs), ESTKIT_OK);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		assert_int_equal(PEM_write_bio_X509(bio, sk_X509_value(certs, i)), 1);
		if (with_foreign_block && i == 1)
			BIO_puts(bio, "some comment text\n-----BEGIN X509 CRL-----\nMAA=\n"
				      "-----END X509 CRL-----\n");
	}
	n = BIO_get_mem_data(bio, &data);
	out = malloc((size_t)n + 1);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(bio);
	OSSL_STACK_OF_X509_free(certs);
	estkit_free(der);
	return out;
}

static void test_certs_parse_accepts_pem_der_pkcs7_and_base64(void **state)
{
	size_t b64len = 0, p7len = 0, pemlen = 0, pem2len = 0, certlen = 0;
	unsigned char *b64 = vector_bytes("rfc7030/A.1-cacerts-response.b64", &b64len);
	unsigned char *p7 = vector_der("rfc7030/A.1-cacerts-response.b64", &p7len);
	char *pem = a1_as_pem(0, &pemlen), *pem2 = a1_as_pem(1, &pem2len);
	unsigned char *certder = NULL;
	STACK_OF(X509) *ref = NULL, *got = NULL;
	int n;

	assert_int_equal(estkit_pkcs7_certs_decode(p7, p7len, &ref), ESTKIT_OK);
	n = i2d_X509(sk_X509_value(ref, 2), &certder);
	assert_true(n > 0);
	certlen = (size_t)n;
	{
		const struct {
			const char *name;
			const unsigned char *in;
			size_t len;
			int count;
		} cases[] = {
			{"base64 pkcs7", b64, b64len, 4},
			{"der pkcs7", p7, p7len, 4},
			{"pem", (unsigned char *)pem, pemlen, 4},
			{"pem with a crl block", (unsigned char *)pem2, pem2len, 4},
			{"der certificate", certder, certlen, 1},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			ERR_clear_error();
			if (estkit_certs_parse(cases[i].in, cases[i].len, &got) != ESTKIT_OK)
				fail_msg("%s did not parse", cases[i].name);
			assert_int_equal(sk_X509_num(got), cases[i].count);
			/* Sniffing attempts leave nothing on the error queue. */
			if (ERR_peek_error() != 0)
				fail_msg("%s left errors on the queue", cases[i].name);
			if (cases[i].count == 4) {
				for (int k = 0; k < 4; k++)
					assert_int_equal(X509_cmp(sk_X509_value(got, k),
								  sk_X509_value(ref, k)),
							 0);
			}
			OSSL_STACK_OF_X509_free(got);
			got = NULL;
		}
	}
	OPENSSL_free(certder);
	OSSL_STACK_OF_X509_free(ref);
	free(pem);
	free(pem2);
	estkit_free(p7);
	estkit_free(b64);
}

static void test_certs_parse_keeps_callers_earlier_errors(void **state)
{
	size_t len = 0;
	unsigned char *b64 = vector_bytes("rfc7030/A.1-cacerts-response.b64", &len);
	STACK_OF(X509) *got = NULL;

	ERR_clear_error();
	ERR_raise(ERR_LIB_USER, 42);
	assert_int_equal(estkit_certs_parse(b64, len, &got), ESTKIT_OK);
	assert_int_equal(ERR_GET_REASON(ERR_peek_last_error()), 42);
	ERR_clear_error();
	OSSL_STACK_OF_X509_free(got);
	estkit_free(b64);
}

static void test_certs_parse_rejects_malformed_input(void **state)
{
	size_t p7len = 0, pemlen = 0;
	unsigned char *p7 = vector_der("rfc7030/A.1-cacerts-response.b64", &p7len);
	char *pem = a1_as_pem(0, &pemlen);
	static const char crl_only[] = "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n";
	static const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
	static const char broken_armour[] = "-----BEGIN CERTIFICATE-----\nMIIB\n";
	const struct {
		const char *name;
		const unsigned char *in;
		size_t len;
		enum estkit_status rc;
	} cases[] = {
		{"empty", p7, 0, ESTKIT_EPARSE},
		{"text", (const unsigned char *)"hello, world", 12, ESTKIT_EPARSE},
		{"truncated der", p7, p7len / 2, ESTKIT_EPARSE},
		{"der plus trailing byte", p7, p7len + 0, ESTKIT_OK},
		{"pem without certificates", (const unsigned char *)crl_only, sizeof(crl_only) - 1,
		 ESTKIT_EPARSE},
		{"pem certificate that is not one", (const unsigned char *)bad_pem,
		 sizeof(bad_pem) - 1, ESTKIT_EPARSE},
		{"pem without end line", (const unsigned char *)broken_armour,
		 sizeof(broken_armour) - 1, ESTKIT_EPARSE},
		{"truncated pem", (const unsigned char *)pem, pemlen - 40, ESTKIT_EPARSE},
		{"bad base64", (const unsigned char *)"MIIB=AAA", 8, ESTKIT_EPARSE},
		{"oversized", p7, ESTKIT_MAX_DECODE + 1u, ESTKIT_ETOOBIG},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		STACK_OF(X509) *got = (STACK_OF(X509) *)1;
		enum estkit_status rc = estkit_certs_parse(cases[i].in, cases[i].len, &got);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
		if (rc == ESTKIT_OK)
			OSSL_STACK_OF_X509_free(got);
		else
			assert_null(got);
	}
	/* Trailing garbage after a DER PKCS#7. */
	{
		unsigned char *buf = malloc(p7len + 1);
		STACK_OF(X509) *got = NULL;

		memcpy(buf, p7, p7len);
		buf[p7len] = 0x00;
		assert_int_equal(estkit_certs_parse(buf, p7len + 1, &got), ESTKIT_EPARSE);
		free(buf);
	}
	ERR_clear_error();
	free(pem);
	estkit_free(p7);
}

/* libEST's trust file mixes CA certificates and a CRL: the CRL is skipped. */
static void test_certs_load_skips_crl_in_libest_bundle(void **state)
{
	char path[512];
	STACK_OF(X509) *certs = NULL;
	X509 *first = NULL;

	snprintf(path, sizeof(path), "%s/libest/US894__trustedcertsandcrl.crt", ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_certs_load(path, &certs), ESTKIT_OK);
	assert_true(sk_X509_num(certs) >= 1);
	assert_int_equal(estkit_cert_load(path, &first), ESTKIT_OK);
	assert_int_equal(X509_cmp(first, sk_X509_value(certs, 0)), 0);
	X509_free(first);
	OSSL_STACK_OF_X509_free(certs);

	snprintf(path, sizeof(path), "%s/libest/US5052__midsize.csr.der", ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_certs_load(path, &certs), ESTKIT_EPARSE);
	assert_null(certs);
	snprintf(path, sizeof(path), "%s/libest/no-such-file", ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_cert_load(path, &first), ESTKIT_ENOTFOUND);
	assert_null(first);
	ERR_clear_error();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkcs7_decode_rfc7030_and_libest_bodies),
		cmocka_unit_test(test_pkcs7_encode_then_decode_keeps_certs_in_order),
		cmocka_unit_test(test_pkcs7_encode_output_is_degenerate_signed_data),
		cmocka_unit_test(test_pkcs7_encode_rejects_empty_or_null),
		cmocka_unit_test(test_pkcs7_decode_rejects_every_truncation),
		cmocka_unit_test(test_pkcs7_decode_rejects_trailing_bytes_and_wrong_types),
		cmocka_unit_test(test_certs_parse_accepts_pem_der_pkcs7_and_base64),
		cmocka_unit_test(test_certs_parse_keeps_callers_earlier_errors),
		cmocka_unit_test(test_certs_parse_rejects_malformed_input),
		cmocka_unit_test(test_certs_load_skips_crl_in_libest_bundle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
