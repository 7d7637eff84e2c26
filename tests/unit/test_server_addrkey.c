/*
 * test_server_addrkey.c - peer address keys and their keyed hash
 * (lib/server/addrkey.c): IPv4, IPv4-mapped IPv6 and /64 grouping from
 * socket addresses, text and sockets; malformed socket addresses and text;
 * a secret that differs per table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include "server/addrkey.h"

/* A socket address from text ("a.b.c.d" or an IPv6 address). */
static socklen_t sockaddr_of(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		return sizeof(*v4);
	}
	assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
	v6->sin6_family = AF_INET6;
	return sizeof(*v6);
}

struct key_case {
	const char *addr;
	const char *key; /* the expected key as an IPv6 address */
};

static void test_keys_are_ipv4_mapped_or_ipv6_prefix(void **state)
{
	static const struct key_case cases[] = {
		{ "192.0.2.7", "::ffff:192.0.2.7" },
		{ "0.0.0.0", "::ffff:0.0.0.0" },
		{ "::ffff:192.0.2.7", "::ffff:192.0.2.7" },  /* v4-mapped: the IPv4 host, whole */
		{ "::ffff:192.0.2.8", "::ffff:192.0.2.8" },
		{ "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::" }, /* /64 */
		{ "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::" },
		{ "::1", "::" },
		{ "::ffff:0:1.2.3.4", "::" }, /* not mapped (SIIT): an IPv6 /64 */
		{ "64:ff9b::192.0.2.7", "64:ff9b::" },   /* NAT64: an IPv6 /64 */
	};
	struct sockaddr_storage ss;
	unsigned char got[16], want[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		socklen_t len = sockaddr_of(cases[i].addr, &ss);

		assert_int_equal(inet_pton(AF_INET6, cases[i].key, want), 1);
		memset(got, 0xaa, sizeof(got));
		assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len, got), 0);
		if (memcmp(got, want, 16) != 0)
			fail_msg("case %zu (%s): wrong key", i, cases[i].addr);
		/* the text of evhttp gives the same key, with or without a port */
		assert_int_equal(ek_addrkey_text(cases[i].addr, got), 0);
		if (memcmp(got, want, 16) != 0)
			fail_msg("case %zu (%s): wrong text key", i, cases[i].addr);
	}
}

static void test_malformed_socket_addresses_are_refused(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	unsigned char key[16];
	socklen_t len;

	(void)state;
	assert_int_equal(ek_addrkey_sockaddr(NULL, sizeof(ss), key), -1);
	len = sockaddr_of("192.0.2.1", &ss);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len, NULL), -1);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len - 1, key), -1);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, 0, key), -1);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, 1, key), -1);
	len = sockaddr_of("2001:db8::1", &ss);
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, len - 1, key), -1);
	/* an AF_INET6 address in the room of an IPv4 one */
	assert_int_equal(
		ek_addrkey_sockaddr((struct sockaddr *)&ss, sizeof(struct sockaddr_in), key), -1);
	ss.ss_family = AF_UNSPEC;
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&ss, sizeof(ss), key), -1);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(ek_addrkey_sockaddr((struct sockaddr *)&un, sizeof(un), key), -1);
}

struct text_case {
	const char *peer;
	const char *same_as; /* NULL: malformed */
};

static void test_text_forms_and_malformed_text(void **state)
{
	static const struct text_case cases[] = {
		{ "127.0.0.1:443", "127.0.0.1" },
		{ "[::ffff:10.1.2.3]:9", "10.1.2.3:1" },
		{ "[2001:db8::1]:443", "2001:db8::ffff:1" },
		{ "[2001:db8::1]", "2001:db8::2" },
		{ NULL, NULL },
		{ "", NULL },
		{ ":1", NULL },
		{ "[]:1", NULL },
		{ "[::1:1", NULL },
		{ "1.2.3:1", NULL },
		{ "256.1.1.1", NULL },
		{ "localhost:80", NULL },
		{ "fe80::1%lo", NULL },
		{ "[1111:2222:3333:4444:5555:6666:7777:8888:9999]:1", NULL },
		{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:1", NULL },
	};
	unsigned char a[16], b[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ek_addrkey_text(cases[i].peer, a);

		if (rc != (cases[i].same_as != NULL ? 0 : -1))
			fail_msg("case %zu (%s): rc %d", i, cases[i].peer ? cases[i].peer : "NULL",
				 rc);
		if (cases[i].same_as == NULL)
			continue;
		assert_int_equal(ek_addrkey_text(cases[i].same_as, b), 0);
		assert_memory_equal(a, b, 16);
	}
}

static void test_socket_peer_key_and_text(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	unsigned char key[16], want[16];
	char host[64];
	int lfd = -1, cfd = -1, afd = -1, pair[2] = { -1, -1 };

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_true((cfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
	assert_int_equal(ek_addrkey_fd(afd, key, host, sizeof(host)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(ek_addrkey_text("127.0.0.1", want), 0);
	assert_memory_equal(key, want, 16);
	assert_int_equal(ek_addrkey_fd(afd, key, NULL, 0), 0);
	assert_int_equal(ek_addrkey_fd(afd, key, host, 8), -1); /* too small for any address */
	/* not a connected IP socket */
	assert_int_equal(ek_addrkey_fd(-1, key, NULL, 0), -1);
	assert_int_equal(ek_addrkey_fd(lfd, key, NULL, 0), -1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	assert_int_equal(ek_addrkey_fd(pair[0], key, host, sizeof(host)), -1);
	close(pair[0]);
	close(pair[1]);
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_hash_secret_differs_per_table(void **state)
{
	struct ek_addrhash h1, h2;
	unsigned char k[16];
	unsigned same = 0, buckets[64] = { 0 }, i, max = 0;

	(void)state;
	assert_int_equal(ek_addrhash_init(&h1), 0);
	assert_int_equal(ek_addrhash_init(&h2), 0);
	assert_true(h1.k0 != h2.k0 || h1.k1 != h2.k1);
	assert_int_equal(ek_addrhash_init(NULL), -1);
	for (i = 0; i < 4096; i++) {
		char peer[64];

		snprintf(peer, sizeof(peer), "2001:db8:%x:%x::1", i >> 8, i & 255);
		assert_int_equal(ek_addrkey_text(peer, k), 0);
		/* one table hashes a key the same way every time */
		assert_true(ek_addrhash(&h1, k) == ek_addrhash(&h1, k));
		same += ek_addrhash(&h1, k) == ek_addrhash(&h2, k);
		buckets[ek_addrhash(&h1, k) & 63]++;
	}
	/* two tables do not agree on where a key goes */
	assert_true(same == 0);
	/* consecutive /64s spread over the buckets (4096 / 64 = 64 each on average) */
	for (i = 0; i < 64; i++)
		max = buckets[i] > max ? buckets[i] : max;
	assert_true(max < 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_are_ipv4_mapped_or_ipv6_prefix),
		cmocka_unit_test(test_malformed_socket_addresses_are_refused),
		cmocka_unit_test(test_text_forms_and_malformed_text),
		cmocka_unit_test(test_socket_peer_key_and_text),
		cmocka_unit_test(test_hash_secret_differs_per_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
