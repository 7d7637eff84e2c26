/*
 * test_est_bench.c - `est bench`: its option parsing (src/est/bench_args.c)
 * and its statistics and report (src/est/bench_stats.c), compiled in here
 * because `est` is not a library.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common.c"
#include "bench_args.c"
#include "bench_stats.c"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_percentile_nearest_rank_table(void **state)
{
	static const uint64_t one[] = {7};
	static const uint64_t ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	static const uint64_t dup[] = {5, 5, 5, 5, 9};
	static const struct {
		const uint64_t *v;
		size_t n;
		double p;
		uint64_t want;
	} cases[] = {
	    {ten, 10, 50, 5},   {ten, 10, 90, 9},    {ten, 10, 99, 10},  {ten, 10, 100, 10},
	    {ten, 10, 10, 1},   {ten, 10, 10.5, 2},  {ten, 10, 0.001, 1}, {one, 1, 50, 7},
	    {one, 1, 99, 7},    {dup, 5, 80, 5},     {dup, 5, 81, 9},    {ten, 0, 50, 0},
	    {NULL, 3, 50, 0},   {ten, 10, 0, 0},     {ten, 10, -5, 0},   {ten, 10, 150, 10},
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		print_message("case %zu: n=%zu p=%g\n", i, cases[i].n, cases[i].p);
		assert_int_equal(est_bench_percentile(cases[i].v, cases[i].n, cases[i].p),
		                 cases[i].want);
	}
}

static void test_percentiles_of_a_large_run(void **state)
{
	struct est_bench_stats s, t;
	uint64_t i;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	/* 1..100000 recorded in reverse and in two workers, then merged and sorted */
	for (i = 100000; i > 50000; i--)
		assert_int_equal(est_bench_stats_ok(&s, i), 0);
	for (i = 50000; i > 0; i--)
		assert_int_equal(est_bench_stats_ok(&t, i), 0);
	assert_int_equal(est_bench_stats_merge(&s, &t), 0);
	est_bench_stats_sort(&s);
	assert_int_equal(s.ok, 100000);
	assert_int_equal(s.nlat, 100000);
	assert_int_equal(est_bench_percentile(s.lat_us, s.nlat, 50), 50000);
	assert_int_equal(est_bench_percentile(s.lat_us, s.nlat, 90), 90000);
	assert_int_equal(est_bench_percentile(s.lat_us, s.nlat, 99), 99000);
	assert_int_equal(est_bench_percentile(s.lat_us, s.nlat, 99.9), 99900);
	assert_int_equal(est_bench_percentile(s.lat_us, s.nlat, 100), 100000);
	est_bench_stats_clear(&s);
	est_bench_stats_clear(&t);
	assert_null(s.lat_us);
}

static void test_error_kind_table(void **state)
{
	static const struct {
		enum estkit_status rc;
		long http;
		const char *want;
	} cases[] = {
	    {ESTKIT_EAUTH, 401, "http_401"},    {ESTKIT_EHTTP, 503, "http_503"},
	    {ESTKIT_EPENDING, 202, "http_202"}, {ESTKIT_ETLS, 0, "tls"},
	    {ESTKIT_EUNTRUSTED, 0, "tls"},      {ESTKIT_ETIMEOUT, 0, "timeout"},
	    {ESTKIT_ENET, 0, "network"},        {ESTKIT_EPROTO, 200, "bad_response"},
	    {ESTKIT_EPARSE, 200, "bad_response"}, {ESTKIT_ENOMEM, 0, "other"},
	    {ESTKIT_EHTTP, 123456789, "http_999"}, {ESTKIT_EHTTP, -1, "other"},
	};
	char kind[EST_BENCH_KIND_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		print_message("case %zu: %d/%ld\n", i, (int)cases[i].rc, cases[i].http);
		est_bench_error_kind(cases[i].rc, cases[i].http, kind);
		assert_string_equal(kind, cases[i].want);
	}
}

static void test_failures_by_kind_keep_first_message_and_overflow(void **state)
{
	struct est_bench_stats s, t;
	char name[EST_BENCH_KIND_LEN + 20];
	char longmsg[1000];
	int i;

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	est_bench_stats_fail(&s, "http_503", "busy");
	est_bench_stats_fail(&s, "http_503", "later message");
	est_bench_stats_fail(&s, "", NULL);
	assert_int_equal(s.nkinds, 2);
	assert_string_equal(s.kinds[0].first, "busy");
	assert_int_equal(s.kinds[0].count, 2);
	assert_string_equal(s.kinds[1].name, "other");
	/* oversized kind and message are cut, not overflowed */
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	est_bench_stats_fail(&t, longmsg, longmsg);
	assert_int_equal(strlen(t.kinds[0].name), EST_BENCH_KIND_LEN - 1);
	assert_int_equal(strlen(t.kinds[0].first), EST_BENCH_MSG_LEN - 1);
	/* more kinds than slots: the rest are counted, none lost */
	for (i = 0; i < 3 * EST_BENCH_KIND_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		est_bench_stats_fail(&t, name, "m");
	}
	assert_int_equal(t.nkinds, EST_BENCH_KIND_MAX);
	assert_int_equal(t.failed, 3 * EST_BENCH_KIND_MAX + 1);
	assert_int_equal(est_bench_stats_merge(&s, &t), 0);
	assert_int_equal(s.failed, 3 * EST_BENCH_KIND_MAX + 4);
	{
		uint64_t sum = 0;
		size_t k;

		for (k = 0; k < s.nkinds; k++)
			sum += s.kinds[k].count;
		assert_int_equal(sum, s.failed);
	}
	est_bench_stats_clear(&s);
	est_bench_stats_clear(&t);
}

/* The JSON report: the fields scripts read, and strings escaped. */
static void test_json_report(void **state)
{
	struct est_bench_opts o;
	struct est_bench_run r = {.wall_s = 2.0, .cpu_s = 0.5, .distinct_keys = 8, .tls = "1.3"};
	struct est_bench_stats s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint64_t i;

	(void)state;
	assert_non_null(f);
	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	o.conn.server = "https://h/\"x\\";
	o.op = EST_BENCH_SIMPLEENROLL;
	o.concurrency = 3;
	o.json = 1;
	for (i = 1; i <= 100; i++)
		assert_int_equal(est_bench_stats_ok(&s, i * 1000), 0);
	est_bench_stats_fail(&s, "http_503", "say \"no\"\n");
	est_bench_report(f, &o, &r, &s);
	fclose(f);
	print_message("%s", buf);
	assert_non_null(strstr(buf, "\"op\": \"simpleenroll\""));
	assert_non_null(strstr(buf, "\"server\": \"https://h/\\\"x\\\\\""));
	assert_non_null(strstr(buf, "\"requests\": 101, \"ok\": 100, \"errors\": 1, \"rps\": 50.00"));
	assert_non_null(strstr(buf, "\"p50\": 50.000, \"p90\": 90.000, \"p99\": 99.000, "
	                            "\"max\": 100.000"));
	assert_non_null(strstr(buf, "\"http_503\": {\"count\": 1, \"first\": \"say \\\"no\\\"\\u000a\"}"));
	assert_non_null(strstr(buf, "\"distinct_keys\": 8"));
	assert_non_null(strstr(buf, "\"keepalive\": false, \"tls\": \"1.3\""));
	free(buf);
	est_bench_stats_clear(&s);
}

/* ---- arguments ---------------------------------------------------------------------- */

#define MAXARGS 24

static int parse_words(const char *line, struct est_bench_opts *o)
{
	static char copy[1024];
	char *argv[MAXARGS + 1];
	int argc = 0;
	char *p = NULL;

	snprintf(copy, sizeof(copy), "bench %s", line);
	for (p = copy; *p != '\0' && argc < MAXARGS;) {
		argv[argc++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
	argv[argc] = NULL;
	return est_bench_parse(argc, argv, o);
}

#define BASE "--server https://h:1 --cacert ca.pem "

static void test_parse_table(void **state)
{
	static const struct {
		const char *args;
		int rc;
		enum est_bench_op op;
		long conc, dur, req;
		int keepalive, tls;
	} cases[] = {
	    {BASE "--op cacerts --requests 20", 0, EST_BENCH_CACERTS, 1, 0, 20, 0, 0},
	    {BASE "--op simpleenroll --duration 5 --concurrency 8 --keepalive --tls1.2", 0,
	     EST_BENCH_SIMPLEENROLL, 8, 5, 0, 1, TLS1_2_VERSION},
	    {BASE "--op serverkeygen -d 1 -n 1000 --tls1.3 --json", 0, EST_BENCH_SERVERKEYGEN,
	     1000, 1, 0, 0, TLS1_3_VERSION},
	    {"--server https://h:1 --trust ca.pem --op simplereenroll -r 3 --cert c --key k", 0,
	     EST_BENCH_SIMPLEREENROLL, 1, 0, 3, 0, 0},
	    {BASE "--op simplereenroll -r 3 --user u", 0, EST_BENCH_SIMPLEREENROLL, 1, 0, 3, 0, 0},
	    {BASE "--op simpleenroll -r 3 --keys 5 --key-type rsa:2048", 0, EST_BENCH_SIMPLEENROLL,
	     1, 0, 3, 0, 0},
	    /* malformed, missing, out of range, conflicting */
	    {"--cacert ca.pem --op cacerts -r 1", 2, 0, 0, 0, 0, 0, 0},
	    {"--server https://h:1 --op cacerts -r 1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "-r 1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 -d 1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op enroll -r 1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 0", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r -1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 99999999999999999999", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 100000001", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -d 86401", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 -n 0", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 -n 1001", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 -n 12x", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --tls1.2 --tls1.3", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --cert c", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op simplereenroll -r 1", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --keys 4", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op simpleenroll -r 1 --keys 100001", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --password pw", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --auth ntlm", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --bogus", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 extra", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r", 2, 0, 0, 0, 0, 0, 0},
	    {BASE "--op cacerts -r 1 --timeout 0", 2, 0, 0, 0, 0, 0, 0},
	    {"--help", -1, 0, 0, 0, 0, 0, 0},
	};
	struct est_bench_opts o;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		int rc = 0;

		print_message("case %zu: %s\n", i, cases[i].args);
		rc = parse_words(cases[i].args, &o);
		assert_int_equal(rc, cases[i].rc);
		if (rc != 0)
			continue;
		assert_int_equal(o.op, cases[i].op);
		assert_int_equal(o.concurrency, cases[i].conc);
		assert_int_equal(o.duration, cases[i].dur);
		assert_int_equal(o.requests, cases[i].req);
		assert_int_equal(o.keepalive, cases[i].keepalive);
		assert_int_equal(o.conn.tls_max, cases[i].tls);
		assert_string_equal(o.conn.server, "https://h:1");
		assert_string_equal(o.conn.cacert, "ca.pem");
	}
}

static void test_op_names(void **state)
{
	(void)state;
	assert_string_equal(est_bench_op_name(EST_BENCH_CACERTS), "cacerts");
	assert_string_equal(est_bench_op_name(EST_BENCH_SERVERKEYGEN), "serverkeygen");
	assert_string_equal(est_bench_op_name((enum est_bench_op)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_percentile_nearest_rank_table),
	    cmocka_unit_test(test_percentiles_of_a_large_run),
	    cmocka_unit_test(test_error_kind_table),
	    cmocka_unit_test(test_failures_by_kind_keep_first_message_and_overflow),
	    cmocka_unit_test(test_json_report),
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_op_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
