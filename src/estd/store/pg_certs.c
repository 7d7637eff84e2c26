/*
 * pg_certs.c - issued certificates, revocations, the CRL number and the
 * shared Digest nonce-counts in the PostgreSQL store (pg.c has the schema).
 *
 * Walks (foreach) read pages of ESTD_PG_PAGE rows by key and give the connection
 * back before calling the callback, so a callback may call the store
 * again and a long walk never holds a connection other callers need.
 */
#include "store/pg_int.h"
#include "store/store.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>


#define COLUMNS                                                                                \
	"serial, subject, issuer, sans, not_before, not_after, issued_at, requester, label, op, " \
	"csr, cert, seq"

/* Runs one statement on a pooled connection; res NULL: the result is not wanted. */
static enum estkit_status exec1(struct estd_pg *st, const char *sql,
				const struct estd_pg_params *p, const char *what, PGresult **res)
{
	PGresult *r = NULL;
	enum estkit_status rc = estd_pg_exec_pooled(st, sql, p, what, &r);

	if (res != NULL)
		*res = r;
	else
		PQclear(r);
	return rc;
}

/* See pg_int.h: the INSERT inside the caller's transaction (or alone: autocommit). */
enum estkit_status estd_pg_cert_insert_tx(PGconn *c, const struct estd_cert_record *rec,
					  char *serial, size_t len)
{
	struct estd_pg_params p = {0};
	enum estkit_status rc;

	if (estd_store_normalize_serial(rec->serial, serial, len) != 0) {
		estd_store_set_err("invalid record or serial");
		return ESTKIT_EINVAL;
	}
	estd_pg_text(&p, serial);
	estd_pg_text(&p, rec->subject);
	estd_pg_text(&p, rec->issuer);
	estd_pg_text(&p, rec->sans);
	estd_pg_int(&p, rec->not_before);
	estd_pg_int(&p, rec->not_after);
	estd_pg_int(&p, rec->issued_at);
	estd_pg_text(&p, rec->requester);
	estd_pg_text(&p, rec->label);
	estd_pg_text(&p, rec->op);
	estd_pg_bytea(&p, rec->csr_der, rec->csr_len);
	estd_pg_bytea(&p, rec->cert_der, rec->cert_len);
	rc = estd_pg_run(c, "INSERT INTO certs (serial, subject, issuer, sans, not_before, "
			    "not_after, issued_at, requester, label, op, csr, cert) VALUES "
			    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
			 &p, "insert");
	if (rc == ESTKIT_EEXIST)
		estd_store_set_err("serial %s is already in the store", serial);
	return rc;
}

/* See store.h. One autocommitted INSERT: durable when it returns. */
enum estkit_status estd_pg_cert_insert(struct estd_store *base,
				       const struct estd_cert_record *rec)
{
	struct estd_pg *st = ESTD_PG(base);
	char serial[ESTD_STORE_MAX_SERIAL + 1];
	PGconn *c = NULL;
	enum estkit_status rc;

	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_cert_insert_tx(c, rec, serial, sizeof(serial));
	estd_pg_release(st, c);
	return rc;
}

#define CERT(m) offsetof(struct estd_cert_record, m)

/* COLUMNS into a record (seq is only a walk's key) */
static const struct estd_pg_column cert_columns[] = {
	{0, ESTD_PG_TEXT, CERT(serial), 0},      {1, ESTD_PG_TEXT, CERT(subject), 0},
	{2, ESTD_PG_TEXT, CERT(issuer), 0},      {3, ESTD_PG_TEXT, CERT(sans), 0},
	{4, ESTD_PG_INT, CERT(not_before), 0},   {5, ESTD_PG_INT, CERT(not_after), 0},
	{6, ESTD_PG_INT, CERT(issued_at), 0},    {7, ESTD_PG_TEXT, CERT(requester), 0},
	{8, ESTD_PG_TEXT, CERT(label), 0},       {9, ESTD_PG_TEXT, CERT(op), 0},
	{10, ESTD_PG_BYTEA, CERT(csr_der), CERT(csr_len)},
	{11, ESTD_PG_BYTEA, CERT(cert_der), CERT(cert_len)},
};

static void cert_free(void *rec)
{
	estd_cert_record_free(rec);
}

static const struct estd_pg_rowtype cert_rows = {
	cert_columns, sizeof(cert_columns) / sizeof(cert_columns[0]),
	sizeof(struct estd_cert_record), cert_free,
};

/* See store.h. */
enum estkit_status estd_pg_cert_get(struct estd_store *base, const char *serial,
				    struct estd_cert_record **out)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	void *rec = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, serial);
	rc = exec1(ESTD_PG(base), "SELECT " COLUMNS " FROM certs WHERE serial = $1", &p,
		   "select", &r);
	if (rc == ESTKIT_OK)
		rc = estd_pg_first_record(r, &cert_rows, &rec);
	if (rc == ESTKIT_ENOTFOUND)
		estd_store_set_err("no certificate with serial %s", serial);
	if (rc == ESTKIT_OK)
		*out = rec;
	PQclear(r);
	return rc;
}

/* estd_pg_walk_page()'s visit for a store.h certificate callback */
struct cert_walk {
	int (*cb)(void *arg, const struct estd_cert_record *rec);
	void *arg;
};

static int cert_visit(void *arg, const void *rec)
{
	const struct cert_walk *w = arg;

	return w->cb(w->arg, rec);
}

/* See store.h: oldest first (issued_at, then insertion order). */
enum estkit_status estd_pg_cert_foreach(struct estd_store *base,
					int (*cb)(void *arg, const struct estd_cert_record *rec),
					void *arg)
{
	static const struct estd_pg_walk walk = {
		&cert_rows,
		"SELECT " COLUMNS " FROM certs WHERE (issued_at, seq) > ($1, $2) "
		"ORDER BY issued_at, seq LIMIT $3",
		"select", 2, {{6, ESTD_PG_INT}, {12, ESTD_PG_INT}},
	};
	struct cert_walk w = {cb, arg};

	return estd_pg_walk(ESTD_PG(base), &walk, NULL, cert_visit, &w);
}

/* See store.h. The INSERT ... SELECT checks that the certificate exists in the same statement. */
enum estkit_status estd_pg_revoke(struct estd_store *base, const char *serial, int reason,
				  long long at, const char *by)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, serial);
	estd_pg_int(&p, reason);
	estd_pg_int(&p, at);
	estd_pg_text(&p, by);
	rc = exec1(ESTD_PG(base), "INSERT INTO revocations (serial, reason, revoked_at, "
				  "revoked_by) SELECT serial, $2, $3, $4 FROM certs WHERE serial = $1",
		   &p, "insert revocation", &r);
	if (rc == ESTKIT_EEXIST) {
		estd_store_set_err("certificate %s is already revoked", serial);
	} else if (rc == ESTKIT_OK && estd_pg_changes(r) == 0) {
		estd_store_set_err("no certificate with serial %s", serial);
		rc = ESTKIT_ENOTFOUND;
	}
	PQclear(r);
	return rc;
}

/* See store.h. */
enum estkit_status estd_pg_revocation_get(struct estd_store *base, const char *serial,
					  int *reason, long long *at)
{
	struct estd_pg_params p = {0};
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_text(&p, serial);
	rc = exec1(ESTD_PG(base), "SELECT reason, revoked_at FROM revocations WHERE serial = $1",
		   &p, "select", &r);
	if (rc == ESTKIT_OK && PQntuples(r) == 0)
		rc = ESTKIT_ENOTFOUND;
	if (rc == ESTKIT_OK && reason != NULL)
		*reason = (int)estd_pg_get_int(r, 0, 0);
	if (rc == ESTKIT_OK && at != NULL)
		*at = estd_pg_get_int(r, 0, 1);
	PQclear(r);
	return rc;
}

/* Calls cb for one page of (serial, reason, revoked_at); 1 when cb asked to stop. */
static int revocation_page(const PGresult *r, int (*cb)(void *, const char *, int, long long),
			   void *arg)
{
	int i;

	for (i = 0; i < PQntuples(r); i++)
		if (cb(arg, PQgetvalue(r, i, 0), (int)estd_pg_get_int(r, i, 1),
		       estd_pg_get_int(r, i, 2)) != 0)
			return 1;
	return 0;
}

/* See store.h: oldest first. */
enum estkit_status estd_pg_revocation_foreach(struct estd_store *base,
					      int (*cb)(void *arg, const char *serial, int reason,
							long long at),
					      void *arg)
{
	long long at = LLONG_MIN;
	char *last = strdup("");
	enum estkit_status rc = last != NULL ? ESTKIT_OK : ESTKIT_ENOMEM;
	int stop = 0, n = ESTD_PG_PAGE;

	while (rc == ESTKIT_OK && !stop && n == ESTD_PG_PAGE) {
		struct estd_pg_params p = {0};
		PGresult *r = NULL;

		estd_pg_int(&p, at);
		estd_pg_text(&p, last);
		estd_pg_int(&p, ESTD_PG_PAGE);
		rc = exec1(ESTD_PG(base), "SELECT serial, reason, revoked_at FROM revocations "
					  "WHERE (revoked_at, serial) > ($1, $2) "
					  "ORDER BY revoked_at, serial LIMIT $3",
			   &p, "select revocations", &r);
		if (rc != ESTKIT_OK)
			break;
		n = PQntuples(r);
		if (n > 0) {
			free(last);
			last = estd_pg_get_text(r, n - 1, 0);
			at = estd_pg_get_int(r, n - 1, 2);
			rc = last != NULL ? ESTKIT_OK : ESTKIT_ENOMEM;
		}
		if (rc == ESTKIT_OK)
			stop = revocation_page(r, cb, arg);
		PQclear(r);
	}
	free(last);
	return rc;
}

/* See store.h. One statement: concurrent callers get distinct numbers. */
enum estkit_status estd_pg_crl_next_number(struct estd_store *base, long long *out)
{
	PGresult *r = NULL;
	enum estkit_status rc;

	rc = exec1(ESTD_PG(base), "INSERT INTO crl_number (id, number) VALUES (1, 1) "
				  "ON CONFLICT (id) DO UPDATE SET number = crl_number.number + 1 "
				  "RETURNING number",
		   NULL, "crl number", &r);
	if (rc == ESTKIT_OK && PQntuples(r) == 1)
		*out = estd_pg_get_int(r, 0, 0);
	else if (rc == ESTKIT_OK)
		rc = ESTKIT_EIO;
	PQclear(r);
	return rc;
}

/*
 * See store.h. One upsert decides, also between nodes: the row changes (and
 * is returned) only when nc is above the stored high-water mark.
 */
enum estkit_status estd_pg_digest_nc(struct estd_store *base, const unsigned char key[16],
				     long long ts, unsigned long nc, long long forget_before)
{
	struct estd_pg *st = ESTD_PG(base);
	struct estd_pg_params p = {0};
	PGconn *c = NULL;
	PGresult *r = NULL;
	enum estkit_status rc;

	estd_pg_bytea(&p, key, 16);
	estd_pg_int(&p, ts);
	estd_pg_int(&p, (long long)nc);
	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_exec(c, "INSERT INTO digest_nonces (nonce, issued_at, nc) "
				     "VALUES ($1, $2, $3) ON CONFLICT (nonce) DO UPDATE "
				     "SET nc = EXCLUDED.nc WHERE digest_nonces.nc < EXCLUDED.nc "
				     "RETURNING 1",
				  &p, "digest nonce-count", &r);
	if (rc == ESTKIT_OK && PQntuples(r) == 0) {
		estd_store_set_err("nonce-count %lu already seen", nc);
		rc = ESTKIT_EEXIST;
	}
	/* now and then (1 nonce in 64) forget the expired ones; best effort */
	if (rc == ESTKIT_OK && (key[0] & 0x3f) == 0) {
		p.n = 0;
		estd_pg_int(&p, forget_before);
		(void)estd_pg_run(c, "DELETE FROM digest_nonces WHERE issued_at < $1", &p,
				  "forget nonces");
		estd_store_clear_err();
	}
	PQclear(r);
	estd_pg_release(st, c);
	return rc;
}
