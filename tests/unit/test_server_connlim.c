/*
 * test_server_connlim.c - the per-address connection limit table
 * (lib/server/connlim.c): keys of IPv4 and IPv6 socket addresses (/64
 * grouping, mapped IPv4, bad families and lengths), the limit per address,
 * slots given back and reused, a full table (new addresses refused, known
 * ones still counted), the rate-limited report, and concurrent use from
 * several threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <cmocka.h>
#include "server/server_internal.h"

/* A socket address from text ("a.b.c.d" or an IPv6 address); 0 or -1. */
static int sockaddr_of(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(4433);
		*len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(4434);
		*len = sizeof(*v6);
		return 0;
	}
	return -1;
}

static void key_of(const char *text, unsigned char key[16])
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	assert_int_equal(sockaddr_of(text, &ss, &len), 0);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len, key), 0);
}

struct key_case {
	const char *a, *b;
	int same;
};

static void test_keys_group_ipv6_by_64_and_keep_ipv4_whole(void **state)
{
	static const struct key_case cases[] = {
		{ "127.0.0.1", "127.0.0.1", 1 },
		{ "127.0.0.1", "127.0.0.2", 0 },
		{ "10.1.2.3", "::ffff:10.1.2.3", 1 },       /* mapped IPv4 is the IPv4 host */
		{ "::ffff:10.1.2.3", "::ffff:10.1.2.4", 0 }, /* ... not cut to a /64 */
		{ "2001:db8::1", "2001:db8::ffff:1", 1 },    /* same /64 */
		{ "2001:db8:0:1::1", "2001:db8:0:1:8000::9", 1 },
		{ "2001:db8:0:1::1", "2001:db8:0:2::1", 0 }, /* next /64 */
		{ "::1", "::2", 1 },
		{ "::1", "127.0.0.1", 0 },
	};
	unsigned char a[16], b[16], want[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key_of(cases[i].a, a);
		key_of(cases[i].b, b);
		if ((memcmp(a, b, 16) == 0) != cases[i].same)
			fail_msg("case %zu: %s vs %s", i, cases[i].a, cases[i].b);
	}
	/* the format of the brute-force tracker's keys */
	key_of("192.0.2.7", a);
	assert_int_equal(ek_addrkey_text("192.0.2.7:1", want), 0);
	assert_memory_equal(a, want, 16);
	key_of("2001:db8:1:2:3:4:5:6", a);
	assert_int_equal(ek_addrkey_text("[2001:db8:1:2::]:1", want), 0);
	assert_memory_equal(a, want, 16);
}

static void test_keys_refuse_other_families_and_short_lengths(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	unsigned char key[16];

	(void)state;
	assert_int_equal(ek_addrkey_sockaddr(NULL, 0, key), -1);
	assert_int_equal(sockaddr_of("192.0.2.1", &ss, &len), 0);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len - 1, key), -1);
	assert_int_equal(sockaddr_of("2001:db8::1", &ss, &len), 0);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, sizeof(struct sockaddr_in), key),
			 -1);
	ss.ss_family = AF_UNIX;
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, sizeof(ss), key), -1);
	ss.ss_family = AF_UNSPEC;
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, sizeof(ss), key), -1);
}

static void test_new_refuses_bad_settings(void **state)
{
	static const int bad[][2] = { { 0, 16 }, { -1, 16 }, { 4, 0 }, { 4, -5 }, { 4, 1 << 27 } };
	struct ek_connlim *cl = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(ek_connlim_new(bad[i][0], bad[i][1]));
	cl = ek_connlim_new(1, 1);
	assert_non_null(cl);
	ek_connlim_free(cl);
	ek_connlim_free(NULL);
}

static void test_limit_per_address_and_slots_given_back(void **state)
{
	struct ek_connlim *cl = ek_connlim_new(3, 64);
	struct ek_connlim_stats st;
	unsigned char a[16], a2[16], b[16];
	int slots[3], extra = 0, i, cycle;

	(void)state;
	assert_non_null(cl);
	key_of("2001:db8:0:7::1", a);
	key_of("2001:db8:0:7::beef", a2); /* the same /64 */
	key_of("198.51.100.9", b);
	for (cycle = 0; cycle < 100; cycle++) {
		assert_int_equal(ek_connlim_acquire(cl, a, &slots[0]), EK_CONNLIM_OK);
		assert_int_equal(ek_connlim_acquire(cl, a2, &slots[1]), EK_CONNLIM_OK);
		assert_int_equal(ek_connlim_acquire(cl, a, &slots[2]), EK_CONNLIM_OK);
		assert_int_equal(slots[0], slots[1]); /* one entry per address */
		assert_int_equal(ek_connlim_held(cl, a2), 3);
		/* the fourth from the /64 is refused; another address is not */
		assert_int_equal(ek_connlim_acquire(cl, a2, &extra), EK_CONNLIM_OVER);
		assert_int_equal(extra, -1);
		assert_int_equal(ek_connlim_acquire(cl, b, &extra), EK_CONNLIM_OK);
		ek_connlim_release(cl, extra);
		for (i = 0; i < 3; i++)
			ek_connlim_release(cl, slots[i]);
		assert_int_equal(ek_connlim_held(cl, a), 0);
	}
	ek_connlim_stats(cl, &st);
	assert_int_equal(st.refused, 100);
	assert_int_equal(st.refused_full, 0);
	assert_int_equal(st.addresses, 0);
	assert_int_equal(st.connections, 0);
	/* stray releases (out of range, already free) change nothing */
	ek_connlim_release(cl, -1);
	ek_connlim_release(cl, 64);
	ek_connlim_release(cl, slots[0]);
	ek_connlim_release(NULL, 0);
	ek_connlim_stats(cl, &st);
	assert_int_equal(st.connections, 0);
	assert_int_equal(ek_connlim_acquire(cl, a, &slots[0]), EK_CONNLIM_OK);
	assert_int_equal(ek_connlim_held(cl, a), 1);
	ek_connlim_free(cl);
}

static void test_full_table_refuses_new_addresses_only(void **state)
{
	struct ek_connlim *cl = ek_connlim_new(2, 4);
	struct ek_connlim_stats st;
	unsigned char k[6][16];
	char text[32];
	int slots[6], s = -1, i;

	(void)state;
	assert_non_null(cl);
	for (i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "203.0.113.%d", i + 1);
		key_of(text, k[i]);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(ek_connlim_acquire(cl, k[i], &slots[i]), EK_CONNLIM_OK);
	/* a fifth address finds no entry: refused (fail closed) */
	assert_int_equal(ek_connlim_acquire(cl, k[4], &s), EK_CONNLIM_FULL);
	assert_int_equal(s, -1);
	/* an address already in the table still gets up to its limit */
	assert_int_equal(ek_connlim_acquire(cl, k[0], &s), EK_CONNLIM_OK);
	assert_int_equal(s, slots[0]);
	assert_int_equal(ek_connlim_acquire(cl, k[0], &s), EK_CONNLIM_OVER);
	ek_connlim_stats(cl, &st);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.refused_full, 1);
	assert_int_equal(st.addresses, 4);
	assert_int_equal(st.connections, 5);
	/* an address whose last connection closed frees its entry for another */
	ek_connlim_release(cl, slots[2]);
	assert_int_equal(ek_connlim_acquire(cl, k[5], &slots[5]), EK_CONNLIM_OK);
	assert_int_equal(slots[5], slots[2]);
	assert_int_equal(ek_connlim_held(cl, k[2]), 0);
	assert_int_equal(ek_connlim_acquire(cl, k[2], &s), EK_CONNLIM_FULL);
	ek_connlim_free(cl);
}

static void test_report_is_rate_limited(void **state)
{
	struct ek_connlim *cl = ek_connlim_new(1, 8);
	unsigned char a[16];
	uint64_t n = 99;
	int s = -1, x = -1, i;

	(void)state;
	assert_non_null(cl);
	key_of("192.0.2.1", a);
	assert_int_equal(ek_connlim_report_due(cl, 1000, &n), 0); /* nothing refused yet */
	assert_int_equal(n, 0);
	assert_int_equal(ek_connlim_acquire(cl, a, &s), EK_CONNLIM_OK);
	assert_int_equal(ek_connlim_acquire(cl, a, &x), EK_CONNLIM_OVER);
	assert_int_equal(ek_connlim_report_due(cl, 1000, &n), 1); /* the first one at once */
	assert_int_equal(n, 1);
	for (i = 0; i < 5; i++)
		assert_int_equal(ek_connlim_acquire(cl, a, &x), EK_CONNLIM_OVER);
	assert_int_equal(ek_connlim_report_due(cl, 1000 + EK_CONNLIM_REPORT_EVERY - 1, &n), 0);
	assert_int_equal(ek_connlim_report_due(cl, 1000 + EK_CONNLIM_REPORT_EVERY, &n), 1);
	assert_int_equal(n, 5); /* none lost in between */
	assert_int_equal(ek_connlim_report_due(cl, 5000, &n), 0); /* none since */
	ek_connlim_free(cl);
}

struct hammer_arg {
	struct ek_connlim *cl;
	int ok, over;
};

/* Each thread takes and gives back connections of one shared address. */
static void *hammer(void *p)
{
	struct hammer_arg *h = p;
	unsigned char a[16];
	int slots[8], i, j, n;

	key_of("2001:db8:aa:bb::1", a);
	for (i = 0; i < 2000; i++) {
		for (n = 0, j = 0; j < 8; j++) {
			int s = -1;
			enum ek_connlim_verdict v = ek_connlim_acquire(h->cl, a, &s);
			if (v == EK_CONNLIM_OK) {
				slots[n++] = s;
				h->ok++;
			} else {
				h->over++;
			}
		}
		for (j = 0; j < n; j++)
			ek_connlim_release(h->cl, slots[j]);
	}
	return NULL;
}

static void test_threads_share_one_count(void **state)
{
	struct hammer_arg args[4];
	struct ek_connlim_stats st;
	pthread_t t[4];
	int i, ok = 0, over = 0;

	(void)state;
	memset(args, 0, sizeof(args));
	args[0].cl = ek_connlim_new(10, 16);
	assert_non_null(args[0].cl);
	for (i = 0; i < 4; i++) {
		args[i].cl = args[0].cl;
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ok += args[i].ok;
		over += args[i].over;
	}
	assert_int_equal(ok + over, 4 * 2000 * 8);
	ek_connlim_stats(args[0].cl, &st);
	assert_int_equal(st.refused, (uint64_t)over);
	assert_int_equal(st.connections, 0); /* every slot came back */
	assert_int_equal(st.addresses, 0);
	ek_connlim_free(args[0].cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_group_ipv6_by_64_and_keep_ipv4_whole),
		cmocka_unit_test(test_keys_refuse_other_families_and_short_lengths),
		cmocka_unit_test(test_new_refuses_bad_settings),
		cmocka_unit_test(test_limit_per_address_and_slots_given_back),
		cmocka_unit_test(test_full_table_refuses_new_addresses_only),
		cmocka_unit_test(test_report_is_rate_limited),
		cmocka_unit_test(test_threads_share_one_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
