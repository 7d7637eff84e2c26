/*
 * test_ca_backend.c - the CA backend's pieces that do not need a live
 * request: store records of issued certificates, configuration snapshots
 * (label -> profile, bad profiles refused), and the vtable it hands out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "backend/ca.h"
#include "backend/record.h"
#include "backend/snapshot.h"
#include "ca_testutil.h"

static const int san_nids[] = { NID_subject_alt_name, 0 };
static const char *const san_vals[] = { "DNS:dev.example,IP:192.0.2.9" };

static void test_record_holds_everything_about_the_certificate(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_profile src = { (char *)"p", 30, (char *)"digitalSignature",
				    (char *)"clientAuth", (char *)"ec:P-256", 1, NULL, 0, NULL, 0 };
	struct estd_ca_profile *p = NULL;
	EVP_PKEY *key = tu_key("EC", "P-256", 0);
	X509_REQ *csr = tu_csr(key, "dev", san_nids, san_vals);
	struct estd_cert_record rec;
	X509 *cert = NULL;
	char err[128];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(estd_profile_parse(&src, &p, err, sizeof(err)), ESTKIT_OK);
	assert_int_equal(estd_ca_issue(ca, p, csr, &cert, err, sizeof(err)), ESTKIT_OK);
	assert_int_equal(estd_record_build(csr, cert, "user:alice", "routers", "simpleenroll",
					   &rec), ESTKIT_OK);
	/* 16 random bytes, first one 0x01..0x7f: hex without leading zeros is 31 or 32 digits */
	assert_in_range(strlen(rec.serial), 31, 32);
	assert_string_equal(rec.subject, "CN=dev");
	assert_string_equal(rec.issuer, "CN=Test CA");
	assert_string_equal(rec.sans, "DNS:dev.example, IP:192.0.2.9");
	assert_string_equal(rec.requester, "user:alice");
	assert_string_equal(rec.label, "routers");
	assert_string_equal(rec.op, "simpleenroll");
	assert_true(rec.not_before <= (long long)now - 59 && rec.not_before >= (long long)now - 62);
	assert_true(rec.not_after - rec.not_before >= 30 * 86400);
	assert_true(rec.issued_at >= (long long)now);
	assert_int_equal(rec.cert_len, (size_t)i2d_X509(cert, NULL));
	assert_int_equal(rec.csr_len, (size_t)i2d_X509_REQ(csr, NULL));
	estd_record_clear(&rec);
	assert_null(rec.serial);
	assert_int_equal(estd_record_build(NULL, cert, "x", "", "op", &rec), ESTKIT_EINVAL);
	X509_free(cert);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	estd_profile_free(p);
	estd_ca_free(ca);
}

/* A configuration made by hand: two profiles, the default label and "routers". */
static struct estd_config *config(const char *bad_keys)
{
	struct estd_config *c = calloc(1, sizeof(*c));

	c->path = strdup("test.conf");
	c->log_level = strdup("info");
	c->nprofiles = 2;
	c->profiles = calloc(2, sizeof(*c->profiles));
	c->profiles[0] = (struct estd_profile){ strdup("default"), 365, strdup("digitalSignature"),
						strdup("clientAuth"), strdup("ec:P-256"), 1, NULL, 0, NULL, 0 };
	c->profiles[1] = (struct estd_profile){ strdup("router"), 30, strdup("digitalSignature"),
						strdup("serverAuth"),
						strdup(bad_keys ? bad_keys : "rsa:3072"), 0, NULL, 0, NULL, 0 };
	c->nlabels = 2;
	c->labels = calloc(2, sizeof(*c->labels));
	c->labels[0] = (struct estd_label){ .name = strdup(""), .profile = strdup("default") };
	c->labels[1] = (struct estd_label){ .name = strdup("routers"), .profile = strdup("router") };
	return c;
}

static void test_snapshot_maps_labels_to_parsed_profiles(void **state)
{
	struct estd_config *cfg = config(NULL);
	struct estd_snapshot *s = NULL;
	const struct estd_ca_profile *p;
	char *err = NULL;

	(void)state;
	assert_int_equal(estd_snapshot_new(cfg, NULL, &s, &err), ESTKIT_OK);
	p = estd_snapshot_profile(s, "");
	assert_non_null(p);
	assert_string_equal(p->name, "default");
	p = estd_snapshot_profile(s, "routers");
	assert_non_null(p);
	assert_string_equal(p->name, "router");
	assert_int_equal(p->keys[0].min_bits, 3072);
	assert_null(estd_snapshot_profile(s, "nope"));
	assert_null(estd_snapshot_profile(NULL, ""));
	estd_snapshot_retain(s);
	estd_snapshot_release(s);
	estd_snapshot_release(s); /* frees cfg too */
	estd_snapshot_release(NULL);
}

static void test_snapshot_refuses_bad_profile_and_leaves_config_to_caller(void **state)
{
	struct estd_config *cfg = config("rsa:512");
	struct estd_snapshot *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(estd_snapshot_new(cfg, NULL, &s, &err), ESTKIT_EINVAL);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "profile router: allowed_keys"));
	assert_non_null(strstr(err, "'rsa:512'"));
	free(err);
	estd_config_free(cfg);
}

static void test_backend_vtable_and_labels(void **state)
{
	struct estd_ca *ca = tu_ca(3650, NULL);
	struct estd_config *cfg = config(NULL);
	struct estd_backend_ca *b = NULL;
	struct estd_store *st = NULL;
	struct estkit_backend vt;
	char dir[] = "/tmp/estd-backend-XXXXXX";
	char db[64];
	char *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/estd.db", dir);
	assert_int_equal(estd_store_open(db, &st, &err), ESTKIT_OK);
	assert_int_equal(estd_backend_ca_new(cfg, NULL, st, ca, &b, &err), ESTKIT_OK);
	estd_backend_ca_vtable(b, &vt);
	assert_ptr_equal(vt.ctx, b);
	assert_non_null(vt.enroll);
	assert_non_null(vt.cacerts);
	assert_int_equal(vt.label_exists(vt.ctx, ""), 1);
	assert_int_equal(vt.label_exists(vt.ctx, "routers"), 1);
	assert_int_equal(vt.label_exists(vt.ctx, "other"), 0);
	assert_int_equal(estd_log_level_parse("debug"), ESTKIT_LOG_DEBUG);
	assert_int_equal(estd_log_level_parse("warn"), ESTKIT_LOG_WARN);
	assert_int_equal(estd_log_level_parse("bogus"), ESTKIT_LOG_INFO);
	estd_backend_ca_free(b);
	estd_backend_ca_free(NULL);
	estd_store_close(st);
	estd_ca_free(ca);
	snprintf(db, sizeof(db), "rm -rf '%s'", dir);
	assert_int_equal(system(db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_holds_everything_about_the_certificate),
		cmocka_unit_test(test_snapshot_maps_labels_to_parsed_profiles),
		cmocka_unit_test(test_snapshot_refuses_bad_profile_and_leaves_config_to_caller),
		cmocka_unit_test(test_backend_vtable_and_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
