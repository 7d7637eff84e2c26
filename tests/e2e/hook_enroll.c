/*
 * hook_enroll.c - an enrollment through a transport hook (for
 * tests/e2e/test_transport_hook.py): the hook runs TLS of its own with
 * OpenSSL and, on purpose, does not verify the server itself, so that what
 * reaches the server depends only on the library's RFC 7030 3.6 rule.
 *
 *   EST_PASSWORD=... hook_enroll MODE URL CAFILE USER SUBJECT OUT.pem
 *
 * MODE: "chain" reports the server's chain (estkit_http_response_set_peer_chain),
 * "declare" declares the hook authorizing (estkit_client_set_transport_authorized),
 * "none" does neither. With HOOK_CONNECT_TO=HOST:PORT the hook connects
 * there whatever the URL names (as a spoofed DNS answer would). Exit status 0
 * when issued, 1 otherwise (the message on stderr), 2 for usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <estkit/estkit.h>

#define RESP_MAX (1 << 20)

struct hook {
	int report_chain;
	enum estkit_status chain_rc;
};

/* Writes req (and the Authorization line, when given) to b. 0 or -1. */
static int send_request(BIO *b, const struct estkit_http_request *req, const char *auth)
{
	size_t i;

	if (BIO_printf(b, "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n", req->method,
	               req->path, req->host, req->port) <= 0)
		return -1;
	for (i = 0; req->headers[i] != NULL; i++)
		if (BIO_printf(b, "%s\r\n", req->headers[i]) <= 0)
			return -1;
	if (auth != NULL && BIO_printf(b, "%s\r\n", auth) <= 0)
		return -1;
	if (BIO_printf(b, "Content-Length: %zu\r\n\r\n", req->bodylen) <= 0)
		return -1;
	if (req->bodylen > 0 && BIO_write(b, req->body, (int)req->bodylen) != (int)req->bodylen)
		return -1;
	return BIO_flush(b) == 1 ? 0 : -1;
}

/* Reads the whole answer (Connection: close) and hands it to resp. */
static enum estkit_status read_response(BIO *b, struct estkit_http_response *resp)
{
	char *buf = malloc(RESP_MAX + 1), *line = NULL, *end = NULL, *body = NULL;
	size_t len = 0;
	int n;
	enum estkit_status rc = ESTKIT_EPROTO;

	if (buf == NULL)
		return ESTKIT_ENOMEM;
	while (len < RESP_MAX && (n = BIO_read(b, buf + len, (int)(RESP_MAX - len))) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if ((body = strstr(buf, "\r\n\r\n")) == NULL || strncmp(buf, "HTTP/1.1 ", 9) != 0)
		goto out;
	*body = '\0';
	body += 4;
	if (estkit_http_response_set_status(resp, strtol(buf + 9, NULL, 10)) != ESTKIT_OK)
		goto out;
	for (line = strstr(buf, "\r\n"); line != NULL; line = end) {
		char *colon = NULL;

		line += 2;
		end = strstr(line, "\r\n");
		if (end != NULL)
			*end = '\0';
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		if (estkit_http_response_set_header(resp, line, colon + 1 + strspn(colon + 1, " ")) !=
		    ESTKIT_OK)
			goto out;
	}
	rc = estkit_http_response_append_body(resp, body, len - (size_t)(body - buf));
out:
	free(buf);
	return rc;
}

static enum estkit_status hook(void *arg, const struct estkit_http_request *req,
                               struct estkit_http_response *resp)
{
	struct hook *h = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *b = NULL;
	SSL *ssl = NULL;
	char target[300];
	const char *to = getenv("HOOK_CONNECT_TO");
	enum estkit_status rc = ESTKIT_ENET;

	if (to != NULL)
		snprintf(target, sizeof(target), "%s", to);
	else
		snprintf(target, sizeof(target), "%s:%u", req->host, req->port);
	if (ctx == NULL || (b = BIO_new_ssl_connect(ctx)) == NULL)
		goto out;
	BIO_get_ssl(b, &ssl);
	SSL_set_tlsext_host_name(ssl, req->host);
	BIO_set_conn_hostname(b, target);
	if (BIO_do_handshake(b) != 1) /* no verification here: the library decides */
		goto out;
	if (h->report_chain) {
		h->chain_rc = estkit_http_response_set_peer_chain(resp, SSL_get_peer_cert_chain(ssl));
		if (h->chain_rc != ESTKIT_OK)
			fprintf(stderr, "hook: server not authorized by the library\n");
	}
	if (send_request(b, req, estkit_http_response_authorization(resp)) != 0)
		goto out;
	rc = read_response(b, resp);
out:
	BIO_free_all(b);
	SSL_CTX_free(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	struct hook h = {0, ESTKIT_OK};
	struct estkit_client *c = NULL;
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *csr = NULL;
	FILE *f = NULL;
	const char *pw = getenv("EST_PASSWORD");
	enum estkit_status rc = ESTKIT_EINVAL;

	if (argc != 7 || pw == NULL) {
		fprintf(stderr, "usage: EST_PASSWORD=... %s none|chain|declare URL CAFILE USER "
		                "SUBJECT OUT.pem\n", argv[0]);
		return 2;
	}
	if ((c = estkit_client_new(argv[2])) == NULL)
		return 2;
	h.report_chain = strcmp(argv[1], "chain") == 0;
	estkit_client_set_transport(c, hook, &h);
	estkit_client_set_transport_authorized(c, strcmp(argv[1], "declare") == 0);
	if ((rc = estkit_client_set_trust(c, argv[3])) == ESTKIT_OK &&
	    (rc = estkit_client_set_basic_auth(c, argv[4], pw)) == ESTKIT_OK &&
	    (rc = estkit_key_generate("ec:P-256", &key)) == ESTKIT_OK &&
	    (rc = estkit_csr_new(key, argv[5], NULL, 0, NULL, &csr)) == ESTKIT_OK)
		rc = estkit_client_simpleenroll(c, csr, &certs);
	if (rc == ESTKIT_OK && (f = fopen(argv[6], "w")) != NULL) {
		PEM_write_X509(f, sk_X509_value(certs, 0));
		fclose(f);
	}
	printf("status=%s http=%ld chain=%s\n", estkit_strerror(rc), estkit_client_http_status(c),
	       estkit_strerror(h.chain_rc));
	if (rc != ESTKIT_OK)
		fprintf(stderr, "hook_enroll: %s\n", estkit_client_errmsg(c));
	sk_X509_pop_free(certs, X509_free);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estkit_client_free(c);
	return rc == ESTKIT_OK ? 0 : 1;
}
