/*
 * store_engine_testutil.h - running one store test on every engine (the
 * store tests that speak only store.h: test_store_engines.c,
 * test_store_args.c). SQLite gets a temporary file; PostgreSQL the test
 * server given by $ESTKIT_TEST_PG, or the first line of $ESTKIT_TEST_PG_FILE
 * (the CTest fixture pg/start writes it with tests/e2e/pg_util.py). Each test
 * gets an empty database (PostgreSQL: schema public dropped and made again);
 * without a server the PostgreSQL cases skip.
 */
#ifndef STORE_ENGINE_TESTUTIL_H
#define STORE_ENGINE_TESTUTIL_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_testutil.h"
#include "tmpdir_testutil.h"

static char tu_eng_tmpdir[1024];
static char tu_eng_spec[1200]; /* the store the running test opens; "" skips it */
static char tu_eng_pgconn[1024];

/* The test server's conninfo, "" when none. */
static inline const char *tu_pg_conninfo(void)
{
	const char *env = getenv("ESTKIT_TEST_PG");
	const char *file = getenv("ESTKIT_TEST_PG_FILE");
	FILE *fp = NULL;

	if (env != NULL)
		return env;
	tu_eng_pgconn[0] = '\0';
	if (file != NULL && (fp = fopen(file, "r")) != NULL) {
		if (fgets(tu_eng_pgconn, sizeof(tu_eng_pgconn), fp) == NULL)
			tu_eng_pgconn[0] = '\0';
		tu_eng_pgconn[strcspn(tu_eng_pgconn, "\r\n")] = '\0';
		fclose(fp);
	}
	return tu_eng_pgconn;
}

/* Runs sql on the test server; fails the test when it does not succeed. */
static inline void tu_pg_sql(const char *sql)
{
	PGconn *c = PQconnectdb(tu_pg_conninfo());
	PGresult *r = NULL;

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect %s: %s", tu_pg_conninfo(), PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static inline int tu_setup_sqlite(void **state)
{
	(void)state;
	if (tu_mkdtemp(tu_eng_tmpdir, sizeof(tu_eng_tmpdir), "estd-engines") != 0)
		return -1;
	snprintf(tu_eng_spec, sizeof(tu_eng_spec), "sqlite:%s/estd.db", tu_eng_tmpdir);
	return 0;
}

static inline int tu_teardown_sqlite(void **state)
{
	(void)state;
	return tu_rmtree(tu_eng_tmpdir);
}

static inline int tu_setup_pg(void **state)
{
	(void)state;
	tu_eng_spec[0] = '\0';
	if (tu_pg_conninfo()[0] == '\0')
		return 0; /* each test skips */
	tu_pg_sql("SET client_min_messages = warning; DROP SCHEMA IF EXISTS public CASCADE; "
		  "CREATE SCHEMA public");
	snprintf(tu_eng_spec, sizeof(tu_eng_spec), "%s", tu_pg_conninfo());
	return 0;
}

static inline int tu_teardown_pg(void **state)
{
	(void)state;
	return 0;
}

/* The running test's store, open; skips the test when there is no PostgreSQL. */
static inline struct estd_store *tu_engine_open(void)
{
	if (tu_eng_spec[0] == '\0')
		skip(); /* no PostgreSQL for this run */
	return tu_store_open(tu_eng_spec);
}

/* Says on stderr, for the test program name, that its PostgreSQL cases skip (when they do). */
static inline void tu_pg_note(const char *name)
{
	if (tu_pg_conninfo()[0] == '\0')
		fprintf(stderr, "%s: no PostgreSQL (ESTKIT_TEST_PG or ESTKIT_TEST_PG_FILE); "
				"PostgreSQL cases are skipped\n", name);
}

/* Test t once on SQLite, once on PostgreSQL. */
#define TU_BOTH(t)                                                                             \
	cmocka_unit_test_setup_teardown(t, tu_setup_sqlite, tu_teardown_sqlite),               \
		cmocka_unit_test_setup_teardown(t, tu_setup_pg, tu_teardown_pg)

#endif /* STORE_ENGINE_TESTUTIL_H */
