/*
 * test_est_common.c - helpers of the `est` CLI: number parsing, exit codes,
 * password sources and the files an enrollment writes (src/est/common.c,
 * src/est/output.c, compiled in here because `est` is not a library).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/x509v3.h>

#include "common.c"
#include "output.c"
#include "tmpdir_testutil.h"

static void test_parse_long_table(void **state)
{
	static const struct {
		const char *s;
		int rc;
		long v;
	} cases[] = {
	    {"1", 0, 1},    {"3600", 0, 3600},
	    {"0", -1, 0},   {"3601", -1, 0},
	    {"-5", -1, 0},  {"", -1, 0},
	    {"12x", -1, 0}, {"x12", -1, 0},
	    {" 12", 0, 12}, {"99999999999999999999", -1, 0},
	    {"1.5", -1, 0},
	};
	size_t i = 0;

	(void)state;
	assert_int_equal(est_parse_long(NULL, 1, 10, &(long){0}), -1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long v = 0;

		print_message("case %zu: \"%s\"\n", i, cases[i].s);
		assert_int_equal(est_parse_long(cases[i].s, 1, 3600, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].v);
	}
}

static void test_exit_code_for_pending_is_75(void **state)
{
	(void)state;
	assert_int_equal(est_exit_for(ESTKIT_OK), 0);
	assert_int_equal(est_exit_for(ESTKIT_EPENDING), 75);
	assert_int_equal(est_exit_for(ESTKIT_EAUTH), 1);
	assert_int_equal(est_exit_for(ESTKIT_ETLS), 1);
}

/* Relative: ctest runs the test in the build directory. */
static char tmpdir[] = "test_est_common.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_password_sources(void **state)
{
	struct est_conn o;
	char path[512];
	char *pw = NULL;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.user = "estuser";
	unsetenv("EST_PASSWORD");
	o.password = "argv-pw";
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_OK);
	assert_string_equal(pw, "argv-pw");
	est_secret_free(pw);
	/* The file's first line, without its line end. */
	write_file("pw", "file-pw\r\nsecond\n");
	snprintf(path, sizeof(path), "%s/pw", tmpdir);
	o.password = NULL;
	o.password_file = path;
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_OK);
	assert_string_equal(pw, "file-pw");
	est_secret_free(pw);
	/* Both argv and file is a usage error. */
	o.password = "x";
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_USAGE);
	assert_null(pw);
	/* Empty first line, missing file. */
	o.password = NULL;
	write_file("pw", "\nsecond\n");
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_FAIL);
	assert_null(pw);
	o.password_file = "/nonexistent/pw";
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_FAIL);
	/* The environment when nothing else is given. */
	o.password_file = NULL;
	setenv("EST_PASSWORD", "env-pw", 1);
	assert_int_equal(est_password_get("t", &o, &pw), EST_EXIT_OK);
	assert_string_equal(pw, "env-pw");
	est_secret_free(pw);
	unsetenv("EST_PASSWORD");
}

/* est_secret_file_line(): the one reader of password and one-time password files. */
static void test_secret_file_line_table(void **state)
{
	static char longest[EST_SECRET_MAX + 2], over[EST_SECRET_MAX + 3];
	static const struct {
		const char *content; /* NULL: no such file */
		size_t len;          /* 0: strlen(content) */
		enum estkit_status rc;
		const char *want;    /* NULL: longest */
	} cases[] = {
		{"otp.secret\n", 0, ESTKIT_OK, "otp.secret"},
		{"otp.secret", 0, ESTKIT_OK, "otp.secret"},
		{"a\r\nb\n", 0, ESTKIT_OK, "a"},
		{"a\0b\n", 4, ESTKIT_OK, "a"},
		{" spaced pw \n", 0, ESTKIT_OK, " spaced pw "},
		{longest, 0, ESTKIT_OK, NULL},
		{"", 0, ESTKIT_EINVAL, ""},
		{"\n", 0, ESTKIT_EINVAL, ""},
		{"\r\nsecond\n", 0, ESTKIT_EINVAL, ""},
		{"\0x", 2, ESTKIT_EINVAL, ""},
		{over, 0, ESTKIT_EINVAL, ""},
		{NULL, 0, ESTKIT_ENOTFOUND, ""},
	};
	char path[512];
	char *got = NULL;
	FILE *f = NULL;
	enum estkit_status rc;
	size_t i;

	(void)state;
	memset(longest, 'p', EST_SECRET_MAX);
	longest[EST_SECRET_MAX] = '\n';
	memset(over, 'p', EST_SECRET_MAX + 1);
	over[EST_SECRET_MAX + 1] = '\n';
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/secret%zu", tmpdir, i);
		if (cases[i].content != NULL) {
			size_t n = cases[i].len ? cases[i].len : strlen(cases[i].content);

			assert_non_null(f = fopen(path, "wb"));
			assert_int_equal(fwrite(cases[i].content, 1, n, f), n);
			assert_int_equal(fclose(f), 0);
		}
		rc = est_secret_file_line(path, &got);
		if (rc != cases[i].rc)
			fail_msg("case %zu: status %d, want %d", i, rc, cases[i].rc);
		if (cases[i].rc != ESTKIT_OK) {
			assert_null(got);
			continue;
		}
		if (cases[i].want == NULL)
			assert_int_equal(strlen(got), EST_SECRET_MAX);
		else
			assert_string_equal(got, cases[i].want);
		est_secret_free(got);
		got = NULL;
	}
	assert_int_equal(est_secret_file_line(NULL, &got), ESTKIT_EINVAL);
	assert_null(got);
	assert_int_equal(est_secret_file_line(path, NULL), ESTKIT_EINVAL);
}

/* --srp-user and friends: option codes, exclusions, password sources. */
static void test_srp_options(void **state)
{
	static const struct {
		const char *user, *pwfile, *cert, *implicit;
		int tls_max;
		int rc;
	} cases[] = {
		{NULL, NULL, NULL, NULL, 0, 0},
		{"alice", NULL, NULL, NULL, 0, 0},
		{"alice", "pw", NULL, NULL, TLS1_2_VERSION, 0},
		{NULL, "pw", NULL, NULL, 0, EST_EXIT_USAGE},
		{"alice", NULL, "c.pem", NULL, 0, EST_EXIT_USAGE},
		{"alice", NULL, NULL, "system", 0, EST_EXIT_USAGE},
		{"alice", NULL, NULL, NULL, TLS1_3_VERSION, EST_EXIT_USAGE},
	};
	struct est_conn o;
	struct estkit_client *c = NULL;
	char path[512];
	size_t i;
	int ex = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.srp_user = cases[i].user;
		o.srp_password_file = cases[i].pwfile;
		o.cert = cases[i].cert;
		o.implicit_ta = cases[i].implicit;
		o.tls_max = cases[i].tls_max;
		assert_int_equal(est_conn_srp_check("t", &o), cases[i].rc);
	}
	memset(&o, 0, sizeof(o));
	o.user = "estuser";
	o.srp_user = "alice";
	assert_int_equal(est_conn_srp_check("t", &o), EST_EXIT_USAGE);
	assert_int_equal(est_conn_srp_option(&o, EST_OPT_SRP_PWFILE, "f"), 1);
	assert_string_equal(o.srp_password_file, "f");
	assert_int_equal(est_conn_srp_option(&o, 'u', "x"), 0);

	/* the password: file first, then EST_SRP_PASSWORD; none at all fails (no terminal) */
	memset(&o, 0, sizeof(o));
	o.server = "https://127.0.0.1:1";
	o.srp_user = "alice";
	write_file("srppw", "file-pw\n");
	snprintf(path, sizeof(path), "%s/srppw", tmpdir);
	o.srp_password_file = path;
	c = est_client_open("t", &o, &ex);
	assert_non_null(c);
	estkit_client_free(c);
	o.srp_password_file = "/nonexistent/pw";
	assert_null(est_client_open("t", &o, &ex));
	assert_int_equal(ex, EST_EXIT_FAIL);
	o.srp_password_file = NULL;
	setenv("EST_SRP_PASSWORD", "env-pw", 1);
	c = est_client_open("t", &o, &ex);
	assert_non_null(c);
	estkit_client_free(c);
	unsetenv("EST_SRP_PASSWORD");
	if (!isatty(STDIN_FILENO)) {
		assert_null(est_client_open("t", &o, &ex));
		assert_int_equal(ex, EST_EXIT_FAIL);
	}
}

/* A self-signed CA and a leaf it issued, made here so the test needs no files. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	assert_true(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
	                                       -1, -1, 0));
	assert_true(X509_set_version(x, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), 7));
	assert_true(X509_set_subject_name(x, name));
	assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_true(X509_set_pubkey(x, key));
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static void test_write_enrollment_files_and_modes(void **state)
{
	EVP_PKEY *cakey = NULL;
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *cas = sk_X509_new_null();
	STACK_OF(X509) *got = NULL;
	char dir[512];
	char path[600];
	struct stat st;
	FILE *devnull = fopen("/dev/null", "w");

	(void)state;
	assert_int_equal(estkit_key_generate("ec:P-256", &cakey), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &key), ESTKIT_OK);
	ca = make_cert(cakey, "Test CA", NULL, NULL);
	leaf = make_cert(key, "leaf", ca, cakey);
	assert_true(sk_X509_push(cas, ca));
	snprintf(dir, sizeof(dir), "%s/out", tmpdir);
	/* No chain in the answer: chain.pem gets the issuer from the trust anchors. */
	assert_int_equal(est_write_enrollment("t", dir, leaf, NULL, key, cas, devnull),
	                 EST_EXIT_OK);
	snprintf(path, sizeof(path), "%s/key.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/chain.pem", dir);
	assert_int_equal(estkit_certs_load(path, &got), ESTKIT_OK);
	assert_int_equal(sk_X509_num(got), 1);
	assert_int_equal(X509_cmp(sk_X509_value(got, 0), ca), 0);
	sk_X509_pop_free(got, X509_free);
	snprintf(path, sizeof(path), "%s/.cert.pem.new", dir);
	assert_int_not_equal(access(path, F_OK), 0); /* no temporary left behind */
	snprintf(path, sizeof(path), "%s/.key.pem.new", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* --out naming a file is refused. */
	snprintf(path, sizeof(path), "%s/pw", tmpdir);
	write_file("pw", "x\n");
	assert_int_equal(est_write_enrollment("t", path, leaf, NULL, key, cas, devnull),
	                 EST_EXIT_FAIL);
	fclose(devnull);
	sk_X509_pop_free(cas, X509_free);
	X509_free(leaf);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_long_table),
	    cmocka_unit_test(test_exit_code_for_pending_is_75),
	    cmocka_unit_test(test_password_sources),
	    cmocka_unit_test(test_secret_file_line_table),
	    cmocka_unit_test(test_srp_options),
	    cmocka_unit_test(test_write_enrollment_files_and_modes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
