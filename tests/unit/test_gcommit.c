/*
 * test_gcommit.c - group commit (store/gcommit.h) on its own, with a batch
 * function the test controls, and under the real SQLite store: callers
 * queued behind a commit share the next one, every caller gets its own
 * answer, a failed batch fails every caller in it, and nothing a caller was
 * told is stored is missing.
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
#include <unistd.h>

#include "store/gcommit.h"
#include "store/store.h"

#define FOLLOWERS 4

/* The batch function's side: the first batch waits for the gate; answers by item value. */
struct ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int gate_open, calls;
	size_t sizes[8];
	enum estkit_status fail_second; /* ESTKIT_OK: the second batch succeeds */
};

static void batch_fn(void *ctx, struct estd_gcommit_item *batch)
{
	struct ctl *c = ctx;
	struct estd_gcommit_item *it;
	size_t n = 0;
	int call;

	pthread_mutex_lock(&c->lock);
	call = c->calls++;
	pthread_cond_broadcast(&c->cond);
	while (call == 0 && !c->gate_open)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	for (it = batch; it != NULL; it = it->next) {
		int v = *(const int *)it->arg;

		n++;
		/* odd values are refused one by one, like a serial already stored */
		it->rc = v % 2 != 0 ? ESTKIT_EEXIST : ESTKIT_OK;
		snprintf(it->msg, sizeof(it->msg), "item %d", v);
		if (call == 1 && c->fail_second != ESTKIT_OK) {
			it->rc = c->fail_second;
			snprintf(it->msg, sizeof(it->msg), "disk on fire");
		}
	}
	pthread_mutex_lock(&c->lock);
	if (call < 8)
		c->sizes[call] = n;
	pthread_mutex_unlock(&c->lock);
}

struct caller {
	struct estd_gcommit *g;
	struct ctl *c;
	int value;
	struct estd_gcommit_item item;
	enum estkit_status rc;
	pthread_t t;
};

static void *caller_main(void *arg)
{
	struct caller *k = arg;

	k->item.arg = &k->value;
	k->rc = estd_gcommit_submit(k->g, &k->item, batch_fn, k->c);
	return NULL;
}

static size_t queued(struct estd_gcommit *g)
{
	struct estd_gcommit_item *it;
	size_t n = 0;

	pthread_mutex_lock(&g->lock);
	for (it = g->head; it != NULL; it = it->next)
		n++;
	pthread_mutex_unlock(&g->lock);
	return n;
}

/*
 * One caller leads and is held inside its commit; FOLLOWERS callers arrive
 * meanwhile. They must form exactly one second batch.
 */
static void run_two_batches(struct ctl *c, struct caller *k, struct estd_gcommit *g)
{
	int i;

	assert_int_equal(estd_gcommit_init(g), 0);
	for (i = 0; i <= FOLLOWERS; i++) {
		k[i].g = g;
		k[i].c = c;
		k[i].value = 2 * i; /* even: written */
	}
	k[3].value = 7; /* refused on its own */
	assert_int_equal(pthread_create(&k[0].t, NULL, caller_main, &k[0]), 0);
	pthread_mutex_lock(&c->lock);
	while (c->calls == 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	for (i = 1; i <= FOLLOWERS; i++)
		assert_int_equal(pthread_create(&k[i].t, NULL, caller_main, &k[i]), 0);
	while (queued(g) < FOLLOWERS)
		usleep(1000);
	pthread_mutex_lock(&c->lock);
	c->gate_open = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i <= FOLLOWERS; i++)
		assert_int_equal(pthread_join(k[i].t, NULL), 0);
	assert_int_equal(c->calls, 2);
	assert_int_equal(c->sizes[0], 1);
	assert_int_equal(c->sizes[1], FOLLOWERS);
	assert_int_equal(g->batches, 2);
	assert_int_equal(g->items, FOLLOWERS + 1);
	assert_null(g->head);
	assert_int_equal(g->leading, 0);
}

static void ctl_init(struct ctl *c, enum estkit_status fail_second)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->fail_second = fail_second;
}

static void ctl_destroy(struct ctl *c)
{
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static void test_callers_queued_behind_a_commit_share_the_next(void **state)
{
	struct caller k[FOLLOWERS + 1];
	struct estd_gcommit g;
	struct ctl c;
	int i;

	(void)state;
	memset(k, 0, sizeof(k));
	ctl_init(&c, ESTKIT_OK);
	run_two_batches(&c, k, &g);
	for (i = 0; i <= FOLLOWERS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "item %d", k[i].value);
		assert_int_equal(k[i].rc, k[i].value % 2 != 0 ? ESTKIT_EEXIST : ESTKIT_OK);
		assert_int_equal(k[i].item.rc, k[i].rc);
		assert_int_equal(k[i].item.done, 1);
		assert_string_equal(k[i].item.msg, want);
	}
	estd_gcommit_destroy(&g);
	ctl_destroy(&c);
}

static void test_a_failed_batch_fails_every_caller_in_it(void **state)
{
	struct caller k[FOLLOWERS + 1];
	struct estd_gcommit g;
	struct ctl c;
	int i;

	(void)state;
	memset(k, 0, sizeof(k));
	ctl_init(&c, ESTKIT_EIO);
	run_two_batches(&c, k, &g);
	assert_int_equal(k[0].rc, ESTKIT_OK); /* the first batch was committed */
	for (i = 1; i <= FOLLOWERS; i++) {
		assert_int_equal(k[i].rc, ESTKIT_EIO);
		assert_string_equal(k[i].item.msg, "disk on fire");
	}
	estd_gcommit_destroy(&g);
	ctl_destroy(&c);
}

static void test_submit_refuses_missing_arguments(void **state)
{
	struct estd_gcommit g;
	struct estd_gcommit_item item;
	struct ctl c;
	int v = 0;

	(void)state;
	ctl_init(&c, ESTKIT_OK);
	c.gate_open = 1;
	memset(&item, 0, sizeof(item));
	item.arg = &v;
	assert_int_equal(estd_gcommit_init(&g), 0);
	assert_int_equal(estd_gcommit_submit(NULL, &item, batch_fn, &c), ESTKIT_EINVAL);
	assert_int_equal(estd_gcommit_submit(&g, NULL, batch_fn, &c), ESTKIT_EINVAL);
	assert_int_equal(estd_gcommit_submit(&g, &item, NULL, &c), ESTKIT_EINVAL);
	assert_int_equal(g.batches, 0);
	/* alone: a batch of one, committed by its own caller */
	assert_int_equal(estd_gcommit_submit(&g, &item, batch_fn, &c), ESTKIT_OK);
	assert_int_equal(g.batches, 1);
	estd_gcommit_destroy(&g);
	estd_gcommit_destroy(&g); /* twice: a no-op */
	estd_gcommit_destroy(NULL);
	ctl_destroy(&c);
}

/* ---- the SQLite store ---------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 25

static char dbpath[1100];
static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

struct inserter {
	struct estd_store *st;
	int id;
	enum estkit_status rc[PER_THREAD];
	char msg[PER_THREAD][64];
};

static void *inserter_main(void *arg)
{
	struct inserter *in = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct estd_cert_record r;
		char serial[32];

		memset(&r, 0, sizeof(r));
		snprintf(serial, sizeof(serial), "%x%04x", in->id + 1, i + 1);
		r.serial = serial;
		/* every 10th record of thread 0 trips the commit (see poison()) */
		r.subject = in->id == 0 && i % 10 == 5 ? "CN=poison" : "CN=device";
		r.issuer = r.sans = r.requester = r.label = "";
		r.op = "simpleenroll";
		r.cert_der = der;
		r.cert_len = sizeof(der);
		in->rc[i] = estd_store_cert_insert(in->st, &r);
		if (in->rc[i] != ESTKIT_OK)
			snprintf(in->msg[i], sizeof(in->msg[i]), "%s", estd_store_errmsg(in->st));
	}
	return NULL;
}

/*
 * A record with subject CN=poison makes its transaction's COMMIT fail
 * (a deferred foreign key left dangling), through a second connection:
 * the store itself is not changed for the test.
 */
static void poison(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
				      "CREATE TABLE boom (p INTEGER REFERENCES parent (id)"
				      " DEFERRABLE INITIALLY DEFERRED);"
				      "CREATE TRIGGER poison AFTER INSERT ON certs"
				      " WHEN NEW.subject = 'CN=poison'"
				      " BEGIN INSERT INTO boom VALUES (42); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
}

static void test_sqlite_concurrent_inserts_are_stored_iff_acknowledged(void **state)
{
	struct inserter in[THREADS];
	pthread_t t[THREADS];
	struct estd_store *st = NULL;
	char tmpl[] = "/tmp/estd-gcommit-XXXXXX";
	char *err = NULL, cmd[1200];
	int i, j, ok = 0, poisoned = 0;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(dbpath, sizeof(dbpath), "%s/estd.db", tmpl);
	assert_int_equal(estd_store_open(dbpath, &st, &err), ESTKIT_OK);
	poison();
	for (i = 0; i < THREADS; i++) {
		memset(&in[i], 0, sizeof(in[i]));
		in[i].st = st;
		in[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, inserter_main, &in[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (i = 0; i < THREADS; i++)
		for (j = 0; j < PER_THREAD; j++) {
			struct estd_cert_record *got = NULL;
			char serial[32];
			enum estkit_status g;

			snprintf(serial, sizeof(serial), "%x%04x", i + 1, j + 1);
			g = estd_store_cert_get(st, serial, &got);
			/* acknowledged <=> stored: never a certificate the store lost */
			assert_int_equal(g, in[i].rc[j] == ESTKIT_OK ? ESTKIT_OK : ESTKIT_ENOTFOUND);
			estd_cert_record_free(got);
			if (in[i].rc[j] == ESTKIT_OK) {
				ok++;
				continue;
			}
			assert_int_equal(in[i].rc[j], ESTKIT_EIO);
			assert_non_null(strstr(in[i].msg[j], "commit"));
			if (i == 0 && j % 10 == 5)
				poisoned++;
		}
	assert_int_equal(poisoned, 2); /* every poisoned record (j = 5, 15) failed */
	assert_true(ok >= THREADS * PER_THREAD - THREADS * 2); /* others only in a batch with one */
	estd_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callers_queued_behind_a_commit_share_the_next),
		cmocka_unit_test(test_a_failed_batch_fails_every_caller_in_it),
		cmocka_unit_test(test_submit_refuses_missing_arguments),
		cmocka_unit_test(test_sqlite_concurrent_inserts_are_stored_iff_acknowledged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
