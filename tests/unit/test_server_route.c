/*
 * test_server_route.c - request-target parsing (RFC 7030 3.2.2), the
 * application/pkcs10 content-type rule, method rules and strict Basic parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/crypto.h>
#include "server/server_internal.h"

struct route_case {
	const char *uri;
	int ok;
	const char *label;
	enum estkit_op op;
};

static void test_route_accepts_only_well_formed_est_paths(void **state)
{
	static const struct route_case cases[] = {
		{ "/.well-known/est/cacerts", 1, "", ESTKIT_OP_CACERTS },
		{ "/.well-known/est/simpleenroll", 1, "", ESTKIT_OP_SIMPLEENROLL },
		{ "/.well-known/est/simplereenroll", 1, "", ESTKIT_OP_SIMPLEREENROLL },
		{ "/.well-known/est/csrattrs", 1, "", ESTKIT_OP_CSRATTRS },
		{ "/.well-known/est/serverkeygen", 1, "", ESTKIT_OP_SERVERKEYGEN },
		{ "/.well-known/est/fullcmc", 1, "", ESTKIT_OP_FULLCMC },
		{ "/.well-known/est/routers/simpleenroll", 1, "routers", ESTKIT_OP_SIMPLEENROLL },
		{ "/.well-known/est/a.b_c-D9/cacerts", 1, "a.b_c-D9", ESTKIT_OP_CACERTS },
		{ "/.well-known/est/cacerts?x=1&y=/..", 1, "", ESTKIT_OP_CACERTS },
		/* 64 characters: the longest label */
		{ "/.well-known/est/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/cacerts",
		  1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  ESTKIT_OP_CACERTS },
		/* malformed */
		{ "/.well-known/est/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/cacerts",
		  0, NULL, 0 },
		{ NULL, 0, NULL, 0 },
		{ "", 0, NULL, 0 },
		{ "/", 0, NULL, 0 },
		{ "/.well-known/est/", 0, NULL, 0 },
		{ "/.well-known/est", 0, NULL, 0 },
		{ "/.well-known/est/unknown", 0, NULL, 0 },
		{ "/.well-known/est/CACERTS", 0, NULL, 0 },
		{ "/.well-known/est/cacerts/", 0, NULL, 0 },
		{ "/.well-known/est//cacerts", 0, NULL, 0 },
		{ "/.well-known/est/../cacerts", 0, NULL, 0 },
		{ "/.well-known/est/./cacerts", 0, NULL, 0 },
		{ "/.well-known/est/.hidden/cacerts", 0, NULL, 0 },
		{ "/.well-known/est/%2e%2e/cacerts", 0, NULL, 0 },
		{ "/.well-known/est/cacert%73", 0, NULL, 0 },
		{ "/.well-known/est/a/b/cacerts", 0, NULL, 0 },
		{ "/.well-known/est/a b/cacerts", 0, NULL, 0 },
		{ "/.well-known/est/a:b/cacerts", 0, NULL, 0 },
		{ "/.well-known/est/cacerts#x", 0, NULL, 0 },
		{ "https://h/.well-known/est/cacerts", 0, NULL, 0 },
		{ "//.well-known/est/cacerts", 0, NULL, 0 },
		{ "/.WELL-KNOWN/est/cacerts", 0, NULL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[EK_LABEL_MAX + 1];
		enum estkit_op op = (enum estkit_op)-1;
		const char *reason = NULL;
		int rc = ek_route_parse(cases[i].uri, label, &op, &reason);

		if (cases[i].ok) {
			assert_int_equal(rc, 0);
			assert_string_equal(label, cases[i].label);
			assert_int_equal(op, cases[i].op);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(reason);
			assert_string_equal(label, "");
		}
	}
}

static void test_pkcs10_content_type_any_case_with_parameters(void **state)
{
	static const struct {
		const char *ctype;
		int ok;
	} cases[] = {
		{ "application/pkcs10", 1 },
		{ "Application/PKCS10", 1 },
		{ "application/pkcs10; charset=x", 1 },
		{ "application/pkcs10;", 1 },
		{ " application/pkcs10 ", 1 },
		{ NULL, 0 },
		{ "", 0 },
		{ "application/pkcs10x", 0 },
		{ "application/pkcs1", 0 },
		{ "application/pkcs7-mime", 0 },
		{ "text/plain", 0 },
		{ "application/pkcs10,text/plain", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ek_route_is_pkcs10(cases[i].ctype), cases[i].ok);
}

static void test_methods_per_operation_with_allow(void **state)
{
	const char *allow = NULL;

	assert_true(ek_route_method_ok(ESTKIT_OP_CACERTS, EVHTTP_REQ_GET, &allow));
	assert_true(ek_route_method_ok(ESTKIT_OP_CACERTS, EVHTTP_REQ_HEAD, &allow));
	assert_false(ek_route_method_ok(ESTKIT_OP_CACERTS, EVHTTP_REQ_POST, &allow));
	assert_string_equal(allow, "GET, HEAD");
	assert_false(ek_route_method_ok(ESTKIT_OP_SIMPLEENROLL, EVHTTP_REQ_GET, &allow));
	assert_string_equal(allow, "POST");
	assert_false(ek_route_method_ok(ESTKIT_OP_SIMPLEREENROLL, EVHTTP_REQ_PUT, &allow));
	assert_true(ek_route_method_ok(ESTKIT_OP_SIMPLEREENROLL, EVHTTP_REQ_POST, &allow));
	assert_false(ek_route_method_ok(ESTKIT_OP_CSRATTRS, EVHTTP_REQ_POST, &allow));
}

static void test_basic_header_parsed_strictly(void **state)
{
	static const struct {
		const char *hdr;
		const char *user, *pass; /* NULL: rejected */
	} cases[] = {
		{ "Basic ZXN0dXNlcjplc3Rwd2Q=", "estuser", "estpwd" },
		{ "basic ZXN0dXNlcjplc3Rwd2Q=", "estuser", "estpwd" },
		{ "Basic   ZXN0dXNlcjplc3Rwd2Q=", "estuser", "estpwd" },
		{ "Basic dTpwOnE=", "u", "p:q" },       /* u:p:q - password may hold ':' */
		{ "Basic dTo=", "u", "" },              /* u: */
		{ NULL, NULL, NULL },
		{ "", NULL, NULL },
		{ "Basic", NULL, NULL },
		{ "Basic ", NULL, NULL },
		{ "BasicZXN0dXNlcjplc3Rwd2Q=", NULL, NULL },
		{ "Bearer ZXN0dXNlcjplc3Rwd2Q=", NULL, NULL },
		{ "Digest username=\"x\"", NULL, NULL },
		{ "Basic ZXN0dXNlcg==", NULL, NULL },   /* no colon */
		{ "Basic OnB3", NULL, NULL },           /* ":pw" empty user */
		{ "Basic ZXN0dXNlcjplc3Rwd2Q", NULL, NULL }, /* missing padding */
		{ "Basic ZXN0dXNl cjplc3Rwd2Q=", NULL, NULL },
		{ "Basic ZXN0dXNlcjplc3Rwd2Q=!", NULL, NULL },
		{ "Basic dQB4OnA=", NULL, NULL },       /* "u\0x:p" embedded NUL */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *user = NULL, *pass = NULL;
		int rc = ek_route_parse_basic(cases[i].hdr, &user, &pass);

		if (cases[i].user != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(user, cases[i].user);
			assert_string_equal(pass, cases[i].pass);
		} else {
			assert_int_equal(rc, -1);
			assert_null(user);
			assert_null(pass);
		}
		OPENSSL_free(user);
		OPENSSL_free(pass);
	}
}

static void test_basic_header_oversized_is_rejected(void **state)
{
	/* 1 KiB + 3 bytes of credentials, well-formed base64 */
	char hdr[2048] = "Basic ";
	size_t i, n = strlen(hdr);
	char *user = NULL, *pass = NULL;

	for (i = 0; i < 1380; i++)
		hdr[n + i] = (i % 4 == 1) ? 'o' : 'd'; /* "dodd" repeats -> decodable */
	hdr[n + 1380] = '\0';
	assert_int_equal(ek_route_parse_basic(hdr, &user, &pass), -1);
	assert_null(user);
}

static void test_op_names(void **state)
{
	assert_string_equal(estkit_op_name(ESTKIT_OP_CACERTS), "cacerts");
	assert_string_equal(estkit_op_name(ESTKIT_OP_FULLCMC), "fullcmc");
	assert_string_equal(estkit_op_name((enum estkit_op)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_accepts_only_well_formed_est_paths),
		cmocka_unit_test(test_pkcs10_content_type_any_case_with_parameters),
		cmocka_unit_test(test_methods_per_operation_with_allow),
		cmocka_unit_test(test_basic_header_parsed_strictly),
		cmocka_unit_test(test_basic_header_oversized_is_rejected),
		cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
