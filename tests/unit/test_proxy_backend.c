/*
 * test_proxy_backend.c - backend = proxy: how every upstream outcome maps to
 * the client's answer (RFC 7030 4.2.3 202, 400/403 passed on, 401 -> 502,
 * down -> 503 + Retry-After), and the CA side's RA test of RFC 7030 3.7
 * ([auth] ra_certs + id-kp-cmcRA), with subjects holding commas.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <estkit/pki.h>

#include "backend/proxy.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_table),
		cmocka_unit_test(test_is_ra_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
