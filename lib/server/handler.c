/*
 * handler.c - the event-loop side of a request: route it, answer what needs
 * no backend at once, hand the rest to the job pool, and send the reply when
 * the job comes back.
 *
 * Lifetime: a struct estkit_request lives from arrival until its reply has
 * been written (evhttp's on-complete callback) or its connection closed
 * (evhttp's close callback), whichever comes first; a job still running then
 * finds `dead` set when it returns and frees the request without touching
 * evhttp. Both callbacks and the completion run on the owning loop, so no
 * lock guards these fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include "server/server_internal.h"

static const char *status_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Server Error" : "Client Error";
	}
}

/* See server_internal.h. */
void ek_request_free(struct estkit_request *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->target);
	X509_free(r->peer_cert);
	if (r->authz != NULL)
		OPENSSL_clear_free(r->authz, strlen(r->authz));
	OPENSSL_free(r->body);
	OPENSSL_free(r->user);
	OPENSSL_free(r->identity);
	X509_REQ_free(r->csr);
	if (r->resp_body != NULL) /* a /serverkeygen body holds a private key */
		OPENSSL_clear_free(r->resp_body, r->resp_len);
	OPENSSL_free(r->resp_ctype_buf);
	OPENSSL_free(r->otp);
	if (r->delay_ev != NULL)
		event_free(r->delay_ev);
	if (r->otp_http != NULL)
		OPENSSL_clear_free(r->otp_http, strlen(r->otp_http));
	free(r);
}

static void finish(struct estkit_request *r)
{
	struct estkit_server *srv = r->srv;

	ek_request_free(r);
	ek_server_req_end(srv);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct estkit_request *r = arg;

	r->ev = NULL;
	/* a delayed reply's timer is freed with the request */
	if (r->state == EK_REQ_QUEUED)
		r->dead = 1; /* the job frees it when it comes back */
	else
		finish(r);
}

static void on_complete(struct evhttp_request *ev, void *arg)
{
	struct estkit_request *r = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);

	if (evcon != NULL)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	finish(r);
}

/* Printable copy of untrusted text for the log (no spaces or control bytes). */
static void log_safe(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < dstsz; i++)
		dst[i] = (src[i] > ' ' && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

static void access_log(struct estkit_request *r)
{
	struct timespec now;
	char path[256], ident[256];
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - r->start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - r->start.tv_nsec) / 1e6;
	log_safe(path, sizeof(path), r->path);
	log_safe(ident, sizeof(ident), estkit_request_identity(r));
	ek_server_log(r->srv, ESTKIT_LOG_INFO,
		      "access method=%s path=%s label=%s identity=%s status=%d serial=%s ms=%.2f "
		      "peer=%s",
		      r->method_name, path, r->label[0] != '\0' ? r->label : "-", ident,
		      r->status, r->serial[0] != '\0' ? r->serial : "-", ms, r->peer);
}

/*
 * RFC 7235 4.1: one WWW-Authenticate per scheme, the strongest first
 * (RFC 7616 3.7: SHA-256 before MD5), then Basic. The realm is a
 * quoted-string; the configuration never holds '"'.
 */
static void add_challenges(struct estkit_request *r, struct evkeyvalq *h)
{
	char www[512];
	unsigned methods = r->srv->cfg.auth_methods;

	if (r->srv->digest != NULL) {
		if (ek_digest_challenge(r->srv, "SHA-256", r->digest_stale, www, sizeof(www)) == 0)
			evhttp_add_header(h, "WWW-Authenticate", www);
		if (ek_digest_challenge(r->srv, "MD5", r->digest_stale, www, sizeof(www)) == 0)
			evhttp_add_header(h, "WWW-Authenticate", www);
	}
	if (methods & ESTKIT_AUTH_BASIC) {
		snprintf(www, sizeof(www), "Basic realm=\"%s\"", r->srv->realm);
		evhttp_add_header(h, "WWW-Authenticate", www);
	}
}

static void add_headers(struct estkit_request *r, struct evkeyvalq *h)
{
	char num[16];

	if (r->want_auth)
		add_challenges(r, h);
	if (r->status == 405 && r->allow != NULL)
		evhttp_add_header(h, "Allow", r->allow);
	if (r->status == 202 || r->status == 503 || r->status == 429) {
		unsigned ra = r->retry_after;
		if (ra == 0)
			ra = r->status == 202 ? EK_RETRY_PENDING : EK_RETRY_BUSY;
		snprintf(num, sizeof(num), "%u", ra);
		evhttp_add_header(h, "Retry-After", num);
	}
	/* a draining server closes kept-alive connections after this reply */
	if (ek_server_stopping(r->srv))
		evhttp_add_header(h, "Connection", "close");
}

/* Sends the reply of r (status, reason or body set). Never touch r afterwards. */
/* evbuffer cleanup of a referenced /serverkeygen body: wipe and free it. */
static void wipe_body(const void *data, size_t len, void *arg)
{
	(void)arg;
	OPENSSL_clear_free((void *)data, len);
}

static void respond(struct estkit_request *r)
{
	struct evhttp_request *ev = r->ev;
	struct evkeyvalq *h = evhttp_request_get_output_headers(ev);
	struct evbuffer *buf = evhttp_request_get_output_buffer(ev);
	int status = r->status;

	if (status == 0)
		status = r->status = 500;
	if (r->resp_body != NULL && r->resp_ctype != NULL &&
	    (status == 200 || r->op == ESTKIT_OP_FULLCMC)) {
		evhttp_add_header(h, "Content-Type", r->resp_ctype);
		/* RFC 7030 4.3.2: CMC answers, rejections included, are a CMC response */
		if (r->op == ESTKIT_OP_FULLCMC)
			evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
		/* a /serverkeygen body holds a key: evbuffer gets a reference we wipe when done */
		if (evbuffer_add_reference(buf, r->resp_body, r->resp_len, wipe_body, NULL) == 0)
			r->resp_body = NULL;
		else
			evbuffer_add(buf, r->resp_body, r->resp_len);
	} else if (status == 200 && r->resp_body != NULL) {
		/* RFC 7030 4.1.3 / 4.2.3; Content-Transfer-Encoding for pre-RFC 8951 clients */
		evhttp_add_header(h, "Content-Type",
				  "application/pkcs7-mime; smime-type=certs-only");
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
		evbuffer_add(buf, r->resp_body, r->resp_len);
	} else if (status != 204) {
		evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
		evbuffer_add_printf(buf, "%s\n",
				    r->reason[0] != '\0' ? r->reason : status_phrase(status));
	}
	add_headers(r, h);
	access_log(r);
	r->state = EK_REQ_SENT;
	evhttp_request_set_on_complete_cb(ev, on_complete, r);
	evhttp_send_reply(ev, status, status_phrase(status), NULL);
}

/* See server_internal.h. Any thread. */
void ek_handler_complete(struct estkit_request *r)
{
	struct ek_loop *loop = r->loop;

	r->next = NULL;
	pthread_mutex_lock(&loop->done_mu);
	if (loop->done_tail != NULL)
		loop->done_tail->next = r;
	else
		loop->done_head = r;
	loop->done_tail = r;
	pthread_mutex_unlock(&loop->done_mu);
	event_active(loop->done_ev, EV_READ, 0);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct estkit_request *r = arg;

	(void)fd;
	(void)what;
	event_free(r->delay_ev);
	r->delay_ev = NULL;
	r->state = EK_REQ_NEW;
	respond(r);
}

/*
 * Brute-force protection: a failed authentication's 401 goes out after
 * r->delay_ms, on a timer so the loop keeps serving everyone else.
 */
static void respond_later(struct estkit_request *r)
{
	struct timeval tv = { (time_t)(r->delay_ms / 1000), (suseconds_t)(r->delay_ms % 1000) * 1000 };

	r->delay_ev = evtimer_new(r->loop->base, delay_cb, r);
	if (r->delay_ev == NULL || evtimer_add(r->delay_ev, &tv) != 0) {
		respond(r);
		return;
	}
	r->state = EK_REQ_DELAYED;
}

/* See server_internal.h. */
void ek_handler_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ek_loop *loop = arg;
	struct estkit_request *r = NULL, *next = NULL;

	pthread_mutex_lock(&loop->done_mu);
	r = loop->done_head;
	loop->done_head = loop->done_tail = NULL;
	pthread_mutex_unlock(&loop->done_mu);
	for (; r != NULL; r = next) {
		next = r->next;
		if (r->dead || r->ev == NULL)
			finish(r);
		else if (r->delay_ms > 0)
			respond_later(r);
		else
			respond(r);
	}
}

/* See server_internal.h. After the loop and its evhttp are gone. */
void ek_handler_drain(struct ek_loop *loop)
{
	struct estkit_request *r = loop->done_head, *next = NULL;

	loop->done_head = loop->done_tail = NULL;
	for (; r != NULL; r = next) {
		next = r->next;
		finish(r);
	}
}

/* ---- arrival ------------------------------------------------------------------ */

static const char *method_name(int m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

/*
 * The peer's address, and who it is as the TLS handshake says: the
 * connection's entry (peer.c), worked out on its first request. 0, or -1
 * when out of memory.
 */
static int set_peer(struct estkit_request *r, struct evhttp_connection *evcon)
{
	char *addr = NULL;
	ev_uint16_t port = 0;
	SSL *ssl = ek_tls_conn_ssl(evcon);
	const struct ek_peer *p = NULL;

	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr != NULL && strchr(addr, ':') != NULL)
		snprintf(r->peer, sizeof(r->peer), "[%s]:%u", addr, (unsigned)port);
	else
		snprintf(r->peer, sizeof(r->peer), "%s:%u", addr != NULL ? addr : "?",
			 (unsigned)port);
	if (ssl == NULL)
		return 0;
	if ((p = ek_peer_get(r->srv, ssl)) == NULL)
		return -1;
	if (p->cert != NULL) {
		if (X509_up_ref(p->cert) != 1)
			return -1;
		r->peer_cert = p->cert;
		r->peer_implicit = p->implicit;
	}
	if (p->srp_user != NULL && (r->user = OPENSSL_strdup(p->srp_user)) == NULL)
		return -1;
	if (p->identity != NULL && (r->identity = OPENSSL_strdup(p->identity)) == NULL)
		return -1;
	return 0;
}

static struct estkit_request *request_new(struct ek_loop *loop, struct evhttp_request *ev)
{
	struct estkit_request *r = calloc(1, sizeof(*r));
	struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
	const char *uri = evhttp_request_get_uri(ev);

	if (r == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	r->srv = loop->srv;
	r->loop = loop;
	r->ev = ev;
	r->method = evhttp_request_get_command(ev);
	snprintf(r->method_name, sizeof(r->method_name), "%s", method_name(r->method));
	r->path = strndup(uri != NULL ? uri : "", uri != NULL ? strcspn(uri, "?") : 0);
	r->target = strdup(uri != NULL ? uri : "");
	if (r->path == NULL || r->target == NULL || set_peer(r, evcon) != 0) {
		ek_request_free(r);
		return NULL;
	}
	ek_server_req_begin(r->srv);
	evhttp_connection_set_closecb(evcon, on_close, r);
	return r;
}

/* The connection's channel binding into r->chanbind ("" when none). */
static void set_channel_binding(struct estkit_request *r)
{
	SSL *ssl = ek_tls_conn_ssl(evhttp_request_get_connection(r->ev));
	struct ek_peer *p = ssl != NULL ? ek_peer_get(r->srv, ssl) : NULL;

	r->chanbind[0] = '\0';
	if (p != NULL)
		snprintf(r->chanbind, sizeof(r->chanbind), "%s", ek_peer_channel_binding(p, ssl));
}

static int reply(struct estkit_request *r, int status, const char *reason)
{
	ek_request_set(r, status, "%s", reason);
	return -1;
}

/* simpleenroll / simplereenroll / serverkeygen checks that need no backend (RFC 7030 4.2.1). */
static int route_enroll(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->ev);
	struct evbuffer *body = evhttp_request_get_input_buffer(r->ev);
	const char *authz = evhttp_find_header(in, "Authorization");
	size_t len = evbuffer_get_length(body);

	if (r->op == ESTKIT_OP_FULLCMC) {
		if (r->srv->backend.fullcmc == NULL)
			return reply(r, 501, "not implemented");
		if (!ek_route_is_cmc(evhttp_find_header(in, "Content-Type")))
			return reply(r, 415, "content type must be application/pkcs7-mime; "
					     "smime-type=CMC-request");
	} else if (r->op == ESTKIT_OP_SERVERKEYGEN ? be->serverkeygen == NULL
						   : be->enroll == NULL) {
		return reply(r, 501, "not implemented");
	} else if (!ek_route_is_pkcs10(evhttp_find_header(in, "Content-Type"))) {
		return reply(r, 415, "content type must be application/pkcs10");
	}
	/* RFC 7894: an initial enrollment may authenticate with an otpChallenge in its CSR */
	if (r->peer_cert == NULL && r->user == NULL && authz == NULL &&
	    !(len > 0 && ek_authorize_otp_possible(r))) {
		r->want_auth = 1;
		return reply(r, 401, "authentication required");
	}
	if (len == 0)
		return reply(r, 400, "empty request body");
	if (len > r->srv->cfg.max_body)
		return reply(r, 413, "request body too large");
	if (authz != NULL && (r->authz = OPENSSL_strdup(authz)) == NULL)
		return reply(r, 500, "internal error");
	r->body = OPENSSL_malloc(len);
	if (r->body == NULL)
		return reply(r, 500, "internal error");
	r->bodylen = (size_t)evbuffer_remove(body, r->body, len);
	/* RFC 7030 3.5: the SSL is only reachable here, on the loop */
	set_channel_binding(r);
	return 0;
}

/* /csrattrs (RFC 7030 4.5.1): a GET; credentials are optional and checked later. */
static int route_csrattrs(struct estkit_request *r)
{
	const char *authz = evhttp_find_header(evhttp_request_get_input_headers(r->ev),
					       "Authorization");

	if (r->srv->backend.csrattrs == NULL)
		return reply(r, 501, "not implemented");
	if (authz != NULL && (r->authz = OPENSSL_strdup(authz)) == NULL)
		return reply(r, 500, "internal error");
	return 0;
}

/* Returns 0 when r goes to the job pool, -1 when its reply is already decided. */
static int route(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	const char *reason = NULL;

	if (ek_route_parse(evhttp_request_get_uri(r->ev), r->label, &r->op, &reason) != 0)
		return reply(r, 404, reason);
	if (be->label_exists != NULL ? be->label_exists(be->ctx, r->label) != 1
				     : r->label[0] != '\0')
		return reply(r, 404, "unknown label");
	if (!ek_route_method_ok(r->op, r->method, &r->allow))
		return reply(r, 405, "method not allowed");
	ek_trust_apply_implicit(r);
	if (ek_authfail_refused(r))
		return -1; /* 429: this address failed to authenticate too often */
	switch (r->op) {
	case ESTKIT_OP_CACERTS:
		if (be->cacerts == NULL)
			return reply(r, 501, "not implemented");
		return 0;
	case ESTKIT_OP_SIMPLEENROLL:
	case ESTKIT_OP_SIMPLEREENROLL:
	case ESTKIT_OP_SERVERKEYGEN: /* RFC 7030 4.4.1: same request as /simpleenroll */
	case ESTKIT_OP_FULLCMC:
		return route_enroll(r);
	case ESTKIT_OP_CSRATTRS:
		return route_csrattrs(r);
	default:
		/* no other operation exists */
		return reply(r, 501, "not implemented");
	}
}

/* See server_internal.h. evhttp's generic callback, on the loop. */
void ek_handler_request(struct evhttp_request *ev, void *arg)
{
	struct ek_loop *loop = arg;
	struct estkit_request *r = request_new(loop, ev);

	if (r == NULL) {
		evhttp_send_error(ev, 500, NULL);
		return;
	}
	if (route(r) == 0) {
		r->state = EK_REQ_QUEUED;
		if (ek_jobs_submit(r->srv->jobs, r) == ESTKIT_OK)
			return;
		/* back-pressure: a full queue answers at once (DESIGN.md 4) */
		r->state = EK_REQ_NEW;
		ek_request_set(r, 503, "server busy, retry later");
		r->retry_after = EK_RETRY_BUSY;
	}
	respond(r);
}
