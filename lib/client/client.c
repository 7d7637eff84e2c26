/*
 * client.c - the estkit_client handle: creation, settings, error message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "client/client_internal.h"

#define DEFAULT_TIMEOUT 60L

struct estkit_client *estkit_client_new(const char *url)
{
	struct estkit_client *c = NULL;
	struct ek_url u;

	if (ek_client_url_parse(url, &u) != ESTKIT_OK) {
		errno = EINVAL;
		return NULL;
	}
	/* curl_global_init is reference counted and thread-safe since curl 7.84. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		curl_global_cleanup();
		errno = ENOMEM;
		return NULL;
	}
	c->url = u;
	c->timeout = DEFAULT_TIMEOUT;
	return c;
}

static void free_secret_string(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

static void clear_client_key(struct estkit_client *c)
{
	X509_free(c->client_cert);
	EVP_PKEY_free(c->client_key);
	ek_certs_free(c->client_chain);
	c->client_cert = NULL;
	c->client_key = NULL;
	c->client_chain = NULL;
}

/* Settings change what a connection may be reused for: start over. */
/* See client_internal.h. */
void ek_client_drop_connection(struct estkit_client *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	c->last_ssl = NULL;
}

void estkit_client_free(struct estkit_client *c)
{
	if (c == NULL)
		return;
	ek_client_drop_connection(c);
	ek_certs_free(c->trust);
	ek_client_implicit_clear(c);
	clear_client_key(c);
	free_secret_string(c->user);
	free_secret_string(c->password);
	free_secret_string(c->srp_user);
	free_secret_string(c->srp_password);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	curl_global_cleanup();
}

enum estkit_status ek_client_fail(struct estkit_client *c, enum estkit_status rc, const char *fmt,
                                  ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	ek_client_log(c, "error: %s", c->errmsg);
	return rc;
}

void ek_client_begin(struct estkit_client *c)
{
	c->errmsg[0] = '\0';
	c->http_status = 0;
	c->retry_after = 0;
	ERR_clear_error();
}

enum estkit_status ek_client_csr_b64(struct estkit_client *c, X509_REQ *csr, unsigned char **der,
                                     size_t *derlen, char **b64)
{
	enum estkit_status rc = estkit_csr_encode(csr, der, derlen);

	if (rc == ESTKIT_OK)
		rc = estkit_b64_encode(*der, *derlen, b64, NULL);
	if (rc != ESTKIT_OK) {
		ERR_clear_error();
		rc = ek_client_fail(c, rc, "cannot encode the request: %s", estkit_strerror(rc));
	}
	return rc;
}

void ek_client_log(struct estkit_client *c, const char *fmt, ...)
{
	char line[EK_ERRMSG_MAX + 64];
	va_list ap;

	if (c->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->log(c->log_arg, line);
}

/* The first queued OpenSSL error as text, or a fallback; clears the queue. */
static const char *ossl_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0) {
		snprintf(buf, len, "%s", fallback);
	} else {
		ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
	return buf;
}

enum estkit_status estkit_client_set_trust(struct estkit_client *c, const char *cafile)
{
	STACK_OF(X509) *cas = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	char why[256];

	if (c == NULL || cafile == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_certs_load(cafile, &cas);
	if (rc != ESTKIT_OK)
		return ek_client_fail(c, rc, "cannot load trust anchors from %s: %s (%s)", cafile,
		                      estkit_strerror(rc),
		                      ossl_reason(why, sizeof(why), "no detail"));
	rc = estkit_client_set_trust_certs(c, cas);
	ek_certs_free(cas);
	return rc;
}

enum estkit_status estkit_client_set_trust_certs(struct estkit_client *c, STACK_OF(X509) * cas)
{
	STACK_OF(X509) *copy = NULL;
	int i = 0;

	if (c == NULL || cas == NULL || sk_X509_num(cas) <= 0)
		return ESTKIT_EINVAL;
	copy = sk_X509_new_null();
	if (copy == NULL)
		return ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
	for (i = 0; i < sk_X509_num(cas); i++) {
		X509 *x = sk_X509_value(cas, i);

		if (!X509_up_ref(x) || !sk_X509_push(copy, x)) {
			ek_certs_free(copy);
			return ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
		}
	}
	ek_client_drop_connection(c);
	ek_certs_free(c->trust);
	c->trust = copy;
	return ESTKIT_OK;
}

/*
 * Replaces the secrets *user_slot and *pw_slot with copies of user and
 * password (user NULL: clears both). On ESTKIT_ENOMEM nothing changed.
 */
static enum estkit_status replace_secret_pair(struct estkit_client *c, char **user_slot,
                                              char **pw_slot, const char *user,
                                              const char *password)
{
	char *u = NULL;
	char *p = NULL;

	if (user != NULL) {
		u = strdup(user);
		p = strdup(password);
		if (u == NULL || p == NULL) {
			free_secret_string(u);
			free_secret_string(p);
			return ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
		}
	}
	free_secret_string(*user_slot);
	free_secret_string(*pw_slot);
	*user_slot = u;
	*pw_slot = p;
	return ESTKIT_OK;
}

enum estkit_status estkit_client_set_basic_auth(struct estkit_client *c, const char *user,
                                                const char *password)
{
	if (c == NULL || user == NULL || password == NULL || strchr(user, ':') != NULL)
		return ESTKIT_EINVAL; /* RFC 7617 2: a user-id cannot contain a colon */
	return replace_secret_pair(c, &c->user, &c->password, user, password);
}

/* See estkit/client.h. user NULL: back to certificate-based TLS. */
enum estkit_status estkit_client_set_srp(struct estkit_client *c, const char *user,
                                         const char *password)
{
	enum estkit_status rc = ESTKIT_EINVAL;

	if (c == NULL)
		return ESTKIT_EINVAL;
	/* RFC 5054 2.4: the name travels in the ClientHello; one byte of length */
	if (user != NULL &&
	    (user[0] == '\0' || strlen(user) > 255 || password == NULL || password[0] == '\0'))
		return ESTKIT_EINVAL;
	rc = replace_secret_pair(c, &c->srp_user, &c->srp_password, user, password);
	if (rc == ESTKIT_OK)
		ek_client_drop_connection(c);
	return rc;
}

/* See estkit/client.h. */
enum estkit_status estkit_client_set_auth_methods(struct estkit_client *c, unsigned methods)
{
	if (c == NULL || methods == 0 || (methods & ~(ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST)) != 0)
		return ESTKIT_EINVAL;
	c->auth_methods = methods;
	return ESTKIT_OK;
}

enum estkit_status estkit_client_set_client_cert(struct estkit_client *c, const char *certfile,
                                                 const char *keyfile)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	char why[256];

	if (c == NULL || certfile == NULL || keyfile == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_certs_load(certfile, &certs);
	if (rc != ESTKIT_OK) {
		rc =
		    ek_client_fail(c, rc, "cannot load client certificate %s: %s (%s)", certfile,
		                   estkit_strerror(rc), ossl_reason(why, sizeof(why), "no detail"));
		goto out;
	}
	rc = estkit_key_load(keyfile, &key);
	if (rc != ESTKIT_OK) {
		rc =
		    ek_client_fail(c, rc, "cannot load client key %s: %s (%s)", keyfile,
		                   estkit_strerror(rc), ossl_reason(why, sizeof(why), "no detail"));
		goto out;
	}
	/* The first certificate of the file is the client's; the rest its chain. */
	leaf = sk_X509_shift(certs);
	rc = estkit_client_set_client_key(c, leaf, key, certs);
out:
	X509_free(leaf);
	EVP_PKEY_free(key);
	ek_certs_free(certs);
	return rc;
}

enum estkit_status estkit_client_set_client_key(struct estkit_client *c, X509 *cert, EVP_PKEY *key,
                                                STACK_OF(X509) * chain)
{
	STACK_OF(X509) *ch = NULL;

	if (c == NULL || cert == NULL || key == NULL)
		return ESTKIT_EINVAL;
	if (!X509_check_private_key(cert, key)) {
		ERR_clear_error();
		return ek_client_fail(c, ESTKIT_EINVAL,
		                      "client key does not match the client certificate");
	}
	if (chain != NULL && (ch = X509_chain_up_ref(chain)) == NULL)
		return ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
	if (!X509_up_ref(cert) || !EVP_PKEY_up_ref(key)) {
		ek_certs_free(ch);
		return ek_client_fail(c, ESTKIT_EINTERNAL, "cannot reference client key");
	}
	ek_client_drop_connection(c);
	clear_client_key(c);
	c->client_cert = cert;
	c->client_key = key;
	c->client_chain = ch;
	return ESTKIT_OK;
}

void estkit_client_set_timeout(struct estkit_client *c, long seconds)
{
	if (c != NULL && seconds > 0)
		c->timeout = seconds;
}

void estkit_client_set_log(struct estkit_client *c, void (*log)(void *arg, const char *line),
                           void *arg)
{
	if (c == NULL)
		return;
	c->log = log;
	c->log_arg = arg;
}

const char *estkit_client_errmsg(const struct estkit_client *c)
{
	return c == NULL ? "" : c->errmsg;
}

long estkit_client_http_status(const struct estkit_client *c)
{
	return c == NULL ? 0 : c->http_status;
}

long estkit_client_retry_after(const struct estkit_client *c)
{
	return c == NULL ? 0 : c->retry_after;
}
