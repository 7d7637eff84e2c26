/*
 * lifecycle.c - starting the event loops and the job pool, the graceful
 * shutdown (close listeners, let requests in flight finish within the grace
 * period, stop loops, join) and the teardown.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include "server/server_internal.h"

/* Closes this loop's listener: no new connections, existing ones finish. */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ek_loop *loop = arg;

	if (loop->bound != NULL) {
		evhttp_del_accept_socket(loop->http, loop->bound);
		loop->bound = NULL;
	}
}

/*
 * A write to a connection the peer has closed raises SIGPIPE, whose default
 * action kills the process. A library must not change the process's signal
 * dispositions, so the threads that write to sockets block it instead: the
 * write then fails with EPIPE and the connection is dropped.
 */
static void block_sigpipe(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/* Undoes block_sigpipe(), first consuming a SIGPIPE raised meanwhile. */
static void restore_sigpipe(const sigset_t *old)
{
	sigset_t set;
	struct timespec zero = { 0, 0 };

	if (sigismember(old, SIGPIPE) == 1)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
		;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void *loop_main(void *arg)
{
	struct ek_loop *loop = arg;
	sigset_t old;

	block_sigpipe(&old);

	/* keep running while idle: the listener may be paused or already closed */
	event_base_loop(loop->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int loop_setup(struct estkit_server *srv, struct ek_loop *loop)
{
	const struct estkit_server_config *c = &srv->cfg;

	loop->base = event_base_new();
	if (loop->base == NULL)
		return -1;
	loop->http = evhttp_new(loop->base);
	loop->done_ev = event_new(loop->base, -1, 0, ek_handler_done_cb, loop);
	loop->stop_ev = event_new(loop->base, -1, 0, stop_cb, loop);
	if (loop->http == NULL || loop->done_ev == NULL || loop->stop_ev == NULL)
		return -1;
	evhttp_set_bevcb(loop->http, ek_tls_bevcb, loop);
	evhttp_set_gencb(loop->http, ek_handler_request, loop);
	evhttp_set_max_body_size(loop->http, (ev_ssize_t)c->max_body);
	evhttp_set_max_headers_size(loop->http, (ev_ssize_t)c->max_headers);
	evhttp_set_timeout(loop->http, c->timeout);
	/*
	 * On 413 read (and discard) the rest of the body before closing: closing
	 * with unread data makes the kernel send a reset that can destroy the
	 * 413 before the client reads it. Memory stays bounded; time is bounded
	 * by the read timeout.
	 */
	evhttp_set_flags(loop->http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* methods outside this set get 501 from libevent; wrong ones here get our 405 */
	evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
						       EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						       EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
						       EVHTTP_REQ_PATCH);
	if (srv->connlim != NULL) {
		loop->check_ev = event_new(loop->base, -1, 0, ek_tls_check_cb, loop);
		loop->pending = calloc((size_t)loop->conn_limit, sizeof(*loop->pending));
		if (loop->check_ev == NULL || loop->pending == NULL)
			return -1;
	}
	loop->bound = evhttp_accept_socket_with_handle(loop->http, loop->fd);
	if (loop->bound == NULL)
		return -1;
	loop->fd = -1; /* evhttp owns it now */
	return 0;
}

static enum estkit_status create_loops(struct estkit_server *srv)
{
	int *fds = NULL, i;
	enum estkit_status rc = ESTKIT_ENOMEM;

	srv->nloops = srv->cfg.io_threads;
	srv->loops = calloc((size_t)srv->nloops, sizeof(*srv->loops));
	fds = calloc((size_t)srv->nloops, sizeof(int));
	if (srv->loops == NULL || fds == NULL)
		goto out;
	for (i = 0; i < srv->nloops; i++) {
		srv->loops[i].srv = srv;
		srv->loops[i].index = i;
		srv->loops[i].fd = -1;
		srv->loops[i].conn_limit =
			(srv->cfg.max_connections + srv->nloops - 1) / srv->nloops;
		pthread_mutex_init(&srv->loops[i].done_mu, NULL);
	}
	/* one entry per connection the loops can hold: the table cannot fill */
	if (srv->cfg.max_connections_per_address > 0) {
		srv->connlim = ek_connlim_new(srv->cfg.max_connections_per_address,
					      srv->nloops * srv->loops[0].conn_limit);
		if (srv->connlim == NULL)
			goto out;
	}
	rc = ek_listen_bind(srv, srv->listen, srv->nloops, fds, &srv->port);
	if (rc != ESTKIT_OK)
		goto out;
	for (i = 0; i < srv->nloops; i++)
		srv->loops[i].fd = fds[i];
	for (i = 0; i < srv->nloops; i++) {
		if (loop_setup(srv, &srv->loops[i]) != 0) {
			ek_server_err(srv, 0, "event loop setup failed");
			rc = ESTKIT_EINTERNAL;
			goto out;
		}
	}
	rc = ESTKIT_OK;
out:
	free(fds);
	return rc;
}

/* See estkit/server.h. */
enum estkit_status estkit_server_start(struct estkit_server *srv)
{
	enum estkit_status rc = ESTKIT_EINVAL;
	int i;

	if (srv == NULL || srv->started || srv->loops != NULL)
		return ESTKIT_EINVAL;
	rc = create_loops(srv);
	if (rc != ESTKIT_OK)
		return rc;
	srv->jobs = ek_jobs_new(srv, srv->cfg.job_threads, srv->cfg.job_queue_max);
	if (srv->jobs == NULL)
		return ESTKIT_ENOMEM;
	pthread_mutex_lock(&srv->mu);
	srv->started = 1; /* from here on, wait() joins what was started */
	pthread_mutex_unlock(&srv->mu);
	if (ek_jobs_start(srv->jobs) != ESTKIT_OK)
		goto thread_fail;
	for (i = 0; i < srv->nloops; i++) {
		if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0)
			goto thread_fail;
		srv->loops[i].running = 1;
	}
	/* the host part of "HOST:PORT" / "[V6]:PORT" as configured, the port as bound */
	ek_server_log(srv, ESTKIT_LOG_INFO, "listening on https://%.*s:%d",
		      (int)(strrchr(srv->listen, ':') - srv->listen), srv->listen, srv->port);
	return ESTKIT_OK;
thread_fail:
	ek_server_err(srv, 0, "cannot start threads: %s", strerror(errno));
	estkit_server_shutdown(srv, 0);
	estkit_server_wait(srv);
	return ESTKIT_EINTERNAL;
}

/* See estkit/server.h. */
void estkit_server_shutdown(struct estkit_server *srv, int grace)
{
	int i;

	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->mu);
	if (!srv->stopping) {
		srv->stopping = 1;
		clock_gettime(CLOCK_MONOTONIC, &srv->deadline);
		srv->deadline.tv_sec += grace > 0 ? grace : 0;
		for (i = 0; srv->started && i < srv->nloops; i++)
			event_active(srv->loops[i].stop_ev, EV_READ, 0);
		pthread_cond_broadcast(&srv->cond);
	}
	pthread_mutex_unlock(&srv->mu);
}

/* Waits for shutdown, then for requests in flight until the grace period ends. */
static void drain_inflight(struct estkit_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	while (!srv->stopping)
		pthread_cond_wait(&srv->cond, &srv->mu);
	while (srv->inflight > 0) {
		if (pthread_cond_timedwait(&srv->cond, &srv->mu, &srv->deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&srv->mu);
}

/* See estkit/server.h. */
void estkit_server_wait(struct estkit_server *srv)
{
	int i, started;

	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->wait_mu);
	pthread_mutex_lock(&srv->mu);
	started = srv->started;
	pthread_mutex_unlock(&srv->mu);
	if (srv->joined || !started) {
		pthread_mutex_unlock(&srv->wait_mu);
		return;
	}
	drain_inflight(srv);
	for (i = 0; i < srv->nloops; i++) {
		if (!srv->loops[i].running)
			continue;
		event_base_loopexit(srv->loops[i].base, NULL);
		pthread_join(srv->loops[i].thread, NULL);
		srv->loops[i].running = 0;
	}
	/* jobs still queued are answered 503 into the (stopped) loops' lists */
	ek_jobs_stop(srv->jobs);
	srv->joined = 1;
	pthread_mutex_unlock(&srv->wait_mu);
}

static void loop_free(struct ek_loop *loop)
{
	if (loop->http != NULL) {
		loop->bound = NULL; /* freed with the evhttp */
		/* closes connections: their close callbacks finish their requests */
		evhttp_free(loop->http);
	}
	ek_handler_drain(loop);
	if (loop->done_ev != NULL)
		event_free(loop->done_ev);
	if (loop->stop_ev != NULL)
		event_free(loop->stop_ev);
	if (loop->check_ev != NULL)
		event_free(loop->check_ev);
	if (loop->base != NULL)
		event_base_free(loop->base); /* runs deferred bufferevent finalizers */
	free(loop->pending); /* after the last SSL_free of the loop's connections */
	if (loop->fd >= 0)
		close(loop->fd);
	pthread_mutex_destroy(&loop->done_mu);
}

/* See estkit/server.h. */
void estkit_server_free(struct estkit_server *srv)
{
	sigset_t old;
	int i;

	if (srv == NULL)
		return;
	/* a server freed while running is stopped at once rather than left dangling */
	estkit_server_shutdown(srv, 0);
	estkit_server_wait(srv);
	/* closing connections may write (TLS close_notify) to a dead peer */
	block_sigpipe(&old);
	for (i = 0; srv->loops != NULL && i < srv->nloops; i++)
		loop_free(&srv->loops[i]);
	restore_sigpipe(&old);
	free(srv->loops);
	ek_jobs_free(srv->jobs);
	SSL_CTX_free(srv->ssl_ctx);
	EVP_PKEY_free(srv->key);
	free(srv->listen);
	free(srv->cert_file);
	free(srv->key_file);
	free(srv->client_ca_file);
	free(srv->extra_ca_file);
	free(srv->implicit_ca_file);
	ek_trust_free(srv);
	free(srv->realm);
	free(srv->otp_basic_user);
	ek_digest_free(srv->digest);
	ek_authfail_free(srv->authfail);
	ek_connlim_free(srv->connlim); /* after the loops: their connections gave their slots back */
	ek_srp_free(srv->srp);
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->mu);
	pthread_mutex_destroy(&srv->wait_mu);
	free(srv);
}
