/*
 * trust.c - the server's trust anchors for TLS client certificates: the
 * explicit database (the CA, [auth] explicit_ca) and the implicit one
 * (third-party CAs, [auth] implicit_ca), which RFC 7030 3.3.2 and 3.6 want
 * kept apart. The TLS handshake accepts a certificate of either; a
 * certificate that verifies only with the implicit anchors authenticates
 * its holder for /simpleenroll alone ("When requesting an enroll operation,
 * the client MAY use a client certificate issued by a third party",
 * RFC 7030 3.3.2). Also: adding anchors to a running server (CA rollover)
 * and reading the anchor files again (estkit_server_trust_reload()).
 *
 * The anchors live in generations. A generation is a store of all anchors
 * (what handshakes verify against), the explicit ones alone, and the CA
 * list of the CertificateRequest, all behind srv->trust_mu. A reload builds
 * the next generation completely, then swaps it in and bumps
 * srv->trust_gen under the lock; a failure leaves the current one alone.
 * The shared SSL_CTX is never changed while loops run (SSL_new() on other
 * threads reads it): each new connection's SSL gets the current stores
 * with its own reference (SSL_set1_verify_cert_store()) at accept, so a
 * handshake keeps the generation it began with, and an old generation is
 * freed with its last user. peer.c checks a kept connection's certificate
 * again when the generation moved.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <estkit/server.h>
#include "server_internal.h"

#define TRUST_MAX_ANCHORS 4096 /* certificates in one anchor file */

/* One generation being built. */
struct trust_set {
	X509_STORE *all, *explicit_only;
	STACK_OF(X509_NAME) * names;
	int n_explicit, n_implicit;
};

static pthread_once_t gen_once = PTHREAD_ONCE_INIT;
static int gen_exidx = -1; /* generation + 1 of the anchors an SSL was given */

static void gen_exidx_init(void)
{
	gen_exidx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

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

/* Adds cert's subject to names unless it is there. 0 or -1. */
static int names_add(STACK_OF(X509_NAME) * names, X509 *cert)
{
	X509_NAME *n = NULL;
	int i;

	for (i = 0; i < sk_X509_NAME_num(names); i++) {
		if (X509_NAME_cmp(sk_X509_NAME_value(names, i), X509_get_subject_name(cert)) == 0)
			return 0;
	}
	if ((n = X509_NAME_dup(X509_get_subject_name(cert))) == NULL)
		return -1;
	if (sk_X509_NAME_push(names, n) <= 0) {
		X509_NAME_free(n);
		return -1;
	}
	return 0;
}

/* Adds one certificate of an anchor file to ts. 0 or -1. */
static int set_add(struct trust_set *ts, X509 *cert, int is_explicit)
{
	if (store_add(ts->all, cert) != ESTKIT_OK || names_add(ts->names, cert) != 0)
		return -1;
	if (is_explicit && ts->explicit_only != NULL &&
	    store_add(ts->explicit_only, cert) != ESTKIT_OK)
		return -1;
	return 0;
}

/*
 * Reads every certificate of the PEM file into ts. A file that cannot be
 * read, holds no certificate, or a damaged one, is an error (msg says why).
 */
static int load_file(struct trust_set *ts, const char *file, int is_explicit, char *msg,
                     size_t msglen)
{
	BIO *bio = NULL;
	X509 *cert = NULL;
	unsigned long e;
	int n = 0, rc = -1;

	if ((bio = BIO_new_file(file, "r")) == NULL) {
		snprintf(msg, msglen, "cannot read %s", file);
		goto out;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (++n > TRUST_MAX_ANCHORS) {
			snprintf(msg, msglen, "%s: more than %d certificates", file,
			         TRUST_MAX_ANCHORS);
			goto out;
		}
		if (set_add(ts, cert, is_explicit) != 0) {
			snprintf(msg, msglen, "%s: certificate %d not usable as an anchor", file,
			         n);
			goto out;
		}
		X509_free(cert);
		cert = NULL;
	}
	/* the end of the file reads as "no start line"; anything else is damage */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
		snprintf(msg, msglen, "%s: damaged PEM after %d certificate%s", file, n,
		         n == 1 ? "" : "s");
		goto out;
	}
	if (n == 0) {
		snprintf(msg, msglen, "%s: no certificate", file);
		goto out;
	}
	if (is_explicit)
		ts->n_explicit += n;
	else
		ts->n_implicit += n;
	rc = 0;
out:
	X509_free(cert);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

static void set_free(struct trust_set *ts)
{
	X509_STORE_free(ts->all);
	X509_STORE_free(ts->explicit_only);
	sk_X509_NAME_pop_free(ts->names, X509_NAME_free);
	ts->all = ts->explicit_only = NULL;
	ts->names = NULL;
}

/* A complete new generation from the configured files, or -1 with msg. */
static int set_build(struct estkit_server *srv, struct trust_set *ts, char *msg, size_t msglen)
{
	memset(ts, 0, sizeof(*ts));
	ts->all = X509_STORE_new();
	ts->names = sk_X509_NAME_new_null();
	if (srv->implicit_ca_file != NULL)
		ts->explicit_only = X509_STORE_new();
	if (ts->all == NULL || ts->names == NULL ||
	    (srv->implicit_ca_file != NULL && ts->explicit_only == NULL)) {
		snprintf(msg, msglen, "out of memory");
		goto err;
	}
	if ((srv->client_ca_file != NULL &&
	     load_file(ts, srv->client_ca_file, 1, msg, msglen) != 0) ||
	    (srv->extra_ca_file != NULL &&
	     load_file(ts, srv->extra_ca_file, 1, msg, msglen) != 0) ||
	    (srv->implicit_ca_file != NULL &&
	     load_file(ts, srv->implicit_ca_file, 0, msg, msglen) != 0))
		goto err;
	return 0;
err:
	set_free(ts);
	return -1;
}

/* See server_internal.h. */
int ek_trust_init(struct estkit_server *srv)
{
	STACK_OF(X509_NAME) *names = NULL;
	struct trust_set ts;
	char msg[400];

	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL &&
	    srv->implicit_ca_file == NULL)
		return 0;
	if (set_build(srv, &ts, msg, sizeof(msg)) != 0) {
		ek_server_err(srv, 0, "client CA files: %s", msg);
		return -1;
	}
	names = sk_X509_NAME_deep_copy(ts.names, X509_NAME_dup, X509_NAME_free);
	if (names == NULL || X509_STORE_up_ref(ts.all) != 1) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		set_free(&ts);
		ek_server_err(srv, 0, "out of memory");
		return -1;
	}
	/*
	 * The first generation doubles as the SSL_CTX's own store (from which
	 * OpenSSL also completes the server's chain) and CA list; connections
	 * get the current generation at accept (ek_trust_attach()).
	 */
	SSL_CTX_set_cert_store(srv->ssl_ctx, ts.all);
	SSL_CTX_set_client_CA_list(srv->ssl_ctx, names);
	srv->verify_store = ts.all;
	srv->explicit_store = ts.explicit_only;
	srv->ca_names = ts.names;
	return 0;
}

/* See server_internal.h. */
int ek_trust_attach(struct estkit_server *srv, SSL *ssl)
{
	STACK_OF(X509_NAME) *names = NULL;
	int rc = -1;

	if (pthread_once(&gen_once, gen_exidx_init) != 0 || gen_exidx < 0)
		return -1;
	pthread_mutex_lock(&srv->trust_mu);
	if (srv->verify_store == NULL) {
		rc = 0; /* client certificates are not requested */
		goto out;
	}
	names = sk_X509_NAME_deep_copy(srv->ca_names, X509_NAME_dup, X509_NAME_free);
	if (names == NULL || SSL_set1_verify_cert_store(ssl, srv->verify_store) != 1)
		goto out;
	SSL_set_client_CA_list(ssl, names);
	names = NULL;
	if (SSL_set_ex_data(
	        ssl, gen_exidx,
	        (void *)((uintptr_t)__atomic_load_n(&srv->trust_gen, __ATOMIC_RELAXED) + 1)) != 1)
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&srv->trust_mu);
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	return rc;
}

/* See server_internal.h. */
int ek_trust_handshake_gen(const SSL *ssl, unsigned *gen)
{
	uintptr_t v;

	if (gen_exidx < 0 || (v = (uintptr_t)SSL_get_ex_data(ssl, gen_exidx)) == 0)
		return 0;
	*gen = (unsigned)(v - 1);
	return 1;
}

/* See server_internal.h. */
int ek_trust_snap_get(struct estkit_server *srv, struct ek_trust_snap *snap)
{
	int rc = -1;

	memset(snap, 0, sizeof(*snap));
	pthread_mutex_lock(&srv->trust_mu);
	if ((srv->verify_store != NULL && X509_STORE_up_ref(srv->verify_store) != 1))
		goto out;
	snap->all = srv->verify_store;
	if (srv->explicit_store != NULL && X509_STORE_up_ref(srv->explicit_store) != 1)
		goto out;
	snap->explicit_only = srv->explicit_store;
	snap->gen = __atomic_load_n(&srv->trust_gen, __ATOMIC_RELAXED);
	rc = 0;
out:
	pthread_mutex_unlock(&srv->trust_mu);
	if (rc != 0)
		ek_trust_snap_put(snap);
	return rc;
}

/* See server_internal.h. */
void ek_trust_snap_put(struct ek_trust_snap *snap)
{
	X509_STORE_free(snap->all);
	X509_STORE_free(snap->explicit_only);
	snap->all = snap->explicit_only = NULL;
}

/* See server_internal.h. */
void ek_trust_free(struct estkit_server *srv)
{
	X509_STORE_free(srv->verify_store);
	X509_STORE_free(srv->explicit_store);
	sk_X509_NAME_pop_free(srv->ca_names, X509_NAME_free);
	sk_X509_pop_free(srv->added_cas, X509_free);
	pthread_mutex_destroy(&srv->trust_mu);
}

/* 1 when cert is in list already. */
static int added_has(STACK_OF(X509) *list, X509 *cert)
{
	int i;

	for (i = 0; i < sk_X509_num(list); i++) {
		if (X509_cmp(sk_X509_value(list, i), cert) == 0)
			return 1;
	}
	return 0;
}

/* See estkit/server.h. */
enum estkit_status estkit_server_add_client_ca(struct estkit_server *srv, X509 *cert)
{
	enum estkit_status rc = ESTKIT_EINTERNAL;

	if (srv == NULL || cert == NULL || srv->ssl_ctx == NULL)
		return ESTKIT_EINVAL;
	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL)
		return ESTKIT_EINVAL; /* client certificates are not requested at all */
	pthread_mutex_lock(&srv->trust_mu);
	if (srv->verify_store == NULL)
		goto out;
	if (srv->added_cas == NULL && (srv->added_cas = sk_X509_new_null()) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	/* remembered, so that a reload of the files keeps it (once: estd adds it on each SIGHUP) */
	if (added_has(srv->added_cas, cert))
		goto add;
	if (X509_up_ref(cert) != 1) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	if (sk_X509_push(srv->added_cas, cert) <= 0) {
		X509_free(cert); /* the reference just taken */
		rc = ESTKIT_ENOMEM;
		goto out;
	}
add:
	rc = store_add(srv->verify_store, cert);
	/* an anchor added at run time is an explicit one (the CA's next root) */
	if (rc == ESTKIT_OK && srv->explicit_store != NULL)
		rc = store_add(srv->explicit_store, cert);
	/*
	 * Connections work out their peer's standing once (peer.c); a new
	 * generation makes each do it again on its next request, against the
	 * anchors as they are now.
	 */
	__atomic_add_fetch(&srv->trust_gen, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&srv->trust_mu);
	return rc;
}

/* Adds the run-time anchors to ts. Under trust_mu. 0 or -1. */
static int set_add_runtime(struct estkit_server *srv, struct trust_set *ts)
{
	int i;

	for (i = 0; i < sk_X509_num(srv->added_cas); i++) {
		X509 *cert = sk_X509_value(srv->added_cas, i);

		if (store_add(ts->all, cert) != ESTKIT_OK ||
		    (ts->explicit_only != NULL && store_add(ts->explicit_only, cert) != ESTKIT_OK))
			return -1;
	}
	return 0;
}

/* See estkit/server.h. */
enum estkit_status estkit_server_trust_reload(struct estkit_server *srv)
{
	struct trust_set ts, old;
	char msg[400];
	unsigned gen = 0;
	int added = 0;

	if (srv == NULL)
		return ESTKIT_EINVAL;
	if (srv->client_ca_file == NULL && srv->extra_ca_file == NULL &&
	    srv->implicit_ca_file == NULL) {
		ek_server_err(srv, 0, "no client certificate trust anchors configured");
		return ESTKIT_EINVAL;
	}
	/* the files are read without the lock: accepting connections goes on meanwhile */
	if (set_build(srv, &ts, msg, sizeof(msg)) != 0) {
		ek_server_err(srv, 0, "client CA files: %s (the anchors loaded before stay in use)",
		              msg);
		return ESTKIT_EINVAL;
	}
	memset(&old, 0, sizeof(old));
	pthread_mutex_lock(&srv->trust_mu);
	if (set_add_runtime(srv, &ts) != 0) {
		pthread_mutex_unlock(&srv->trust_mu);
		set_free(&ts);
		ek_server_err(srv, 0,
		              "client CA files: out of memory (the anchors loaded before "
		              "stay in use)");
		return ESTKIT_ENOMEM;
	}
	old.all = srv->verify_store;
	old.explicit_only = srv->explicit_store;
	old.names = srv->ca_names;
	srv->verify_store = ts.all;
	srv->explicit_store = ts.explicit_only;
	srv->ca_names = ts.names;
	added = sk_X509_num(srv->added_cas);
	gen = __atomic_add_fetch(&srv->trust_gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&srv->trust_mu);
	/* handshakes and peer checks still using the old stores hold their own references */
	set_free(&old);
	ek_server_log(srv, ESTKIT_LOG_INFO,
	              "client certificate trust anchors reloaded: %d explicit, %d implicit, %d "
	              "added at run time (generation %u)",
	              ts.n_explicit, ts.n_implicit, added > 0 ? added : 0, gen);
	return ESTKIT_OK;
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
