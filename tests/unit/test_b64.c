/*
 * test_b64.c - base64 per RFC 8951: white space tolerated anywhere, all else strict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/rand.h>
#include <estkit/pki.h>

struct b64_case {
	const char *name;
	const char *in;
	enum estkit_status rc;
	const char *out; /* expected bytes when rc is OK */
};

static const struct b64_case decode_cases[] = {
	{"plain", "TWFu", ESTKIT_OK, "Man"},
	{"one pad", "TWE=", ESTKIT_OK, "Ma"},
	{"two pad", "TQ==", ESTKIT_OK, "M"},
	{"two quanta", "TWFuTWFu", ESTKIT_OK, "ManMan"},
	{"empty sequence MAA=", "MAA=", ESTKIT_OK, "\x30"}, /* plus a NUL, checked by length */
	{"LF inside", "TW\nFu", ESTKIT_OK, "Man"},
	{"CRLF inside", "TWFu\r\nTWFu\r\n", ESTKIT_OK, "ManMan"},
	{"spaces and tabs", " T W\tF u ", ESTKIT_OK, "Man"},
	{"white space inside padding", "TQ= =", ESTKIT_OK, "M"},
	{"white space after padding", "TQ==\r\n \t", ESTKIT_OK, "M"},
	{"empty", "", ESTKIT_EPARSE, NULL},
	{"only white space", " \r\n\t", ESTKIT_EPARSE, NULL},
	{"url-safe minus", "TW-u", ESTKIT_EPARSE, NULL},
	{"url-safe underscore", "TW_u", ESTKIT_EPARSE, NULL},
	{"dot", "TW.u", ESTKIT_EPARSE, NULL},
	{"high byte", "TW\xc3\xa9u", ESTKIT_EPARSE, NULL},
	{"vertical tab is not white space", "TW\vFu", ESTKIT_EPARSE, NULL},
	{"form feed is not white space", "TW\fFu", ESTKIT_EPARSE, NULL},
	{"missing padding 2", "TQ", ESTKIT_EPARSE, NULL},
	{"missing padding 3", "TWE", ESTKIT_EPARSE, NULL},
	{"lone final char", "TWFuT", ESTKIT_EPARSE, NULL},
	{"pad in first position", "=TWF", ESTKIT_EPARSE, NULL},
	{"pad in second position", "T===", ESTKIT_EPARSE, NULL},
	{"only padding", "====", ESTKIT_EPARSE, NULL},
	{"pad then data in quantum", "TW=u", ESTKIT_EPARSE, NULL},
	{"data after padding", "TQ==TWFu", ESTKIT_EPARSE, NULL},
	{"excess padding", "TWE==", ESTKIT_EPARSE, NULL},
	{"three pads", "TQ===", ESTKIT_EPARSE, NULL},
	{"leftover bits one pad", "TWF=", ESTKIT_EPARSE, NULL},
	{"leftover bits two pads", "TR==", ESTKIT_EPARSE, NULL},
	{"pem armour is not base64", "-----BEGIN X-----", ESTKIT_EPARSE, NULL},
};

static void test_decode_table_accepts_white_space_and_rejects_everything_else(void **state)
{
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct b64_case *c = &decode_cases[i];
		unsigned char *out = (unsigned char *)"sentinel";
		size_t outlen = 99;
		enum estkit_status rc = estkit_b64_decode(c->in, strlen(c->in), &out, &outlen);

		if (rc != c->rc)
			fail_msg("case '%s': rc %d, want %d", c->name, rc, c->rc);
		if (rc != ESTKIT_OK) {
			assert_null(out);
			assert_int_equal(outlen, 0);
			continue;
		}
		if (strcmp(c->name, "empty sequence MAA=") == 0) {
			assert_int_equal(outlen, 2);
			assert_memory_equal(out, "\x30\x00", 2);
		} else {
			assert_int_equal(outlen, strlen(c->out));
			assert_memory_equal(out, c->out, outlen);
		}
		estkit_free(out);
	}
}

static void test_decode_rejects_embedded_nul(void **state)
{
	static const char in[] = "TW\0Fu";
	unsigned char *out = NULL;
	size_t outlen = 0;

	assert_int_equal(estkit_b64_decode(in, sizeof(in) - 1, &out, &outlen), ESTKIT_EPARSE);
	assert_null(out);
}

static void test_decode_rejects_oversized_input(void **state)
{
	size_t len = ESTKIT_MAX_DECODE + 4u;
	char *big = malloc(len);
	unsigned char *out = NULL;
	size_t outlen = 0;

	assert_non_null(big);
	memset(big, 'A', len);
	assert_int_equal(estkit_b64_decode(big, len, &out, &outlen), ESTKIT_ETOOBIG);
	assert_null(out);
	/* Exactly the limit is still decoded. */
	assert_int_equal(estkit_b64_decode(big, ESTKIT_MAX_DECODE, &out, &outlen), ESTKIT_OK);
	assert_int_equal(outlen, ESTKIT_MAX_DECODE / 4u * 3u);
	estkit_free(out);
	free(big);
}

static void test_decode_rejects_null_arguments(void **state)
{
	unsigned char *out = NULL;
	size_t outlen = 0;

	assert_int_equal(estkit_b64_decode(NULL, 4, &out, &outlen), ESTKIT_EINVAL);
	assert_int_equal(estkit_b64_decode("TWFu", 4, NULL, &outlen), ESTKIT_EINVAL);
	assert_int_equal(estkit_b64_decode("TWFu", 4, &out, NULL), ESTKIT_EINVAL);
	assert_null(out);
}

/* Line breaks every 64 characters and at the end, as RFC 7030 Appendix A shows. */
static void test_encode_breaks_lines_at_64_and_at_end(void **state)
{
	unsigned char in[100];
	char *out = NULL;
	size_t outlen = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	assert_int_equal(estkit_b64_encode(in, sizeof(in), &out, &outlen), ESTKIT_OK);
	/* 100 bytes -> 136 characters -> 64 + 64 + 8, each line LF-terminated. */
	assert_int_equal(outlen, 136 + 3);
	assert_int_equal(strlen(out), outlen);
	assert_int_equal(out[64], '\n');
	assert_int_equal(out[129], '\n');
	assert_int_equal(out[outlen - 1], '\n');
	assert_null(strchr(out, '\r'));
	estkit_free(out);

	assert_int_equal(estkit_b64_encode((const unsigned char *)"Man", 3, &out, &outlen),
			 ESTKIT_OK);
	assert_string_equal(out, "TWFu\n");
	estkit_free(out);
	assert_int_equal(estkit_b64_encode((const unsigned char *)"M", 1, &out, NULL), ESTKIT_OK);
	assert_string_equal(out, "TQ==\n");
	estkit_free(out);
	/* 48 bytes fill exactly one line: a single trailing LF, no empty line. */
	assert_int_equal(estkit_b64_encode(in, 48, &out, &outlen), ESTKIT_OK);
	assert_int_equal(outlen, 65);
	estkit_free(out);
	assert_int_equal(estkit_b64_encode(NULL, 0, &out, &outlen), ESTKIT_OK);
	assert_string_equal(out, "");
	estkit_free(out);
	assert_int_equal(estkit_b64_encode(NULL, 3, &out, &outlen), ESTKIT_EINVAL);
	assert_null(out);
}

/* Re-wraps encoded text in the given style and decodes it again. */
static char *rewrap(const char *enc, const char *sep, size_t every)
{
	size_t n = strlen(enc), o = 0, col = 0;
	char *buf = malloc(n * (strlen(sep) + 1) + 1);

	for (size_t i = 0; buf != NULL && i < n; i++) {
		if (enc[i] == '\n')
			continue;
		buf[o++] = enc[i];
		if (++col == every) {
			memcpy(buf + o, sep, strlen(sep));
			o += strlen(sep);
			col = 0;
		}
	}
	if (buf != NULL)
		buf[o] = '\0';
	return buf;
}

static void test_round_trip_random_sizes_0_to_300_in_every_wrapping(void **state)
{
	static const struct {
		const char *sep;
		size_t every;
	} wraps[] = {{"\n", 64}, {"\r\n", 64}, {" ", 4}, {"\t", 1}, {"\r\n", 76}, {"", 1}};
	unsigned char in[300];

	for (size_t len = 0; len <= sizeof(in); len++) {
		char *enc = NULL;

		assert_int_equal(RAND_bytes(in, (int)sizeof(in)), 1);
		assert_int_equal(estkit_b64_encode(in, len, &enc, NULL), ESTKIT_OK);
		for (size_t w = 0; w < sizeof(wraps) / sizeof(wraps[0]); w++) {
			char *text = rewrap(enc, wraps[w].sep, wraps[w].every);
			unsigned char *dec = NULL;
			size_t declen = 0;
			enum estkit_status rc;

			assert_non_null(text);
			rc = estkit_b64_decode(text, strlen(text), &dec, &declen);
			if (len == 0) {
				/* Empty input is malformed per the contract. */
				assert_int_equal(rc, ESTKIT_EPARSE);
			} else {
				assert_int_equal(rc, ESTKIT_OK);
				assert_int_equal(declen, len);
				assert_memory_equal(dec, in, len);
			}
			estkit_free(dec);
			free(text);
		}
		estkit_free(enc);
	}
}

static void test_truncating_valid_text_never_decodes_to_a_prefix(void **state)
{
	static const char text[] = "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsu";

	for (size_t cut = 1; cut < sizeof(text) - 1; cut++) {
		unsigned char *out = NULL;
		size_t outlen = 0;
		enum estkit_status rc = estkit_b64_decode(text, cut, &out, &outlen);

		/* Only whole quanta decode; every other cut is missing padding. */
		if (cut % 4 == 0) {
			assert_int_equal(rc, ESTKIT_OK);
			assert_int_equal(outlen, cut / 4 * 3);
		} else {
			assert_int_equal(rc, ESTKIT_EPARSE);
		}
		estkit_free(out);
	}
}

static char *vector_text(const char *rel, size_t *len)
{
	char path[512];
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, rel);
	if (estkit_file_read(path, &buf, len) != ESTKIT_OK)
		fail_msg("cannot read vector %s", path);
	return (char *)buf;
}

/* libEST's corrupt csrattrs bodies (tests/vectors/libest README) must not decode. */
static void test_libest_corrupt_base64_vectors_are_rejected(void **state)
{
	static const char *const files[] = {
		"libest/US896__TEST_CORRUPT_ATTR1.b64", /* no padding, lone character */
		"libest/US896__TEST_CORRUPT_ATTR2.b64", /* data where padding belongs */
		"libest/US895__TEST_ATTR8.b64",         /* excess "=" after padding */
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len = 0;
		char *text = vector_text(files[i], &len);
		unsigned char *out = NULL;
		size_t outlen = 0;

		if (estkit_b64_decode(text, len, &out, &outlen) != ESTKIT_EPARSE)
			fail_msg("%s decoded", files[i]);
		assert_null(out);
		estkit_free(text);
	}
}

static void test_rfc7030_a1_body_decodes_with_its_line_breaks(void **state)
{
	size_t len = 0, outlen = 0;
	char *text = vector_text("rfc7030/A.1-cacerts-response.b64", &len);
	unsigned char *out = NULL;

	assert_non_null(memchr(text, '\n', len));
	assert_int_equal(estkit_b64_decode(text, len, &out, &outlen), ESTKIT_OK);
	assert_true(outlen > 3000);
	assert_int_equal(out[0], 0x30); /* a DER SEQUENCE */
	estkit_free(out);

	/* "MA==" is one byte 0x30: valid base64 (truncated DER is another layer's concern). */
	estkit_free(text);
	text = vector_text("libest/US895__TEST_ATTR7.b64", &len);
	assert_int_equal(estkit_b64_decode(text, len, &out, &outlen), ESTKIT_OK);
	assert_int_equal(outlen, 1);
	estkit_free(out);
	estkit_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table_accepts_white_space_and_rejects_everything_else),
		cmocka_unit_test(test_decode_rejects_embedded_nul),
		cmocka_unit_test(test_decode_rejects_oversized_input),
		cmocka_unit_test(test_decode_rejects_null_arguments),
		cmocka_unit_test(test_encode_breaks_lines_at_64_and_at_end),
		cmocka_unit_test(test_round_trip_random_sizes_0_to_300_in_every_wrapping),
		cmocka_unit_test(test_truncating_valid_text_never_decodes_to_a_prefix),
		cmocka_unit_test(test_libest_corrupt_base64_vectors_are_rejected),
		cmocka_unit_test(test_rfc7030_a1_body_decodes_with_its_line_breaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
