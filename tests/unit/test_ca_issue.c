/*
 * test_ca_issue.c - what the built-in CA puts into a certificate, and what
 * it refuses to take from a request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "ca/issue.h"
#include "ca/profile.h"
#include "ca_testutil.h"

static struct estd_ca_profile *profile(const char *ku, const char *eku, int days, int copy)
{
	struct estd_profile src = { (char *)"default", days, (char *)ku, (char *)eku,
				    (char *)"ec:P-256, ec:P-384, rsa:2048, ed25519", copy, NULL, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	char err[256];

	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), ESTKIT_OK);
	return p;
}

static X509 *issue_ok(struct estd_ca *ca, struct estd_ca_profile *p, X509_REQ *csr)
{
	X509 *cert = NULL;
	char reason[256] = "";

	assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)), ESTKIT_OK);
	assert_non_null(cert);
	return cert;
}

static int verifies(X509 *cacert, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	X509_STORE_add_cert(store, cacert);
	X509_STORE_CTX_init(ctx, store, cert, NULL);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		print_message("verify: %s\n",
			      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static const int req_nids[] = { NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
				NID_subject_alt_name, 0 };
static const char *const req_vals[] = { "critical,CA:FALSE", "critical,keyCertSign,cRLSign",
					"codeSigning", "DNS:a.example,IP:192.0.2.1", NULL };

/* Extensions are exactly the profile's; the CSR's KU and EKU are ignored, its SAN copied. */
static void test_issue_takes_extensions_from_profile_only(void **state)
{
	X509 *cacert = NULL;
	struct estd_ca *ca = tu_ca(3650, &cacert);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 365, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "device-1", req_nids, req_vals);
	X509 *cert = issue_ok(ca, p, csr);
	EXTENDED_KEY_USAGE *eku = NULL;
	GENERAL_NAMES *sans = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	int crit = -1;

	(void)state;
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	assert_int_equal(X509_get_ext_count(cert), 6);
	bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(bc->ca, 0);
	assert_int_equal(crit, 1);
	assert_int_equal(X509_get_key_usage(cert), X509v3_KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_ext_by_critical(cert, 1, -1) >= 0, 1);
	eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_client_auth);
	assert_int_equal(crit, 0);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(sans), 2);
	assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, GEN_DNS);
	assert_int_equal(sk_GENERAL_NAME_value(sans, 1)->type, GEN_IPADD);
	assert_int_equal(crit, 0);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cert), X509_REQ_get_subject_name(csr)),
			 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(cacert)),
			 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
	assert_int_equal(verifies(cacert, cert), 1);
	BASIC_CONSTRAINTS_free(bc);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	GENERAL_NAMES_free(sans);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	X509_free(cacert);
	estd_ca_free(ca);
}

static void test_issue_aki_is_ca_ski_and_ski_is_key_hash(void **state)
{
	X509 *cacert = NULL;
	struct estd_ca *ca = tu_ca(3650, &cacert);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 30, 1);
	EVP_PKEY *key = tu_key("EC", "P-384", 0);
	X509_REQ *csr = tu_csr(key, "device-2", NULL, NULL);
	X509 *cert = issue_ok(ca, p, csr);
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(cert);
	const ASN1_OCTET_STRING *ca_ski = X509_get0_subject_key_id(cacert);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	(void)state;
	assert_non_null(aki);
	assert_non_null(ca_ski);
	assert_int_equal(ASN1_OCTET_STRING_cmp(aki, ca_ski), 0);
	assert_int_equal(X509_pubkey_digest(cert, EVP_sha1(), md, &mdlen), 1);
	assert_non_null(ski);
	assert_int_equal(ASN1_STRING_length(ski), (int)mdlen);
	assert_memory_equal(ASN1_STRING_get0_data(ski), md, mdlen);
	/* No SAN requested: none issued. */
	assert_int_equal(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1), -1);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	X509_free(cacert);
	estd_ca_free(ca);
}

struct refusal {
	const char *what;
	const char *cn;
	const int *nids;
	const char *const *vals;
	int copy_sans;
	enum estkit_status rc;
	const char *reason;
};

static const int ca_true_nids[] = { NID_basic_constraints, 0 };
static const char *const ca_true_vals[] = { "critical,CA:TRUE" };
static const char *const ca_true_noncrit_vals[] = { "CA:TRUE,pathlen:0" };
static const int san_nids[] = { NID_subject_alt_name, 0 };
static const char *const san_vals[] = { "DNS:only-san.example" };

static const struct refusal refusals[] = {
	{ "CA:TRUE requested", "x", ca_true_nids, ca_true_vals, 1, ESTKIT_EPOLICY,
	  ESTD_CA_REASON_CA_REQUESTED },
	{ "non-critical CA:TRUE requested", "x", ca_true_nids, ca_true_noncrit_vals, 1,
	  ESTKIT_EPOLICY, ESTD_CA_REASON_CA_REQUESTED },
	{ "empty subject, no SAN", NULL, NULL, NULL, 1, ESTKIT_EPOLICY,
	  "CSR has an empty subject and no subjectAltName" },
	{ "empty subject, SAN not copied", NULL, san_nids, san_vals, 0, ESTKIT_EPOLICY,
	  "CSR has an empty subject and no subjectAltName" },
};

static void test_issue_refusals_table(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct estd_ca_profile *p = profile("digitalSignature", "", 30, r->copy_sans);
		X509_REQ *csr = tu_csr(key, r->cn, r->nids, r->vals);
		X509 *cert = (X509 *)1;
		char reason[256] = "";

		print_message("case: %s\n", r->what);
		assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)), r->rc);
		assert_null(cert);
		assert_string_equal(reason, r->reason);
		X509_REQ_free(csr);
		estd_profile_free(p);
	}
	EVP_PKEY_free(key);
	estd_ca_free(ca);
}

/* Malformed extensionRequest contents: raw attribute bytes a client could send. */
static void test_issue_refuses_malformed_extension_requests(void **state)
{
	/* SEQUENCE { INTEGER 0 }: well-formed DER, but not a SEQUENCE OF Extension. */
	static const unsigned char truncated[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	static const unsigned char bad_bc[] = { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x1d,
						0x13, 0x04, 0x02, 0x05, 0x00 };
	static const unsigned char bad_san[] = { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x1d,
						 0x11, 0x04, 0x02, 0x02, 0x00 };
	const unsigned char *blobs[] = { truncated, bad_bc, bad_san };
	const size_t lens[] = { sizeof(truncated), sizeof(bad_bc), sizeof(bad_san) };
	const char *reasons[] = { "CSR has a malformed extensionRequest attribute",
				  "CSR has a malformed basicConstraints extension request",
				  "CSR has a malformed subjectAltName extension request" };
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_ca_profile *p = profile("digitalSignature", "", 30, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		X509_REQ *csr = tu_csr(key, "x", NULL, NULL);
		X509 *cert = NULL;
		char reason[256] = "";

		assert_int_equal(X509_REQ_add1_attr_by_NID(csr, NID_ext_req, V_ASN1_SEQUENCE,
							   blobs[i], (int)lens[i]), 1);
		assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)),
				 ESTKIT_EPARSE);
		assert_null(cert);
		assert_string_equal(reason, reasons[i]);
		X509_REQ_free(csr);
	}
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

/* An empty subject is fine with a SAN, which then must be critical (RFC 5280 4.2.1.6). */
static void test_issue_empty_subject_with_san_gets_critical_san(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 30, 1);
	EVP_PKEY *key = tu_key("ED25519", NULL, 0);
	X509_REQ *csr = tu_csr(key, NULL, san_nids, san_vals);
	X509 *cert = issue_ok(ca, p, csr);
	int idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);

	(void)state;
	assert_true(idx >= 0);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(cert, idx)), 1);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

static void test_issue_validity_is_profile_days_from_now_minus_skew(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 30, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "v", NULL, NULL);
	time_t before = time(NULL);
	X509 *cert = issue_ok(ca, p, csr);
	time_t lo = before - 61, hi = before - 50;
	time_t alo = before + 30 * 86400 - 5, ahi = before + 30 * 86400 + 5;

	(void)state;
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(cert), &lo), 1);
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(cert), &hi), -1);
	assert_int_equal(X509_cmp_time(X509_get0_notAfter(cert), &alo), 1);
	assert_int_equal(X509_cmp_time(X509_get0_notAfter(cert), &ahi), -1);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

static void test_issue_caps_validity_at_ca_not_after(void **state)
{
	X509 *cacert = NULL;
	struct estd_ca *ca = tu_ca(10, &cacert);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 365, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "capped", NULL, NULL);
	X509 *cert = issue_ok(ca, p, csr);

	(void)state;
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(cacert)),
			 0);
	assert_int_equal(verifies(cacert, cert), 1);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	X509_free(cacert);
	estd_ca_free(ca);
}

static void test_issue_refuses_with_expired_ca(void **state)
{
	struct estd_ca *ca = tu_ca(-1, NULL);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 365, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "late", NULL, NULL);
	X509 *cert = NULL;
	char reason[128];

	(void)state;
	assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)),
			 ESTKIT_EINTERNAL);
	assert_null(cert);
	assert_string_equal(reason, "the CA certificate has expired");
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

static void test_issue_serial_is_16_positive_bytes_and_unique(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 30, 1);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "s", NULL, NULL);
	X509 *a = issue_ok(ca, p, csr);
	X509 *b = issue_ok(ca, p, csr);
	const ASN1_INTEGER *sa = X509_get0_serialNumber(a);
	const ASN1_INTEGER *sb = X509_get0_serialNumber(b);
	unsigned char *der = NULL;
	int len;

	(void)state;
	assert_int_equal(ASN1_STRING_type(sa), V_ASN1_INTEGER); /* not V_ASN1_NEG_INTEGER */
	assert_int_equal(ASN1_STRING_length(sa), 16);
	assert_int_equal(ASN1_STRING_length(sb), 16);
	assert_int_not_equal(ASN1_INTEGER_cmp(sa, sb), 0);
	/* DER: tag, length 16, and a first content byte without the sign bit. */
	len = i2d_ASN1_INTEGER(sa, &der);
	assert_int_equal(len, 18);
	assert_int_equal(der[1], 16);
	assert_true(der[2] != 0 && (der[2] & 0x80) == 0);
	OPENSSL_free(der);
	X509_free(a);
	X509_free(b);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

/* RSA keys keep keyEncipherment, EC keys lose it (RFC 5480 3); both verify. */
static void test_issue_key_usage_depends_on_key_type(void **state)
{
	X509 *cacert = NULL;
	struct estd_ca *ca = tu_ca(3650, &cacert);
	struct estd_ca_profile *p = profile("digitalSignature, keyEncipherment", "serverAuth", 30, 1);
	struct estd_ca_profile *enc = profile("keyEncipherment", "serverAuth", 30, 1);
	EVP_PKEY *rsa = tu_key("RSA", NULL, 2048);
	EVP_PKEY *ec = tu_key("EC", "P-256", 0);
	X509_REQ *rcsr = tu_csr(rsa, "rsa", NULL, NULL);
	X509_REQ *ecsr = tu_csr(ec, "ec", NULL, NULL);
	X509 *rc = issue_ok(ca, p, rcsr);
	X509 *ecert = issue_ok(ca, p, ecsr);
	X509 *none = NULL;
	char reason[128];

	(void)state;
	assert_int_equal(X509_get_key_usage(rc),
			 X509v3_KU_DIGITAL_SIGNATURE | X509v3_KU_KEY_ENCIPHERMENT);
	assert_int_equal(X509_get_key_usage(ecert), X509v3_KU_DIGITAL_SIGNATURE);
	assert_int_equal(verifies(cacert, rc), 1);
	assert_int_equal(verifies(cacert, ecert), 1);
	/* Nothing left for an EC key: refuse rather than issue without keyUsage. */
	assert_int_equal(estd_ca_issue(ca, enc, ecsr, &none, reason, sizeof(reason)),
			 ESTKIT_EPOLICY);
	assert_null(none);
	X509_free(rc);
	X509_free(ecert);
	X509_REQ_free(rcsr);
	X509_REQ_free(ecsr);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	estd_profile_free(p);
	estd_profile_free(enc);
	X509_free(cacert);
	estd_ca_free(ca);
}

static void test_ca_new_refuses_mismatched_key_and_non_ca(void **state)
{
	EVP_PKEY *k1 = tu_key("EC", "P-256", 0);
	EVP_PKEY *k2 = tu_key("EC", "P-256", 0);
	X509 *cacert = tu_ca_cert(k1, "CA", 30, 1);
	X509 *leaf = tu_ca_cert(k1, "not a CA", 30, 0);
	struct estd_signer *s = NULL;
	struct estd_ca *ca = (struct estd_ca *)1;

	(void)state;
	assert_int_equal(estd_signer_new(k2, &s), ESTKIT_OK);
	assert_int_equal(estd_ca_new(cacert, s, &ca), ESTKIT_EINVAL);
	assert_null(ca);
	estd_signer_free(s);
	assert_int_equal(estd_signer_new(k1, &s), ESTKIT_OK);
	assert_int_equal(estd_ca_new(leaf, s, &ca), ESTKIT_EPOLICY);
	assert_int_equal(estd_ca_new(NULL, s, &ca), ESTKIT_EINVAL);
	assert_int_equal(estd_ca_new(cacert, s, &ca), ESTKIT_OK);
	assert_ptr_equal(estd_ca_cert(ca), cacert);
	estd_ca_free(ca);
	estd_ca_free(NULL);
	X509_free(cacert);
	X509_free(leaf);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

/* DER of an X509_PUBKEY (a SubjectPublicKeyInfo); the caller OPENSSL_free()s *der. */
static int spki_der(X509_PUBKEY *pub, unsigned char **der)
{
	*der = NULL;
	return i2d_X509_PUBKEY(pub, der);
}

/* csr through DER and back, as estd receives it: the key decoded by OpenSSL's decoders. */
static X509_REQ *wire_csr(X509_REQ *csr)
{
	unsigned char *der = NULL;
	const unsigned char *p = NULL;
	int len = i2d_X509_REQ(csr, &der);
	X509_REQ *out = NULL;

	assert_true(len > 0);
	p = der;
	out = d2i_X509_REQ(NULL, &p, len);
	assert_non_null(out);
	OPENSSL_free(der);
	return out;
}

/*
 * The certificate carries the CSR's SubjectPublicKeyInfo byte for byte:
 * algorithm, its parameters (a curve OID, NULL, or none) and the key bits,
 * copied without a re-encoding of the key; the certificate's key decodes to
 * the requester's key and the signature verifies. A CSR whose key does not
 * decode is refused before anything is copied.
 */
static void test_issue_copies_the_csr_public_key_exactly(void **state)
{
	static const struct {
		const char *type, *curve;
		size_t bits;
	} keys[] = {
		{ "EC", "P-256", 0 }, { "EC", "P-384", 0 }, { "RSA", NULL, 2048 },
		{ "ED25519", NULL, 0 },
	};
	static const unsigned char junk[] = { 0x04, 0x01, 0x02, 0x03 };
	X509 *cacert = NULL;
	struct estd_ca *ca = tu_ca(3650, &cacert);
	struct estd_ca_profile *p = profile("digitalSignature", "clientAuth", 30, 1);
	X509_REQ *csr = NULL;
	X509 *cert = NULL;
	char reason[256] = "";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		EVP_PKEY *key = tu_key(keys[i].type, keys[i].curve, keys[i].bits);
		X509_REQ *built = tu_csr(key, "spki", NULL, NULL);
		unsigned char *want = NULL, *got = NULL;
		int wlen, glen;

		csr = wire_csr(built);
		cert = issue_ok(ca, p, csr);
		wlen = spki_der(X509_REQ_get_X509_PUBKEY(csr), &want);
		glen = spki_der(X509_get_X509_PUBKEY(cert), &got);
		assert_true(wlen > 0);
		assert_int_equal(glen, wlen);
		assert_memory_equal(got, want, (size_t)wlen);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
		assert_int_equal(verifies(cacert, cert), 1);
		OPENSSL_free(want);
		OPENSSL_free(got);
		X509_free(cert);
		X509_REQ_free(csr);
		X509_REQ_free(built);
		EVP_PKEY_free(key);
	}
	/* malformed: an EC public key that is not a point */
	csr = X509_REQ_new();
	assert_non_null(csr);
	assert_int_equal(X509_PUBKEY_set0_param(X509_REQ_get_X509_PUBKEY(csr),
						OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
						OBJ_nid2obj(NID_X9_62_prime256v1),
						OPENSSL_memdup(junk, sizeof(junk)), sizeof(junk)),
			 1);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(csr), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"junk", -1, -1, 0);
	cert = NULL;
	assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)), ESTKIT_EPARSE);
	assert_null(cert);
	assert_string_equal(reason, "CSR public key cannot be decoded");
	X509_REQ_free(csr);
	estd_profile_free(p);
	X509_free(cacert);
	estd_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_takes_extensions_from_profile_only),
		cmocka_unit_test(test_issue_aki_is_ca_ski_and_ski_is_key_hash),
		cmocka_unit_test(test_issue_refusals_table),
		cmocka_unit_test(test_issue_refuses_malformed_extension_requests),
		cmocka_unit_test(test_issue_empty_subject_with_san_gets_critical_san),
		cmocka_unit_test(test_issue_validity_is_profile_days_from_now_minus_skew),
		cmocka_unit_test(test_issue_caps_validity_at_ca_not_after),
		cmocka_unit_test(test_issue_refuses_with_expired_ca),
		cmocka_unit_test(test_issue_serial_is_16_positive_bytes_and_unique),
		cmocka_unit_test(test_issue_key_usage_depends_on_key_type),
		cmocka_unit_test(test_ca_new_refuses_mismatched_key_and_non_ca),
		cmocka_unit_test(test_issue_copies_the_csr_public_key_exactly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
