/*
 * test_ca_rollover.c - estd's CA rollover (src/estd/ca/rollover*.c): the new
 * root and its links, and loading a configured rollover (good, tampered,
 * mismatched, missing files).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include <estkit/pki.h>
#include <estkit/rollover.h>

#include "ca/rollover.h"
#include "ca_testutil.h"
#include "util.h"
#include "tmpdir_testutil.h"

static char tmpdir[512];

static int setup(void **state)
{
	(void)state;
	return tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-rollover");
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(tmpdir);
}

static char *tmp(const char *name)
{
	char *p = estd_path_join(tmpdir, name);

	assert_non_null(p);
	return p;
}

/* A fresh rollover of old: the new key in *key, certificates in *c. */
static void make(struct estd_ca *old, EVP_PKEY **key, struct estd_rollover_certs *c)
{
	struct estd_signer *s = NULL;
	char *err = NULL;

	*key = tu_key("EC", "P-256", 0);
	assert_int_equal(estd_signer_new(*key, &s), ESTKIT_OK);
	assert_int_equal(estd_rollover_create(old, s, NULL, 30, c, &err), ESTKIT_OK);
	assert_null(err);
	estd_signer_free(s);
}

static void test_create_links_verify(void **state)
{
	struct estd_ca *old = tu_ca(365, NULL);
	struct estd_rollover_certs c;
	struct estkit_rollover_roles r;
	STACK_OF(X509) *set = sk_X509_new_null();
	EVP_PKEY *key = NULL;

	(void)state;
	make(old, &key, &c);
	sk_X509_push(set, estd_ca_cert(old));
	sk_X509_push(set, c.new_with_old);
	sk_X509_push(set, c.old_with_new);
	sk_X509_push(set, c.new_with_new);
	assert_int_equal(estkit_rollover_classify(set, estd_ca_cert(old), &r), ESTKIT_OK);
	assert_ptr_equal(r.old_with_old, estd_ca_cert(old));
	assert_ptr_equal(r.new_with_old, c.new_with_old);
	assert_ptr_equal(r.old_with_new, c.old_with_new);
	assert_ptr_equal(r.new_with_new, c.new_with_new);
	assert_int_equal(X509_check_ca(c.new_with_new), 1);
	assert_int_equal(X509_check_ca(c.new_with_old), 1);
	/* RFC 4210 4.4: the links end with the old root, not after. */
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(c.new_with_old),
				      X509_get0_notAfter(estd_ca_cert(old))) <= 0);
	assert_true(ASN1_TIME_compare(X509_get0_notAfter(c.old_with_new),
				      X509_get0_notAfter(c.new_with_new)) <= 0);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c.new_with_new),
				       X509_get_subject_name(estd_ca_cert(old))), 0);
	sk_X509_free(set);
	estd_rollover_certs_clear(&c);
	assert_null(c.new_with_new);
	EVP_PKEY_free(key);
	estd_ca_free(old);
}

/* Which files a load case writes: the links file content and the key. */
struct load_case {
	const char *what;
	int links;      /* 0 both, 1 only NewWithOld, 2 swapped keys (links of another rollover), 3 empty */
	int wrong_key;  /* next_key is not next_cert's key */
	int no_key_file;
	enum estkit_status want;
};

static const struct load_case load_cases[] = {
	{"good", 0, 0, 0, ESTKIT_OK},
	{"OldWithNew missing", 1, 0, 0, ESTKIT_EINVAL},
	{"links of another rollover", 2, 0, 0, ESTKIT_EINVAL},
	{"empty links file", 3, 0, 0, ESTKIT_EPARSE},
	{"next_key of another key", 0, 1, 0, ESTKIT_EINVAL},
	{"next_key missing", 0, 0, 1, ESTKIT_EIO},
};

static void write_case(const struct load_case *lc, struct estd_ca *old, struct estd_config *cfg)
{
	struct estd_rollover_certs c, other;
	EVP_PKEY *key = NULL, *okey = NULL;
	STACK_OF(X509) *links = sk_X509_new_null();

	make(old, &key, &c);
	make(old, &okey, &other);
	if (lc->links == 0 || lc->links == 1)
		sk_X509_push(links, c.new_with_old);
	if (lc->links == 0)
		sk_X509_push(links, c.old_with_new);
	if (lc->links == 2) {
		sk_X509_push(links, other.new_with_old);
		sk_X509_push(links, other.old_with_new);
	}
	if (lc->links == 3)
		assert_int_equal(estkit_file_write_atomic(cfg->ca_link_certs, "", 0, 0644), ESTKIT_OK);
	else
		assert_int_equal(estkit_certs_save(cfg->ca_link_certs, links), ESTKIT_OK);
	assert_int_equal(estkit_cert_save(cfg->ca_next_cert, c.new_with_new), ESTKIT_OK);
	unlink(cfg->ca_next_key);
	if (!lc->no_key_file)
		assert_int_equal(estkit_key_save(cfg->ca_next_key, lc->wrong_key ? okey : key),
				 ESTKIT_OK);
	sk_X509_free(links);
	estd_rollover_certs_clear(&c);
	estd_rollover_certs_clear(&other);
	EVP_PKEY_free(key);
	EVP_PKEY_free(okey);
}

static void test_load(void **state)
{
	struct estd_config cfg;
	struct estd_ca *old = tu_ca(365, NULL);
	STACK_OF(X509) *base = sk_X509_new_null();
	size_t i;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ca_cert = tmp("ca.pem");
	cfg.ca_next_cert = tmp("ca-2.pem");
	cfg.ca_next_key = tmp("ca-2.key");
	cfg.ca_link_certs = tmp("ca-2-links.pem");
	sk_X509_push(base, estd_ca_cert(old));
	for (i = 0; i < sizeof(load_cases) / sizeof(load_cases[0]); i++) {
		const struct load_case *lc = &load_cases[i];
		struct estd_rollover *r = NULL;
		char *err = NULL;
		enum estkit_status rc;

		print_message("case: %s\n", lc->what);
		write_case(lc, old, &cfg);
		cfg.ca_switch_at = lc->want == ESTKIT_OK ? 1000 : -1;
		rc = estd_rollover_load(&cfg, old, base, &r, &err);
		if (lc->want == ESTKIT_OK) {
			assert_int_equal(rc, ESTKIT_OK);
			assert_non_null(r);
			assert_int_equal(sk_X509_num(estd_rollover_cacerts(r)), 4);
			assert_ptr_equal(sk_X509_value(estd_rollover_cacerts(r), 0), estd_ca_cert(old));
			assert_int_equal(estd_rollover_switched(r, 999), 0);
			assert_int_equal(estd_rollover_switched(r, 1000), 1);
		} else {
			assert_int_not_equal(rc, ESTKIT_OK);
			assert_null(r);
			assert_non_null(err);
		}
		free(err);
		estd_rollover_free(r);
	}
	/* No next_cert: no rollover, no error. */
	free(cfg.ca_next_cert);
	cfg.ca_next_cert = NULL;
	{
		struct estd_rollover *r = NULL;
		char *err = NULL;

		assert_int_equal(estd_rollover_load(&cfg, old, base, &r, &err), ESTKIT_OK);
		assert_null(r);
		assert_int_equal(estd_rollover_switched(NULL, 2000), 0);
	}
	free(cfg.ca_cert);
	free(cfg.ca_next_key);
	free(cfg.ca_link_certs);
	sk_X509_free(base);
	estd_ca_free(old);
}

static void test_parse_utc(void **state)
{
	static const struct {
		const char *in;
		int ok;
		long long want;
	} cases[] = {
		{"1970-01-01T00:00:00Z", 1, 0},
		{"2030-06-01T12:30:05Z", 1, 1906547405},
		{"2030-06-01T12:30:05", 0, 0},
		{"2030-06-01 12:30:05Z", 0, 0},
		{"2030-06-01T12:30:05Zx", 0, 0},
		{"2030-13-01T12:30:05Z", 0, 0},
		{"", 0, 0},
		{"now", 0, 0},
		{"2030-06-01T12:30:05Z2030-06-01T12:30:05Z", 0, 0},
	};
	size_t i;
	long long t;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = -5;
		assert_int_equal(estd_parse_utc(cases[i].in, &t) == 0, cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(t, cases[i].want);
	}
	assert_int_equal(estd_parse_utc(NULL, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_links_verify),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_parse_utc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
