/*
 * test_store_engines.c - the behaviour store.h promises, run on every engine:
 * SQLite and PostgreSQL (store_engine_testutil.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_engine_testutil.h"
#include "store_testutil.h"

/* tu_cert_rec() with the extremes of the time columns and a quote that must stay data. */
static struct estd_cert_record make_rec(const char *serial, long long issued_at)
{
	struct estd_cert_record r = tu_cert_rec(serial, issued_at);

	r.not_before = -5;
	r.not_after = 4102444800LL;
	r.requester = "user:alice'; DROP TABLE certs; --";
	return r;
}

static void test_certs_round_trip_duplicates_and_serials(void **state)
{
	static const struct {
		const char *serial;
		enum estkit_status rc;
	} cases[] = {
		{"0A1B2C", ESTKIT_OK},      {"a1:b2:c", ESTKIT_OK}, {"a1b2d", ESTKIT_ENOTFOUND},
		{"", ESTKIT_EINVAL},        {":", ESTKIT_EINVAL},   {"xyz", ESTKIT_EINVAL},
		{"12 34", ESTKIT_EINVAL},   {NULL, ESTKIT_EINVAL},
		{"12345678901234567890123456789012345678901234567890123456789012345", ESTKIT_EINVAL},
	};
	struct estd_store *st = tu_engine_open();
	struct estd_cert_record in = make_rec("0a1b2c", 1700000001), *out = NULL;
	size_t i;

	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_OK);
	in.serial = "00:0A:1B:2C";
	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_EEXIST);
	assert_non_null(strstr(estd_store_errmsg(st), "already"));
	in.serial = "not-hex";
	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_EINVAL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum estkit_status rc = estd_store_cert_get(st, cases[i].serial, &out);

		if (rc != cases[i].rc)
			fail_msg("%s: serial '%s': rc %d, want %d (%s)", estd_store_engine(st),
				 cases[i].serial ? cases[i].serial : "(null)", rc, cases[i].rc,
				 estd_store_errmsg(st));
		if (rc != ESTKIT_OK) {
			assert_null(out);
			continue;
		}
		assert_string_equal(out->serial, "a1b2c");
		assert_string_equal(out->requester, in.requester);
		assert_string_equal(out->sans, in.sans);
		assert_true(out->not_before == -5 && out->not_after == 4102444800LL);
		assert_int_equal(out->cert_len, sizeof(tu_cert_bytes));
		assert_memory_equal(out->cert_der, tu_cert_bytes, sizeof(tu_cert_bytes));
		assert_memory_equal(out->csr_der, tu_csr_bytes, sizeof(tu_csr_bytes));
		estd_cert_record_free(out);
		out = NULL;
	}
	/* absent blobs come back as NULL, 0 */
	memset(&in, 0, sizeof(in));
	in.serial = "ff";
	assert_int_equal(estd_store_cert_insert(st, &in), ESTKIT_OK);
	assert_int_equal(estd_store_cert_get(st, "FF", &out), ESTKIT_OK);
	assert_null(out->cert_der);
	assert_string_equal(out->subject, "");
	estd_cert_record_free(out);
	estd_store_close(st);
}

struct walk {
	struct estd_store *st;
	char serials[8][8];
	size_t n, stop_after;
};

static int collect(void *arg, const struct estd_cert_record *rec)
{
	struct walk *w = arg;
	struct estd_cert_record *again = NULL;

	/* a callback may call the store again */
	assert_int_equal(estd_store_cert_get(w->st, rec->serial, &again), ESTKIT_OK);
	estd_cert_record_free(again);
	snprintf(w->serials[w->n], sizeof(w->serials[0]), "%s", rec->serial);
	w->n++;
	return w->stop_after != 0 && w->n >= w->stop_after;
}

static void test_foreach_is_oldest_first_and_stops(void **state)
{
	static const struct {
		const char *serial;
		long long at;
	} rows[] = {{"3", 300}, {"1", 100}, {"2", 200}, {"4", 200}};
	struct estd_store *st = tu_engine_open();
	struct estd_cert_record r;
	struct walk w;
	size_t i;

	for (i = 0; i < 4; i++) {
		r = make_rec(rows[i].serial, rows[i].at);
		assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	}
	memset(&w, 0, sizeof(w));
	w.st = st;
	assert_int_equal(estd_store_cert_foreach(st, collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.serials[0], "1");
	assert_string_equal(w.serials[1], "2");
	assert_string_equal(w.serials[2], "4");
	assert_string_equal(w.serials[3], "3");
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.stop_after = 2;
	assert_int_equal(estd_store_cert_foreach(st, collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(estd_store_cert_foreach(st, NULL, &w), ESTKIT_EINVAL);
	estd_store_close(st);
}

struct worker {
	struct estd_store *st;
	int id, failures;
};

#define PER_THREAD 40

static void *insert_many(void *arg)
{
	struct worker *w = arg;
	char serial[32];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct estd_cert_record r;

		/* every thread also tries the serials of thread 0: exactly one insert wins */
		snprintf(serial, sizeof(serial), "%x%04x", (i % 2) ? w->id + 1 : 1, i);
		r = make_rec(serial, i);
		if (estd_store_cert_insert(w->st, &r) != ESTKIT_OK)
			w->failures++;
	}
	return NULL;
}

static int count(void *arg, const struct estd_cert_record *rec)
{
	(void)rec;
	(*(size_t *)arg)++;
	return 0;
}

static void test_four_threads_insert_and_duplicates_lose_exactly_once(void **state)
{
	struct estd_store *st = tu_engine_open();
	pthread_t th[4];
	struct worker w[4];
	size_t n = 0;
	int i, failures = 0;

	estd_store_set_connections(st, 3); /* fewer connections than threads: they wait */
	for (i = 0; i < 4; i++) {
		w[i].st = st;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, insert_many, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		failures += w[i].failures;
	}
	/* the even serials are shared by all four threads: three of four lose each */
	assert_int_equal(failures, 3 * PER_THREAD / 2);
	assert_int_equal(estd_store_cert_foreach(st, count, &n), ESTKIT_OK);
	assert_int_equal(n, 4 * PER_THREAD / 2 + PER_THREAD / 2);
	estd_store_close(st);
}

static void test_revocations_and_crl_numbers(void **state)
{
	struct estd_store *st = tu_engine_open();
	struct estd_cert_record r = make_rec("abc1", 1);
	long long at = 0, a = 0, b = 0;
	int reason = -1;

	assert_int_equal(estd_store_cert_insert(st, &r), ESTKIT_OK);
	assert_int_equal(estd_store_revocation_get(st, "abc1", &reason, &at), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_revoke(st, "00:AB:C1", 1, 1000, "user:x"), ESTKIT_OK);
	assert_int_equal(estd_store_revoke(st, "abc1", 4, 1001, "admin"), ESTKIT_EEXIST);
	assert_int_equal(estd_store_revoke(st, "ffff", 1, 1000, "admin"), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_revoke(st, "xyz", 1, 1000, "admin"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_revocation_get(st, "ABC1", &reason, &at), ESTKIT_OK);
	assert_true(reason == 1 && at == 1000);
	assert_int_equal(estd_store_crl_next_number(st, &a), ESTKIT_OK);
	assert_int_equal(estd_store_crl_next_number(st, &b), ESTKIT_OK);
	assert_true(a == 1 && b == 2);
	estd_store_close(st);
	/* reopening migrates nothing twice and keeps the numbers */
	st = tu_engine_open();
	assert_int_equal(estd_store_crl_next_number(st, &a), ESTKIT_OK);
	assert_true(a == 3);
	estd_store_close(st);
}

static struct estd_request_record make_req(const char *hash)
{
	struct estd_request_record q;

	memset(&q, 0, sizeof(q));
	q.label = "manual";
	q.op = "simpleenroll";
	q.requester = "user:bob";
	q.subject = "CN=held";
	q.sans = "";
	q.csr_der = tu_csr_bytes;
	q.csr_len = sizeof(tu_csr_bytes);
	q.csr_sha256 = (char *)hash;
	return q;
}

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct racer {
	struct estd_store *st;
	long long id;
	enum estkit_status rc;
};

static void *decide(void *arg)
{
	struct racer *r = arg;

	r->rc = estd_store_request_decide(r->st, r->id, "approved", "", "operator:x");
	return NULL;
}

static void test_requests_submit_decide_issue_one_winner(void **state)
{
	static const char *const bad_hashes[] = {"", "AAAA", HASH_A "0", NULL};
	struct estd_store *st = tu_engine_open();
	struct estd_request_record in = make_req(HASH_A), *row = NULL, *again = NULL;
	struct estd_cert_record cert = make_rec("77", 5), *got = NULL;
	struct racer rc[4];
	pthread_t th[4];
	int created = 0, i, wins = 0;

	for (i = 0; i < 4; i++) {
		struct estd_request_record bad = make_req(bad_hashes[i]);

		assert_int_equal(estd_store_request_submit(st, &bad, &row, &created), ESTKIT_EINVAL);
		assert_null(row);
	}
	assert_int_equal(estd_store_request_submit(st, &in, &row, &created), ESTKIT_OK);
	assert_int_equal(created, 1);
	assert_string_equal(row->status, "pending");
	assert_int_equal(estd_store_request_submit(st, &in, &again, &created), ESTKIT_OK);
	assert_int_equal(created, 0);
	assert_true(again->id == row->id);
	assert_int_equal(estd_store_request_issue(st, row->id, &cert), ESTKIT_EPOLICY);
	for (i = 0; i < 4; i++) {
		rc[i].st = st;
		rc[i].id = row->id;
		assert_int_equal(pthread_create(&th[i], NULL, decide, &rc[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		wins += rc[i].rc == ESTKIT_OK;
		assert_true(rc[i].rc == ESTKIT_OK || rc[i].rc == ESTKIT_EEXIST);
	}
	assert_int_equal(wins, 1);
	assert_int_equal(estd_store_request_decide(st, 999999, "approved", "", "x"),
			 ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_request_decide(st, row->id, "maybe", "", "x"), ESTKIT_EINVAL);
	assert_int_equal(estd_store_request_issue(st, row->id, &cert), ESTKIT_OK);
	assert_int_equal(estd_store_request_issue(st, row->id, &cert), ESTKIT_EEXIST);
	cert.serial = "78";
	assert_int_equal(estd_store_request_issue(st, row->id, &cert), ESTKIT_EPOLICY);
	/* collected: not recorded twice, and the same CSR finds the issued row */
	estd_request_record_free(again);
	assert_int_equal(estd_store_cert_get(st, "78", &got), ESTKIT_ENOTFOUND);
	assert_int_equal(estd_store_request_submit(st, &in, &again, &created), ESTKIT_OK);
	assert_string_equal(again->status, "issued");
	assert_string_equal(again->serial, "77");
	estd_request_record_free(again);
	estd_request_record_free(row);
	estd_store_close(st);
}

static void test_digest_nonce_counts(void **state)
{
	static const unsigned char k1[16] = {0x40, 1}, k2[16] = {0x00, 2};
	static const struct {
		const unsigned char *key;
		unsigned long nc;
		enum estkit_status rc;
	} steps[] = {
		{k1, 1, ESTKIT_OK},     {k1, 1, ESTKIT_EEXIST}, {k1, 3, ESTKIT_OK},
		{k1, 2, ESTKIT_EEXIST}, {k2, 5, ESTKIT_OK},     {k2, 5, ESTKIT_EEXIST},
		{k1, 0xffffffffUL, ESTKIT_OK}, {k1, 0xffffffffUL, ESTKIT_EEXIST},
	};
	struct estd_store *st = tu_engine_open();
	size_t i;

	if (strcmp(estd_store_engine(st), "sqlite") == 0) {
		/* SQLite: each node keeps its counts in memory */
		assert_int_equal(estd_store_shares_nonces(st), 0);
		assert_int_equal(estd_store_digest_nc(st, k1, 1, 1, 0), ESTKIT_EINVAL);
		estd_store_close(st);
		return;
	}
	assert_int_equal(estd_store_shares_nonces(st), 1);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (estd_store_digest_nc(st, steps[i].key, 1000, steps[i].nc, 0) != steps[i].rc)
			fail_msg("step %zu: %s", i, estd_store_errmsg(st));
	/* k2 (key[0] == 0) also forgets entries of nonces issued before 2000 */
	assert_int_equal(estd_store_digest_nc(st, k2, 3000, 6, 2000), ESTKIT_OK);
	assert_int_equal(estd_store_digest_nc(st, k1, 1000, 1, 0), ESTKIT_OK);
	estd_store_close(st);
}

static void test_newer_schema_is_refused(void **state)
{
	struct estd_store *st = tu_engine_open();
	char *err = NULL;

	if (strcmp(estd_store_engine(st), "postgresql") != 0) {
		estd_store_close(st); /* test_store.c covers SQLite */
		return;
	}
	estd_store_close(st);
	tu_pg_sql("UPDATE schema_version SET version = 99");
	assert_int_equal(estd_store_open(tu_eng_spec, &st, &err), ESTKIT_EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "schema version 99"));
	free(err);
}

/* ---- one-time enrollment tokens ----------------------------------------------------- */

#define OP_CLAIM 'c'
#define OP_RELEASE 'r'
#define OP_SERIAL 's'
#define OP_REVOKE 'v'
#define OP_GET 'g'

#define LONG_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"

static void token_insert_ok(struct estd_store *st, const char *id, long long created,
			    long long expires)
{
	struct estd_token_record t;

	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.hash = HASH_A;
	t.label = "routers";
	t.subject = "O=Example,CN=dev1";
	t.sans = "DNS:dev1.example, IP:192.0.2.1";
	t.created_at = created;
	t.expires_at = expires;
	t.created_by = "operator:o'; DROP TABLE tokens; --";
	if (estd_store_token_insert(st, &t) != ESTKIT_OK)
		fail_msg("insert token %s: %s", id, estd_store_errmsg(st));
}

static enum estkit_status token_op(struct estd_store *st, char op, const char *id,
				   long long now, const char *arg)
{
	struct estd_token_record *t = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	switch (op) {
	case OP_CLAIM: return estd_store_token_claim(st, id, now, arg);
	case OP_RELEASE: return estd_store_token_release(st, id);
	case OP_SERIAL: return estd_store_token_set_serial(st, id, arg);
	case OP_REVOKE: return estd_store_token_revoke(st, id, now);
	case OP_GET:
		rc = estd_store_token_get(st, id, &t);
		assert_true((rc == ESTKIT_OK) == (t != NULL));
		estd_token_record_free(t);
		return rc;
	default: fail_msg("unknown op %c", op);
	}
	return rc;
}

static void test_tokens_claim_once_expiry_revoke_release(void **state)
{
	static const struct {
		char op;
		const char *id;
		long long now;
		const char *arg;
		enum estkit_status rc;
	} steps[] = {
		{OP_CLAIM, "aaaa", 500, "peer 1", ESTKIT_OK},
		{OP_CLAIM, "aaaa", 500, "peer 2", ESTKIT_EEXIST},     /* the second use */
		{OP_CLAIM, "aaaa", 501, "peer 2", ESTKIT_EEXIST},
		{OP_CLAIM, "nope", 500, "peer 2", ESTKIT_ENOTFOUND},
		{OP_CLAIM, "cccc", 500, "peer 2", ESTKIT_EEXIST},     /* expired at 100 */
		{OP_CLAIM, "eeee", 700, "peer 2", ESTKIT_EEXIST},     /* expires_at == now */
		{OP_CLAIM, "eeee", 699, "peer 2", ESTKIT_OK},
		{OP_RELEASE, "aaaa", 0, NULL, ESTKIT_OK},             /* nothing issued: back */
		{OP_CLAIM, "aaaa", 500, "peer 3", ESTKIT_OK},
		{OP_SERIAL, "aaaa", 0, "1f", ESTKIT_OK},
		{OP_RELEASE, "aaaa", 0, NULL, ESTKIT_EEXIST},         /* issued: never back */
		{OP_REVOKE, "aaaa", 600, NULL, ESTKIT_EEXIST},
		{OP_RELEASE, "bbbb", 0, NULL, ESTKIT_EEXIST},         /* not claimed */
		{OP_SERIAL, "bbbb", 0, "20", ESTKIT_EEXIST},
		{OP_REVOKE, "bbbb", 600, NULL, ESTKIT_OK},
		{OP_REVOKE, "bbbb", 601, NULL, ESTKIT_EEXIST},
		{OP_CLAIM, "bbbb", 602, "peer 4", ESTKIT_EEXIST},     /* revoked */
		{OP_REVOKE, "zzzz", 600, NULL, ESTKIT_ENOTFOUND},
		{OP_RELEASE, "zzzz", 0, NULL, ESTKIT_ENOTFOUND},
		{OP_SERIAL, "zzzz", 0, "21", ESTKIT_ENOTFOUND},
		{OP_GET, "zzzz", 0, NULL, ESTKIT_ENOTFOUND},
		/* malformed ids: refused alike by every engine, nothing looked up */
		{OP_GET, "", 0, NULL, ESTKIT_EINVAL},
		{OP_GET, NULL, 0, NULL, ESTKIT_EINVAL},
		{OP_CLAIM, "aa aa", 500, "x", ESTKIT_EINVAL},
		{OP_CLAIM, "aaaa\n", 500, "x", ESTKIT_EINVAL},
		{OP_CLAIM, "\xff\xfe", 500, "x", ESTKIT_EINVAL},
		{OP_REVOKE, "'; DELETE FROM tokens; --", 600, NULL, ESTKIT_EINVAL},
		{OP_REVOKE, "x';--", 600, NULL, ESTKIT_ENOTFOUND},
		{OP_RELEASE, LONG_ID, 0, NULL, ESTKIT_EINVAL},
		{OP_GET, LONG_ID + 1, 0, NULL, ESTKIT_ENOTFOUND},     /* 64: the longest id */
	};
	struct estd_store *st = tu_engine_open();
	struct estd_token_record *t = NULL, dup;
	size_t i;

	token_insert_ok(st, "aaaa", 1, 1000);
	token_insert_ok(st, "bbbb", 1, 1000);
	token_insert_ok(st, "cccc", 1, 100);
	token_insert_ok(st, "eeee", 1, 700);
	assert_int_equal(estd_store_token_get(st, "aaaa", &t), ESTKIT_OK);
	assert_string_equal(t->hash, HASH_A); /* the hash as given, nothing else */
	assert_string_equal(t->label, "routers");
	assert_string_equal(t->subject, "O=Example,CN=dev1");
	assert_string_equal(t->sans, "DNS:dev1.example, IP:192.0.2.1");
	assert_string_equal(t->created_by, "operator:o'; DROP TABLE tokens; --");
	assert_true(t->created_at == 1 && t->expires_at == 1000 && t->used_at == 0 &&
		    t->revoked_at == 0);
	assert_string_equal(t->used_by, "");
	assert_string_equal(t->serial, "");
	estd_token_record_free(t);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum estkit_status rc = token_op(st, steps[i].op, steps[i].id, steps[i].now,
						 steps[i].arg);

		if (rc != steps[i].rc)
			fail_msg("%s: step %zu (%c %s): rc %d, want %d (%s)", estd_store_engine(st),
				 i, steps[i].op, steps[i].id ? steps[i].id : "(null)", rc,
				 steps[i].rc, estd_store_errmsg(st));
	}
	assert_int_equal(estd_store_token_get(st, "aaaa", &t), ESTKIT_OK);
	assert_string_equal(t->used_by, "peer 3");
	assert_string_equal(t->serial, "1f");
	assert_true(t->used_at == 500 && t->revoked_at == 0);
	estd_token_record_free(t);
	assert_int_equal(estd_store_token_get(st, "bbbb", &t), ESTKIT_OK);
	assert_true(t->revoked_at == 600 && t->used_at == 0);
	estd_token_record_free(t);
	/* a taken id, a missing hash and an overlong subject are refused */
	token_insert_ok(st, "dddd", 2, 1000);
	memset(&dup, 0, sizeof(dup));
	dup.id = "dddd";
	dup.hash = "00";
	dup.label = dup.subject = dup.sans = "";
	assert_int_equal(estd_store_token_insert(st, &dup), ESTKIT_EEXIST);
	assert_non_null(strstr(estd_store_errmsg(st), "already exists"));
	dup.id = "ffff";
	dup.hash = NULL;
	assert_int_equal(estd_store_token_insert(st, &dup), ESTKIT_EINVAL);
	dup.hash = "00";
	dup.subject = LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID
		LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID LONG_ID;
	assert_int_equal(estd_store_token_insert(st, &dup), ESTKIT_EINVAL);
	assert_int_equal(estd_store_token_insert(st, NULL), ESTKIT_EINVAL);
	assert_int_equal(estd_store_token_get(st, "ffff", &t), ESTKIT_ENOTFOUND);
	estd_store_close(st);
}

struct token_walk {
	struct estd_store *st;
	char ids[4][8];
	size_t n, stop_after;
};

static int token_collect(void *arg, const struct estd_token_record *t)
{
	struct token_walk *w = arg;
	struct estd_token_record *again = NULL;

	/* a callback may call the store again (estd token list looks nothing up, others may) */
	assert_int_equal(estd_store_token_get(w->st, t->id, &again), ESTKIT_OK);
	estd_token_record_free(again);
	snprintf(w->ids[w->n], sizeof(w->ids[0]), "%s", t->id);
	w->n++;
	return w->stop_after != 0 && w->n >= w->stop_after;
}

static void test_tokens_list_oldest_first_and_stops(void **state)
{
	struct estd_store *st = tu_engine_open();
	struct token_walk w;

	memset(&w, 0, sizeof(w));
	w.st = st;
	assert_int_equal(estd_store_token_foreach(st, token_collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 0);
	token_insert_ok(st, "t3", 30, 1000);
	token_insert_ok(st, "t1", 10, 1000);
	token_insert_ok(st, "t2b", 20, 1000);
	token_insert_ok(st, "t2a", 20, 1000);
	assert_int_equal(estd_store_token_foreach(st, token_collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.ids[0], "t1");
	assert_string_equal(w.ids[1], "t2a"); /* equal times: by id */
	assert_string_equal(w.ids[2], "t2b");
	assert_string_equal(w.ids[3], "t3");
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.stop_after = 2;
	assert_int_equal(estd_store_token_foreach(st, token_collect, &w), ESTKIT_OK);
	assert_int_equal(w.n, 2);
	assert_int_equal(estd_store_token_foreach(st, NULL, &w), ESTKIT_EINVAL);
	estd_store_close(st);
}

struct token_order {
	long long at;
	char id[16];
	size_t n, bad;
};

static int token_in_order(void *arg, const struct estd_token_record *t)
{
	struct token_order *o = arg;

	if (o->n > 0 && (t->created_at < o->at || (t->created_at == o->at &&
						    strcmp(t->id, o->id) <= 0)))
		o->bad++;
	o->at = t->created_at;
	snprintf(o->id, sizeof(o->id), "%s", t->id);
	o->n++;
	return 0;
}

static void test_tokens_list_more_than_a_page(void **state)
{
	struct estd_store *st = tu_engine_open();
	struct token_order o;
	char id[16];
	int i;

	/* the PostgreSQL engine reads 256 at a time: equal times across the page boundary */
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "p%03d", (i * 7) % 300);
		token_insert_ok(st, id, i < 290 ? 100 : 50, 1000);
	}
	memset(&o, 0, sizeof(o));
	assert_int_equal(estd_store_token_foreach(st, token_in_order, &o), ESTKIT_OK);
	assert_int_equal(o.n, 300);
	assert_int_equal(o.bad, 0);
	estd_store_close(st);
}

#define TOKEN_RACERS 8

struct token_racer {
	pthread_barrier_t *go;
	enum estkit_status rc;
};

static void *token_race(void *arg)
{
	struct token_racer *r = arg;
	struct estd_store *own = NULL;
	char *err = NULL;

	/* its own store, so its own connection: like another estd node */
	if (estd_store_open(tu_eng_spec, &own, &err) != ESTKIT_OK) {
		r->rc = ESTKIT_EIO;
		free(err);
		pthread_barrier_wait(r->go);
		return NULL;
	}
	pthread_barrier_wait(r->go);
	r->rc = estd_store_token_claim(own, "race", 10, "racer");
	estd_store_close(own);
	return NULL;
}

static void test_tokens_concurrent_claims_one_wins(void **state)
{
	struct estd_store *st = tu_engine_open();
	struct estd_token_record *t = NULL;
	struct token_racer r[TOKEN_RACERS];
	pthread_t th[TOKEN_RACERS];
	pthread_barrier_t go;
	int i, wins = 0;

	token_insert_ok(st, "race", 1, 1000);
	assert_int_equal(pthread_barrier_init(&go, NULL, TOKEN_RACERS), 0);
	for (i = 0; i < TOKEN_RACERS; i++) {
		r[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, token_race, &r[i]), 0);
	}
	for (i = 0; i < TOKEN_RACERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (r[i].rc == ESTKIT_OK)
			wins++;
		else if (r[i].rc != ESTKIT_EEXIST)
			fail_msg("racer %d: rc %d", i, r[i].rc);
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(wins, 1);
	assert_int_equal(estd_store_token_get(st, "race", &t), ESTKIT_OK);
	assert_true(t->used_at == 10);
	estd_token_record_free(t);
	estd_store_close(st);
}

static void test_tokens_arrive_on_an_existing_database(void **state)
{
	struct estd_store *st = tu_engine_open();

	if (strcmp(estd_store_engine(st), "postgresql") != 0) {
		estd_store_close(st); /* SQLite: made by migration 4 since tokens exist */
		return;
	}
	estd_store_close(st);
	/* a database made by the estd before tokens: schema version 5, no table */
	tu_pg_sql("DROP TABLE tokens; UPDATE schema_version SET version = 5");
	st = tu_engine_open();
	token_insert_ok(st, "old", 1, 1000);
	assert_int_equal(estd_store_token_claim(st, "old", 2, "peer"), ESTKIT_OK);
	estd_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_BOTH(test_certs_round_trip_duplicates_and_serials),
		TU_BOTH(test_foreach_is_oldest_first_and_stops),
		TU_BOTH(test_four_threads_insert_and_duplicates_lose_exactly_once),
		TU_BOTH(test_revocations_and_crl_numbers),
		TU_BOTH(test_requests_submit_decide_issue_one_winner),
		TU_BOTH(test_digest_nonce_counts),
		TU_BOTH(test_newer_schema_is_refused),
		TU_BOTH(test_tokens_claim_once_expiry_revoke_release),
		TU_BOTH(test_tokens_list_oldest_first_and_stops),
		TU_BOTH(test_tokens_list_more_than_a_page),
		TU_BOTH(test_tokens_concurrent_claims_one_wins),
		TU_BOTH(test_tokens_arrive_on_an_existing_database),
	};

	tu_pg_note("test_store_engines");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
