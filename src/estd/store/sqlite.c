/*
 * sqlite.c - the store on SQLite 3.
 *
 * One connection per store, opened FULLMUTEX, and a store mutex around each
 * call so that a transaction of one thread never interleaves with another's
 * on the shared connection. WAL with synchronous=FULL: a commit is on disk
 * when sqlite3_step() of COMMIT returns, which is what store.h promises
 * (estd sends a certificate only after its insert returned). Certificate
 * inserts that arrive while a commit is syncing go together into the next
 * transaction (group commit, gcommit.h): one sync for all of them, and each
 * caller returns only after that commit.
 *
 * The schema is versioned with PRAGMA user_version. Each migration has a
 * number; opening applies, in ascending order and inside one transaction,
 * every known migration numbered above user_version, then sets user_version
 * to the highest known number. Migrations are idempotent (IF NOT EXISTS), so
 * a number missing from one build does not break the others.
 */
#include "store/sqlite_int.h"
#include "store/store.h"
#include "store/store_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const struct migration {
	int number;
	const char *sql;
} migrations[] = {
	/* 1: issued certificates */
	{1, "CREATE TABLE IF NOT EXISTS certs ("
	" serial TEXT PRIMARY KEY NOT NULL,"
	" subject TEXT NOT NULL, issuer TEXT NOT NULL, sans TEXT NOT NULL,"
	" not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, issued_at INTEGER NOT NULL,"
	" requester TEXT NOT NULL, label TEXT NOT NULL, op TEXT NOT NULL,"
	" csr BLOB, cert BLOB);"
	"CREATE INDEX IF NOT EXISTS certs_issued_at ON certs (issued_at);"},
	/* 2: requests held for manual approval (RFC 7030 4.2.3); see sqlite_requests.c */
	{2, ESTD_SQLITE_MIGRATION_REQUESTS},
	/* 3: revocations (CMC revokeRequest, estd certs revoke) and the CRL number */
	{3, "CREATE TABLE IF NOT EXISTS revocations ("
	    " serial TEXT PRIMARY KEY NOT NULL, reason INTEGER NOT NULL,"
	    " revoked_at INTEGER NOT NULL, revoked_by TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS crl_number ("
	    " id INTEGER PRIMARY KEY CHECK (id = 1), number INTEGER NOT NULL);"},
	/* 4: one-time enrollment tokens; see sqlite_tokens.c */
	{4, ESTD_SQLITE_MIGRATION_TOKENS},
};

#define COLUMNS                                                                                \
	"serial, subject, issuer, sans, not_before, not_after, issued_at, requester, label, op, " \
	"csr, cert"

#define set_err estd_store_set_err

static const struct estd_store_ops sqlite_ops;

/* Maps a SQLite failure to a status, with the message kept for the caller. */
static enum estkit_status db_fail(sqlite3 *db, const char *what)
{
	int code = sqlite3_extended_errcode(db);

	set_err("%s: %s", what, sqlite3_errmsg(db));
	if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
		return ESTKIT_EBUSY;
	if ((code & 0xff) == SQLITE_NOMEM)
		return ESTKIT_ENOMEM;
	return ESTKIT_EIO;
}

#define normalize_serial estd_store_normalize_serial

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Brings the schema to the newest version, in one transaction. */
static enum estkit_status migrate(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const size_t n = sizeof(migrations) / sizeof(migrations[0]);
	const int newest = migrations[n - 1].number;
	int version = 0;
	size_t i;
	char sql[64];

	/* IMMEDIATE: two processes opening a new file must not both migrate */
	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return db_fail(db, "begin migration");
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > newest || version < 0) {
		exec(db, "ROLLBACK");
		set_err("schema version %d is newer than this estd knows (%d)", version, newest);
		return ESTKIT_EINVAL;
	}
	for (i = 0; i < n; i++)
		if (migrations[i].number > version && exec(db, migrations[i].sql) != SQLITE_OK)
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newest);
	if (exec(db, sql) != SQLITE_OK || exec(db, "COMMIT") != SQLITE_OK)
		goto fail;
	return ESTKIT_OK;
fail:
	{
		enum estkit_status rc = db_fail(db, "schema migration");

		sqlite3_finalize(st);
		exec(db, "ROLLBACK");
		return rc;
	}
}

/* WAL + synchronous=FULL (durable commits), busy timeout, foreign keys. */
static enum estkit_status configure(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ok;

	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	/* the first statement that reads the file: a corrupt one fails here */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(db, "journal_mode");
	}
	ok = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!ok) {
		set_err("the database cannot use WAL mode");
		return ESTKIT_EIO;
	}
	if (exec(db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
	    exec(db, "PRAGMA foreign_keys = ON") != SQLITE_OK)
		return db_fail(db, "pragma");
	return migrate(db);
}

/* Creates the file with mode 0600 first, so SQLite never makes it world-readable. */
static enum estkit_status create_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		set_err("%s: %s", path, strerror(errno));
		return ESTKIT_EIO;
	}
	close(fd);
	return ESTKIT_OK;
}

static enum estkit_status prepare(struct estd_sqlite *st)
{
	if (sqlite3_prepare_v2(st->db, "INSERT INTO certs (" COLUMNS ") VALUES "
				       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &st->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "SELECT " COLUMNS " FROM certs WHERE serial = ?", -1,
			       &st->get, NULL) != SQLITE_OK)
		return db_fail(st->db, "prepare");
	return ESTKIT_OK;
}

static struct estd_sqlite *store_new(void)
{
	struct estd_sqlite *st = calloc(1, sizeof(*st));
	pthread_mutexattr_t attr;

	if (st == NULL)
		return NULL;
	st->base.ops = &sqlite_ops;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (pthread_mutex_init(&st->lock, &attr) != 0) {
		free(st);
		st = NULL;
	} else if (estd_gcommit_init(&st->gc) != 0) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		st = NULL;
	}
	pthread_mutexattr_destroy(&attr);
	return st;
}

static void sq_close(struct estd_store *base);

/* Opens or creates the database file at path (store_int.h). */
enum estkit_status estd_sqlite_open(const char *path, struct estd_store **out)
{
	struct estd_sqlite *st = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	st = store_new();
	if (st == NULL)
		goto out;
	rc = create_file(path);
	if (rc != ESTKIT_OK)
		goto out;
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		rc = st->db != NULL ? db_fail(st->db, "open") : ESTKIT_ENOMEM;
		goto out;
	}
	rc = configure(st->db);
	if (rc == ESTKIT_OK)
		rc = prepare(st);
out:
	if (rc != ESTKIT_OK) {
		sq_close(st != NULL ? &st->base : NULL);
		return rc;
	}
	*out = &st->base;
	return ESTKIT_OK;
}

/* Closes the database; NULL is a no-op. */
static void sq_close(struct estd_store *base)
{
	struct estd_sqlite *st = ESTD_SQ(base);

	if (st == NULL)
		return;
	sqlite3_finalize(st->ins);
	sqlite3_finalize(st->get);
	sqlite3_close(st->db);
	estd_gcommit_destroy(&st->gc);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

static int bind_blob(sqlite3_stmt *s, int i, const unsigned char *v, size_t len)
{
	if (v == NULL || len == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_blob64(s, i, v, (sqlite3_uint64)len, SQLITE_STATIC);
}

/* Binds rec (with its normalised serial) to the insert statement. */
static int bind_record(sqlite3_stmt *s, const char *serial, const struct estd_cert_record *rec)
{
	int r = bind_text(s, 1, serial);

	r = r ? r : bind_text(s, 2, rec->subject);
	r = r ? r : bind_text(s, 3, rec->issuer);
	r = r ? r : bind_text(s, 4, rec->sans);
	r = r ? r : sqlite3_bind_int64(s, 5, rec->not_before);
	r = r ? r : sqlite3_bind_int64(s, 6, rec->not_after);
	r = r ? r : sqlite3_bind_int64(s, 7, rec->issued_at);
	r = r ? r : bind_text(s, 8, rec->requester);
	r = r ? r : bind_text(s, 9, rec->label);
	r = r ? r : bind_text(s, 10, rec->op);
	r = r ? r : bind_blob(s, 11, rec->csr_der, rec->csr_len);
	r = r ? r : bind_blob(s, 12, rec->cert_der, rec->cert_len);
	return r;
}

/* The insert of estd_store_cert_insert() inside the caller's transaction (sqlite_int.h). */
enum estkit_status estd_sqlite_cert_insert_tx(struct estd_sqlite *st,
					      const struct estd_cert_record *rec, char *serial,
					      size_t len)
{
	enum estkit_status rc = ESTKIT_OK;

	if (normalize_serial(rec->serial, serial, len) != 0) {
		set_err("invalid record or serial");
		return ESTKIT_EINVAL;
	}
	if (bind_record(st->ins, serial, rec) != SQLITE_OK) {
		rc = db_fail(st->db, "bind");
	} else if (sqlite3_step(st->ins) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
			set_err("serial %s is already in the store", serial);
			rc = ESTKIT_EEXIST;
		} else {
			rc = db_fail(st->db, "insert");
		}
	}
	sqlite3_reset(st->ins);
	sqlite3_clear_bindings(st->ins);
	return rc;
}

/* Fails the items of batch not refused on their own (EEXIST, EINVAL) with rc and msg. */
static void fail_batch(struct estd_gcommit_item *batch, enum estkit_status rc, const char *msg)
{
	struct estd_gcommit_item *it;

	for (it = batch; it != NULL; it = it->next)
		if (it->rc != ESTKIT_EEXIST && it->rc != ESTKIT_EINVAL) {
			it->rc = rc;
			snprintf(it->msg, sizeof(it->msg), "%s", msg);
		}
}

/*
 * The group commit's batch function: every record of batch in one
 * transaction. A record refused on its own (a known serial, a bad one) gets
 * its own answer, the others the commit's; any other failure rolls the
 * whole transaction back and fails every record that was not refused.
 */
static void insert_batch(void *ctx, struct estd_gcommit_item *batch)
{
	struct estd_sqlite *st = ctx;
	struct estd_gcommit_item *it;
	char serial[MAX_SERIAL_HEX + 1];
	enum estkit_status rc;

	pthread_mutex_lock(&st->lock);
	estd_store_clear_err();
	if (exec(st->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
		rc = db_fail(st->db, "begin");
		fail_batch(batch, rc, estd_store_errmsg(&st->base));
		goto out;
	}
	for (it = batch; it != NULL; it = it->next) {
		it->rc = estd_sqlite_cert_insert_tx(st, it->arg, serial, sizeof(serial));
		if (it->rc == ESTKIT_EEXIST || it->rc == ESTKIT_EINVAL) {
			snprintf(it->msg, sizeof(it->msg), "%s", estd_store_errmsg(&st->base));
			estd_store_clear_err();
		} else if (it->rc != ESTKIT_OK) {
			fail_batch(batch, it->rc, estd_store_errmsg(&st->base));
			exec(st->db, "ROLLBACK");
			goto out;
		}
	}
	if (exec(st->db, "COMMIT") != SQLITE_OK) {
		rc = db_fail(st->db, "commit");
		fail_batch(batch, rc, estd_store_errmsg(&st->base));
		exec(st->db, "ROLLBACK");
	}
out:
	pthread_mutex_unlock(&st->lock);
}

/* Inserts and commits rec, with concurrent inserts (gcommit.h); a known serial is ESTKIT_EEXIST. */
static enum estkit_status sq_cert_insert(struct estd_store *base,
					  const struct estd_cert_record *rec)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	struct estd_gcommit_item item;
	enum estkit_status rc;

	estd_store_clear_err();
	memset(&item, 0, sizeof(item));
	item.arg = rec;
	rc = estd_gcommit_submit(&st->gc, &item, insert_batch, st);
	/* the message was made on the thread that led the batch */
	if (rc != ESTKIT_OK)
		set_err("%s", item.msg[0] != '\0' ? item.msg : "the certificate was not stored");
	return rc;
}

static char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return strdup(t != NULL ? (const char *)t : "");
}

/* Copies a blob column; 0 on success (an empty or NULL blob gives NULL, 0). */
static int col_blob(sqlite3_stmt *s, int i, unsigned char **out, size_t *len)
{
	const void *b = sqlite3_column_blob(s, i);
	int n = sqlite3_column_bytes(s, i);

	*out = NULL;
	*len = 0;
	if (b == NULL || n <= 0)
		return 0;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return -1;
	memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return 0;
}

/* A record from the current row (column order of COLUMNS); NULL when out of memory. */
static struct estd_cert_record *row_to_record(sqlite3_stmt *s)
{
	struct estd_cert_record *rec = calloc(1, sizeof(*rec));

	if (rec == NULL)
		return NULL;
	rec->serial = col_text(s, 0);
	rec->subject = col_text(s, 1);
	rec->issuer = col_text(s, 2);
	rec->sans = col_text(s, 3);
	rec->not_before = sqlite3_column_int64(s, 4);
	rec->not_after = sqlite3_column_int64(s, 5);
	rec->issued_at = sqlite3_column_int64(s, 6);
	rec->requester = col_text(s, 7);
	rec->label = col_text(s, 8);
	rec->op = col_text(s, 9);
	if (col_blob(s, 10, &rec->csr_der, &rec->csr_len) != 0 ||
	    col_blob(s, 11, &rec->cert_der, &rec->cert_len) != 0 || !rec->serial ||
	    !rec->subject || !rec->issuer || !rec->sans || !rec->requester || !rec->label ||
	    !rec->op) {
		estd_cert_record_free(rec);
		return NULL;
	}
	return rec;
}

/* The record with serial (normalised by store.c). */
static enum estkit_status sq_cert_get(struct estd_store *base, const char *serial,
				       struct estd_cert_record **out)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	enum estkit_status rc = ESTKIT_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	r = sqlite3_bind_text(st->get, 1, serial, -1, SQLITE_STATIC);
	if (r == SQLITE_OK)
		r = sqlite3_step(st->get);
	if (r == SQLITE_ROW) {
		*out = row_to_record(st->get);
		if (*out == NULL) {
			set_err("out of memory");
			rc = ESTKIT_ENOMEM;
		}
	} else if (r == SQLITE_DONE) {
		set_err("no certificate with serial %s", serial);
		rc = ESTKIT_ENOTFOUND;
	} else {
		rc = db_fail(st->db, "select");
	}
	sqlite3_reset(st->get);
	sqlite3_clear_bindings(st->get);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Walks all records, oldest first; cb returning non-zero stops the walk. */
static enum estkit_status sq_cert_foreach(struct estd_store *base,
					   int (*cb)(void *arg, const struct estd_cert_record *rec),
					   void *arg)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	sqlite3_stmt *s = NULL;
	struct estd_cert_record *rec = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r = SQLITE_DONE, stop = 0;

	pthread_mutex_lock(&st->lock);
	/* a statement per walk: a callback may start another walk */
	if (sqlite3_prepare_v2(st->db,
			       "SELECT " COLUMNS " FROM certs ORDER BY issued_at, rowid", -1, &s,
			       NULL) != SQLITE_OK) {
		rc = db_fail(st->db, "prepare");
		goto out;
	}
	while (!stop && (r = sqlite3_step(s)) == SQLITE_ROW) {
		rec = row_to_record(s);
		if (rec == NULL) {
			set_err("out of memory");
			rc = ESTKIT_ENOMEM;
			goto out;
		}
		stop = cb(arg, rec);
		estd_cert_record_free(rec);
	}
	if (!stop && r != SQLITE_DONE)
		rc = db_fail(st->db, "select");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* For the other files of the SQLite engine: see sqlite_int.h. */
enum estkit_status estd_sqlite_fail(sqlite3 *db, const char *what)
{
	return db_fail(db, what);
}

/* ---- revocations (migration 3) --------------------------------------------------- */

/* Runs one statement with text/int bindings under the lock; SQLITE_DONE/ROW code. */
static int run1(struct estd_sqlite *st, const char *sql, const char *serial, long long a,
		long long b, const char *by, long long *col0, long long *col1)
{
	sqlite3_stmt *s = NULL;
	int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (r == SQLITE_OK && serial != NULL)
		r = sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC);
	if (r == SQLITE_OK && sqlite3_bind_parameter_count(s) >= 2)
		r = sqlite3_bind_int64(s, 2, a);
	if (r == SQLITE_OK && sqlite3_bind_parameter_count(s) >= 3)
		r = sqlite3_bind_int64(s, 3, b);
	if (r == SQLITE_OK && sqlite3_bind_parameter_count(s) >= 4)
		r = bind_text(s, 4, by);
	if (r == SQLITE_OK)
		r = sqlite3_step(s);
	if (r == SQLITE_ROW && col0 != NULL)
		*col0 = sqlite3_column_int64(s, 0);
	if (r == SQLITE_ROW && col1 != NULL)
		*col1 = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	return r;
}

/* See store.h. */
static enum estkit_status sq_revoke(struct estd_store *base, const char *serial, int reason,
				     long long at, const char *by)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	enum estkit_status rc = ESTKIT_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	r = run1(st, "SELECT 1, 0 FROM certs WHERE serial = ?1", serial, 0, 0, NULL, NULL, NULL);
	if (r == SQLITE_DONE) {
		set_err("no certificate with serial %s", serial);
		rc = ESTKIT_ENOTFOUND;
	} else if (r != SQLITE_ROW) {
		rc = db_fail(st->db, "select");
	} else {
		r = run1(st, "INSERT INTO revocations (serial, reason, revoked_at, revoked_by) "
			     "VALUES (?1, ?2, ?3, ?4)", serial, reason, at, by, NULL, NULL);
		if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT) {
			set_err("certificate %s is already revoked", serial);
			rc = ESTKIT_EEXIST;
		} else if (r != SQLITE_DONE) {
			rc = db_fail(st->db, "insert revocation");
		}
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* See store.h. */
static enum estkit_status sq_revocation_get(struct estd_store *base, const char *serial,
					     int *reason, long long *at)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	long long rs = 0, ts = 0;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	r = run1(st, "SELECT reason, revoked_at FROM revocations WHERE serial = ?1", serial, 0, 0,
		 NULL, &rs, &ts);
	if (r == SQLITE_DONE)
		rc = ESTKIT_ENOTFOUND;
	else if (r != SQLITE_ROW)
		rc = db_fail(st->db, "select");
	pthread_mutex_unlock(&st->lock);
	if (reason != NULL)
		*reason = (int)rs;
	if (at != NULL)
		*at = ts;
	return rc;
}

/* See store.h. */
static enum estkit_status sq_revocation_foreach(struct estd_store *base,
						 int (*cb)(void *arg, const char *serial,
							   int reason, long long at),
						 void *arg)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	r = sqlite3_prepare_v2(st->db, "SELECT serial, reason, revoked_at FROM revocations "
				       "ORDER BY revoked_at, serial", -1, &s, NULL);
	while (r == SQLITE_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cb(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
		       sqlite3_column_int64(s, 2)) != 0) {
			r = SQLITE_DONE;
			break;
		}
		r = SQLITE_OK;
	}
	if (r != SQLITE_DONE)
		rc = db_fail(st->db, "select revocations");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* See store.h. */
static enum estkit_status sq_crl_next_number(struct estd_store *base, long long *out)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	long long n = 0;
	enum estkit_status rc = ESTKIT_OK;

	pthread_mutex_lock(&st->lock);
	if (exec(st->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
		rc = db_fail(st->db, "begin");
		goto out;
	}
	if (run1(st, "INSERT INTO crl_number (id, number) VALUES (1, 1) "
		     "ON CONFLICT (id) DO UPDATE SET number = number + 1", NULL, 0, 0, NULL, NULL,
		 NULL) != SQLITE_DONE ||
	    run1(st, "SELECT number, 0 FROM crl_number WHERE id = 1", NULL, 0, 0, NULL, &n,
		 NULL) != SQLITE_ROW || exec(st->db, "COMMIT") != SQLITE_OK) {
		rc = db_fail(st->db, "crl number");
		exec(st->db, "ROLLBACK");
		goto out;
	}
	*out = n;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static const struct estd_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.cert_insert = sq_cert_insert,
	.cert_get = sq_cert_get,
	.cert_foreach = sq_cert_foreach,
	.revoke = sq_revoke,
	.revocation_get = sq_revocation_get,
	.revocation_foreach = sq_revocation_foreach,
	.crl_next_number = sq_crl_next_number,
	.request_submit = estd_sqlite_request_submit,
	.request_get = estd_sqlite_request_get,
	.request_foreach = estd_sqlite_request_foreach,
	.request_decide = estd_sqlite_request_decide,
	.request_issue = estd_sqlite_request_issue,
	.token_insert = estd_sqlite_token_insert,
	.token_get = estd_sqlite_token_get,
	.token_foreach = estd_sqlite_token_foreach,
	.token_claim = estd_sqlite_token_claim,
	.token_release = estd_sqlite_token_release,
	.token_set_serial = estd_sqlite_token_set_serial,
	.token_revoke = estd_sqlite_token_revoke,
};
