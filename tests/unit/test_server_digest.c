/*
 * test_server_digest.c - HTTP Digest (RFC 7616): the strict Authorization
 * parser, stateless nonces (MAC, lifetime, clock skew), the nonce-count
 * replay table and the response computation against the RFC 7616 3.9.1
 * examples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "server/server_internal.h"

static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";

struct parse_case {
	const char *authz;
	int ok;
	const char *username; /* expected when ok */
	const char *nc;
};

static void test_parse_accepts_only_strict_digest_headers(void **state)
{
	static const struct parse_case cases[] = {
		{ "Digest username=\"u\", nc=00000001", 1, "u", "00000001" },
		{ "digest USERNAME=\"u\",nc=\"00000002\"", 1, "u", "00000002" },
		{ "Digest\tusername=u , nc=1", 1, "u", "1" },
		{ "Digest username=\"a\\\"b\\\\c\"", 1, "a\"b\\c", NULL },
		{ "Digest username=\"\", unknown=x, other=\"y\"", 1, "", NULL },
		{ "Digest username=\"x, y=z\"", 1, "x, y=z", NULL },
		/* malformed */
		{ NULL, 0, NULL, NULL },
		{ "", 0, NULL, NULL },
		{ "Digest", 0, NULL, NULL },
		{ "Digest ", 0, NULL, NULL },
		{ "Digestusername=u", 0, NULL, NULL },
		{ "Basic dXNlcjpwdw==", 0, NULL, NULL },
		{ "Digest username", 0, NULL, NULL },
		{ "Digest username=", 0, NULL, NULL },
		{ "Digest =u", 0, NULL, NULL },
		{ "Digest username=\"u", 0, NULL, NULL },
		{ "Digest username=\"u\\", 0, NULL, NULL },
		{ "Digest username=\"u\" nc=1", 0, NULL, NULL },
		{ "Digest username=u,", 0, NULL, NULL },
		{ "Digest username=u,,nc=1", 0, NULL, NULL },
		{ "Digest username=u, USERNAME=v", 0, NULL, NULL },
		{ "Digest username=\"u\nv\"", 0, NULL, NULL },
		{ "Digest username=\"u\x7f\"", 0, NULL, NULL },
		{ "Digest username=u@v", 0, NULL, NULL },
		{ "Digest username=u;nc=1", 0, NULL, NULL },
		{ "Digest a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,m=1,n=1,o=1,p=1,q=1,"
		  "r=1,s=1,t=1,u=1,v=1,w=1,x=1,y=1", 0, NULL, NULL },
	};
	struct ek_digest_params *p = malloc(sizeof(*p));
	size_t i;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ek_digest_parse(cases[i].authz, p);
		if (rc != (cases[i].ok ? 0 : -1))
			fail_msg("case %zu: %s", i, cases[i].authz ? cases[i].authz : "(null)");
		if (!cases[i].ok)
			continue;
		assert_string_equal(p->username, cases[i].username);
		if (cases[i].nc != NULL)
			assert_string_equal(p->nc, cases[i].nc);
	}
	free(p);
}

static void test_parse_refuses_oversized_header(void **state)
{
	struct ek_digest_params *p = malloc(sizeof(*p));
	char *big = malloc(EK_DIGEST_AUTHZ_MAX + 16);
	size_t pre = strlen("Digest username=\"");

	(void)state;
	assert_non_null(p);
	assert_non_null(big);
	memcpy(big, "Digest username=\"", pre);
	/* just under the limit parses */
	memset(big + pre, 'a', EK_DIGEST_AUTHZ_MAX - pre - 2);
	memcpy(big + EK_DIGEST_AUTHZ_MAX - 2, "\"", 2);
	assert_int_equal(ek_digest_parse(big, p), 0);
	memset(big + pre, 'a', EK_DIGEST_AUTHZ_MAX - pre);
	memcpy(big + EK_DIGEST_AUTHZ_MAX, "\"", 2);
	assert_int_equal(ek_digest_parse(big, p), -1);
	free(big);
	free(p);
}

static void test_nonce_mac_lifetime_and_skew(void **state)
{
	struct ek_digest *d = ek_digest_new(secret, sizeof(secret), 300, 64);
	struct ek_digest *other = ek_digest_new(NULL, 0, 300, 64);
	char n1[80], n2[80], bad[96];
	unsigned char key[16];
	int64_t ts = 0;
	time_t now = 1700000000;

	(void)state;
	assert_non_null(d);
	assert_non_null(other);
	assert_int_equal(ek_digest_nonce(d, "estkit", now, n1, 10), -1); /* too small */
	assert_int_equal(ek_digest_nonce(d, "estkit", now, n1, sizeof(n1)), 0);
	assert_int_equal(ek_digest_nonce(d, "estkit", now, n2, sizeof(n2)), 0);
	assert_int_equal(strlen(n1), 64);
	assert_string_not_equal(n1, n2); /* salted: two challenges never share a nonce */
	assert_int_equal(ek_digest_nonce_check(d, "estkit", n1, now, &ts, key), EK_NONCE_OK);
	assert_int_equal(ts, now);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", n1, now + 300, &ts, key), EK_NONCE_OK);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", n1, now + 301, &ts, key),
			 EK_NONCE_STALE);
	/* issued "in the future": more than the allowed skew is not ours */
	assert_int_equal(ek_digest_nonce_check(d, "estkit", n1, now - 61, &ts, key), EK_NONCE_BAD);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", n1, now - 60, &ts, key), EK_NONCE_OK);
	/* another key or realm */
	assert_int_equal(ek_digest_nonce_check(other, "estkit", n1, now, &ts, key), EK_NONCE_BAD);
	assert_int_equal(ek_digest_nonce_check(d, "other", n1, now, &ts, key), EK_NONCE_BAD);
	/* same key in another server object: accepted (nodes sharing digest.key) */
	{
		struct ek_digest *twin = ek_digest_new(secret, sizeof(secret), 300, 64);
		assert_int_equal(ek_digest_nonce_check(twin, "estkit", n1, now, &ts, key),
				 EK_NONCE_OK);
		ek_digest_free(twin);
	}
	/* malformed: flipped, truncated, extended, not base64, NULL */
	snprintf(bad, sizeof(bad), "%s", n1);
	bad[40] = bad[40] == 'A' ? 'B' : 'A';
	assert_int_equal(ek_digest_nonce_check(d, "estkit", bad, now, &ts, key), EK_NONCE_BAD);
	bad[40] = n1[40];
	bad[3] = bad[3] == 'A' ? 'B' : 'A'; /* the timestamp is covered by the MAC too */
	assert_int_equal(ek_digest_nonce_check(d, "estkit", bad, now, &ts, key), EK_NONCE_BAD);
	snprintf(bad, sizeof(bad), "%.60s", n1);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", bad, now, &ts, key), EK_NONCE_BAD);
	snprintf(bad, sizeof(bad), "%.64sAAAA", n1);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", bad, now, &ts, key), EK_NONCE_BAD);
	snprintf(bad, sizeof(bad), "%s", n1);
	bad[10] = '*';
	assert_int_equal(ek_digest_nonce_check(d, "estkit", bad, now, &ts, key), EK_NONCE_BAD);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", NULL, now, &ts, key), EK_NONCE_BAD);
	assert_int_equal(ek_digest_nonce_check(d, "estkit", "", now, &ts, key), EK_NONCE_BAD);
	ek_digest_free(d);
	ek_digest_free(other);
}

static void test_new_refuses_bad_settings(void **state)
{
	(void)state;
	assert_null(ek_digest_new(secret, 15, 300, 64));
	assert_null(ek_digest_new(secret, 1025, 300, 64));
	assert_null(ek_digest_new(secret, sizeof(secret), 0, 64));
	assert_null(ek_digest_new(secret, sizeof(secret), 300, 0));
	ek_digest_free(NULL);
}

static void mkkey(unsigned char key[16], unsigned i)
{
	memset(key, 0, 16);
	key[15] = (unsigned char)i; /* key[0..3] = 0: all in bucket 0 */
}

static void test_nc_table_detects_replay_and_forgets_safely(void **state)
{
	/* 8 entries: one bucket of NC_WAYS */
	struct ek_digest *d = ek_digest_new(secret, sizeof(secret), 300, 8);
	unsigned char key[16];
	unsigned i;

	(void)state;
	assert_non_null(d);
	mkkey(key, 0);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 1), EK_NC_OK);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 1), EK_NC_REPLAY);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 0), EK_NC_REPLAY);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 3), EK_NC_OK);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 2), EK_NC_REPLAY);
	/* fill the bucket with newer nonces: the oldest (ts 1000) is dropped */
	for (i = 1; i <= 8; i++) {
		mkkey(key, i);
		assert_int_equal(ek_digest_nc_accept(d, key, 1000 + i, 1), EK_NC_OK);
	}
	/* the dropped nonce is not trusted again: stale, never a fresh start */
	mkkey(key, 0);
	assert_int_equal(ek_digest_nc_accept(d, key, 1000, 4), EK_NC_FORGOTTEN);
	/* nonces still in the table keep their counts */
	mkkey(key, 8);
	assert_int_equal(ek_digest_nc_accept(d, key, 1008, 1), EK_NC_REPLAY);
	assert_int_equal(ek_digest_nc_accept(d, key, 1008, 2), EK_NC_OK);
	/* a newer unseen nonce is accepted */
	mkkey(key, 9);
	assert_int_equal(ek_digest_nc_accept(d, key, 2000, 1), EK_NC_OK);
	ek_digest_free(d);
}

struct vec {
	const char *alg, *ha1_input, *response;
};

/* RFC 7616 3.9.1: Mufasa / "Circle of Life" / http-auth@example.org, GET /dir/index.html */
static void test_response_matches_rfc7616_examples(void **state)
{
	static const struct vec vecs[] = {
		{ "MD5", "Mufasa:http-auth@example.org:Circle of Life",
		  "8ca523f5e9506fed4657c9700eebdbec" },
		{ NULL, "Mufasa:http-auth@example.org:Circle of Life",
		  "8ca523f5e9506fed4657c9700eebdbec" },
		{ "SHA-256", "Mufasa:http-auth@example.org:Circle of Life",
		  "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1" },
	};
	struct ek_digest_params *p = malloc(sizeof(*p));
	char out[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char ha1[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t i;

	(void)state;
	assert_non_null(p);
	assert_int_equal(ek_digest_parse(
		"Digest username=\"Mufasa\", realm=\"http-auth@example.org\", "
		"uri=\"/dir/index.html\", algorithm=MD5, "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
		"cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
		"response=\"8ca523f5e9506fed4657c9700eebdbec\", "
		"opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"", p), 0);
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const EVP_MD *md = vecs[i].alg != NULL && strcmp(vecs[i].alg, "SHA-256") == 0
					   ? EVP_sha256() : EVP_md5();
		assert_int_equal(EVP_Digest(vecs[i].ha1_input, strlen(vecs[i].ha1_input), ha1,
					    &len, md, NULL), 1);
		assert_int_equal(ek_digest_response(vecs[i].alg, ha1, len, p, "GET", out), 0);
		assert_string_equal(out, vecs[i].response);
		/* another method or uri changes the response */
		assert_int_equal(ek_digest_response(vecs[i].alg, ha1, len, p, "POST", out), 0);
		assert_string_not_equal(out, vecs[i].response);
	}
	/* wrong HA1 length, unknown or -sess algorithm */
	assert_int_equal(ek_digest_response("SHA-256", ha1, 16, p, "GET", out), -1);
	assert_int_equal(ek_digest_response("SHA-512-256", ha1, 32, p, "GET", out), -1);
	assert_int_equal(ek_digest_response("MD5-sess", ha1, 16, p, "GET", out), -1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_only_strict_digest_headers),
		cmocka_unit_test(test_parse_refuses_oversized_header),
		cmocka_unit_test(test_nonce_mac_lifetime_and_skew),
		cmocka_unit_test(test_new_refuses_bad_settings),
		cmocka_unit_test(test_nc_table_detects_replay_and_forgets_safely),
		cmocka_unit_test(test_response_matches_rfc7616_examples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
