/*
 * test_chanbind.c - estkit_tls_channel_binding() on in-memory handshakes:
 * both ends agree on TLS 1.2 (full and resumed: RFC 5929 3.1 picks a
 * different Finished) and TLS 1.3 (RFC 9266), connections differ, and the
 * cases without a binding (no handshake yet, TLS 1.2 without the extended
 * master secret) fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <estkit/chanbind.h>
#include <estkit/pki.h>

static SSL_CTX *sctx, *cctx;

/* A self-signed server certificate for "localhost". */
static int setup(void **state)
{
	EVP_PKEY *key = NULL;
	X509 *x = X509_new();

	(void)state;
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, key), 1);
	SSL_CTX_set_session_id_context(sctx, (const unsigned char *)"t", 1);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT);
	X509_free(x);
	EVP_PKEY_free(key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}

struct pair {
	SSL *c, *s;
};

/* A client and a server SSL joined by a BIO pair; not yet handshaken. */
static void pair_new(struct pair *p, int version, long opts, SSL_SESSION *resume)
{
	BIO *bc = NULL, *bs = NULL;

	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	p->c = SSL_new(cctx);
	p->s = SSL_new(sctx);
	assert_non_null(p->c);
	assert_non_null(p->s);
	SSL_set_min_proto_version(p->c, version);
	SSL_set_max_proto_version(p->c, version);
	SSL_set_options(p->c, (uint64_t)opts);
	SSL_set_options(p->s, (uint64_t)opts);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(p->c, resume), 1);
	SSL_set_bio(p->c, bc, bc);
	SSL_set_bio(p->s, bs, bs);
	SSL_set_connect_state(p->c);
	SSL_set_accept_state(p->s);
}

static void handshake(struct pair *p)
{
	int i, rc = 0, rs = 0;

	for (i = 0; i < 100 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(p->c);
		if (rs != 1)
			rs = SSL_do_handshake(p->s);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(rs, 1);
	/* TLS 1.3 tickets arrive after the handshake; read them so resumption works */
	{
		char b;
		(void)SSL_read(p->c, &b, 1);
	}
}

static void pair_free(struct pair *p)
{
	SSL_free(p->c);
	SSL_free(p->s);
}

struct tcase {
	int version;
	size_t raw_len; /* bytes of the binding */
};

static const struct tcase cases[] = {
	{TLS1_2_VERSION, 12}, /* a TLS 1.2 Finished: verify_data of 12 bytes */
	{TLS1_3_VERSION, 32}, /* RFC 9266: 32 exported bytes */
};

/* base64 of n bytes is 4 * ceil(n / 3) characters */
static size_t b64len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

static void test_both_ends_agree_and_connections_differ(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char c1[ESTKIT_CHANBIND_B64_MAX], s1[ESTKIT_CHANBIND_B64_MAX];
		char c2[ESTKIT_CHANBIND_B64_MAX], s2[ESTKIT_CHANBIND_B64_MAX];
		struct pair p1, p2;

		pair_new(&p1, cases[i].version, 0, NULL);
		/* before the handshake there is nothing to bind to */
		assert_int_equal(estkit_tls_channel_binding(p1.c, c1), ESTKIT_ETLS);
		assert_string_equal(c1, "");
		handshake(&p1);
		pair_new(&p2, cases[i].version, 0, NULL);
		handshake(&p2);
		assert_int_equal(estkit_tls_channel_binding(p1.c, c1), ESTKIT_OK);
		assert_int_equal(estkit_tls_channel_binding(p1.s, s1), ESTKIT_OK);
		assert_int_equal(estkit_tls_channel_binding(p2.c, c2), ESTKIT_OK);
		assert_int_equal(estkit_tls_channel_binding(p2.s, s2), ESTKIT_OK);
		assert_string_equal(c1, s1);
		assert_string_equal(c2, s2);
		assert_string_not_equal(c1, c2);
		assert_int_equal(strlen(c1), b64len(cases[i].raw_len));
		pair_free(&p1);
		pair_free(&p2);
	}
}

/* RFC 5929 3.1: on a resumed TLS 1.2 handshake the server's Finished comes first. */
static void test_tls12_resumption_agrees(void **state)
{
	char c[ESTKIT_CHANBIND_B64_MAX], s[ESTKIT_CHANBIND_B64_MAX];
	unsigned char fin[64];
	struct pair p1, p2;
	SSL_SESSION *sess = NULL;

	(void)state;
	pair_new(&p1, TLS1_2_VERSION, 0, NULL);
	handshake(&p1);
	sess = SSL_get1_session(p1.c);
	assert_non_null(sess);
	pair_new(&p2, TLS1_2_VERSION, 0, sess);
	handshake(&p2);
	assert_int_equal(SSL_session_reused(p2.c), 1);
	assert_int_equal(SSL_session_reused(p2.s), 1);
	assert_int_equal(estkit_tls_channel_binding(p2.c, c), ESTKIT_OK);
	assert_int_equal(estkit_tls_channel_binding(p2.s, s), ESTKIT_OK);
	assert_string_equal(c, s);
	/* and it is the server's Finished, not the client's */
	assert_int_equal(SSL_get_finished(p2.s, fin, sizeof(fin)), 12);
	{
		unsigned char enc[32];
		assert_int_equal(EVP_EncodeBlock(enc, fin, 12), 16);
		assert_string_equal((char *)enc, s);
	}
	SSL_SESSION_free(sess);
	pair_free(&p1);
	pair_free(&p2);
}

/* RFC 7627: tls-unique without the extended master secret is refused. */
static void test_tls12_without_ems_has_no_binding(void **state)
{
	char c[ESTKIT_CHANBIND_B64_MAX];
	struct pair p;

	(void)state;
	pair_new(&p, TLS1_2_VERSION, (long)SSL_OP_NO_EXTENDED_MASTER_SECRET, NULL);
	handshake(&p);
	assert_int_equal(estkit_tls_channel_binding(p.c, c), ESTKIT_ETLS);
	assert_int_equal(estkit_tls_channel_binding(p.s, c), ESTKIT_ETLS);
	assert_int_equal(estkit_tls_channel_binding(NULL, c), ESTKIT_EINVAL);
	assert_int_equal(estkit_tls_channel_binding(p.c, NULL), ESTKIT_EINVAL);
	pair_free(&p);
	ERR_clear_error();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_ends_agree_and_connections_differ),
		cmocka_unit_test(test_tls12_resumption_agrees),
		cmocka_unit_test(test_tls12_without_ems_has_no_binding),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
