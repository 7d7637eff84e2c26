/*
 * hook.c - EST exchanges through a transport the caller plugs in
 * (estkit_client_set_transport): the request the libcurl transport would
 * send, handed over as method, path, headers and body; the answer collected
 * through setters with the same limits the libcurl transport applies.
 *
 * RFC 7030 3.6: credentials go only to a server the client has authorized.
 * The hook runs TLS the library never sees, so by default it gets no
 * credentials at all: it has them (estkit_http_response_authorization())
 * only after it reported the server's chain and the library authorized it
 * as the libcurl transport does (estkit_http_response_set_peer_chain(),
 * authz.c), or when the caller declared that the hook authorizes the server
 * itself (estkit_client_set_transport_authorized()), in which case the
 * Authorization header is among req->headers as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "client/client_internal.h"

#define HOOK_HEADERS 4

struct estkit_http_response {
	struct ek_response *r;
	struct estkit_client *c;
	const char *auth;  /* "Authorization: ..." when the client has credentials, else NULL */
	int authorized;    /* the server's chain was reported and authorized */
	char why[EK_ERRMSG_MAX]; /* why a reported chain was not authorized, or "" */
};

void estkit_client_set_transport(struct estkit_client *c, estkit_transport_fn fn, void *arg)
{
	if (c == NULL)
		return;
	c->transport = fn;
	c->transport_arg = arg;
}

void estkit_client_set_transport_authorized(struct estkit_client *c, int on)
{
	if (c == NULL)
		return;
	c->transport_authorized = on != 0;
}

enum estkit_status estkit_http_response_set_peer_chain(struct estkit_http_response *resp,
                                                       STACK_OF(X509) * chain)
{
	enum estkit_status rc;

	if (resp == NULL || chain == NULL || sk_X509_num(chain) < 1)
		return ESTKIT_EINVAL;
	resp->authorized = 0;
	rc = ek_client_authorize_chain(resp->c, chain);
	if (rc != ESTKIT_OK) {
		snprintf(resp->why, sizeof(resp->why), "%s", resp->c->errmsg);
		return rc;
	}
	resp->authorized = 1;
	ek_client_log(resp->c, "server authorized by the chain the transport reported "
	                       "(RFC 7030 3.6.1)");
	return ESTKIT_OK;
}

const char *estkit_http_response_authorization(const struct estkit_http_response *resp)
{
	return resp != NULL && resp->authorized ? resp->auth : NULL;
}

enum estkit_status estkit_http_response_set_status(struct estkit_http_response *resp,
                                                   long status)
{
	if (resp == NULL || status < 100 || status > 599)
		return ESTKIT_EINVAL;
	resp->r->status = status;
	return ESTKIT_OK;
}

enum estkit_status estkit_http_response_set_header(struct estkit_http_response *resp,
                                                   const char *name, const char *value)
{
	if (resp == NULL || name == NULL || value == NULL)
		return ESTKIT_EINVAL;
	if (strcasecmp(name, "Content-Type") == 0)
		ek_client_sanitize_line((const unsigned char *)value, strlen(value),
		                        resp->r->content_type, sizeof(resp->r->content_type));
	else if (strcasecmp(name, "Retry-After") == 0)
		ek_client_sanitize_line((const unsigned char *)value, strlen(value),
		                        resp->r->retry_after, sizeof(resp->r->retry_after));
	return ESTKIT_OK;
}

enum estkit_status estkit_http_response_append_body(struct estkit_http_response *resp,
                                                    const void *data, size_t len)
{
	struct ek_response *r = resp != NULL ? resp->r : NULL;
	unsigned char *nb = NULL;

	if (r == NULL || (data == NULL && len > 0))
		return ESTKIT_EINVAL;
	if (len > ESTKIT_MAX_DECODE - r->bodylen) {
		r->toobig = 1;
		return ESTKIT_ETOOBIG;
	}
	if ((nb = realloc(r->body, r->bodylen + len + 1)) == NULL)
		return ESTKIT_ENOMEM;
	r->body = nb;
	if (len > 0)
		memcpy(r->body + r->bodylen, data, len);
	r->bodylen += len;
	r->bodycap = r->bodylen + 1;
	r->body[r->bodylen] = '\0';
	return ESTKIT_OK;
}

/* "Authorization: Basic base64(user:password)" (RFC 7617), malloc'ed; wipe it after. */
static char *basic_header(const struct estkit_client *c, size_t *len)
{
	static const char pre[] = "Authorization: Basic ";
	size_t ul = strlen(c->user), pl = strlen(c->password);
	size_t raw = ul + 1 + pl;
	unsigned char *cred = malloc(raw);
	char *h = NULL;

	*len = sizeof(pre) + 4 * ((raw + 2) / 3);
	if (cred != NULL && (h = malloc(*len)) != NULL) {
		memcpy(cred, c->user, ul);
		cred[ul] = ':';
		memcpy(cred + ul + 1, c->password, pl);
		memcpy(h, pre, sizeof(pre) - 1);
		EVP_EncodeBlock((unsigned char *)h + sizeof(pre) - 1, cred, (int)raw);
	}
	if (cred != NULL)
		OPENSSL_cleanse(cred, raw);
	free(cred);
	return h;
}

static void fill_request(struct estkit_client *c, struct estkit_http_request *q, const char *url,
                         const char *body)
{
	memset(q, 0, sizeof(*q));
	q->method = body != NULL ? "POST" : "GET";
	q->url = url;
	q->host = c->url.host;
	q->port = c->url.port;
	q->path = strstr(url + strlen("https://"), "/");
	q->body = (const unsigned char *)body;
	q->bodylen = body != NULL ? strlen(body) : 0;
	q->client_cert = c->client_cert;
	q->client_key = c->client_key;
	q->trust = c->trust;
}

/* The 401 of a request sent without the credentials the server was not authorized for. */
static enum estkit_status withheld(struct estkit_client *c, const char *why)
{
	if (why[0] != '\0')
		return ek_client_fail(c, ESTKIT_EAUTH, "HTTP 401 and credentials withheld: %s", why);
	return ek_client_fail(c, ESTKIT_EAUTH,
	                      "HTTP 401 and credentials withheld: the transport hook did not report "
	                      "the server's chain (estkit_http_response_set_peer_chain) nor was it "
	                      "declared to authorize the server itself "
	                      "(estkit_client_set_transport_authorized); RFC 7030 3.6");
}

enum estkit_status ek_client_perform_hook(struct estkit_client *c, const char *op,
                                          const char *content_type, const char *body,
                                          int bootstrap, struct ek_response *r)
{
	char url[EK_HOST_MAX + EK_LABEL_MAX + 64];
	char ct[160];
	const char *hdrs[HOOK_HEADERS + 1] = {NULL};
	struct estkit_http_request q;
	struct estkit_http_response resp = {r, c, NULL, 0, ""};
	char *auth = NULL;
	size_t authlen = 0, n = 0;
	enum estkit_status rc = ESTKIT_EINTERNAL;

	memset(r, 0, sizeof(*r));
	c->xfer_implicit = 0; /* a hook authenticates with the explicit anchors only */
	if (bootstrap || c->pinned != NULL || (c->auth_methods & ESTKIT_AUTH_DIGEST) ||
	    c->srp_user != NULL)
		return ek_client_fail(c, ESTKIT_EINVAL, "bootstrap, Digest, channel binding and "
		                                        "TLS-SRP need the built-in transport");
	if (ek_client_url_endpoint(&c->url, op, url, sizeof(url)) != ESTKIT_OK)
		return ek_client_fail(c, ESTKIT_EINTERNAL, "URL too long");
	fill_request(c, &q, url, body);
	if (body != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs[n++] = ct;
		hdrs[n++] = "Content-Transfer-Encoding: base64";
	}
	if (c->user != NULL) {
		if ((auth = basic_header(c, &authlen)) == NULL)
			return ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
		resp.auth = auth;
		if (c->transport_authorized) /* the caller vouches for the hook's TLS */
			hdrs[n++] = auth;
	}
	q.headers = hdrs;
	ek_client_log(c, "%s %s (caller's transport)", q.method, url);
	rc = c->transport(c->transport_arg, &q, &resp);
	c->http_status = r->status;
	if (rc == ESTKIT_OK && r->status == 401 && auth != NULL && !c->transport_authorized &&
	    !resp.authorized)
		rc = withheld(c, resp.why);
	else if (rc == ESTKIT_OK && r->toobig)
		rc = ek_client_fail(c, ESTKIT_ETOOBIG, "response larger than %u bytes",
		                    ESTKIT_MAX_DECODE);
	else if (rc == ESTKIT_OK && r->status == 0)
		rc = ek_client_fail(c, ESTKIT_EPROTO, "the transport returned no HTTP status");
	else if (rc != ESTKIT_OK)
		rc = ek_client_fail(c, rc, "transport: %s", estkit_strerror(rc));
	else
		ek_client_log(c, "HTTP %ld, %zu bytes, Content-Type \"%s\"", r->status, r->bodylen,
		              r->content_type);
	if (auth != NULL)
		OPENSSL_cleanse(auth, authlen);
	free(auth);
	return rc;
}
