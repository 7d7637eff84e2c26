/*
 * peer.c - what a connection's TLS handshake says about the client, worked
 * out once per connection instead of once per request: the verified client
 * certificate and the identity it names, whether it chains to the implicit
 * trust anchors only (RFC 7030 3.3.2, an X509_verify_cert() against the
 * explicit ones), the TLS-SRP user, and the channel binding (RFC 7030 3.5).
 *
 * None of that can change while the connection lives: renegotiation is off
 * (SSL_OP_NO_RENEGOTIATION, tls.c) and the server never asks for TLS 1.3
 * post-handshake authentication, so the peer certificate, the Finished
 * messages and the exporter secret are those of the connection's one
 * handshake. What can change is the trust store the implicit verdict was
 * worked out against: estkit_server_add_client_ca() bumps srv->trust_gen,
 * and an entry from an older generation is worked out again on the
 * connection's next request.
 *
 * The entry hangs on the connection's SSL (ex_data) and is freed with it.
 * Only the loop that owns the connection touches it.
 */
#include <pthread.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

static pthread_once_t peer_once = PTHREAD_ONCE_INIT;
static int peer_exidx = -1;

/* Empties p for the next computation (keeps the channel binding: no trust in it). */
static void peer_clear(struct ek_peer *p)
{
	p->valid = 0;
	X509_free(p->cert);
	p->cert = NULL;
	p->implicit = 0;
	OPENSSL_free(p->identity);
	p->identity = NULL;
	OPENSSL_free(p->srp_user);
	p->srp_user = NULL;
}

/* Runs in SSL_free(). */
static void peer_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			 void *argp)
{
	struct ek_peer *p = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (p == NULL)
		return;
	peer_clear(p);
	OPENSSL_free(p);
}

static void peer_exidx_init(void)
{
	peer_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, peer_free_cb);
}

/*
 * 1 when cert, verified in ssl's handshake against both databases, chains
 * to the implicit anchors only, else 0.
 */
static int chains_to_implicit_only(struct estkit_server *srv, SSL *ssl, X509 *cert)
{
	X509_STORE_CTX *vctx = NULL;
	int implicit = 1;

	if (srv->explicit_store == NULL)
		return 0; /* no implicit database: everything verified is explicit */
	__atomic_add_fetch(&srv->peer_verifications, 1, __ATOMIC_RELAXED);
	if ((vctx = X509_STORE_CTX_new()) == NULL)
		return 1; /* cannot tell: grant the lesser rights */
	if (X509_STORE_CTX_init(vctx, srv->explicit_store, cert, SSL_get_peer_cert_chain(ssl)) ==
	    1) {
		X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
		implicit = X509_verify_cert(vctx) != 1;
	}
	X509_STORE_CTX_free(vctx);
	ERR_clear_error();
	return implicit;
}

/* "prefix" + text, OPENSSL_malloc'ed, or NULL. */
static char *prefixed(const char *prefix, const char *text)
{
	size_t n = strlen(prefix) + strlen(text) + 1;
	char *s = OPENSSL_malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s", prefix, text);
	return s;
}

/* Fills the cleared p from ssl's handshake under trust generation gen. 0, or -1 (memory). */
static int peer_compute(struct estkit_server *srv, SSL *ssl, struct ek_peer *p, unsigned gen)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	char *subj = NULL;
	int rc = -1;

	p->gen = gen;
	if (cert != NULL && SSL_get_verify_result(ssl) == X509_V_OK) {
		if (X509_up_ref(cert) != 1)
			goto out;
		p->cert = cert;
		p->implicit = chains_to_implicit_only(srv, ssl, cert);
		if (estkit_name_oneline(X509_get_subject_name(cert), &subj) != ESTKIT_OK ||
		    (p->identity = prefixed("cert:", subj)) == NULL)
			goto out;
	} else if (cert == NULL && srv->srp != NULL &&
		   (p->srp_user = ek_tls_srp_user(ssl)) != NULL) {
		/* RFC 7030 3.3.3: an SRP login authenticates like an HTTP user */
		if ((p->identity = prefixed("srp:", p->srp_user)) == NULL)
			goto out;
	}
	rc = 0;
out:
	estkit_free(subj);
	if (rc != 0)
		peer_clear(p);
	return rc;
}

/* See server_internal.h. */
struct ek_peer *ek_peer_get(struct estkit_server *srv, SSL *ssl)
{
	struct ek_peer *p = NULL;
	unsigned gen = __atomic_load_n(&srv->trust_gen, __ATOMIC_ACQUIRE);

	if (pthread_once(&peer_once, peer_exidx_init) != 0 || peer_exidx < 0)
		return NULL;
	p = SSL_get_ex_data(ssl, peer_exidx);
	if (p != NULL && p->valid && p->gen == gen)
		return p;
	if (p == NULL) {
		if ((p = OPENSSL_zalloc(sizeof(*p))) == NULL)
			return NULL;
		if (SSL_set_ex_data(ssl, peer_exidx, p) != 1) {
			OPENSSL_free(p);
			return NULL;
		}
	} else {
		peer_clear(p); /* the trust anchors changed since, or it failed: again */
	}
	/* gen was read first: a change of the stores meanwhile bumps it again (next request) */
	p->valid = peer_compute(srv, ssl, p, gen) == 0;
	return p->valid ? p : NULL;
}

/* See server_internal.h. */
const char *ek_peer_channel_binding(struct ek_peer *p, SSL *ssl)
{
	if (!p->chanbind_done) {
		if (estkit_tls_channel_binding(ssl, p->chanbind) != ESTKIT_OK)
			p->chanbind[0] = '\0';
		p->chanbind_done = 1;
	}
	return p->chanbind;
}
