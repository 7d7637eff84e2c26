/* test_client_url.c - EST server URL parsing and endpoint building (lib/client/url.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "client/client_internal.h"

struct url_case {
	const char *url;
	enum estkit_status rc;
	const char *host;
	unsigned port;
	const char *label;
	int is_ip;
};

static const struct url_case cases[] = {
    /* accepted forms */
    {"https://ca.example", ESTKIT_OK, "ca.example", 443, "", 0},
    {"https://ca.example/", ESTKIT_OK, "ca.example", 443, "", 0},
    {"https://ca.example:8443", ESTKIT_OK, "ca.example", 8443, "", 0},
    {"https://ca.example:8443/routers", ESTKIT_OK, "ca.example", 8443, "routers", 0},
    {"https://ca.example/routers/", ESTKIT_OK, "ca.example", 443, "routers", 0},
    {"https://ca.example/.well-known/est", ESTKIT_OK, "ca.example", 443, "", 0},
    {"https://ca.example/.well-known/est/", ESTKIT_OK, "ca.example", 443, "", 0},
    {"https://ca.example/.well-known/est/a-b_c.1", ESTKIT_OK, "ca.example", 443, "a-b_c.1", 0},
    {"HTTPS://ca.example:1/x", ESTKIT_OK, "ca.example", 1, "x", 0},
    {"https://192.0.2.1:65535", ESTKIT_OK, "192.0.2.1", 65535, "", 1},
    {"https://[::1]:8443/lbl", ESTKIT_OK, "::1", 8443, "lbl", 1},
    {"https://[2001:db8::1]", ESTKIT_OK, "2001:db8::1", 443, "", 1},
    {"https://ca.example/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     ESTKIT_OK, "ca.example", 443,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    /* wrong scheme or no host */
    {"http://ca.example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"ftp://ca.example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"ca.example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https:///lbl", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://:8443", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    /* ports */
    {"https://ca.example:", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example:0", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example:65536", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example:000443", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example:-1", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example:84x3", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    /* labels */
    {"https://ca.example/a/b", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/.well-known/est/a/b", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/a%2fb", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/a b", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/l\xc3\xa4", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example//", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/..", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/.", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/.well-known", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/.well-known/acme", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/.well-known/estx", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     ESTKIT_EINVAL, NULL, 0, NULL, 0},
    /* things a strict parser refuses rather than guesses */
    {"https://user:pw@ca.example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/lbl?x=1", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca.example/lbl#frag", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://ca..example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://-ca.example", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    /* IPv6 */
    {"https://[::1", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://[]:443", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://[not:an:addr:zz]", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://[fe80::1%eth0]", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://::1/lbl", ESTKIT_EINVAL, NULL, 0, NULL, 0},
    {"https://[::1]x", ESTKIT_EINVAL, NULL, 0, NULL, 0},
};

static void test_url_parse_table(void **state)
{
	size_t i = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ek_url u;
		enum estkit_status rc = ek_client_url_parse(cases[i].url, &u);

		print_message("case %zu: %s\n", i, cases[i].url);
		assert_int_equal(rc, cases[i].rc);
		if (rc != ESTKIT_OK)
			continue;
		assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.port, cases[i].port);
		assert_string_equal(u.label, cases[i].label);
		assert_int_equal(u.host_is_ip, cases[i].is_ip);
	}
}

static void test_url_parse_rejects_null_and_oversized(void **state)
{
	struct ek_url u;
	char big[4096];

	(void)state;
	assert_int_equal(ek_client_url_parse(NULL, &u), ESTKIT_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "https://", 8);
	assert_int_equal(ek_client_url_parse(big, &u), ESTKIT_EINVAL);
}

static void test_endpoint_builds_well_known_paths(void **state)
{
	struct ek_url u;
	char buf[256];

	(void)state;
	assert_int_equal(ek_client_url_parse("https://ca.example:8443/routers", &u), ESTKIT_OK);
	assert_int_equal(ek_client_url_endpoint(&u, "simpleenroll", buf, sizeof(buf)), ESTKIT_OK);
	assert_string_equal(buf, "https://ca.example:8443/.well-known/est/routers/simpleenroll");
	assert_int_equal(ek_client_url_parse("https://[::1]/", &u), ESTKIT_OK);
	assert_int_equal(ek_client_url_endpoint(&u, "cacerts", buf, sizeof(buf)), ESTKIT_OK);
	assert_string_equal(buf, "https://[::1]:443/.well-known/est/cacerts");
	assert_int_equal(ek_client_url_endpoint(&u, "cacerts", buf, 10), ESTKIT_ETOOBIG);
}

static void test_client_new_rejects_bad_url(void **state)
{
	struct estkit_client *c = NULL;

	(void)state;
	assert_null(estkit_client_new("http://ca.example"));
	assert_null(estkit_client_new(NULL));
	c = estkit_client_new("https://ca.example/lbl");
	assert_non_null(c);
	assert_string_equal(estkit_client_errmsg(c), "");
	assert_int_equal(estkit_client_http_status(c), 0);
	estkit_client_free(c);
	estkit_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_parse_table),
	    cmocka_unit_test(test_url_parse_rejects_null_and_oversized),
	    cmocka_unit_test(test_endpoint_builds_well_known_paths),
	    cmocka_unit_test(test_client_new_rejects_bad_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
