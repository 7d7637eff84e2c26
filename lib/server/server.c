/*
 * server.c - the server object: configuration, start (sockets, loops, job
 * pool), graceful shutdown and teardown. See docs/server-internals.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <event2/thread.h>
#include "server/server_internal.h"

#define DEF_LISTEN      "127.0.0.1:8443"
#define DEF_QUEUE       1024
#define DEF_MAX_BODY    (64u * 1024u)
#define DEF_MAX_HEADERS (16u * 1024u)
#define DEF_MAX_CONNS   4096
#define DEF_CONNS_PER_ADDR 64
#define DEF_TIMEOUT     30
#define MAX_THREADS     1024
#define DEF_NONCE_LIFE  300
#define DEF_NONCE_TABLE 4096
#define DEF_FAIL_LIMIT  10
#define DEF_FAIL_WINDOW 60
#define DEF_FAIL_LOCK   300
#define DEF_FAIL_TABLE  4096
#define DEF_FAIL_DELAY  250

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static int evthread_rc = -1;

static void evthread_init(void)
{
	/* lets job threads wake a loop (event_active) and loops exit on request */
	evthread_rc = evthread_use_pthreads();
}

/* See estkit/server.h. */
void estkit_server_config_init(struct estkit_server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = DEF_LISTEN;
	cfg->job_queue_max = DEF_QUEUE;
	cfg->max_body = DEF_MAX_BODY;
	cfg->max_headers = DEF_MAX_HEADERS;
	cfg->max_connections = DEF_MAX_CONNS;
	cfg->max_connections_per_address = DEF_CONNS_PER_ADDR;
	cfg->timeout = DEF_TIMEOUT;
	cfg->reenroll_requires_cert = 1;
	cfg->realm = "estkit";
	cfg->auth_methods = ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST;
	cfg->digest_nonce_lifetime = DEF_NONCE_LIFE;
	cfg->digest_nonce_table = DEF_NONCE_TABLE;
	cfg->auth_fail_limit = DEF_FAIL_LIMIT;
	cfg->auth_fail_window = DEF_FAIL_WINDOW;
	cfg->auth_fail_lockout = DEF_FAIL_LOCK;
	cfg->auth_fail_table = DEF_FAIL_TABLE;
	cfg->auth_fail_delay_ms = DEF_FAIL_DELAY;
}

/* See server_internal.h. */
void ek_server_log(struct estkit_server *srv, enum estkit_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (srv->backend.log != NULL)
		srv->backend.log(srv->backend.ctx, level, line);
	else
		fprintf(stderr, "%s\n", line); /* the contract's default sink */
}

/* See server_internal.h. */
void ek_server_err(struct estkit_server *srv, int ssl, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	unsigned long e;

	va_start(ap, fmt);
	vsnprintf(srv->errmsg, sizeof(srv->errmsg), fmt, ap);
	va_end(ap);
	if (ssl && (e = ERR_peek_last_error()) != 0) {
		n = strlen(srv->errmsg);
		if (n + 3 < sizeof(srv->errmsg)) {
			memcpy(srv->errmsg + n, ": ", 3);
			ERR_error_string_n(e, srv->errmsg + n + 2, sizeof(srv->errmsg) - n - 2);
		}
	}
	ERR_clear_error();
}

/* See server_internal.h. */
void ek_server_req_begin(struct estkit_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	srv->inflight++;
	pthread_mutex_unlock(&srv->mu);
}

/* See server_internal.h. */
void ek_server_req_end(struct estkit_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	if (--srv->inflight == 0 && srv->stopping)
		pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->mu);
}

/* See server_internal.h. */
int ek_server_stopping(struct estkit_server *srv)
{
	int s;

	pthread_mutex_lock(&srv->mu);
	s = srv->stopping;
	pthread_mutex_unlock(&srv->mu);
	return s;
}

static int dupstr(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	return *dst == NULL ? -1 : 0;
}

static int online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (n > MAX_THREADS / 2 ? MAX_THREADS / 2 : (int)n);
}

/* Copies cfg, filling in defaults for zero values. */
static int copy_config(struct estkit_server *srv, const struct estkit_server_config *cfg)
{
	struct estkit_server_config *c = &srv->cfg;

	*c = *cfg;
	if (dupstr(&srv->listen, cfg->listen != NULL ? cfg->listen : DEF_LISTEN) != 0 ||
	    dupstr(&srv->cert_file, cfg->cert_file) != 0 ||
	    dupstr(&srv->key_file, cfg->key_file) != 0 ||
	    dupstr(&srv->client_ca_file, cfg->client_ca_file) != 0 ||
	    dupstr(&srv->extra_ca_file, cfg->extra_ca_file) != 0 ||
	    dupstr(&srv->implicit_ca_file, cfg->implicit_ca_file) != 0 ||
	    dupstr(&srv->realm, cfg->realm != NULL ? cfg->realm : "estkit") != 0 ||
	    dupstr(&srv->otp_basic_user, cfg->otp_basic_user) != 0)
		return -1;
	c->otp_basic_user = srv->otp_basic_user;
	if (cfg->key != NULL) {
		if (EVP_PKEY_up_ref(cfg->key) != 1)
			return -1;
		srv->key = cfg->key;
	}
	c->key = srv->key;
	if (c->io_threads <= 0)
		c->io_threads = online_cores();
	if (c->job_threads <= 0)
		c->job_threads = 2 * online_cores();
	if (c->io_threads > MAX_THREADS || c->job_threads > MAX_THREADS)
		return -1;
	if (c->job_queue_max <= 0)
		c->job_queue_max = DEF_QUEUE;
	if (c->max_body == 0)
		c->max_body = DEF_MAX_BODY;
	if (c->max_headers == 0)
		c->max_headers = DEF_MAX_HEADERS;
	if (c->max_connections <= 0)
		c->max_connections = DEF_MAX_CONNS;
	if (c->max_connections_per_address < 0)
		c->max_connections_per_address = DEF_CONNS_PER_ADDR;
	if (c->timeout <= 0)
		c->timeout = DEF_TIMEOUT;
	if (c->digest_nonce_lifetime <= 0)
		c->digest_nonce_lifetime = DEF_NONCE_LIFE;
	if (c->digest_nonce_table <= 0)
		c->digest_nonce_table = DEF_NONCE_TABLE;
	c->digest_secret = NULL; /* copied into srv->digest, never kept */
	if (c->auth_fail_limit < 0)
		c->auth_fail_limit = DEF_FAIL_LIMIT;
	if (c->auth_fail_window <= 0)
		c->auth_fail_window = DEF_FAIL_WINDOW;
	if (c->auth_fail_lockout <= 0)
		c->auth_fail_lockout = DEF_FAIL_LOCK;
	if (c->auth_fail_table <= 0)
		c->auth_fail_table = DEF_FAIL_TABLE;
	if (c->auth_fail_delay_ms < 0)
		c->auth_fail_delay_ms = DEF_FAIL_DELAY;
	/* a '"' or control byte would break the WWW-Authenticate quoted-string */
	for (const char *p = srv->realm; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return -1;
	return 0;
}

/* The brute-force tracker (auth_fail_limit 0: none). 0 or -1 with errmsg. */
static int authfail_setup(struct estkit_server *srv)
{
	const struct estkit_server_config *c = &srv->cfg;
	struct ek_authfail_conf ac = { c->auth_fail_limit, c->auth_fail_window,
				       c->auth_fail_lockout, c->auth_fail_table,
				       c->auth_fail_delay_ms };

	if (c->auth_fail_limit == 0)
		return 0;
	srv->authfail = ek_authfail_new(&ac);
	if (srv->authfail == NULL) {
		ek_server_err(srv, 0, "cannot set up the failed-authentication table");
		return -1;
	}
	return 0;
}

/* See estkit/server.h. */
struct estkit_server *estkit_server_new(const struct estkit_server_config *cfg,
					const struct estkit_backend *backend, char **err)
{
	struct estkit_server *srv = NULL;
	pthread_condattr_t ca;

	if (err != NULL)
		*err = NULL;
	if (cfg == NULL || backend == NULL || pthread_once(&evthread_once, evthread_init) != 0 ||
	    evthread_rc != 0) {
		if (err != NULL)
			*err = OPENSSL_strdup("invalid arguments or libevent threading unavailable");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_mutex_init(&srv->wait_mu, NULL);
	pthread_mutex_init(&srv->trust_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	srv->backend = *backend;
	if (copy_config(srv, cfg) != 0) {
		ek_server_err(srv, 0, "invalid server configuration (thread counts or realm)");
		goto fail;
	}
	/* Digest is offered only when the backend can produce HA1 values */
	if ((srv->cfg.auth_methods & ESTKIT_AUTH_DIGEST) && backend->digest_ha1 != NULL &&
	    (srv->digest = ek_digest_new(cfg->digest_secret_len > 0 ? cfg->digest_secret : NULL,
					 cfg->digest_secret_len, srv->cfg.digest_nonce_lifetime,
					 srv->cfg.digest_nonce_table)) == NULL) {
		ek_server_err(srv, 0, "invalid Digest settings (secret of 16..1024 bytes)");
		goto fail;
	}
	if (authfail_setup(srv) != 0)
		goto fail;
	if (ek_tls_ctx_new(srv) != ESTKIT_OK)
		goto fail;
	return srv;
fail:
	if (err != NULL)
		*err = OPENSSL_strdup(srv->errmsg);
	estkit_server_free(srv);
	return NULL;
}

/* See estkit/server.h. */
int estkit_server_port(const struct estkit_server *srv)
{
	return srv != NULL ? srv->port : 0;
}

/* See estkit/server.h. */
const char *estkit_server_errmsg(const struct estkit_server *srv)
{
	return srv != NULL ? srv->errmsg : "no server";
}
