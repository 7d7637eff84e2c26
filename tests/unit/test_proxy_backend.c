/*
 * test_proxy_backend.c - backend = proxy: how every upstream outcome maps to
 * the client's answer (RFC 7030 4.2.3 202, 400/403 passed on, 401 -> 502,
 * down -> 503 + Retry-After), and the CA side's RA test of RFC 7030 3.7
 * ([auth] ra_certs + id-kp-cmcRA), with subjects holding commas, and the
 * checks on upstream_password_file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <estkit/pki.h>

#include "backend/proxy.h"
#include "backend/proxy_conn.h"
#include "ca_testutil.h"

static void test_map_table(void **state)
{
	static const struct {
		enum estkit_status st;
		long http, retry;
		const char *errmsg;
		int want_http;
		enum estkit_status want_st;
		unsigned want_retry;
		const char *want_reason;
	} cases[] = {
		{ ESTKIT_EPENDING, 202, 120, "", 202, ESTKIT_EPENDING, 120, "retry later" },
		{ ESTKIT_EPENDING, 202, 0, "", 202, ESTKIT_EPENDING, 60, "retry later" },
		{ ESTKIT_EPENDING, 202, 999999, "", 202, ESTKIT_EPENDING, 60, "retry later" },
		{ ESTKIT_EHTTP, 400, 0, "HTTP 400: key too small", 400, ESTKIT_EPOLICY, 0,
		  "key too small" },
		{ ESTKIT_EFORBIDDEN, 403, 0, "HTTP 403: not for you", 403, ESTKIT_EFORBIDDEN, 0,
		  "not for you" },
		{ ESTKIT_EFORBIDDEN, 403, 0, "", 403, ESTKIT_EFORBIDDEN, 0, "refused upstream" },
		{ ESTKIT_EAUTH, 401, 0, "HTTP 401: authentication required", 502, ESTKIT_EHTTP, 0,
		  "upstream refused RA credentials" },
		{ ESTKIT_EHTTP, 501, 0, "HTTP 501", 501, ESTKIT_EHTTP, 0, "not offered" },
		{ ESTKIT_EBUSY, 503, 7, "HTTP 503", 503, ESTKIT_EBUSY, 7, "unavailable" },
		{ ESTKIT_EBUSY, 503, 0, "HTTP 503", 503, ESTKIT_EBUSY, 30, "unavailable" },
		{ ESTKIT_ENET, 0, 0, "connection refused", 503, ESTKIT_EBUSY, 30, "unavailable" },
		{ ESTKIT_ETIMEOUT, 0, 0, "timed out", 503, ESTKIT_EBUSY, 30, "unavailable" },
		{ ESTKIT_ETLS, 0, 0, "certificate verify failed", 502, ESTKIT_EHTTP, 0, "TLS" },
		{ ESTKIT_EHTTP, 404, 0, "HTTP 404: unknown label", 502, ESTKIT_EHTTP, 0,
		  "upstream CA error" },
		{ ESTKIT_EHTTP, 500, 0, "HTTP 500: internal error", 502, ESTKIT_EHTTP, 0,
		  "upstream CA error" },
		{ ESTKIT_EPROTO, 200, 0, "malformed certs-only response", 502, ESTKIT_EHTTP, 0,
		  "upstream CA error" },
		{ ESTKIT_EHTTP, 400, 0, NULL, 400, ESTKIT_EPOLICY, 0, "refused upstream" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_proxy_map m;

		estd_proxy_map_error(cases[i].st, cases[i].http, cases[i].retry, cases[i].errmsg,
				     30, 60, &m);
		if (m.http != cases[i].want_http || m.st != cases[i].want_st)
			fail_msg("case %zu: %d %s", i, m.http, estkit_strerror(m.st));
		if (m.http == 202 || m.http == 503)
			assert_int_equal(m.retry_after, cases[i].want_retry);
		if (strstr(m.reason, cases[i].want_reason) == NULL)
			fail_msg("case %zu: reason '%s'", i, m.reason);
	}
}

/* A certificate with subject subj (one-line "CN=a,O=b" via tu) and EKUs. */
static X509 *cert_with(EVP_PKEY *key, const char *cn, const char *o, const char *eku)
{
	X509 *x = tu_ca_cert(key, cn, 10, 0);
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				   0);
	if (o != NULL)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)o, -1,
					   -1, 0);
	X509_set_subject_name(x, name);
	X509_NAME_free(name);
	if (eku != NULL) {
		X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, eku);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	return x;
}

static void test_is_ra_table(void **state)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	X509 *ra = cert_with(k, "RA 1", NULL, "clientAuth, cmcRA");
	X509 *ra_o = cert_with(k, "RA 1", "Acme", "cmcRA");
	X509 *plain = cert_with(k, "RA 1", NULL, "clientAuth");
	X509 *none = cert_with(k, "RA 1", NULL, NULL);
	static const char *lists[] = { NULL, "", "any", "cert:CN=RA 1", " cert:CN=RA 1 ",
				       "cert:CN=RA 2, cert:CN=RA 1",
				       "cert:CN=RA 1,O=Acme", "cert:O=Acme,CN=RA 1",
				       "cert:O=Acme,CN=RA 1, cert:CN=x", "user:RA 1", "cert:CN=RA",
				       "cert:O=Acme,CN=RA 1,O=Evil" };
	/* want[list][cert]: ra, ra_o, plain, none */
	static const int want[][4] = {
		{ 0, 0, 0, 0 }, { 0, 0, 0, 0 }, { 1, 1, 0, 0 }, { 1, 0, 0, 0 }, { 1, 0, 0, 0 },
		{ 1, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 0, 0 },
		{ 0, 0, 0, 0 }, { 0, 0, 0, 0 },
	};
	X509 *certs[] = { ra, ra_o, plain, none };
	size_t i, j;
	char *s = NULL;

	assert_int_equal(estkit_name_oneline(X509_get_subject_name(ra_o), &s), ESTKIT_OK);
	/* the subject format the lists are written in */
	assert_string_equal(s, "O=Acme,CN=RA 1"); /* RFC 2253: last RDN first */
	estkit_free(s);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (j = 0; j < 4; j++)
			if (estd_ext_is_ra(lists[i], certs[j]) != want[i][j])
				fail_msg("list '%s' cert %zu: want %d", lists[i] ? lists[i] : "(null)",
					 j, want[i][j]);
	assert_int_equal(estd_ext_is_ra("any", NULL), 0);
	for (j = 0; j < 4; j++)
		X509_free(certs[j]);
	EVP_PKEY_free(k);
}

/* upstream_password_file: the first line, a private regular file, 1..1024 bytes */
static void test_password_file_table(void **state)
{
	static const struct {
		const char *content; /* NULL: no file */
		size_t len;          /* 0: strlen(content) */
		mode_t mode;
		enum estkit_status want;
		const char *want_pw, *want_msg;
	} cases[] = {
		{ "s3cret\n", 0, 0600, ESTKIT_OK, "s3cret", NULL },
		{ "s3cret", 0, 0400, ESTKIT_OK, "s3cret", NULL },
		{ "s3cret\r\nsecond\n", 0, 0600, ESTKIT_OK, "s3cret", NULL },
		{ "with space\ttab\n", 0, 0600, ESTKIT_OK, "with space\ttab", NULL },
		{ "nul\0after\n", 10, 0600, ESTKIT_OK, "nul", NULL },
		{ NULL, 0, 0600, ESTKIT_ENOTFOUND, NULL, "No such file" },
		{ "s3cret\n", 0, 0640, ESTKIT_EINVAL, NULL, "chmod 600" },
		{ "s3cret\n", 0, 0604, ESTKIT_EINVAL, NULL, "chmod 600" },
		{ "s3cret\n", 0, 0660, ESTKIT_EINVAL, NULL, "mode 0660" },
		{ "", 0, 0600, ESTKIT_EINVAL, NULL, "empty" },
		{ "\nsecond\n", 0, 0600, ESTKIT_EINVAL, NULL, "empty" },
		{ "\r\n", 0, 0600, ESTKIT_EINVAL, NULL, "empty" },
		{ "\0", 1, 0600, ESTKIT_EINVAL, NULL, "empty" },
		{ "long", 1025, 0600, ESTKIT_EINVAL, NULL, "longer than 1024" },
		{ "long", 1024, 0600, ESTKIT_OK, "", NULL },
		{ "long", 5000, 0600, ESTKIT_EINVAL, NULL, "longer than 1024" },
	};
	const char *base = getenv("TMPDIR");
	char dir[512], path[600], pw[ESTD_PROXY_MAX_PASSWORD + 1];
	char msg[1000], big[5001];
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/estd-proxy-pw-XXXXXX", base != NULL ? base : P_tmpdir);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *data = cases[i].content;
		size_t len = cases[i].len != 0 ? cases[i].len : data != NULL ? strlen(data) : 0;
		enum estkit_status rc;

		(void)unlink(path);
		if (data != NULL) {
			FILE *f = fopen(path, "wb");

			assert_non_null(f);
			if (strcmp(data, "long") == 0)
				data = big;
			assert_int_equal(fwrite(data, 1, len, f), len);
			assert_int_equal(fclose(f), 0);
			assert_int_equal(chmod(path, cases[i].mode), 0);
		}
		msg[0] = '\0';
		rc = estd_proxy_password_read(path, pw, msg, sizeof(msg));
		if (rc != cases[i].want)
			fail_msg("case %zu: %s (%s)", i, estkit_strerror(rc), msg);
		if (cases[i].want_pw != NULL && cases[i].len == 1024)
			assert_int_equal(strlen(pw), 1024);
		else if (cases[i].want_pw != NULL)
			assert_string_equal(pw, cases[i].want_pw);
		else
			assert_string_equal(pw, ""); /* nothing half-read left behind */
		if (cases[i].want_msg != NULL &&
		    (strstr(msg, cases[i].want_msg) == NULL || strstr(msg, path) == NULL))
			fail_msg("case %zu: message '%s'", i, msg);
	}
	/* not a regular file */
	(void)unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(estd_proxy_password_read(path, pw, msg, sizeof(msg)), ESTKIT_EIO);
	assert_non_null(strstr(msg, "not a regular file"));
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_table),
		cmocka_unit_test(test_is_ra_table),
		cmocka_unit_test(test_password_file_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
