/*
 * store.h - estd's durable record of what it issued.
 *
 * One interface, engines behind it (store_int.h): SQLite for one node,
 * PostgreSQL for one or several nodes sharing a database. Every function is
 * safe to call from several threads at once, and every one may block (disk,
 * network): call them from the job pool or an admin command, never from an
 * event loop. A successful insert is durable (committed and synced) when
 * the function returns: estd sends a certificate only after that.
 */
#ifndef ESTD_STORE_H
#define ESTD_STORE_H

#include <stddef.h>
#include <estkit/error.h>

struct estd_store;

struct estd_cert_record {
	char *serial;        /* lowercase hex, no leading zeros; unique */
	char *subject;       /* RFC 2253 one-line */
	char *issuer;
	char *sans;          /* "DNS:a, IP:192.0.2.1" or "" */
	long long not_before, not_after, issued_at; /* Unix seconds */
	char *requester;     /* estkit_request_identity(): "user:x", "cert:CN=...", ... */
	char *label;         /* "" for the default label */
	char *op;            /* "simpleenroll", "simplereenroll", ... */
	unsigned char *csr_der;
	size_t csr_len;
	unsigned char *cert_der;
	size_t cert_len;
};

/*
 * Opens (creating if needed, with schema migrations) the store at spec: a
 * SQLite file path ("estd.db", or "sqlite:PATH"), or a PostgreSQL database
 * as a libpq connection URI ("postgresql://user@host:port/db?...", also
 * "postgres://"). On error *err (caller frees with estkit_free()) says why.
 * A PostgreSQL store that cannot be reached later answers ESTKIT_EBUSY
 * (HTTP 503) and reconnects on the next call.
 */
enum estkit_status estd_store_open(const char *spec, struct estd_store **out, char **err);

void estd_store_close(struct estd_store *st);

/*
 * The HTTP status for a request a store failure stopped: 503 (with
 * Retry-After) when the store is only unavailable for now (ESTKIT_EBUSY:
 * PostgreSQL restarting, all connections busy, lock conflict), else 500.
 */
int estd_store_http_status(enum estkit_status rc);

/* spec with any PostgreSQL password replaced by "***", for messages. Caller frees. */
char *estd_store_redact(const char *spec);

/* The engine of st: "sqlite" or "postgresql" ("" for NULL). */
const char *estd_store_engine(const struct estd_store *st);

/*
 * At most n connections at once (PostgreSQL; a no-op for SQLite, which has
 * one). Set before the store is shared between threads.
 */
void estd_store_set_connections(struct estd_store *st, int n);

/*
 * How long a call waits for a free connection before it fails with
 * ESTKIT_EBUSY (HTTP 503): seconds, 1 to 300, default 10 (PostgreSQL; a
 * no-op for SQLite, and for seconds < 1). Measured on CLOCK_MONOTONIC. Set
 * before the store is shared between threads.
 */
void estd_store_set_pool_wait(struct estd_store *st, int seconds);

/*
 * 1 when the store keeps Digest nonce-counts for all nodes sharing it
 * (PostgreSQL); 0 when each node keeps its own in memory (SQLite).
 */
int estd_store_shares_nonces(const struct estd_store *st);

/*
 * RFC 7616 3.4 replay check shared by every node: the Digest nonce whose
 * MAC starts with key (16 bytes), issued at ts (Unix seconds), is used with
 * nonce-count nc. ESTKIT_OK when nc is above every count seen for it (now
 * recorded), ESTKIT_EEXIST when it is not (a replay); ESTKIT_EBUSY or
 * ESTKIT_EIO when the store cannot say. Entries of nonces issued before
 * forget_before (already expired) may be dropped. One statement.
 */
enum estkit_status estd_store_digest_nc(struct estd_store *st, const unsigned char key[16],
					long long ts, unsigned long nc, long long forget_before);

/*
 * Inserts and commits a record: durable when this returns ESTKIT_OK.
 * Concurrent calls may share one transaction (SQLite: group commit,
 * gcommit.h); each still returns only after the commit holding its record.
 * A serial already present is ESTKIT_EEXIST.
 */
enum estkit_status estd_store_cert_insert(struct estd_store *st,
					  const struct estd_cert_record *rec);

/* The record with serial (hex, any case, leading zeros ignored); ESTKIT_ENOTFOUND. */
enum estkit_status estd_store_cert_get(struct estd_store *st, const char *serial,
				       struct estd_cert_record **out);

/*
 * Calls cb for each record, oldest first (csr/cert blobs included). A
 * non-zero return from cb stops the walk (the function then returns ESTKIT_OK).
 */
enum estkit_status estd_store_cert_foreach(struct estd_store *st,
					   int (*cb)(void *arg, const struct estd_cert_record *rec),
					   void *arg);

/* Frees a record returned by estd_store_cert_get(). NULL is a no-op. */
void estd_cert_record_free(struct estd_cert_record *rec);

/*
 * Records that the certificate with serial is revoked (CRLReason reason,
 * RFC 5280 5.3.1) at Unix time at by whom ("user:x", "cert:CN=..", "admin").
 * ESTKIT_ENOTFOUND when no such certificate was issued, ESTKIT_EEXIST when
 * it is already revoked. Durable on return.
 */
enum estkit_status estd_store_revoke(struct estd_store *st, const char *serial, int reason,
				     long long at, const char *by);

/* Revocation of serial: ESTKIT_OK with reason/at (either may be NULL), ESTKIT_ENOTFOUND. */
enum estkit_status estd_store_revocation_get(struct estd_store *st, const char *serial,
					     int *reason, long long *at);

/* Calls cb for every revocation (serial in lowercase hex), oldest first; non-zero stops. */
enum estkit_status estd_store_revocation_foreach(struct estd_store *st,
						 int (*cb)(void *arg, const char *serial,
							   int reason, long long at),
						 void *arg);

/* Increments and returns the CRL number (1, 2, ...; RFC 5280 5.2.3 monotonic). */
enum estkit_status estd_store_crl_next_number(struct estd_store *st, long long *out);

/* The last error message of this thread's last call, for logs ("" if none). */
const char *estd_store_errmsg(struct estd_store *st);

/* ---- requests held for manual approval (RFC 7030 4.2.3) -------------------------- */

/*
 * One enrollment request of a label with `approval = manual`. Strings are
 * never NULL in records the store returns ("" when unset).
 */
struct estd_request_record {
	long long id;        /* assigned by the store */
	char *label;         /* "" for the default label */
	char *op;            /* "simpleenroll" or "simplereenroll" */
	char *requester;     /* estkit_request_identity() of the first submission */
	char *subject;       /* RFC 2253 one-line of the CSR subject */
	char *sans;          /* requested subjectAltName, "DNS:a, ..." or "" */
	unsigned char *csr_der;
	size_t csr_len;
	char *csr_sha256;    /* lowercase hex SHA-256 of csr_der: "the same request" */
	char *status;        /* "pending", "approved", "rejected" or "issued" */
	char *reason;        /* rejection reason, or "" */
	char *serial;        /* the issued certificate's serial once issued, else "" */
	long long created_at, decided_at; /* Unix seconds; decided_at 0 while pending */
	char *decided_by;    /* who approved or rejected, or "" */
};

/*
 * Stores req (label, op, requester, subject, sans, csr_der/len, csr_sha256
 * are used; status becomes "pending", created_at now) unless the label
 * already holds a request with the same csr_sha256: then that one (the open
 * one, else the newest issued) is returned unchanged. Atomic: two nodes
 * submitting the same CSR get the same row. *created is 1 when the row is
 * new. *out is the stored row (caller frees).
 */
enum estkit_status estd_store_request_submit(struct estd_store *st,
					     const struct estd_request_record *req,
					     struct estd_request_record **out, int *created);

/* The request with id; ESTKIT_ENOTFOUND. */
enum estkit_status estd_store_request_get(struct estd_store *st, long long id,
					  struct estd_request_record **out);

/*
 * Calls cb for each request whose status is status (NULL: all), oldest
 * first. A non-zero return from cb stops the walk.
 */
enum estkit_status estd_store_request_foreach(struct estd_store *st, const char *status,
					      int (*cb)(void *arg,
							const struct estd_request_record *r),
					      void *arg);

/*
 * Approves (status "approved") or rejects ("rejected", with reason) a
 * pending request, recording decided_by and the time. Atomic ("UPDATE ...
 * WHERE status = 'pending'"): of two operators or nodes deciding at once
 * exactly one succeeds. ESTKIT_ENOTFOUND: no such id; ESTKIT_EEXIST: it is
 * no longer pending.
 */
enum estkit_status estd_store_request_decide(struct estd_store *st, long long id,
					     const char *status, const char *reason,
					     const char *decided_by);

/*
 * Records the certificate issued for an approved request and marks the
 * request "issued" with cert->serial, in one transaction. ESTKIT_EEXIST:
 * the serial is already in the store (issue again); ESTKIT_EPOLICY: the
 * request is not (or no longer) approved - e.g. another node collected it
 * first - and nothing was recorded.
 */
enum estkit_status estd_store_request_issue(struct estd_store *st, long long id,
					    const struct estd_cert_record *cert);

/* Frees a request record. NULL is a no-op. */
void estd_request_record_free(struct estd_request_record *r);

/* ---- one-time enrollment tokens (estd token; RFC 7894 otpChallenge) ---------------- */

/*
 * One token. The store keeps only the SHA-256 of the secret. Strings are
 * never NULL in records the store returns ("" when unset); times are Unix
 * seconds, 0 when not (yet) so.
 */
struct estd_token_record {
	char *id;            /* 16 lowercase hex digits, public */
	char *hash;          /* lowercase hex SHA-256 of the whole secret */
	char *label;         /* the label it enrolls on ("" = default) */
	char *subject;       /* the CSR subject it allows, RFC 2253 one-line */
	char *sans;          /* the subjectAltNames it allows, "DNS:a, IP:b" or "" */
	long long created_at, expires_at, used_at, revoked_at;
	char *created_by;    /* who made it */
	char *used_by;       /* identity and peer of the enrollment that used it */
	char *serial;        /* the certificate issued with it, or "" */
};

/*
 * Every token function takes an id of 1..64 printable ASCII characters
 * (estd makes 16 hex digits); any other id is ESTKIT_EINVAL on every engine.
 * Both engines keep the same rows: SQLite (migration 4) for one node,
 * PostgreSQL (migration 6) shared by all nodes.
 */

/* Stores a new token (used_at, revoked_at, used_by, serial ignored). ESTKIT_EEXIST: id taken. */
enum estkit_status estd_store_token_insert(struct estd_store *st,
					   const struct estd_token_record *t);

/* The token with id; ESTKIT_ENOTFOUND. */
enum estkit_status estd_store_token_get(struct estd_store *st, const char *id,
					struct estd_token_record **out);

/* Calls cb for every token, oldest first; non-zero stops the walk. */
enum estkit_status estd_store_token_foreach(struct estd_store *st,
					    int (*cb)(void *arg,
						      const struct estd_token_record *t),
					    void *arg);

/*
 * Uses the token: one atomic "UPDATE ... WHERE used_at = 0 AND revoked_at
 * = 0 AND expires_at > now", so of any number of requests, threads or nodes
 * exactly one wins. ESTKIT_EEXIST: used, revoked or expired (nothing
 * changed); ESTKIT_ENOTFOUND: no such token. Durable on return.
 */
enum estkit_status estd_store_token_claim(struct estd_store *st, const char *id,
					  long long now, const char *used_by);

/*
 * Gives a claimed token back when its enrollment issued nothing (refused or
 * held for approval): only while no serial is recorded for it.
 */
enum estkit_status estd_store_token_release(struct estd_store *st, const char *id);

/* Records the serial of the certificate issued with a claimed token. */
enum estkit_status estd_store_token_set_serial(struct estd_store *st, const char *id,
					       const char *serial);

/* Revokes an unused token. ESTKIT_ENOTFOUND; ESTKIT_EEXIST: already used or revoked. */
enum estkit_status estd_store_token_revoke(struct estd_store *st, const char *id, long long now);

/* Frees a token record. NULL is a no-op. */
void estd_token_record_free(struct estd_token_record *t);

#endif /* ESTD_STORE_H */
