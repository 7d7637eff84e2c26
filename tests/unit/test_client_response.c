/*
 * test_client_response.c - reading an EST server's answer (lib/client/response.c):
 * Retry-After, media types, status mapping, quoting server text, decoding bodies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client/client_internal.h"

#define NOW ((time_t)784111777) /* Sun, 06 Nov 1994 08:49:37 GMT */

static void test_retry_after_table(void **state)
{
	static const struct {
		const char *value;
		long want;
	} cases[] = {
	    {"120", 120},
	    {"0", 0},
	    {"  30 \r\n", 30},
	    {"604800", 604800},
	    {"604801", 604800},                  /* capped at one week */
	    {"99999999999999999999999", 604800}, /* no overflow */
	    {"Sun, 06 Nov 1994 08:50:37 GMT", 60},
	    {"Sun, 06 Nov 1994 08:49:37 GMT", 0},
	    {"Sat, 05 Nov 1994 08:49:37 GMT", 0}, /* in the past */
	    {"Sun, 06 Nov 2094 08:49:37 GMT", 604800},
	    {"", -1},
	    {"   ", -1},
	    {"-5", -1},
	    {"12s", -1},
	    {"1.5", -1},
	    {"0x10", -1},
	    {"Sunday, 06-Nov-94 08:49:37", -1},
	    {"Sun, 06 Nov 1994 08:49:37 GMT trailing", -1},
	    {"Sun, 06 Nov 1994 25:49:37", -1},
	    {"tomorrow", -1},
	};
	size_t i = 0;

	(void)state;
	assert_int_equal(ek_client_retry_after_parse(NULL, NOW), -1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: \"%s\"\n", i, cases[i].value);
		assert_int_equal(ek_client_retry_after_parse(cases[i].value, NOW), cases[i].want);
	}
}

static void test_media_type_matches_type_only(void **state)
{
	static const struct {
		const char *ct;
		int want;
	} cases[] = {
	    {"application/pkcs7-mime", 1},
	    {"application/pkcs7-mime; smime-type=certs-only", 1},
	    {"APPLICATION/PKCS7-MIME;smime-type=certs-only", 1},
	    {"  application/pkcs7-mime ; smime-type=certs-only", 1},
	    {"application/pkcs7-mime ", 1},
	    {"application/pkcs7-mimex", 0},
	    {"application/pkcs7", 0},
	    {"application/pkcs10", 0},
	    {"text/plain", 0},
	    {"", 0},
	    {"application/pkcs7-mime garbage", 0},
	};
	size_t i = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: \"%s\"\n", i, cases[i].ct);
		assert_int_equal(ek_client_media_type_is(cases[i].ct, "application/pkcs7-mime"),
		                 cases[i].want);
	}
	assert_int_equal(ek_client_media_type_is(NULL, "application/pkcs7-mime"), 0);
}

static void test_http_status_mapping(void **state)
{
	static const struct {
		long code;
		enum estkit_status want;
	} cases[] = {
	    {200, ESTKIT_OK},         {202, ESTKIT_EPENDING}, {204, ESTKIT_EPROTO},
	    {301, ESTKIT_EHTTP},      {400, ESTKIT_EHTTP},    {401, ESTKIT_EAUTH},
	    {403, ESTKIT_EFORBIDDEN}, {404, ESTKIT_EHTTP},    {413, ESTKIT_EHTTP},
	    {415, ESTKIT_EHTTP},      {500, ESTKIT_EHTTP},    {503, ESTKIT_EBUSY},
	    {0, ESTKIT_EHTTP},        {999, ESTKIT_EHTTP},
	};
	size_t i = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ek_client_status_for_http(cases[i].code), cases[i].want);
}

static void test_curl_error_mapping(void **state)
{
	(void)state;
	assert_int_equal(ek_client_status_for_curl(CURLE_OK, ""), ESTKIT_OK);
	assert_int_equal(ek_client_status_for_curl(CURLE_COULDNT_CONNECT, ""), ESTKIT_ENET);
	assert_int_equal(ek_client_status_for_curl(CURLE_COULDNT_RESOLVE_HOST, ""), ESTKIT_ENET);
	assert_int_equal(ek_client_status_for_curl(CURLE_OPERATION_TIMEDOUT, ""), ESTKIT_ETIMEOUT);
	assert_int_equal(ek_client_status_for_curl(CURLE_PEER_FAILED_VERIFICATION, ""),
	                 ESTKIT_ETLS);
	assert_int_equal(ek_client_status_for_curl(CURLE_SSL_CONNECT_ERROR, ""), ESTKIT_ETLS);
	assert_int_equal(ek_client_status_for_curl(CURLE_SSL_CERTPROBLEM, ""), ESTKIT_ETLS);
	assert_int_equal(ek_client_status_for_curl(CURLE_RECV_ERROR, "Connection reset by peer"),
	                 ESTKIT_ENET);
	assert_int_equal(
	    ek_client_status_for_curl(CURLE_RECV_ERROR,
	                              "OpenSSL SSL_read: tlsv13 alert certificate required"),
	    ESTKIT_ETLS);
	assert_int_equal(ek_client_status_for_curl(CURLE_RECV_ERROR, NULL), ESTKIT_ENET);
	assert_int_equal(ek_client_status_for_curl(CURLE_GOT_NOTHING, ""), ESTKIT_ENET);
	assert_int_equal(ek_client_status_for_curl(CURLE_OUT_OF_MEMORY, ""), ESTKIT_ENOMEM);
	assert_int_equal(ek_client_status_for_curl(CURLE_FILESIZE_EXCEEDED, ""), ESTKIT_ETOOBIG);
	assert_int_equal(ek_client_status_for_curl(CURLE_UNSUPPORTED_PROTOCOL, ""),
	                 ESTKIT_EINTERNAL);
}

static void sanitize(const char *in, size_t len, char *out, size_t outsz)
{
	ek_client_sanitize_line((const unsigned char *)in, len, out, outsz);
}

static void test_sanitize_keeps_first_printable_line(void **state)
{
	char out[EK_SERVER_TEXT_MAX + 1];
	char big[1000];
	char tiny[4];

	(void)state;
	sanitize("bad request\r\nsecond line", 24, out, sizeof(out));
	assert_string_equal(out, "bad request");
	sanitize("\r\n\n  indented  \n", 16, out, sizeof(out));
	assert_string_equal(out, "indented");
	sanitize("esc\x1b[31mred\x7f\xff", 14, out, sizeof(out));
	assert_string_equal(out, "esc?[31mred??");
	sanitize("nul\0after", 9, out, sizeof(out));
	assert_string_equal(out, "nul");
	sanitize("", 0, out, sizeof(out));
	assert_string_equal(out, "");
	memset(big, 'x', sizeof(big));
	sanitize(big, sizeof(big), out, sizeof(out));
	assert_int_equal(strlen(out), EK_SERVER_TEXT_MAX);
	sanitize(big, sizeof(big), tiny, sizeof(tiny));
	assert_string_equal(tiny, "xxx");
}

static unsigned char *read_vector(const char *name, size_t *len)
{
	char path[1024];
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "%s/client/%s", ESTKIT_VECTORS_DIR, name);
	assert_int_equal(estkit_file_read(path, &buf, len), ESTKIT_OK);
	return buf;
}

static void test_decode_certs_rfc7030_bodies(void **state)
{
	STACK_OF(X509) *certs = NULL;
	unsigned char *b64 = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	size_t derlen = 0;

	(void)state;
	b64 = read_vector("A.1-cacerts-response.b64", &len);
	assert_int_equal(ek_client_decode_certs(b64, len, &certs), ESTKIT_OK);
	assert_int_equal(sk_X509_num(certs), 4); /* the root rollover set */
	ek_certs_free(certs);
	/* Binary DER from a pre-RFC 8951 server is accepted too. */
	assert_int_equal(estkit_b64_decode((const char *)b64, len, &der, &derlen), ESTKIT_OK);
	assert_int_equal(ek_client_decode_certs(der, derlen, &certs), ESTKIT_OK);
	assert_int_equal(sk_X509_num(certs), 4);
	ek_certs_free(certs);
	estkit_free(der);
	estkit_free(b64);
	b64 = read_vector("A.3-simpleenroll-response.b64", &len);
	assert_int_equal(ek_client_decode_certs(b64, len, &certs), ESTKIT_OK);
	assert_int_equal(sk_X509_num(certs), 1);
	ek_certs_free(certs);
	/* Truncated in the middle: the base64 or the DER breaks. */
	assert_int_not_equal(ek_client_decode_certs(b64, len / 2, &certs), ESTKIT_OK);
	assert_null(certs);
	estkit_free(b64);
}

static void test_decode_certs_rejects_garbage(void **state)
{
	static const char *bad[] = {
	    "not base64 at all!",
	    "AAAA",     /* valid base64, not DER */
	    "MIIB",     /* the start of a SEQUENCE, cut short */
	    "   \r\n ", /* only white space */
	    "<html>error</html>",
	};
	STACK_OF(X509) *certs = NULL;
	unsigned char derjunk[] = {0x30, 0x82, 0x01, 0x00, 0x02};
	size_t i = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(
		    ek_client_decode_certs((const unsigned char *)bad[i], strlen(bad[i]), &certs),
		    ESTKIT_OK);
		assert_null(certs);
	}
	assert_int_equal(ek_client_decode_certs(NULL, 0, &certs), ESTKIT_EPARSE);
	assert_int_not_equal(ek_client_decode_certs(derjunk, sizeof(derjunk), &certs), ESTKIT_OK);
	assert_int_equal(ek_client_decode_certs(derjunk, (size_t)ESTKIT_MAX_DECODE + 1, &certs),
	                 ESTKIT_ETOOBIG);
	assert_null(certs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_after_table),
	    cmocka_unit_test(test_media_type_matches_type_only),
	    cmocka_unit_test(test_http_status_mapping),
	    cmocka_unit_test(test_curl_error_mapping),
	    cmocka_unit_test(test_sanitize_keeps_first_printable_line),
	    cmocka_unit_test(test_decode_certs_rfc7030_bodies),
	    cmocka_unit_test(test_decode_certs_rejects_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
