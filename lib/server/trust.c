/*
 * trust.c - adding trust anchors for TLS client certificates to a server
 * that may already be running (a CA rollover picked up on reload).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <estkit/server.h>
#include "server_internal.h"

/* See estkit/server.h. */
enum estkit_status estkit_server_add_client_ca(struct estkit_server *srv, X509 *cert)
{
	X509_STORE *store = NULL;
	unsigned long e;

	if (srv == NULL || cert == NULL || srv->ssl_ctx == NULL)
		return ESTKIT_EINVAL;
	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL)
		return ESTKIT_EINVAL; /* client certificates are not requested at all */
	store = SSL_CTX_get_cert_store(srv->ssl_ctx);
	if (store == NULL)
		return ESTKIT_EINTERNAL;
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
