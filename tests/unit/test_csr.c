/*
 * test_csr.c - PKCS#10 requests: real vectors, truncation, trailing bytes,
 * building, proof-of-possession.
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
#include <openssl/err.h>
#include <openssl/x509.h>
#include <estkit/pki.h>

static void vector_path(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", ESTKIT_VECTORS_DIR, rel);
}

/* Decoded DER of a base64 vector. */
static unsigned char *vector_der(const char *rel, size_t *derlen)
{
	char path[512];
	unsigned char *text = NULL, *der = NULL;
	size_t len = 0;

	vector_path(path, sizeof(path), rel);
	assert_int_equal(estkit_file_read(path, &text, &len), ESTKIT_OK);
	assert_int_equal(estkit_b64_decode((char *)text, len, &der, derlen), ESTKIT_OK);
	estkit_free(text);
	return der;
}

struct csr_vector {
	const char *file;
	enum estkit_status load_rc;
	enum estkit_status verify_rc;
	const char *cn; /* expected in the one-line subject */
};

static const struct csr_vector vectors[] = {
	{"rfc7030/A.3-simpleenroll-request.b64", ESTKIT_OK, ESTKIT_OK, "CN=demostep4 1368141352"},
	{"rfc7030/A.4-serverkeygen-request.b64", ESTKIT_OK, ESTKIT_OK, "CN=serverKeyGen"},
	{"libest/US902__US902_PKCS10_RSA2048.b64", ESTKIT_OK, ESTKIT_OK, "emailAddress="},
	{"libest/US902__US902_PKCS10_ECDSA256.b64", ESTKIT_OK, ESTKIT_OK, "emailAddress="},
	{"libest/US902__US902_PKCS10_DSA1024.b64", ESTKIT_OK, ESTKIT_OK, NULL},
	{"libest/US902__US902_PKCS10_CORRUPT.b64", ESTKIT_OK, ESTKIT_ECRYPTO, NULL},
	{"libest/US903__US903_PKCS10_STALE_POP.b64", ESTKIT_OK, ESTKIT_OK, "CN=TESTCN"},
	{"libest/US894__req.p10", ESTKIT_OK, ESTKIT_OK, NULL},
	{"libest/US5052__midsize.csr", ESTKIT_OK, ESTKIT_OK, "CN=localhost.cisco.com"},
	{"libest/US5052__midsize.csr.der", ESTKIT_EPARSE, ESTKIT_OK, NULL},
	{"libest/US896__TEST_CORRUPT_ATTR1.b64", ESTKIT_EPARSE, ESTKIT_OK, NULL},
	{"rfc7030/A.1-cacerts-response.b64", ESTKIT_EPARSE, ESTKIT_OK, NULL}, /* not a CSR */
	{"rfc7030/does-not-exist.b64", ESTKIT_ENOTFOUND, ESTKIT_OK, NULL},
};

static void test_csr_load_vectors_and_proof_of_possession(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct csr_vector *v = &vectors[i];
		char path[512], *subj = NULL;
		X509_REQ *req = (X509_REQ *)1;
		enum estkit_status rc;

		vector_path(path, sizeof(path), v->file);
		rc = estkit_csr_load(path, &req);
		if (rc != v->load_rc)
			fail_msg("%s: load rc %d, want %d", v->file, rc, v->load_rc);
		if (rc != ESTKIT_OK) {
			assert_null(req);
			continue;
		}
		rc = estkit_csr_verify(req);
		if (rc != v->verify_rc)
			fail_msg("%s: verify rc %d, want %d", v->file, rc, v->verify_rc);
		assert_int_equal(estkit_name_oneline(X509_REQ_get_subject_name(req), &subj),
				 ESTKIT_OK);
		if (v->cn != NULL && strstr(subj, v->cn) == NULL)
			fail_msg("%s: subject '%s' lacks '%s'", v->file, subj, v->cn);
		estkit_free(subj);
		X509_REQ_free(req);
	}
}

static void test_csr_decode_rejects_every_truncation(void **state)
{
	size_t derlen = 0;
	unsigned char *der = vector_der("rfc7030/A.3-simpleenroll-request.b64", &derlen);
	X509_REQ *req = NULL;

	assert_int_equal(estkit_csr_decode(der, derlen, &req), ESTKIT_OK);
	X509_REQ_free(req);
	for (size_t cut = 0; cut < derlen; cut++) {
		unsigned char *copy = malloc(cut + 1); /* exact size so valgrind sees overreads */

		assert_non_null(copy);
		memcpy(copy, der, cut);
		req = (X509_REQ *)1;
		if (estkit_csr_decode(copy, cut, &req) != ESTKIT_EPARSE)
			fail_msg("prefix of %zu bytes of %zu decoded", cut, derlen);
		assert_null(req);
		free(copy);
	}
	ERR_clear_error();
	estkit_free(der);
}

static void test_csr_decode_rejects_trailing_bytes(void **state)
{
	size_t derlen = 0;
	unsigned char *der = vector_der("libest/US902__US902_PKCS10_ECDSA256.b64", &derlen);
	static const unsigned char tails[][3] = {{0x00}, {0x30, 0x00}, {0x05, 0x00, 0xff}};
	static const size_t taillen[] = {1, 2, 3};

	for (size_t i = 0; i < sizeof(taillen) / sizeof(taillen[0]); i++) {
		unsigned char *buf = malloc(derlen + taillen[i]);
		X509_REQ *req = NULL;

		assert_non_null(buf);
		memcpy(buf, der, derlen);
		memcpy(buf + derlen, tails[i], taillen[i]);
		assert_int_equal(estkit_csr_decode(buf, derlen + taillen[i], &req), ESTKIT_EPARSE);
		assert_null(req);
		free(buf);
	}
	estkit_free(der);
}

static void test_csr_decode_rejects_empty_null_and_oversized(void **state)
{
	X509_REQ *req = NULL;
	static const unsigned char one = 0x30;

	assert_int_equal(estkit_csr_decode(&one, 0, &req), ESTKIT_EPARSE);
	assert_int_equal(estkit_csr_decode(NULL, 10, &req), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_decode(&one, 1, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_decode(&one, ESTKIT_MAX_DECODE + 1u, &req), ESTKIT_ETOOBIG);
	assert_null(req);
	assert_int_equal(estkit_csr_verify(NULL), ESTKIT_EINVAL);
}

/* Flipping a bit of the signature must break proof-of-possession. */
static void assert_tamper_detected(X509_REQ *req)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	X509_REQ *bad = NULL;

	assert_int_equal(estkit_csr_encode(req, &der, &derlen), ESTKIT_OK);
	der[derlen - 1] ^= 0x01;
	if (estkit_csr_decode(der, derlen, &bad) == ESTKIT_OK) {
		assert_int_equal(estkit_csr_verify(bad), ESTKIT_ECRYPTO);
		X509_REQ_free(bad);
	}
	ERR_clear_error();
	estkit_free(der);
}

static void test_csr_new_round_trips_and_verifies_for_each_key_type(void **state)
{
	static const struct {
		const char *spec;
		int md_nid; /* NID_undef for Ed25519 */
	} kinds[] = {{"ec:P-256", NID_sha256}, {"ec:P-384", NID_sha384},
		     {"ec:P-521", NID_sha512}, {"rsa:2048", NID_sha256},
		     {"ed25519", NID_undef}};
	const char *sans[] = {"DNS:device.example", "IP:192.0.2.7"};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY *key = NULL;
		X509_REQ *req = NULL, *back = NULL;
		unsigned char *der = NULL;
		size_t derlen = 0;
		int md = NID_undef, pk = NID_undef;

		assert_int_equal(estkit_key_generate(kinds[i].spec, &key), ESTKIT_OK);
		assert_int_equal(estkit_csr_new(key, "CN=device,O=Example", sans, 2, NULL, &req),
				 ESTKIT_OK);
		assert_int_equal(X509_REQ_get_version(req), X509_REQ_VERSION_1);
		assert_int_equal(estkit_csr_encode(req, &der, &derlen), ESTKIT_OK);
		assert_int_equal(estkit_csr_decode(der, derlen, &back), ESTKIT_OK);
		assert_int_equal(estkit_csr_verify(back), ESTKIT_OK);
		assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(back), key), 1);
		assert_int_equal(OBJ_find_sigid_algs(X509_REQ_get_signature_nid(back), &md, &pk),
				 1);
		if (md != kinds[i].md_nid)
			fail_msg("%s: digest %s", kinds[i].spec, OBJ_nid2sn(md));
		assert_tamper_detected(back);
		estkit_free(der);
		X509_REQ_free(back);
		X509_REQ_free(req);
		EVP_PKEY_free(key);
	}
}

struct san_case {
	const char *san;
	enum estkit_status rc;
	const char *listed; /* as estkit_csr_sans prints it */
};

static const struct san_case san_cases[] = {
	{"DNS:host.example", ESTKIT_OK, "DNS:host.example"},
	{"dns:Lower.Example", ESTKIT_OK, "DNS:Lower.Example"},
	{"IP:192.0.2.1", ESTKIT_OK, "IP:192.0.2.1"},
	{"ip:2001:db8::1", ESTKIT_OK, "IP:2001:db8::1"},
	{"URI:https://device.example/x", ESTKIT_OK, "URI:https://device.example/x"},
	{"EMAIL:ops@example.com", ESTKIT_OK, "email:ops@example.com"},
	{"email:a@b", ESTKIT_OK, "email:a@b"},
	{"DNS:", ESTKIT_EINVAL, NULL},
	{"IP:", ESTKIT_EINVAL, NULL},
	{"IP:999.1.1.1", ESTKIT_EINVAL, NULL},
	{"IP:192.0.2", ESTKIT_EINVAL, NULL},
	{"IP:host.example", ESTKIT_EINVAL, NULL},
	{"IP:2001:db8:::1", ESTKIT_EINVAL, NULL},
	{"RID:1.2.3", ESTKIT_EINVAL, NULL},
	{"otherName:x", ESTKIT_EINVAL, NULL},
	{"host.example", ESTKIT_EINVAL, NULL},
	{"DNS host", ESTKIT_EINVAL, NULL},
	{"", ESTKIT_EINVAL, NULL},
	{NULL, ESTKIT_EINVAL, NULL},
};

static void test_csr_new_san_table(void **state)
{
	EVP_PKEY *key = NULL;

	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	for (size_t i = 0; i < sizeof(san_cases) / sizeof(san_cases[0]); i++) {
		const struct san_case *c = &san_cases[i];
		const char *sans[] = {"DNS:first.example", c->san};
		X509_REQ *req = (X509_REQ *)1;
		char *list = NULL, want[256];
		enum estkit_status rc = estkit_csr_new(key, "/CN=x", sans, 2, NULL, &req);

		if (rc != c->rc)
			fail_msg("SAN '%s': rc %d, want %d", c->san ? c->san : "(null)", rc, c->rc);
		if (rc != ESTKIT_OK) {
			assert_null(req);
			continue;
		}
		assert_int_equal(estkit_csr_sans(req, &list), ESTKIT_OK);
		snprintf(want, sizeof(want), "DNS:first.example, %s", c->listed);
		assert_string_equal(list, want);
		estkit_free(list);
		X509_REQ_free(req);
	}
	ERR_clear_error();
	EVP_PKEY_free(key);
}

static void test_csr_without_sans_lists_empty_string_and_has_no_extensions(void **state)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	char *list = NULL;
	STACK_OF(X509_EXTENSION) *exts;

	assert_int_equal(estkit_key_generate(NULL, &key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(key, "CN=nosans", NULL, 0, NULL, &req), ESTKIT_OK);
	assert_int_equal(estkit_csr_sans(req, &list), ESTKIT_OK);
	assert_string_equal(list, "");
	exts = X509_REQ_get_extensions(req);
	assert_int_equal(sk_X509_EXTENSION_num(exts), 0);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	estkit_free(list);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

/* RFC 7030 3.5: the channel-binding value is carried as challengePassword. */
static void test_csr_new_carries_challenge_password(void **state)
{
	static const char pw[] = "Zm9vYmFyLXRscy11bmlxdWU+/=";
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *t;
	char longpw[300];
	int loc;

	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(key, "CN=cb", NULL, 0, pw, &req), ESTKIT_OK);
	loc = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
	assert_true(loc >= 0);
	attr = X509_REQ_get_attr(req, loc);
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	assert_non_null(t);
	assert_int_equal(ASN1_STRING_length(t->value.asn1_string), strlen(pw));
	assert_memory_equal(ASN1_STRING_get0_data(t->value.asn1_string), pw, strlen(pw));
	assert_int_equal(estkit_csr_verify(req), ESTKIT_OK);
	X509_REQ_free(req);

	/* RFC 2985: at most 255 characters. */
	memset(longpw, 'a', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	req = (X509_REQ *)1;
	assert_int_equal(estkit_csr_new(key, "CN=cb", NULL, 0, longpw, &req), ESTKIT_EINVAL);
	assert_null(req);
	EVP_PKEY_free(key);
}

static void test_csr_new_rejects_bad_arguments(void **state)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = (X509_REQ *)1;

	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(NULL, "CN=x", NULL, 0, NULL, &req), ESTKIT_EINVAL);
	assert_null(req);
	assert_int_equal(estkit_csr_new(key, NULL, NULL, 0, NULL, &req), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_new(key, "", NULL, 0, NULL, &req), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_new(key, "NOPE=x", NULL, 0, NULL, &req), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_new(key, "CN=x", NULL, 1, NULL, &req), ESTKIT_EINVAL);
	assert_int_equal(estkit_csr_new(key, "CN=x", NULL, 0, NULL, NULL), ESTKIT_EINVAL);
	assert_null(req);
	ERR_clear_error();
	EVP_PKEY_free(key);
}

/* DER of a request, for comparing two requests byte for byte. */
static int same_request(X509_REQ *a, X509_REQ *b)
{
	unsigned char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;
	int same;

	assert_int_equal(estkit_csr_encode(a, &da, &la), ESTKIT_OK);
	assert_int_equal(estkit_csr_encode(b, &db, &lb), ESTKIT_OK);
	same = la == lb && memcmp(da, db, la) == 0;
	estkit_free(da);
	estkit_free(db);
	return same;
}

static void test_csr_save_then_load_as_pem_der_and_base64(void **state)
{
	char dir[] = "/tmp/estkit-test-csr-XXXXXX", path[512];
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL, *back = NULL;
	unsigned char *der = NULL, *pem = NULL;
	char *b64 = NULL;
	size_t derlen = 0, pemlen = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/req", dir);
	assert_int_equal(estkit_key_generate("ec", &key), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(key, "CN=saved", NULL, 0, NULL, &req), ESTKIT_OK);

	assert_int_equal(estkit_csr_save(path, req), ESTKIT_OK);
	assert_int_equal(estkit_file_read(path, &pem, &pemlen), ESTKIT_OK);
	assert_non_null(strstr((char *)pem, "-----BEGIN CERTIFICATE REQUEST-----"));
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_OK);
	assert_true(same_request(req, back));
	X509_REQ_free(back);

	assert_int_equal(estkit_csr_encode(req, &der, &derlen), ESTKIT_OK);
	assert_int_equal(estkit_file_write_atomic(path, der, derlen, 0644), ESTKIT_OK);
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_OK);
	assert_true(same_request(req, back));
	X509_REQ_free(back);

	assert_int_equal(estkit_b64_encode(der, derlen, &b64, NULL), ESTKIT_OK);
	assert_int_equal(estkit_file_write_atomic(path, b64, strlen(b64), 0644), ESTKIT_OK);
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_OK);
	assert_true(same_request(req, back));
	X509_REQ_free(back);

	/* "NEW CERTIFICATE REQUEST" armour (older tools) is accepted too. */
	{
		static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----";
		const char *body = (const char *)pem + sizeof(begin) - 1;
		const char *end = strstr(body, "-----END");
		char *old = malloc(pemlen + 16);

		assert_non_null(old);
		assert_non_null(end);
		snprintf(old, pemlen + 16,
			 "-----BEGIN NEW CERTIFICATE REQUEST-----%.*s"
			 "-----END NEW CERTIFICATE REQUEST-----\n",
			 (int)(end - body), body);
		assert_int_equal(estkit_file_write_atomic(path, old, strlen(old), 0644), ESTKIT_OK);
		assert_int_equal(estkit_csr_load(path, &back), ESTKIT_OK);
		assert_true(same_request(req, back));
		X509_REQ_free(back);
		free(old);
	}

	/* Garbage and truncated files fail cleanly. */
	assert_int_equal(estkit_file_write_atomic(path, "hello world!", 12, 0644), ESTKIT_OK);
	back = (X509_REQ *)1;
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_EPARSE);
	assert_null(back);
	assert_int_equal(estkit_file_write_atomic(path, der, derlen / 2, 0644), ESTKIT_OK);
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_EPARSE);
	assert_int_equal(estkit_file_write_atomic(path, pem, pemlen / 2, 0644), ESTKIT_OK);
	assert_int_equal(estkit_csr_load(path, &back), ESTKIT_EPARSE);
	ERR_clear_error();

	unlink(path);
	rmdir(dir);
	estkit_free(b64);
	estkit_free(der);
	estkit_free(pem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_load_vectors_and_proof_of_possession),
		cmocka_unit_test(test_csr_decode_rejects_every_truncation),
		cmocka_unit_test(test_csr_decode_rejects_trailing_bytes),
		cmocka_unit_test(test_csr_decode_rejects_empty_null_and_oversized),
		cmocka_unit_test(test_csr_new_round_trips_and_verifies_for_each_key_type),
		cmocka_unit_test(test_csr_new_san_table),
		cmocka_unit_test(test_csr_without_sans_lists_empty_string_and_has_no_extensions),
		cmocka_unit_test(test_csr_new_carries_challenge_password),
		cmocka_unit_test(test_csr_new_rejects_bad_arguments),
		cmocka_unit_test(test_csr_save_then_load_as_pem_der_and_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
