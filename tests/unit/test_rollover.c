/*
 * test_rollover.c - root CA key update on the client side (lib/pki/rollover.c):
 * the RFC 7030 A.1 set classified, tampered and unlinked roots refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include <estkit/rollover.h>

/* The A.1 bundle: OwO, NwO, OwN, NwN in that order (RFC 7030 A.1). */
static STACK_OF(X509) *a1_certs(void)
{
	char path[512];
	STACK_OF(X509) *certs = NULL;

	snprintf(path, sizeof(path), "%s/rfc7030/A.1-cacerts-response.b64", ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_certs_load(path, &certs), ESTKIT_OK);
	assert_int_equal(sk_X509_num(certs), 4);
	return certs;
}

/* 1 when x's subject CN ends in tag ("OwO", "NwN", ...). */
static int is(X509 *x, const char *tag)
{
	char cn[128];
	size_t n;

	if (x == NULL)
		return 0;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				      sizeof(cn)) <= 0)
		return 0;
	n = strlen(cn);
	return n >= 3 && strcmp(cn + n - 3, tag) == 0;
}

static X509 *by_tag(STACK_OF(X509) *certs, const char *tag)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (is(sk_X509_value(certs, i), tag))
			return sk_X509_value(certs, i);
	fail_msg("no %s in the set", tag);
	return NULL;
}

static STACK_OF(X509) *one(X509 *x)
{
	STACK_OF(X509) *s = sk_X509_new_null();

	assert_non_null(s);
	assert_true(X509_up_ref(x) && sk_X509_push(s, x) > 0);
	return s;
}

/* A copy of x with one byte of its signature flipped. */
static X509 *tampered(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der);
	X509 *t;

	assert_true(len > 10);
	der[len - 1] ^= 0x01;
	p = der;
	t = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	assert_non_null(t);
	return t;
}

static EVP_PKEY *ec_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_non_null(k);
	return k;
}

/* A CA certificate: subject cn, key pub, issued by issuer_cn with signing key. */
static X509 *make_ca(const char *cn, EVP_PKEY *pub, const char *issuer_cn, EVP_PKEY *signing)
{
	X509 *x = X509_new();
	X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *bc;

	assert_non_null(x);
	X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_UTF8, (const unsigned char *)issuer_cn, -1,
				   -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, s);
	X509_set_issuer_name(x, i);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	assert_non_null(bc);
	X509_add_ext(x, bc, -1);
	X509_EXTENSION_free(bc);
	assert_true(X509_sign(x, signing, EVP_sha256()) > 0);
	X509_NAME_free(s);
	X509_NAME_free(i);
	return x;
}

static void test_a1_classified(void **state)
{
	STACK_OF(X509) *certs = a1_certs();
	struct estkit_rollover_roles r;

	(void)state;
	assert_int_equal(estkit_rollover_classify(certs, by_tag(certs, "OwO"), &r), ESTKIT_OK);
	assert_true(is(r.old_with_old, "OwO"));
	assert_true(is(r.old_with_new, "OwN"));
	assert_true(is(r.new_with_old, "NwO"));
	assert_true(is(r.new_with_new, "NwN"));
	/* Seen from the new root the roles mirror: OwN is its link to the other root. */
	assert_int_equal(estkit_rollover_classify(certs, by_tag(certs, "NwN"), &r), ESTKIT_OK);
	assert_true(is(r.old_with_old, "NwN"));
	assert_true(is(r.new_with_old, "OwN"));
	assert_true(is(r.new_with_new, "OwO"));
	assert_true(is(r.old_with_new, "NwO"));
	sk_X509_pop_free(certs, X509_free);
}

static void test_a1_new_root_linked(void **state)
{
	STACK_OF(X509) *certs = a1_certs(), *trusted = one(by_tag(certs, "OwO")), *out = NULL;
	int known = -1, rejected = -1;

	(void)state;
	assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "NwN"), certs, trusted), 1);
	assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "OwO"), certs, trusted), 1);
	/* Link certificates are not roots. */
	assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "NwO"), certs, trusted), 0);
	assert_int_equal(estkit_rollover_filter(certs, trusted, &out, &known, &rejected),
			 ESTKIT_OK);
	assert_int_equal(sk_X509_num(out), 4);
	assert_int_equal(known, 1);
	assert_int_equal(rejected, 0);
	sk_X509_pop_free(out, X509_free);
	sk_X509_pop_free(trusted, X509_free);
	sk_X509_pop_free(certs, X509_free);
}

/* Which A.1 certificate to break, and what must survive. */
struct tamper_case {
	const char *what;
	const char *tamper;   /* tag of the certificate replaced by a tampered copy */
	int new_root_linked;  /* NwN accepted with OwO trusted */
	int kept;             /* certificates estkit_rollover_filter keeps */
	int rejected;
};

static const struct tamper_case tamper_cases[] = {
	{"nothing tampered", NULL, 1, 4, 0},
	{"NewWithOld signature", "NwO", 0, 1, 1},
	{"OldWithNew signature", "OwN", 1, 3, 0},
	{"NewWithNew self-signature", "NwN", 0, 2, 0},
	/* The trusted copy still links NwN; the broken OwO in the answer is no root. */
	{"OldWithOld self-signature", "OwO", 1, 2, 0},
};

static void test_tampered(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tamper_cases) / sizeof(tamper_cases[0]); i++) {
		const struct tamper_case *c = &tamper_cases[i];
		STACK_OF(X509) *certs = a1_certs(), *trusted = one(by_tag(certs, "OwO"));
		STACK_OF(X509) *out = NULL;
		int known = 0, rejected = 0, j;

		if (c->tamper != NULL) {
			for (j = 0; j < sk_X509_num(certs); j++) {
				X509 *x = sk_X509_value(certs, j);

				if (is(x, c->tamper)) {
					sk_X509_set(certs, j, tampered(x));
					X509_free(x);
				}
			}
		}
		print_message("case: %s\n", c->what);
		assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "NwN"), certs, trusted),
				 c->new_root_linked);
		assert_int_equal(estkit_rollover_filter(certs, trusted, &out, &known, &rejected),
				 ESTKIT_OK);
		assert_int_equal(sk_X509_num(out), c->kept);
		assert_int_equal(rejected, c->rejected);
		sk_X509_pop_free(out, X509_free);
		sk_X509_pop_free(trusted, X509_free);
		sk_X509_pop_free(certs, X509_free);
	}
}

/* A root nobody linked, even one with the new root's name, is refused. */
static void test_unrelated_root_refused(void **state)
{
	EVP_PKEY *old_k = ec_key(), *new_k = ec_key(), *evil_k = ec_key();
	X509 *owo = make_ca("CA", old_k, "CA", old_k), *nwo = make_ca("CA", new_k, "CA", old_k);
	X509 *nwn = make_ca("CA", new_k, "CA", new_k), *evil = make_ca("CA", evil_k, "CA", evil_k);
	X509 *evil_link = make_ca("CA", evil_k, "CA", evil_k);
	STACK_OF(X509) *trusted = one(owo), *certs = one(owo), *out = NULL;
	struct estkit_rollover_roles r;
	int known = 0, rejected = 0;

	(void)state;
	assert_true(X509_up_ref(evil) && sk_X509_push(certs, evil) > 0);
	assert_int_equal(estkit_rollover_root_linked(evil, certs, trusted), 0);
	/* A "link" for the evil key that the old key did not sign. */
	assert_true(X509_up_ref(evil_link) && sk_X509_push(certs, evil_link) > 0);
	assert_int_equal(estkit_rollover_root_linked(evil, certs, trusted), 0);
	assert_int_equal(estkit_rollover_filter(certs, trusted, &out, &known, &rejected),
			 ESTKIT_OK);
	assert_int_equal(sk_X509_num(out), 1);
	assert_int_equal(rejected, 2); /* evil and its self-signed "link" */
	sk_X509_pop_free(out, X509_free);
	/* The real link (same names as the evil root) makes the real new root, only that one, good. */
	assert_true(X509_up_ref(nwo) && sk_X509_push(certs, nwo) > 0);
	assert_true(X509_up_ref(nwn) && sk_X509_push(certs, nwn) > 0);
	assert_int_equal(estkit_rollover_root_linked(nwn, certs, trusted), 1);
	assert_int_equal(estkit_rollover_root_linked(evil, certs, trusted), 0);
	assert_int_equal(estkit_rollover_classify(certs, owo, &r), ESTKIT_OK);
	assert_ptr_equal(r.new_with_new, nwn);
	assert_ptr_equal(r.new_with_old, nwo);
	assert_ptr_equal(r.old_with_old, owo);
	assert_null(r.old_with_new);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(trusted, X509_free);
	X509_free(owo);
	X509_free(nwo);
	X509_free(nwn);
	X509_free(evil);
	X509_free(evil_link);
	EVP_PKEY_free(old_k);
	EVP_PKEY_free(new_k);
	EVP_PKEY_free(evil_k);
}

/* NULL arguments, empty sets, a set with no root at all. */
static void test_bad_arguments(void **state)
{
	STACK_OF(X509) *certs = a1_certs(), *empty = sk_X509_new_null(), *out = NULL;
	STACK_OF(X509) *links = sk_X509_new_null();
	struct estkit_rollover_roles r;
	X509 *owo = by_tag(certs, "OwO");
	int known = 0, rejected = 0;

	(void)state;
	assert_int_equal(estkit_rollover_classify(NULL, owo, &r), ESTKIT_EINVAL);
	assert_int_equal(estkit_rollover_classify(certs, NULL, &r), ESTKIT_EINVAL);
	assert_int_equal(estkit_rollover_classify(certs, owo, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_rollover_classify(empty, owo, &r), ESTKIT_OK);
	assert_null(r.old_with_old);
	assert_null(r.new_with_new);
	assert_int_equal(estkit_rollover_root_linked(NULL, certs, empty), 0);
	assert_int_equal(estkit_rollover_root_linked(owo, certs, NULL), 0);
	assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "NwN"), NULL, certs), 1);
	assert_int_equal(estkit_rollover_root_linked(by_tag(certs, "NwN"), empty, empty), 0);
	assert_int_equal(estkit_rollover_filter(NULL, empty, &out, NULL, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_rollover_filter(certs, NULL, &out, NULL, NULL), ESTKIT_EINVAL);
	assert_int_equal(estkit_rollover_filter(certs, empty, NULL, NULL, NULL), ESTKIT_EINVAL);
	/* Nothing trusted: every root refused, nothing chains. */
	assert_int_equal(estkit_rollover_filter(certs, empty, &out, &known, &rejected), ESTKIT_OK);
	assert_int_equal(sk_X509_num(out), 0);
	assert_int_equal(rejected, 2);
	sk_X509_pop_free(out, X509_free);
	/* Only link certificates, no root: nothing to keep, nothing rejected. */
	assert_true(X509_up_ref(by_tag(certs, "NwO")) && sk_X509_push(links, by_tag(certs, "NwO")));
	assert_int_equal(estkit_rollover_filter(links, certs, &out, &known, &rejected), ESTKIT_OK);
	assert_int_equal(sk_X509_num(out), 0);
	assert_int_equal(rejected, 0);
	sk_X509_pop_free(out, X509_free);
	sk_X509_pop_free(links, X509_free);
	sk_X509_free(empty);
	sk_X509_pop_free(certs, X509_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a1_classified),
		cmocka_unit_test(test_a1_new_root_linked),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_unrelated_root_refused),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
