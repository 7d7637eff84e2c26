/*
 * test_store_revoke.c - migration 3 of the store: revocations and the CRL
 * number; plus the /fullcmc content-type rule of the router.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"
#include "store/store.h"
#include "tmpdir_testutil.h"

static char tmpdir[1024];
static char dbpath[1100];

static int setup(void **state)
{
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-revoke") != 0)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/estd.db", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	return tu_rmtree(tmpdir);
}

static void insert(struct estd_store *st, const char *serial)
{
	struct estd_cert_record r;

	memset(&r, 0, sizeof(r));
	r.serial = (char *)serial;
	r.subject = r.issuer = r.sans = r.requester = r.label = "";
	r.op = "fullcmc";
	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
}

static int count_cb(void *arg, const char *serial, int reason, long long at)
{
	(*(int *)arg)++;
	assert_string_equal(serial, "abc1");
	assert_int_equal(reason, 1);
	assert_true(at == 1000);
	return 0;
}

static void test_revoke_and_read_back(void **state)
{
	struct estd_store *st = NULL;
	char *err = NULL;
	int reason = -1, n = 0;
	long long at = 0, num1 = 0, num2 = 0;

	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_OK);
	insert(st, "abc1");
	assert_int_equal(estd_store_revocation_get(st, "abc1", &reason, &at), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_revoke(st, "00:AB:C1", 1, 1000, "user:x"), ESTKIT_OK);
	assert_int_equal(estd_store_revoke(st, "abc1", 4, 1001, "admin"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_revoke(st, "ffff", 1, 1000, "admin"), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_revoke(st, "xyz", 1, 1000, "admin"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_revoke(st, "", 1, 1000, "admin"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_revocation_get(st, "ABC1", &reason, &at), ESTKIT_OK);
	assert_int_equal(reason, 1);
	assert_true(at == 1000);
	assert_int_equal(estd_store_revocation_foreach(st, count_cb, &n), ESTKIT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(estd_store_crl_next_number(st, &num1), ESTKIT_OK);
	assert_int_equal(estd_store_crl_next_number(st, &num2), ESTKIT_OK);
	assert_true(num1 == 1 && num2 == 2);
	estd_store_close(st);
	/* reopening keeps everything and runs no migration twice */
	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_OK);
	assert_int_equal(estd_store_revocation_get(st, "abc1", NULL, NULL), ESTKIT_OK);
	assert_int_equal(estd_store_crl_next_number(st, &num1), ESTKIT_OK);
	assert_true(num1 == 3);
	estd_store_close(st);
}

/* A store at user_version 1 (before migration 3) gains the new tables. */
static void test_migration_from_version_1(void **state)
{
	sqlite3 *db = NULL;
	struct estd_store *st = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE certs (serial TEXT PRIMARY KEY NOT NULL,"
				      " subject TEXT NOT NULL, issuer TEXT NOT NULL, sans TEXT NOT "
				      "NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
				      " issued_at INTEGER NOT NULL, requester TEXT NOT NULL, label "
				      "TEXT NOT NULL, op TEXT NOT NULL, csr BLOB, cert BLOB);"
				      "PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_OK);
	insert(st, "77");
	assert_int_equal(estd_store_revoke(st, "77", 0, 5, "admin"), ESTKIT_OK);
	estd_store_close(st);
}

struct ctype_case {
	const char *ctype;
	int want;
};

static const struct ctype_case ctypes[] = {
	{ "application/pkcs7-mime; smime-type=CMC-request", 1 },
	{ "Application/PKCS7-MIME;smime-type=cmc-request", 1 },
	{ "application/pkcs7-mime; name=x.p7m; smime-type=\"CMC-request\"", 1 },
	{ "application/pkcs7-mime; smime-type=CMC-response", 0 },
	{ "application/pkcs7-mime; smime-type=certs-only", 0 },
	{ "application/pkcs7-mime", 0 },
	{ "application/pkcs10", 0 },
	{ "application/pkcs7-mimex; smime-type=CMC-request", 0 },
	{ "application/pkcs7-mime; smime-type=CMC-requestX", 0 },
	{ "", 0 },
	{ NULL, 0 },
};

static void test_cmc_content_type(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(ctypes) / sizeof(ctypes[0]); i++)
		if (ek_route_is_cmc(ctypes[i].ctype) != ctypes[i].want)
			fail_msg("content type '%s'", ctypes[i].ctype ? ctypes[i].ctype : "(null)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_revoke_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_version_1, setup, teardown),
		cmocka_unit_test(test_cmc_content_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
