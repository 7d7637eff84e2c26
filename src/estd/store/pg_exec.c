/*
 * pg_exec.c - statements of the PostgreSQL store: parameters (always
 * PQexecParams(), never SQL built from data), results in binary format,
 * and the mapping of PostgreSQL errors (SQLSTATE) to estkit statuses.
 */
#include "store/pg_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* See pg_int.h. */
void estd_pg_text(struct estd_pg_params *p, const char *s)
{
	if (p->n >= ESTD_PG_MAX_PARAMS)
		return;
	p->v[p->n] = s != NULL ? s : "";
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

/* See pg_int.h. */
void estd_pg_int(struct estd_pg_params *p, long long v)
{
	if (p->n >= ESTD_PG_MAX_PARAMS)
		return;
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", v);
	p->v[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

/* See pg_int.h. */
void estd_pg_bytea(struct estd_pg_params *p, const unsigned char *b, size_t len)
{
	if (p->n >= ESTD_PG_MAX_PARAMS)
		return;
	if (b == NULL || len == 0 || len > INT32_MAX) {
		estd_pg_null(p);
		return;
	}
	p->v[p->n] = (const char *)b;
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1; /* binary: the bytes as they are, no escaping */
	p->n++;
}

/* See pg_int.h. */
void estd_pg_null(struct estd_pg_params *p)
{
	if (p->n >= ESTD_PG_MAX_PARAMS)
		return;
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

/* 1 when the failure means "PostgreSQL is not there right now": retry later. */
static int unavailable(PGconn *c, const char *state)
{
	if (PQstatus(c) != CONNECTION_OK)
		return 1;
	if (state == NULL)
		return 0;
	/* 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now */
	return strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
	       strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	       strcmp(state, "53300") == 0;
}

/* The first line of libpq's message, for one-line logs. */
static void set_pg_err(const char *what, const char *msg)
{
	size_t n = strcspn(msg != NULL ? msg : "", "\n");

	estd_store_set_err("%s: %.*s", what, (int)n, msg != NULL ? msg : "");
}

/* See pg_int.h. */
enum estkit_status estd_pg_exec(PGconn *c, const char *sql, const struct estd_pg_params *p,
				const char *what, PGresult **res)
{
	PGresult *r = PQexecParams(c, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
				   p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 1);
	ExecStatusType s = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	enum estkit_status rc = ESTKIT_OK;

	*res = NULL;
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		*res = r;
		return ESTKIT_OK;
	}
	if (state != NULL && strcmp(state, "23505") == 0) {
		rc = ESTKIT_EEXIST;
		set_pg_err(what, PQresultErrorMessage(r));
	} else if (unavailable(c, state)) {
		rc = ESTKIT_EBUSY;
		estd_store_set_err("%s: PostgreSQL unavailable: %.*s", what,
				   (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	} else {
		rc = r == NULL ? ESTKIT_ENOMEM : ESTKIT_EIO;
		set_pg_err(what, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c));
	}
	PQclear(r);
	return rc;
}

/* See pg_int.h. */
enum estkit_status estd_pg_run(PGconn *c, const char *sql, const struct estd_pg_params *p,
			       const char *what)
{
	PGresult *r = NULL;
	enum estkit_status rc = estd_pg_exec(c, sql, p, what, &r);

	PQclear(r);
	return rc;
}

/* See pg_int.h. */
long long estd_pg_changes(PGresult *r)
{
	const char *t = PQcmdTuples(r);
	long long n = 0;

	for (; t != NULL && *t >= '0' && *t <= '9' && n < 1000000000000LL; t++)
		n = n * 10 + (*t - '0');
	return n;
}

/* See pg_int.h. */
char *estd_pg_get_text(const PGresult *r, int row, int col)
{
	char *s = NULL;
	int n;

	if (PQgetisnull(r, row, col))
		return strdup("");
	n = PQgetlength(r, row, col);
	s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, PQgetvalue(r, row, col), (size_t)n);
	s[n] = '\0';
	return s;
}

/* See pg_int.h. Binary int2/int4/int8: big-endian two's complement. */
long long estd_pg_get_int(const PGresult *r, int row, int col)
{
	const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col), i;
	uint64_t v = 0;

	if (PQgetisnull(r, row, col) || (n != 2 && n != 4 && n != 8))
		return 0;
	for (i = 0; i < n; i++)
		v = (v << 8) | b[i];
	if (n < 8 && (b[0] & 0x80))
		v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
	return (long long)v;
}

/* See pg_int.h. */
int estd_pg_get_bytea(const PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
	int n = PQgetlength(r, row, col);

	*out = NULL;
	*len = 0;
	if (PQgetisnull(r, row, col) || n <= 0)
		return 0;
	*out = malloc((size_t)n);
	if (*out == NULL)
		return -1;
	memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
	*len = (size_t)n;
	return 0;
}

/* See pg_int.h. */
int estd_pg_decode_row(const PGresult *r, int row, const struct estd_pg_column *cols,
		       size_t ncols, void *rec)
{
	unsigned char *base = rec;
	size_t i;

	for (i = 0; i < ncols; i++) {
		const struct estd_pg_column *c = &cols[i];
		void *m = base + c->off;

		switch (c->kind) {
		case ESTD_PG_TEXT:
			if ((*(char **)m = estd_pg_get_text(r, row, c->col)) == NULL)
				return -1;
			break;
		case ESTD_PG_INT:
			*(long long *)m = estd_pg_get_int(r, row, c->col);
			break;
		case ESTD_PG_BYTEA:
			if (estd_pg_get_bytea(r, row, c->col, (unsigned char **)m,
					      (size_t *)(void *)(base + c->len_off)) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* See pg_int.h. */
void *estd_pg_row_record(const PGresult *r, int row, const struct estd_pg_rowtype *t)
{
	void *rec = calloc(1, t->size);

	if (rec != NULL && estd_pg_decode_row(r, row, t->cols, t->ncols, rec) != 0) {
		t->free_rec(rec);
		rec = NULL;
	}
	return rec;
}

/* Calls visit for the rows of one page; 1 when it asked to stop, -1 out of memory. */
static int walk_page(const PGresult *r, const struct estd_pg_rowtype *t,
		     int (*visit)(void *arg, const void *rec), void *arg)
{
	int i, stop = 0;

	for (i = 0; i < PQntuples(r) && !stop; i++) {
		void *rec = estd_pg_row_record(r, i, t);

		if (rec == NULL)
			return -1;
		stop = visit(arg, rec) != 0;
		t->free_rec(rec);
	}
	return stop;
}

/* The parameters of the page after the key: filter's, the key's, the page size. */
static void page_params(const struct estd_pg_walk *w, const struct estd_pg_params *filter,
			const long long *ikey, char *const *tkey, struct estd_pg_params *p)
{
	int k;

	if (filter != NULL)
		*p = *filter;
	for (k = 0; k < w->nkeys; k++) {
		if (w->key[k].kind == ESTD_PG_INT)
			estd_pg_int(p, ikey[k]);
		else
			estd_pg_text(p, tkey[k]);
	}
	estd_pg_int(p, ESTD_PG_PAGE);
}

/* Remembers the key of row n - 1 of r; -1 when out of memory. */
static int next_key(const struct estd_pg_walk *w, const PGresult *r, int n, long long *ikey,
		    char **tkey)
{
	int k;

	for (k = 0; k < w->nkeys; k++) {
		if (w->key[k].kind == ESTD_PG_INT) {
			ikey[k] = estd_pg_get_int(r, n - 1, w->key[k].col);
			continue;
		}
		free(tkey[k]);
		tkey[k] = estd_pg_get_text(r, n - 1, w->key[k].col);
		if (tkey[k] == NULL)
			return -1;
	}
	return 0;
}

/* See pg_int.h. */
enum estkit_status estd_pg_walk(struct estd_pg *st, const struct estd_pg_walk *w,
				const struct estd_pg_params *filter,
				int (*visit)(void *arg, const void *rec), void *arg)
{
	long long ikey[2] = {LLONG_MIN, LLONG_MIN};
	char *tkey[2] = {NULL, NULL};
	enum estkit_status rc = ESTKIT_OK;
	int stop = 0, n = ESTD_PG_PAGE;

	while (rc == ESTKIT_OK && !stop && n == ESTD_PG_PAGE) {
		struct estd_pg_params p = {0};
		PGresult *r = NULL;

		page_params(w, filter, ikey, tkey, &p);
		rc = estd_pg_exec_pooled(st, w->sql, &p, w->what, &r);
		n = rc == ESTKIT_OK ? PQntuples(r) : 0;
		if (n > 0)
			stop = next_key(w, r, n, ikey, tkey) != 0 ? -1 : walk_page(r, w->type, visit, arg);
		PQclear(r);
		if (stop < 0) {
			estd_store_set_err("out of memory");
			rc = ESTKIT_ENOMEM;
		}
	}
	free(tkey[0]);
	free(tkey[1]);
	return rc;
}

/* See pg_int.h. */
enum estkit_status estd_pg_first_record(const PGresult *r, const struct estd_pg_rowtype *t,
					void **out)
{
	if (PQntuples(r) == 0)
		return ESTKIT_ENOTFOUND;
	*out = estd_pg_row_record(r, 0, t);
	if (*out == NULL) {
		estd_store_set_err("out of memory");
		return ESTKIT_ENOMEM;
	}
	return ESTKIT_OK;
}

/* See pg_int.h. */
enum estkit_status estd_pg_exec_pooled(struct estd_pg *st, const char *sql,
				       const struct estd_pg_params *p, const char *what,
				       PGresult **res)
{
	PGconn *c = NULL;
	enum estkit_status rc;

	*res = NULL;
	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_exec(c, sql, p, what, res);
	estd_pg_release(st, c);
	return rc;
}

/* See pg_int.h. */
enum estkit_status estd_pg_begin(PGconn *c)
{
	return estd_pg_run(c, "BEGIN", NULL, "begin");
}

/* See pg_int.h. COMMIT returns once the commit is durable (synchronous_commit = on). */
enum estkit_status estd_pg_commit(PGconn *c)
{
	PGresult *r = NULL;
	enum estkit_status rc = estd_pg_exec(c, "COMMIT", NULL, "commit", &r);

	/* a failed transaction answers COMMIT with "ROLLBACK" and no error */
	if (rc == ESTKIT_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		estd_store_set_err("commit: the transaction was rolled back");
		rc = ESTKIT_EIO;
	}
	PQclear(r);
	return rc;
}

/* See pg_int.h. */
void estd_pg_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");

	PQclear(r);
}
