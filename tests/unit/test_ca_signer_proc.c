/*
 * test_ca_signer_proc.c - the signer process: its wire format (including
 * malformed and truncated frames), the checks the signer makes before it
 * signs, and real round trips through a forked signer (certificates, CRLs,
 * CMS, many threads at once, a dead signer giving ESTKIT_ECRYPTO).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <estkit/cmc.h>
#include <estkit/pki.h>

#include "ca/issue.h"
#include "ca/profile.h"
#include "ca/signer.h"
#include "ca/signer_proc.h"
#include "ca/signer_wire.h"
#include "ca_testutil.h"
#include "signer_testutil.h"

/* ---- wire format ------------------------------------------------------------------ */

static unsigned char *frame_of(const struct estd_signer_msg *m, int rsp, size_t *len)
{
	unsigned char *f = NULL;

	assert_int_equal(estd_signer_msg_encode(m, rsp, &f, len), ESTKIT_OK);
	return f;
}

static void test_wire_round_trip(void **state)
{
	unsigned char data[] = { 1, 2, 3, 0, 255 };
	struct estd_signer_msg m = { 0 }, out;
	unsigned char *f;
	size_t len;

	(void)state;
	m.id = 4000000000u;
	m.op = ESTD_SIGNER_OP_SIGN_CERT;
	m.key = 1;
	m.data = data;
	m.len = sizeof(data);
	f = frame_of(&m, 0, &len);
	assert_int_equal(estd_signer_frame_len(f), (long)(len - 4));
	assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 0, &out), ESTKIT_OK);
	assert_true(out.id == 4000000000u && out.op == m.op && out.key == 1);
	assert_int_equal(out.len, sizeof(data));
	assert_memory_equal(out.data, data, sizeof(data));
	estd_signer_msg_clear(&out);
	free(f);

	memset(&m, 0, sizeof(m));
	m.id = 7;
	m.status = ESTKIT_EPOLICY;
	m.reason = (char *)"no";
	f = frame_of(&m, 1, &len);
	assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 1, &out), ESTKIT_OK);
	assert_int_equal(out.status, ESTKIT_EPOLICY);
	assert_string_equal(out.reason, "no");
	assert_int_equal(out.len, 0);
	estd_signer_msg_clear(&out);
	free(f);
}

static void test_wire_frame_len_table(void **state)
{
	static const struct {
		unsigned char hdr[4];
		long want;
	} t[] = {
		{ { 0, 0, 0, 0 }, -1 },           /* empty frame */
		{ { 0, 0, 0, 1 }, 1 },
		{ { 0, 0x10, 0, 0 }, 0x100000 },  /* exactly the maximum */
		{ { 0, 0x10, 0, 1 }, -1 },        /* one over */
		{ { 0xff, 0xff, 0xff, 0xff }, -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(estd_signer_frame_len(t[i].hdr), t[i].want);
}

/* Every truncation of a valid request, and trailing garbage, are refused. */
static void test_wire_decode_refuses_truncated_and_trailing(void **state)
{
	unsigned char data[64];
	struct estd_signer_msg m = { 0 }, out;
	unsigned char *f, *big;
	size_t len, cut;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	m.op = ESTD_SIGNER_OP_SIGN_CRL;
	m.data = data;
	m.len = sizeof(data);
	f = frame_of(&m, 0, &len);
	for (cut = 0; cut < len - 4; cut++)
		assert_int_equal(estd_signer_msg_decode(f + 4, cut, 0, &out), ESTKIT_EPARSE);
	big = malloc(len + 1);
	memcpy(big, f, len);
	big[len] = 0;
	assert_int_equal(estd_signer_msg_decode(big + 4, len - 3, 0, &out), ESTKIT_EPARSE);
	/* a request is not a response and the other way round */
	assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 1, &out), ESTKIT_EPARSE);
	free(big);
	free(f);
}

static void test_wire_decode_refuses_bad_fields(void **state)
{
	static const struct {
		int op, key;
	} t[] = {
		{ 0, 0 }, { 5, 0 }, { -1, 0 }, { ESTD_SIGNER_OP_PUBKEY, 2 }, { ESTD_SIGNER_OP_PUBKEY, -1 },
	};
	static const unsigned char garbage[][6] = {
		{ 0x30, 0x00 }, { 0x30, 0x80, 0, 0 }, { 0x04, 0x01, 0x00 }, { 0xff, 0xff, 0xff },
		{ 0x30, 0x03, 0x02, 0x01, 0x00 },
	};
	struct estd_signer_msg m = { 0 }, out;
	unsigned char *f;
	size_t i, len;
	X509 *x = NULL;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m.op = t[i].op;
		m.key = t[i].key;
		f = frame_of(&m, 0, &len);
		assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 0, &out), ESTKIT_EPARSE);
		free(f);
	}
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_int_equal(estd_signer_msg_decode(garbage[i], sizeof(garbage[i]), 0, &out),
				 ESTKIT_EPARSE);
	assert_int_equal(estd_signer_msg_decode(NULL, 0, 0, &out), ESTKIT_EPARSE);
	/* extra certificates only with sign-cms */
	{
		EVP_PKEY *k = tu_key("EC", "P-256", 0);

		x = tu_ca_cert(k, "x", 1, 0);
		EVP_PKEY_free(k);
	}
	m.op = ESTD_SIGNER_OP_SIGN_CERT;
	m.key = 0;
	m.extra = sk_X509_new_null();
	sk_X509_push(m.extra, x);
	f = frame_of(&m, 0, &len);
	assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 0, &out), ESTKIT_EPARSE);
	free(f);
	m.op = ESTD_SIGNER_OP_SIGN_CMS;
	f = frame_of(&m, 0, &len);
	assert_int_equal(estd_signer_msg_decode(f + 4, len - 4, 0, &out), ESTKIT_OK);
	assert_int_equal(sk_X509_num(out.extra), 1);
	estd_signer_msg_clear(&out);
	free(f);
	sk_X509_pop_free(m.extra, X509_free);
}

/* Frames read from a socket: whole, split, short, oversized. */
static void test_wire_frame_read(void **state)
{
	unsigned char huge[4] = { 0x7f, 0, 0, 0 };
	struct estd_signer_msg m = { 0 };
	unsigned char *f, *body = NULL;
	size_t len, blen;
	int sv[2];

	(void)state;
	m.op = ESTD_SIGNER_OP_PUBKEY;
	f = frame_of(&m, 0, &len);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], f, 3), 3);
	assert_int_equal(write(sv[0], f + 3, len - 3), (ssize_t)(len - 3));
	assert_int_equal(estd_signer_frame_read(sv[1], 1000, &body, &blen), ESTKIT_OK);
	assert_int_equal(blen, len - 4);
	free(body);
	/* half a frame, then silence: a timeout, not a hang */
	assert_int_equal(write(sv[0], f, len - 1), (ssize_t)(len - 1));
	assert_int_equal(estd_signer_frame_read(sv[1], 100, &body, &blen), ESTKIT_ETIMEOUT);
	close(sv[0]);
	close(sv[1]);
	/* a length over the limit */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], huge, 4), 4);
	assert_int_equal(estd_signer_frame_read(sv[1], 100, &body, &blen), ESTKIT_EPARSE);
	/* the peer closed mid-frame */
	assert_int_equal(write(sv[0], f, 2), 2);
	close(sv[0]);
	assert_int_equal(estd_signer_frame_read(sv[1], 100, &body, &blen), ESTKIT_ENET);
	close(sv[1]);
	free(f);
}

/* ---- the signer's checks ---------------------------------------------------------- */

/* A to-be-signed end-entity (or CA) certificate issued by issuer. */
static X509 *tbs_for(const char *issuer, int ca_flag, int keycertsign)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)issuer, -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"leaf", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_pubkey(x, k);
	assert_int_equal(estd_cert_set_random_serial(x), ESTKIT_OK);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	if (ca_flag) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (keycertsign) {
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_NAME_free(n);
	EVP_PKEY_free(k);
	return x;
}

static void test_check_cert_table(void **state)
{
	static const struct {
		const char *issuer;
		int ca, kcs, cut, trail;
		enum estkit_status want;
	} t[] = {
		{ "Test CA", 0, 0, 0, 0, ESTKIT_OK },
		{ "Other CA", 0, 0, 0, 0, ESTKIT_EPOLICY }, /* foreign issuer */
		{ "Test CA", 1, 0, 0, 0, ESTKIT_EPOLICY },  /* CA:TRUE: no sub-CA */
		{ "Test CA", 0, 1, 0, 0, ESTKIT_EPOLICY },  /* keyCertSign */
		{ "Test CA", 0, 0, 1, 0, ESTKIT_EPARSE },   /* truncated */
		{ "Test CA", 0, 0, 40, 0, ESTKIT_EPARSE },
		{ "Test CA", 0, 0, 0, 1, ESTKIT_EPARSE },   /* trailing byte */
	};
	X509_NAME *ca = X509_NAME_new();
	unsigned char *der = NULL, *buf;
	size_t len, i;
	char why[128];
	X509 *x, *out = NULL;

	(void)state;
	X509_NAME_add_entry_by_txt(ca, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1, -1,
				   0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		x = tbs_for(t[i].issuer, t[i].ca, t[i].kcs);
		assert_int_equal(estd_signer_tbs_cert(x, &der, &len), ESTKIT_OK);
		buf = malloc(len + 1);
		memcpy(buf, der, len);
		buf[len] = 0;
		assert_int_equal(estd_signer_check_cert(buf, len - (size_t)t[i].cut + (size_t)t[i].trail,
							ca, &out, why, sizeof(why)),
				 t[i].want);
		assert_true((out != NULL) == (t[i].want == ESTKIT_OK));
		X509_free(out);
		free(buf);
		OPENSSL_free(der);
		X509_free(x);
	}
	assert_int_equal(estd_signer_check_cert(NULL, 0, ca, &out, why, sizeof(why)), ESTKIT_EPARSE);
	X509_NAME_free(ca);
}

static X509_CRL *crl_for(const char *issuer)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *n = X509_NAME_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, time(NULL));

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)issuer, -1, -1, 0);
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, n);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_NAME_free(n);
	ASN1_TIME_free(t);
	return crl;
}

static void test_check_crl_table(void **state)
{
	X509_NAME *ca = X509_NAME_new();
	X509_CRL *crl, *out = NULL;
	unsigned char *der = NULL;
	size_t len;
	char why[128];

	(void)state;
	X509_NAME_add_entry_by_txt(ca, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1, -1,
				   0);
	crl = crl_for("Test CA");
	assert_int_equal(estd_signer_tbs_crl(crl, &der, &len), ESTKIT_OK);
	assert_int_equal(estd_signer_check_crl(der, len, ca, &out, why, sizeof(why)), ESTKIT_OK);
	X509_CRL_free(out);
	assert_int_equal(estd_signer_check_crl(der, len - 1, ca, &out, why, sizeof(why)),
			 ESTKIT_EPARSE);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	crl = crl_for("Other CA");
	assert_int_equal(estd_signer_tbs_crl(crl, &der, &len), ESTKIT_OK);
	assert_int_equal(estd_signer_check_crl(der, len, ca, &out, why, sizeof(why)), ESTKIT_EPOLICY);
	assert_null(out);
	OPENSSL_free(der);
	X509_CRL_free(crl);
	X509_NAME_free(ca);
}

/* ---- a real signer process ----------------------------------------------------------- */

static int setup_proc(void **state)
{
	*state = tu_signer_fixture_new("signerXXXXXX", 2);
	return 0;
}

static int teardown_proc(void **state)
{
	tu_signer_fixture_free(*state);
	return 0;
}

static struct estd_ca_profile *profile(void)
{
	return tu_profile("ec:P-256, rsa:2048");
}

static void issue_and_verify(struct tu_signer_fixture *f, struct estd_ca_profile *p)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(k, "leaf", NULL, NULL);
	X509 *cert = NULL;
	char reason[256];

	assert_int_equal(estd_ca_issue(f->ca, p, csr, &cert, reason, sizeof(reason)), ESTKIT_OK);
	assert_int_equal(X509_verify(cert, X509_get0_pubkey(f->cacert)), 1);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
}

static void test_proc_issues_and_signs(void **state)
{
	struct tu_signer_fixture *f = *state;
	struct estd_ca_profile *p = profile();
	struct estd_signer *s = estd_ca_signer(f->ca);
	X509_CRL *crl = crl_for("Test CA");
	EVP_PKEY *pub = NULL;

	issue_and_verify(f, p);
	/* the public half only, in this process */
	assert_int_equal(estd_signer_public_key(s, &pub), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(pub, X509_get0_pubkey(f->cacert)), 1);
	EVP_PKEY_free(pub);
	/* CRLs */
	assert_int_equal(estd_signer_sign_crl(s, crl), ESTKIT_OK);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->cacert)), 1);
	X509_CRL_free(crl);
	estd_profile_free(p);
}

static void test_proc_signs_cms_pkiresponse_only(void **state)
{
	struct tu_signer_fixture *f = *state;
	struct estd_signer *s = estd_ca_signer(f->ca);
	struct estkit_cmc_resp *r = NULL;
	unsigned char *der = NULL, *out = NULL;
	size_t len = 0, outlen = 0;
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };

	assert_int_equal(estkit_cmc_resp_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_encode(r, &der, &len), ESTKIT_OK);
	assert_int_equal(estd_signer_sign_cms(s, f->cacert, der, len, NULL, &out, &outlen),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_verify_key(out, outlen, X509_get0_pubkey(f->cacert), NULL),
			 ESTKIT_OK);
	estkit_free(out);
	out = NULL;
	assert_int_equal(estd_signer_sign_cms(s, f->cacert, junk, sizeof(junk), NULL, &out, &outlen),
			 ESTKIT_ECRYPTO);
	assert_null(out);
	estkit_free(der);
	estkit_cmc_resp_free(r);
}

/* What a compromised network process might send: refused by the signer. */
static void test_proc_refuses_foreign_issuer_and_sub_ca(void **state)
{
	struct tu_signer_fixture *f = *state;
	struct estd_signer *s = estd_ca_signer(f->ca);
	X509 *foreign = tbs_for("Other CA", 0, 0), *subca = tbs_for("Test CA", 1, 0);
	X509_CRL *crl = crl_for("Other CA");

	assert_int_equal(estd_signer_sign_cert(s, foreign), ESTKIT_ECRYPTO);
	assert_int_equal(estd_signer_sign_cert(s, subca), ESTKIT_ECRYPTO);
	assert_int_equal(estd_signer_sign_crl(s, crl), ESTKIT_ECRYPTO);
	X509_free(foreign);
	X509_free(subca);
	X509_CRL_free(crl);
	/* a key the signer process did not load is not reachable */
	{
		struct estd_signer *other = NULL;
		char *err = NULL;

		assert_int_not_equal(estd_signer_load("elsewhere.key", &other, &err), ESTKIT_OK);
		assert_non_null(err);
		free(err);
	}
}

struct thr {
	struct tu_signer_fixture *f;
	struct estd_ca_profile *p;
};

static void *issuer_thread(void *arg)
{
	struct thr *t = arg;
	int i;

	for (i = 0; i < 15; i++)
		issue_and_verify(t->f, t->p);
	return NULL;
}

static void test_proc_many_threads(void **state)
{
	struct thr t = { *state, profile() };
	pthread_t th[4];
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, issuer_thread, &t), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	estd_profile_free(t.p);
}

/* The whole signer gone: ESTKIT_ECRYPTO at once; the policy check still needs no signer. */
static void test_proc_dead_signer_fails_fast_and_check_does_not_sign(void **state)
{
	struct tu_signer_fixture *f = *state;
	struct estd_ca_profile *p = profile();
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(k, "leaf", NULL, NULL);
	X509 *cert = NULL;
	char reason[256];
	time_t t0;

	kill(estd_signer_proc_pid(f->proc), SIGKILL);
	waitpid(estd_signer_proc_pid(f->proc), NULL, 0);
	usleep(100000); /* the workers follow their supervisor (PR_SET_PDEATHSIG) */
	t0 = time(NULL);
	assert_int_equal(estd_ca_issue(f->ca, p, csr, &cert, reason, sizeof(reason)),
			 ESTKIT_ECRYPTO);
	assert_null(cert);
	assert_true(time(NULL) - t0 <= 4);
	assert_int_equal(estd_ca_check_request(f->ca, p, csr, reason, sizeof(reason)), ESTKIT_OK);
	X509_REQ_free(csr);
	EVP_PKEY_free(k);
	estd_profile_free(p);
}

/*
 * The signer parses what it is sent without decoding the public key (no
 * provider decoders: BENCHMARKS.md), yet signs it into a certificate whose
 * key decodes and whose signature verifies once parsed normally.
 */
static void test_check_cert_leaves_the_key_undecoded_and_signs(void **state)
{
	X509_NAME *ca = X509_NAME_new();
	EVP_PKEY *cakey = tu_key("EC", "P-256", 0);
	struct estd_signer *s = NULL;
	unsigned char *der = NULL, *signed_der = NULL;
	const unsigned char *p = NULL;
	X509 *x = tbs_for("Test CA", 0, 0), *out = NULL, *back = NULL;
	size_t len;
	int n;
	char why[128];

	(void)state;
	X509_NAME_add_entry_by_txt(ca, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1, -1,
				   0);
	assert_int_equal(estd_signer_new(cakey, &s), ESTKIT_OK);
	assert_int_equal(estd_signer_tbs_cert(x, &der, &len), ESTKIT_OK);
	assert_int_equal(estd_signer_check_cert(der, len, ca, &out, why, sizeof(why)), ESTKIT_OK);
	ERR_set_mark();
	assert_null(X509_get0_pubkey(out));
	ERR_pop_to_mark();
	assert_int_equal(X509_get_extension_flags(out) & EXFLAG_INVALID, 0);
	assert_int_equal(estd_signer_sign_cert(s, out), ESTKIT_OK);
	n = i2d_X509(out, &signed_der);
	assert_true(n > 0);
	p = signed_der;
	back = d2i_X509(NULL, &p, n);
	assert_non_null(back);
	assert_non_null(X509_get0_pubkey(back));
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(back), X509_get0_pubkey(x)), 1);
	assert_int_equal(X509_verify(back, cakey), 1);
	X509_free(back);
	OPENSSL_free(signed_der);
	X509_free(out);
	OPENSSL_free(der);
	X509_free(x);
	estd_signer_free(s);
	EVP_PKEY_free(cakey);
	X509_NAME_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_round_trip),
		cmocka_unit_test(test_wire_frame_len_table),
		cmocka_unit_test(test_wire_decode_refuses_truncated_and_trailing),
		cmocka_unit_test(test_wire_decode_refuses_bad_fields),
		cmocka_unit_test(test_wire_frame_read),
		cmocka_unit_test(test_check_cert_table),
		cmocka_unit_test(test_check_cert_leaves_the_key_undecoded_and_signs),
		cmocka_unit_test(test_check_crl_table),
		cmocka_unit_test_setup_teardown(test_proc_issues_and_signs, setup_proc, teardown_proc),
		cmocka_unit_test_setup_teardown(test_proc_signs_cms_pkiresponse_only, setup_proc,
						teardown_proc),
		cmocka_unit_test_setup_teardown(test_proc_refuses_foreign_issuer_and_sub_ca, setup_proc,
						teardown_proc),
		cmocka_unit_test_setup_teardown(test_proc_many_threads, setup_proc, teardown_proc),
		cmocka_unit_test_setup_teardown(test_proc_dead_signer_fails_fast_and_check_does_not_sign,
						setup_proc, teardown_proc),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
