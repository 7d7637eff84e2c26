/*
 * test_multipart.c - multipart/mixed parsing and building (RFC 2046 5.1) for
 * /serverkeygen (RFC 7030 4.4.2), starting from the RFC 7030 A.4 response.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <estkit/multipart.h>
#include <estkit/pki.h>

#define A4_CTYPE "multipart/mixed ; boundary=estServerExampleBoundary"

static unsigned char *vector_bytes(const char *rel, size_t *len)
{
	char path[512];
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, rel);
	if (estkit_file_read(path, &buf, len) != ESTKIT_OK)
		fail_msg("cannot read vector %s", path);
	return buf;
}

/* LF -> CRLF copy. */
static unsigned char *to_crlf(const unsigned char *in, size_t len, size_t *outlen)
{
	unsigned char *out = malloc(2 * len + 1);
	size_t i, n = 0;

	assert_non_null(out);
	for (i = 0; i < len; i++) {
		if (in[i] == '\n')
			out[n++] = '\r';
		out[n++] = in[i];
	}
	*outlen = n;
	return out;
}

static void check_a4_parts(const struct estkit_multipart *mp)
{
	const struct estkit_mime_part *key = NULL, *certs = NULL;
	unsigned char *der = NULL, *want = NULL;
	size_t derlen = 0, wantlen = 0, textlen = 0;
	unsigned char *text = vector_bytes("rfc7030/A.4-serverkeygen-response-pkcs8-key.b64",
					   &textlen);

	assert_int_equal(estkit_multipart_count(mp), 2);
	key = estkit_multipart_find(mp, "application/pkcs8");
	certs = estkit_multipart_find(mp, "application/pkcs7-mime");
	assert_ptr_equal(key, estkit_multipart_part(mp, 0));
	assert_ptr_equal(certs, estkit_multipart_part(mp, 1));
	assert_null(estkit_multipart_part(mp, 2));
	assert_string_equal(key->encoding, "base64");
	assert_string_equal(certs->content_type, "application/pkcs7-mime; smime-type=certs-only");
	assert_int_equal(estkit_b64_decode((const char *)key->data, key->len, &der, &derlen),
			 ESTKIT_OK);
	assert_int_equal(estkit_b64_decode((const char *)text, textlen, &want, &wantlen),
			 ESTKIT_OK);
	assert_int_equal(derlen, wantlen);
	assert_memory_equal(der, want, derlen);
	estkit_free(der);
	estkit_free(want);
	estkit_free(text);
}

static void test_multipart_parses_rfc7030_a4_lf_and_crlf(void **state)
{
	static const char *const ctypes[] = {
		A4_CTYPE,
		"multipart/mixed; boundary=estServerExampleBoundary",
		"Multipart/Mixed;boundary=\"estServerExampleBoundary\"",
		"multipart/mixed; charset=x; boundary = estServerExampleBoundary ",
	};
	size_t len = 0, crlen = 0, i;
	unsigned char *body = vector_bytes("rfc7030/A.4-serverkeygen-response.multipart", &len);
	unsigned char *crlf = to_crlf(body, len, &crlen);
	struct estkit_multipart *mp = NULL;

	(void)state;
	for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++) {
		assert_int_equal(estkit_multipart_parse(ctypes[i], body, len, &mp), ESTKIT_OK);
		check_a4_parts(mp);
		estkit_multipart_free(mp);
		assert_int_equal(estkit_multipart_parse(ctypes[i], crlf, crlen, &mp), ESTKIT_OK);
		check_a4_parts(mp);
		estkit_multipart_free(mp);
	}
	estkit_free(body);
	free(crlf);
}

static void test_multipart_rejects_bad_content_types(void **state)
{
	static const char *const bad[] = {
		"multipart/mixed",
		"multipart/mixed;",
		"multipart/mixed; boundary=",
		"multipart/mixed; boundary=\"\"",
		"multipart/mixed; boundary=\"unterminated",
		"multipart/mixed; boundary=a; boundary=b",
		"multipart/mixed; boundary=bad\x01char",
		"multipart/mixed; boundary=12345678901234567890123456789012345678901234567890"
		"123456789012345678901",
		"multipart/related; boundary=x",
		"application/pkcs7-mime",
		"multipart/mixed boundary=x",
		"",
	};
	static const unsigned char body[] = "--x\r\nContent-Type: a/b\r\n\r\nhi\r\n--x--\r\n";
	struct estkit_multipart *mp = (struct estkit_multipart *)1;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(estkit_multipart_parse(bad[i], body, sizeof(body) - 1, &mp),
				 ESTKIT_EINVAL);
		assert_null(mp);
	}
	assert_int_equal(estkit_multipart_parse(NULL, body, 4, &mp), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_parse("multipart/mixed; boundary=x", body, 4, NULL),
			 ESTKIT_EINVAL);
}

static void test_multipart_rejects_malformed_bodies(void **state)
{
	static const struct {
		const char *what, *body;
		enum estkit_status rc;
	} cases[] = {
		{ "empty", "", ESTKIT_EPARSE },
		{ "no delimiter", "just text\r\n", ESTKIT_EPARSE },
		{ "no close", "--x\r\nContent-Type: a/b\r\n\r\nhi\r\n", ESTKIT_EPARSE },
		{ "truncated close", "--x\r\nContent-Type: a/b\r\n\r\nhi\r\n--x-", ESTKIT_EPARSE },
		{ "only close", "--x--\r\n", ESTKIT_EPARSE },
		{ "no blank line", "--x\r\nContent-Type: a/b\r\nhi\r\n--x--\r\n", ESTKIT_EPARSE },
		{ "header without colon", "--x\r\nContent-Type a/b\r\n\r\nhi\r\n--x--\r\n",
		  ESTKIT_EPARSE },
		{ "longer boundary is not ours", "--xy\r\nContent-Type: a/b\r\n\r\nhi\r\n--xy--\r\n",
		  ESTKIT_EPARSE },
		{ "delimiter not at line start", "a--x\r\nContent-Type: a/b\r\n\r\nhi\r\n--x--",
		  ESTKIT_EPARSE },
		{ "nested multipart",
		  "--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n\r\nz\r\n--y--\r\n"
		  "--x--\r\n",
		  ESTKIT_EPARSE },
		{ "nine parts",
		  "--x\n\n1\n--x\n\n2\n--x\n\n3\n--x\n\n4\n--x\n\n5\n--x\n\n6\n--x\n\n7\n--x\n\n8\n"
		  "--x\n\n9\n--x--\n",
		  ESTKIT_ETOOBIG },
		{ "eight parts", "--x\n\n1\n--x\n\n2\n--x\n\n3\n--x\n\n4\n--x\n\n5\n--x\n\n6\n"
				 "--x\n\n7\n--x\n\n8\n--x--\n",
		  ESTKIT_OK },
		{ "no headers, padding after delimiter", "--x  \r\n\r\nbody\r\n--x--", ESTKIT_OK },
	};
	struct estkit_multipart *mp = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum estkit_status rc = estkit_multipart_parse(
		    "multipart/mixed; boundary=x", (const unsigned char *)cases[i].body,
		    strlen(cases[i].body), &mp);
		if (rc != cases[i].rc)
			fail_msg("%s: got %s", cases[i].what, estkit_strerror(rc));
		assert_true(rc == ESTKIT_OK ? mp != NULL : mp == NULL);
		estkit_multipart_free(mp);
		mp = NULL;
	}
}

/* Every prefix of A.4 that stops before its close delimiter is refused. */
static void test_multipart_rejects_every_truncation(void **state)
{
	size_t len = 0, cut, close_end;
	unsigned char *body = vector_bytes("rfc7030/A.4-serverkeygen-response.multipart", &len);
	const char *close = strstr((char *)body, "--estServerExampleBoundary--");
	struct estkit_multipart *mp = NULL;

	(void)state;
	assert_non_null(close);
	close_end = (size_t)(close - (char *)body) + strlen("--estServerExampleBoundary--");
	for (cut = 0; cut < close_end; cut++) {
		assert_int_not_equal(estkit_multipart_parse(A4_CTYPE, body, cut, &mp), ESTKIT_OK);
		assert_null(mp);
	}
	assert_int_equal(estkit_multipart_parse(A4_CTYPE, body, close_end, &mp), ESTKIT_OK);
	estkit_multipart_free(mp);
	estkit_free(body);
}

static void test_multipart_rejects_oversized_body(void **state)
{
	size_t n = ESTKIT_MULTIPART_MAX_BODY + 1;
	unsigned char *big = calloc(1, n);
	struct estkit_multipart *mp = NULL;

	(void)state;
	assert_non_null(big);
	assert_int_equal(estkit_multipart_parse("multipart/mixed; boundary=x", big, n, &mp),
			 ESTKIT_ETOOBIG);
	assert_null(mp);
	free(big);
}

static void test_multipart_build_then_parse_round_trips(void **state)
{
	static const unsigned char bin[] = "line\r\n--not-a-boundary\r\n\0binary\xff";
	struct estkit_mime_part parts[2] = {
		{ "application/pkcs8", "base64", (const unsigned char *)"QUJD", 4 },
		{ "application/octet-stream", NULL, bin, sizeof(bin) },
	};
	struct estkit_multipart *mp = NULL;
	char *ct = NULL, *body = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(estkit_multipart_build(parts, 2, &ct, &body, &len), ESTKIT_OK);
	assert_true(strncmp(ct, "multipart/mixed; boundary=estkit-", 33) == 0);
	assert_int_equal(strlen(body), strlen(body)); /* NUL-terminated */
	assert_int_equal(estkit_multipart_parse(ct, (unsigned char *)body, len, &mp), ESTKIT_OK);
	assert_int_equal(estkit_multipart_count(mp), 2);
	assert_string_equal(estkit_multipart_part(mp, 0)->encoding, "base64");
	assert_int_equal(estkit_multipart_part(mp, 0)->len, 4);
	assert_memory_equal(estkit_multipart_part(mp, 0)->data, "QUJD", 4);
	assert_null(estkit_multipart_part(mp, 1)->encoding);
	assert_int_equal(estkit_multipart_part(mp, 1)->len, sizeof(bin));
	assert_memory_equal(estkit_multipart_part(mp, 1)->data, bin, sizeof(bin));
	estkit_multipart_free(mp);
	estkit_free(ct);
	estkit_free_secret(body, len);
}

static void test_multipart_build_rejects_bad_parts(void **state)
{
	struct estkit_mime_part ok = { "a/b", NULL, (const unsigned char *)"x", 1 };
	struct estkit_mime_part crlf = { "a/b\r\nX-Injected: 1", NULL, NULL, 0 };
	struct estkit_mime_part noct = { NULL, NULL, NULL, 0 };
	struct estkit_mime_part badenc = { "a/b", "base64\n", NULL, 0 };
	struct estkit_mime_part nodata = { "a/b", NULL, NULL, 3 };
	struct estkit_mime_part many[ESTKIT_MULTIPART_MAX_PARTS + 1];
	char *ct = NULL, *body = NULL;
	size_t len = 0, i;

	(void)state;
	for (i = 0; i < ESTKIT_MULTIPART_MAX_PARTS + 1; i++)
		many[i] = ok;
	assert_int_equal(estkit_multipart_build(&crlf, 1, &ct, &body, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_build(&noct, 1, &ct, &body, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_build(&badenc, 1, &ct, &body, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_build(&nodata, 1, &ct, &body, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_build(&ok, 0, &ct, &body, &len), ESTKIT_EINVAL);
	assert_int_equal(estkit_multipart_build(many, ESTKIT_MULTIPART_MAX_PARTS + 1, &ct, &body,
						&len),
			 ESTKIT_EINVAL);
	assert_null(ct);
	assert_null(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart_parses_rfc7030_a4_lf_and_crlf),
		cmocka_unit_test(test_multipart_rejects_bad_content_types),
		cmocka_unit_test(test_multipart_rejects_malformed_bodies),
		cmocka_unit_test(test_multipart_rejects_every_truncation),
		cmocka_unit_test(test_multipart_rejects_oversized_body),
		cmocka_unit_test(test_multipart_build_then_parse_round_trips),
		cmocka_unit_test(test_multipart_build_rejects_bad_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
