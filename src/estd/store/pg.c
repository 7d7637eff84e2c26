/*
 * pg.c - the store on PostgreSQL (libpq): opening, the connection pool and
 * the schema migrations. The statements live in pg_certs.c, pg_requests.c
 * and pg_tokens.c, the libpq plumbing in pg_exec.c.
 *
 * Several estd nodes share one database: every state change is one
 * statement or one transaction whose outcome PostgreSQL decides (UNIQUE
 * constraints, "UPDATE ... WHERE status = ...", advisory locks), so two
 * nodes racing never both win. Durability: synchronous_commit = on for
 * every connection, so a statement or COMMIT returns after the WAL flush.
 *
 * The schema is versioned in table schema_version with the numbers the
 * SQLite engine uses where the two share a migration; opening applies every
 * known migration above the stored version in ascending order, in one
 * transaction holding pg_advisory_xact_lock(), so two nodes starting at once
 * do not race. A migration added later takes a number above the newest
 * released one (never a gap below it: a database already at that version
 * would skip it), which is why the tokens table, SQLite's 4, is 6 here.
 */
#include "store/pg_int.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

/* Waiting longer than this for a free connection is ESTKIT_EBUSY (HTTP 503); [store] pool_wait. */
#define DEFAULT_POOL_WAIT 10
#define MAX_POOL_WAIT 300
#define DEFAULT_CONNECTIONS 8
#define MAX_CONNECTIONS 1024
#define MIGRATION_LOCK 703000001LL /* pg_advisory_xact_lock key: "RFC 7030, migration" */

static const struct migration {
	int number;
	const char *sql;
} migrations[] = {
	/* 1: issued certificates; seq keeps insertion order for equal issued_at */
	{1, "CREATE TABLE IF NOT EXISTS certs ("
	    " serial TEXT PRIMARY KEY, seq BIGSERIAL NOT NULL,"
	    " subject TEXT NOT NULL, issuer TEXT NOT NULL, sans TEXT NOT NULL,"
	    " not_before BIGINT NOT NULL, not_after BIGINT NOT NULL, issued_at BIGINT NOT NULL,"
	    " requester TEXT NOT NULL, label TEXT NOT NULL, op TEXT NOT NULL,"
	    " csr BYTEA, cert BYTEA);"
	    "CREATE INDEX IF NOT EXISTS certs_issued_at ON certs (issued_at, seq);"},
	/* 2: requests held for manual approval (RFC 7030 4.2.3) */
	{2, "CREATE TABLE IF NOT EXISTS requests ("
	    " id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL, op TEXT NOT NULL,"
	    " requester TEXT NOT NULL, subject TEXT NOT NULL, sans TEXT NOT NULL,"
	    " csr BYTEA NOT NULL, csr_sha256 TEXT NOT NULL,"
	    " status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','issued')),"
	    " reason TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '',"
	    " created_at BIGINT NOT NULL, decided_at BIGINT NOT NULL DEFAULT 0,"
	    " decided_by TEXT NOT NULL DEFAULT '');"
	    "CREATE UNIQUE INDEX IF NOT EXISTS requests_open ON requests (label, csr_sha256)"
	    " WHERE status <> 'issued';"
	    "CREATE INDEX IF NOT EXISTS requests_status ON requests (status, id);"},
	/* 3: revocations and the CRL number */
	{3, "CREATE TABLE IF NOT EXISTS revocations ("
	    " serial TEXT PRIMARY KEY, reason BIGINT NOT NULL,"
	    " revoked_at BIGINT NOT NULL, revoked_by TEXT NOT NULL);"
	    "CREATE TABLE IF NOT EXISTS crl_number ("
	    " id INTEGER PRIMARY KEY CHECK (id = 1), number BIGINT NOT NULL);"},
	/* 5: Digest nonce-count high-water marks shared by all nodes (RFC 7616 3.4) */
	{5, "CREATE TABLE IF NOT EXISTS digest_nonces ("
	    " nonce BYTEA PRIMARY KEY, issued_at BIGINT NOT NULL, nc BIGINT NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS digest_nonces_issued ON digest_nonces (issued_at);"},
	/* 6: one-time enrollment tokens (SQLite's migration 4); see pg_tokens.c */
	{6, "CREATE TABLE IF NOT EXISTS tokens ("
	    " id TEXT PRIMARY KEY, hash TEXT NOT NULL, label TEXT NOT NULL,"
	    " subject TEXT NOT NULL, sans TEXT NOT NULL, created_at BIGINT NOT NULL,"
	    " expires_at BIGINT NOT NULL, used_at BIGINT NOT NULL DEFAULT 0,"
	    " revoked_at BIGINT NOT NULL DEFAULT 0, created_by TEXT NOT NULL DEFAULT '',"
	    " used_by TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '');"},
};

static const struct estd_store_ops pg_ops;

/* The version stored in schema_version (0 for a new database), inside the migration. */
static enum estkit_status schema_version(PGconn *c, int *version)
{
	PGresult *r = NULL;
	enum estkit_status rc;

	rc = estd_pg_run(c, "CREATE TABLE IF NOT EXISTS schema_version ("
			    " id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
			 NULL, "schema version");
	if (rc == ESTKIT_OK)
		rc = estd_pg_exec(c, "SELECT version FROM schema_version WHERE id = 1", NULL,
				  "schema version", &r);
	*version = rc == ESTKIT_OK && PQntuples(r) == 1 ? (int)estd_pg_get_int(r, 0, 0) : 0;
	PQclear(r);
	return rc;
}

/* See pg_int.h. */
enum estkit_status estd_pg_migrate(PGconn *c)
{
	const size_t n = sizeof(migrations) / sizeof(migrations[0]);
	const int newest = migrations[n - 1].number;
	struct estd_pg_params p = {0};
	enum estkit_status rc;
	int version = 0;
	size_t i;

	rc = estd_pg_begin(c);
	if (rc != ESTKIT_OK)
		return rc;
	estd_pg_int(&p, MIGRATION_LOCK);
	rc = estd_pg_run(c, "SELECT pg_advisory_xact_lock($1::bigint)", &p, "migration lock");
	if (rc == ESTKIT_OK)
		rc = schema_version(c, &version);
	if (rc == ESTKIT_OK && (version > newest || version < 0)) {
		estd_store_set_err("schema version %d is newer than this estd knows (%d)", version,
				   newest);
		rc = ESTKIT_EINVAL;
	}
	for (i = 0; rc == ESTKIT_OK && i < n; i++) {
		PGresult *r = NULL;

		if (migrations[i].number <= version)
			continue;
		/* a fixed, multi-statement text: the simple query protocol */
		r = PQexec(c, migrations[i].sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			estd_store_set_err("schema migration %d: %.*s", migrations[i].number,
					   (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
			rc = PQstatus(c) == CONNECTION_OK ? ESTKIT_EIO : ESTKIT_EBUSY;
		}
		PQclear(r);
	}
	p.n = 0;
	estd_pg_int(&p, newest);
	if (rc == ESTKIT_OK && version < newest)
		rc = estd_pg_run(c, "INSERT INTO schema_version (id, version) VALUES (1, $1) "
				    "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
				 &p, "schema version");
	if (rc == ESTKIT_OK)
		rc = estd_pg_commit(c);
	if (rc != ESTKIT_OK)
		estd_pg_rollback(c);
	return rc;
}

/* PostgreSQL's notices ("relation already exists, skipping") are not for estd's users. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * A new connection. Defaults that the URI may override come first
 * (libpq: later keywords win): a connect timeout, TCP keepalives so a dead
 * peer is noticed, durable commits and a statement timeout.
 */
static enum estkit_status connect_one(const struct estd_pg *st, PGconn **out)
{
	static const char *const keys[] = {"connect_timeout", "keepalives_idle",
					   "keepalives_interval", "keepalives_count",
					   "application_name", "options", "dbname", NULL};
	const char *vals[] = {"10", "30", "10", "3", "estd",
			      "-c synchronous_commit=on -c statement_timeout=30000",
			      st->conninfo, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	*out = NULL;
	if (c == NULL) {
		estd_store_set_err("out of memory");
		return ESTKIT_ENOMEM;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		estd_store_set_err("cannot connect to PostgreSQL: %.*s",
				   (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
		PQfinish(c);
		return ESTKIT_EBUSY;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	*out = c;
	return ESTKIT_OK;
}

/* A connection taken from the idle list may have been dropped by the server: check, reset. */
static enum estkit_status revive(PGconn *c)
{
	/* non-blocking: reads a pending "terminating connection" notice and the EOF */
	if (PQconsumeInput(c) == 1 && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) == PQTRANS_IDLE)
		return ESTKIT_OK;
	PQreset(c);
	if (PQstatus(c) == CONNECTION_OK)
		return ESTKIT_OK;
	estd_store_set_err("PostgreSQL unavailable (reconnect failed): %.*s",
			   (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	return ESTKIT_EBUSY;
}

/*
 * Waits for an idle connection or room for a new one; [mu] held. 0 on
 * time-out. st->cv runs on CLOCK_MONOTONIC (pg_new): setting the wall clock
 * neither stretches nor cuts the wait.
 */
static int wait_for_room(struct estd_pg *st)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += st->wait_s;
	while (st->nidle == 0 && st->open >= st->max)
		if (pthread_cond_timedwait(&st->cv, &st->mu, &until) == ETIMEDOUT)
			return st->nidle > 0 || st->open < st->max;
	return 1;
}

/* See pg_int.h. */
enum estkit_status estd_pg_acquire(struct estd_pg *st, PGconn **out)
{
	PGconn *c = NULL;
	enum estkit_status rc;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (!wait_for_room(st)) {
		pthread_mutex_unlock(&st->mu);
		estd_store_set_err("all %d PostgreSQL connections stayed busy for %d s "
				   "([store] connections, pool_wait)", st->max, st->wait_s);
		return ESTKIT_EBUSY;
	}
	if (st->nidle > 0)
		c = st->idle[--st->nidle];
	st->open += c == NULL; /* reserve the slot before connecting */
	pthread_mutex_unlock(&st->mu);
	rc = c != NULL ? revive(c) : connect_one(st, &c);
	if (rc != ESTKIT_OK) {
		PQfinish(c);
		pthread_mutex_lock(&st->mu);
		st->open--;
		pthread_cond_signal(&st->cv);
		pthread_mutex_unlock(&st->mu);
		return rc;
	}
	*out = c;
	return ESTKIT_OK;
}

/* See pg_int.h. */
void estd_pg_release(struct estd_pg *st, PGconn *c)
{
	if (c == NULL)
		return;
	/* a connection left inside a transaction or broken is not reused */
	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
		PQfinish(c);
		c = NULL;
	}
	pthread_mutex_lock(&st->mu);
	if (c != NULL && st->nidle < st->max) {
		st->idle[st->nidle++] = c;
	} else {
		PQfinish(c);
		st->open--;
	}
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void pg_close(struct estd_store *base)
{
	struct estd_pg *st = ESTD_PG(base);
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nidle; i++)
		PQfinish(st->idle[i]);
	free(st->idle);
	/* the URI may hold a password */
	if (st->conninfo != NULL)
		OPENSSL_cleanse(st->conninfo, strlen(st->conninfo));
	free(st->conninfo);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static void pg_set_connections(struct estd_store *base, int n)
{
	struct estd_pg *st = ESTD_PG(base);

	pthread_mutex_lock(&st->mu);
	st->max = n < 1 ? 1 : n > MAX_CONNECTIONS ? MAX_CONNECTIONS : n;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

static void pg_set_pool_wait(struct estd_store *base, int seconds)
{
	struct estd_pg *st = ESTD_PG(base);

	pthread_mutex_lock(&st->mu);
	st->wait_s = seconds < 1 ? 1 : seconds > MAX_POOL_WAIT ? MAX_POOL_WAIT : seconds;
	pthread_mutex_unlock(&st->mu);
}

static struct estd_pg *pg_new(const char *conninfo)
{
	struct estd_pg *st = calloc(1, sizeof(*st));
	pthread_condattr_t ca;

	if (st == NULL)
		return NULL;
	st->base.ops = &pg_ops;
	st->max = DEFAULT_CONNECTIONS;
	st->wait_s = DEFAULT_POOL_WAIT;
	st->conninfo = strdup(conninfo);
	st->idle = calloc(MAX_CONNECTIONS, sizeof(*st->idle));
	if (st->conninfo == NULL || st->idle == NULL) {
		free(st->conninfo);
		free(st->idle);
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cv, &ca);
	pthread_condattr_destroy(&ca);
	return st;
}

/*
 * Opens the database of conninfo (a libpq URI) and migrates its schema.
 * Unlike later calls, an unreachable server here is an error for the
 * operator to fix (the message says so), not a 503.
 */
enum estkit_status estd_pg_open(const char *conninfo, struct estd_store **out)
{
	struct estd_pg *st = NULL;
	PGconn *c = NULL;
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	enum estkit_status rc = ESTKIT_EINVAL;

	if (opts == NULL) {
		estd_store_set_err("%s", err != NULL ? err : "out of memory");
		goto out;
	}
	rc = ESTKIT_ENOMEM;
	st = pg_new(conninfo);
	if (st == NULL) {
		estd_store_set_err("out of memory");
		goto out;
	}
	rc = estd_pg_acquire(st, &c);
	if (rc == ESTKIT_OK)
		rc = estd_pg_migrate(c);
	estd_pg_release(st, c);
out:
	PQconninfoFree(opts);
	PQfreemem(err);
	if (rc != ESTKIT_OK) {
		pg_close(st != NULL ? &st->base : NULL);
		return rc;
	}
	*out = &st->base;
	return ESTKIT_OK;
}

static const struct estd_store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.cert_insert = estd_pg_cert_insert,
	.cert_get = estd_pg_cert_get,
	.cert_foreach = estd_pg_cert_foreach,
	.revoke = estd_pg_revoke,
	.revocation_get = estd_pg_revocation_get,
	.revocation_foreach = estd_pg_revocation_foreach,
	.crl_next_number = estd_pg_crl_next_number,
	.request_submit = estd_pg_request_submit,
	.request_get = estd_pg_request_get,
	.request_foreach = estd_pg_request_foreach,
	.request_decide = estd_pg_request_decide,
	.request_issue = estd_pg_request_issue,
	.digest_nc = estd_pg_digest_nc,
	.set_connections = pg_set_connections,
	.set_pool_wait = pg_set_pool_wait,
	.token_insert = estd_pg_token_insert,
	.token_get = estd_pg_token_get,
	.token_foreach = estd_pg_token_foreach,
	.token_claim = estd_pg_token_claim,
	.token_release = estd_pg_token_release,
	.token_set_serial = estd_pg_token_set_serial,
	.token_revoke = estd_pg_token_revoke,
};
