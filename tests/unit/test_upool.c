/*
 * test_upool.c - the kept-alive upstream clients of backend = proxy
 * (backend/upool.h): matched by settings key and password, most recent
 * first, bounded in number (least recently used dropped) and idle time,
 * flushed by a reload (a client given back from before it is freed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "backend/upool.h"

static struct estkit_client *client(void)
{
	struct estkit_client *c = estkit_client_new("https://upstream.example:8443/lab");

	assert_non_null(c);
	return c;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* take() after one give(key, secret): which lookups find the client */
static void test_match_table(void **state)
{
	static const struct {
		const char *key, *secret;  /* given back with */
		const char *tkey, *tsecret; /* taken with */
		int found;
	} cases[] = {
		{ "a", NULL, "a", NULL, 1 },
		{ "a", "pw", "a", "pw", 1 },
		{ "a", "pw", "a", "pw2", 0 },
		{ "a", "pw", "a", "pW", 0 },
		{ "a", "pw", "a", NULL, 0 },
		{ "a", NULL, "a", "pw", 0 },
		{ "a", "pw", "b", "pw", 0 },
		{ "a\nurl", NULL, "a\nurl2", NULL, 0 },
		{ "", "", "", "", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_upool *p = estd_upool_new(4);
		struct estkit_client *c = client(), *got;

		assert_non_null(p);
		estd_upool_give(p, cases[i].key, cases[i].secret, estd_upool_gen(p), 10000, c);
		assert_int_equal(estd_upool_idle(p), 1);
		got = estd_upool_take(p, cases[i].tkey, cases[i].tsecret);
		if ((got == c) != cases[i].found)
			fail_msg("case %zu: found %d", i, got == c);
		assert_int_equal(estd_upool_idle(p), cases[i].found ? 0 : 1);
		/* taken once only */
		assert_null(estd_upool_take(p, cases[i].tkey, cases[i].tsecret));
		estkit_client_free(got);
		estd_upool_free(p);
	}
}

static void test_most_recent_first_and_bounded(void **state)
{
	struct estd_upool *p = estd_upool_new(2);
	struct estkit_client *c1 = client(), *c2 = client(), *c3 = client(), *got;

	(void)state;
	assert_null(estd_upool_take(p, "k", NULL));
	estd_upool_give(p, "k", NULL, estd_upool_gen(p), 10000, c1);
	estd_upool_give(p, "k", NULL, estd_upool_gen(p), 10000, c2);
	/* full: c1, the least recently given back, is freed for c3 */
	estd_upool_give(p, "other", NULL, estd_upool_gen(p), 10000, c3);
	assert_int_equal(estd_upool_idle(p), 2);
	got = estd_upool_take(p, "k", NULL);
	assert_ptr_equal(got, c2);
	assert_null(estd_upool_take(p, "k", NULL));
	estkit_client_free(got);
	got = estd_upool_take(p, "other", NULL);
	assert_ptr_equal(got, c3);
	estkit_client_free(got);
	/* NULL client and idle 0: nothing kept */
	estd_upool_give(p, "k", NULL, estd_upool_gen(p), 10000, NULL);
	estd_upool_give(p, "k", NULL, estd_upool_gen(p), 0, client());
	assert_int_equal(estd_upool_idle(p), 0);
	estd_upool_free(p);
	estd_upool_free(NULL);
}

static void test_idle_time_limit(void **state)
{
	struct estd_upool *p = estd_upool_new(4);
	struct estkit_client *keep = client(), *got;

	(void)state;
	estd_upool_give(p, "short", NULL, estd_upool_gen(p), 50, client());
	estd_upool_give(p, "long", NULL, estd_upool_gen(p), 10000, keep);
	sleep_ms(120);
	assert_null(estd_upool_take(p, "short", NULL)); /* expired, freed on the way */
	assert_int_equal(estd_upool_idle(p), 1);
	got = estd_upool_take(p, "long", NULL);
	assert_ptr_equal(got, keep);
	estkit_client_free(got);
	estd_upool_free(p);
}

static void test_flush_and_generation(void **state)
{
	struct estd_upool *p = estd_upool_new(4);
	unsigned before = estd_upool_gen(p);

	(void)state;
	estd_upool_give(p, "k", "pw", before, 10000, client());
	estd_upool_give(p, "k", "pw", before, 10000, client());
	estd_upool_flush(p); /* a reload */
	assert_int_equal(estd_upool_idle(p), 0);
	assert_int_not_equal(estd_upool_gen(p), before);
	/* a request that started before the reload gives its client back: freed */
	estd_upool_give(p, "k", "pw", before, 10000, client());
	assert_int_equal(estd_upool_idle(p), 0);
	estd_upool_give(p, "k", "pw", estd_upool_gen(p), 10000, client());
	assert_int_equal(estd_upool_idle(p), 1);
	estd_upool_free(p); /* frees the idle one (ASan: no leak) */
}

static void test_zero_capacity(void **state)
{
	struct estd_upool *p = estd_upool_new(0);

	(void)state;
	assert_non_null(p);
	estd_upool_give(p, "k", NULL, estd_upool_gen(p), 10000, client());
	assert_int_equal(estd_upool_idle(p), 0);
	assert_null(estd_upool_take(p, "k", NULL));
	estd_upool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_most_recent_first_and_bounded),
		cmocka_unit_test(test_idle_time_limit),
		cmocka_unit_test(test_flush_and_generation),
		cmocka_unit_test(test_zero_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
