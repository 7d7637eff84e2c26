/*
 * test_crl_url.c - the profile key crl_url: accepted and refused values, and
 * the cRLDistributionPoints extension (RFC 5280 4.2.1.13) it puts in issued
 * certificates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <openssl/x509v3.h>

#include "ca_testutil.h"
#include "ca/issue.h"
#include "config.h"

struct url_case {
	const char *url;
	int ok;
};

static const struct url_case cases[] = {
	{ "http://ca.example/crl/ca.crl", 1 },
	{ "https://ca.example:8443/x.crl", 1 },
	{ NULL, 1 },
	{ "ftp://ca.example/x.crl", 0 },
	{ "http://", 0 },
	{ "http://a b/", 0 },
	{ "http://a,b/", 0 },
	{ "http://ca.example/\x01", 0 },
	{ "ldap://ca.example/cn=x", 0 },
	{ "", 0 },
};

static struct estd_ca_profile *parse(const char *url, enum estkit_status want)
{
	struct estd_profile src = { (char *)"p", 30, (char *)"digitalSignature",
				    (char *)"clientAuth", (char *)"ec:P-256", 1, (char *)url, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	char err[256] = "";

	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), want);
	if (want != ESTKIT_OK)
		assert_non_null(strstr(err, "crl_url"));
	return p;
}

static void test_crl_url_values(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		estd_profile_free(parse(cases[i].url, cases[i].ok ? ESTKIT_OK : ESTKIT_EINVAL));
}

static void test_issued_cert_carries_the_distribution_point(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_ca_profile *p = parse("http://ca.example/crl/ca.crl", ESTKIT_OK);
	struct estd_ca_profile *none = parse(NULL, ESTKIT_OK);
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "dev", NULL, NULL);
	X509 *cert = NULL;
	CRL_DIST_POINTS *dps = NULL;
	GENERAL_NAME *gn = NULL;
	char reason[256];

	assert_int_equal(estd_ca_issue(ca, p, csr, &cert, reason, sizeof(reason)), ESTKIT_OK);
	dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(dps);
	assert_int_equal(sk_DIST_POINT_num(dps), 1);
	gn = sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
			    "http://ca.example/crl/ca.crl");
	CRL_DIST_POINTS_free(dps);
	X509_free(cert);
	assert_int_equal(estd_ca_issue(ca, none, csr, &cert, reason, sizeof(reason)), ESTKIT_OK);
	assert_int_equal(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1), -1);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_profile_free(none);
	estd_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl_url_values),
		cmocka_unit_test(test_issued_cert_carries_the_distribution_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
