/*
 * pg_tokens.c - one-time enrollment tokens in the PostgreSQL store: table
 * `tokens` (migration 6, pg.c), the same columns and meaning as the SQLite
 * engine's (sqlite_tokens.c). The store keeps only the hex SHA-256 of a
 * secret, exactly as the caller (token.c) computed it.
 *
 * A token is used by one "UPDATE ... WHERE used_at = 0 AND revoked_at = 0
 * AND expires_at > now": PostgreSQL locks the row for the update and
 * re-checks the WHERE clause on the newest version once a concurrent
 * updater commits, so of any number of connections or estd nodes claiming
 * the same token exactly one changes the row. Nothing is read first and
 * written after. A lookup that follows an update that changed nothing only
 * tells "no such token" from "not claimable" for the message.
 *
 * Like every call of this engine these block (network, WAL flush) and run
 * on the job pool or in an admin command, never on an event loop.
 */
#include "store/pg_int.h"
#include "store/store.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TOK_COLUMNS                                                                            \
	"id, hash, label, subject, sans, created_at, expires_at, used_at, revoked_at, "         \
	"created_by, used_by, serial"

#define TOK(m) offsetof(struct estd_token_record, m)

static const struct estd_pg_column token_columns[] = {
	{0, ESTD_PG_TEXT, TOK(id), 0},          {1, ESTD_PG_TEXT, TOK(hash), 0},
	{2, ESTD_PG_TEXT, TOK(label), 0},       {3, ESTD_PG_TEXT, TOK(subject), 0},
	{4, ESTD_PG_TEXT, TOK(sans), 0},        {5, ESTD_PG_INT, TOK(created_at), 0},
	{6, ESTD_PG_INT, TOK(expires_at), 0},   {7, ESTD_PG_INT, TOK(used_at), 0},
	{8, ESTD_PG_INT, TOK(revoked_at), 0},   {9, ESTD_PG_TEXT, TOK(created_by), 0},
	{10, ESTD_PG_TEXT, TOK(used_by), 0},    {11, ESTD_PG_TEXT, TOK(serial), 0},
};

static void token_free(void *rec)
{
	estd_token_record_free(rec);
}

static const struct estd_pg_rowtype token_rows = {
	token_columns, sizeof(token_columns) / sizeof(token_columns[0]),
	sizeof(struct estd_token_record), token_free,
};

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_insert(struct estd_store *base,
					const struct estd_token_record *t)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, t->id);
	estd_pg_text(&p, t->hash);
	estd_pg_text(&p, t->label);
	estd_pg_text(&p, t->subject);
	estd_pg_text(&p, t->sans);
	estd_pg_int(&p, t->created_at);
	estd_pg_int(&p, t->expires_at);
	estd_pg_text(&p, t->created_by);
	rc = estd_pg_exec_pooled(ESTD_PG(base),
				 "INSERT INTO tokens (id, hash, label, subject, sans, created_at, "
				 "expires_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				 &p, "insert token", &r);
	if (rc == ESTKIT_EEXIST)
		estd_store_set_err("token id already exists");
	PQclear(r);
	return rc;
}

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_get(struct estd_store *base, const char *id,
				     struct estd_token_record **out)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	void *t = NULL;
	enum estkit_status rc;

	*out = NULL;
	estd_pg_text(&p, id);
	rc = estd_pg_exec_pooled(ESTD_PG(base), "SELECT " TOK_COLUMNS " FROM tokens WHERE id = $1",
				 &p, "select token", &r);
	if (rc == ESTKIT_OK)
		rc = estd_pg_first_record(r, &token_rows, &t);
	if (rc == ESTKIT_ENOTFOUND)
		estd_store_set_err("no such token");
	*out = t;
	PQclear(r);
	return rc;
}

/* estd_pg_walk_page()'s visit for a store.h token callback */
struct token_walk {
	int (*cb)(void *arg, const struct estd_token_record *t);
	void *arg;
};

static int token_visit(void *arg, const void *rec)
{
	const struct token_walk *w = arg;

	return w->cb(w->arg, rec);
}

/*
 * The PostgreSQL engine's; see store.h. Oldest first, a page at a time
 * after the last (created_at, id) seen; the connection goes back to the
 * pool before the callbacks run, so a callback may call the store again.
 */
enum estkit_status estd_pg_token_foreach(struct estd_store *base,
					 int (*cb)(void *arg, const struct estd_token_record *t),
					 void *arg)
{
	static const struct estd_pg_walk walk = {
		&token_rows,
		"SELECT " TOK_COLUMNS " FROM tokens WHERE (created_at, id) > ($1, $2) "
		"ORDER BY created_at, id LIMIT $3",
		"select tokens", 2, {{5, ESTD_PG_INT}, {0, ESTD_PG_TEXT}},
	};
	struct token_walk w = {cb, arg};

	return estd_pg_walk(ESTD_PG(base), &walk, NULL, token_visit, &w);
}

/*
 * Runs one UPDATE of the token id whose whole condition is in its WHERE
 * clause: ESTKIT_OK when it changed the row; otherwise ESTKIT_ENOTFOUND
 * (no such token) or ESTKIT_EEXIST (not in the state the update needs).
 */
static enum estkit_status update_one(struct estd_store *base, const char *sql,
				     struct estd_pg_params *p, const char *id)
{
	struct estd_token_record *t = NULL;
	PGresult *r = NULL;
	enum estkit_status rc;

	rc = estd_pg_exec_pooled(ESTD_PG(base), sql, p, "update token", &r);
	if (rc == ESTKIT_OK && estd_pg_changes(r) == 0) {
		/* only for the answer: the UPDATE above already decided */
		rc = estd_pg_token_get(base, id, &t);
		if (rc == ESTKIT_OK) {
			estd_store_set_err("token already used, revoked or expired");
			rc = ESTKIT_EEXIST;
		}
	}
	estd_token_record_free(t);
	PQclear(r);
	return rc;
}

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_claim(struct estd_store *base, const char *id, long long now,
				       const char *used_by)
{
	struct estd_pg_params p = {0};

	estd_pg_text(&p, used_by);
	estd_pg_int(&p, now);
	estd_pg_text(&p, id);
	/* the whole rule in one statement: of concurrent claims exactly one changes the row */
	return update_one(base,
			  "UPDATE tokens SET used_by = $1, used_at = $2 WHERE id = $3"
			  " AND used_at = 0 AND revoked_at = 0 AND expires_at > $2",
			  &p, id);
}

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_release(struct estd_store *base, const char *id)
{
	struct estd_pg_params p = {0};

	estd_pg_text(&p, id);
	return update_one(base,
			  "UPDATE tokens SET used_by = '', used_at = 0 WHERE id = $1"
			  " AND used_at <> 0 AND serial = ''",
			  &p, id);
}

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_set_serial(struct estd_store *base, const char *id,
					    const char *serial)
{
	struct estd_pg_params p = {0};

	estd_pg_text(&p, serial);
	estd_pg_text(&p, id);
	return update_one(base, "UPDATE tokens SET serial = $1 WHERE id = $2 AND used_at <> 0", &p,
			  id);
}

/* The PostgreSQL engine's; see store.h. */
enum estkit_status estd_pg_token_revoke(struct estd_store *base, const char *id, long long now)
{
	struct estd_pg_params p = {0};

	estd_pg_int(&p, now);
	estd_pg_text(&p, id);
	return update_one(base,
			  "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND used_at = 0"
			  " AND revoked_at = 0",
			  &p, id);
}
