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
 *
 * The per-address limit (connlim.c) needs the peer's address, which libevent
 * 2.1 does not pass to the bufferevent callback: evhttp sets the accepted
 * socket on the bufferevent only after the callback returns. So a new
 * connection's SSL goes on the loop's pending list and the loop's check event
 * is activated; it runs in the same pass of the loop, after the accepting
 * callback and before the loop polls the new socket, so no byte of a TLS
 * handshake has been read or written. A connection over the limit is shut
 * down there (the peer sees the close at once) and evhttp frees it when it
 * reads the end of the stream, in the next pass; a counted one carries its
 * table entry in its SSL and gives it back when the SSL is freed - on every
 * path, since evhttp always frees the bufferevent and with it the SSL.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
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
static int slot_exidx = -1;   /* per-address table entry + 1 of a counted connection */

/* Takes ssl off its loop's pending list, if it is there. [loop] */
static void unpend(struct ek_loop *loop, const SSL *ssl)
{
	int i;

	for (i = 0; i < loop->npending; i++) {
		if (loop->pending[i] == ssl) {
			loop->pending[i] = loop->pending[--loop->npending];
			return;
		}
	}
}

/* Runs in SSL_free(): the connection is gone, give its slots back. */
static void conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	struct ek_loop *loop = ptr;
	intptr_t slot;

	if (loop == NULL)
		return;
	/* the other indexes' data is still there while the free callbacks run */
	slot = (intptr_t)CRYPTO_get_ex_data(ad, slot_exidx);
	if (slot > 0)
		ek_connlim_release(loop->srv->connlim, (int)(slot - 1));
	else if (loop->npending > 0)
		unpend(loop, parent);
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
	slot_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
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

/* Trust anchors for client certificates (trust.c), and how they are asked for. */
static int setup_client_auth(struct estkit_server *srv)
{
	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL &&
	    srv->implicit_ca_file == NULL)
		return 0;
	/* the handshake accepts both databases; trust.c tells them apart (RFC 7030 3.3.2) */
	if (ek_trust_init(srv) != 0)
		return -1;
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

	if (pthread_once(&exidx_once, exidx_init) != 0 || conn_exidx < 0 || failed_exidx < 0 ||
	    slot_exidx < 0) {
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
	/* the anchors of the moment (a reload may swap them on another thread) */
	if (ek_trust_attach(loop->srv, ssl) != 0) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_ex_data(ssl, conn_exidx, loop);
	loop->nconns++;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	if (loop->srv->connlim != NULL) {
		/* cannot fill (pending <= nconns <= conn_limit); if it did, the older ones have sockets */
		if (loop->npending >= loop->conn_limit)
			ek_tls_check_cb(-1, 0, loop);
		loop->pending[loop->npending++] = ssl;
		event_active(loop->check_ev, EV_READ, 0);
	}
	if (loop->nconns >= loop->conn_limit && loop->bound != NULL && !loop->paused) {
		evconnlistener_disable(evhttp_bound_socket_get_listener(loop->bound));
		loop->paused = 1;
	}
	return bev;
}

/* The rate-limited log line about refused connections; the last came from ss. */
static void connlim_report(struct estkit_server *srv, const struct sockaddr_storage *ss,
			   enum ek_connlim_verdict v)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a = NULL;
	struct ek_connlim_stats st;
	uint64_t n = 0;

	if (!ek_connlim_report_due(srv->connlim, ek_authfail_now(), &n))
		return;
	ek_connlim_stats(srv->connlim, &st);
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss->ss_family, a, host, sizeof(host)) == NULL)
		snprintf(host, sizeof(host), "?");
	ek_server_log(srv, ESTKIT_LOG_WARN,
		      "connection limit: refused peer=%s (%s); %" PRIu64
		      " refused since the last report, %" PRIu64 " in total",
		      host,
		      v == EK_CONNLIM_FULL ? "address table full"
					   : "max_connections_per_address reached",
		      n, st.refused);
}

/* Counts a just-accepted connection for its address, or shuts it down. [loop] */
static void check_conn(struct ek_loop *loop, SSL *ssl)
{
	struct estkit_server *srv = loop->srv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned char key[16];
	enum ek_connlim_verdict v = EK_CONNLIM_FULL;
	int fd = SSL_get_fd(ssl), slot = -1;

	if (fd < 0)
		return; /* no socket: evhttp never set one, nothing to count */
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    ek_addrkey_sockaddr((struct sockaddr *)&ss, sl, key) != 0) {
		shutdown(fd, SHUT_RDWR); /* the peer is gone already */
		return;
	}
	v = ek_connlim_acquire(srv->connlim, key, &slot);
	if (v == EK_CONNLIM_OK) {
		if (SSL_set_ex_data(ssl, slot_exidx, (void *)(intptr_t)(slot + 1)) == 1)
			return;
		ek_connlim_release(srv->connlim, slot);
	}
	/* no handshake: the end of the stream frees it in evhttp's next read */
	shutdown(fd, SHUT_RDWR);
	if (v != EK_CONNLIM_OK)
		connlim_report(srv, &ss, v);
}

/* See server_internal.h. */
void ek_tls_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ek_loop *loop = arg;

	(void)fd;
	(void)what;
	while (loop->npending > 0) {
		SSL *ssl = loop->pending[--loop->npending];
		check_conn(loop, ssl);
	}
}

/* See server_internal.h. */
SSL *ek_tls_conn_ssl(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

	return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}
