/*
 * test_init.c - `estd init` makes a directory estd can run from: keys
 * private, config loadable, a TLS certificate chaining to the CA; it refuses
 * to clobber, imports only a matching CA, and rejects bad options before
 * touching the disk.
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

#include <openssl/x509v3.h>

#include <estkit/pki.h>

#include "admin/init.h"
#include "config.h"
#include "util.h"

static char base[64];

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(base, sizeof(base), "%s/estd-init-XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
	return mkdtemp(base) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path(const char *dir, const char *name)
{
	char *d = estd_path_join(base, dir);
	char *p = name ? estd_path_join(d, name) : estd_strdup(d);

	free(d);
	assert_non_null(p);
	return p;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char *p = path(dir, name);
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

static void fingerprint(const char *dir, char fp[65])
{
	char *p = path(dir, "ca.pem");
	X509 *x = NULL;

	assert_int_equal(estkit_cert_load(p, &x), ESTKIT_OK);
	assert_int_equal(estkit_cert_fingerprint(x, fp), ESTKIT_OK);
	X509_free(x);
	free(p);
}

static enum estkit_status run_init(const char *dir, struct estd_init_opts *o, char **err)
{
	char *d = path(dir, NULL);
	enum estkit_status rc;

	o->dir = d;
	rc = estd_init(o, NULL, err);
	free(d);
	o->dir = NULL;
	return rc;
}

static void test_init_creates_a_runnable_directory(void **state)
{
	const char *hosts[] = { "est.example", "192.0.2.7", "2001:db8::1", "localhost" };
	struct estd_init_opts o = { 0 };
	struct estd_config *cfg = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	char *err = NULL, *conf = path("a", "estd.conf"), *tls = path("a", "tls.pem");
	char *sans = NULL, *cn = NULL;

	(void)state;
	o.hostnames = hosts;
	o.nhostnames = 4;
	o.listen = "127.0.0.1:18443";
	assert_int_equal(run_init("a", &o, &err), ESTKIT_OK);
	assert_null(err);
	assert_int_equal(mode_of("a", NULL), 0700);
	assert_int_equal(mode_of("a", "ca.key"), 0600);
	assert_int_equal(mode_of("a", "tls.key"), 0600);
	assert_int_equal(mode_of("a", "users"), 0600);
	assert_int_equal(mode_of("a", "ca.pem") & 0077, 0044);
	(void)mode_of("a", "estd.db");
	assert_int_equal(estd_config_load(conf, &cfg, &err), ESTKIT_OK);
	assert_string_equal(cfg->listen, "127.0.0.1:18443");
	assert_null(cfg->ca_chain);
	assert_non_null(estd_config_label(cfg, ""));
	assert_non_null(estd_config_profile(cfg, "default"));
	/* tls.pem: leaf then CA; the leaf verifies against the CA and names every host. */
	assert_int_equal(estkit_certs_load(tls, &chain), ESTKIT_OK);
	assert_int_equal(sk_X509_num(chain), 2);
	X509_STORE_add_cert(store, sk_X509_value(chain, 1));
	X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	assert_int_equal(X509_verify_cert(ctx), 1);
	assert_int_equal(X509_check_ca(sk_X509_value(chain, 1)), 1);
	assert_int_equal(estkit_cert_sans(sk_X509_value(chain, 0), &sans), ESTKIT_OK);
	assert_string_equal(sans, "DNS:localhost, IP:127.0.0.1, DNS:est.example, IP:192.0.2.7, "
				  "IP:2001:db8::1");
	assert_int_equal(estkit_name_oneline(X509_get_subject_name(sk_X509_value(chain, 0)), &cn),
			 ESTKIT_OK);
	assert_string_equal(cn, "CN=est.example");
	estkit_free(sans);
	estkit_free(cn);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(chain, X509_free);
	estd_config_free(cfg);
	free(conf);
	free(tls);
}

static void test_init_refuses_non_empty_dir_unless_forced(void **state)
{
	struct estd_init_opts o = { 0 };
	char before[65], after[65];
	char *err = NULL;

	(void)state;
	assert_int_equal(run_init("b", &o, &err), ESTKIT_OK);
	fingerprint("b", before);
	assert_int_equal(run_init("b", &o, &err), ESTKIT_EEXIST);
	assert_non_null(strstr(err, "--force"));
	free(err);
	err = NULL;
	fingerprint("b", after);
	assert_string_equal(before, after);
	o.force = 1;
	o.key_type = "rsa:2048";
	o.ca_subject = "/CN=Second CA";
	o.ca_days = 30;
	assert_int_equal(run_init("b", &o, &err), ESTKIT_OK);
	fingerprint("b", after);
	assert_string_not_equal(before, after);
}

static void test_init_imports_a_matching_ca_only(void **state)
{
	struct estd_init_opts o = { 0 };
	char *cert = path("c", "ca.pem"), *key = path("c", "ca.key");
	char *tlscert = path("c", "tls.pem"), *tlskey = path("c", "tls.key");
	char *err = NULL, *d = NULL;
	char a[65], b[65];
	struct stat st;

	(void)state;
	assert_int_equal(run_init("c", &o, &err), ESTKIT_OK);
	o.ca_cert = cert;
	o.ca_key = key;
	assert_int_equal(run_init("c-import", &o, &err), ESTKIT_OK);
	fingerprint("c", a);
	fingerprint("c-import", b);
	assert_string_equal(a, b);
	assert_int_equal(mode_of("c-import", "ca.key"), 0600);
	/* A key that is not the CA's: refused, and nothing created. */
	o.ca_key = tlskey;
	assert_int_equal(run_init("c-mismatch", &o, &err), ESTKIT_EINVAL);
	assert_non_null(strstr(err, "does not match"));
	free(err);
	err = NULL;
	d = path("c-mismatch", NULL);
	assert_int_not_equal(stat(d, &st), 0);
	/* A leaf certificate is no CA. */
	o.ca_cert = tlscert;
	assert_int_equal(run_init("c-leaf", &o, &err), ESTKIT_EPOLICY);
	assert_non_null(strstr(err, "not a CA certificate"));
	free(err);
	free(d);
	free(cert);
	free(key);
	free(tlscert);
	free(tlskey);
}

struct bad_opts {
	const char *what;
	const char *host, *listen, *key_type, *subject, *ca_cert, *ca_key;
	int days;
};

static const struct bad_opts bad[] = {
	{ "hostname with a space", "bad host", NULL, NULL, NULL, NULL, NULL, 0 },
	{ "hostname with a comma", "a,b", NULL, NULL, NULL, NULL, NULL, 0 },
	{ "hostname with a newline", "a\nlisten=x", NULL, NULL, NULL, NULL, NULL, 0 },
	{ "empty hostname", "", NULL, NULL, NULL, NULL, NULL, 0 },
	{ "listen without port", NULL, "localhost", NULL, NULL, NULL, NULL, 0 },
	{ "listen port out of range", NULL, "127.0.0.1:70000", NULL, NULL, NULL, NULL, 0 },
	{ "listen with a newline", NULL, "127.0.0.1:1\n[x]", NULL, NULL, NULL, NULL, 0 },
	{ "unknown key type", NULL, NULL, "dsa:1024", NULL, NULL, NULL, 0 },
	{ "RSA too small", NULL, NULL, "rsa:1024", NULL, NULL, NULL, 0 },
	{ "unparsable subject", NULL, NULL, NULL, "/XX=what", NULL, NULL, 0 },
	{ "CA cert without key", NULL, NULL, NULL, NULL, "ca.pem", NULL, 0 },
	{ "CA key without cert", NULL, NULL, NULL, NULL, NULL, "ca.key", 0 },
	{ "CA validity too long", NULL, NULL, NULL, NULL, NULL, NULL, 40000 },
	{ "negative CA validity", NULL, NULL, NULL, NULL, NULL, NULL, -1 },
};

static void test_init_rejects_bad_options_before_writing(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct estd_init_opts o = { 0 };
		const char *hosts[1] = { bad[i].host };
		char *err = NULL, *d = path("bad", NULL);
		struct stat st;

		print_message("case: %s\n", bad[i].what);
		o.hostnames = hosts;
		o.nhostnames = bad[i].host ? 1 : 0;
		o.listen = bad[i].listen;
		o.key_type = bad[i].key_type;
		o.ca_subject = bad[i].subject;
		o.ca_cert = bad[i].ca_cert;
		o.ca_key = bad[i].ca_key;
		o.ca_days = bad[i].days;
		assert_int_equal(run_init("bad", &o, &err), ESTKIT_EINVAL);
		assert_non_null(err);
		assert_int_not_equal(stat(d, &st), 0);
		free(err);
		free(d);
	}
}

static void test_init_command_line_usage_errors_exit_2(void **state)
{
	char *no_dir[] = { "init", "--force", NULL };
	char *unknown[] = { "init", "--dir", "x", "--bogus", NULL };
	char *extra[] = { "init", "--dir", "x", "stray", NULL };
	char *days[] = { "init", "--dir", "x", "--ca-days", "12abc", NULL };
	char *help[] = { "init", "--help", NULL };

	(void)state;
	assert_int_equal(estd_cmd_init(2, no_dir), 2);
	assert_int_equal(estd_cmd_init(4, unknown), 2);
	assert_int_equal(estd_cmd_init(4, extra), 2);
	assert_int_equal(estd_cmd_init(5, days), 2);
	assert_int_equal(estd_cmd_init(2, help), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_creates_a_runnable_directory),
		cmocka_unit_test(test_init_refuses_non_empty_dir_unless_forced),
		cmocka_unit_test(test_init_imports_a_matching_ca_only),
		cmocka_unit_test(test_init_rejects_bad_options_before_writing),
		cmocka_unit_test(test_init_command_line_usage_errors_exit_2),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
