/*
 * tls.c - the one SSL_CTX all loops share, the per-connection TLS
 * bufferevent, and connection counting.
 *
 * Client certificates are requested but optional (RFC 7030 3.3.2 lets a
 * client authenticate with HTTP instead); a certificate that is presented but
 * does not verify fails the handshake (docs/design.md).
 *
 * Connections are counted per loop: +1 when evhttp asks for a bufferevent,
 * -1 when OpenSSL frees the connection's SSL (an ex_data free callback), which
 * bufferevent_openssl does when evhttp drops the connection. At the limit the
 * loop's listener is paused and further connections wait in the backlog.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include "server/server_internal.h"

/* Mozilla "intermediate" TLS 1.2 suites; TLS 1.3 keeps OpenSSL's defaults. */
#define TLS12_CIPHERS                                                                      \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                       \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                       \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                       \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
/*
 * With srp_verifier_file, after them (a client offering both gets the
 * above): the pure SRP suites of RFC 5054 2.7, the only ones OpenSSL has
 * besides SRP-RSA/SRP-DSS. The SRP proof authenticates the server; an RSA
 * signature on top would need trust anchors the SRP client has not got yet
 * (docs/security.md "TLS-SRP").
 */
#define TLS12_SRP_CIPHERS ":SRP-AES-256-CBC-SHA:SRP-AES-128-CBC-SHA"

static pthread_once_t exidx_once = PTHREAD_ONCE_INIT;
static int conn_exidx = -1;
static int failed_exidx = -1; /* non-NULL once a connection's client cert was counted */

/* Runs in SSL_free(): the connection is gone, give its slot back. */
static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	struct ek_loop *loop = ptr;

	if (loop == NULL)
		return;
	loop->nconns--;
	if (loop->paused && loop->nconns < loop->conn_limit && loop->bound != NULL) {
		evconnlistener_enable(evhttp_bound_socket_get_listener(loop->bound));
		loop->paused = 0;
	}
}

static void exidx_init(void)
{
	conn_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free_cb);
	failed_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * OpenSSL's verdict stands; a client certificate it rejects is a failed
 * authentication of the peer (brute-force protection), counted once per
 * connection.
 */
static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ek_loop *loop = ssl != NULL ? SSL_get_ex_data(ssl, conn_exidx) : NULL;

	if (ok || loop == NULL || SSL_get_ex_data(ssl, failed_exidx) != NULL)
		return ok;
	SSL_set_ex_data(ssl, failed_exidx, loop);
	ek_authfail_tls(loop->srv, SSL_get_fd(ssl), "TLS client certificates");
	return ok;
}

/*
 * A fatal alert we send while an SRP handshake is under way: the client's
 * proof did not match (wrong password or unknown user, RFC 5054 2.6) or it
 * broke off. A failed authentication of the peer, counted once.
 */
static void info_cb(const SSL *ssl, int where, int ret)
{
	struct ek_loop *loop = NULL;

	if ((where & SSL_CB_WRITE_ALERT) != SSL_CB_WRITE_ALERT || (ret >> 8) != SSL3_AL_FATAL ||
	    SSL_is_init_finished(ssl) || !ek_srp_tried(ssl))
		return;
	loop = SSL_get_ex_data(ssl, conn_exidx);
	if (loop == NULL || SSL_get_ex_data(ssl, failed_exidx) != NULL)
		return;
	SSL_set_ex_data((SSL *)ssl, failed_exidx, loop);
	ek_authfail_tls(loop->srv, SSL_get_fd(ssl), "TLS-SRP");
}

static int add_ca_file(struct estkit_server *srv, STACK_OF(X509_NAME) *names, const char *file)
{
	if (file == NULL)
		return 0;
	if (SSL_CTX_load_verify_locations(srv->ssl_ctx, file, NULL) != 1 ||
	    SSL_add_file_cert_subjects_to_stack(names, file) != 1) {
		ek_server_err(srv, 1, "client CA file %s", file);
		return -1;
	}
	return 0;
}

/*
 * TLS-SRP sessions are never resumed: a resumption runs no SRP check, yet its
 * ClientHello may name another SRP user, and OpenSSL would report that name.
 * Every SRP connection is a full handshake that proves the password.
 */
static int not_resumable_cb(SSL *ssl, int is_forward_secure)
{
	const SSL_CIPHER *c = SSL_get_pending_cipher(ssl);

	(void)is_forward_secure;
	return c != NULL && SSL_CIPHER_get_kx_nid(c) == NID_kx_srp;
}

/* Trust anchors for client certificates, and the CA list sent in CertificateRequest. */
static int setup_client_auth(struct estkit_server *srv)
{
	STACK_OF(X509_NAME) *names = NULL;

	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL &&
	    srv->implicit_ca_file == NULL)
		return 0;
	names = sk_X509_NAME_new_null();
	if (names == NULL)
		return -1;
	/* the handshake accepts both databases; trust.c tells them apart (RFC 7030 3.3.2) */
	if (add_ca_file(srv, names, srv->client_ca_file) != 0 ||
	    add_ca_file(srv, names, srv->extra_ca_file) != 0 ||
	    add_ca_file(srv, names, srv->implicit_ca_file) != 0 ||
	    ek_trust_explicit_init(srv) != 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return -1;
	}
	SSL_CTX_set_client_CA_list(srv->ssl_ctx, names);
	/* no FAIL_IF_NO_PEER_CERT: a certificate is optional, a bad one is fatal */
	SSL_CTX_set_verify(srv->ssl_ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_verify_depth(srv->ssl_ctx, 8);
	return 0;
}

/* See server_internal.h. */
enum estkit_status ek_tls_ctx_new(struct estkit_server *srv)
{
	static const unsigned char sid[] = "estkit";
	SSL_CTX *ctx = NULL;

	if (pthread_once(&exidx_once, exidx_init) != 0 || conn_exidx < 0 || failed_exidx < 0) {
		ek_server_err(srv, 1, "SSL ex_data index");
		return ESTKIT_ECRYPTO;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ek_server_err(srv, 1, "SSL_CTX_new");
		return ESTKIT_ECRYPTO;
	}
	srv->ssl_ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_dh_auto(ctx, 1);
	/* resumption with client certificates needs a session id context */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_set_cipher_list(ctx, srv->cfg.srp_verifier_file != NULL
						 ? TLS12_CIPHERS TLS12_SRP_CIPHERS
						 : TLS12_CIPHERS) != 1) {
		ek_server_err(srv, 1, "cipher list");
		return ESTKIT_ECRYPTO;
	}
	if (srv->cert_file == NULL || (srv->key_file == NULL && srv->key == NULL)) {
		ek_server_err(srv, 0, "cert_file and key_file (or key) are required");
		return ESTKIT_EINVAL;
	}
	/* a key object (a token's) signs handshakes where it lives; the check compares public parts */
	if (SSL_CTX_use_certificate_chain_file(ctx, srv->cert_file) != 1 ||
	    (srv->key != NULL ? SSL_CTX_use_PrivateKey(ctx, srv->key)
			      : SSL_CTX_use_PrivateKey_file(ctx, srv->key_file, SSL_FILETYPE_PEM)) !=
		    1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ek_server_err(srv, 1, "TLS certificate %s / key %s", srv->cert_file,
			      srv->key != NULL ? "(key object)" : srv->key_file);
		return ESTKIT_ECRYPTO;
	}
	if (setup_client_auth(srv) != 0)
		return ESTKIT_ECRYPTO;
	if (ek_srp_setup(srv) != 0)
		return ESTKIT_EINVAL;
	if (srv->srp != NULL) {
		SSL_CTX_set_info_callback(ctx, info_cb);
		SSL_CTX_set_not_resumable_session_callback(ctx, not_resumable_cb);
	}
	return ESTKIT_OK;
}

/* See server_internal.h. Runs on the loop that accepted the connection. */
struct bufferevent *ek_tls_bevcb(struct event_base *base, void *arg)
{
	struct ek_loop *loop = arg;
	struct bufferevent *bev = NULL;
	SSL *ssl = SSL_new(loop->srv->ssl_ctx);

	/*
	 * evhttp falls back to a plain socket when we return NULL, so a TLS
	 * failure here must still yield a bufferevent; a NULL SSL cannot, and
	 * only happens when out of memory, where libevent fails anyway.
	 */
	if (ssl == NULL)
		return NULL;
	SSL_set_ex_data(ssl, conn_exidx, loop);
	loop->nconns++;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	if (loop->nconns >= loop->conn_limit && loop->bound != NULL && !loop->paused) {
		evconnlistener_disable(evhttp_bound_socket_get_listener(loop->bound));
		loop->paused = 1;
	}
	return bev;
}

/* See server_internal.h. */
X509 *ek_tls_peer_cert(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert = NULL;

	if (ssl == NULL)
		return NULL;
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return cert;
}

/* See server_internal.h. */
char *ek_tls_peer_srp_user(struct estkit_server *srv, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = NULL;
	SSL *ssl = NULL;

	if (srv->srp == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	return ssl != NULL ? ek_tls_srp_user(ssl) : NULL;
}

/* See server_internal.h. */
void ek_tls_channel_binding(struct evhttp_connection *evcon, char out[ESTKIT_CHANBIND_B64_MAX])
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;

	out[0] = '\0';
	if (ssl != NULL && estkit_tls_channel_binding(ssl, out) != ESTKIT_OK)
		out[0] = '\0';
}
