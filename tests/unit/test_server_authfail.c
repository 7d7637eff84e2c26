/*
 * test_server_authfail.c - brute-force protection (lib/server/authfail.c):
 * peer address keys, the failure window, the growing delay, the lockout and
 * its end, other addresses left alone, the bounded table and its eviction,
 * and concurrent use from several threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include "server/server_internal.h"

struct addr_case {
	const char *peer;
	int ok;
	const char *same_as; /* another peer with the same key, or NULL */
};

static void test_addr_keys_ipv4_and_ipv6_prefix(void **state)
{
	static const struct addr_case cases[] = {
		{ "127.0.0.1:443", 1, "127.0.0.1" },
		{ "127.0.0.1", 1, "127.0.0.1:1" },
		{ "10.1.2.3:65535", 1, "[::ffff:10.1.2.3]:9" },
		{ "[2001:db8::1]:443", 1, "[2001:db8::ffff:1]:1" }, /* same /64 */
		{ "[2001:db8:0:1::1]:443", 1, "2001:db8:0:1::2" },
		{ "[::1]:5", 1, "::1" },
		/* malformed */
		{ NULL, 0, NULL },
		{ "", 0, NULL },
		{ ":443", 0, NULL },
		{ "[]:443", 0, NULL },
		{ "[::1:443", 0, NULL },
		{ "999.1.1.1:1", 0, NULL },
		{ "host.example:443", 0, NULL },
		{ "1.2.3.4.5:1", 0, NULL },
		{ "[" "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000" "]:1", 0,
		  NULL },
	};
	unsigned char a[16], b[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ek_addrkey_text(cases[i].peer, a);
		if (rc != (cases[i].ok ? 0 : -1))
			fail_msg("case %zu (%s): rc %d", i, cases[i].peer ? cases[i].peer : "NULL",
				 rc);
		if (cases[i].same_as != NULL) {
			assert_int_equal(ek_addrkey_text(cases[i].same_as, b), 0);
			assert_memory_equal(a, b, 16);
		}
	}
	/* different /64s and different IPv4 hosts differ */
	assert_int_equal(ek_addrkey_text("[2001:db8:0:1::1]:1", a), 0);
	assert_int_equal(ek_addrkey_text("[2001:db8:0:2::1]:1", b), 0);
	assert_memory_not_equal(a, b, 16);
	assert_int_equal(ek_addrkey_text("127.0.0.1:1", a), 0);
	assert_int_equal(ek_addrkey_text("127.0.0.2:1", b), 0);
	assert_memory_not_equal(a, b, 16);
}

static void test_new_refuses_bad_settings(void **state)
{
	static const struct ek_authfail_conf bad[] = {
		{ 0, 60, 300, 4096, 250 },  { -1, 60, 300, 4096, 250 }, { 10, 0, 300, 4096, 250 },
		{ 10, 60, 0, 4096, 250 },   { 10, 60, 300, 0, 250 },    { 10, 60, 300, 4096, -1 },
	};
	const struct ek_authfail_conf good = { 10, 60, 300, 4096, 0 };
	struct ek_authfail *af = NULL;
	size_t i;

	(void)state;
	assert_null(ek_authfail_new(NULL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(ek_authfail_new(&bad[i]));
	af = ek_authfail_new(&good);
	assert_non_null(af);
	ek_authfail_free(af);
	ek_authfail_free(NULL);
	/* a NULL tracker (disabled) never delays or refuses */
	assert_int_equal(ek_authfail_record(NULL, "1.2.3.4:1", 100, NULL), 0);
	assert_int_equal(ek_authfail_locked(NULL, "1.2.3.4:1", 100), 0);
}

/* One step of a scenario: at time t, peer fails (fail=1) or is looked up. */
struct step {
	int64_t t;
	const char *peer;
	int fail;
	unsigned delay;   /* expected delay of a failure, ms */
	int locked_now;   /* expected: this failure started a lockout */
	unsigned left;    /* expected lockout seconds left after the step */
};

static void run_steps(const struct ek_authfail_conf *c, const struct step *st, size_t n)
{
	struct ek_authfail *af = ek_authfail_new(c);
	size_t i;

	assert_non_null(af);
	for (i = 0; i < n; i++) {
		int locked = -1;
		if (st[i].fail) {
			unsigned d = ek_authfail_record(af, st[i].peer, st[i].t, &locked);
			if (d != st[i].delay || locked != st[i].locked_now)
				fail_msg("step %zu: delay %u (want %u) locked_now %d (want %d)", i, d,
					 st[i].delay, locked, st[i].locked_now);
		}
		if (ek_authfail_locked(af, st[i].peer, st[i].t) != st[i].left)
			fail_msg("step %zu: left %u want %u", i,
				 ek_authfail_locked(af, st[i].peer, st[i].t), st[i].left);
	}
	ek_authfail_free(af);
}

static void test_delay_grows_then_lockout_then_recovery(void **state)
{
	/* limit 3 in 10 s, lockout 20 s, 100 ms per earlier failure */
	static const struct ek_authfail_conf c = { 3, 10, 20, 64, 100 };
	static const struct step st[] = {
		{ 100, "10.0.0.1:1", 1, 0, 0, 0 },
		{ 101, "10.0.0.1:2", 1, 100, 0, 0 },
		{ 101, "10.0.0.2:1", 0, 0, 0, 0 },    /* another address: untouched */
		{ 102, "10.0.0.1:3", 1, 200, 1, 20 }, /* third: locked until 122 */
		{ 102, "10.0.0.2:1", 1, 0, 0, 0 },    /* and the other one has its own count */
		{ 110, "10.0.0.1:4", 0, 0, 0, 12 },
		{ 121, "10.0.0.1:4", 0, 0, 0, 1 },
		{ 122, "10.0.0.1:4", 0, 0, 0, 0 },    /* lockout over */
		{ 123, "10.0.0.1:5", 1, 0, 0, 0 },    /* and a fresh count */
		{ 124, "10.0.0.1:5", 1, 100, 0, 0 },
		/* failures spread wider than the window never lock */
		{ 200, "10.0.0.3:1", 1, 0, 0, 0 },
		{ 205, "10.0.0.3:1", 1, 100, 0, 0 },
		{ 210, "10.0.0.3:1", 1, 0, 0, 0 },    /* new window at 210 */
		{ 215, "10.0.0.3:1", 1, 100, 0, 0 },
		{ 219, "10.0.0.3:1", 1, 200, 1, 20 },
		/* failures during a lockout do not extend it */
		{ 230, "10.0.0.3:1", 1, 0, 0, 9 },
	};

	(void)state;
	run_steps(&c, st, sizeof(st) / sizeof(st[0]));
}

static void test_delay_is_capped(void **state)
{
	static const struct ek_authfail_conf c = { 1000, 60, 60, 64, 2000 };
	static const struct step st[] = {
		{ 1, "192.0.2.1:1", 1, 0, 0, 0 },
		{ 1, "192.0.2.1:1", 1, 2000, 0, 0 },
		{ 1, "192.0.2.1:1", 1, 4000, 0, 0 },
		{ 1, "192.0.2.1:1", 1, EK_AUTHFAIL_DELAY_MAX, 0, 0 },
		{ 1, "192.0.2.1:1", 1, EK_AUTHFAIL_DELAY_MAX, 0, 0 },
	};

	(void)state;
	run_steps(&c, st, sizeof(st) / sizeof(st[0]));
}

static void test_unparsable_peers_are_ignored(void **state)
{
	static const struct ek_authfail_conf c = { 1, 60, 60, 64, 100 };
	static const struct step st[] = {
		{ 1, "?:0", 1, 0, 0, 0 },
		{ 1, "not an address", 1, 0, 0, 0 },
		{ 1, "", 1, 0, 0, 0 },
	};

	(void)state;
	run_steps(&c, st, sizeof(st) / sizeof(st[0]));
}

static void test_table_is_bounded_and_keeps_lockouts(void **state)
{
	/* 16 slots; lock 4 addresses, then fail from 10000 others */
	static const struct ek_authfail_conf c = { 2, 60, 600, 16, 0 };
	struct ek_authfail *af = ek_authfail_new(&c);
	char peer[64];
	int i, locked = 0, kept = 0;

	(void)state;
	assert_non_null(af);
	for (i = 0; i < 4; i++) {
		snprintf(peer, sizeof(peer), "10.9.0.%d:1", i);
		(void)ek_authfail_record(af, peer, 10, NULL);
		(void)ek_authfail_record(af, peer, 10, &locked);
		assert_int_equal(locked, 1);
	}
	for (i = 0; i < 10000; i++) {
		snprintf(peer, sizeof(peer), "10.%d.%d.%d:1", 10 + i / 65536, (i / 256) % 256,
			 i % 256);
		(void)ek_authfail_record(af, peer, 11, NULL);
	}
	/* single failures evict each other before they evict a lockout */
	for (i = 0; i < 4; i++) {
		snprintf(peer, sizeof(peer), "10.9.0.%d:1", i);
		kept += ek_authfail_locked(af, peer, 12) > 0;
	}
	assert_int_equal(kept, 4);
	ek_authfail_free(af);
}

/* The table's old unkeyed hash (FNV-1a of the key): what an attacker could aim at. */
static size_t fnv_slot(const unsigned char k[16], size_t n)
{
	uint64_t h = 1469598103934665603ull;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return (size_t)(h % n);
}

static void test_aimed_addresses_do_not_evict_a_lockout(void **state)
{
	/*
	 * 16 addresses whose FNV-1a slot is the victim's: under an unkeyed
	 * hash they all probe the victim's window, fill it with lockouts and
	 * evict the victim's (the one ending first). Keyed, they land anywhere.
	 */
	static const struct ek_authfail_conf c = { 2, 60, 600, 4096, 0 };
	struct ek_authfail *af = ek_authfail_new(&c);
	unsigned char k[16];
	char peer[64];
	size_t want;
	int found = 0, i, locked = 0;

	(void)state;
	assert_non_null(af);
	assert_int_equal(ek_addrkey_text("10.0.0.1", k), 0);
	want = fnv_slot(k, 4096);
	(void)ek_authfail_record(af, "10.0.0.1:1", 10, NULL);
	(void)ek_authfail_record(af, "10.0.0.1:1", 10, &locked);
	assert_int_equal(locked, 1);
	for (i = 2; found < 16 && i < (1 << 24); i++) {
		snprintf(peer, sizeof(peer), "10.%d.%d.%d:1", i >> 16, (i >> 8) & 255, i & 255);
		assert_int_equal(ek_addrkey_text(peer, k), 0);
		if (fnv_slot(k, 4096) != want)
			continue;
		found++;
		(void)ek_authfail_record(af, peer, 11, NULL);
		(void)ek_authfail_record(af, peer, 11, NULL);
		assert_true(ek_authfail_locked(af, peer, 12) > 0);
	}
	assert_int_equal(found, 16);
	assert_int_equal(ek_authfail_locked(af, "10.0.0.1:1", 12), 598);
	ek_authfail_free(af);
}

struct thr_arg {
	struct ek_authfail *af;
	int locks;
};

static void *hammer(void *p)
{
	struct thr_arg *a = p;
	int i, locked = 0;

	for (i = 0; i < 5000; i++) {
		(void)ek_authfail_record(a->af, "203.0.113.7:1", 50, &locked);
		a->locks += locked;
		(void)ek_authfail_locked(a->af, "203.0.113.8:1", 50);
	}
	return NULL;
}

static void test_threads_share_one_count(void **state)
{
	static const struct ek_authfail_conf c = { 100, 60, 60, 64, 1 };
	struct thr_arg args[4];
	pthread_t t[4];
	int i, locks = 0;

	(void)state;
	memset(args, 0, sizeof(args));
	args[0].af = ek_authfail_new(&c);
	assert_non_null(args[0].af);
	for (i = 0; i < 4; i++) {
		args[i].af = args[0].af;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		locks += args[i].locks;
	}
	/* exactly one failure, on whichever thread, crossed the limit */
	assert_int_equal(locks, 1);
	assert_int_equal(ek_authfail_locked(args[0].af, "203.0.113.7:9", 50), 60);
	assert_int_equal(ek_authfail_locked(args[0].af, "203.0.113.8:9", 50), 0);
	ek_authfail_free(args[0].af);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_keys_ipv4_and_ipv6_prefix),
		cmocka_unit_test(test_new_refuses_bad_settings),
		cmocka_unit_test(test_delay_grows_then_lockout_then_recovery),
		cmocka_unit_test(test_delay_is_capped),
		cmocka_unit_test(test_unparsable_peers_are_ignored),
		cmocka_unit_test(test_table_is_bounded_and_keeps_lockouts),
		cmocka_unit_test(test_aimed_addresses_do_not_evict_a_lockout),
		cmocka_unit_test(test_threads_share_one_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
