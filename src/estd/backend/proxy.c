/*
 * backend/proxy.c - backend = proxy: requests repeated to the upstream EST
 * server with the RA's credentials, answers mapped back (see proxy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <estkit/client.h>
#include <estkit/pki.h>

#include "backend/ca.h"
#include "backend/proxy.h"
#include "util.h"

/* See proxy.h. */
enum estkit_status estd_proxy_password_read(const char *path, char *pw, char *msg,
					    size_t msglen)
{
	unsigned char buf[ESTD_PROXY_MAX_PASSWORD + 2];
	struct stat st;
	ssize_t got = 0, r;
	size_t n = 0;
	int fd = -1;
	enum estkit_status rc = ESTKIT_EIO;

	pw[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ESTKIT_ENOTFOUND : ESTKIT_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		goto out;
	}
	/* a secret: as the users file and digest.key, for the owner's eyes only */
	if ((st.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: mode %04o, must not be accessible to group or others "
			 "(chmod 600)", path, (unsigned)(st.st_mode & 07777));
		rc = ESTKIT_EINVAL;
		goto out;
	}
	while ((size_t)got < sizeof(buf) &&
	       (r = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += r;
	while (n < (size_t)got && buf[n] != '\n' && buf[n] != '\r' && buf[n] != '\0')
		n++;
	rc = ESTKIT_EINVAL;
	if (n == 0)
		snprintf(msg, msglen, "%s: the first line (the password) is empty", path);
	else if (n > ESTD_PROXY_MAX_PASSWORD)
		snprintf(msg, msglen, "%s: the password is longer than %d bytes", path,
			 ESTD_PROXY_MAX_PASSWORD);
	else {
		memcpy(pw, buf, n);
		pw[n] = '\0';
		rc = ESTKIT_OK;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

/* A client for the label's upstream with the RA's credentials; NULL after failing req. */
static struct estkit_client *upstream(struct estd_ext *x, const struct estd_label *lab,
				      struct estkit_request *req)
{
	const struct estd_ext_conf *c = lab->ext;
	struct estkit_client *cl = estkit_client_new(c->upstream_url);
	char pw[ESTD_PROXY_MAX_PASSWORD + 1], msg[400];
	enum estkit_status rc = ESTKIT_ENOMEM;
	const char *what = "upstream_url";

	msg[0] = '\0';

	if (cl == NULL)
		goto err;
	estkit_client_set_timeout(cl, c->upstream_timeout);
	what = "upstream_trust";
	rc = estkit_client_set_trust(cl, c->upstream_trust);
	if (rc == ESTKIT_OK && c->upstream_cert != NULL) {
		what = "upstream_cert/upstream_key";
		rc = estkit_client_set_client_cert(cl, c->upstream_cert, c->upstream_key);
	}
	if (rc == ESTKIT_OK && c->upstream_user != NULL) {
		what = "upstream_password_file";
		rc = estd_proxy_password_read(c->upstream_password_file, pw, msg, sizeof(msg));
		if (rc == ESTKIT_OK)
			rc = estkit_client_set_basic_auth(cl, c->upstream_user, pw);
		if (rc == ESTKIT_OK)
			rc = estkit_client_set_auth_methods(cl, ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST);
		OPENSSL_cleanse(pw, sizeof(pw));
	}
	if (rc == ESTKIT_OK)
		return cl;
err:
	estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR, "label '%s': %s: %s: %s",
			    lab->name, what, estkit_strerror(rc),
			    msg[0] != '\0' ? msg : cl != NULL ? estkit_client_errmsg(cl) : "");
	estkit_client_free(cl);
	ERR_clear_error();
	estkit_request_fail(req, 500, "the RA is misconfigured");
	return NULL;
}

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
	struct estkit_client *cl = NULL;
	enum estkit_status rc;

	*out = estd_ext_cache_get(x, lab->name, c->upstream_url);
	if (*out != NULL)
		return ESTKIT_OK;
	if ((cl = upstream(x, lab, req)) == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_client_cacerts(cl, out);
	if (rc == ESTKIT_OK)
		estd_ext_cache_put(x, lab->name, c->upstream_url, *out, c->upstream_cacerts_ttl);
	else
		rc = upstream_failed(x, lab, req, cl, rc, "cacerts");
	estkit_client_free(cl);
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
	struct estkit_client *cl = NULL;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc;

	*out = NULL;
	if ((cl = upstream(x, lab, req)) == NULL)
		return ESTKIT_EINVAL;
	/* reenroll is forwarded as enroll: the rules of RFC 7030 4.2.2 were checked here */
	rc = estkit_client_simpleenroll(cl, csr, &certs);
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, cl, rc, "simpleenroll");
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
	estkit_client_free(cl);
	ERR_clear_error();
	return rc;
}

/* See proxy.h. RFC 7030 4.5: the upstream's CsrAttrs; its 204 is ours. */
enum estkit_status estd_proxy_csrattrs(struct estd_ext *x, const struct estd_label *lab,
				       struct estkit_request *req, unsigned char **der,
				       size_t *len)
{
	struct estkit_client *cl = NULL;
	unsigned char *d = NULL;
	enum estkit_status rc;

	*der = NULL;
	*len = 0;
	if ((cl = upstream(x, lab, req)) == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_client_csrattrs(cl, &d, len);
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, cl, rc, "csrattrs");
	} else if (d != NULL) {
		/* the server frees with OPENSSL_free: same allocator as estkit_free */
		*der = d;
		d = NULL;
	}
	estkit_free(d);
	estkit_client_free(cl);
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
	struct estkit_client *cl = NULL;
	X509 *leaf = NULL;
	enum estkit_status rc;

	memset(&res, 0, sizeof(res));
	if ((cl = upstream(x, lab, req)) == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_client_serverkeygen(cl, csr, NULL, &res);
	if (rc != ESTKIT_OK) {
		rc = upstream_failed(x, lab, req, cl, rc, "serverkeygen");
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
	estkit_client_free(cl);
	ERR_clear_error();
	return rc;
}
