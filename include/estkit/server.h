/*
 * estkit/server.h - EST server (RFC 7030): HTTPS listener, routing,
 * authentication and the request pipeline, with fulfilment delegated to a
 * backend the embedder supplies.
 *
 * Threads: estkit_server_start() binds the listening sockets and starts
 * `io_threads` event-loop threads (each its own libevent event_base + evhttp,
 * one SO_REUSEPORT socket each) and `job_threads` job-pool threads. Every
 * backend callback runs on a job-pool thread, never on an event loop, so a
 * backend may block (disk, network, signing). Backend callbacks may run
 * concurrently: the backend does its own locking.
 *
 * Pipeline of one request:
 *   route (label, op)       -> 404 unknown label (backend->label_exists), 404 unknown op,
 *                              405 wrong method, 415 wrong content type, 413 body too big
 *   authenticate            -> TLS client certificate (verified during the handshake against
 *                              the configured trust anchors) and/or HTTP Basic
 *                              (backend->check_basic) or Digest, RFC 7616
 *                              (backend->digest_ha1); 401 + WWW-Authenticate when an
 *                              operation needing auth has neither, or the password is wrong
 *   decode + verify         -> base64 + PKCS#10 parse + self-signature: 400 with a reason
 *   channel binding         -> RFC 7030 3.5: the CSR's estIdentityLinking / challengePassword
 *                              against the connection's tls-unique / tls-exporter:
 *                              400 when required and missing, 403 when it does not match
 *   re-enroll rules         -> RFC 7030 4.2.2: /simplereenroll needs the TLS client
 *                              certificate being renewed (unless reenroll_requires_cert is 0),
 *                              and the CSR's subject and subjectAltName must equal it: 400
 *   authorize               -> backend->authorize: policy, one-time passwords: 403 / 401
 *   fulfil                  -> backend->enroll (or ->serverkeygen) on the job pool
 *   respond                 -> base64 certs-only PKCS#7 (multipart/mixed with the key for
 *                              /serverkeygen), or 202 + Retry-After, or the error
 * One access-log line per request goes to the log callback.
 */
#ifndef ESTKIT_SERVER_H
#define ESTKIT_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct estkit_server;
struct estkit_request; /* one request in flight; only valid inside a backend callback */

enum estkit_op {
	ESTKIT_OP_CACERTS = 0,
	ESTKIT_OP_SIMPLEENROLL = 1,
	ESTKIT_OP_SIMPLEREENROLL = 2,
	ESTKIT_OP_CSRATTRS = 3,
	ESTKIT_OP_SERVERKEYGEN = 4,
	ESTKIT_OP_FULLCMC = 5,
};

/* "cacerts", "simpleenroll", ... */
ESTKIT_API const char *estkit_op_name(enum estkit_op op);

enum estkit_log_level { ESTKIT_LOG_ERROR = 0, ESTKIT_LOG_WARN = 1, ESTKIT_LOG_INFO = 2,
			ESTKIT_LOG_DEBUG = 3 };

/*
 * What the embedder supplies. Every callback receives `ctx`. Callbacks left
 * NULL make the matching operation answer 501 (not implemented) - except
 * label_exists (NULL: only the default label "" exists) and check_basic
 * (NULL: Basic authentication always fails).
 */
struct estkit_backend {
	void *ctx;

	/* 1 when label ("" = the default, no label in the path) is served. Any thread. */
	int (*label_exists)(void *ctx, const char *label);

	/* 1 when user/password are valid for label. Must compare in constant time. Job pool. */
	int (*check_basic)(void *ctx, const char *label, const char *user, const char *password);

	/*
	 * The CA certificates for label (RFC 7030 4.1.3), first the current CA.
	 * *out is handed to the server, which frees it. Job pool.
	 */
	enum estkit_status (*cacerts)(void *ctx, struct estkit_request *req,
				      STACK_OF(X509) **out);

	/*
	 * Fulfil a /simpleenroll or /simplereenroll (estkit_request_op() tells
	 * which) for a request whose signature has been verified. On success
	 * *out holds the issued certificate first, optionally followed by
	 * chain certificates; the server frees it. The backend must have
	 * durably recorded the certificate before returning ESTKIT_OK: the
	 * server sends it right after. On refusal return an error status
	 * and call estkit_request_fail() with the HTTP status and reason; for a
	 * deferred request return ESTKIT_EPENDING after
	 * estkit_request_set_retry_after(). Job pool.
	 */
	enum estkit_status (*enroll)(void *ctx, struct estkit_request *req, X509_REQ *csr,
				     STACK_OF(X509) **out);

	/* Log sink: one line, no trailing newline. Any thread. NULL: stderr. */
	void (*log)(void *ctx, enum estkit_log_level level, const char *line);

	/*
	 * 1 when enrollments on label must carry the TLS channel binding (RFC
	 * 7030 3.5) in estIdentityLinking (RFC 7894) or challengePassword.
	 * NULL: never required. Job pool.
	 */
	int (*require_channel_binding)(void *ctx, const char *label);

	/*
	 * The CSR attributes of a label (RFC 7030 4.5, RFC 9908) as DER
	 * CsrAttrs. *der (OPENSSL_malloc'ed, freed by the server) may be left
	 * NULL with ESTKIT_OK: the label has none and the server answers 204.
	 * HTTP Basic credentials, when sent, are verified before the call
	 * (estkit_request_user()); RFC 7030 4.5 lets the server answer
	 * anonymous clients, so return ESTKIT_EAUTH (-> 401 with
	 * WWW-Authenticate) when this label wants an authenticated client and
	 * the request has neither a user nor a client certificate. Job pool.
	 */
	enum estkit_status (*csrattrs)(void *ctx, struct estkit_request *req, unsigned char **der,
				       size_t *len);

	/*
	 * HTTP Digest (RFC 7616): HA1 = H(user ":" realm ":" password) of user
	 * for label, algorithm "SHA-256" or "MD5", as raw digest bytes. On entry
	 * *ha1_len is the size of ha1 (at least 32); on success set it to the
	 * digest length and return 1. Return 0 when the user is unknown or has
	 * no HA1 for that algorithm (Basic only). NULL: Digest is not offered.
	 * Job pool.
	 */
	int (*digest_ha1)(void *ctx, const char *label, const char *user, const char *algorithm,
			  unsigned char *ha1, size_t *ha1_len);

	/*
	 * Full CMC (RFC 7030 4.3, RFC 5272): der is the decoded body, a CMS
	 * SignedData holding a PKIData (borrowed; not yet verified - helpers
	 * in estkit/cmc.h). The HTTP client is already authenticated.
	 * Return ESTKIT_OK with *out = the DER SignedData of the PKIResponse
	 * (OPENSSL_malloc'ed; the server frees it) for HTTP 200. To reject,
	 * return an error after estkit_request_fail() (4xx/5xx); if *out is
	 * also set it is sent as the CMC error response RFC 7030 4.3.2 asks
	 * for, else the reason as text. Job pool.
	 */
	enum estkit_status (*fullcmc)(void *ctx, struct estkit_request *req,
				      const unsigned char *der, size_t len,
				      unsigned char **out, size_t *outlen);

	/*
	 * Fulfil a /serverkeygen (RFC 7030 4.4) for a request whose signature
	 * has been verified (its public key is ignored, RFC 7030 4.4.1):
	 * generate a key, issue a certificate for it with the CSR's subject and
	 * subjectAltName, record the certificate (never the key) and return the
	 * key in *key_out and the certificates in *out as for enroll. The
	 * server builds the multipart/mixed answer, does any CMS encryption
	 * the CSR asks for (see serverkeygen_kek), then wipes and frees the key.
	 * Refusals as for enroll. NULL: /serverkeygen answers 501. Job pool.
	 */
	enum estkit_status (*serverkeygen)(void *ctx, struct estkit_request *req, X509_REQ *csr,
					   EVP_PKEY **key_out, STACK_OF(X509) **out);

	/*
	 * RFC 7030 4.4.1.1: the symmetric key-encryption key named id (the
	 * CSR's DecryptKeyIdentifier, borrowed) for the request's label. On
	 * ESTKIT_OK *kek is a copy of 16, 24 or 32 bytes (AES key wrap) made
	 * with OPENSSL_malloc(), which the server wipes and frees. Return
	 * ESTKIT_ENOTFOUND when no key has that identifier. Called before
	 * serverkeygen, so an unknown identifier is refused (400) before
	 * anything is issued. NULL: every DecryptKeyIdentifier is unknown. Job pool.
	 */
	enum estkit_status (*serverkeygen_kek)(void *ctx, struct estkit_request *req,
					       const unsigned char *id, size_t idlen,
					       unsigned char **kek, size_t *keklen);

	/*
	 * HTTP Digest replay check shared by several servers (RFC 7616 3.4):
	 * the nonce identified by key (16 bytes of its MAC; the nonce already
	 * verified and not expired), issued at Unix time issued, is used with
	 * nonce-count nc. Return 1 when nc is above every count seen for this
	 * nonce by any server (and record it), 0 when it is not (a replay:
	 * 401), -1 when it cannot tell now (503 + Retry-After). NULL: each
	 * server keeps the counts in memory (digest_nonce_table). Job pool.
	 */
	int (*digest_nc)(void *ctx, const unsigned char key[16], int64_t issued, uint32_t nc);

	/*
	 * RFC 7030 3.7: 1 when the authenticated client is a Registration
	 * Authority the server trusts to have checked the proof-of-possession
	 * linking itself (typically: its verified TLS certificate carries
	 * id-kp-cmcRA and the operator allows it). Enrollments from it skip the
	 * channel-binding check of RFC 7030 3.5 - their CSR carries the binding
	 * of the end entity's connection to the RA, not of this one. Called after
	 * authentication. NULL: no client is an RA. Job pool.
	 */
	int (*is_ra)(void *ctx, struct estkit_request *req);

	/*
	 * Authorization (RFC 7030 3.7 leaves it to the server): called for
	 * /simpleenroll, /simplereenroll and /serverkeygen after
	 * authentication, CSR decoding and verification, channel binding and
	 * the RFC 7030 4.2.2 rules, right before enroll / serverkeygen, so it
	 * applies whatever fulfils the request. Return ESTKIT_OK to go on; to
	 * refuse, call estkit_request_fail() (403 with a short reason) and
	 * return an error; a 401 refusal carries WWW-Authenticate.
	 *
	 * One-time passwords (RFC 7894 otpChallenge): when this callback is
	 * set, an initial enrollment (/simpleenroll, /serverkeygen) without
	 * HTTP credentials or client certificate is not refused at once: if
	 * its CSR carries an otpChallenge, or its HTTP Basic user name is
	 * estkit_server_config.otp_basic_user, the request arrives here
	 * unauthenticated (estkit_request_identity() "anonymous",
	 * estkit_request_otp() the password). The callback must then verify
	 * the password and name the client with estkit_request_set_identity(),
	 * or refuse. Without a one-time password such a request is 401.
	 * NULL: every authenticated request goes on. Job pool.
	 */
	enum estkit_status (*authorize)(void *ctx, struct estkit_request *req, X509_REQ *csr);

	/*
	 * Called once after enroll / serverkeygen for a request authorize let
	 * through, with the HTTP status the client gets (200, 202, 4xx, 5xx):
	 * a one-time password claimed in authorize can be given back when
	 * nothing was issued. NULL: nothing to do. Job pool.
	 */
	void (*authorize_done)(void *ctx, struct estkit_request *req, int http_status);
};

/* HTTP authentication schemes a server offers (estkit_server_config.auth_methods). */
#ifndef ESTKIT_AUTH_BASIC
#define ESTKIT_AUTH_BASIC  0x1u /* RFC 7617 */
#define ESTKIT_AUTH_DIGEST 0x2u /* RFC 7616 (SHA-256, MD5) */
#endif

/* Server settings. Initialise with estkit_server_config_init(), then override. */
struct estkit_server_config {
	const char *listen;          /* "HOST:PORT", "[v6]:PORT"; default "127.0.0.1:8443" */
	const char *cert_file;       /* TLS server certificate (PEM, chain after leaf allowed) */
	const char *key_file;        /* its private key */
	const char *client_ca_file;  /* trust anchors for TLS client certificates (NULL: none) */
	const char *extra_ca_file;   /* more client-cert trust anchors (NULL: none) */
	int io_threads;              /* event loops; 0 = one per online core */
	int job_threads;             /* job pool threads; 0 = 2 x cores */
	int job_queue_max;           /* queued jobs before 503 + Retry-After; default 1024 */
	size_t max_body;             /* request body limit in bytes; default 64 KiB -> 413 */
	size_t max_headers;          /* request header limit in bytes; default 16 KiB */
	int max_connections;         /* concurrent connections per server; default 4096 */
	int timeout;                 /* read/write/idle seconds per connection; default 30 */
	int reenroll_requires_cert;  /* RFC 7030 4.2.2; default 1 */
	const char *realm;           /* WWW-Authenticate realm; default "estkit" */
	unsigned auth_methods;       /* ESTKIT_AUTH_* bits; default BASIC | DIGEST; 0: certs only */
	/*
	 * Key of the stateless Digest nonces (HMAC-SHA256), copied: servers
	 * sharing it accept each other's nonces. NULL: 32 random bytes per server.
	 */
	const unsigned char *digest_secret;
	size_t digest_secret_len;    /* 16..1024 bytes */
	int digest_nonce_lifetime;   /* seconds a nonce is valid; default 300 */
	int digest_nonce_table;      /* nonce-count high-water marks remembered; default 4096 */
	/*
	 * Brute-force protection (docs/security.md): failed authentications
	 * (wrong Basic or Digest credentials, forged or replayed Digest nonces,
	 * rejected TLS client certificates) per peer address (IPv6: per /64).
	 * The n-th failure inside auth_fail_window seconds is answered after
	 * (n - 1) * auth_fail_delay_ms (at most 5 s, without blocking a loop);
	 * the auth_fail_limit-th locks the address out for auth_fail_lockout
	 * seconds: everything but /cacerts gets 429 + Retry-After. At most
	 * auth_fail_table addresses are remembered. A negative value takes the
	 * default; auth_fail_limit = 0 disables it.
	 */
	int auth_fail_limit;         /* default 10 */
	int auth_fail_window;        /* seconds; default 60 */
	int auth_fail_lockout;       /* seconds; default 300 */
	int auth_fail_table;         /* addresses; default 4096 */
	int auth_fail_delay_ms;      /* default 250; 0: no delay */
	/*
	 * Implicit trust anchors for TLS client certificates (RFC 7030 3.3.2,
	 * 3.6), kept apart from client_ca_file/extra_ca_file (the explicit ones):
	 * a certificate that chains only to these authenticates its holder for
	 * /simpleenroll alone; for every other operation it counts as no client
	 * certificate. NULL: no implicit database (switched off).
	 */
	const char *implicit_ca_file;
	/*
	 * HTTP Basic user name whose password is a one-time password for the
	 * backend's authorize (not checked with check_basic); copied. NULL: none.
	 */
	const char *otp_basic_user;
	/*
	 * TLS-SRP (RFC 5054; RFC 7030 3.3.3 certificate-less mutual
	 * authentication): a verifier file in the format `openssl srp
	 * -srpvfile` writes. When set, TLS 1.2 also offers the two pure SRP
	 * suites (SRP-AES-256-CBC-SHA, SRP-AES-128-CBC-SHA) and the SRP user
	 * name authenticates the connection like an HTTP user
	 * (estkit_request_user(), identity "srp:NAME"). Unknown user names
	 * get a simulated verifier (RFC 5054 2.5.1.3), so a handshake fails
	 * the same way for them as for a wrong password. Copied. NULL: no SRP.
	 */
	const char *srp_verifier_file;
	/*
	 * Key of the simulated salts of unknown SRP users (copied, 16..1024
	 * bytes): servers sharing it answer an unknown name with the same salt,
	 * as they would for a known one. NULL: 32 random bytes per server.
	 */
	const unsigned char *srp_seed;
	size_t srp_seed_len;
	/*
	 * The TLS server key as a key object, e.g. one that stays on a PKCS#11
	 * token (it must sign from any I/O thread); used instead of key_file.
	 * The server takes its own reference. NULL: key_file.
	 */
	EVP_PKEY *key;
	/*
	 * Concurrent connections one peer address may hold (IPv6: one /64),
	 * across all I/O loops; a connection over it is closed as soon as it is
	 * accepted, before its TLS handshake. 0: no limit; negative: the default.
	 */
	int max_connections_per_address; /* default 64 */
};

ESTKIT_API void estkit_server_config_init(struct estkit_server_config *cfg);

/*
 * Creates a server: loads the TLS certificate and key (TLS 1.2 and 1.3 only),
 * the client trust anchors, and copies cfg and backend. On failure returns
 * NULL and, if err is not NULL, *err is a message the caller frees with
 * estkit_free().
 */
ESTKIT_API struct estkit_server *estkit_server_new(const struct estkit_server_config *cfg,
						   const struct estkit_backend *backend,
						   char **err);

/* Binds, listens and starts the threads. Returns once the server accepts connections. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_server_start(struct estkit_server *srv);

/* Blocks until the server has stopped (after estkit_server_shutdown()). */
ESTKIT_API void estkit_server_wait(struct estkit_server *srv);

/*
 * Graceful stop, callable from any thread (not from a signal handler):
 * stops accepting, lets requests in flight finish (at most `grace` seconds),
 * then ends the threads. Returns at once; estkit_server_wait() waits.
 */
ESTKIT_API void estkit_server_shutdown(struct estkit_server *srv, int grace);

/* Frees a stopped server. NULL is a no-op. */
ESTKIT_API void estkit_server_free(struct estkit_server *srv);

/*
 * Reads srp_verifier_file again (e.g. on SIGHUP), also while the server
 * runs: handshakes after the call see the new verifiers. On failure the
 * verifiers loaded before stay in use and estkit_server_errmsg() says why.
 * ESTKIT_EINVAL when the server has no srp_verifier_file or the file is
 * malformed, ESTKIT_EIO when it cannot be read, ESTKIT_ENOMEM.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_server_srp_reload(struct estkit_server *srv);

/*
 * Reads the client-certificate trust anchor files (client_ca_file,
 * extra_ca_file, implicit_ca_file) again, e.g. on SIGHUP, also while the
 * server runs. The new anchors are built completely first; on failure (a
 * file missing, unreadable, damaged or without a certificate) the anchors
 * loaded before stay in use and estkit_server_errmsg() says why. Anchors
 * added with estkit_server_add_client_ca() are kept. Handshakes after the
 * call verify against the new anchors; handshakes under way finish with the
 * ones they began with; the next request on a kept connection checks its
 * client certificate again, so one of a removed CA no longer authenticates.
 * ESTKIT_EINVAL when no anchor file is configured or a file is bad,
 * ESTKIT_ENOMEM.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_server_trust_reload(struct estkit_server *srv);

/* The actual bound port (useful with port 0). */
ESTKIT_API int estkit_server_port(const struct estkit_server *srv);

/* Last error of start(), srp_reload() or trust_reload(); valid until the next call on srv. */
ESTKIT_API const char *estkit_server_errmsg(const struct estkit_server *srv);

/* ---- per-request accessors, for backend callbacks (borrowed, valid during the callback) -- */

ESTKIT_API enum estkit_op estkit_request_op(const struct estkit_request *req);
ESTKIT_API const char *estkit_request_label(const struct estkit_request *req); /* "" default */
/*
 * The authenticated user name, NULL if none: the HTTP user (Basic or
 * Digest), else the TLS-SRP user of the connection (srp_verifier_file).
 */
ESTKIT_API const char *estkit_request_user(const struct estkit_request *req);
/* The verified TLS client certificate, NULL if none. Borrowed. */
ESTKIT_API X509 *estkit_request_peer_cert(const struct estkit_request *req);
/* Peer address "ip:port". */
ESTKIT_API const char *estkit_request_peer_addr(const struct estkit_request *req);
/*
 * Who the client is, for records and logs: "user:NAME", "cert:SUBJECT",
 * "srp:NAME" (TLS-SRP) or "anonymous".
 */
ESTKIT_API const char *estkit_request_identity(const struct estkit_request *req);

/* Sets the HTTP status (4xx/5xx) and a short reason sent as text/plain. */
ESTKIT_API void estkit_request_fail(struct estkit_request *req, int http_status,
				    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For ESTKIT_EPENDING (202) or ESTKIT_EBUSY (503): the Retry-After seconds. */
ESTKIT_API void estkit_request_set_retry_after(struct estkit_request *req, unsigned seconds);

/* Records the issued serial (hex) for the access-log line. Copied. */
ESTKIT_API void estkit_request_set_serial(struct estkit_request *req, const char *serial_hex);

/*
 * The channel binding of the request's TLS connection (RFC 7030 3.5): base64
 * of tls-unique (TLS 1.2) or tls-exporter (TLS 1.3), as
 * estkit_tls_channel_binding() computes it; NULL when the connection has
 * none (TLS 1.2 without extended master secret). Enroll operations only.
 */
ESTKIT_API const char *estkit_request_channel_binding(const struct estkit_request *req);
/* 1 when the CSR carried this connection's channel binding (checked before the backend). */
ESTKIT_API int estkit_request_channel_bound(const struct estkit_request *req);
/*
 * The request's one-time password: the CSR's RFC 7894 otpChallenge (UTF-8),
 * else the HTTP Basic password sent with the user name otp_basic_user;
 * NULL if none. Borrowed.
 */
ESTKIT_API const char *estkit_request_otp(const struct estkit_request *req);

/*
 * Names the client for records and logs (estkit_request_identity()), e.g.
 * "token:ID" after authorize verified a one-time password. Copied.
 * ESTKIT_ENOMEM, ESTKIT_EINVAL (NULL or empty).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_request_set_identity(struct estkit_request *req,
								    const char *identity);

/* The serial (hex) recorded with estkit_request_set_serial(), NULL if none. Borrowed. */
ESTKIT_API const char *estkit_request_serial(const struct estkit_request *req);

/*
 * Adds cert to the trust anchors that verify TLS client certificates, also
 * while the server runs (for a CA rollover, RFC 7030 4.1.3). The
 * CertificateRequest CA list is not changed. An anchor already present is
 * not an error. ESTKIT_EINVAL when the server does not request client
 * certificates (neither client_ca_file nor extra_ca_file set).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_server_add_client_ca(struct estkit_server *srv,
								     X509 *cert);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_SERVER_H */
