/*
 * sqlite_requests.c - requests held for manual approval (RFC 7030 4.2.3) in
 * the SQLite store: table `requests` (migration 2, sqlite_int.h).
 *
 * Every state change is one statement or one IMMEDIATE transaction under the
 * store lock, and the status moves only forward (pending -> approved or
 * rejected; approved -> issued) through "UPDATE ... WHERE status = ...", so
 * two operators, threads or nodes sharing the database never both win.
 */
#include "store/sqlite_int.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQ_COLUMNS                                                                            \
	"id, label, op, requester, subject, sans, csr, csr_sha256, status, reason, serial, "     \
	"created_at, decided_at, decided_by"

static int step_done(sqlite3_stmt *s)
{
	return sqlite3_step(s) == SQLITE_DONE;
}

static char *col_str(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return strdup(t != NULL ? (const char *)t : "");
}

/* The request of the current row (REQ_COLUMNS order); NULL when out of memory. */
static struct estd_request_record *row_to_request(sqlite3_stmt *s)
{
	struct estd_request_record *r = calloc(1, sizeof(*r));
	const void *blob;
	int n;

	if (r == NULL)
		return NULL;
	r->id = sqlite3_column_int64(s, 0);
	r->label = col_str(s, 1);
	r->op = col_str(s, 2);
	r->requester = col_str(s, 3);
	r->subject = col_str(s, 4);
	r->sans = col_str(s, 5);
	blob = sqlite3_column_blob(s, 6);
	n = sqlite3_column_bytes(s, 6);
	if (blob != NULL && n > 0 && (r->csr_der = malloc((size_t)n)) != NULL) {
		memcpy(r->csr_der, blob, (size_t)n);
		r->csr_len = (size_t)n;
	}
	r->csr_sha256 = col_str(s, 7);
	r->status = col_str(s, 8);
	r->reason = col_str(s, 9);
	r->serial = col_str(s, 10);
	r->created_at = sqlite3_column_int64(s, 11);
	r->decided_at = sqlite3_column_int64(s, 12);
	r->decided_by = col_str(s, 13);
	if (!r->label || !r->op || !r->requester || !r->subject || !r->sans || !r->csr_sha256 ||
	    !r->status || !r->reason || !r->serial || !r->decided_by ||
	    (n > 0 && r->csr_der == NULL)) {
		estd_request_record_free(r);
		return NULL;
	}
	return r;
}

/*
 * Runs the prepared one-row query s: *out is its row, ESTKIT_ENOTFOUND when
 * there is none. s is finalized.
 */
static enum estkit_status query_one(struct estd_sqlite *st, sqlite3_stmt *s,
				    struct estd_request_record **out)
{
	enum estkit_status rc = ESTKIT_OK;
	int r = sqlite3_step(s);

	if (r == SQLITE_ROW) {
		*out = row_to_request(s);
		if (*out == NULL) {
			estd_store_set_err("out of memory");
			rc = ESTKIT_ENOMEM;
		}
	} else if (r == SQLITE_DONE) {
		estd_store_set_err("no such request");
		rc = ESTKIT_ENOTFOUND;
	} else {
		rc = estd_sqlite_fail(st->db, "select request");
	}
	sqlite3_finalize(s);
	return rc;
}

/* The open request of (label, hash), else the newest issued one. */
static enum estkit_status find_by_hash(struct estd_sqlite *st, const char *label,
				       const char *hash, struct estd_request_record **out)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT " REQ_COLUMNS " FROM requests WHERE label = ? AND "
			       "csr_sha256 = ? ORDER BY status = 'issued', id DESC LIMIT 1",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, label, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_finalize(s);
		return estd_sqlite_fail(st->db, "select request");
	}
	return query_one(st, s, out);
}

static int bind_str(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

/* INSERT of a new pending request; inside the caller's transaction. */
static enum estkit_status insert_pending(struct estd_sqlite *st,
					 const struct estd_request_record *req)
{
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO requests (label, op, requester, subject, sans, csr, "
			       "csr_sha256, status, created_at) VALUES "
			       "(?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
			       -1, &s, NULL) != SQLITE_OK)
		return estd_sqlite_fail(st->db, "prepare request insert");
	r = bind_str(s, 1, req->label);
	r = r ? r : bind_str(s, 2, req->op);
	r = r ? r : bind_str(s, 3, req->requester);
	r = r ? r : bind_str(s, 4, req->subject);
	r = r ? r : bind_str(s, 5, req->sans);
	r = r ? r : sqlite3_bind_blob64(s, 6, req->csr_der, (sqlite3_uint64)req->csr_len,
					SQLITE_STATIC);
	r = r ? r : bind_str(s, 7, req->csr_sha256);
	r = r ? r : sqlite3_bind_int64(s, 8, (sqlite3_int64)time(NULL));
	if (r != SQLITE_OK || !step_done(s))
		rc = estd_sqlite_fail(st->db, "insert request");
	sqlite3_finalize(s);
	return rc;
}

/* Insert-or-get by (label, csr_sha256); see store.h. */
enum estkit_status estd_sqlite_request_submit(struct estd_store *base,
					     const struct estd_request_record *req,
					     struct estd_request_record **out, int *created)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	enum estkit_status rc;

	pthread_mutex_lock(&st->lock);
	/* IMMEDIATE: the look-up and the insert see one state, also across processes */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "begin");
		goto out;
	}
	rc = find_by_hash(st, req->label, req->csr_sha256, out);
	if (rc == ESTKIT_ENOTFOUND) {
		rc = insert_pending(st, req);
		if (rc == ESTKIT_OK)
			rc = find_by_hash(st, req->label, req->csr_sha256, out);
		if (rc == ESTKIT_OK && created != NULL)
			*created = 1;
	}
	if (rc == ESTKIT_OK && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = estd_sqlite_fail(st->db, "commit");
	if (rc != ESTKIT_OK) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		estd_request_record_free(*out);
		*out = NULL;
	}
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* The request with id. */
enum estkit_status estd_sqlite_request_get(struct estd_store *base, long long id,
					  struct estd_request_record **out)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	sqlite3_stmt *s = NULL;
	enum estkit_status rc;

	*out = NULL;
	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db, "SELECT " REQ_COLUMNS " FROM requests WHERE id = ?", -1,
			       &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, (sqlite3_int64)id) != SQLITE_OK) {
		sqlite3_finalize(s);
		rc = estd_sqlite_fail(st->db, "select request");
	} else {
		rc = query_one(st, s, out);
		if (rc == ESTKIT_ENOTFOUND)
			estd_store_set_err("no request with id %lld", id);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Walks the requests with status (NULL: all), oldest first. */
enum estkit_status estd_sqlite_request_foreach(struct estd_store *base, const char *status,
					      int (*cb)(void *arg,
							const struct estd_request_record *r),
					      void *arg)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	sqlite3_stmt *s = NULL;
	struct estd_request_record *r = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int step = SQLITE_DONE, stop = 0;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db,
			       "SELECT " REQ_COLUMNS " FROM requests WHERE ?1 IS NULL OR "
			       "status = ?1 ORDER BY id",
			       -1, &s, NULL) != SQLITE_OK ||
	    (status != NULL ? sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC)
			    : sqlite3_bind_null(s, 1)) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "select requests");
		goto out;
	}
	while (!stop && (step = sqlite3_step(s)) == SQLITE_ROW) {
		r = row_to_request(s);
		if (r == NULL) {
			estd_store_set_err("out of memory");
			rc = ESTKIT_ENOMEM;
			goto out;
		}
		stop = cb(arg, r);
		estd_request_record_free(r);
	}
	if (!stop && step != SQLITE_DONE)
		rc = estd_sqlite_fail(st->db, "select requests");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Why an UPDATE of id changed nothing: no such id, or not in the expected state. */
static enum estkit_status explain_no_change(struct estd_sqlite *st, long long id)
{
	struct estd_request_record *r = NULL;
	enum estkit_status rc = estd_sqlite_request_get(&st->base, id, &r);

	if (rc == ESTKIT_OK) {
		estd_store_set_err("request %lld is %s, not pending", id, r->status);
		rc = ESTKIT_EEXIST;
	}
	estd_request_record_free(r);
	return rc;
}

/* pending -> approved | rejected, atomically. */
enum estkit_status estd_sqlite_request_decide(struct estd_store *base, long long id,
					     const char *status, const char *reason,
					     const char *decided_by)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	sqlite3_stmt *s = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int r;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_prepare_v2(st->db,
			       "UPDATE requests SET status = ?, reason = ?, decided_by = ?, "
			       "decided_at = ? WHERE id = ? AND status = 'pending'",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "prepare decision");
		goto out;
	}
	r = bind_str(s, 1, status);
	r = r ? r : bind_str(s, 2, reason);
	r = r ? r : bind_str(s, 3, decided_by);
	r = r ? r : sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	r = r ? r : sqlite3_bind_int64(s, 5, (sqlite3_int64)id);
	if (r != SQLITE_OK || !step_done(s))
		rc = estd_sqlite_fail(st->db, "decide request");
	else if (sqlite3_changes(st->db) == 0)
		rc = explain_no_change(st, id);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* approved -> issued: the certs insert and the status change commit together. */
static enum estkit_status mark_issued(struct estd_sqlite *st, long long id,
				      const struct estd_cert_record *cert)
{
	char serial[MAX_SERIAL_HEX + 1];
	sqlite3_stmt *s = NULL;
	enum estkit_status rc;

	rc = estd_sqlite_cert_insert_tx(st, cert, serial, sizeof(serial));
	if (rc != ESTKIT_OK)
		return rc;
	if (sqlite3_prepare_v2(st->db,
			       "UPDATE requests SET status = 'issued', serial = ? "
			       "WHERE id = ? AND status = 'approved'",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, (sqlite3_int64)id) != SQLITE_OK || !step_done(s)) {
		rc = estd_sqlite_fail(st->db, "mark request issued");
	} else if (sqlite3_changes(st->db) == 0) {
		estd_store_set_err("request %lld is not approved (collected already?)", id);
		rc = ESTKIT_EPOLICY;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Records the certificate of an approved request and marks it issued; see store.h. */
enum estkit_status estd_sqlite_request_issue(struct estd_store *base, long long id,
					    const struct estd_cert_record *cert)
{
	struct estd_sqlite *st = ESTD_SQ(base);
	enum estkit_status rc;

	pthread_mutex_lock(&st->lock);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = estd_sqlite_fail(st->db, "begin");
		goto out;
	}
	rc = mark_issued(st, id, cert);
	if (rc == ESTKIT_OK && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = estd_sqlite_fail(st->db, "commit");
	if (rc != ESTKIT_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}
