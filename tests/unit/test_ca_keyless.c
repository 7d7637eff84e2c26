/*
 * test_ca_keyless.c - the certificate the enrollment paths get back from
 * estd_ca_issue_keyless(): its public key is not decoded (the saving), and
 * it does everything those paths do with it exactly as a d2i_X509() copy
 * of the same DER, with the CA signing inline and in a forked signer
 * process: i2d, serial, names, subjectAltName, extension flags, digests,
 * issued-by checks and signature verification, the store record, PKCS#7
 * certs-only and a CMC (CMS) response carrying it. X509_verify_cert() is the
 * exception: it fails closed. estd_cert_parse_keyless() on malformed input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <estkit/cmc.h>
#include <estkit/pki.h>

#include "backend/record.h"
#include "ca/issue.h"
#include "ca/profile.h"
#include "ca/signer.h"
#include "ca/signer_proc.h"
#include "ca/signer_wire.h"
#include "ca_testutil.h"
#include "signer_testutil.h"

static int setup_inline(void **state)
{
	struct tu_signer_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ca = tu_ca(30, &f->cacert);
	*state = f;
	return 0;
}

static int setup_proc(void **state)
{
	*state = tu_signer_fixture_new("keylessXXXXXX", 1);
	return 0;
}

static int teardown(void **state)
{
	tu_signer_fixture_free(*state);
	return 0;
}

static struct estd_ca_profile *profile(void)
{
	return tu_profile("ec:P-256, ec:P-384, rsa:2048, ed25519");
}

static const int san_nid[] = { NID_subject_alt_name, 0 };
static const char *const san_val[] = { "DNS:keyless.example, IP:192.0.2.7" };

static int same_der(X509 *a, X509 *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_X509(a, &da), lb = i2d_X509(b, &db);
	int same = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;

	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

/* The store record of cert, as estd_record_cert() makes it. */
static void check_record(X509_REQ *csr, X509 *cert, X509 *ref)
{
	struct estd_cert_record a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(estd_record_build(csr, cert, "user:t", "", "simpleenroll", &a), ESTKIT_OK);
	assert_int_equal(estd_record_build(csr, ref, "user:t", "", "simpleenroll", &b), ESTKIT_OK);
	assert_string_equal(a.serial, b.serial);
	assert_string_equal(a.subject, b.subject);
	assert_string_equal(a.issuer, b.issuer);
	assert_string_equal(a.sans, "DNS:keyless.example, IP:192.0.2.7");
	assert_string_equal(a.sans, b.sans);
	assert_true(a.not_before == b.not_before && a.not_after == b.not_after);
	assert_int_equal(a.cert_len, b.cert_len);
	assert_memory_equal(a.cert_der, b.cert_der, a.cert_len);
	estd_record_clear(&a);
	estd_record_clear(&b);
}

/* PKCS#7 certs-only (the /simpleenroll reply) with cert and the CA parses back. */
static void check_pkcs7(X509 *cert, X509 *ref, X509 *cacert)
{
	STACK_OF(X509) *sk = sk_X509_new_null(), *back = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	assert_non_null(sk);
	assert_true(sk_X509_push(sk, cert) > 0 && sk_X509_push(sk, cacert) > 0);
	assert_int_equal(estkit_pkcs7_certs_encode(sk, &der, &len), ESTKIT_OK);
	assert_int_equal(estkit_pkcs7_certs_decode(der, len, &back), ESTKIT_OK);
	assert_int_equal(sk_X509_num(back), 2);
	assert_true(same_der(sk_X509_value(back, 0), ref) || same_der(sk_X509_value(back, 1), ref));
	sk_X509_pop_free(back, X509_free);
	sk_X509_free(sk);
	estkit_free(der);
}

/* A CMC PKIResponse signed by the CA (inline or in the signer) carrying cert. */
static void check_cms(struct tu_signer_fixture *f, X509 *cert, X509 *ref)
{
	STACK_OF(X509) *extra = sk_X509_new_null(), *certs = NULL;
	struct estkit_cmc_resp *r = NULL;
	unsigned char *der = NULL, *out = NULL, *content = NULL;
	size_t len = 0, outlen = 0, clen = 0;
	int i, found = 0;

	assert_non_null(extra);
	assert_true(sk_X509_push(extra, cert) > 0);
	assert_int_equal(estkit_cmc_resp_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_encode(r, &der, &len), ESTKIT_OK);
	assert_int_equal(estd_signer_sign_cms(estd_ca_signer(f->ca), f->cacert, der, len, extra,
					      &out, &outlen),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_verify_key(out, outlen, X509_get0_pubkey(f->cacert), NULL),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(out, outlen, 1, &content, &clen, &certs), ESTKIT_OK);
	for (i = 0; i < sk_X509_num(certs); i++)
		found |= same_der(sk_X509_value(certs, i), ref);
	assert_true(found);
	sk_X509_pop_free(certs, X509_free);
	estkit_free(content);
	estkit_free(out);
	estkit_free(der);
	estkit_cmc_resp_free(r);
	sk_X509_free(extra);
}

/* X509_verify_cert() of cert under the CA, for a TLS client. */
static int chain_verifies(X509 *cacert, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_true(store != NULL && ctx != NULL);
	assert_int_equal(X509_STORE_add_cert(store, cacert), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* cert (keyless) against ref, a d2i_X509() of the same DER. */
static void check_usable(struct tu_signer_fixture *f, X509_REQ *csr, X509 *cert, X509 *ref)
{
	unsigned char md1[EVP_MAX_MD_SIZE], md2[EVP_MAX_MD_SIZE], md3[EVP_MAX_MD_SIZE];
	unsigned int l1 = 0, l2 = 0, l3 = 0;
	unsigned char *der = NULL;
	int len;
	char *s1 = NULL, *s2 = NULL;
	EVP_PKEY *other = tu_key("EC", "P-256", 0);
	GENERAL_NAMES *gens = NULL;

	/* the saving: no key decoded; the reference has it */
	ERR_set_mark();
	assert_null(X509_get0_pubkey(cert));
	ERR_pop_to_mark();
	assert_non_null(X509_get0_pubkey(ref));
	assert_int_equal(X509_get0_pubkey(ref) != NULL &&
				 EVP_PKEY_eq(X509_get0_pubkey(ref), X509_REQ_get0_pubkey(csr)) == 1,
			 1);
	/* i2d: the signed DER, byte for byte */
	assert_true(same_der(cert, ref));
	len = i2d_X509(cert, &der);
	assert_true(len > 0);
	/* serial, names */
	assert_int_equal(estkit_cert_serial_hex(cert, &s1), ESTKIT_OK);
	assert_int_equal(estkit_cert_serial_hex(ref, &s2), ESTKIT_OK);
	assert_string_equal(s1, s2);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(f->cacert)),
			 0);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)),
			 0);
	/* extensions: SAN, flags, usages, key identifiers */
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	assert_int_equal(X509_get_extension_flags(cert), X509_get_extension_flags(ref));
	assert_int_equal(X509_get_extension_flags(cert) & (EXFLAG_INVALID | EXFLAG_NO_FINGERPRINT),
			 0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_CLIENT);
	assert_non_null(X509_get0_subject_key_id(cert));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(cert),
					       X509_get0_subject_key_id(ref)),
			 0);
	assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
	assert_int_equal(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 0);
	/* digests (fingerprints): X509_digest and the DER's own hash agree */
	assert_int_equal(X509_digest(cert, EVP_sha256(), md1, &l1), 1);
	assert_int_equal(X509_digest(ref, EVP_sha256(), md2, &l2), 1);
	assert_int_equal(EVP_Digest(der, (size_t)len, md3, &l3, EVP_sha256(), NULL), 1);
	assert_true(l1 == 32 && l1 == l2 && l1 == l3);
	assert_memory_equal(md1, md2, l1);
	assert_memory_equal(md1, md3, l1);
	assert_int_equal(X509_cmp(cert, ref), 0);
	/* issued by the CA, signature good; not by another key */
	assert_int_equal(X509_check_issued(f->cacert, cert), X509_V_OK);
	assert_int_equal(X509_verify(cert, X509_get0_pubkey(f->cacert)), 1);
	assert_int_not_equal(X509_verify(cert, other), 1);
	/*
	 * Chain verification checks the leaf's key (its security level) and fails
	 * closed without it: a caller that verifies chains uses estd_ca_issue().
	 */
	assert_int_not_equal(chain_verifies(f->cacert, cert), 1);
	assert_int_equal(chain_verifies(f->cacert, ref), 1);
	ERR_clear_error();
	check_record(csr, cert, ref);
	check_pkcs7(cert, ref, f->cacert);
	check_cms(f, cert, ref);
	GENERAL_NAMES_free(gens);
	EVP_PKEY_free(other);
	estkit_free(s1);
	estkit_free(s2);
	OPENSSL_free(der);
}

static const struct {
	const char *type, *curve;
	size_t bits;
} key_types[] = {
	{ "EC", "P-256", 0 },
	{ "EC", "P-384", 0 },
	{ "ED25519", NULL, 0 },
	{ "RSA", NULL, 2048 },
};

static void issue_each_key_type(struct tu_signer_fixture *f)
{
	struct estd_ca_profile *p = profile();
	size_t i;

	for (i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		EVP_PKEY *k = tu_key(key_types[i].type, key_types[i].curve, key_types[i].bits);
		X509_REQ *csr = tu_csr(k, "keyless leaf", san_nid, san_val);
		X509 *cert = NULL, *ref = NULL, *full = NULL;
		unsigned char *der = NULL;
		const unsigned char *q = NULL;
		char reason[256] = "";
		int len;

		print_message("key %s %s\n", key_types[i].type,
			      key_types[i].curve != NULL ? key_types[i].curve : "");
		assert_int_equal(estd_ca_issue_keyless(f->ca, p, csr, &cert, reason, sizeof(reason)),
				 ESTKIT_OK);
		assert_string_equal(reason, "issued");
		len = i2d_X509(cert, &der);
		assert_true(len > 0);
		q = der;
		ref = d2i_X509(NULL, &q, len);
		assert_non_null(ref);
		check_usable(f, csr, cert, ref);
		/* estd_ca_issue() keeps today's behaviour: the key decoded */
		assert_int_equal(estd_ca_issue(f->ca, p, csr, &full, reason, sizeof(reason)),
				 ESTKIT_OK);
		assert_non_null(X509_get0_pubkey(full));
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(full), k), 1);
		X509_free(full);
		X509_free(ref);
		X509_free(cert);
		OPENSSL_free(der);
		X509_REQ_free(csr);
		EVP_PKEY_free(k);
	}
	estd_profile_free(p);
}

static void test_inline_keyless_cert_is_usable(void **state)
{
	issue_each_key_type(*state);
}

static void test_proc_keyless_cert_is_usable(void **state)
{
	issue_each_key_type(*state);
}

/* A refused request is refused the same way: no certificate, same reason. */
static void test_keyless_refuses_like_issue(void **state)
{
	struct tu_signer_fixture *f = *state;
	struct estd_profile src = { (char *)"strict", 30, (char *)"digitalSignature",
				    (char *)"clientAuth", (char *)"ec:P-256", 0, NULL, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(k, NULL, NULL, NULL);
	X509 *a = NULL, *b = NULL;
	char ra[256] = "", rb[256] = "", err[256];
	enum estkit_status rca, rcb;

	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), ESTKIT_OK);
	rca = estd_ca_issue(f->ca, p, csr, &a, ra, sizeof(ra));
	rcb = estd_ca_issue_keyless(f->ca, p, csr, &b, rb, sizeof(rb));
	assert_int_equal(rca, ESTKIT_EPOLICY);
	assert_string_equal(ra, "CSR has an empty subject and no subjectAltName");
	assert_int_equal(rca, rcb);
	assert_string_equal(ra, rb);
	assert_null(a);
	assert_null(b);
	assert_int_equal(estd_ca_issue_keyless(f->ca, p, csr, NULL, rb, sizeof(rb)),
			 ESTKIT_EINVAL);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	estd_profile_free(p);
}

static void test_parse_keyless_malformed(void **state)
{
	struct tu_signer_fixture *f = *state;
	unsigned char *der = NULL, *buf = NULL;
	int len = i2d_X509(f->cacert, &der);
	X509 *x = NULL;
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct {
		const char *what;
		const unsigned char *der;
		size_t len;
		enum estkit_status rc;
	} rows[] = {
		{ "whole", NULL, 0, ESTKIT_OK },
		{ "NULL", NULL, 0, ESTKIT_EPARSE },
		{ "empty", NULL, 0, ESTKIT_EPARSE },
		{ "truncated", NULL, 0, ESTKIT_EPARSE },
		{ "trailing byte", NULL, 0, ESTKIT_EPARSE },
		{ "not a certificate", junk, sizeof(junk), ESTKIT_EPARSE },
		{ "over the frame limit", NULL, ESTD_SIGNER_MAX_FRAME + 1, ESTKIT_EPARSE },
	};
	size_t i;

	assert_true(len > 0);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	memcpy(buf, der, (size_t)len);
	rows[0].der = der;
	rows[0].len = (size_t)len;
	rows[2].der = der;
	rows[3].der = der;
	rows[3].len = (size_t)len - 1;
	rows[4].der = buf;
	rows[4].len = (size_t)len + 1;
	rows[6].der = buf;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].what);
		x = (X509 *)0x1;
		assert_int_equal(estd_cert_parse_keyless(rows[i].der, rows[i].len, &x), rows[i].rc);
		if (rows[i].rc == ESTKIT_OK) {
			assert_non_null(x);
			assert_true(same_der(x, f->cacert));
			X509_free(x);
		} else {
			assert_null(x);
		}
	}
	assert_int_equal(estd_cert_parse_keyless(der, (size_t)len, NULL), ESTKIT_EINVAL);
	ERR_clear_error();
	free(buf);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inline_keyless_cert_is_usable, setup_inline,
						teardown),
		cmocka_unit_test_setup_teardown(test_proc_keyless_cert_is_usable, setup_proc,
						teardown),
		cmocka_unit_test_setup_teardown(test_keyless_refuses_like_issue, setup_inline,
						teardown),
		cmocka_unit_test_setup_teardown(test_parse_keyless_malformed, setup_inline,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
