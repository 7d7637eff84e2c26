/*
 * sqlite_int.h - shared by the files of the SQLite store engine (sqlite.c,
 * sqlite_requests.c); nothing outside src/estd/store includes it.
 */
#ifndef ESTD_STORE_SQLITE_INT_H
#define ESTD_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <sqlite3.h>
#include <estkit/error.h>
#include "store/gcommit.h"
#include "store/store_int.h"

struct estd_sqlite {
	struct estd_store base; /* first: the ops table */
	sqlite3 *db;
	pthread_mutex_t lock; /* recursive: a foreach callback may call get */
	sqlite3_stmt *ins, *get;
	struct estd_gcommit gc; /* certificate inserts: one transaction per batch (gcommit.h) */
};

/* The engine's store behind base (base is its first member). */
#define ESTD_SQ(base) ((struct estd_sqlite *)(void *)(base))

/*
 * Migration 2: requests held for manual approval (RFC 7030 4.2.3). A CSR
 * (by its DER's SHA-256) has at most one request per label that is not yet
 * collected; status is pending, approved, rejected or issued.
 */
#define ESTD_SQLITE_MIGRATION_REQUESTS                                                        \
	"CREATE TABLE IF NOT EXISTS requests ("                                                \
	" id INTEGER PRIMARY KEY, label TEXT NOT NULL, op TEXT NOT NULL,"                     \
	" requester TEXT NOT NULL, subject TEXT NOT NULL, sans TEXT NOT NULL,"                \
	" csr BLOB NOT NULL, csr_sha256 TEXT NOT NULL,"                                        \
	" status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','issued')),"  \
	" reason TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '',"                   \
	" created_at INTEGER NOT NULL, decided_at INTEGER NOT NULL DEFAULT 0,"                 \
	" decided_by TEXT NOT NULL DEFAULT '');"                                               \
	"CREATE UNIQUE INDEX IF NOT EXISTS requests_open ON requests (label, csr_sha256)"     \
	" WHERE status <> 'issued';"                                                           \
	"CREATE INDEX IF NOT EXISTS requests_status ON requests (status, id);"

#define MAX_SERIAL_HEX ESTD_STORE_MAX_SERIAL
/*
 * Migration 4: one-time enrollment tokens (sqlite_tokens.c). Only the
 * SHA-256 of a secret is kept; used_at / revoked_at 0 = not yet.
 */
#define ESTD_SQLITE_MIGRATION_TOKENS                                                          \
	"CREATE TABLE IF NOT EXISTS tokens ("                                                  \
	" id TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, label TEXT NOT NULL,"              \
	" subject TEXT NOT NULL, sans TEXT NOT NULL, created_at INTEGER NOT NULL,"             \
	" expires_at INTEGER NOT NULL, used_at INTEGER NOT NULL DEFAULT 0,"                    \
	" revoked_at INTEGER NOT NULL DEFAULT 0, created_by TEXT NOT NULL DEFAULT '',"         \
	" used_by TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '');"


struct estd_cert_record;

/*
 * Inserts rec into certs inside the caller's transaction (the store lock
 * held); serial (len >= MAX_SERIAL_HEX + 1) receives the normalised serial.
 * ESTKIT_EEXIST for a serial already stored.
 */
enum estkit_status estd_sqlite_cert_insert_tx(struct estd_sqlite *st,
					      const struct estd_cert_record *rec, char *serial,
					      size_t len);

/* Records SQLite's message for db (prefixed with what) and maps its code to a status. */
enum estkit_status estd_sqlite_fail(sqlite3 *db, const char *what);

/* The request functions of the engine (sqlite_requests.c); see store.h. */
enum estkit_status estd_sqlite_request_submit(struct estd_store *base,
					      const struct estd_request_record *req,
					      struct estd_request_record **out, int *created);
enum estkit_status estd_sqlite_request_get(struct estd_store *base, long long id,
					   struct estd_request_record **out);
enum estkit_status estd_sqlite_request_foreach(struct estd_store *base, const char *status,
					       int (*cb)(void *arg,
							 const struct estd_request_record *r),
					       void *arg);
enum estkit_status estd_sqlite_request_decide(struct estd_store *base, long long id,
					      const char *status, const char *reason,
					      const char *decided_by);
enum estkit_status estd_sqlite_request_issue(struct estd_store *base, long long id,
					     const struct estd_cert_record *cert);

/* The token functions of the engine (sqlite_tokens.c); see store.h. */
enum estkit_status estd_sqlite_token_insert(struct estd_store *base, const struct estd_token_record *t);
enum estkit_status estd_sqlite_token_get(struct estd_store *base, const char *id, struct estd_token_record **out);
enum estkit_status estd_sqlite_token_foreach(struct estd_store *base, int (*cb)(void *arg, const struct estd_token_record *t), void *arg);
enum estkit_status estd_sqlite_token_claim(struct estd_store *base, const char *id, long long now, const char *used_by);
enum estkit_status estd_sqlite_token_release(struct estd_store *base, const char *id);
enum estkit_status estd_sqlite_token_set_serial(struct estd_store *base, const char *id, const char *serial);
enum estkit_status estd_sqlite_token_revoke(struct estd_store *base, const char *id, long long now);

#endif /* ESTD_STORE_SQLITE_INT_H */
