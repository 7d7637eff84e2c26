/*
 * backend/proxy.h - backend = proxy: estd as a Registration Authority in
 * front of another EST server (RFC 7030 3.7). estd authenticates the client
 * itself, then repeats the request upstream over TLS with its own RA
 * certificate (id-kp-cmcRA) through libestkit's client, on the job-pool
 * thread that runs the request, with upstream_timeout as the hard limit.
 *
 * Upstream answers: certificates -> 200; 202 -> 202 with the upstream's
 * Retry-After; 400 and 403 -> the same status and reason; 401 -> 502
 * "upstream refused RA credentials"; 501 -> 501; 503, no connection or a
 * timeout -> 503 with Retry-After; anything else -> 502.
 *
 * /simplereenroll is forwarded as /simpleenroll: estd has checked RFC 7030
 * 4.2.2 (the client's certificate, same subject and subjectAltName) and the
 * upstream sees the RA's certificate, not the client's, so its own 4.2.2
 * check could only fail (see docs/operator-guide.md).
 */
#ifndef ESTD_BACKEND_PROXY_H
#define ESTD_BACKEND_PROXY_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "backend/ext.h"

/* The mapped answer for an upstream failure of op (see above). */
struct estd_proxy_map {
	int http;              /* status for the client; 202 for pending */
	enum estkit_status st; /* what the backend callback returns */
	unsigned retry_after;  /* 202 and 503 */
	char reason[200];      /* for the client */
};

/*
 * Maps the outcome of an upstream exchange: st as the client call
 * returned it, http_status and retry_after of the upstream's answer (0 when
 * none), errmsg the client's message ("HTTP 403: reason"). dflt_retry is
 * upstream_retry_after for 503, pend_retry the label's retry_after for a
 * 202 without Retry-After.
 */
void estd_proxy_map_error(enum estkit_status st, long http_status, long retry_after,
			  const char *errmsg, unsigned dflt_retry, unsigned pend_retry,
			  struct estd_proxy_map *m);

enum estkit_status estd_proxy_cacerts(struct estd_ext *x, const struct estd_label *lab,
				      struct estkit_request *req, STACK_OF(X509) **out);
enum estkit_status estd_proxy_enroll(struct estd_ext *x, const struct estd_label *lab,
				     struct estkit_request *req, X509_REQ *csr,
				     STACK_OF(X509) **out);
enum estkit_status estd_proxy_csrattrs(struct estd_ext *x, const struct estd_label *lab,
				       struct estkit_request *req, unsigned char **der,
				       size_t *len);
enum estkit_status estd_proxy_serverkeygen(struct estd_ext *x, const struct estd_label *lab,
					   struct estkit_request *req, X509_REQ *csr,
					   EVP_PKEY **key_out, STACK_OF(X509) **out);

#endif /* ESTD_BACKEND_PROXY_H */
