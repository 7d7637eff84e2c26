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
 * handshake. What can change are the trust anchors (trust.c): a rollover's
 * estkit_server_add_client_ca() and estkit_server_trust_reload() bump
 * srv->trust_gen, and an entry from an older generation is worked out again
 * on the connection's next request, against one consistent generation: the
 * certificate chain is verified again with all its anchors (a certificate
 * of a removed CA no longer authenticates anyone), then the implicit check
 * runs with its explicit ones. A resumed session is checked the same way:
 * its verdict comes from the handshake that created it, under whatever
 * anchors were current then.
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

/* A verification context for cert with ssl's peer chain and parameters, against store. */
static X509_STORE_CTX *verify_ctx(X509_STORE *store, SSL *ssl, X509 *cert)
{
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();

	if (vctx == NULL)
		return NULL;
	/* as the handshake did (ssl_verify_cert_chain): client purpose, then ssl's parameters */
	if (X509_STORE_CTX_init(vctx, store, cert, SSL_get_peer_cert_chain(ssl)) != 1 ||
	    X509_STORE_CTX_set_default(vctx, "ssl_client") != 1 ||
	    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(vctx), SSL_get0_param(ssl)) != 1) {
		X509_STORE_CTX_free(vctx);
		return NULL;
	}
	return vctx;
}

/*
 * 1 when cert, verified in ssl's handshake against both databases, chains
 * to the implicit anchors only, else 0.
 */
static int chains_to_implicit_only(struct estkit_server *srv, const struct ek_trust_snap *snap,
				   SSL *ssl, X509 *cert)
{
	X509_STORE_CTX *vctx = NULL;
	int implicit = 1;

	if (snap->explicit_only == NULL)
		return 0; /* no implicit database: everything verified is explicit */
	__atomic_add_fetch(&srv->peer_verifications, 1, __ATOMIC_RELAXED);
	if ((vctx = verify_ctx(snap->explicit_only, ssl, cert)) == NULL)
		implicit = 1; /* cannot tell: grant the lesser rights */
	else
		implicit = X509_verify_cert(vctx) != 1;
	X509_STORE_CTX_free(vctx);
	ERR_clear_error();
	return implicit;
}

/*
 * 1 when cert, which verified in ssl's handshake, still chains to the
 * anchors of snap: at once when the handshake used them, else verified
 * again (the anchors changed since, or the session was resumed).
 */
static int still_trusted(struct estkit_server *srv, const struct ek_trust_snap *snap, SSL *ssl,
			 X509 *cert)
{
	X509_STORE_CTX *vctx = NULL;
	unsigned hgen = 0;
	int ok = 0;

	if (snap->all == NULL)
		return 1; /* no anchors of ours: nothing to check again */
	if (ek_trust_handshake_gen(ssl, &hgen) && hgen == snap->gen && !SSL_session_reused(ssl))
		return 1;
	__atomic_add_fetch(&srv->peer_reverifications, 1, __ATOMIC_RELAXED);
	if ((vctx = verify_ctx(snap->all, ssl, cert)) != NULL)
		ok = X509_verify_cert(vctx) == 1;
	X509_STORE_CTX_free(vctx);
	ERR_clear_error();
	return ok;
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

/* Fills the cleared p from ssl's handshake under the current trust anchors. 0, or -1 (memory). */
static int peer_compute(struct estkit_server *srv, SSL *ssl, struct ek_peer *p)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	struct ek_trust_snap snap;
	char *subj = NULL;
	int rc = -1;

	if (ek_trust_snap_get(srv, &snap) != 0)
		return -1;
	p->gen = snap.gen;
	if (cert != NULL && SSL_get_verify_result(ssl) == X509_V_OK) {
		if (estkit_name_oneline(X509_get_subject_name(cert), &subj) != ESTKIT_OK)
			goto out;
		if (!still_trusted(srv, &snap, ssl, cert)) {
			/* as if it had sent none: other credentials may still authenticate */
			ek_server_log(srv, ESTKIT_LOG_WARN,
				      "client certificate %s no longer chains to the client trust "
				      "anchors (changed since its handshake): ignored",
				      subj);
			rc = 0;
			goto out;
		}
		if (X509_up_ref(cert) != 1)
			goto out;
		p->cert = cert;
		p->implicit = chains_to_implicit_only(srv, &snap, ssl, cert);
		if ((p->identity = prefixed("cert:", subj)) == NULL)
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
	ek_trust_snap_put(&snap);
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
	/* the entry records the generation it was worked out under (the snapshot's) */
	p->valid = peer_compute(srv, ssl, p) == 0;
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
