/*
 * server_internal.h - shared internals of lib/server: the server object, its
 * event loops, the job pool and the one struct that carries a request through
 * the pipeline (route -> authenticate -> decode -> verify -> fulfil -> respond).
 *
 * Thread rules: fields marked [loop] are touched only on the owning event
 * loop's thread; [job] only by the job thread running the request; [mu] under
 * the named mutex. The evhttp_request is never touched by a job thread.
 */
#ifndef EK_SERVER_INTERNAL_H
#define EK_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <estkit/server.h>
#include <estkit/chanbind.h>
#include "server/addrkey.h"

#define EK_LABEL_MAX     64
#define EK_REASON_MAX    256
#define EK_AUTH_MAX      1024 /* decoded Basic credentials */
#define EK_RETRY_BUSY    5    /* Retry-After of a 503 when the queue is full */
#define EK_RETRY_PENDING 60   /* Retry-After of a 202 when the backend set none */

#define EK_DIGEST_AUTHZ_MAX 4096 /* a Digest Authorization header, bytes */
#define EK_AUTHFAIL_DELAY_MAX 5000 /* ms: the longest a failed authentication's 401 waits */

struct ek_loop;
struct ek_jobs;
struct ek_digest;
struct ek_authfail;
struct ek_connlim;
struct ek_srp;
struct SRP_VBASE_st; /* OpenSSL's verifier base, seen only by tls_srp.c */

/* Where a request is in its life; drives who frees it. [loop] */
enum ek_req_state {
	EK_REQ_NEW = 0,  /* being routed on the loop */
	EK_REQ_QUEUED,   /* handed to the job pool; the loop waits for the result */
	EK_REQ_SENT,     /* reply handed to evhttp; waiting for it to be written */
	EK_REQ_DELAYED,  /* a failed authentication's reply waits on delay_ev */
};

/* One request in flight, from arrival to the access-log line. */
struct estkit_request {
	struct estkit_request *next; /* job queue / completion list link */
	struct estkit_server *srv;
	struct ek_loop *loop;
	struct evhttp_request *ev;   /* [loop] NULL once the connection went away */
	enum ek_req_state state;     /* [loop] */
	int dead;                    /* [loop] the connection closed under us */
	struct timespec start;

	/* request, copied on the loop so the job never sees evhttp */
	enum estkit_op op;
	int method;                  /* EVHTTP_REQ_* */
	char method_name[8];
	char *path;                  /* path without query, for the log */
	char label[EK_LABEL_MAX + 1];
	char peer[64];
	X509 *peer_cert;             /* verified TLS client certificate or NULL (owned) */
	char *authz;                 /* Authorization header value or NULL (wiped) */
	unsigned char *body;
	size_t bodylen;

	/* results of the pipeline [job], read by the loop after completion */
	char *user;                  /* HTTP user once verified, or the TLS-SRP user */
	char *identity;
	X509_REQ *csr;
	int status;                  /* HTTP status of the reply */
	char reason[EK_REASON_MAX];
	int failed;                  /* estkit_request_fail() was called */
	unsigned retry_after;        /* 0 = not set */
	int want_auth;               /* add WWW-Authenticate */
	const char *allow;           /* Allow header of a 405 */
	char *resp_body;             /* base64 PKCS#7 for a 200 */
	size_t resp_len;
	char serial[130];
	char *resp_ctype_buf;        /* owned storage behind resp_ctype (a multipart boundary) */

	/* channel binding (RFC 7030 3.5) and RFC 7894 attributes */
	char chanbind[ESTKIT_CHANBIND_B64_MAX]; /* [loop] this connection's value, "" if none */
	int chanbind_ok;             /* [job] the CSR carried it */
	char *otp;                   /* [job] otpChallenge or NULL */
	const char *resp_ctype;       /* Content-Type of a 200 body; NULL: certs-only PKCS#7 */
	char *target;                /* request-target as sent, query included (Digest uri) */
	int digest_stale;            /* [job] 401 challenge carries stale=true */
	unsigned delay_ms;           /* [job] hold the reply this long (failed authentication) */
	struct event *delay_ev;      /* [loop] the timer of EK_REQ_DELAYED */
	int peer_implicit;           /* [loop] peer_cert chains only to the implicit anchors */
	int auth_unavailable;        /* [job] backend->digest_nc could not tell: 503 */
	char *otp_http;              /* [job] Basic password of otp_basic_user (wiped) or NULL */
	int otp_pending;             /* [job] unauthenticated: a one-time password may authenticate */
	int authorized;              /* [job] backend->authorize let it through */
};

/* One event loop thread: its base, evhttp and listening socket. */
struct ek_loop {
	struct estkit_server *srv;
	int index;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound; /* [loop] NULL once listeners closed */
	int fd;                            /* listening socket until handed to evhttp */
	pthread_t thread;
	int running;
	struct event *done_ev;             /* activated by job threads */
	struct event *stop_ev;             /* activated by estkit_server_shutdown() */
	pthread_mutex_t done_mu;
	struct estkit_request *done_head, *done_tail; /* [done_mu] finished jobs */
	int nconns;                        /* [loop] open connections on this loop */
	int conn_limit;
	int paused;                        /* [loop] listener disabled at conn_limit */
	struct event *check_ev;            /* per-address limit: checks the pending list */
	SSL **pending;                     /* [loop] accepted, address not checked yet */
	int npending;                      /* [loop] entries of pending (<= conn_limit) */
};

struct estkit_server {
	struct estkit_server_config cfg; /* strings below are owned copies */
	char *listen, *cert_file, *key_file, *client_ca_file, *extra_ca_file, *realm;
	char *otp_basic_user;
	struct estkit_backend backend;
	SSL_CTX *ssl_ctx;
	EVP_PKEY *key;          /* cfg.key, own reference; NULL: key_file */
	int nloops;
	struct ek_loop *loops;
	struct ek_jobs *jobs;
	int port;
	char errmsg[512];

	pthread_mutex_t mu;
	pthread_cond_t cond;
	int started;          /* [mu] */
	int stopping;         /* [mu] */
	struct timespec deadline; /* [mu] end of the grace period */
	long inflight;        /* [mu] requests not yet finished */
	int joined;           /* [wait_mu] threads have been joined */
	pthread_mutex_t wait_mu;
	struct ek_digest *digest;  /* nonce key and nonce-count table; NULL: no Digest */
	struct ek_authfail *authfail; /* failed-authentication tracker; NULL: disabled */
	struct ek_connlim *connlim;   /* connections per address; NULL: no limit */
	char *implicit_ca_file;    /* implicit client-cert anchors (RFC 7030 3.6); NULL: none */
	/*
	 * Client-certificate trust anchors (trust.c), one generation at a time:
	 * a reload builds new stores and swaps them in; a handshake and a peer
	 * check each hold their own reference to the stores they started with.
	 */
	pthread_mutex_t trust_mu;
	X509_STORE *verify_store;   /* [trust_mu] all anchors, what handshakes verify against */
	X509_STORE *explicit_store; /* [trust_mu] explicit anchors alone, set when implicit_ca_file is */
	STACK_OF(X509_NAME) *ca_names; /* [trust_mu] the CertificateRequest's CA list */
	STACK_OF(X509) *added_cas;  /* [trust_mu] anchors added at run time, kept by reloads */
	struct ek_srp *srp;        /* TLS-SRP verifiers (tls_srp.c); NULL: no SRP */
	unsigned trust_gen;        /* [atomic, written under trust_mu] bumped when the anchors change */
	unsigned long peer_verifications; /* [atomic] implicit-vs-explicit checks made (peer.c) */
	unsigned long peer_reverifications; /* [atomic] chains checked again after a change (peer.c) */
};

/* ---- server.c ---- */
void ek_server_log(struct estkit_server *srv, enum estkit_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets srv->errmsg (with OpenSSL's queued errors appended when ssl is 1). */
void ek_server_err(struct estkit_server *srv, int ssl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* inflight bookkeeping: a request begins / ends (wakes a waiting shutdown). */
void ek_server_req_begin(struct estkit_server *srv);
void ek_server_req_end(struct estkit_server *srv);
int ek_server_stopping(struct estkit_server *srv);

/* ---- tls.c ---- */
/* Builds srv->ssl_ctx from the configuration; errmsg on failure. */
enum estkit_status ek_tls_ctx_new(struct estkit_server *srv);
/* evhttp bufferevent callback: a TLS bufferevent per accepted connection. */
struct bufferevent *ek_tls_bevcb(struct event_base *base, void *arg);
/*
 * The loop's check event: counts each pending connection for its peer
 * address (srv->connlim) and shuts down those over the limit. Loop thread.
 */
void ek_tls_check_cb(evutil_socket_t fd, short what, void *arg);
/* The SSL of a connection (borrowed) or NULL. */
SSL *ek_tls_conn_ssl(struct evhttp_connection *evcon);

/* ---- tls_srp.c: TLS-SRP, RFC 5054 / RFC 7030 3.3.3 (the only file calling OpenSSL's SRP API) ---- */
/*
 * Checks the text of a verifier file (`openssl srp` format: six
 * tab-separated fields a line) before OpenSSL parses it, which skips what
 * it does not understand without a word: every line well-formed, user names
 * printable, every valid user's group known and at least 2048 bits. *nusers
 * is the number of valid ('V') users. 0, or -1 with "line N: why" in msg.
 */
int ek_srp_check_file(const unsigned char *buf, size_t len, int *nusers, char *msg,
		      size_t msglen);
/*
 * Loads file (checked as above) into *out with seed (a NUL-terminated key
 * for the simulated salts of unknown users). *nusers as above; msg on
 * failure. ESTKIT_EIO (unreadable), ESTKIT_EINVAL (malformed), ESTKIT_ENOMEM.
 */
enum estkit_status ek_srp_load(const char *file, const char *seed, struct SRP_VBASE_st **out,
			       int *nusers, char *msg, size_t msglen);
void ek_srp_vbase_free(struct SRP_VBASE_st *vb);
/*
 * What a handshake for name would use: salt (at most *saltlen bytes in,
 * its length out) and the group size in bits. A name not in vb gets the
 * simulated record. 0 or -1. For tests.
 */
int ek_srp_vbase_lookup(struct SRP_VBASE_st *vb, const char *name, unsigned char *salt,
			size_t *saltlen, int *group_bits);
/* With cfg.srp_verifier_file: loads it and installs the SRP callback on srv->ssl_ctx. 0 or -1. */
int ek_srp_setup(struct estkit_server *srv);
void ek_srp_free(struct ek_srp *srp);
/* 1 when the SRP user lookup ran during ssl's handshake (a failure is then a failed login). */
int ek_srp_tried(const SSL *ssl);
/* The user name of a finished SRP handshake (OPENSSL_malloc'ed) or NULL. Loop thread. */
char *ek_tls_srp_user(SSL *ssl);

/* ---- trust.c ---- */
/*
 * Reads the anchor files into the first generation of stores, makes the
 * SSL_CTX's store and CA list those (nothing configured: no-op). Before
 * the loops start. 0, or -1 with errmsg.
 */
int ek_trust_init(struct estkit_server *srv);
/*
 * Gives a new connection's ssl the current anchors (its own references) and
 * remembers their generation on it. 0 or -1 (memory). Loop thread.
 */
int ek_trust_attach(struct estkit_server *srv, SSL *ssl);
/* 1 with *gen the generation of the anchors ssl's handshake used, 0 when not attached. */
int ek_trust_handshake_gen(const SSL *ssl, unsigned *gen);
/* One consistent generation of the anchors: own references, put back with ek_trust_snap_put(). */
struct ek_trust_snap {
	X509_STORE *all;           /* every anchor; NULL: client certificates not requested */
	X509_STORE *explicit_only; /* NULL: no implicit database */
	unsigned gen;
};
/* 0 or -1 (memory). Any thread. */
int ek_trust_snap_get(struct estkit_server *srv, struct ek_trust_snap *snap);
void ek_trust_snap_put(struct ek_trust_snap *snap);
/* Frees the stores, lists and lock (estkit_server_free). */
void ek_trust_free(struct estkit_server *srv);
/*
 * RFC 7030 3.3.2: a certificate of the implicit database authenticates an
 * enrollment only; for any other operation of r it is forgotten.
 */
void ek_trust_apply_implicit(struct estkit_request *r);

/* ---- peer.c: the client as the TLS handshake saw it, once per connection ---- */
struct ek_peer {
	int valid;          /* worked out (not: a first try ran out of memory) */
	unsigned gen;       /* srv->trust_gen the entry was worked out under */
	X509 *cert;         /* verified TLS client certificate (own reference) or NULL */
	int implicit;       /* cert chains to the implicit anchors only (RFC 7030 3.3.2) */
	char *identity;     /* "cert:SUBJECT", "srp:USER" or NULL */
	char *srp_user;     /* user of a TLS-SRP handshake or NULL */
	int chanbind_done;  /* chanbind has been worked out */
	char chanbind[ESTKIT_CHANBIND_B64_MAX]; /* RFC 7030 3.5, "" when none */
};
/*
 * The peer of the connection ssl belongs to: worked out on the first request
 * and again when srv->trust_gen moved since; else the entry of an earlier
 * request. Borrowed: freed with ssl. NULL when out of memory. Loop thread.
 */
struct ek_peer *ek_peer_get(struct estkit_server *srv, SSL *ssl);
/* p's channel binding (base64, "" when none), worked out on first use. Loop thread. */
const char *ek_peer_channel_binding(struct ek_peer *p, SSL *ssl);

/* ---- chanbind.c (job side) ---- */
/*
 * RFC 7030 3.5 / RFC 7894 checks of a decoded CSR: the binding it carries
 * against the connection's, the label's requirement, the otpChallenge.
 * 0 to go on, -1 with status and reason set.
 */
int ek_chanbind_check(struct estkit_request *r);

/* ---- listen.c ---- */
/*
 * Binds n listening sockets (SO_REUSEPORT) to "HOST:PORT" / "[v6]:PORT".
 * Port 0 picks one port for all. fds[] receives non-blocking sockets.
 */
enum estkit_status ek_listen_bind(struct estkit_server *srv, const char *spec, int n, int *fds,
				  int *port);

/* ---- jobs.c ---- */
struct ek_jobs *ek_jobs_new(struct estkit_server *srv, int nthreads, int queue_max);
enum estkit_status ek_jobs_start(struct ek_jobs *jobs);
/* Queues a request; ESTKIT_EBUSY when the queue is full. Loop thread. */
enum estkit_status ek_jobs_submit(struct ek_jobs *jobs, struct estkit_request *r);
/* Stops the threads; queued requests complete as 503. Joins. */
void ek_jobs_stop(struct ek_jobs *jobs);
void ek_jobs_free(struct ek_jobs *jobs);

/* ---- route.c ---- */
/*
 * Splits a request target into label and op (RFC 7030 3.2.2). Returns 0 and
 * fills label (EK_LABEL_MAX + 1 bytes) / op, or -1 with a reason for a 404.
 */
int ek_route_parse(const char *uri, char *label, enum estkit_op *op, const char **reason);
/* 1 when a Content-Type is application/pkcs7-mime; smime-type=CMC-request (RFC 7030 4.3.1). */
int ek_route_is_cmc(const char *ctype);
/* 1 when a Content-Type names application/pkcs10 (any case, parameters allowed). */
int ek_route_is_pkcs10(const char *ctype);
/* Methods an op accepts, for the 405 Allow header; 1 when method is one of them. */
int ek_route_method_ok(enum estkit_op op, int method, const char **allow);
/*
 * Parses "Basic <base64(user:password)>" strictly. Returns 0 with *user and
 * *pass (OPENSSL_malloc'ed; free user with
 * OPENSSL_free, pass with OPENSSL_clear_free) or -1.
 */
int ek_route_parse_basic(const char *authz, char **user, char **pass);

/* ---- handler.c (loop side) ---- */
void ek_handler_request(struct evhttp_request *ev, void *arg);
/* Job pool -> loop: the request's pipeline finished. Any thread. */
void ek_handler_complete(struct estkit_request *r);
/* Drains the completion list of a loop. Loop thread (or after it stopped). */
void ek_handler_done_cb(evutil_socket_t fd, short what, void *arg);
/* Frees the finished requests of a stopped loop, without evhttp access. */
void ek_handler_drain(struct ek_loop *loop);
/* Frees a request and its buffers (no evhttp access). */
void ek_request_free(struct estkit_request *r);

/* ---- pipeline.c (job side) ---- */
/* Runs authentication, decoding, verification and the backend for r. Job thread. */
void ek_pipeline_run(struct estkit_request *r);
/* ---- fullcmc.c (job side) ---- */
/* /fullcmc after authentication: base64, backend, CMC response. Job thread. */
void ek_fullcmc_run(struct estkit_request *r);

/* Sets status/reason without the failed flag semantics of the public API. */
void ek_request_set(struct estkit_request *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Turns a backend's status and certificates (freed) into the reply: 200 + base64 certs-only. */
void ek_pipeline_result(struct estkit_request *r, enum estkit_status st, STACK_OF(X509) *certs);

/* ---- authorize.c (job side) ---- */
/*
 * 1 when an unauthenticated request may go on to find a one-time password
 * (backend->authorize set, initial enrollment op).
 */
int ek_authorize_otp_possible(const struct estkit_request *r);
/* Basic credentials of the otp_basic_user: keeps the password as r->otp_http. 1 if so. */
int ek_authorize_take_basic_otp(struct estkit_request *r, const char *user, char **pass);
/* After CSR decoding: the one-time password rules and backend->authorize. 0 to go on. */
int ek_authorize_run(struct estkit_request *r);
/* After the backend: backend->authorize_done with the reply status. */
void ek_authorize_done(struct estkit_request *r);

/* ---- serverkeygen.c (job side) ---- */
/* RFC 7030 4.4 after authentication and CSR verification: backend, CMS, multipart. */
void ek_serverkeygen_run(struct estkit_request *r);

/* ---- digest_parse.c, auth_digest.c: HTTP Digest (RFC 7616) ---- */
/* The parameters of a Digest Authorization header; values point into buf. */
struct ek_digest_params {
	const char *username, *realm, *nonce, *uri, *response, *algorithm, *cnonce, *opaque,
		*qop, *nc, *userhash, *username_ext;
	char buf[EK_DIGEST_AUTHZ_MAX];
};
/*
 * Parses "Digest k=v, k="v", ..." strictly (RFC 7616 3.4, RFC 7235 2.1):
 * at most EK_DIGEST_AUTHZ_MAX - 1 bytes, no parameter twice, no empty list
 * element, no control bytes. Unknown parameters are ignored. 0 or -1.
 */
int ek_digest_parse(const char *authz, struct ek_digest_params *p);

enum ek_nonce_state { EK_NONCE_BAD = -1, EK_NONCE_OK = 0, EK_NONCE_STALE = 1 };
enum ek_nc_state { EK_NC_OK = 0, EK_NC_REPLAY = 1, EK_NC_FORGOTTEN = 2 };

/*
 * Nonce key (copied; NULL: 32 random bytes), lifetime in seconds and the
 * size of the nonce-count table. NULL on bad arguments or no memory.
 */
struct ek_digest *ek_digest_new(const unsigned char *secret, size_t len, int lifetime,
				int table);
void ek_digest_free(struct ek_digest *d);
/* A fresh nonce for realm issued at now, NUL-terminated in out (>= 65 bytes). 0 or -1. */
int ek_digest_nonce(const struct ek_digest *d, const char *realm, time_t now, char *out,
		    size_t outsz);
/*
 * Checks a nonce's MAC for realm: BAD (forged, malformed, from the future),
 * STALE (older than the lifetime) or OK; then *ts is its issue time and key
 * its replay-table key (16 bytes).
 */
enum ek_nonce_state ek_digest_nonce_check(const struct ek_digest *d, const char *realm,
					  const char *nonce, time_t now, int64_t *ts,
					  unsigned char key[16]);
/*
 * Records nonce-count nc for the nonce key/ts: OK when higher than any seen,
 * REPLAY when not, FORGOTTEN when the nonce may have been evicted (stale).
 * Thread-safe.
 */
enum ek_nc_state ek_digest_nc_accept(struct ek_digest *d, const unsigned char key[16],
				     int64_t ts, uint32_t nc);
/*
 * The expected response (lowercase hex, out >= 2 * EVP_MAX_MD_SIZE + 1) of
 * RFC 7616 3.4.1 for qop=auth, from the raw HA1 of algorithm alg ("SHA-256"
 * or "MD5"; NULL = MD5). 0 or -1.
 */
int ek_digest_response(const char *alg, const unsigned char *ha1, size_t ha1_len,
		       const struct ek_digest_params *p, const char *method, char *out);
/* A WWW-Authenticate value "Digest realm=..., nonce=..." for alg. 0 or -1. */
int ek_digest_challenge(struct estkit_server *srv, const char *alg, int stale, char *out,
			size_t outsz);
/*
 * Verifies r->authz as Digest credentials against backend->digest_ha1.
 * 0 with *user (OPENSSL_free) when authenticated; -1 otherwise, with
 * r->digest_stale set when the client should retry with a fresh nonce.
 * Job thread.
 */
int ek_digest_authenticate(struct estkit_request *r, char **user);

/* ---- authfail.c: brute-force protection (failed authentications per address) ---- */
struct ek_authfail_conf {
	int limit;    /* failures in a window that lock an address out (> 0) */
	int window;   /* seconds (> 0) */
	int lockout;  /* seconds an address stays locked out (> 0) */
	int table;    /* addresses remembered (> 0) */
	int delay_ms; /* the n-th failure's reply waits (n - 1) * delay_ms (>= 0) */
};
/* A tracker (copies conf); NULL on bad settings or no memory. */
struct ek_authfail *ek_authfail_new(const struct ek_authfail_conf *conf);
void ek_authfail_free(struct ek_authfail *af);
/*
 * Seconds peer (a.b.c.d:port, [v6]:port or bare, keyed by ek_addrkey_text())
 * stays locked out at now (monotonic seconds); 0 when it is not, or peer is
 * malformed. Thread-safe.
 */
unsigned ek_authfail_locked(struct ek_authfail *af, const char *peer, int64_t now);
/* The same for the address key addr (addrkey.h). */
unsigned ek_authfail_locked_key(struct ek_authfail *af, const unsigned char addr[16],
				int64_t now);
/*
 * Counts a failed authentication of peer at now. Returns the delay (ms) its
 * reply should wait; *locked_now (may be NULL) is 1 when this failure
 * started a lockout. NULL af: no-op, 0. Thread-safe.
 */
unsigned ek_authfail_record(struct ek_authfail *af, const char *peer, int64_t now,
			    int *locked_now);
/* The same for the address key addr (addrkey.h). */
unsigned ek_authfail_record_key(struct ek_authfail *af, const unsigned char addr[16],
				int64_t now, int *locked_now);
/* Monotonic seconds, the clock of the tracker. */
int64_t ek_authfail_now(void);
/*
 * The 401 of credentials that did not authenticate r; counts the failure
 * (not for a first request without credentials or a stale Digest nonce),
 * sets r->delay_ms and logs a lockout. Job thread.
 */
void ek_authfail_reject(struct estkit_request *r);
/* 1 with 429 + Retry-After set on r when its peer is locked out (not for /cacerts). Loop. */
int ek_authfail_refused(struct estkit_request *r);
/*
 * Counts a failed TLS authentication of the connection on fd: a rejected
 * client certificate or SRP login; what names it in the lockout log line.
 * Any thread.
 */
void ek_authfail_tls(struct estkit_server *srv, int fd, const char *what);

/* ---- connlim.c: connections per peer address (IPv6: per /64) ---- */
#define EK_CONNLIM_REPORT_EVERY 10 /* seconds between two log lines about refusals */
enum ek_connlim_verdict {
	EK_CONNLIM_OK = 0,   /* counted: *slot is the address's entry */
	EK_CONNLIM_OVER = 1, /* the address holds limit connections already */
	EK_CONNLIM_FULL = 2, /* a new address and no free entry (refused: fail closed) */
};
struct ek_connlim_stats {
	uint64_t refused;      /* connections refused, OVER and FULL */
	uint64_t refused_full; /* of which for want of an entry */
	unsigned addresses;    /* addresses holding connections now */
	unsigned connections;  /* connections counted now */
};
/*
 * A table allowing limit (> 0) connections per address, with entries (> 0)
 * addresses at most; NULL on bad settings or no memory.
 */
struct ek_connlim *ek_connlim_new(int limit, int entries);
void ek_connlim_free(struct ek_connlim *cl);
/*
 * Counts a new connection of key. EK_CONNLIM_OK with *slot set (give it back
 * with ek_connlim_release()), else *slot is -1 and the refusal is counted.
 * Thread-safe.
 */
enum ek_connlim_verdict ek_connlim_acquire(struct ek_connlim *cl, const unsigned char key[16],
					   int *slot) __attribute__((warn_unused_result));
/* Gives back a slot of ek_connlim_acquire(); out-of-range or free slots are ignored. Any thread. */
void ek_connlim_release(struct ek_connlim *cl, int slot);
/* The connections key holds now. Thread-safe. */
unsigned ek_connlim_held(struct ek_connlim *cl, const unsigned char key[16]);
void ek_connlim_stats(struct ek_connlim *cl, struct ek_connlim_stats *st);
/*
 * 1 when refusals wait to be logged and the last report is at least
 * EK_CONNLIM_REPORT_EVERY seconds before now (monotonic seconds); then
 * *unreported is their number, and they count as reported. Thread-safe.
 */
int ek_connlim_report_due(struct ek_connlim *cl, int64_t now, uint64_t *unreported);

#endif /* EK_SERVER_INTERNAL_H */
