/*
 * test_users_digest.c - the Digest side of estd: HA1 fields in the users
 * file (written, read, malformed), the [auth] Digest keys of estd.conf and
 * the nonce key file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <estkit/server.h>
#include <openssl/evp.h>

#include "config.h"
#include "digest_key.h"
#include "users.h"
#include "tmpdir_testutil.h"

static char tmpdir[1024];
static char upath[1100];

static int setup(void **state)
{
	(void)state;
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-digest") != 0)
		return -1;
	snprintf(upath, sizeof(upath), "%s/users", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(tmpdir);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void expect_ha1(const struct estd_users *u, const char *alg, const char *input)
{
	unsigned char got[64], want[EVP_MAX_MD_SIZE];
	unsigned int wlen = 0;
	size_t len = sizeof(got);

	assert_int_equal(EVP_Digest(input, strlen(input), want, &wlen,
				    strcmp(alg, "MD5") == 0 ? EVP_md5() : EVP_sha256(), NULL), 1);
	assert_int_equal(estd_users_digest_ha1(u, "alice", alg, got, &len), 1);
	assert_int_equal(len, wlen);
	assert_memory_equal(got, want, wlen);
}

static void test_set_digest_stores_ha1_for_both_algorithms(void **state)
{
	struct estd_users *u = NULL;
	unsigned char buf[64];
	size_t len = sizeof(buf);
	char *err = NULL;

	(void)state;
	unlink(upath);
	assert_int_equal(estd_users_set_digest(upath, "alice", "s3cret", "estkit", &err), ESTKIT_OK);
	assert_int_equal(estd_users_load(upath, &u, &err), ESTKIT_OK);
	expect_ha1(u, "SHA-256", "alice:estkit:s3cret");
	expect_ha1(u, "MD5", "alice:estkit:s3cret");
	assert_int_equal(estd_users_check(u, "alice", "s3cret"), 1);
	assert_int_equal(estd_users_digest_ha1(u, "bob", "MD5", buf, &len), -1);
	assert_int_equal(estd_users_digest_ha1(u, "alice", "SHA-512", buf, &len), -1);
	len = 8; /* too small a buffer */
	assert_int_equal(estd_users_digest_ha1(u, "alice", "MD5", buf, &len), -1);
	estd_users_free(u);
	/* setting the password without a realm (Basic only) drops the old HA1 values */
	assert_int_equal(estd_users_set(upath, "alice", "other", &err), ESTKIT_OK);
	assert_int_equal(estd_users_load(upath, &u, &err), ESTKIT_OK);
	len = sizeof(buf);
	assert_int_equal(estd_users_digest_ha1(u, "alice", "SHA-256", buf, &len), 0);
	estd_users_free(u);
}

static void test_malformed_ha1_fields_refuse_the_file(void **state)
{
	static const char hash[] = "alice:$6$salt$abc";
	static const char s256[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const char md5[] = "0123456789abcdef0123456789abcdef";
	char line[512];
	struct estd_users *u = NULL;
	char *err = NULL;
	size_t i;

	(void)state;
	snprintf(line, sizeof(line), "%s:%s:%s\n", hash, s256, md5);
	write_text(upath, line);
	assert_int_equal(estd_users_load(upath, &u, &err), ESTKIT_OK);
	estd_users_free(u);
	/* uppercase hex, a short or long field, a missing one, an extra one */
	for (i = 0; i < 5; i++) {
		const char *tails[] = { s256, md5 };
		char upper[sizeof(s256)];
		switch (i) {
		case 0:
			snprintf(upper, sizeof(upper), "%s", s256);
			upper[10] = 'A';
			snprintf(line, sizeof(line), "%s:%s:%s\n", hash, upper, md5);
			break;
		case 1: snprintf(line, sizeof(line), "%s:%.63s:%s\n", hash, s256, md5); break;
		case 2: snprintf(line, sizeof(line), "%s:%s0:%s\n", hash, s256, md5); break;
		case 3: snprintf(line, sizeof(line), "%s:%s\n", hash, tails[0]); break;
		default: snprintf(line, sizeof(line), "%s:%s:%s:%s\n", hash, s256, md5, md5); break;
		}
		write_text(upath, line);
		err = NULL;
		if (estd_users_load(upath, &u, &err) != ESTKIT_EPARSE)
			fail_msg("case %zu accepted: %s", i, line);
		assert_non_null(err);
		assert_non_null(strstr(err, "HA1"));
		free(err);
	}
}

static struct estd_config *load_conf(const char *auth, char **err)
{
	char path[1200], text[1024];
	struct estd_config *cfg = NULL;

	snprintf(path, sizeof(path), "%s/estd.conf", tmpdir);
	snprintf(text, sizeof(text),
		 "[server]\ntls_cert = tls.pem\ntls_key = tls.key\n"
		 "[ca]\ncert = ca.pem\nkey = ca.key\n[auth]\n%s", auth);
	write_text(path, text);
	*err = NULL;
	if (estd_config_load(path, &cfg, err) != ESTKIT_OK)
		return NULL;
	return cfg;
}

static void test_config_digest_keys(void **state)
{
	static const struct {
		const char *text;
		int ok, methods, lifetime;
	} cases[] = {
		{ "", 1, ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST, 300 },
		{ "methods = basic\n", 1, ESTKIT_AUTH_BASIC, 300 },
		{ "methods = digest\n", 1, ESTKIT_AUTH_DIGEST, 300 },
		{ "methods = digest,basic\ndigest_nonce_lifetime = 5\n", 1,
		  ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST, 5 },
		{ "methods =\n", 0, 0, 0 },
		{ "methods = ,\n", 0, 0, 0 },
		{ "methods = ntlm\n", 0, 0, 0 },
		{ "methods = Basic\n", 0, 0, 0 },
		{ "methods = basicdigest\n", 0, 0, 0 },
		{ "digest_nonce_lifetime = 0\n", 0, 0, 0 },
		{ "digest_nonce_lifetime = 86401\n", 0, 0, 0 },
		{ "digest_nonce_table = 63\n", 0, 0, 0 },
		{ "digest_nonce_table = x\n", 0, 0, 0 },
		{ "digest_secret_file =\n", 0, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = NULL;
		struct estd_config *cfg = load_conf(cases[i].text, &err);
		if ((cfg != NULL) != cases[i].ok)
			fail_msg("case %zu: %s -> %s", i, cases[i].text, err ? err : "loaded");
		if (cfg != NULL) {
			assert_int_equal(cfg->auth_methods, cases[i].methods);
			assert_int_equal(cfg->digest_nonce_lifetime, cases[i].lifetime);
			assert_non_null(strstr(cfg->digest_secret_file, "/digest.key"));
		}
		estd_config_free(cfg);
		free(err);
	}
}

static void test_digest_key_created_once_then_read(void **state)
{
	unsigned char k1[ESTD_DIGEST_KEY_LEN], k2[ESTD_DIGEST_KEY_LEN];
	char path[1200];
	struct stat st;
	char *err = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/digest.key", tmpdir);
	unlink(path);
	assert_int_equal(estd_digest_key_load(path, k1, &err), ESTKIT_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, ESTD_DIGEST_KEY_LEN);
	assert_int_equal(estd_digest_key_load(path, k2, &err), ESTKIT_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	/* wrong size or readable by others: refused */
	chmod(path, 0644);
	assert_int_not_equal(estd_digest_key_load(path, k2, &err), ESTKIT_OK);
	free(err);
	unlink(path);
	write_text(path, "short");
	chmod(path, 0600);
	assert_int_not_equal(estd_digest_key_load(path, k2, &err), ESTKIT_OK);
	assert_non_null(strstr(err, "exactly"));
	free(err);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_digest_stores_ha1_for_both_algorithms),
		cmocka_unit_test(test_malformed_ha1_fields_refuse_the_file),
		cmocka_unit_test(test_config_digest_keys),
		cmocka_unit_test(test_digest_key_created_once_then_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
