/*
 * test_store.c - the SQLite store: insert/get/foreach, serials, durability,
 * threads, bad files and specs (test_store_engines.c runs the shared
 * behaviour on SQLite and PostgreSQL).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store_testutil.h"
#include "tmpdir_testutil.h"

static char tmpdir[1024];
static char dbpath[1100];

static int setup(void **state)
{
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-store") != 0)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/estd.db", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	return tu_rmtree(tmpdir);
}

static void test_insert_then_get_returns_every_field(void **state)
{
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record in = tu_cert_rec("0a1b2c", 1700000001), *out = NULL;

	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_OK);
	assert_string_equal(estd_store_errmsg(st), "");
	assert_int_equal(estd_store_cert_get(st, "a1b2c", &out), ESTKIT_OK);
	assert_string_equal(out->serial, "a1b2c");
	assert_string_equal(out->subject, in.subject);
	assert_string_equal(out->issuer, in.issuer);
	assert_string_equal(out->sans, in.sans);
	assert_true(out->not_before == in.not_before);
	assert_true(out->not_after == in.not_after);
	assert_true(out->issued_at == in.issued_at);
	assert_string_equal(out->requester, in.requester);
	assert_string_equal(out->label, in.label);
	assert_string_equal(out->op, in.op);
	assert_int_equal(out->csr_len, sizeof(tu_csr_bytes));
	assert_memory_equal(out->csr_der, tu_csr_bytes, sizeof(tu_csr_bytes));
	assert_int_equal(out->cert_len, sizeof(tu_cert_bytes));
	assert_memory_equal(out->cert_der, tu_cert_bytes, sizeof(tu_cert_bytes));
	estd_cert_record_free(out);
	estd_store_close(st);
}

static void test_null_fields_are_stored_as_empty(void **state)
{
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record in, *out = NULL;

	memset(&in, 0, sizeof(in));
	in.serial = "1";
	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_OK);
	assert_int_equal(estd_store_cert_get(st, "01", &out), ESTKIT_OK);
	assert_string_equal(out->subject, "");
	assert_string_equal(out->label, "");
	assert_null(out->csr_der);
	assert_int_equal(out->csr_len, 0);
	assert_null(out->cert_der);
	estd_cert_record_free(out);
	estd_store_close(st);
}

static void test_duplicate_serial_is_eexist_even_when_spelled_differently(void **state)
{
	static const char *const spellings[] = {"00FF", "ff", "0:ff", "00:00:FF"};
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record r = tu_cert_rec("ff", 1);
	size_t i;

	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		r.serial = (char *)spellings[i];
		assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_EEXIST);
		assert_non_null(strstr(estd_store_errmsg(st), "already"));
	}
	estd_store_close(st);
}

static void test_get_normalises_serials_and_rejects_bad_ones(void **state)
{
	static const struct {
		const char *serial;
		enum estkit_status rc;
	} cases[] = {
		{"abcdef0123", ESTKIT_OK},
		{"ABCDEF0123", ESTKIT_OK},
		{"0000abcdef0123", ESTKIT_OK},
		{"ab:cd:ef:01:23", ESTKIT_OK},
		{"abcdef0124", ESTKIT_ENOTFOUND},
		{"0", ESTKIT_ENOTFOUND},
		{"", ESTKIT_EINVAL},
		{":", ESTKIT_EINVAL},
		{"xyz", ESTKIT_EINVAL},
		{"0x12", ESTKIT_EINVAL},
		{"12 34", ESTKIT_EINVAL},
		{"-1", ESTKIT_EINVAL},
		{"12345678901234567890123456789012345678901234567890123456789012345", ESTKIT_EINVAL},
		{NULL, ESTKIT_EINVAL},
	};
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record r = tu_cert_rec("abcdef0123", 1);
	size_t i;

	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_cert_record *out = NULL;
		enum estkit_status rc = estd_store_cert_get(st, cases[i].serial, &out);

		if (rc != cases[i].rc)
			fail_msg("serial '%s': rc %d, want %d (%s)",
				 cases[i].serial ? cases[i].serial : "(null)", rc, cases[i].rc,
				 estd_store_errmsg(st));
		if (rc == ESTKIT_OK)
			assert_string_equal(out->serial, "abcdef0123");
		else
			assert_null(out);
		if (rc == ESTKIT_ENOTFOUND)
			assert_non_null(strstr(estd_store_errmsg(st), "no certificate with serial"));
		estd_cert_record_free(out);
	}
	/* a bad serial cannot be inserted either */
	r.serial = "not-hex";
	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_EINVAL);
	r.serial = NULL;
	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_EINVAL);
	estd_store_close(st);
}

struct walk {
	char serials[16][8];
	size_t n, stop_after;
};

static int collect(void *arg, const struct estd_cert_record *rec)
{
	struct walk *w = arg;

	assert_int_equal(rec->cert_len, sizeof(tu_cert_bytes));
	snprintf(w->serials[w->n], sizeof(w->serials[0]), "%s", rec->serial);
	w->n++;
	return w->stop_after != 0 && w->n >= w->stop_after;
}

static void test_foreach_walks_oldest_first_and_stops_on_request(void **state)
{
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record r;
	struct walk w;
	static const struct {
		const char *serial;
		long long at;
	} rows[] = {{"3", 300}, {"1", 100}, {"2", 200}, {"4", 200}};
	size_t i;

	for (i = 0; i < 4; i++) {
		r = tu_cert_rec(rows[i].serial, rows[i].at);
		assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(estd_store_cert_foreach(st, collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 4);
	/* issued_at order; equal times in insertion order */
	assert_string_equal(w.serials[0], "1");
	assert_string_equal(w.serials[1], "2");
	assert_string_equal(w.serials[2], "4");
	assert_string_equal(w.serials[3], "3");
	memset(&w, 0, sizeof(w));
	w.stop_after = 2;
	assert_int_equal(estd_store_cert_foreach(st, collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(estd_store_cert_foreach(st, NULL, &w), ESTKIT_EINVAL);
	estd_store_close(st);
}

static void test_reopen_keeps_records_and_file_is_private(void **state)
{
	char spec[1200];
	struct estd_store *st = tu_store_open(dbpath);
	struct estd_cert_record r = tu_cert_rec("beef", 5), *out = NULL;
	struct stat sb;

	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	estd_store_close(st);
	assert_int_equal(stat(dbpath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* the same file through the "sqlite:" spelling */
	snprintf(spec, sizeof(spec), "sqlite:%s", dbpath);
	st = tu_store_open(spec);
	assert_int_equal(estd_store_cert_get(st, "BEEF", &out), ESTKIT_OK);
	assert_string_equal(out->subject, r.subject);
	estd_cert_record_free(out);
	estd_store_close(st);
}

struct worker {
	struct estd_store *st;
	int id;
	int failures;
};

#define PER_THREAD 50

static void *insert_many(void *arg)
{
	struct worker *w = arg;
	char serial[32];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct estd_cert_record r;

		snprintf(serial, sizeof(serial), "%x%04x", w->id + 1, i);
		r = tu_cert_rec(serial, i);
		if (estd_store_cert_insert(w->st, &r) != ESTKIT_OK)
			w->failures++;
	}
	return NULL;
}

static int count(void *arg, const struct estd_cert_record *rec)
{
	(*(size_t *)arg)++;
	return 0;
}

static void test_concurrent_inserts_from_four_threads_all_land(void **state)
{
	struct estd_store *st = tu_store_open(dbpath);
	pthread_t th[4];
	struct worker w[4];
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		w[i].st = st;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, insert_many, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	estd_store_close(st);
	st = tu_store_open(dbpath);
	assert_int_equal(estd_store_cert_foreach(st, count, &n), ESTKIT_OK);
	assert_int_equal(n, 4 * PER_THREAD);
	estd_store_close(st);
}

static void test_bad_files_and_specs_fail_to_open_with_a_message(void **state)
{
	static const struct {
		const char *why;
		const char *content; /* NULL: no file written */
		const char *spec;    /* NULL: dbpath */
		const char *msg;
	} cases[] = {
		{"garbage bytes", "this is not a database at all, just text.\n", NULL,
		 "not a database"},
		{"truncated sqlite header", "SQLite format 3", NULL, "not a database"},
		{"missing directory", NULL, "/nonexistent-estd-dir/x.db", "nonexistent"},
		{"empty sqlite path", NULL, "sqlite:", "empty store path"},
		{"postgres without //", NULL, "postgresql:estd", "written postgresql://"},
		{"malformed postgres uri", NULL, "postgresql://[::1/estd", "matching \"]\""},
		{"unknown postgres option", NULL, "postgresql://127.0.0.1/estd?bogus=1",
		 "invalid URI query parameter"},
		{"postgres refusing", NULL, "postgresql://u:pw@127.0.0.1:1/estd?connect_timeout=2",
		 "cannot connect to PostgreSQL"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_store *st = NULL;
		char *err = NULL;
		const char *spec = cases[i].spec ? cases[i].spec : dbpath;

		if (cases[i].content != NULL) {
			FILE *fp = fopen(dbpath, "w");
			char junk[4096];

			assert_non_null(fp);
			/* a whole page of junk, so SQLite reads a full header */
			memset(junk, 'x', sizeof(junk));
			fputs(cases[i].content, fp);
			if (strlen(cases[i].content) > 20)
				fwrite(junk, 1, sizeof(junk), fp);
			fclose(fp);
		}
		assert_int_not_equal(estd_store_open(spec, &st, &err), ESTKIT_OK);
		assert_null(st);
		if (err == NULL || strstr(err, cases[i].msg) == NULL)
			fail_msg("case '%s': err '%s'", cases[i].why, err ? err : "(null)");
		free(err);
		remove(dbpath);
	}
}

static void test_newer_schema_is_refused(void **state)
{
	struct estd_store *st = tu_store_open(dbpath);
	sqlite3 *db = NULL;
	char *err = NULL;

	estd_store_close(st);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "schema version 99"));
	free(err);
}

static void test_close_and_free_accept_null(void **state)
{
	estd_store_close(NULL);
	estd_cert_record_free(NULL);
	assert_int_equal(estd_store_cert_insert(NULL, NULL), ESTKIT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_then_get_returns_every_field, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_null_fields_are_stored_as_empty, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_duplicate_serial_is_eexist_even_when_spelled_differently, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_normalises_serials_and_rejects_bad_ones,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_foreach_walks_oldest_first_and_stops_on_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_records_and_file_is_private,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_inserts_from_four_threads_all_land,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_files_and_specs_fail_to_open_with_a_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
		cmocka_unit_test(test_close_and_free_accept_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
