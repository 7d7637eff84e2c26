/*
 * tlspair_testutil.h - a server object that is never started (only its
 * SSL_CTX and trust stores are used) and client connections to it over an
 * in-memory BIO pair, set up as the accept path sets them up; for the tests
 * of what the server keeps per connection (test_server_peer.c,
 * test_server_trust.c). Include after test_server_fixture.h and
 * server/server_internal.h.
 */
#ifndef ESTKIT_TLSPAIR_TESTUTIL_H
#define ESTKIT_TLSPAIR_TESTUTIL_H

#include <openssl/err.h>

/* A server with the fixture's certificates; extra and implicit may be NULL. */
static FX_UNUSED struct estkit_server *tlp_server_new(const char *extra, const char *implicit)
{
	struct estkit_server_config cfg;
	struct estkit_server *srv = NULL;
	char *err = NULL;

	estkit_server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	cfg.client_ca_file = ca_pem;
	cfg.extra_ca_file = extra;
	cfg.implicit_ca_file = implicit;
	cfg.io_threads = 1;
	cfg.job_threads = 1;
	srv = estkit_server_new(&cfg, &test_backend, &err);
	if (srv == NULL)
		fail_msg("server_new: %s", err != NULL ? err : "?");
	return srv;
}

/* Moves what each side wrote to the other until both are idle. 1: both finished. */
static FX_UNUSED int tlp_pump(SSL *c, SSL *s)
{
	int i;

	for (i = 0; i < 64; i++) {
		int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			return 1;
		if (rc <= 0 && SSL_get_error(c, rc) == SSL_ERROR_SSL)
			break;
		if (rs <= 0 && SSL_get_error(s, rs) == SSL_ERROR_SSL)
			break;
	}
	ERR_clear_error();
	return 0;
}

struct tlp_conn {
	SSL_CTX *cctx;
	SSL *c, *s;
};

/*
 * A connection to srv: the client offers exactly TLS version (0: up to
 * TLS 1.2, which has its session at the end of the handshake, for resuming),
 * with cert/key (NULL: no client certificate), resuming resume (may be NULL).
 * The server side gets the trust stores at accept (ek_trust_attach), as in
 * tls.c. The handshake is left to tlp_pump().
 */
static FX_UNUSED void tlp_conn_new(struct tlp_conn *k, struct estkit_server *srv,
				   const char *cert, const char *key, int version,
				   SSL_SESSION *resume)
{
	BIO *bc = NULL, *bs = NULL;

	memset(k, 0, sizeof(*k));
	k->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(k->cctx);
	if (version != 0)
		assert_int_equal(SSL_CTX_set_min_proto_version(k->cctx, version), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(k->cctx,
						       version != 0 ? version : TLS1_2_VERSION), 1);
	if (cert != NULL) {
		assert_int_equal(SSL_CTX_use_certificate_file(k->cctx, cert, SSL_FILETYPE_PEM), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(k->cctx, key, SSL_FILETYPE_PEM), 1);
	}
	k->c = SSL_new(k->cctx);
	k->s = SSL_new(srv->ssl_ctx);
	assert_non_null(k->c);
	assert_non_null(k->s);
	assert_int_equal(ek_trust_attach(srv, k->s), 0);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(k->c, resume), 1);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(k->c, bc, bc);
	SSL_set_bio(k->s, bs, bs);
	SSL_set_connect_state(k->c);
	SSL_set_accept_state(k->s);
}

/* Frees both ends; the server's SSL takes its per-connection entries with it. */
static FX_UNUSED void tlp_conn_free(struct tlp_conn *k)
{
	SSL_free(k->c);
	SSL_free(k->s);
	SSL_CTX_free(k->cctx);
}

#endif
