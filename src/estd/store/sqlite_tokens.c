/*
 * sqlite_tokens.c - one-time enrollment tokens in the SQLite store: table
 * `tokens` (migration 4, sqlite_int.h). A token is used by one UPDATE whose
 * WHERE clause holds every condition (unused, unrevoked, unexpired), so two
 * requests, threads or nodes sharing the database never both win.
 */
#include "store/sqlite_int.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#define TOK_COLUMNS                                                                            \
	"id, hash, label, subject, sans, created_at, expires_at, used_at, revoked_at, "         \
	"created_by, used_by, serial"

static char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return strdup(t != NULL ? (const char *)t : "");
}

static struct estd_token_record *row_to_token(sqlite3_stmt *s)
{
	struct estd_token_record *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->id = col_str(s, 0);
	t->hash = col_str(s, 1);
	t->label = col_str(s, 2);
	t->subject = col_str(s, 3);
	t->sans = col_str(s, 4);
	t->created_at = sqlite3_column_int64(s, 5);
	t->expires_at = sqlite3_column_int64(s, 6);
	t->used_at = sqlite3_column_int64(s, 7);
	t->revoked_at = sqlite3_column_int64(s, 8);
	t->created_by = col_str(s, 9);
	t->used_by = col_str(s, 10);
	t->serial = col_str(s, 11);
	if (!t->id || !t->hash || !t->label || !t->subject || !t->sans || !t->created_by ||
	    !t->used_by || !t->serial) {
		estd_token_record_free(t);
		return NULL;
	}
	return t;
}

static int bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_insert(struct estd_store *base,
					   const struct estd_token_record *t)
{
	struct estd_sqlite *st = NULL;
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	st = ESTD_SQ(base);
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO tokens (id, hash, label, subject, sans, created_at, "
			       "expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "prepare token insert");
		goto out;
	}
	r = bind_str(s, 1, t->id);
	r = r ? r : bind_str(s, 2, t->hash);
	r = r ? r : bind_str(s, 3, t->label);
	r = r ? r : bind_str(s, 4, t->subject);
	r = r ? r : bind_str(s, 5, t->sans);
	r = r ? r : sqlite3_bind_int64(s, 6, (sqlite3_int64)t->created_at);
	r = r ? r : sqlite3_bind_int64(s, 7, (sqlite3_int64)t->expires_at);
	r = r ? r : bind_str(s, 8, t->created_by);
	if (r != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "bind token");
	} else if (sqlite3_step(s) != SQLITE_DONE) {
		rc = (sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT
			     ? ESTKIT_EEXIST : estd_sqlite_fail(st->db, "insert token");
		if (rc == ESTKIT_EEXIST)
			estd_store_set_err("token id already exists");
	}
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_get(struct estd_store *base, const char *id,
					struct estd_token_record **out)
{
	struct estd_sqlite *st = NULL;
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	*out = NULL;
	st = ESTD_SQ(base);
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT " TOK_COLUMNS " FROM tokens WHERE id = ?", -1, &s,
			       NULL) != SQLITE_OK || bind_str(s, 1, id) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "select token");
		goto out;
	}
	r = sqlite3_step(s);
	if (r == SQLITE_ROW && (*out = row_to_token(s)) == NULL)
		rc = ESTKIT_ENOMEM;
	else if (r == SQLITE_DONE)
		rc = ESTKIT_ENOTFOUND, estd_store_set_err("no such token");
	else if (r != SQLITE_ROW)
		rc = estd_sqlite_fail(st->db, "select token");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_foreach(struct estd_store *base,
					    int (*cb)(void *arg,
						      const struct estd_token_record *t),
					    void *arg)
{
	struct estd_sqlite *st = NULL;
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r = SQLITE_DONE;

	st = ESTD_SQ(base);
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db,
			       "SELECT " TOK_COLUMNS " FROM tokens ORDER BY created_at, id", -1,
			       &s, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "select tokens");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct estd_token_record *t = row_to_token(s);
		int stop;

		if (t == NULL) {
			rc = ESTKIT_ENOMEM;
			goto out;
		}
		stop = cb(arg, t);
		estd_token_record_free(t);
		if (stop)
			goto out;
	}
	if (r != SQLITE_DONE)
		rc = estd_sqlite_fail(st->db, "select tokens");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/*
 * Runs one UPDATE on tokens binding (text1, int2, id): ESTKIT_OK when a row
 * changed; otherwise ESTKIT_ENOTFOUND or ESTKIT_EEXIST.
 */
static enum estkit_status update_one(struct estd_store *base, const char *sql, const char *text1,
				     long long int2, const char *id)
{
	struct estd_sqlite *st = NULL;
	sqlite3_stmt *s = NULL;
	struct estd_token_record *t = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	st = ESTD_SQ(base);
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "prepare token update");
		goto out;
	}
	r = bind_str(s, 1, text1);
	r = r ? r : sqlite3_bind_int64(s, 2, (sqlite3_int64)int2);
	r = r ? r : bind_str(s, 3, id);
	if (r != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE)
		rc = estd_sqlite_fail(st->db, "update token");
	else if (sqlite3_changes(st->db) == 0) {
		rc = estd_sqlite_token_get(base, id, &t);
		rc = rc == ESTKIT_OK ? ESTKIT_EEXIST : rc;
		if (rc == ESTKIT_EEXIST)
			estd_store_set_err("token already used, revoked or expired");
	}
out:
	estd_token_record_free(t);
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_claim(struct estd_store *base, const char *id,
					  long long now, const char *used_by)
{
	/* the whole rule in one statement: of concurrent claims exactly one changes the row */
	return update_one(base,
			  "UPDATE tokens SET used_by = ?, used_at = ?2 WHERE id = ? AND used_at = 0"
			  " AND revoked_at = 0 AND expires_at > ?2",
			  used_by, now, id);
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_release(struct estd_store *base, const char *id)
{
	return update_one(base,
			  "UPDATE tokens SET used_by = ?, used_at = ? WHERE id = ? AND used_at <> 0"
			  " AND serial = ''",
			  "", 0, id);
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_set_serial(struct estd_store *base, const char *id,
					       const char *serial)
{
	return update_one(base,
			  "UPDATE tokens SET serial = ? WHERE ?2 = ?2 AND id = ?3 AND used_at <> 0",
			  serial, 0, id);
}

/* The SQLite engine's; see store.h. */
enum estkit_status estd_sqlite_token_revoke(struct estd_store *base, const char *id, long long now)
{
	return update_one(base,
			  "UPDATE tokens SET revoked_at = ?2 WHERE ?1 = ?1 AND id = ?3 AND used_at = 0"
			  " AND revoked_at = 0",
			  "", now, id);
}
