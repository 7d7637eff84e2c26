/*
 * transport.c - one EST exchange over libcurl (OpenSSL backend).
 *
 * Verified mode authenticates the server with the explicit trust anchors
 * only (RFC 7030 3.6.1): the X509_STORE curl built is replaced by one that
 * holds exactly those certificates, and curl checks the host name (RFC 6125).
 * Implicit mode (no explicit anchor, implicit ones enabled; implicit.c) does
 * the same with the implicit anchors alone and always checks the host name
 * (RFC 7030 3.6.2).
 * Bootstrap mode (RFC 7030 4.1.1) verifies nothing, sends no credentials and
 * uses a throw-away curl handle so its connection is never reused.
 * SRP mode (RFC 7030 3.3.3, estkit_client_set_srp) offers only the pure
 * TLS-SRP suites over TLS 1.2: the server has no certificate to check, it
 * proves knowledge of the verifier instead (RFC 5054), which also
 * authorizes it (RFC 7030 3.6); no HTTP credentials are sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <estkit/estkit.h>
#include "client/client_internal.h"

#define CONNECT_TIMEOUT 15L
/* RFC 5054 2.7 suites without a certificate; estd offers the same two. */
#define SRP_CIPHERS "SRP-AES-256-CBC-SHA:SRP-AES-128-CBC-SHA"

struct xfer {
	CURL *curl;
	struct ek_response *r;
	struct estkit_client *c;
};

void ek_response_clear(struct ek_response *r)
{
	free(r->body);
	ek_certs_free(r->peer_chain);
	memset(r, 0, sizeof(*r));
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct ek_response *r = arg;
	size_t n = size * nmemb;
	size_t cap = 0;
	unsigned char *nb = NULL;

	if (n > ESTKIT_MAX_DECODE - r->bodylen) {
		r->toobig = 1;
		return 0; /* not n: curl aborts with CURLE_WRITE_ERROR */
	}
	if (r->bodylen + n + 1 > r->bodycap) {
		cap = r->bodycap == 0 ? 4096 : r->bodycap;
		while (cap < r->bodylen + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL)
			return 0;
		r->body = nb;
		r->bodycap = cap;
	}
	memcpy(r->body + r->bodylen, ptr, n);
	r->bodylen += n;
	r->body[r->bodylen] = '\0';
	return n;
}

/* Bootstrap: keep the server's chain (leaf first) from the live SSL object. */
static void capture_chain(struct xfer *x)
{
	struct curl_tlssessioninfo *info = NULL;
	STACK_OF(X509) *chain = NULL;

	if (curl_easy_getinfo(x->curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return;
	chain = SSL_get_peer_cert_chain((SSL *)info->internals);
	if (chain == NULL)
		return;
	ek_certs_free(x->r->peer_chain);
	x->r->peer_chain = X509_chain_up_ref(chain);
}

/* Copies a header value if line is "name: value". */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	ek_client_sanitize_line((const unsigned char *)line + nl + 1, n - nl - 1, out, outsz);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	struct ek_response *r = x->r;
	size_t n = size * nitems;
	const char *sp = NULL;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response starts (after a proxy CONNECT or a 1xx): forget the last. */
		r->content_type[0] = '\0';
		r->retry_after[0] = '\0';
		r->reason[0] = '\0';
		sp = memchr(buf, ' ', n);
		if (sp != NULL)
			sp = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - buf));
		if (sp != NULL)
			ek_client_sanitize_line((const unsigned char *)sp + 1,
			                        n - (size_t)(sp + 1 - buf), r->reason,
			                        sizeof(r->reason));
		if (r->bootstrap)
			capture_chain(x);
		return n;
	}
	header_value(buf, n, "Content-Type", r->content_type, sizeof(r->content_type));
	header_value(buf, n, "Retry-After", r->retry_after, sizeof(r->retry_after));
	return n;
}

/* See client_internal.h. */
X509_STORE *ek_client_anchor_store(const struct estkit_client *c)
{
	X509_STORE *st = X509_STORE_new();
	int i = 0;

	if (st == NULL)
		return NULL;
	if (c->xfer_implicit) {
		if (ek_client_implicit_store(c, st) != 0)
			goto fail;
		X509_STORE_set_flags(st, X509_V_FLAG_TRUSTED_FIRST);
		return st;
	}
	for (i = 0; i < sk_X509_num(c->trust); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(c->trust, i)))
			goto fail;
	/* A trust anchor may be a subordinate CA; stop the chain there. */
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST);
	return st;
fail:
	X509_STORE_free(st);
	return NULL;
}

/* Installs exactly one trust anchor database and the client key (RFC 7030 3.3.1, 3.6). */
static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *parm)
{
	SSL_CTX *ctx = sslctx;
	struct estkit_client *c = parm;
	X509_STORE *st = ek_client_anchor_store(c);

	(void)curl;
	if (st == NULL)
		return CURLE_SSL_CACERT_BADFILE;
	SSL_CTX_set_cert_store(ctx, st); /* replaces (and frees) curl's store */
	/* RFC 7030 3.6.2: with implicit anchors only the name authorizes the server */
	if (c->accept_ra && !c->xfer_implicit) /* curl's host check is off; this one runs */
		SSL_CTX_set_cert_verify_callback(ctx, ek_client_verify_authz, c);
	if (c->client_cert == NULL)
		return CURLE_OK;
	if (SSL_CTX_use_certificate(ctx, c->client_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, c->client_key) != 1 ||
	    (c->client_chain != NULL && SSL_CTX_set1_chain(ctx, c->client_chain) != 1))
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* 1 when the connection of h negotiated an SRP key exchange. */
static int srp_negotiated(CURL *h)
{
	struct curl_tlssessioninfo *info = NULL;
	const SSL_CIPHER *cipher = NULL;

	if (curl_easy_getinfo(h, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return 0;
	cipher = SSL_get_current_cipher((SSL *)info->internals);
	return cipher != NULL && SSL_CIPHER_get_kx_nid(cipher) == NID_kx_srp;
}

/* Connected, nothing sent yet: channel binding bookkeeping (chanbind.c). */
static int on_prereq(void *arg, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
	struct xfer *x = arg;

	(void)primary_ip;
	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	/* only SRP suites are offered; never send a request over anything else */
	if (x->c->srp_user != NULL && !srp_negotiated(x->curl))
		return CURL_PREREQFUNC_ABORT;
	return ek_chanbind_prereq(x->c, x->curl);
}

/* TLS 1.2 at least, at most c->tls_max. */
static long tls_versions(const struct estkit_client *c)
{
	long v = (long)CURL_SSLVERSION_TLSv1_2;

	if (c->tls_max == TLS1_2_VERSION || c->srp_user != NULL) /* no SRP in TLS 1.3 */
		v |= (long)CURL_SSLVERSION_MAX_TLSv1_2;
	else if (c->tls_max == TLS1_3_VERSION)
		v |= (long)CURL_SSLVERSION_MAX_TLSv1_3;
	return v;
}

/* Verified transfers on the kept handle: channel binding and pinning hooks. */
static int set_binding(struct estkit_client *c, CURL *h, struct xfer *x)
{
	CURLcode e = CURLE_OK;

	e |= curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
	e |= curl_easy_setopt(h, CURLOPT_PREREQDATA, x);
	e |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, ek_chanbind_opensocket);
	e |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
	return e == CURLE_OK ? 0 : -1;
}

static int set_common(struct estkit_client *c, CURL *h, struct xfer *x, char *errbuf,
                      const char *url)
{
	long connect = c->timeout < CONNECT_TIMEOUT ? c->timeout : CONNECT_TIMEOUT;
	CURLcode e = CURLE_OK;

	e |= curl_easy_setopt(h, CURLOPT_URL, url);
	e |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	e |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	e |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	e |= curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	e |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect);
	e |= curl_easy_setopt(h, CURLOPT_SSLVERSION, tls_versions(c));
	e |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	e |= curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
	e |= curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	e |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ESTKIT_MAX_DECODE);
	e |= curl_easy_setopt(h, CURLOPT_USERAGENT, "estkit/" ESTKIT_VERSION_STRING);
	e |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	e |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x->r);
	e |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	e |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	return e == CURLE_OK ? 0 : -1;
}

/* RFC 7030 3.3.3: mutual authentication by TLS-SRP, no certificates. */
static int set_srp(struct estkit_client *c, CURL *h)
{
	CURLcode e = CURLE_OK;

	e |= curl_easy_setopt(h, CURLOPT_TLSAUTH_TYPE, "SRP");
	e |= curl_easy_setopt(h, CURLOPT_TLSAUTH_USERNAME, c->srp_user);
	e |= curl_easy_setopt(h, CURLOPT_TLSAUTH_PASSWORD, c->srp_password);
	e |= curl_easy_setopt(h, CURLOPT_SSL_CIPHER_LIST, SRP_CIPHERS);
	/* a pure SRP suite carries no server certificate: the SRP proof is the check */
	e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	return e == CURLE_OK ? 0 : -1;
}

static int set_security(struct estkit_client *c, CURL *h, int bootstrap)
{
	CURLcode e = CURLE_OK;

	if (!bootstrap && c->srp_user != NULL)
		return set_srp(c, h);
	if (bootstrap) {
		/* RFC 7030 4.1.1: the answer is checked out of band (fingerprint). */
		e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		return e == CURLE_OK ? 0 : -1;
	}
	e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	/* RFC 7030 3.6.1: with accept_ra the name or id-kp-cmcRA check is ours */
	e |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST,
	                      c->accept_ra && !c->xfer_implicit ? 0L : 2L);
	e |= curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	e |= curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c);
	/* RFC 7030 3.6, 4.1.1: no credentials for an implicitly authenticated /cacerts */
	if (c->user != NULL && (!c->xfer_implicit || c->implicit_all_ops)) {
		/* Only ever here: over a TLS connection verified against the trust anchors. */
		unsigned long a = 0;
		if (c->auth_methods == 0 || (c->auth_methods & ESTKIT_AUTH_BASIC))
			a |= CURLAUTH_BASIC;
		if (c->auth_methods & ESTKIT_AUTH_DIGEST)
			a |= CURLAUTH_DIGEST; /* curl answers the SHA-256 challenge when offered */
		e |= curl_easy_setopt(h, CURLOPT_HTTPAUTH, a);
		e |= curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		e |= curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	return e == CURLE_OK ? 0 : -1;
}

static struct curl_slist *post_headers(const char *content_type)
{
	struct curl_slist *l = NULL;
	struct curl_slist *t = NULL;
	char ct[128];

	snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
	if ((l = curl_slist_append(NULL, ct)) == NULL)
		return NULL;
	/* Optional since RFC 8951, but servers built on RFC 7030 alone look for it. */
	if ((t = curl_slist_append(l, "Content-Transfer-Encoding: base64")) == NULL)
		goto fail;
	l = t;
	/* No "Expect: 100-continue" round trip. */
	if ((t = curl_slist_append(l, "Expect:")) == NULL)
		goto fail;
	return t;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* The kept handle (connection reuse) or, for bootstrap, a throw-away one. */
static CURL *get_handle(struct estkit_client *c, int bootstrap)
{
	if (bootstrap || (c->xfer_implicit && !c->implicit_all_ops))
		return curl_easy_init();
	if (c->curl == NULL)
		c->curl = curl_easy_init();
	else
		curl_easy_reset(c->curl); /* keeps the connection cache */
	return c->curl;
}

/* POST body; *hdrs is the caller's to free. */
static int set_body(CURL *h, const char *content_type, const char *body, struct curl_slist **hdrs)
{
	if ((*hdrs = post_headers(content_type)) == NULL ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) !=
	        CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK)
		return -1;
	return 0;
}

static enum estkit_status transfer_failed(struct estkit_client *c, CURLcode cc,
                                          const struct ek_response *r, const char *errbuf)
{
	enum estkit_status rc = ek_client_status_for_curl(cc, errbuf);
	const char *what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);

	if (r->toobig || cc == CURLE_FILESIZE_EXCEEDED)
		return ek_client_fail(c, ESTKIT_ETOOBIG, "response larger than %u bytes",
		                      ESTKIT_MAX_DECODE);
	/* With TLS 1.3 a refused client certificate shows up only as a broken connection. */
	if (rc == ESTKIT_ENET && r->status == 0 && c->client_cert != NULL && !r->bootstrap &&
	    (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING))
		return ek_client_fail(c, rc,
		                      "%s (the server may have refused the TLS client "
		                      "certificate)",
		                      what);
	/* RFC 5054 2.5.1.3: an unknown user fails like a wrong password, on purpose */
	if (rc == ESTKIT_ETLS && c->srp_user != NULL && !r->bootstrap)
		return ek_client_fail(c, rc,
		                      "TLS-SRP handshake failed (wrong user name or password, or "
		                      "no TLS-SRP on the server): %s",
		                      what);
	switch (rc) {
	case ESTKIT_ETLS: return ek_client_fail(c, rc, "TLS: %s", what);
	case ESTKIT_ETIMEOUT: return ek_client_fail(c, rc, "timed out: %s", what);
	default: return ek_client_fail(c, rc, "%s", what);
	}
}

enum estkit_status ek_client_perform(struct estkit_client *c, const char *op,
                                     const char *content_type, const char *body, int bootstrap,
                                     struct ek_response *r)
{
	char url[EK_HOST_MAX + EK_LABEL_MAX + 64];
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs = NULL;
	struct xfer x;
	CURL *h = NULL;
	CURLcode cc = CURLE_OK;
	enum estkit_status rc = ESTKIT_EINTERNAL;

	if (c->transport != NULL) /* the caller's HTTP stack (hook.c) */
		return ek_client_perform_hook(c, op, content_type, body, bootstrap, r);
	memset(r, 0, sizeof(*r));
	r->bootstrap = bootstrap;
	errbuf[0] = '\0';
	if (ek_client_url_endpoint(&c->url, op, url, sizeof(url)) != ESTKIT_OK)
		return ek_client_fail(c, ESTKIT_EINTERNAL, "URL too long");
	c->xfer_implicit = !bootstrap && c->srp_user == NULL && ek_client_use_implicit(c, op);
	if (!bootstrap && c->trust == NULL && !c->xfer_implicit && c->srp_user == NULL)
		return ek_client_fail(c, ESTKIT_ETLS,
		                      (c->implicit != NULL || c->implicit_system)
		                          ? "no explicit trust anchors: implicit ones serve only "
		                            "/cacerts (RFC 7030 4.1.1); store its answer as explicit "
		                            "trust first"
		                          : "no trust anchors: set explicit trust (RFC 7030 3.6.1)");
	if ((h = get_handle(c, bootstrap)) == NULL)
		return ek_client_fail(c, ESTKIT_ENOMEM, "cannot create a curl handle");
	x.curl = h;
	x.r = r;
	x.c = c;
	if (set_common(c, h, &x, errbuf, url) != 0 || set_security(c, h, bootstrap) != 0 ||
	    (!bootstrap && set_binding(c, h, &x) != 0)) {
		rc = ek_client_fail(c, ESTKIT_EINTERNAL, "libcurl lacks a needed option");
		goto out;
	}
	if (body != NULL && set_body(h, content_type, body, &hdrs) != 0) {
		rc = ek_client_fail(c, ESTKIT_ENOMEM, "cannot set up the request");
		goto out;
	}
	ek_client_log(c, "%s %s%s", body != NULL ? "POST" : "GET", url,
	              bootstrap          ? " (bootstrap: server not verified)"
	              : c->srp_user != NULL ? " (TLS-SRP, RFC 7030 3.3.3)"
	              : c->xfer_implicit ? " (implicit trust anchors, RFC 7030 3.6.2)"
	                                 : "");
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	c->http_status = r->status;
	if (!bootstrap && c->pinned != NULL &&
	    (rc = ek_chanbind_after(c, h, cc != CURLE_OK && r->status == 0)) != ESTKIT_OK)
		goto out;
	if (cc != CURLE_OK) {
		rc = transfer_failed(c, cc, r, errbuf);
		goto out;
	}
	ek_client_log(c, "HTTP %ld, %zu bytes, Content-Type \"%s\"", r->status, r->bodylen,
	              r->content_type);
	rc = ESTKIT_OK;
out:
	curl_slist_free_all(hdrs);
	if (bootstrap || (c->xfer_implicit && !c->implicit_all_ops))
		curl_easy_cleanup(h);
	else
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL); /* errbuf dies with this frame */
	return rc;
}

enum estkit_status ek_client_http_error(struct estkit_client *c, const char *op,
                                        const struct ek_response *r)
{
	enum estkit_status rc = ek_client_status_for_http(r->status);
	char text[EK_SERVER_TEXT_MAX + 1];
	long ra = 0;

	if (r->status == 202 || r->status == 503) {
		ra = ek_client_retry_after_parse(r->retry_after, time(NULL));
		c->retry_after = ra > 0 ? ra : 0;
	}
	if (r->status == 202)
		return ek_client_fail(c, rc, "request pending (HTTP 202), retry after %ld s",
		                      c->retry_after);
	ek_client_sanitize_line(r->body, r->bodylen, text, sizeof(text));
	if (text[0] == '\0')
		ek_client_sanitize_line((const unsigned char *)r->reason, strlen(r->reason), text,
		                        sizeof(text));
	if (rc == ESTKIT_EPROTO)
		return ek_client_fail(c, rc, "unexpected HTTP %ld from /%s", r->status, op);
	if (text[0] == '\0')
		return ek_client_fail(c, rc, "HTTP %ld", r->status);
	return ek_client_fail(c, rc, "HTTP %ld: %s", r->status, text);
}
