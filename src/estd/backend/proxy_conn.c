/*
 * backend/proxy_conn.c - the upstream connections of backend = proxy:
 * clients made with the RA's credentials, kept alive in the pool between
 * requests, retried once when a kept-alive connection died (proxy_conn.h).
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

#include "backend/ca.h"
#include "backend/proxy_conn.h"
#include "backend/upool.h"
#include "util.h"

/* See proxy_conn.h. */
enum estkit_status estd_proxy_password_read(const char *path, char *pw, char *msg,
					    size_t msglen)
{
	return estd_secret_file_line(path, "password", pw, ESTD_PROXY_MAX_PASSWORD, msg, msglen);
}

/* A new client for the label's upstream with the RA's credentials; NULL after logging. */
static struct estkit_client *client_new(struct estd_ext *x, const struct estd_label *lab,
					const char *pw)
{
	const struct estd_ext_conf *c = lab->ext;
	struct estkit_client *cl = estkit_client_new(c->upstream_url);
	enum estkit_status rc = ESTKIT_ENOMEM;
	const char *what = "upstream_url";

	if (cl == NULL)
		goto err;
	estkit_client_set_timeout(cl, c->upstream_timeout);
	what = "upstream_trust";
	rc = estkit_client_set_trust(cl, c->upstream_trust);
	if (rc == ESTKIT_OK && c->upstream_cert != NULL) {
		what = "upstream_cert/upstream_key";
		rc = estkit_client_set_client_cert(cl, c->upstream_cert, c->upstream_key);
	}
	if (rc == ESTKIT_OK && pw != NULL) {
		what = "upstream_user";
		rc = estkit_client_set_basic_auth(cl, c->upstream_user, pw);
		if (rc == ESTKIT_OK)
			rc = estkit_client_set_auth_methods(cl, ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST);
	}
	if (rc == ESTKIT_OK)
		return cl;
err:
	estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR, "label '%s': %s: %s: %s",
			    lab->name, what, estkit_strerror(rc),
			    cl != NULL ? estkit_client_errmsg(cl) : "");
	estkit_client_free(cl);
	ERR_clear_error();
	return NULL;
}

/* What a kept-alive client must have been made with to serve this label now. */
static char *settings_key(const struct estd_label *lab)
{
	const struct estd_ext_conf *c = lab->ext;

	return estd_strfmt("%s\n%s\n%s\n%s\n%s\n%s\n%d", lab->name, c->upstream_url,
			   c->upstream_trust, c->upstream_cert != NULL ? c->upstream_cert : "",
			   c->upstream_key != NULL ? c->upstream_key : "",
			   c->upstream_user != NULL ? c->upstream_user : "", c->upstream_timeout);
}

static void conn_clear(struct estd_proxy_conn *u)
{
	estkit_client_free(u->cl);
	free(u->key);
	OPENSSL_cleanse(u->pw, sizeof(u->pw));
	memset(u, 0, sizeof(*u));
}

/* See proxy_conn.h. */
int estd_proxy_conn_get(struct estd_ext *x, const struct estd_label *lab,
			struct estkit_request *req, struct estd_proxy_conn *u)
{
	const struct estd_ext_conf *c = lab->ext;
	struct estd_upool *pool = estd_ext_upool(x);
	char msg[400];

	memset(u, 0, sizeof(*u));
	if (c->upstream_user != NULL) {
		/* read per request: a new password needs no reload */
		if (estd_proxy_password_read(c->upstream_password_file, u->pw, msg, sizeof(msg)) !=
		    ESTKIT_OK) {
			estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_ERROR,
					    "label '%s': upstream_password_file %s", lab->name, msg);
			goto err;
		}
		u->has_pw = 1;
	}
	if ((u->key = settings_key(lab)) == NULL)
		goto err;
	u->gen = estd_upool_gen(pool);
	u->cl = estd_upool_take(pool, u->key, u->has_pw ? u->pw : NULL);
	u->reused = u->cl != NULL;
	if (u->cl == NULL && (u->cl = client_new(x, lab, u->has_pw ? u->pw : NULL)) == NULL)
		goto err;
	return 0;
err:
	conn_clear(u);
	estkit_request_fail(req, 500, "the RA is misconfigured");
	return -1;
}

/* See proxy_conn.h. */
int estd_proxy_conn_retry(struct estd_ext *x, const struct estd_label *lab,
			  struct estd_proxy_conn *u, enum estkit_status rc)
{
	struct estkit_client *fresh = NULL;

	/*
	 * Only a client that waited in the pool, and only when no answer came: the
	 * upstream closed or forgot its connection (idle timeout, restart, a NAT)
	 * before it read the request. libcurl itself reconnects once when a reused
	 * connection dies unanswered; when that new connection fails as well (reset
	 * during the TLS handshake while the upstream restarts) a new client tries
	 * once more. A real TLS or network failure fails again, one attempt later.
	 */
	if (!u->reused || (rc != ESTKIT_ENET && rc != ESTKIT_ETLS) ||
	    estkit_client_http_status(u->cl) != 0)
		return 0;
	estd_backend_ca_log(estd_ext_log(x), ESTKIT_LOG_INFO,
			    "label '%s': kept-alive upstream connection failed (%s); retrying on "
			    "a new one", lab->name, estkit_client_errmsg(u->cl));
	fresh = client_new(x, lab, u->has_pw ? u->pw : NULL);
	if (fresh == NULL)
		return 0;
	estkit_client_free(u->cl);
	u->cl = fresh;
	u->reused = 0;
	ERR_clear_error();
	return 1;
}

/* See proxy_conn.h. */
void estd_proxy_conn_put(struct estd_ext *x, const struct estd_label *lab,
			 struct estd_proxy_conn *u)
{
	long idle_ms = (long)lab->ext->upstream_keepalive * 1000;

	/* a client whose exchange got no HTTP answer holds no usable connection */
	if (u->cl != NULL && idle_ms > 0 && estkit_client_http_status(u->cl) != 0) {
		estd_upool_give(estd_ext_upool(x), u->key, u->has_pw ? u->pw : NULL, u->gen,
				idle_ms, u->cl);
		u->cl = NULL;
	}
	conn_clear(u);
}
