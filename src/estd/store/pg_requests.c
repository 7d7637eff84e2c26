/*
 * pg_requests.c - requests held for manual approval (RFC 7030 4.2.3) in
 * the PostgreSQL store: table `requests` (migration 2, pg.c).
 *
 * The status moves only forward (pending -> approved | rejected;
 * approved -> issued) through "UPDATE ... WHERE status = ...", which
 * PostgreSQL applies to one row at a time: of two nodes deciding or
 * collecting the same request exactly one changes it. Submissions of the
 * same CSR are serialised by a transaction-scoped advisory lock on
 * (label, csr_sha256), so two nodes submitting it at once get one row.
 */
#include "store/pg_int.h"
#include "store/store.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQ_COLUMNS                                                                            \
	"id, label, op, requester, subject, sans, csr, csr_sha256, status, reason, serial, "     \
	"created_at, decided_at, decided_by"


#define REQ(m) offsetof(struct estd_request_record, m)

static const struct estd_pg_column request_columns[] = {
	{0, ESTD_PG_INT, REQ(id), 0},            {1, ESTD_PG_TEXT, REQ(label), 0},
	{2, ESTD_PG_TEXT, REQ(op), 0},           {3, ESTD_PG_TEXT, REQ(requester), 0},
	{4, ESTD_PG_TEXT, REQ(subject), 0},      {5, ESTD_PG_TEXT, REQ(sans), 0},
	{6, ESTD_PG_BYTEA, REQ(csr_der), REQ(csr_len)},
	{7, ESTD_PG_TEXT, REQ(csr_sha256), 0},   {8, ESTD_PG_TEXT, REQ(status), 0},
	{9, ESTD_PG_TEXT, REQ(reason), 0},       {10, ESTD_PG_TEXT, REQ(serial), 0},
	{11, ESTD_PG_INT, REQ(created_at), 0},   {12, ESTD_PG_INT, REQ(decided_at), 0},
	{13, ESTD_PG_TEXT, REQ(decided_by), 0},
};

static void request_free(void *rec)
{
	estd_request_record_free(rec);
}

static const struct estd_pg_rowtype request_rows = {
	request_columns, sizeof(request_columns) / sizeof(request_columns[0]),
	sizeof(struct estd_request_record), request_free,
};

/* The one row of r as *out; ESTKIT_ENOTFOUND when r has none. */
static enum estkit_status one_row(const PGresult *r, struct estd_request_record **out)
{
	void *q = NULL;
	enum estkit_status rc = estd_pg_first_record(r, &request_rows, &q);

	if (rc == ESTKIT_ENOTFOUND)
		estd_store_set_err("no such request");
	*out = q;
	return rc;
}

/* The open request of (label, hash), else the newest issued one. */
static enum estkit_status find_by_hash(PGconn *c, const char *label, const char *hash,
				       struct estd_request_record **out)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, label);
	estd_pg_text(&p, hash);
	rc = estd_pg_exec(c, "SELECT " REQ_COLUMNS " FROM requests WHERE label = $1 AND "
			     "csr_sha256 = $2 ORDER BY status = 'issued', id DESC LIMIT 1",
			  &p, "select request", &r);
	if (rc == ESTKIT_OK)
		rc = one_row(r, out);
	PQclear(r);
	return rc;
}

/* INSERT of a new pending request; inside the caller's transaction. */
static enum estkit_status insert_pending(PGconn *c, const struct estd_request_record *req)
{
	struct estd_pg_params p = {0};

	estd_pg_text(&p, req->label);
	estd_pg_text(&p, req->op);
	estd_pg_text(&p, req->requester);
	estd_pg_text(&p, req->subject);
	estd_pg_text(&p, req->sans);
	estd_pg_bytea(&p, req->csr_der, req->csr_len);
	estd_pg_text(&p, req->csr_sha256);
	estd_pg_int(&p, (long long)time(NULL));
	return estd_pg_run(c, "INSERT INTO requests (label, op, requester, subject, sans, csr, "
			      "csr_sha256, status, created_at) VALUES "
			      "($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
			   &p, "insert request");
}

/* The submission's transaction on c: lock (label, hash), look up, insert if new. */
static enum estkit_status submit_tx(PGconn *c, const struct estd_request_record *req,
				    struct estd_request_record **out, int *created)
{
	struct estd_pg_params p = {0};
	enum estkit_status rc;

	estd_pg_text(&p, req->label);
	estd_pg_text(&p, req->csr_sha256);
	rc = estd_pg_run(c, "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7030))",
			 &p, "lock request");
	if (rc == ESTKIT_OK)
		rc = find_by_hash(c, req->label, req->csr_sha256, out);
	if (rc == ESTKIT_ENOTFOUND) {
		rc = insert_pending(c, req);
		if (rc == ESTKIT_OK)
			rc = find_by_hash(c, req->label, req->csr_sha256, out);
		if (rc == ESTKIT_OK && created != NULL)
			*created = 1;
	}
	return rc;
}

/* Insert-or-get by (label, csr_sha256); see store.h. */
enum estkit_status estd_pg_request_submit(struct estd_store *base,
					  const struct estd_request_record *req,
					  struct estd_request_record **out, int *created)
{
	struct estd_pg *st = ESTD_PG(base);
	PGconn *c = NULL;
	enum estkit_status rc;

	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_begin(c);
	if (rc == ESTKIT_OK) {
		rc = submit_tx(c, req, out, created);
		if (rc == ESTKIT_OK)
			rc = estd_pg_commit(c);
		if (rc != ESTKIT_OK)
			estd_pg_rollback(c);
	}
	if (rc != ESTKIT_OK) {
		estd_request_record_free(*out);
		*out = NULL;
		if (created != NULL)
			*created = 0;
	}
	estd_pg_release(st, c);
	return rc;
}

/* The request with id. */
enum estkit_status estd_pg_request_get(struct estd_store *base, long long id,
				       struct estd_request_record **out)
{
	struct estd_pg *st = ESTD_PG(base);
	struct estd_pg_params p = {0};
	PGconn *c = NULL;
	PGresult *r = NULL;
	enum estkit_status rc;

	*out = NULL;
	estd_pg_int(&p, id);
	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_exec(c, "SELECT " REQ_COLUMNS " FROM requests WHERE id = $1", &p,
				  "select request", &r);
	estd_pg_release(st, c);
	if (rc == ESTKIT_OK)
		rc = one_row(r, out);
	if (rc == ESTKIT_ENOTFOUND)
		estd_store_set_err("no request with id %lld", id);
	PQclear(r);
	return rc;
}

/* estd_pg_walk_page()'s visit for a store.h request callback */
struct request_walk {
	int (*cb)(void *arg, const struct estd_request_record *r);
	void *arg;
};

static int request_visit(void *arg, const void *rec)
{
	const struct request_walk *w = arg;

	return w->cb(w->arg, rec);
}

/* Walks the requests with status (NULL: all), oldest first, a page at a time. */
enum estkit_status estd_pg_request_foreach(struct estd_store *base, const char *status,
					   int (*cb)(void *arg,
						     const struct estd_request_record *r),
					   void *arg)
{
	static const struct estd_pg_walk walk = {
		&request_rows,
		"SELECT " REQ_COLUMNS " FROM requests WHERE ($1::text IS NULL OR status = $1) "
		"AND id > $2 ORDER BY id LIMIT $3",
		"select requests", 1, {{0, ESTD_PG_INT}},
	};
	struct request_walk w = {cb, arg};
	struct estd_pg_params filter = {0};

	if (status != NULL)
		estd_pg_text(&filter, status);
	else
		estd_pg_null(&filter);
	return estd_pg_walk(ESTD_PG(base), &walk, &filter, request_visit, &w);
}

/* Why an UPDATE of id changed nothing: no such id, or not in the expected state. */
static enum estkit_status explain_no_change(struct estd_store *base, long long id,
					    const char *want)
{
	struct estd_request_record *r = NULL;
	enum estkit_status rc = estd_pg_request_get(base, id, &r);

	if (rc == ESTKIT_OK) {
		estd_store_set_err("request %lld is %s, not %s", id, r->status, want);
		rc = ESTKIT_EEXIST;
	}
	estd_request_record_free(r);
	return rc;
}

/* pending -> approved | rejected, in one statement. */
enum estkit_status estd_pg_request_decide(struct estd_store *base, long long id,
					  const char *status, const char *reason,
					  const char *decided_by)
{
	struct estd_pg *st = ESTD_PG(base);
	struct estd_pg_params p = {0};
	PGconn *c = NULL;
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, status);
	estd_pg_text(&p, reason);
	estd_pg_text(&p, decided_by);
	estd_pg_int(&p, (long long)time(NULL));
	estd_pg_int(&p, id);
	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_exec(c, "UPDATE requests SET status = $1, reason = $2, "
				     "decided_by = $3, decided_at = $4 "
				     "WHERE id = $5 AND status = 'pending'",
				  &p, "decide request", &r);
	estd_pg_release(st, c);
	if (rc == ESTKIT_OK && estd_pg_changes(r) == 0)
		rc = explain_no_change(base, id, "pending");
	PQclear(r);
	return rc;
}

/* approved -> issued inside the caller's transaction, with the certificate's row. */
static enum estkit_status mark_issued(PGconn *c, long long id,
				      const struct estd_cert_record *cert)
{
	char serial[ESTD_STORE_MAX_SERIAL + 1];
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	enum estkit_status rc;

	rc = estd_pg_cert_insert_tx(c, cert, serial, sizeof(serial));
	if (rc != ESTKIT_OK)
		return rc;
	estd_pg_text(&p, serial);
	estd_pg_int(&p, id);
	rc = estd_pg_exec(c, "UPDATE requests SET status = 'issued', serial = $1 "
			     "WHERE id = $2 AND status = 'approved'",
			  &p, "mark request issued", &r);
	if (rc == ESTKIT_OK && estd_pg_changes(r) == 0) {
		estd_store_set_err("request %lld is not approved (collected already?)", id);
		rc = ESTKIT_EPOLICY;
	}
	PQclear(r);
	return rc;
}

/* Records the certificate of an approved request and marks it issued; see store.h. */
enum estkit_status estd_pg_request_issue(struct estd_store *base, long long id,
					 const struct estd_cert_record *cert)
{
	struct estd_pg *st = ESTD_PG(base);
	PGconn *c = NULL;
	enum estkit_status rc;

	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_begin(c);
	if (rc == ESTKIT_OK) {
		rc = mark_issued(c, id, cert);
		if (rc == ESTKIT_OK)
			rc = estd_pg_commit(c);
		if (rc != ESTKIT_OK)
			estd_pg_rollback(c);
	}
	estd_pg_release(st, c);
	return rc;
}
