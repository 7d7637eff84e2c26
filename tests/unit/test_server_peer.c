/*
 * test_server_peer.c - a connection's peer worked out once (lib/server/peer.c):
 * real TLS handshakes in memory (BIO pairs) against the server's own SSL_CTX,
 * then ek_peer_get() called for several "requests" of the same connection.
 * Client certificates of the explicit CA, of an implicit (third-party) CA,
 * none, and a connection whose handshake never ran; the implicit check runs
 * once per connection (srv->peer_verifications), again after the trust
 * anchors changed (estkit_server_add_client_ca() bumps the generation), and
 * its verdict follows the new anchors. The premises: renegotiation is refused
 * and no post-handshake authentication is asked for.
 */
#include "test_server_fixture.h"
#include <openssl/err.h>
#include "server/server_internal.h"
#include "tlspair_testutil.h"

static char tp_pem[300], dev_pem[300], dev_key[300];
static X509 *tp_cert;

/* A third-party CA and a device certificate it issued (the implicit database). */
static void make_third_party(void)
{
	EVP_PKEY *tk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *dk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *dc = NULL;

	assert_non_null(tk);
	assert_non_null(dk);
	snprintf(tp_pem, sizeof(tp_pem), "%s/thirdparty.pem", dir);
	snprintf(dev_pem, sizeof(dev_pem), "%s/device.pem", dir);
	snprintf(dev_key, sizeof(dev_key), "%s/device.key", dir);
	tp_cert = make_cert(tk, "third-party CA", NULL, NULL, NULL, 1);
	dc = make_cert(dk, "device", tp_cert, tk, "DNS:device.example", 0);
	write_pem(tp_pem, tp_cert, NULL);
	write_pem(dev_pem, dc, NULL);
	write_pem(dev_key, NULL, dk);
	X509_free(dc);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(dk);
}

static int group_setup(void **state)
{
	(void)state;
	if (fixture_setup() != 0)
		return -1;
	make_third_party();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(tp_pem);
	unlink(dev_pem);
	unlink(dev_key);
	X509_free(tp_cert);
	return fixture_teardown();
}

/* A connection to srv at TLS version; cert/key NULL: no client certificate. */
static void conn_open(struct tlp_conn *k, struct estkit_server *srv, const char *cert,
		      const char *key, int version, int handshake)
{
	tlp_conn_new(k, srv, cert, key, version, NULL);
	if (handshake) {
		assert_int_equal(tlp_pump(k->c, k->s), 1);
		assert_true(SSL_is_init_finished(k->c));
		assert_true(SSL_is_init_finished(k->s));
	}
}

static unsigned long verifications(struct estkit_server *srv)
{
	return __atomic_load_n(&srv->peer_verifications, __ATOMIC_RELAXED);
}

/* Every kind of peer, each connection asked five times ("requests"). */
static void test_peer_worked_out_once_per_connection(void **state)
{
	static const struct {
		const char *name;
		int implicit_db;      /* server has an implicit database */
		int which;            /* 0: explicit client, 1: device (implicit), 2: none */
		int version;
		int handshake;        /* 0: a connection whose handshake never ran */
		int want_cert, want_implicit;
		const char *want_identity; /* substring, NULL: none */
		unsigned long want_checks; /* implicit checks for the five gets */
	} t[] = {
		{ "explicit, TLS 1.3", 1, 0, TLS1_3_VERSION, 1, 1, 0, "cert:", 1 },
		{ "explicit, TLS 1.2", 1, 0, TLS1_2_VERSION, 1, 1, 0, "client1", 1 },
		{ "implicit, TLS 1.3", 1, 1, TLS1_3_VERSION, 1, 1, 1, "device", 1 },
		{ "implicit, TLS 1.2", 1, 1, TLS1_2_VERSION, 1, 1, 1, "device", 1 },
		{ "explicit, no implicit database", 0, 0, TLS1_3_VERSION, 1, 1, 0, "client1", 0 },
		{ "no client certificate", 1, 2, TLS1_3_VERSION, 1, 0, 0, NULL, 0 },
		{ "handshake never ran", 1, 0, TLS1_3_VERSION, 0, 0, 0, NULL, 0 },
	};
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct estkit_server *srv = tlp_server_new(NULL, t[i].implicit_db ? tp_pem : NULL);
		const char *cert = t[i].which == 0 ? cli_pem : t[i].which == 1 ? dev_pem : NULL;
		const char *key = t[i].which == 0 ? cli_key : t[i].which == 1 ? dev_key : NULL;
		struct ek_peer *first = NULL, *p = NULL;
		struct tlp_conn k;

		conn_open(&k, srv, cert, key, t[i].version, t[i].handshake);
		for (n = 0; n < 5; n++) {
			p = ek_peer_get(srv, k.s);
			assert_non_null(p);
			if (first == NULL)
				first = p;
			assert_ptr_equal(p, first); /* the connection's one entry */
		}
		if (t[i].want_cert)
			assert_ptr_equal(p->cert, SSL_get0_peer_certificate(k.s));
		else
			assert_null(p->cert);
		assert_int_equal(p->implicit, t[i].want_implicit);
		if (t[i].want_identity != NULL) {
			assert_non_null(p->identity);
			assert_non_null(strstr(p->identity, t[i].want_identity));
			assert_int_equal(strncmp(p->identity, "cert:", 5), 0);
		} else {
			assert_null(p->identity);
		}
		assert_null(p->srp_user);
		if (verifications(srv) != t[i].want_checks)
			fail_msg("%s: %lu implicit checks, want %lu", t[i].name, verifications(srv),
				 t[i].want_checks);
		tlp_conn_free(&k);
		estkit_server_free(srv);
	}
}

/* A new trust generation: worked out again, once, against the anchors as they are now. */
static void test_trust_change_recomputes(void **state)
{
	struct estkit_server *srv = tlp_server_new(NULL, tp_pem);
	struct tlp_conn dev, cli;
	struct ek_peer *p = NULL;
	unsigned gen = srv->trust_gen;
	int n;

	(void)state;
	conn_open(&dev, srv, dev_pem, dev_key, TLS1_3_VERSION, 1);
	conn_open(&cli, srv, cli_pem, cli_key, TLS1_2_VERSION, 1);
	p = ek_peer_get(srv, dev.s);
	assert_non_null(p);
	assert_int_equal(p->implicit, 1);
	assert_non_null(ek_peer_get(srv, cli.s));
	assert_int_equal(verifications(srv), 2);

	/* the third-party CA becomes an explicit anchor (as a rollover's new root does) */
	assert_int_equal(estkit_server_add_client_ca(srv, tp_cert), ESTKIT_OK);
	assert_int_not_equal(srv->trust_gen, gen);
	for (n = 0; n < 3; n++) {
		p = ek_peer_get(srv, dev.s);
		assert_non_null(p);
		assert_int_equal(p->implicit, 0);
		assert_non_null(p->cert);
		assert_non_null(strstr(p->identity, "device"));
	}
	assert_int_equal(verifications(srv), 3);
	p = ek_peer_get(srv, cli.s);
	assert_non_null(p);
	assert_int_equal(p->implicit, 0);
	assert_int_equal(verifications(srv), 4);

	/* an anchor already present is still a change of generation, never an error */
	assert_int_equal(estkit_server_add_client_ca(srv, tp_cert), ESTKIT_OK);
	assert_non_null(ek_peer_get(srv, dev.s));
	assert_int_equal(verifications(srv), 5);
	tlp_conn_free(&dev);
	tlp_conn_free(&cli);
	estkit_server_free(srv);
}

/* The channel binding: the client's own value, worked out on first use and kept. */
static void test_channel_binding_kept(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct estkit_server *srv = tlp_server_new(NULL, NULL);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		char want[ESTKIT_CHANBIND_B64_MAX];
		struct tlp_conn k;
		struct ek_peer *p = NULL;
		const char *cb = NULL;

		conn_open(&k, srv, cli_pem, cli_key, versions[i], 1);
		assert_int_equal(estkit_tls_channel_binding(k.c, want), ESTKIT_OK);
		p = ek_peer_get(srv, k.s);
		assert_non_null(p);
		assert_int_equal(p->chanbind_done, 0); /* only enrollments need it */
		cb = ek_peer_channel_binding(p, k.s);
		assert_string_equal(cb, want);
		assert_int_equal(p->chanbind_done, 1);
		assert_ptr_equal(ek_peer_channel_binding(p, k.s), cb);
		tlp_conn_free(&k);
	}
	/* a connection whose handshake never ran has none */
	{
		struct tlp_conn k;
		struct ek_peer *p = NULL;

		conn_open(&k, srv, cli_pem, cli_key, TLS1_3_VERSION, 0);
		p = ek_peer_get(srv, k.s);
		assert_non_null(p);
		assert_string_equal(ek_peer_channel_binding(p, k.s), "");
		tlp_conn_free(&k);
	}
	estkit_server_free(srv);
}

/*
 * Why the entry may be kept: the peer certificate cannot change on a
 * connection. A TLS 1.2 client asking to renegotiate is refused, and the
 * server never asks for TLS 1.3 post-handshake authentication.
 */
static void test_no_renegotiation_no_post_handshake_auth(void **state)
{
	struct estkit_server *srv = tlp_server_new(NULL, tp_pem);
	struct tlp_conn k;
	unsigned char buf[16];
	X509 *before = NULL;
	int i, rc = 0;

	(void)state;
	assert_int_equal(SSL_CTX_get_verify_mode(srv->ssl_ctx) & SSL_VERIFY_POST_HANDSHAKE, 0);
	conn_open(&k, srv, cli_pem, cli_key, TLS1_2_VERSION, 1);
	before = SSL_get0_peer_certificate(k.s);
	assert_non_null(before);
	assert_int_equal(SSL_renegotiate(k.c), 1);
	for (i = 0; i < 16; i++) {
		rc = SSL_do_handshake(k.c);
		if (rc <= 0 && SSL_get_error(k.c, rc) == SSL_ERROR_SSL)
			break;
		(void)SSL_read(k.s, buf, sizeof(buf)); /* the server sees the ClientHello */
	}
	assert_true(rc <= 0);
	assert_int_equal(SSL_get_error(k.c, rc), SSL_ERROR_SSL);
	ERR_clear_error();
	assert_ptr_equal(SSL_get0_peer_certificate(k.s), before);
	tlp_conn_free(&k);
	estkit_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_worked_out_once_per_connection),
		cmocka_unit_test(test_trust_change_recomputes),
		cmocka_unit_test(test_channel_binding_kept),
		cmocka_unit_test(test_no_renegotiation_no_post_handshake_auth),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
