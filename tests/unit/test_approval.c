/*
 * test_approval.c - manual approval: the approval/retry_after label keys,
 * the CSR hash, and the store's request table (migration 2): insert-or-get,
 * atomic decisions, issue-once, walks, and the migration from a version-1
 * database.
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

#include "backend/approval.h"
#include "config.h"
#include "store/store.h"
#include "store_testutil.h"
#include "tmpdir_testutil.h"

static char tmpdir[1024];
static char dbpath[1100];

static int setup(void **state)
{
	(void)state;
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "estd-approval") != 0)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/estd.db", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(tmpdir);
}

static struct estd_store *open_ok(void)
{
	return tu_store_open(dbpath);
}

/* ---- configuration ------------------------------------------------------------------ */

#define REQUIRED                                                                               \
	"[server]\ntls_cert = tls.pem\ntls_key = tls.key\n"                                       \
	"[ca]\ncert = ca.pem\nkey = ca.key\n"

static const struct {
	const char *label_body;
	enum estkit_status rc;
	int manual, retry_after;
	const char *err;
} conf_cases[] = {
	{ "", ESTKIT_OK, 0, 60, NULL },
	{ "approval = auto\n", ESTKIT_OK, 0, 60, NULL },
	{ "approval = manual\nretry_after = 2\n", ESTKIT_OK, 1, 2, NULL },
	{ "approval = manual\nretry_after = 86400\n", ESTKIT_OK, 1, 86400, NULL },
	{ "approval = Manual\n", ESTKIT_EINVAL, 0, 0, "not auto or manual" },
	{ "approval = yes\n", ESTKIT_EINVAL, 0, 0, "not auto or manual" },
	{ "approval =\n", ESTKIT_EINVAL, 0, 0, "approval" },
	{ "retry_after = 0\n", ESTKIT_EINVAL, 0, 0, "retry_after" },
	{ "retry_after = 86401\n", ESTKIT_EINVAL, 0, 0, "retry_after" },
	{ "retry_after = 5s\n", ESTKIT_EINVAL, 0, 0, "retry_after" },
	{ "retry_after = 99999999999999999999\n", ESTKIT_EINVAL, 0, 0, "retry_after" },
	{ "approval = manual\napproval = auto\n", ESTKIT_EPARSE, 0, 0, "duplicate key" },
};

static void test_label_approval_keys_parse_and_refuse_bad_values(void **state)
{
	char path[1200], text[512];
	size_t i;

	(void)state;
	snprintf(path, sizeof(path), "%s/estd.conf", tmpdir);
	for (i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]); i++) {
		struct estd_config *cfg = NULL;
		const struct estd_label *lab;
		char *err = NULL;
		FILE *fp = fopen(path, "w");
		enum estkit_status rc;

		assert_non_null(fp);
		snprintf(text, sizeof(text), REQUIRED "[label]\n[label m]\n%s",
			 conf_cases[i].label_body);
		fputs(text, fp);
		fclose(fp);
		rc = estd_config_load(path, &cfg, &err);
		if (rc != conf_cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, conf_cases[i].rc,
				 err ? err : "");
		if (rc != ESTKIT_OK) {
			assert_non_null(err);
			if (strstr(err, conf_cases[i].err) == NULL)
				fail_msg("case %zu: message '%s' lacks '%s'", i, err,
					 conf_cases[i].err);
			free(err);
			continue;
		}
		lab = estd_config_label(cfg, "m");
		assert_non_null(lab);
		assert_int_equal(lab->approval_manual, conf_cases[i].manual);
		assert_int_equal(lab->retry_after, conf_cases[i].retry_after);
		lab = estd_config_label(cfg, "");
		assert_int_equal(lab->approval_manual, 0); /* the default label keeps the default */
		assert_int_equal(lab->retry_after, 60);
		estd_config_free(cfg);
	}
}

/* ---- hash --------------------------------------------------------------------------- */

static void test_hash_is_lowercase_sha256_hex_and_refuses_empty_input(void **state)
{
	char out[65];

	(void)state;
	/* FIPS 180-2 example: SHA-256("abc") */
	assert_int_equal(estd_approval_hash((const unsigned char *)"abc", 3, out), 0);
	assert_string_equal(out,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(estd_approval_hash(NULL, 3, out), -1);
	assert_int_equal(estd_approval_hash((const unsigned char *)"abc", 0, out), -1);
}

/* ---- store -------------------------------------------------------------------------- */

static unsigned char csr_a[] = {0x30, 0x03, 0x02, 0x01, 0x01};
static const char hash_a[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char hash_b[] = "2222222222222222222222222222222222222222222222222222222222222222";
static unsigned char cert_bytes[] = {0x30, 0x82, 0x00, 0x00, 0xff};

static struct estd_request_record make_req(const char *label, const char *hash)
{
	struct estd_request_record r;

	memset(&r, 0, sizeof(r));
	r.label = (char *)label;
	r.op = "simpleenroll";
	r.requester = "user:alice";
	r.subject = "CN=dev1";
	r.sans = "DNS:dev1.example";
	r.csr_der = csr_a;
	r.csr_len = sizeof(csr_a);
	r.csr_sha256 = (char *)hash;
	return r;
}

static struct estd_cert_record make_cert(const char *serial)
{
	struct estd_cert_record c;

	memset(&c, 0, sizeof(c));
	c.serial = (char *)serial;
	c.subject = "CN=dev1";
	c.issuer = "CN=CA";
	c.sans = "";
	c.not_before = 1;
	c.not_after = 2;
	c.issued_at = 3;
	c.requester = "user:alice";
	c.label = "m";
	c.op = "simpleenroll";
	c.csr_der = csr_a;
	c.csr_len = sizeof(csr_a);
	c.cert_der = cert_bytes;
	c.cert_len = sizeof(cert_bytes);
	return c;
}

static long long submit(struct estd_store *st, const char *label, const char *hash,
			int want_created, const char *want_status)
{
	struct estd_request_record in = make_req(label, hash), *out = NULL;
	int created = -1;
	long long id;

	assert_int_equal(estd_store_request_submit(st, &in, &out, &created), ESTKIT_OK);
	assert_int_equal(created, want_created);
	assert_string_equal(out->status, want_status);
	assert_string_equal(out->csr_sha256, hash);
	assert_memory_equal(out->csr_der, csr_a, sizeof(csr_a));
	id = out->id;
	estd_request_record_free(out);
	return id;
}

static void test_submit_is_insert_or_get_per_label_and_hash(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_request_record *r = NULL;
	long long id1, id2, id3;

	(void)state;
	id1 = submit(st, "m", hash_a, 1, "pending");
	assert_int_equal(submit(st, "m", hash_a, 0, "pending"), id1); /* the same request */
	id2 = submit(st, "m", hash_b, 1, "pending");
	id3 = submit(st, "", hash_a, 1, "pending"); /* another label is another request */
	assert_true(id1 != id2 && id2 != id3 && id1 != id3);
	assert_int_equal(estd_store_request_get(st, id1, &r), ESTKIT_OK);
	assert_string_equal(r->label, "m");
	assert_string_equal(r->requester, "user:alice");
	assert_string_equal(r->sans, "DNS:dev1.example");
	assert_string_equal(r->reason, "");
	assert_string_equal(r->serial, "");
	assert_int_equal(r->decided_at, 0);
	assert_true(r->created_at > 0);
	estd_request_record_free(r);
	estd_store_close(st);
}

static const struct {
	const char *label, *hash;
	int null_csr;
} bad_submits[] = {
	{ "m", "", 0 },
	{ "m", "1111", 0 },                                                            /* short */
	{ "m", "G111111111111111111111111111111111111111111111111111111111111111", 0 }, /* not hex */
	{ "m", "AAAA111111111111111111111111111111111111111111111111111111111111", 0 }, /* upper */
	{ "m", "11111111111111111111111111111111111111111111111111111111111111111", 0 }, /* long */
	{ "m", NULL, 0 },
	{ NULL, "1111111111111111111111111111111111111111111111111111111111111111", 0 },
	{ "m", "1111111111111111111111111111111111111111111111111111111111111111", 1 },
};

static void test_submit_refuses_malformed_records(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_request_record *out = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_submits) / sizeof(bad_submits[0]); i++) {
		struct estd_request_record in = make_req(bad_submits[i].label, bad_submits[i].hash);

		if (bad_submits[i].null_csr)
			in.csr_der = NULL;
		if (estd_store_request_submit(st, &in, &out, NULL) != ESTKIT_EINVAL)
			fail_msg("bad submit %zu accepted", i);
		assert_null(out);
	}
	assert_int_equal(estd_store_request_submit(NULL, NULL, &out, NULL), ESTKIT_EINVAL);
	estd_store_close(st);
}

static void test_decide_is_once_and_reports_why_not(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_request_record *r = NULL;
	long long a = submit(st, "m", hash_a, 1, "pending");
	long long b = submit(st, "m", hash_b, 1, "pending");

	(void)state;
	assert_int_equal(estd_store_request_decide(st, a, "approved", NULL, "operator:x"),
			 ESTKIT_OK);
	assert_int_equal(estd_store_request_decide(st, a, "rejected", "late", "operator:y"),
			 ESTKIT_EEXIST);
	assert_non_null(strstr(estd_store_errmsg(st), "approved, not pending"));
	assert_int_equal(estd_store_request_decide(st, 999, "approved", NULL, "op"),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_request_decide(st, b, "issued", NULL, "op"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_request_decide(st, b, "pending", NULL, "op"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_request_decide(st, b, NULL, NULL, "op"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_request_decide(st, b, "rejected", "no such device", "op:z"),
			 ESTKIT_OK);
	assert_int_equal(estd_store_request_get(st, b, &r), ESTKIT_OK);
	assert_string_equal(r->status, "rejected");
	assert_string_equal(r->reason, "no such device");
	assert_string_equal(r->decided_by, "op:z");
	assert_true(r->decided_at > 0);
	estd_request_record_free(r);
	/* a rejected request is what a repeat of it gets */
	assert_int_equal(submit(st, "m", hash_b, 0, "rejected"), b);
	estd_store_close(st);
}

static void test_decide_refuses_oversized_reason(void **state)
{
	struct estd_store *st = open_ok();
	long long a = submit(st, "m", hash_a, 1, "pending");
	char big[1100];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(estd_store_request_decide(st, a, "rejected", big, "op"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_request_decide(st, a, "rejected", "ok", big), ESTKIT_EINVAL);
	assert_int_equal(submit(st, "m", hash_a, 0, "pending"), a);
	estd_store_close(st);
}

static void test_issue_only_once_and_only_when_approved(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_cert_record c1 = make_cert("0A0B"), c2 = make_cert("0c0d");
	struct estd_cert_record *got = NULL;
	struct estd_request_record *r = NULL;
	long long a = submit(st, "m", hash_a, 1, "pending");

	(void)state;
	/* pending: not yet */
	assert_int_equal(estd_store_request_issue(st, a, &c1), ESTKIT_EPOLICY);
	assert_int_equal(estd_store_cert_get(st, "a0b", &got), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_request_decide(st, a, "approved", NULL, "op"), ESTKIT_OK);
	assert_int_equal(estd_store_request_issue(st, a, &c1), ESTKIT_OK);
	/* a second collector loses and records nothing */
	assert_int_equal(estd_store_request_issue(st, a, &c2), ESTKIT_EPOLICY);
	assert_int_equal(estd_store_cert_get(st, "c0d", &got), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_request_get(st, a, &r), ESTKIT_OK);
	assert_string_equal(r->status, "issued");
	assert_string_equal(r->serial, "a0b"); /* normalised as in certs */
	estd_request_record_free(r);
	assert_int_equal(estd_store_cert_get(st, "a0b", &got), ESTKIT_OK);
	assert_string_equal(got->requester, "user:alice");
	estd_cert_record_free(got);
	/* after collection a repeat finds the issued request, not a new one */
	assert_int_equal(submit(st, "m", hash_a, 0, "issued"), a);
	assert_int_equal(estd_store_request_issue(st, 12345, &c2), ESTKIT_EPOLICY);
	assert_int_equal(estd_store_request_issue(st, a, NULL), ESTKIT_EINVAL);
	estd_store_close(st);
}

static void test_issue_with_taken_serial_is_eexist_and_keeps_request_approved(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_cert_record c = make_cert("77");
	struct estd_request_record *r = NULL;
	long long a = submit(st, "m", hash_a, 1, "pending");

	(void)state;
	assert_int_equal(estd_store_cert_insert(st, &c), ESTKIT_OK);
	assert_int_equal(estd_store_request_decide(st, a, "approved", NULL, "op"), ESTKIT_OK);
	assert_int_equal(estd_store_request_issue(st, a, &c), ESTKIT_EEXIST);
	assert_int_equal(estd_store_request_get(st, a, &r), ESTKIT_OK);
	assert_string_equal(r->status, "approved");
	estd_request_record_free(r);
	estd_store_close(st);
}

struct walk {
	long long ids[8];
	size_t n, stop_after;
};

static int walk_cb(void *arg, const struct estd_request_record *r)
{
	struct walk *w = arg;

	w->ids[w->n++] = r->id;
	return w->n == w->stop_after;
}

static void test_foreach_filters_by_status_and_stops(void **state)
{
	struct estd_store *st = open_ok();
	struct walk w;
	long long a = submit(st, "m", hash_a, 1, "pending");
	long long b = submit(st, "m", hash_b, 1, "pending");
	long long c = submit(st, "x", hash_a, 1, "pending");

	(void)state;
	assert_int_equal(estd_store_request_decide(st, b, "rejected", NULL, "op"), ESTKIT_OK);
	memset(&w, 0, sizeof(w));
	assert_int_equal(estd_store_request_foreach(st, "pending", walk_cb, &w), ESTKIT_OK);
	assert_int_equal(w.n, 2);
	assert_true(w.ids[0] == a && w.ids[1] == c);
	memset(&w, 0, sizeof(w));
	assert_int_equal(estd_store_request_foreach(st, NULL, walk_cb, &w), ESTKIT_OK);
	assert_int_equal(w.n, 3);
	memset(&w, 0, sizeof(w));
	w.stop_after = 1;
	assert_int_equal(estd_store_request_foreach(st, NULL, walk_cb, &w), ESTKIT_OK);
	assert_int_equal(w.n, 1);
	memset(&w, 0, sizeof(w));
	assert_int_equal(estd_store_request_foreach(st, "issued", walk_cb, &w), ESTKIT_OK);
	assert_int_equal(w.n, 0);
	assert_int_equal(estd_store_request_foreach(st, NULL, NULL, NULL), ESTKIT_EINVAL);
	estd_store_close(st);
}

struct race {
	struct estd_store *st;
	long long id;
	enum estkit_status rc;
};

static void *decide_thread(void *arg)
{
	struct race *r = arg;

	r->rc = estd_store_request_decide(r->st, r->id, "approved", NULL, "op");
	return NULL;
}

static void test_concurrent_decisions_have_one_winner(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_store *st2 = open_ok(); /* a second connection: another process or node */
	long long a = submit(st, "m", hash_a, 1, "pending");
	struct race r[4] = { { st, a, 0 }, { st2, a, 0 }, { st, a, 0 }, { st2, a, 0 } };
	pthread_t t[4];
	int i, wins = 0;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, decide_thread, &r[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == ESTKIT_OK)
			wins++;
		else
			assert_int_equal(r[i].rc, ESTKIT_EEXIST);
	}
	assert_int_equal(wins, 1);
	estd_store_close(st2);
	estd_store_close(st);
}

static void test_version_1_database_gains_the_requests_table(void **state)
{
	struct estd_store *st = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	(void)state;
	/* what an estd before migration 2 left behind */
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE certs (serial TEXT PRIMARY KEY NOT NULL,"
				      " subject TEXT NOT NULL, issuer TEXT NOT NULL, sans TEXT NOT "
				      "NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT "
				      "NULL, issued_at INTEGER NOT NULL, requester TEXT NOT NULL,"
				      " label TEXT NOT NULL, op TEXT NOT NULL, csr BLOB, cert BLOB);"
				      "PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	st = open_ok();
	submit(st, "m", hash_a, 1, "pending");
	estd_store_close(st);
	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int(s, 0) >= 2);
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* and reopening a migrated file changes nothing */
	st = open_ok();
	submit(st, "m", hash_a, 0, "pending");
	estd_store_close(st);
}

static void test_get_unknown_and_free_null(void **state)
{
	struct estd_store *st = open_ok();
	struct estd_request_record *r = NULL;

	(void)state;
	assert_int_equal(estd_store_request_get(st, 42, &r), ESTKIT_ENOTFOUND);
	assert_null(r);
	assert_non_null(strstr(estd_store_errmsg(st), "42"));
	assert_int_equal(estd_store_request_get(NULL, 1, &r), ESTKIT_EINVAL);
	estd_request_record_free(NULL);
	estd_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_label_approval_keys_parse_and_refuse_bad_values,
						setup, teardown),
		cmocka_unit_test(test_hash_is_lowercase_sha256_hex_and_refuses_empty_input),
		cmocka_unit_test_setup_teardown(test_submit_is_insert_or_get_per_label_and_hash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_refuses_malformed_records, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decide_is_once_and_reports_why_not, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_decide_refuses_oversized_reason, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_issue_only_once_and_only_when_approved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_issue_with_taken_serial_is_eexist_and_keeps_request_approved, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_foreach_filters_by_status_and_stops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_decisions_have_one_winner, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_version_1_database_gains_the_requests_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_unknown_and_free_null, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
