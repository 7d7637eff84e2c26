/*
 * client/client_internal.h - what the files of lib/client share: the handle,
 * URL parsing, the libcurl transport and the pure helpers that map HTTP
 * answers to estkit statuses (these are unit tested on their own).
 */
#ifndef EK_CLIENT_INTERNAL_H
#define EK_CLIENT_INTERNAL_H

#include <stddef.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <estkit/client.h>
#include <estkit/pki.h>
#include <estkit/chanbind.h>

/* OSSL_STACK_OF_X509_free() is OpenSSL 3.2+; we build on 3.0. */
#define ek_certs_free(s) sk_X509_pop_free((s), X509_free)

/* Longest host name we accept (RFC 1035 limit 253 plus brackets and slack). */
#define EK_HOST_MAX 256
/* A label is one path segment of [A-Za-z0-9._-] of 1..64 characters. */
#define EK_LABEL_MAX 64
/* Longest server text quoted in an error message (printable ASCII only). */
#define EK_SERVER_TEXT_MAX 200
#define EK_ERRMSG_MAX      1024

/* A parsed server URL. */
struct ek_url {
	char host[EK_HOST_MAX]; /* without brackets for IPv6 */
	int host_is_ipv6;
	int host_is_ip; /* IPv4 or IPv6 literal: check the certificate's IP SAN */
	unsigned port;
	char label[EK_LABEL_MAX + 1]; /* "" for the default label */
};

struct estkit_client {
	struct ek_url url;
	CURL *curl;             /* kept for connection reuse (verified mode only) */
	STACK_OF(X509) * trust; /* explicit trust anchors (RFC 7030 3.6.1) */
	X509 *client_cert;      /* TLS client authentication */
	EVP_PKEY *client_key;
	STACK_OF(X509) * client_chain;
	char *user; /* HTTP Basic; wiped on free */
	char *password;
	unsigned auth_methods;  /* ESTKIT_AUTH_*; 0 means Basic */
	long timeout;
	void (*log)(void *arg, const char *line);
	void *log_arg;
	long http_status;
	long retry_after;
	char errmsg[EK_ERRMSG_MAX];

	/* channel binding (RFC 7030 3.5): see chanbind.c */
	const SSL *last_ssl;     /* connection of the last verified transfer (compared only) */
	char last_cb[ESTKIT_CHANBIND_B64_MAX]; /* its binding, "" if none */
	const SSL *pinned;       /* the next enrollment must go out on this connection */
	int tls_max;             /* highest TLS version (TLS1_2_VERSION ...), 0: no limit */
	int accept_ra;           /* RFC 7030 3.6.1: id-kp-cmcRA authorizes a server too */

	/* implicit trust anchors (RFC 7030 3.6.2, 4.1.1): see implicit.c */
	STACK_OF(X509) * implicit; /* third-party anchors from a file, or NULL */
	int implicit_system;       /* OpenSSL's default paths */
	int implicit_all_ops;      /* not only /cacerts */
	int xfer_implicit;         /* the transfer under way authenticates with them */
	char *srp_user;            /* TLS-SRP (RFC 7030 3.3.3) instead of certificates; wiped */
	char *srp_password;
	estkit_transport_fn transport; /* a caller's transport instead of libcurl, or NULL */
	void *transport_arg;
	int transport_authorized; /* the caller vouches that the hook authorizes the server */
};

/* What one HTTP exchange brought back. */
struct ek_response {
	long status;
	char content_type[128];
	char retry_after[64];
	char reason[128];    /* reason phrase of the status line */
	unsigned char *body; /* NUL-terminated for convenience */
	size_t bodylen;
	size_t bodycap;
	int toobig;                  /* the body passed ESTKIT_MAX_DECODE */
	int bootstrap;               /* capture the peer chain on the first header */
	STACK_OF(X509) * peer_chain; /* bootstrap only: the server's TLS chain, leaf first */
};

/* ---- url.c ---------------------------------------------------------------------------- */

/*
 * Parses an EST server URL (forms documented at estkit_client_new()) into
 * *out. ESTKIT_EINVAL for anything else: other schemes, user info, query,
 * fragment, bad port, bad label, more than one label.
 */
enum estkit_status ek_client_url_parse(const char *url, struct ek_url *out);

/*
 * Writes https://host:port/.well-known/est/[label/]op into buf.
 * ESTKIT_ETOOBIG when buf is too small.
 */
enum estkit_status ek_client_url_endpoint(const struct ek_url *u, const char *op, char *buf,
                                          size_t bufsz);

/* ---- response.c: pure helpers --------------------------------------------------------- */

/*
 * Seconds to wait from a Retry-After value (RFC 9110 10.2.3): delta-seconds
 * or an IMF-fixdate relative to now (a date in the past gives 0). Values are
 * capped at one week. Returns -1 when the value is malformed.
 */
long ek_client_retry_after_parse(const char *value, time_t now);

/*
 * 1 when the Content-Type header value ct has the media type want (compared
 * case-insensitively, parameters ignored), else 0.
 */
int ek_client_media_type_is(const char *ct, const char *want);

/* The status for an HTTP status code that is not 200 (RFC 7030 4.2.3). */
enum estkit_status ek_client_status_for_http(long code);

/* The status for a failed curl transfer; errbuf is curl's error text ("" if none). */
enum estkit_status ek_client_status_for_curl(CURLcode cc, const char *errbuf);

/*
 * Copies the first line of untrusted server text into out (size outsz),
 * keeping printable ASCII only (others become '?'), trimmed, at most
 * EK_SERVER_TEXT_MAX characters. Always NUL-terminates.
 */
void ek_client_sanitize_line(const unsigned char *in, size_t len, char *out, size_t outsz);

/*
 * Decodes a certs-only response body: base64 (white space tolerated, RFC
 * 8951), or raw DER from servers that send binary.
 */
enum estkit_status ek_client_decode_certs(const unsigned char *body, size_t len,
                                          STACK_OF(X509) * *out);

/* ---- client.c ------------------------------------------------------------------------- */

/* Sets c->errmsg (printf format). Returns rc so callers can `return ek_client_fail(...)`. */
enum estkit_status ek_client_fail(struct estkit_client *c, enum estkit_status rc, const char *fmt,
                                  ...) __attribute__((format(printf, 3, 4)));

/*
 * Starts an operation with a clean slate for the "after an operation"
 * getters: clears the last error, HTTP status, Retry-After and OpenSSL's queue.
 */
void ek_client_begin(struct estkit_client *c);

/*
 * The base64 of csr's DER for a POST body (*der and *b64 for the caller
 * to free). Sets c's error message when it fails.
 */
enum estkit_status ek_client_csr_b64(struct estkit_client *c, X509_REQ *csr, unsigned char **der,
                                     size_t *derlen, char **b64);

/* Sends one line to the log sink if one is set. */
void ek_client_log(struct estkit_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- transport.c ---------------------------------------------------------------------- */

/* Frees the buffers of a response (not the struct); wipes nothing secret. */
void ek_response_clear(struct ek_response *r);

/*
 * The trust anchors of a transfer: the explicit ones, or the implicit ones
 * when c->xfer_implicit; partial chains allowed. NULL when out of memory.
 */
X509_STORE *ek_client_anchor_store(const struct estkit_client *c);

/*
 * Performs one request to the endpoint op. body NULL means GET, else POST
 * with content_type. With bootstrap set, the server is not authenticated,
 * no credentials are sent and a fresh curl handle is used and discarded;
 * r->peer_chain receives the server's TLS chain. A received HTTP answer of
 * any status is ESTKIT_OK here; transport failures set c's error message.
 */
enum estkit_status ek_client_perform(struct estkit_client *c, const char *op,
                                     const char *content_type, const char *body, int bootstrap,
                                     struct ek_response *r);

/*
 * Turns a non-200 response into a status and error message (HTTP 401 ->
 * EAUTH and so on), recording Retry-After for 202 and 503.
 */
enum estkit_status ek_client_http_error(struct estkit_client *c, const char *op,
                                        const struct ek_response *r);

/* ---- hook.c ---------------------------------------------------------------------------- */

/*
 * ek_client_perform() through the caller's transport hook (c->transport):
 * the same request, the answer in r. Bootstrap is ESTKIT_EINVAL here.
 */
enum estkit_status ek_client_perform_hook(struct estkit_client *c, const char *op,
                                          const char *content_type, const char *body,
                                          int bootstrap, struct ek_response *r);

/* ---- chanbind.c ----------------------------------------------------------------------- */

/*
 * CURLOPT_PREREQFUNCTION of a verified transfer, once the connection is up and
 * before the request is sent: records the connection and its binding, and
 * refuses (1) to send on any other connection than a pinned one.
 */
int ek_chanbind_prereq(struct estkit_client *c, CURL *h);

/* CURLOPT_OPENSOCKETFUNCTION: while pinned no new connection may be opened. */
curl_socket_t ek_chanbind_opensocket(void *clientp, curlsocktype purpose,
                                     struct curl_sockaddr *addr);

/* After a pinned transfer: ESTKIT_OK when no new connection was made. */
enum estkit_status ek_chanbind_after(struct estkit_client *c, CURL *h, int refused);

/* ---- authz.c ------------------------------------------------------------------------- */

/*
 * Certificate verification with RFC 7030 3.6.1 server authorization for
 * --accept-ra (installed with SSL_CTX_set_cert_verify_callback; arg is the
 * client): the chain must verify against the explicit trust anchors, and the
 * server certificate must match the URL host (RFC 6125) or carry id-kp-cmcRA.
 */
int ek_client_verify_authz(X509_STORE_CTX *sctx, void *arg);

/*
 * RFC 7030 3.6.1 for the chain a transport hook reports (leaf first): it must
 * verify to the explicit trust anchors, and the leaf must match the URL's
 * host or, with accept_ra, carry id-kp-cmcRA - what the libcurl transport
 * checks. ESTKIT_OK, or ESTKIT_ETLS / ESTKIT_EINVAL with c's message set.
 */
enum estkit_status ek_client_authorize_chain(struct estkit_client *c, STACK_OF(X509) * chain);

/* ---- implicit.c ---------------------------------------------------------------------- */

/*
 * Closes c's connection, if any, so that the next transfer makes a new one:
 * after a change to what authorizes the server, a connection authorized the
 * old way must not be reused.
 */
void ek_client_drop_connection(struct estkit_client *c);

/*
 * 1 when a transfer to op must authenticate the server with the implicit
 * trust anchors (none explicit, implicit ones set, op allowed), else 0.
 */
int ek_client_use_implicit(const struct estkit_client *c, const char *op);

/* Fills st with the implicit anchors (file and/or default paths). 0 on success. */
int ek_client_implicit_store(const struct estkit_client *c, X509_STORE *st);

/* Frees the implicit anchors of c. */
void ek_client_implicit_clear(struct estkit_client *c);

/* ---- bootstrap.c ---------------------------------------------------------------------- */

/*
 * Bootstrap acceptance (RFC 7030 4.1.1): ESTKIT_OK only when a returned certificate
 * matches fingerprint and the server's TLS chain verifies up to it for the
 * URL's host.
 */
enum estkit_status ek_client_bootstrap_check(struct estkit_client *c, STACK_OF(X509) * returned,
                                             STACK_OF(X509) * peer_chain, const char *fingerprint);

#endif /* EK_CLIENT_INTERNAL_H */
