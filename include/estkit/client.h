/*
 * estkit/client.h - EST client (RFC 7030) over HTTPS.
 *
 * One struct estkit_client talks to one EST server URL. It is not thread-safe:
 * use one handle per thread. Every operation returns an enum estkit_status;
 * on failure estkit_client_errmsg() says what went wrong in one line,
 * including the server's text for HTTP errors.
 *
 *   struct estkit_client *c = estkit_client_new("https://ca.example:8443/routers");
 *   estkit_client_set_trust(c, "ca.pem");
 *   estkit_client_set_basic_auth(c, "estuser", "estpwd");
 *   STACK_OF(X509) *certs = NULL;
 *   if (estkit_client_simpleenroll(c, csr, &certs) != ESTKIT_OK)
 *       fprintf(stderr, "enroll: %s\n", estkit_client_errmsg(c));
 */
#ifndef ESTKIT_CLIENT_H
#define ESTKIT_CLIENT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/chanbind.h>

#ifdef __cplusplus
extern "C" {
#endif

struct estkit_client;

/*
 * Creates a client for a server URL. Accepted forms (scheme must be https):
 *   https://host[:port]                         -> default label
 *   https://host[:port]/LABEL                   -> label LABEL
 *   https://host[:port]/.well-known/est[/LABEL]
 * IPv6 hosts in brackets. Port defaults to 443. Returns NULL on a malformed
 * URL or out of memory (errno EINVAL or ENOMEM).
 */
ESTKIT_API struct estkit_client *estkit_client_new(const char *url);

/* Frees the handle, wiping any stored password. NULL is a no-op. */
ESTKIT_API void estkit_client_free(struct estkit_client *c);

/*
 * Explicit trust anchors (RFC 7030 3.6.1): a PEM/DER/PKCS#7 file of CA
 * certificates used to authenticate the server. Without trust anchors
 * every operation but a bootstrap /cacerts fails with ESTKIT_ETLS.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_client_set_trust(struct estkit_client *c,
								 const char *cafile);

/* Same, from certificates in memory (copied). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_trust_certs(struct estkit_client *c, STACK_OF(X509) *cas);

/* HTTP Basic credentials (copied; wiped on free). Sent only to an authorized server. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_basic_auth(struct estkit_client *c, const char *user, const char *password);

#ifndef ESTKIT_AUTH_BASIC
#define ESTKIT_AUTH_BASIC  0x1u /* RFC 7617 */
#define ESTKIT_AUTH_DIGEST 0x2u /* RFC 7616 (SHA-256, MD5) */
#endif

/*
 * Which HTTP schemes may carry the credentials of estkit_client_set_basic_auth():
 * ESTKIT_AUTH_BASIC (default: sent with the first request), ESTKIT_AUTH_DIGEST
 * (RFC 7030 3.2.3; the server's 401 challenge is answered), or both (the
 * strongest the server offers). Credentials only ever go over TLS verified
 * against the trust anchors. ESTKIT_EINVAL for 0 or unknown bits.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_auth_methods(struct estkit_client *c, unsigned methods);

/*
 * Certificate-less mutual authentication with TLS-SRP (RFC 7030 3.3.3, RFC
 * 5054): user and password (copied; wiped on free) of a verifier the server
 * holds. Every later operation but estkit_client_cacerts_bootstrap() then
 * runs over TLS 1.2 with only the SRP suites SRP-AES-256-CBC-SHA and
 * SRP-AES-128-CBC-SHA offered: the server proves it knows the verifier,
 * which authenticates and authorizes it (RFC 7030 3.6) without any trust
 * anchor, so estkit_client_cacerts() over SRP is an authenticated way to
 * get the explicit trust anchors (RFC 7030 4.1.1). No TLS client
 * certificate and no HTTP credentials are sent over SRP. A wrong password
 * and a user the server does not know both fail the handshake
 * (ESTKIT_ETLS). user NULL switches SRP off again. ESTKIT_EINVAL for an
 * empty user or password or a user longer than 255 bytes.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_srp(struct estkit_client *c, const char *user, const char *password);

/* TLS client certificate and key (files, PEM or DER). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_client_cert(struct estkit_client *c, const char *certfile, const char *keyfile);

/* Same from objects (referenced, not copied: the client takes its own reference). */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_client_key(struct estkit_client *c, X509 *cert, EVP_PKEY *key,
			     STACK_OF(X509) *chain);

/* Total time limit for one operation in seconds (default 60), connect limit 15 s. */
ESTKIT_API void estkit_client_set_timeout(struct estkit_client *c, long seconds);

/* Optional debug log sink (one line per call, no trailing newline). */
ESTKIT_API void estkit_client_set_log(struct estkit_client *c,
				      void (*log)(void *arg, const char *line), void *arg);

/* ---- operations ------------------------------------------------------------------------ */

/* GET /cacerts: the CA certificates, verified server. *out is the caller's. */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_client_cacerts(struct estkit_client *c,
							       STACK_OF(X509) **out);

/*
 * Bootstrap /cacerts (RFC 7030 4.1.1) when the client has no trust anchor:
 * the TLS server certificate is not verified for this one request, no
 * credentials are sent, and the answer is accepted only if one of the
 * returned certificates has the SHA-256 fingerprint given (format as
 * estkit_cert_fingerprint_matches()) and the server's TLS certificate chains
 * to the returned certificates. Otherwise ESTKIT_EUNTRUSTED and *out stays NULL.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_cacerts_bootstrap(struct estkit_client *c, const char *fingerprint,
				STACK_OF(X509) **out);

/*
 * POST /simpleenroll with csr (borrowed). *out receives every certificate
 * of the certs-only response (the new certificate and whatever chain the
 * server sent); find the leaf with estkit_certs_find_by_key(). HTTP 202
 * returns ESTKIT_EPENDING and estkit_client_retry_after() says when to retry.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_simpleenroll(struct estkit_client *c, X509_REQ *csr, STACK_OF(X509) **out);

/* POST /simplereenroll; authenticate with the certificate being renewed. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_simplereenroll(struct estkit_client *c, X509_REQ *csr, STACK_OF(X509) **out);

/*
 * Builds the request for /simplereenroll (RFC 7030 4.2.2): subject and
 * subjectAltName copied exactly from current (borrowed), public key of key
 * (borrowed; the new key, or the current one when it is reused), signed with
 * key. *out is the caller's. No handle: details stay on OpenSSL's error queue.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_reenroll_csr(X509 *current, EVP_PKEY *key, X509_REQ **out);

/*
 * GET /csrattrs (RFC 7030 4.5): the server's CSR attributes as DER CsrAttrs
 * (parse with estkit_csrattrs_decode()); *der is the caller's (estkit_free()).
 * HTTP 204 (the server has none) is ESTKIT_OK with *der NULL and *len 0.
 * Servers without /csrattrs answer 404 or 501: an error here, which a client
 * may treat as "no attributes" (estkit_client_http_status() tells).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_csrattrs(struct estkit_client *c, unsigned char **der, size_t *len);

/*
 * POST /fullcmc (RFC 7030 4.3) with der, a CMS SignedData holding a PKIData
 * (see estkit/cmc.h; borrowed). On HTTP 200 returns ESTKIT_OK and *out is
 * the DER of the CMC response (the caller frees it with estkit_free() and
 * checks it: signature, nonces, statuses). A rejection returns the HTTP
 * error status (ESTKIT_EHTTP, EAUTH, ...) and, when the server sent the
 * CMC response explaining it (RFC 7030 4.3.2), sets *out as well.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_fullcmc(struct estkit_client *c, const unsigned char *der, size_t len,
		      unsigned char **out, size_t *outlen);

/*
 * How to open a key the server encrypted (RFC 7030 4.4.2): the symmetric
 * key named in the CSR's DecryptKeyIdentifier, or the private key and
 * certificate named by its AsymmetricDecryptKeyIdentifier. Borrowed.
 */
struct estkit_key_decrypt {
	const unsigned char *kek; /* 16, 24 or 32 bytes, or NULL */
	size_t keklen;
	EVP_PKEY *key;            /* recipient key when kek is NULL */
	X509 *cert;               /* its certificate */
};

/* What /serverkeygen returned. Release with estkit_serverkeygen_result_clear(). */
struct estkit_serverkeygen_result {
	EVP_PKEY *key;               /* the server-generated private key */
	STACK_OF(X509) *certs;       /* the certs-only part: the certificate and any chain */
	unsigned char *key_part;     /* the key part as sent, DER (PKCS#8 or CMS); secret */
	size_t key_part_len;
	int encrypted;               /* 1 when the key part was CMS (server-generated-key) */
};

/*
 * POST /serverkeygen (RFC 7030 4.4) with csr (borrowed; its public key is
 * ignored by the server, and it may carry the key-identifier attributes of
 * estkit/serverkeygen.h). Parses the multipart/mixed answer, decrypts an
 * encrypted key part with dec (NULL: an encrypted key part is an error; the
 * SignedData inside it is checked against the trust anchors set with
 * estkit_client_set_trust()), and checks that the certificate belongs to the
 * key. On ESTKIT_OK *res is filled; the caller clears it.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_serverkeygen(struct estkit_client *c, X509_REQ *csr,
			   const struct estkit_key_decrypt *dec,
			   struct estkit_serverkeygen_result *res);

/* Frees and wipes the members of res (not res itself). */
ESTKIT_API void estkit_serverkeygen_result_clear(struct estkit_serverkeygen_result *res);

/* ---- after an operation ------------------------------------------------------------- */

/* The last error in one line; "" when none. Valid until the next call on c. */
ESTKIT_API const char *estkit_client_errmsg(const struct estkit_client *c);

/* HTTP status of the last response (0 when no response was received). */
ESTKIT_API long estkit_client_http_status(const struct estkit_client *c);

/* Retry-After of the last 202/503 response in seconds (0 when none). */
ESTKIT_API long estkit_client_retry_after(const struct estkit_client *c);

/* ---- channel binding (RFC 7030 3.5), TLS version ------------------------------------ */

/*
 * The channel binding (base64, see estkit_tls_channel_binding()) of the TLS
 * connection the handle's last operation used - or, when there is none, of
 * a connection opened now with GET /cacerts. The connection is pinned: the
 * next /simpleenroll or /simplereenroll is sent on it or not at all
 * (ESTKIT_ENET, "the TLS connection ... is gone"); that operation unpins.
 * Call it right after e.g. estkit_client_csrattrs() to use that connection.
 * ESTKIT_ETLS when the connection has no binding (TLS 1.2 without the
 * extended master secret).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_channel_binding(struct estkit_client *c, char out[ESTKIT_CHANBIND_B64_MAX]);

/* Forgets a pin set by estkit_client_channel_binding() without enrolling. */
ESTKIT_API void estkit_client_channel_unpin(struct estkit_client *c);

/*
 * Builds a request that carries binding (a NUL-terminated base64 string),
 * e.g. estkit_csr_new(key, subject, sans, n, binding, csr) or
 * estkit_csr_set_attr(ESTKIT_ATTR_EST_IDENTITY_LINKING) + estkit_csr_sign().
 * *csr is handed to the library, which frees it.
 */
typedef enum estkit_status (*estkit_client_csr_builder)(void *arg, const char *binding,
                                                         X509_REQ **csr);

/*
 * /simpleenroll with a request bound to the connection it is posted on:
 * estkit_client_channel_binding(), build(arg, binding, &csr), then
 * estkit_client_simpleenroll() on the pinned connection. If the server had
 * closed that connection meanwhile, the whole sequence runs once more on a
 * new one (build is then called again). Results as estkit_client_simpleenroll().
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_simpleenroll_bound(struct estkit_client *c, estkit_client_csr_builder build,
                                 void *arg, STACK_OF(X509) **out);

/*
 * Highest TLS version to offer: TLS1_2_VERSION or TLS1_3_VERSION (from
 * <openssl/ssl.h>); 0 (the default) offers the highest the library supports.
 * TLS 1.2 is always the minimum.
 */
ESTKIT_API void estkit_client_set_tls_max(struct estkit_client *c, int version);

/*
 * RFC 7030 3.6.1 server authorization: on (non-zero), a server whose
 * certificate chains to the explicit trust anchors is also authorized when
 * it does not match the URL's host but carries the id-kp-cmcRA extended key
 * usage (an EST RA). Off by default: the host must match (RFC 6125).
 */
ESTKIT_API void estkit_client_set_accept_ra(struct estkit_client *c, int on);


/*
 * Implicit trust anchors (RFC 7030 3.6, 3.6.2, 4.1.1), off by default. source
 * is a PEM/DER/PKCS#7 file of third-party CA certificates, or "system" for
 * OpenSSL's default bundle (honours SSL_CERT_FILE / SSL_CERT_DIR); NULL
 * switches them off again. They are kept apart from the explicit trust
 * anchors and used only while no explicit anchor is set, and then only for
 * GET /cacerts (the bootstrap of RFC 7030 4.1.1) unless all_ops is non-zero.
 * A server authenticated with them is authorized only by RFC 6125 6.4 name
 * matching against the URL's host (RFC 7030 3.6.2: id-kp-cmcRA does not
 * count), and no credentials are sent on a /cacerts made this way. Store
 * the certificates returned as explicit anchors (estkit_client_set_trust)
 * for every later operation (RFC 7030 4.1.1).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_client_set_implicit_trust(struct estkit_client *c, const char *source, int all_ops);

/* ---- pluggable transport (no libcurl) ---------------------------------------------- */

/*
 * One EST request as the library would send it, for a transport hook.
 * Everything is borrowed for the duration of the call.
 */
struct estkit_http_request {
	const char *method;       /* "GET" or "POST" */
	const char *url;          /* https://host:port/.well-known/est/[label/]op */
	const char *host;         /* host of the URL (without brackets for IPv6) */
	unsigned port;
	const char *path;         /* /.well-known/est/[label/]op */
	const char *const *headers; /* "Name: value" lines, NULL-terminated: Content-Type,
	                             * Content-Transfer-Encoding; Authorization (Basic) only
	                             * with estkit_client_set_transport_authorized() */
	const unsigned char *body; /* POST body (base64 text), NULL for GET */
	size_t bodylen;
	X509 *client_cert;        /* TLS client certificate to present, or NULL */
	EVP_PKEY *client_key;     /* its key (maybe a provider key, e.g. in a TPM) */
	STACK_OF(X509) *trust;    /* explicit trust anchors for the server (RFC 7030 3.6.1) */
};

/* Where a transport hook puts the answer (opaque; fill it with the setters below). */
struct estkit_http_response;

/*
 * A transport hook performs one HTTP exchange over TLS it set up itself: it
 * must authenticate the server against req->trust (RFC 7030 3.6.1) and
 * present req->client_cert when set. It returns ESTKIT_OK once any HTTP
 * answer was received (whatever its status) after filling resp, or
 * ESTKIT_ENET / ESTKIT_ETLS / ESTKIT_ETIMEOUT when there was none.
 *
 * RFC 7030 3.6: HTTP credentials go only to an authorized server, and the
 * library cannot see the hook's TLS. So by default the hook is handed no
 * credentials: after its handshake and before it sends the request, it
 * reports the server's chain with estkit_http_response_set_peer_chain() and,
 * if the library authorized that server, adds the line of
 * estkit_http_response_authorization() to the request. Alternatively the
 * caller declares the hook's own check sufficient with
 * estkit_client_set_transport_authorized(), and the Authorization line is in
 * req->headers. Otherwise a 401 ends the operation with ESTKIT_EAUTH.
 */
typedef enum estkit_status (*estkit_transport_fn)(void *arg,
                                                  const struct estkit_http_request *req,
                                                  struct estkit_http_response *resp);

/*
 * Sends every later operation of c through fn (with arg) instead of the
 * built-in libcurl transport: for embedders with their own HTTP stack, or a
 * test double. NULL restores libcurl. Bootstrap /cacerts, Digest
 * authentication and channel binding need the built-in transport
 * (ESTKIT_EINVAL with a hook). Credentials: see estkit_transport_fn.
 */
ESTKIT_API void estkit_client_set_transport(struct estkit_client *c, estkit_transport_fn fn,
                                            void *arg);

/*
 * Declares (on != 0) that the transport hook of c authorizes the server
 * itself exactly as RFC 7030 3.6.1 requires - the chain verified to
 * req->trust, then the URL's host (RFC 6125) or id-kp-cmcRA - before it
 * sends anything; the library then puts the Authorization header of the
 * credentials in req->headers. Off by default: only declare it for a hook
 * whose TLS code you have checked. 0 withdraws the declaration.
 */
ESTKIT_API void estkit_client_set_transport_authorized(struct estkit_client *c, int on);

/*
 * For a hook, once its TLS handshake is done and before it sends the
 * request: the certificate chain the server presented (leaf first, as
 * SSL_get_peer_cert_chain() gives it on a client; borrowed). The library
 * authorizes the server as its libcurl transport does: the chain must
 * verify to the explicit trust anchors, and the leaf must match the URL's
 * host (RFC 6125) or, with estkit_client_set_accept_ra(), carry id-kp-cmcRA
 * (RFC 7030 3.6.1). ESTKIT_OK when authorized; ESTKIT_ETLS when not (the
 * client's message says why; send nothing secret to that server);
 * ESTKIT_EINVAL for a NULL or empty chain.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_http_response_set_peer_chain(struct estkit_http_response *resp, STACK_OF(X509) *chain);

/*
 * The "Authorization: ..." header line for the request, once
 * estkit_http_response_set_peer_chain() authorized the server and when the
 * client has credentials; NULL otherwise. Valid until the hook returns;
 * the library wipes it then.
 */
ESTKIT_API const char *
estkit_http_response_authorization(const struct estkit_http_response *resp);

/* The HTTP status of the answer (100..599). ESTKIT_EINVAL otherwise. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_http_response_set_status(struct estkit_http_response *resp, long status);

/*
 * One response header. Content-Type and Retry-After (names compared without
 * case) are kept, others ignored; values are sanitized and truncated.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_http_response_set_header(struct estkit_http_response *resp, const char *name,
                                const char *value);

/* Appends len bytes to the body (copied). ESTKIT_ETOOBIG past ESTKIT_MAX_DECODE. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_http_response_append_body(struct estkit_http_response *resp, const void *data,
                                 size_t len);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_CLIENT_H */
