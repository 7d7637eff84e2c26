/*
 * backend/proxy.c - backend = proxy: requests repeated to the upstream EST
 * server with the RA's credentials, answers mapped back (see proxy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <estkit/client.h>
#include <estkit/pki.h>

#include "backend/ca.h"
#include "backend/proxy.h"
#include "backend/proxy_conn.h"
#include "util.h"

/* The upstream's reason text: errmsg without its "HTTP 403: " prefix. */
static const char *upstream_text(const char *errmsg)
{
	const char *p = errmsg;

	if (p != NULL && strncmp(p, "HTTP ", 5) == 0 && (p = strstr(p, ": ")) != NULL)
		return p + 2;
	return errmsg != NULL ? errmsg : "";
}

/* See proxy.h. */
void estd_proxy_map_error(enum estkit_status st, long http_status, long retry_after,
			  const char *errmsg, unsigned dflt_retry, unsigned pend_retry,
			  struct estd_proxy_map *m)
{
	const char *text = upstream_text(errmsg);

	memset(m, 0, sizeof(*m));
	m->st = ESTKIT_EHTTP;
	m->http = 502;
	m->retry_after = retry_after > 0 && retry_after <= 86400 ? (unsigned)retry_after : 0;
	if (st == ESTKIT_EPENDING || http_status == 202) {
		/* RFC 7030 4.2.3: the client retries with the same request at the RA */
		m->st = ESTKIT_EPENDING;
		m->http = 202;
		if (m->retry_after == 0)
			m->retry_after = pend_retry;
		snprintf(m->reason, sizeof(m->reason), "request accepted, retry later");
	} else if (http_status == 400 || http_status == 403) {
		m->st = http_status == 400 ? ESTKIT_EPOLICY : ESTKIT_EFORBIDDEN;
		m->http = (int)http_status;
		snprintf(m->reason, sizeof(m->reason), "%s", *text ? text : "refused upstream");
	} else if (http_status == 401) {
		snprintf(m->reason, sizeof(m->reason), "upstream refused RA credentials");
	} else if (http_status == 501) {
		m->http = 501;
		snprintf(m->reason, sizeof(m->reason), "not offered by the upstream CA");
	} else if (http_status == 503 || (http_status == 0 && (st == ESTKIT_ENET ||
							       st == ESTKIT_ETIMEOUT))) {
		m->st = ESTKIT_EBUSY;
		m->http = 503;
		if (m->retry_after == 0)
			m->retry_after = dflt_retry;
		snprintf(m->reason, sizeof(m->reason), "upstream CA unavailable, retry later");
	} else if (http_status == 0 && st == ESTKIT_ETLS) {
		snprintf(m->reason, sizeof(m->reason), "upstream TLS authentication failed");
	} else {
		snprintf(m->reason, sizeof(m->reason), "upstream CA error");
	}
}

/*
 * The upstream's 401: the client authenticated here, the RA's own credentials
 * were refused. The operator learns which ones; the client only gets 502.
 */
static void log_refused_credentials(struct estd_ext *x, const struct estd_label *lab,
				    const char *op)
{
	const struct estd_ext_conf *c = lab->ext;

	if (c->upstream_user != NULL)
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR,
				    "label '%s': upstream %s /%s: HTTP 401, the upstream refused the "
				    "RA's credentials (upstream_user '%s' with the password of "
				    "upstream_password_file %s%s%s) -> 502", lab->name,
				    c->upstream_url, op, c->upstream_user, c->upstream_password_file,
				    c->upstream_cert != NULL ? ", upstream_cert " : "",
				    c->upstream_cert != NULL ? c->upstream_cert : "");
	else
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR,
				    "label '%s': upstream %s /%s: HTTP 401, the upstream wants "
				    "credentials the RA does not have (%s%s; upstream_user unset) -> 502",
				    lab->name, c->upstream_url, op,
				    c->upstream_cert != NULL ? "upstream_cert " : "no upstream_cert",
				    c->upstream_cert != NULL ? c->upstream_cert : "");
}

/* Fails req with the mapped answer of the upstream's failure; logs it. */
static enum estkit_status upstream_failed(struct estd_ext *x, const struct estd_label *lab,
					  struct estkit_request *req, struct estkit_client *cl,
					  enum estkit_status st, const char *op)
{
	struct estd_proxy_map m;

	estd_proxy_map_error(st, estkit_client_http_status(cl), estkit_client_retry_after(cl),
			     estkit_client_errmsg(cl), (unsigned)lab->ext->upstream_retry_after,
			     (unsigned)lab->retry_after, &m);
	ERR_clear_error();
	if (estkit_client_http_status(cl) == 401)
		log_refused_credentials(x, lab, op);
	else if (m.st != ESTKIT_EPENDING)
		estd_backend_ca_log(estd_ext_log(x), m.http >= 500 ? ESTKIT_LOG_ERROR : ESTKIT_LOG_INFO,
				    "label '%s': upstream %s /%s: %s (%s) -> %d", lab->name,
				    lab->ext->upstream_url, op, estkit_client_errmsg(cl),
				    estkit_strerror(st), m.http);
	if (m.http == 202 || m.http == 503)
		estkit_request_set_retry_after(req, m.retry_after);
	if (m.http != 202)
		estkit_request_fail(req, m.http, "%s", m.reason);
	return m.st;
}

/* See proxy.h. RFC 7030 4.1.3: the upstream's CA certificates, cached upstream_cacerts_ttl. */
enum estkit_status estd_proxy_cacerts(struct estd_ext *x, const struct estd_label *lab,
				      struct estkit_request *req, STACK_OF(X509) **out)
{
	const struct estd_ext_conf *c = lab->ext;
	struct estd_proxy_conn u;
	enum estkit_status rc;

	*out = estd_ext_cache_get(x, lab->name, c->upstream_url);
	if (*out != NULL)
		return ESTKIT_OK;
	if (estd_proxy_conn_get(x, lab, req, &u) != 0)
		return ESTKIT_EINVAL;
	rc = estkit_client_cacerts(u.cl, out);
	if (rc != ESTKIT_OK && estd_proxy_conn_retry(x, lab, &u, rc))
		rc = estkit_client_cacerts(u.cl, out);
	if (rc == ESTKIT_OK)
		estd_ext_cache_put(x, lab->name, c->upstream_url, *out, c->upstream_cacerts_ttl);
	else
		rc = upstream_failed(x, lab, req, u.cl, rc, "cacerts");
	estd_proxy_conn_put(x, lab, &u);
	return rc;
}

/* The certificate for csr's key first; NULL when the upstream returned none for it. */
static X509 *leaf_first(STACK_OF(X509) *certs, X509_REQ *csr)
{
	X509 *leaf = estkit_certs_find_by_key(certs, X509_REQ_get0_pubkey(csr));

	if (leaf == NULL)
		return NULL;
	(void)sk_X509_delete_ptr(certs, leaf);
	if (!sk_X509_unshift(certs, leaf)) {
		X509_free(leaf);
		return NULL;
	}
	return leaf;
}

/* See proxy.h. */
enum estkit_status estd_proxy_enroll(struct estd_ext *x, const struct estd_label *lab,
				     struct estkit_request *req, X509_REQ *csr,
				     STACK_OF(X509) **out)
{
	struct estd_proxy_conn u;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc;

	*out = NULL;
	if (estd_proxy_conn_get(x, lab, req, &u) != 0)
		return ESTKIT_EINVAL;
	/* reenroll is forwarded as enroll: the rules of RFC 7030 4.2.2 were checked here */
	rc = estkit_client_simpleenroll(u.cl, csr, &certs);
	if (rc != ESTKIT_OK && estd_proxy_conn_retry(x, lab, &u, rc))
		rc = estkit_client_simpleenroll(u.cl, csr, &certs);
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, u.cl, rc, "simpleenroll");
		goto out;
	}
	if (leaf_first(certs, csr) == NULL) {
		estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR,
				    "label '%s': upstream returned no certificate for the request's key",
				    lab->name);
		estkit_request_fail(req, 502, "upstream CA error");
		rc = ESTKIT_EPROTO;
		goto out;
	}
	rc = estd_ext_record(x, req, csr, sk_X509_value(certs, 0), "proxy");
	if (rc == ESTKIT_OK) {
		*out = certs;
		certs = NULL;
	}
out:
	OSSL_STACK_OF_X509_free(certs);
	estd_proxy_conn_put(x, lab, &u);
	ERR_clear_error();
	return rc;
}

/* See proxy.h. RFC 7030 4.5: the upstream's CsrAttrs; its 204 is ours. */
enum estkit_status estd_proxy_csrattrs(struct estd_ext *x, const struct estd_label *lab,
				       struct estkit_request *req, unsigned char **der,
				       size_t *len)
{
	struct estd_proxy_conn u;
	unsigned char *d = NULL;
	enum estkit_status rc;

	*der = NULL;
	*len = 0;
	if (estd_proxy_conn_get(x, lab, req, &u) != 0)
		return ESTKIT_EINVAL;
	rc = estkit_client_csrattrs(u.cl, &d, len);
	if (rc != ESTKIT_OK && estd_proxy_conn_retry(x, lab, &u, rc))
		rc = estkit_client_csrattrs(u.cl, &d, len);
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, u.cl, rc, "csrattrs");
	} else if (d != NULL) {
		/* the server frees with OPENSSL_free: same allocator as estkit_free */
		*der = d;
		d = NULL;
	}
	estkit_free(d);
	estd_proxy_conn_put(x, lab, &u);
	return rc;
}

/*
 * See proxy.h. RFC 7030 4.4: the upstream generates the key; estd returns it
 * in its own multipart answer. A key the upstream encrypted (the CSR asked
 * for it, 4.4.1.1/4.4.1.2) cannot be opened here: 502.
 */
enum estkit_status estd_proxy_serverkeygen(struct estd_ext *x, const struct estd_label *lab,
					   struct estkit_request *req, X509_REQ *csr,
					   EVP_PKEY **key_out, STACK_OF(X509) **out)
{
	struct estkit_serverkeygen_result res;
	struct estd_proxy_conn u;
	X509 *leaf = NULL;
	enum estkit_status rc;

	memset(&res, 0, sizeof(res));
	if (estd_proxy_conn_get(x, lab, req, &u) != 0)
		return ESTKIT_EINVAL;
	rc = estkit_client_serverkeygen(u.cl, csr, NULL, &res);
	if (rc != ESTKIT_OK && estd_proxy_conn_retry(x, lab, &u, rc)) {
		estkit_serverkeygen_result_clear(&res);
		rc = estkit_client_serverkeygen(u.cl, csr, NULL, &res);
	}
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, u.cl, rc, "serverkeygen");
		goto out;
	}
	leaf = estkit_certs_find_by_key(res.certs, res.key);
	if (leaf == NULL || (rc = estd_ext_record(x, req, csr, leaf, "proxy")) != ESTKIT_OK) {
		if (leaf == NULL)
			estkit_request_fail(req, 502, "upstream CA error");
		rc = leaf == NULL ? ESTKIT_EPROTO : rc;
		goto out;
	}
	(void)sk_X509_delete_ptr(res.certs, leaf);
	if (!sk_X509_unshift(res.certs, leaf)) {
		X509_free(leaf);
		estkit_request_fail(req, 500, "out of memory");
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	*key_out = res.key;
	*out = res.certs;
	res.key = NULL;
	res.certs = NULL;
out:
	estkit_serverkeygen_result_clear(&res);
	estd_proxy_conn_put(x, lab, &u);
	ERR_clear_error();
	return rc;
}
