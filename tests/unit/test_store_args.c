/*
 * test_store_args.c - the argument checks of the store.h calls (store.c),
 * run on every engine (store_engine_testutil.h): NULL, empty, malformed and
 * oversized arguments are ESTKIT_EINVAL with the same message whichever
 * engine is behind, and nothing reaches the database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store_engine_testutil.h"
#include "store_testutil.h"

#define HASH "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char text_max[1024 + 1];  /* the longest free text a store keeps */
static char text_over[1025 + 1]; /* one byte more */
static char id_over[65 + 1];     /* a token id one character too long */
static char serial_over[200];    /* more hex digits than any serial */

static void fill(char *buf, size_t n, char c)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

static int setup_texts(void **state)
{
	(void)state;
	fill(text_max, 1024, 't');
	fill(text_over, 1025, 't');
	fill(id_over, 65, 'i');
	fill(serial_over, sizeof(serial_over) - 1, 'a');
	return 0;
}

enum op {
	CERT_INSERT, CERT_GET, CERT_FOREACH, REVOKE, REVOCATION_GET, REVOCATION_FOREACH,
	CRL_NEXT, REQ_SUBMIT, REQ_GET, REQ_FOREACH, REQ_DECIDE, REQ_ISSUE, TOK_INSERT,
	TOK_GET, TOK_FOREACH, TOK_CLAIM, TOK_RELEASE, TOK_SET_SERIAL, TOK_REVOKE,
};

/* What a row spoils in the record it passes (or that it passes NULL pointers). */
enum spoil {
	NONE, NULL_PTR, NULL_OUT, LABEL_NULL, CSR_NULL, CSR_EMPTY, HASH_NULL, HASH_UPPER,
	HASH_SHORT, TEXT_NULL, TEXT_LONG, BY_LONG,
};

struct bad {
	enum op op;
	enum spoil spoil;
	const char *a; /* serial, status or token id */
	const char *b; /* reason, used_by or serial text */
	const char *msg; /* the message; "" none */
};

static int no_cert(void *arg, const struct estd_cert_record *r)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

static int no_req(void *arg, const struct estd_request_record *r)
{
	(void)r;
	++*(int *)arg;
	return 0;
}

static int no_token(void *arg, const struct estd_token_record *t)
{
	(void)t;
	++*(int *)arg;
	return 0;
}

static int no_revocation(void *arg, const char *serial, int reason, long long at)
{
	(void)serial;
	(void)reason;
	(void)at;
	++*(int *)arg;
	return 0;
}

static struct estd_request_record request(enum spoil spoil)
{
	static unsigned char csr[] = {0x30, 0x00};
	struct estd_request_record r;

	memset(&r, 0, sizeof(r));
	r.label = spoil == LABEL_NULL ? NULL : "routers";
	r.op = "simpleenroll";
	r.requester = "user:alice";
	r.subject = "CN=a";
	r.sans = "";
	r.csr_der = spoil == CSR_NULL ? NULL : csr;
	r.csr_len = spoil == CSR_EMPTY ? 0 : sizeof(csr);
	r.csr_sha256 = spoil == HASH_NULL    ? NULL
		       : spoil == HASH_UPPER ? "00112233445566778899AABBCCDDEEFF00112233445566778899"
					       "AABBCCDDEEFF"
		       : spoil == HASH_SHORT ? "0011"
					     : HASH;
	return r;
}

static struct estd_token_record token(const struct bad *b)
{
	struct estd_token_record t;

	memset(&t, 0, sizeof(t));
	t.id = (char *)b->a;
	t.hash = b->spoil == TEXT_NULL ? NULL : HASH;
	t.label = b->spoil == TEXT_LONG ? text_over : "routers";
	t.subject = "CN=a";
	t.sans = "";
	t.created_by = b->spoil == BY_LONG ? text_over : NULL;
	t.created_at = 1;
	t.expires_at = 1000;
	return t;
}

static enum estkit_status call(struct estd_store *st, const struct bad *b)
{
	struct estd_cert_record cert = tu_cert_rec(b->a, 1700000000), *cout = NULL;
	struct estd_request_record req = request(b->spoil), *rout = NULL;
	struct estd_token_record tok = token(b), *tout = NULL;
	long long n = 0;
	int count = 0, created = 0;
	int nul = b->spoil == NULL_PTR, nout = b->spoil == NULL_OUT;

	switch (b->op) {
	case CERT_INSERT: return estd_store_cert_insert(st, nul ? NULL : &cert);
	case CERT_GET: return estd_store_cert_get(st, b->a, nout ? NULL : &cout);
	case CERT_FOREACH: return estd_store_cert_foreach(st, NULL, &count);
	case REVOKE: return estd_store_revoke(st, b->a, 1, 5, "operator");
	case REVOCATION_GET: return estd_store_revocation_get(st, b->a, NULL, NULL);
	case REVOCATION_FOREACH: return estd_store_revocation_foreach(st, NULL, &count);
	case CRL_NEXT: return estd_store_crl_next_number(st, nout ? NULL : &n);
	case REQ_SUBMIT:
		return estd_store_request_submit(st, nul ? NULL : &req, nout ? NULL : &rout,
						 &created);
	case REQ_GET: return estd_store_request_get(st, 1, NULL);
	case REQ_FOREACH: return estd_store_request_foreach(st, NULL, NULL, &count);
	case REQ_DECIDE: return estd_store_request_decide(st, 1, b->a, b->b, "operator");
	case REQ_ISSUE: return estd_store_request_issue(st, 1, NULL);
	case TOK_INSERT: return estd_store_token_insert(st, nul ? NULL : &tok);
	case TOK_GET: return estd_store_token_get(st, b->a, nout ? NULL : &tout);
	case TOK_FOREACH: return estd_store_token_foreach(st, NULL, &count);
	case TOK_CLAIM: return estd_store_token_claim(st, b->a, 5, b->b);
	case TOK_RELEASE: return estd_store_token_release(st, b->a);
	case TOK_SET_SERIAL: return estd_store_token_set_serial(st, b->a, b->b);
	case TOK_REVOKE: return estd_store_token_revoke(st, b->a, 5);
	}
	fail_msg("unknown op %d", (int)b->op);
	return ESTKIT_EINTERNAL;
}

/* What the table must leave behind: no row in any table, the CRL counter unused. */
static void assert_store_untouched(struct estd_store *st)
{
	long long n = 0;
	int count = 0;

	assert_int_equal(estd_store_cert_foreach(st, no_cert, &count), ESTKIT_OK);
	assert_int_equal(estd_store_revocation_foreach(st, no_revocation, &count), ESTKIT_OK);
	assert_int_equal(estd_store_request_foreach(st, NULL, no_req, &count), ESTKIT_OK);
	assert_int_equal(estd_store_token_foreach(st, no_token, &count), ESTKIT_OK);
	assert_int_equal(count, 0);
	assert_int_equal(estd_store_crl_next_number(st, &n), ESTKIT_OK);
	assert_int_equal(n, 1);
}

#define SERIAL_MSG "invalid serial (expected hexadecimal)"

static void test_bad_arguments_are_refused_alike(void **state)
{
	static const struct bad rows[] = {
		{CERT_INSERT, NULL_PTR, "0a", NULL, "invalid record or serial"},
		{CERT_INSERT, NONE, NULL, NULL, "invalid record or serial"},
		{CERT_INSERT, NONE, "", NULL, "invalid record or serial"},
		{CERT_INSERT, NONE, "0x1f", NULL, "invalid record or serial"},
		{CERT_INSERT, NONE, serial_over, NULL, "invalid record or serial"},
		{CERT_GET, NULL_OUT, "0a", NULL, ""},
		{CERT_GET, NONE, NULL, NULL, SERIAL_MSG},
		{CERT_GET, NONE, "", NULL, SERIAL_MSG},
		{CERT_GET, NONE, "':--", NULL, SERIAL_MSG},
		{CERT_GET, NONE, serial_over, NULL, SERIAL_MSG},
		{CERT_FOREACH, NULL_PTR, NULL, NULL, ""},
		{REVOKE, NONE, NULL, NULL, SERIAL_MSG},
		{REVOKE, NONE, ":", NULL, SERIAL_MSG},
		{REVOKE, NONE, serial_over, NULL, SERIAL_MSG},
		{REVOCATION_GET, NONE, NULL, NULL, ""},
		{REVOCATION_GET, NONE, "", NULL, ""},
		{REVOCATION_GET, NONE, serial_over, NULL, ""},
		{REVOCATION_FOREACH, NULL_PTR, NULL, NULL, ""},
		{CRL_NEXT, NULL_OUT, NULL, NULL, ""},
		{REQ_SUBMIT, NULL_PTR, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, NULL_OUT, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, LABEL_NULL, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, CSR_NULL, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, CSR_EMPTY, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, HASH_NULL, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, HASH_UPPER, NULL, NULL, "invalid request record"},
		{REQ_SUBMIT, HASH_SHORT, NULL, NULL, "invalid request record"},
		{REQ_GET, NULL_OUT, NULL, NULL, ""},
		{REQ_FOREACH, NULL_PTR, NULL, NULL, ""},
		{REQ_DECIDE, NONE, NULL, NULL, "invalid decision"},
		{REQ_DECIDE, NONE, "", NULL, "invalid decision"},
		{REQ_DECIDE, NONE, "issued", NULL, "invalid decision"},
		{REQ_DECIDE, NONE, "approved", text_over, "invalid decision"},
		{REQ_ISSUE, NULL_PTR, NULL, NULL, ""},
		{TOK_INSERT, NULL_PTR, "aaaa", NULL, "invalid token"},
		{TOK_INSERT, NONE, "", NULL, "invalid token id"},
		{TOK_INSERT, NONE, id_over, NULL, "invalid token id"},
		{TOK_INSERT, TEXT_NULL, "aaaa", NULL, "invalid token"},
		{TOK_INSERT, TEXT_LONG, "aaaa", NULL, "invalid token"},
		{TOK_INSERT, BY_LONG, "aaaa", NULL, "invalid token"},
		{TOK_GET, NULL_OUT, "aaaa", NULL, ""},
		{TOK_GET, NONE, NULL, NULL, "invalid token id"},
		{TOK_GET, NONE, "a b", NULL, "invalid token id"},
		{TOK_FOREACH, NULL_PTR, NULL, NULL, ""},
		{TOK_CLAIM, NONE, "", "peer", "invalid token id"},
		{TOK_CLAIM, NONE, "aaaa", text_over, "invalid token user"},
		{TOK_RELEASE, NONE, id_over, NULL, "invalid token id"},
		{TOK_SET_SERIAL, NONE, "aaaa", text_over, "invalid serial"},
		{TOK_REVOKE, NONE, "\x01", NULL, "invalid token id"},
	};
	struct estd_store *st = tu_engine_open();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum estkit_status rc = call(st, &rows[i]);

		if (rc != ESTKIT_EINVAL || strcmp(estd_store_errmsg(st), rows[i].msg) != 0)
			fail_msg("%s: row %zu (op %d): rc %d, message '%s'; want EINVAL, '%s'",
				 estd_store_engine(st), i, (int)rows[i].op, rc,
				 estd_store_errmsg(st), rows[i].msg);
	}
	assert_store_untouched(st);
	estd_store_close(st);
}

/* The limits themselves: 1024 bytes of text pass, on every engine. */
static void test_longest_texts_are_kept(void **state)
{
	struct estd_request_record req = request(NONE), *out = NULL;
	struct estd_token_record t;
	struct estd_store *st = tu_engine_open();
	int created = 0;

	(void)state;
	assert_int_equal(estd_store_request_submit(st, &req, &out, &created), ESTKIT_OK);
	assert_int_equal(estd_store_request_decide(st, out->id, "rejected", text_max, text_max),
			 ESTKIT_OK);
	estd_request_record_free(out);
	memset(&t, 0, sizeof(t));
	t.id = "aaaa";
	t.hash = HASH;
	t.label = text_max;
	t.subject = text_max;
	t.sans = text_max;
	t.created_by = text_max;
	t.expires_at = 1000;
	assert_int_equal(estd_store_token_insert(st, &t), ESTKIT_OK);
	assert_int_equal(estd_store_token_claim(st, "aaaa", 5, text_max), ESTKIT_OK);
	assert_int_equal(estd_store_token_set_serial(st, "aaaa", text_max), ESTKIT_OK);
	estd_store_close(st);
}

/* No store: every call says so before looking at anything else. */
static void test_no_store(void **state)
{
	struct estd_cert_record *out = NULL;
	long long n = 0;

	(void)state;
	assert_int_equal(estd_store_cert_get(NULL, "0a", &out), ESTKIT_EINVAL);
	assert_string_equal(estd_store_errmsg(NULL), "no store");
	assert_int_equal(estd_store_crl_next_number(NULL, &n), ESTKIT_EINVAL);
	assert_int_equal(estd_store_token_release(NULL, "aaaa"), ESTKIT_EINVAL);
	assert_string_equal(estd_store_errmsg(NULL), "no store");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_BOTH(test_bad_arguments_are_refused_alike),
		TU_BOTH(test_longest_texts_are_kept),
		cmocka_unit_test(test_no_store),
	};

	tu_pg_note("test_store_args");
	return cmocka_run_group_tests(tests, setup_texts, NULL);
}
