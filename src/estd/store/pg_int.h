/*
 * pg_int.h - shared by the files of the PostgreSQL store engine (pg.c,
 * pg_exec.c, pg_certs.c, pg_requests.c, pg_tokens.c); nothing outside
 * src/estd/store includes it.
 *
 * Connections: a mutex-protected pool that grows on demand up to `max`
 * (estd_store_set_connections(), [store] connections); a call that finds
 * none free waits up to [store] pool_wait seconds (estd_store_set_pool_wait())
 * for one, then fails with ESTKIT_EBUSY. A call takes one
 * connection for its whole transaction and gives it back; a connection the
 * server dropped (restart, failover) is reset when next taken, and a call
 * that finds PostgreSQL unreachable fails with ESTKIT_EBUSY (HTTP 503) and
 * a message that says so. Every call blocks and runs on the job pool.
 */
#ifndef ESTD_STORE_PG_INT_H
#define ESTD_STORE_PG_INT_H

#include <pthread.h>
#include <stddef.h>
#include <libpq-fe.h>
#include <estkit/error.h>
#include "store/store_int.h"

struct estd_pg {
	struct estd_store base; /* first: the ops table */
	char *conninfo;
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* a connection was given back */
	PGconn **idle;        /* [mu] connections not in use */
	int nidle;            /* [mu] */
	int open;             /* [mu] connections in existence (idle or taken) */
	int max;              /* [mu] limit of open */
	int wait_s;           /* [mu] longest wait for a connection: then ESTKIT_EBUSY */
};

#define ESTD_PG(base) ((struct estd_pg *)(void *)(base))

#define ESTD_PG_MAX_PARAMS 16

/* Parameters of one PQexecParams() call: text, 64-bit integers (as text) or binary bytea. */
struct estd_pg_params {
	int n;
	const char *v[ESTD_PG_MAX_PARAMS];
	int len[ESTD_PG_MAX_PARAMS];
	int fmt[ESTD_PG_MAX_PARAMS];
	char num[ESTD_PG_MAX_PARAMS][24];
};

/* Appends a text parameter; NULL is sent as "" (the columns are NOT NULL). */
void estd_pg_text(struct estd_pg_params *p, const char *s);

/* Appends a bigint parameter. */
void estd_pg_int(struct estd_pg_params *p, long long v);

/* Appends a bytea parameter in binary format; NULL or empty is SQL NULL. */
void estd_pg_bytea(struct estd_pg_params *p, const unsigned char *b, size_t len);

/* Appends SQL NULL. */
void estd_pg_null(struct estd_pg_params *p);

/*
 * Runs sql with p (may be NULL) on c, results in binary format. Returns
 * ESTKIT_OK with *res (caller PQclear()s) when the statement succeeded;
 * otherwise maps the failure: unique violation ESTKIT_EEXIST, connection
 * lost, server shutting down, serialization failure or deadlock
 * ESTKIT_EBUSY, anything else ESTKIT_EIO; the message (prefixed with what)
 * is the thread's store message.
 */
enum estkit_status estd_pg_exec(PGconn *c, const char *sql, const struct estd_pg_params *p,
				const char *what, PGresult **res);

/* estd_pg_exec() for a statement whose result is not needed. */
enum estkit_status estd_pg_run(PGconn *c, const char *sql, const struct estd_pg_params *p,
			       const char *what);

/* Rows changed by the statement of r (PQcmdTuples), 0 when not a number. */
long long estd_pg_changes(PGresult *r);

/* Binary-format column getters of row i. Text: malloc'ed copy ("" for NULL). */
char *estd_pg_get_text(const PGresult *r, int row, int col);
long long estd_pg_get_int(const PGresult *r, int row, int col);

/* A malloc'ed copy of a bytea column; NULL, 0 for SQL NULL or empty. -1 when out of memory. */
int estd_pg_get_bytea(const PGresult *r, int row, int col, unsigned char **out, size_t *len);

/* How one column of a result goes into a member of a record (estd_pg_decode_row()). */
enum estd_pg_kind {
	ESTD_PG_TEXT,  /* char *: malloc'ed copy, "" for SQL NULL */
	ESTD_PG_INT,   /* long long: bigint (or int2/int4), 0 for SQL NULL */
	ESTD_PG_BYTEA, /* unsigned char * and its size_t length at len_off */
};

struct estd_pg_column {
	int col;
	enum estd_pg_kind kind;
	size_t off;     /* offsetof() the member */
	size_t len_off; /* ESTD_PG_BYTEA: offsetof() the size_t length member */
};

/*
 * Decodes row `row` of r into the record at rec (zeroed by the caller),
 * one member per entry of cols. 0, or -1 when out of memory: the members
 * decoded so far stay set, for the record's own _free function.
 */
int estd_pg_decode_row(const PGresult *r, int row, const struct estd_pg_column *cols,
		       size_t ncols, void *rec);

/*
 * A table's rows as records: the columns, the record's size and its _free
 * function (through a void * wrapper, never a cast function pointer).
 */
struct estd_pg_rowtype {
	const struct estd_pg_column *cols;
	size_t ncols;
	size_t size;
	void (*free_rec)(void *rec);
};

/* Row `row` of r as a new record of type t (t->free_rec frees it); NULL when out of memory. */
void *estd_pg_row_record(const PGresult *r, int row, const struct estd_pg_rowtype *t);

/* Rows a walk (estd_pg_walk()) reads per statement. */
#define ESTD_PG_PAGE 256

/*
 * A keyed walk over a table: sql selects the rowtype's columns after a key,
 * in key order, LIMIT the last parameter. Its parameters: those of the
 * caller's filter (estd_pg_walk()), then one per key column (the last row's
 * value; before the first page LLONG_MIN or ""), then the page size.
 */
struct estd_pg_walk {
	const struct estd_pg_rowtype *type;
	const char *sql;
	const char *what;   /* for the error message */
	int nkeys;          /* 1 or 2 */
	struct {
		int col;
		enum estd_pg_kind kind; /* ESTD_PG_INT or ESTD_PG_TEXT */
	} key[2];
};

/*
 * Walks w page by page on pooled connections, giving the connection back
 * before visiting, so visit may call the store again. filter (may be NULL)
 * holds the leading parameters. Each row is decoded and passed to
 * visit(arg, rec) then freed; visit, the caller's typed adapter of the
 * store.h callback, stops the walk by returning nonzero. ESTKIT_OK (also
 * when stopped), ESTKIT_ENOMEM, or the failure of a statement.
 */
enum estkit_status estd_pg_walk(struct estd_pg *st, const struct estd_pg_walk *w,
				const struct estd_pg_params *filter,
				int (*visit)(void *arg, const void *rec), void *arg);

/*
 * The first row of r as a new record in *out. ESTKIT_ENOTFOUND when r has
 * no row (the caller sets the message: it knows what was looked for),
 * ESTKIT_ENOMEM when out of memory.
 */
enum estkit_status estd_pg_first_record(const PGresult *r, const struct estd_pg_rowtype *t,
					void **out);

/*
 * estd_pg_exec() on a connection taken from st's pool for this one
 * statement (autocommit) and given back before returning.
 */
enum estkit_status estd_pg_exec_pooled(struct estd_pg *st, const char *sql,
				       const struct estd_pg_params *p, const char *what,
				       PGresult **res);

/* Takes a connection from the pool (connecting or reconnecting as needed). */
enum estkit_status estd_pg_acquire(struct estd_pg *st, PGconn **out);

/* Gives c back; a broken one is closed instead. NULL is a no-op. */
void estd_pg_release(struct estd_pg *st, PGconn *c);

/* BEGIN / COMMIT / ROLLBACK on c. ROLLBACK never fails the caller. */
enum estkit_status estd_pg_begin(PGconn *c);
enum estkit_status estd_pg_commit(PGconn *c);
void estd_pg_rollback(PGconn *c);

/* Brings the schema to the newest version (pg.c), serialised by an advisory lock. */
enum estkit_status estd_pg_migrate(PGconn *c);

/* The engine's functions (pg_certs.c, pg_requests.c, pg_tokens.c); see store.h. */
enum estkit_status estd_pg_cert_insert_tx(PGconn *c, const struct estd_cert_record *rec,
					  char *serial, size_t len);
enum estkit_status estd_pg_cert_insert(struct estd_store *base,
				       const struct estd_cert_record *rec);
enum estkit_status estd_pg_cert_get(struct estd_store *base, const char *serial,
				    struct estd_cert_record **out);
enum estkit_status estd_pg_cert_foreach(struct estd_store *base,
					int (*cb)(void *arg, const struct estd_cert_record *rec),
					void *arg);
enum estkit_status estd_pg_revoke(struct estd_store *base, const char *serial, int reason,
				  long long at, const char *by);
enum estkit_status estd_pg_revocation_get(struct estd_store *base, const char *serial,
					  int *reason, long long *at);
enum estkit_status estd_pg_revocation_foreach(struct estd_store *base,
					      int (*cb)(void *arg, const char *serial, int reason,
							long long at),
					      void *arg);
enum estkit_status estd_pg_crl_next_number(struct estd_store *base, long long *out);
enum estkit_status estd_pg_digest_nc(struct estd_store *base, const unsigned char key[16],
				     long long ts, unsigned long nc, long long forget_before);
enum estkit_status estd_pg_request_submit(struct estd_store *base,
					  const struct estd_request_record *req,
					  struct estd_request_record **out, int *created);
enum estkit_status estd_pg_request_get(struct estd_store *base, long long id,
				       struct estd_request_record **out);
enum estkit_status estd_pg_request_foreach(struct estd_store *base, const char *status,
					   int (*cb)(void *arg,
						     const struct estd_request_record *r),
					   void *arg);
enum estkit_status estd_pg_request_decide(struct estd_store *base, long long id,
					  const char *status, const char *reason,
					  const char *decided_by);
enum estkit_status estd_pg_request_issue(struct estd_store *base, long long id,
					 const struct estd_cert_record *cert);
enum estkit_status estd_pg_token_insert(struct estd_store *base,
					const struct estd_token_record *t);
enum estkit_status estd_pg_token_get(struct estd_store *base, const char *id,
				     struct estd_token_record **out);
enum estkit_status estd_pg_token_foreach(struct estd_store *base,
					 int (*cb)(void *arg, const struct estd_token_record *t),
					 void *arg);
enum estkit_status estd_pg_token_claim(struct estd_store *base, const char *id, long long now,
				       const char *used_by);
enum estkit_status estd_pg_token_release(struct estd_store *base, const char *id);
enum estkit_status estd_pg_token_set_serial(struct estd_store *base, const char *id,
					    const char *serial);
enum estkit_status estd_pg_token_revoke(struct estd_store *base, const char *id, long long now);

#endif /* ESTD_STORE_PG_INT_H */
