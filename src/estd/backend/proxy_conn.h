/*
 * backend/proxy_conn.h - the upstream connections of backend = proxy: an
 * estkit client with the RA's credentials for each forwarded request, kept
 * alive between requests (backend/upool.h) for upstream_keepalive seconds,
 * so that K requests need far fewer than K TLS handshakes upstream. A
 * kept-alive connection the upstream closed meanwhile costs one transparent
 * retry on a new connection, never an error.
 */
#ifndef ESTD_BACKEND_PROXY_CONN_H
#define ESTD_BACKEND_PROXY_CONN_H

#include <stddef.h>
#include <estkit/client.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "backend/ext.h"

/* Longest password read from upstream_password_file. */
#define ESTD_PROXY_MAX_PASSWORD 1024

/* One request's upstream client. Zero it before estd_proxy_conn_get(). */
struct estd_proxy_conn {
	struct estkit_client *cl;                /* owned while the request runs */
	char *key;                               /* the settings it was made with */
	char pw[ESTD_PROXY_MAX_PASSWORD + 1];    /* upstream_password_file's; wiped */
	int has_pw;
	int reused;                              /* taken from the pool */
	unsigned gen;                            /* the pool's generation when taken */
};

/*
 * The password of upstream_password_file: its first line (up to CR, LF or
 * NUL), 1..ESTD_PROXY_MAX_PASSWORD bytes, into pw (ESTD_PROXY_MAX_PASSWORD + 1
 * bytes, NUL-terminated; the caller wipes it). The file must be a regular
 * file no one but its owner may access (mode 0600 or stricter). On failure
 * msg says why, naming path: ESTKIT_ENOTFOUND (missing), ESTKIT_EIO
 * (unreadable, not a regular file) or ESTKIT_EINVAL (mode, empty, too long).
 */
enum estkit_status estd_proxy_password_read(const char *path, char *pw, char *msg,
					    size_t msglen);

/*
 * A client for the label's upstream: a kept-alive one made with the same
 * settings and password, or a new one. 0, or -1 after failing req (500, the
 * RA is misconfigured; logged). Release with estd_proxy_conn_put().
 */
int estd_proxy_conn_get(struct estd_ext *x, const struct estd_label *lab,
			struct estkit_request *req, struct estd_proxy_conn *u);

/*
 * After an exchange on u that returned rc: 1 when it failed at the network
 * or TLS level without any HTTP answer on a client taken from the pool (the
 * upstream closed, forgot or restarted its connection meanwhile) and u now
 * holds a new client: repeat the exchange once. 0 otherwise (rc stands).
 */
int estd_proxy_conn_retry(struct estd_ext *x, const struct estd_label *lab,
			  struct estd_proxy_conn *u, enum estkit_status rc);

/*
 * Ends the request's use of u: the client goes back to the pool when its
 * last exchange got an HTTP answer and upstream_keepalive is not 0, else it
 * is freed. The password is wiped. u may be zeroed (no-op).
 */
void estd_proxy_conn_put(struct estd_ext *x, const struct estd_label *lab,
			 struct estd_proxy_conn *u);

#endif /* ESTD_BACKEND_PROXY_CONN_H */
