/*
 * trust.c - the server's trust anchors for TLS client certificates: the
 * explicit database (the CA, [auth] explicit_ca) and the implicit one
 * (third-party CAs, [auth] implicit_ca), which RFC 7030 3.3.2 and 3.6 want
 * kept apart. The TLS handshake accepts a certificate of either; a
 * certificate that verifies only with the implicit anchors authenticates
 * its holder for /simpleenroll alone ("When requesting an enroll operation,
 * the client MAY use a client certificate issued by a third party",
 * RFC 7030 3.3.2). Also: adding anchors to a running server (CA rollover).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <estkit/server.h>
#include "server_internal.h"

/* X509_STORE_add_cert, with an anchor already present counting as success. */
static enum estkit_status store_add(X509_STORE *store, X509 *cert)
{
	unsigned long e;

	/* X509_STORE locks itself: safe while handshakes verify against it. */
	ERR_set_mark();
	if (X509_STORE_add_cert(store, cert) == 1) {
		ERR_pop_to_mark();
		return ESTKIT_OK;
	}
	e = ERR_peek_last_error();
	ERR_pop_to_mark();
	/* Older OpenSSL 3.0 releases report an anchor already present as an error. */
	if (ERR_GET_REASON(e) == X509_R_CERT_ALREADY_IN_HASH_TABLE)
		return ESTKIT_OK;
	return ESTKIT_ECRYPTO;
}

/* See estkit/server.h. */
enum estkit_status estkit_server_add_client_ca(struct estkit_server *srv, X509 *cert)
{
	X509_STORE *store = NULL;
	enum estkit_status rc;

	if (srv == NULL || cert == NULL || srv->ssl_ctx == NULL)
		return ESTKIT_EINVAL;
	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL)
		return ESTKIT_EINVAL; /* client certificates are not requested at all */
	store = SSL_CTX_get_cert_store(srv->ssl_ctx);
	if (store == NULL)
		return ESTKIT_EINTERNAL;
	rc = store_add(store, cert);
	/* an anchor added at run time is an explicit one (the CA's next root) */
	if (rc == ESTKIT_OK && srv->explicit_store != NULL)
		rc = store_add(srv->explicit_store, cert);
	/*
	 * Connections work out their peer's standing once (peer.c); a new
	 * generation makes each do it again on its next request, against the
	 * anchors as they are now. After the stores changed: a connection that
	 * reads the old generation meanwhile recomputes once more.
	 */
	__atomic_add_fetch(&srv->trust_gen, 1, __ATOMIC_RELEASE);
	return rc;
}

/* See server_internal.h. */
int ek_trust_explicit_init(struct estkit_server *srv)
{
	X509_STORE *st = NULL;

	if (srv->implicit_ca_file == NULL)
		return 0;
	if ((st = X509_STORE_new()) == NULL)
		return -1;
	if ((srv->client_ca_file != NULL &&
	     X509_STORE_load_file(st, srv->client_ca_file) != 1) ||
	    (srv->extra_ca_file != NULL && X509_STORE_load_file(st, srv->extra_ca_file) != 1)) {
		ek_server_err(srv, 1, "explicit client CA files");
		X509_STORE_free(st);
		return -1;
	}
	X509_STORE_free(srv->explicit_store);
	srv->explicit_store = st;
	return 0;
}

/* See server_internal.h. */
void ek_trust_apply_implicit(struct estkit_request *r)
{
	if (!r->peer_implicit || r->peer_cert == NULL || r->op == ESTKIT_OP_SIMPLEENROLL)
		return;
	ek_server_log(r->srv, ESTKIT_LOG_INFO,
		      "%s: client certificate from the implicit trust anchors ignored: it "
		      "authenticates /simpleenroll only (RFC 7030 3.3.2)",
		      r->peer);
	X509_free(r->peer_cert);
	r->peer_cert = NULL;
	OPENSSL_free(r->identity);
	r->identity = NULL;
}
