/*
 * chanbind.c - linking identity and proof of possession on the client (RFC
 * 7030 3.5). The request must carry the channel binding of the very TLS
 * connection it is posted on, so:
 *   1. a transfer on the kept curl handle opens (or reuses) a connection; in
 *      CURLOPT_PREREQFUNCTION (connected, nothing sent yet) the SSL and its
 *      binding are recorded - the only moment libcurl exposes a live SSL;
 *   2. estkit_client_channel_binding() hands that value out and pins the
 *      connection;
 *   3. the enrollment is posted on the same handle; while pinned, opening a
 *      socket fails and the prerequest callback aborts on any other SSL, so
 *      the request is never sent on another connection; afterwards
 *      CURLINFO_NUM_CONNECTS must be 0.
 */
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "client/client_internal.h"

/* See client_internal.h. */
int ek_chanbind_prereq(struct estkit_client *c, CURL *h)
{
	struct curl_tlssessioninfo *info = NULL;
	SSL *ssl = NULL;

	if (curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
	    info->backend == CURLSSLBACKEND_OPENSSL)
		ssl = info->internals;
	if (c->pinned != NULL)
		return ssl == c->pinned ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
	c->last_ssl = ssl;
	if (ssl == NULL || estkit_tls_channel_binding(ssl, c->last_cb) != ESTKIT_OK)
		c->last_cb[0] = '\0';
	ERR_clear_error();
	return CURL_PREREQFUNC_OK;
}

/* See client_internal.h. */
curl_socket_t ek_chanbind_opensocket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr)
{
	struct estkit_client *c = clientp;

	if (c->pinned != NULL || purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* See client_internal.h. */
enum estkit_status ek_chanbind_after(struct estkit_client *c, CURL *h, int refused)
{
	long conns = -1;

	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns) != CURLE_OK)
		conns = -1;
	if (!refused && conns == 0)
		return ESTKIT_OK;
	return ek_client_fail(c, ESTKIT_ENET,
	                      "the TLS connection the channel binding belongs to is gone; "
	                      "the request was not sent on another one (RFC 7030 3.5)");
}

/* GET /cacerts to open a connection whose binding we learn. */
static enum estkit_status prime(struct estkit_client *c)
{
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc = estkit_client_cacerts(c, &certs);

	ek_certs_free(certs);
	return rc;
}

enum estkit_status estkit_client_channel_binding(struct estkit_client *c,
                                                 char out[ESTKIT_CHANBIND_B64_MAX])
{
	enum estkit_status rc = ESTKIT_OK;

	if (out != NULL)
		out[0] = '\0';
	if (c == NULL || out == NULL)
		return ESTKIT_EINVAL;
	c->pinned = NULL;
	if (c->curl == NULL || c->last_ssl == NULL) {
		if ((rc = prime(c)) != ESTKIT_OK)
			return rc;
	}
	if (c->last_ssl == NULL || c->last_cb[0] == '\0')
		return ek_client_fail(c, ESTKIT_ETLS,
		                      "this TLS connection has no channel binding (TLS 1.2 "
		                      "needs the extended master secret, RFC 7627)");
	memcpy(out, c->last_cb, ESTKIT_CHANBIND_B64_MAX);
	c->pinned = c->last_ssl;
	return ESTKIT_OK;
}

void estkit_client_channel_unpin(struct estkit_client *c)
{
	if (c != NULL)
		c->pinned = NULL;
}

/* One attempt: learn the binding, build the request with it, post it pinned. */
static enum estkit_status bound_once(struct estkit_client *c, estkit_client_csr_builder build,
                                     void *arg, int fresh, STACK_OF(X509) * *out)
{
	char cb[ESTKIT_CHANBIND_B64_MAX];
	X509_REQ *csr = NULL;
	enum estkit_status rc = ESTKIT_OK;

	if (fresh)
		c->last_ssl = NULL; /* learn the binding anew: prime() */
	if ((rc = estkit_client_channel_binding(c, cb)) != ESTKIT_OK)
		goto out;
	if ((rc = build(arg, cb, &csr)) != ESTKIT_OK || csr == NULL) {
		rc = ek_client_fail(c, rc != ESTKIT_OK ? rc : ESTKIT_EINTERNAL,
		                    "cannot build the request: %s", estkit_strerror(rc));
		goto out;
	}
	rc = estkit_client_simpleenroll(c, csr, out);
out:
	c->pinned = NULL;
	X509_REQ_free(csr);
	OPENSSL_cleanse(cb, sizeof(cb));
	return rc;
}

enum estkit_status estkit_client_simpleenroll_bound(struct estkit_client *c,
                                                    estkit_client_csr_builder build, void *arg,
                                                    STACK_OF(X509) * *out)
{
	enum estkit_status rc = ESTKIT_OK;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || build == NULL || out == NULL)
		return ESTKIT_EINVAL;
	rc = bound_once(c, build, arg, 0, out);
	/* the kept connection may have been closed by the server meanwhile: once more */
	if (rc == ESTKIT_ENET && c->http_status == 0)
		rc = bound_once(c, build, arg, 1, out);
	return rc;
}

void estkit_client_set_tls_max(struct estkit_client *c, int version)
{
	if (c == NULL)
		return;
	c->tls_max = version;
	ek_client_drop_connection(c); /* a new limit: no connection reuse across it */
}
