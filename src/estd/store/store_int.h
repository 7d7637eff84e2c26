/*
 * store_int.h - what the store engines (sqlite*.c, pg*.c) share with the
 * dispatcher (store.c); nothing outside src/estd/store includes it.
 *
 * A store is an engine's own struct whose first member is struct
 * estd_store; the ops table holds the engine's functions. store.c checks
 * the arguments every engine would check, clears the thread's message and
 * calls through the table, so store.h keeps one set of names for callers.
 * So an engine's function sees a store, out and callback pointers that are
 * not NULL, a request or token record whose fields passed the checks of
 * store.c, free text of at most ESTD_STORE_MAX_TEXT bytes, and serials
 * (cert_get, revoke, revocation_get) already in the form of
 * estd_store_normalize_serial(). It checks none of that again.
 */
#ifndef ESTD_STORE_INT_H
#define ESTD_STORE_INT_H

#include <stddef.h>
#include <estkit/error.h>
#include "store/store.h"

struct estd_store_ops {
	const char *name; /* "sqlite", "postgresql" */
	void (*close)(struct estd_store *st);
	enum estkit_status (*cert_insert)(struct estd_store *st,
					  const struct estd_cert_record *rec);
	enum estkit_status (*cert_get)(struct estd_store *st, const char *serial,
				       struct estd_cert_record **out);
	enum estkit_status (*cert_foreach)(struct estd_store *st,
					   int (*cb)(void *arg, const struct estd_cert_record *rec),
					   void *arg);
	enum estkit_status (*revoke)(struct estd_store *st, const char *serial, int reason,
				     long long at, const char *by);
	enum estkit_status (*revocation_get)(struct estd_store *st, const char *serial,
					     int *reason, long long *at);
	enum estkit_status (*revocation_foreach)(struct estd_store *st,
						 int (*cb)(void *arg, const char *serial,
							   int reason, long long at),
						 void *arg);
	enum estkit_status (*crl_next_number)(struct estd_store *st, long long *out);
	enum estkit_status (*request_submit)(struct estd_store *st,
					     const struct estd_request_record *req,
					     struct estd_request_record **out, int *created);
	enum estkit_status (*request_get)(struct estd_store *st, long long id,
					  struct estd_request_record **out);
	enum estkit_status (*request_foreach)(struct estd_store *st, const char *status,
					      int (*cb)(void *arg,
							const struct estd_request_record *r),
					      void *arg);
	enum estkit_status (*request_decide)(struct estd_store *st, long long id,
					     const char *status, const char *reason,
					     const char *decided_by);
	enum estkit_status (*request_issue)(struct estd_store *st, long long id,
					    const struct estd_cert_record *cert);
	/* NULL: the engine keeps no shared nonce-counts (estd_store_digest_nc()) */
	enum estkit_status (*digest_nc)(struct estd_store *st, const unsigned char key[16],
					long long ts, unsigned long nc, long long forget_before);
	/* NULL: the engine has no connection pool */
	void (*set_connections)(struct estd_store *st, int n);
	/* one-time enrollment tokens (SQLite migration 4, PostgreSQL 6); NULL: none */
	enum estkit_status (*token_insert)(struct estd_store *st, const struct estd_token_record *t);
	enum estkit_status (*token_get)(struct estd_store *st, const char *id, struct estd_token_record **out);
	enum estkit_status (*token_foreach)(struct estd_store *st, int (*cb)(void *arg, const struct estd_token_record *t), void *arg);
	enum estkit_status (*token_claim)(struct estd_store *st, const char *id, long long now, const char *used_by);
	enum estkit_status (*token_release)(struct estd_store *st, const char *id);
	enum estkit_status (*token_set_serial)(struct estd_store *st, const char *id, const char *serial);
	enum estkit_status (*token_revoke)(struct estd_store *st, const char *id, long long now);
};

struct estd_store {
	const struct estd_store_ops *ops;
};

/* RFC 5280 4.1.2.2 allows 20 octets; leave room */
#define ESTD_STORE_MAX_SERIAL 64

/* The longest free text (reason, names, token fields) a store keeps, in bytes. */
#define ESTD_STORE_MAX_TEXT 1024

/*
 * Serial to canonical form: lowercase hex without leading zeros ("0" for
 * zero); ':' separators (as openssl prints serials) are ignored. -1 when
 * not hex, empty or too long.
 */
int estd_store_normalize_serial(const char *in, char *out, size_t outlen);

/* 1 when h is 64 lowercase hex digits (a request's csr_sha256). */
int estd_store_valid_hash(const char *h);

/* Sets this thread's store message (estd_store_errmsg()). */
void estd_store_set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* This thread's message buffer, "" after estd_store_clear_err(). */
void estd_store_clear_err(void);
const char *estd_store_err(void);

/* Engine openers: *out on ESTKIT_OK, else the thread's message says why. */
enum estkit_status estd_sqlite_open(const char *path, struct estd_store **out);
enum estkit_status estd_pg_open(const char *conninfo, struct estd_store **out);

#endif /* ESTD_STORE_INT_H */
