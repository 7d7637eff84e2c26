/*
 * test_store_pool.c - the PostgreSQL store's connection pool against the
 * real server the suite starts (pg/start, ESTKIT_TEST_PG_FILE): with every
 * connection taken, a call waits [store] pool_wait seconds and fails with
 * ESTKIT_EBUSY (HTTP 503); a connection given back in time ends the wait
 * early; a second connection means no wait. Skipped without PostgreSQL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/pg_int.h"
#include "store/store.h"
#include "store_testutil.h"

static char pgconn[1024];

/* The test server's conninfo, "" when none. */
static const char *pg_conninfo(void)
{
	const char *env = getenv("ESTKIT_TEST_PG");
	const char *file = getenv("ESTKIT_TEST_PG_FILE");
	FILE *fp = NULL;

	if (env != NULL)
		return env;
	pgconn[0] = '\0';
	if (file != NULL && (fp = fopen(file, "r")) != NULL) {
		if (fgets(pgconn, sizeof(pgconn), fp) == NULL)
			pgconn[0] = '\0';
		pgconn[strcspn(pgconn, "\r\n")] = '\0';
		fclose(fp);
	}
	return pgconn;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct giver {
	struct estd_pg *pg;
	PGconn *c;
	int after_ms;
};

/* Gives the held connection back after a while, as another request would. */
static void *give_back(void *arg)
{
	struct giver *g = arg;

	usleep((useconds_t)g->after_ms * 1000);
	estd_pg_release(g->pg, g->c);
	return NULL;
}

/*
 * One store call that needs a connection: a Digest nonce-count. ESTKIT_OK
 * when it got one; a count the database already holds (an earlier run
 * against the same server) got one too.
 */
static enum estkit_status one_call(struct estd_store *st, unsigned char tag)
{
	unsigned char key[16] = {0x40, 0x7e};
	enum estkit_status rc;

	key[2] = tag;
	rc = estd_store_digest_nc(st, key, 1000, 1, 0);
	return rc == ESTKIT_EEXIST ? ESTKIT_OK : rc;
}

static void test_pool_wait_then_busy(void **state)
{
	static const struct {
		int connections, pool_wait, give_back_ms; /* give_back_ms < 0: kept */
		enum estkit_status want;
		long long min_ms, max_ms;
	} t[] = {
		{1, 1, -1, ESTKIT_EBUSY, 900, 3000},   /* the one connection stays taken */
		{1, 2, -1, ESTKIT_EBUSY, 1900, 4000},
		{1, 3, 300, ESTKIT_OK, 250, 2500},     /* given back while waiting */
		{2, 1, -1, ESTKIT_OK, 0, 900},         /* a second connection: no wait */
		{1, 0, -1, ESTKIT_EBUSY, 9500, 12000}, /* an invalid value keeps the default: 10 */
	};
	struct estd_store *st = NULL;
	struct giver g;
	pthread_t th;
	long long t0, dt;
	size_t i;

	(void)state;
	if (pg_conninfo()[0] == '\0')
		skip();
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum estkit_status rc;

		st = tu_store_open(pg_conninfo()); /* a new pool each time */
		assert_string_equal(estd_store_engine(st), "postgresql");
		estd_store_set_connections(st, t[i].connections);
		estd_store_set_pool_wait(st, t[i].pool_wait);
		g.pg = ESTD_PG(st);
		g.after_ms = t[i].give_back_ms;
		assert_int_equal(estd_pg_acquire(g.pg, &g.c), ESTKIT_OK);
		if (t[i].give_back_ms >= 0)
			assert_int_equal(pthread_create(&th, NULL, give_back, &g), 0);
		t0 = now_ms();
		rc = one_call(st, (unsigned char)i);
		dt = now_ms() - t0;
		if (rc != t[i].want || dt < t[i].min_ms || dt > t[i].max_ms)
			fail_msg("case %zu: %s after %lld ms (%s)", i, estkit_strerror(rc), dt,
				 estd_store_errmsg(st));
		if (rc == ESTKIT_EBUSY) {
			assert_non_null(strstr(estd_store_errmsg(st), "stayed busy"));
			assert_int_equal(estd_store_http_status(rc), 503);
		}
		if (t[i].give_back_ms >= 0)
			pthread_join(th, NULL);
		else
			estd_pg_release(g.pg, g.c);
		/* the pool is whole again: the next call does not wait */
		t0 = now_ms();
		assert_int_equal(one_call(st, (unsigned char)(100 + i)), ESTKIT_OK);
		assert_true(now_ms() - t0 < 900);
		estd_store_close(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_wait_then_busy),
	};

	if (pg_conninfo()[0] == '\0')
		fprintf(stderr, "test_store_pool: no PostgreSQL (ESTKIT_TEST_PG or "
				"ESTKIT_TEST_PG_FILE); skipped\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
