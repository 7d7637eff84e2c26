/*
 * test_admin.c - the output of `estd certs` (JSON, table, show) and the
 * small helpers it stands on (util.h). The commands themselves are driven
 * end to end by tests/e2e.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "store/store.h"
#include "util.h"

/* Runs fn(out, arg) on a memory stream and returns what it wrote (caller frees). */
static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	assert_non_null(mem);
	fn(mem, arg);
	assert_int_equal(fclose(mem), 0);
	return buf;
}

static void json_of(FILE *out, const void *s)
{
	estd_json_string(out, s);
}

static void printable_of(FILE *out, const void *s)
{
	estd_fputs_printable(out, s);
}

static void test_json_string_escapes_quotes_controls_and_bad_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", "\"\""},
		{"CN=a", "\"CN=a\""},
		{"a\"b", "\"a\\\"b\""},
		{"a\\b", "\"a\\\\b\""},
		{"l1\nl2\tx", "\"l1\\nl2\\tx\""},
		{"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
		{"caf\xc3\xa9", "\"caf\xc3\xa9\""},                /* valid UTF-8 kept */
		{"\xe2\x82\xac", "\"\xe2\x82\xac\""},              /* euro sign */
		{"\xf0\x9f\x94\x91", "\"\xf0\x9f\x94\x91\""},      /* 4-byte sequence */
		{"\xff", "\"\\ufffd\""},                           /* never valid */
		{"\xc3", "\"\\ufffd\""},                           /* truncated at the end */
		{"\xc3(", "\"\\ufffd(\""},                         /* bad continuation */
		{"\xc0\xaf", "\"\\ufffd\\ufffd\""},                /* overlong '/' */
		{"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},     /* overlong, 3 bytes */
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},     /* UTF-16 surrogate */
		{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = capture(json_of, cases[i].in);

		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got %s want %s", i, got, cases[i].out);
		free(got);
	}
}

static void test_printable_neutralises_terminal_controls(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"CN=plain", "CN=plain"},
		{"CN=\x1b[31mred", "CN=?[31mred"}, /* ESC */
		{"a\rb\nc", "a?b?c"},
		{"\x7f", "?"},
		{"\xc2\x9b" "2J", "?2J"},          /* C1 CSI as UTF-8 */
		{"\x9b" "2J", "?2J"},              /* raw C1 byte: invalid UTF-8 */
		{"caf\xc3\xa9", "caf\xc3\xa9"},
		{"\xe2\x82", "??"},                /* truncated */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = capture(printable_of, cases[i].in);

		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got '%s' want '%s'", i, got, cases[i].out);
		free(got);
	}
}

static struct estd_cert_record sample(const char *label, const char *subject)
{
	struct estd_cert_record r;

	memset(&r, 0, sizeof(r));
	r.serial = "1a2b";
	r.subject = (char *)subject;
	r.issuer = "CN=CA";
	r.sans = "";
	r.not_before = 0;
	r.not_after = 1700000000; /* 2023-11-14 22:13:20 UTC */
	r.issued_at = 86399;
	r.requester = "user:alice";
	r.label = (char *)label;
	r.op = "simpleenroll";
	return r;
}

static void json_rec(FILE *out, const void *rec)
{
	estd_admin_print_json(out, rec);
}

static void row_rec(FILE *out, const void *rec)
{
	estd_admin_print_row(out, rec);
}

static void show_rec(FILE *out, const void *rec)
{
	estd_admin_print_record(out, rec);
}

static void test_json_record_has_every_field_and_rfc3339_times(void **state)
{
	struct estd_cert_record r = sample("", "CN=\"quoted\"\n");
	char *got = capture(json_rec, &r);

	assert_string_equal(got, "{\"serial\": \"1a2b\", \"subject\": \"CN=\\\"quoted\\\"\\n\", "
				 "\"issuer\": \"CN=CA\", \"sans\": \"\", "
				 "\"not_before\": \"1970-01-01T00:00:00Z\", "
				 "\"not_after\": \"2023-11-14T22:13:20Z\", "
				 "\"issued_at\": \"1970-01-01T23:59:59Z\", "
				 "\"requester\": \"user:alice\", \"label\": \"\", "
				 "\"op\": \"simpleenroll\"}");
	free(got);
}

static void test_table_row_shows_default_label_as_dash_and_no_escapes(void **state)
{
	struct estd_cert_record r = sample("", "CN=\x1b]0;owned\x07");
	char *got = capture(row_rec, &r);

	assert_non_null(strstr(got, "1a2b "));
	assert_non_null(strstr(got, "  2023-11-14 22:13:20  -  "));
	assert_non_null(strstr(got, "user:alice"));
	assert_non_null(strstr(got, "CN=?]0;owned?\n"));
	assert_null(strchr(got, '\x1b'));
	free(got);
	r = sample("routers", "CN=x");
	got = capture(row_rec, &r);
	assert_non_null(strstr(got, "  routers  "));
	free(got);
}

static void test_show_lists_every_field(void **state)
{
	struct estd_cert_record r = sample("routers", "CN=dev");
	char *got = capture(show_rec, &r);
	static const char *const want[] = {
		"serial:      1a2b\n",       "subject:     CN=dev\n",
		"issuer:      CN=CA\n",      "SANs:        -\n",
		"not before:  1970-01-01 00:00:00 UTC\n",
		"not after:   2023-11-14 22:13:20 UTC\n",
		"issued at:   1970-01-01 23:59:59 UTC\n",
		"requester:   user:alice\n", "label:       routers\n",
		"operation:   simpleenroll\n",
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(got, want[i]) == NULL)
			fail_msg("missing '%s' in:\n%s", want[i], got);
	free(got);
}

static void test_path_join_resolves_relative_names_only(void **state)
{
	static const struct {
		const char *dir, *rel, *out;
	} cases[] = {
		{"/etc/estd", "ca.pem", "/etc/estd/ca.pem"},
		{"/etc/estd/", "ca.pem", "/etc/estd/ca.pem"},
		{"/etc/estd//", "sub/x", "/etc/estd/sub/x"},
		{"/", "x", "/x"},
		{"/etc/estd", "/abs/ca.pem", "/abs/ca.pem"},
		{"/etc/estd", "../x", "/etc/estd/../x"},
		{"", "x", "x"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = estd_path_join(cases[i].dir, cases[i].rel);

		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
	assert_null(estd_path_join(NULL, "x"));
	assert_null(estd_path_join("/", NULL));
}

static void test_parse_ll_takes_whole_numbers_in_range_only(void **state)
{
	static const struct {
		const char *in;
		int ok;
		long long v;
	} cases[] = {
		{"0", 1, 0},      {"42", 1, 42},   {"-5", 1, -5},  {"100", 1, 100},
		{"101", 0, 0},    {"-6", 0, 0},    {"", 0, 0},     {" 1", 0, 0},
		{"1 ", 0, 0},     {"1x", 0, 0},    {"0x1", 0, 0},  {"x", 0, 0},
		{"99999999999999999999", 0, 0},    {NULL, 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long v = -999;
		int r = estd_parse_ll(cases[i].in, -5, 100, &v);

		if ((r == 0) != cases[i].ok || (r == 0 && v != cases[i].v))
			fail_msg("case '%s': r %d v %lld", cases[i].in ? cases[i].in : "(null)", r,
				 v);
	}
}

static void test_name_rules_for_labels_and_profiles(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{"routers", 1}, {"a.b_c-D9", 1}, {"-x", 1}, {".hidden", 0}, {"", 0},
		{"a b", 0},     {"a/b", 0},      {"é", 0},  {NULL, 0},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (estd_name_is_valid(cases[i].name) != cases[i].ok)
			fail_msg("name '%s'", cases[i].name ? cases[i].name : "(null)");
}

static void test_fmt_time_formats_utc_and_refuses_the_unrepresentable(void **state)
{
	char buf[ESTD_TIME_BUFLEN];

	assert_string_equal(estd_fmt_time(0, ' ', buf, sizeof(buf)), "1970-01-01 00:00:00");
	assert_string_equal(estd_fmt_time(253402300799LL, 'T', buf, sizeof(buf)),
			    "9999-12-31T23:59:59");
	assert_string_equal(estd_fmt_time(253402300800LL, ' ', buf, sizeof(buf)), "?");
	assert_string_equal(estd_fmt_time(-62167219201LL, ' ', buf, sizeof(buf)), "?");
}

static void test_default_conf_follows_the_environment(void **state)
{
	unsetenv("ESTD_CONF");
	assert_string_equal(estd_admin_default_conf(), "/etc/estd/estd.conf");
	setenv("ESTD_CONF", "", 1);
	assert_string_equal(estd_admin_default_conf(), "/etc/estd/estd.conf");
	setenv("ESTD_CONF", "here.conf", 1);
	assert_string_equal(estd_admin_default_conf(), "here.conf");
	unsetenv("ESTD_CONF");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string_escapes_quotes_controls_and_bad_utf8),
		cmocka_unit_test(test_printable_neutralises_terminal_controls),
		cmocka_unit_test(test_json_record_has_every_field_and_rfc3339_times),
		cmocka_unit_test(test_table_row_shows_default_label_as_dash_and_no_escapes),
		cmocka_unit_test(test_show_lists_every_field),
		cmocka_unit_test(test_path_join_resolves_relative_names_only),
		cmocka_unit_test(test_parse_ll_takes_whole_numbers_in_range_only),
		cmocka_unit_test(test_name_rules_for_labels_and_profiles),
		cmocka_unit_test(test_fmt_time_formats_utc_and_refuses_the_unrepresentable),
		cmocka_unit_test(test_default_conf_follows_the_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
