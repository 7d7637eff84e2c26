/*
 * test_command_backend.c - backend = command: the program's output parsed
 * (PEM, DER, PKCS#7 DER and base64, garbage, truncated, a certificate for
 * another key), the exit-status contract, the clean environment, and real
 * runs: a large stdin without deadlock, oversized output, a timeout that
 * kills the whole process group, a signal; command_concurrency slots: a
 * request waits for one only while a job thread stays free.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <estkit/pki.h>

#include "backend/command.h"
#include "backend/command_out.h"
#include "backend/command_run.h"
#include "backend/ext.h"
#include "backend/extconf.h"
#include "ca_testutil.h"

static EVP_PKEY *leaf_key, *other_key;
static X509 *leaf, *other;

static int setup(void **state)
{
	leaf_key = tu_key("EC", "P-256", 0);
	other_key = tu_key("EC", "P-256", 0);
	leaf = tu_ca_cert(leaf_key, "leaf", 10, 0);
	other = tu_ca_cert(other_key, "other CA", 10, 1);
	return 0;
}

static int teardown(void **state)
{
	X509_free(leaf);
	X509_free(other);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
	return 0;
}

/* Output formats: the chain `other, leaf` in each. */
enum fmt { F_PEM, F_DER_CERT, F_P7_DER, F_P7_B64, F_GARBAGE, F_EMPTY, F_TRUNCATED,
	   F_OTHER_ONLY, F_PEM_TRAILING };

static void make_output(enum fmt f, unsigned char **out, size_t *len)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char *der = NULL;
	char *b64 = NULL;
	size_t dlen = 0, blen = 0;
	char *data = NULL;
	long n;

	sk_X509_push(sk, other);
	if (f != F_OTHER_ONLY)
		sk_X509_push(sk, leaf);
	switch (f) {
	case F_PEM:
	case F_OTHER_ONLY:
	case F_PEM_TRAILING:
	case F_TRUNCATED:
		PEM_write_bio_X509(bio, other);
		if (f != F_OTHER_ONLY)
			PEM_write_bio_X509(bio, leaf);
		if (f == F_PEM_TRAILING)
			BIO_puts(bio, "\n\r\n  \n");
		n = BIO_get_mem_data(bio, &data);
		*len = f == F_TRUNCATED ? (size_t)n / 3 : (size_t)n;
		*out = malloc(*len + 1);
		memcpy(*out, data, *len);
		break;
	case F_DER_CERT:
		dlen = (size_t)i2d_X509(leaf, &der);
		*out = malloc(dlen);
		memcpy(*out, der, dlen);
		*len = dlen;
		OPENSSL_free(der);
		break;
	case F_P7_DER:
	case F_P7_B64:
		assert_int_equal(estkit_pkcs7_certs_encode(sk, &der, &dlen), ESTKIT_OK);
		if (f == F_P7_DER) {
			*out = malloc(dlen);
			memcpy(*out, der, dlen);
			*len = dlen;
		} else {
			assert_int_equal(estkit_b64_encode(der, dlen, &b64, &blen), ESTKIT_OK);
			*out = malloc(blen);
			memcpy(*out, b64, blen);
			*len = blen;
		}
		estkit_free(der);
		estkit_free(b64);
		break;
	case F_GARBAGE:
		*out = (unsigned char *)strdup("Hello, I am not a certificate\n");
		*len = strlen((char *)*out);
		break;
	case F_EMPTY:
		*out = (unsigned char *)strdup("\n\n");
		*len = 2;
		break;
	}
	BIO_free(bio);
	sk_X509_free(sk);
}

static void test_parse_certs_table(void **state)
{
	static const struct {
		enum fmt f;
		enum estkit_status want;
		int ncerts;
	} cases[] = {
		{ F_PEM, ESTKIT_OK, 2 },          { F_PEM_TRAILING, ESTKIT_OK, 2 },
		{ F_DER_CERT, ESTKIT_OK, 1 },     { F_P7_DER, ESTKIT_OK, 2 },
		{ F_P7_B64, ESTKIT_OK, 2 },       { F_GARBAGE, ESTKIT_EPARSE, 0 },
		{ F_EMPTY, ESTKIT_EPARSE, 0 },    { F_TRUNCATED, ESTKIT_OK, 1 },
		{ F_OTHER_ONLY, ESTKIT_EPOLICY, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char *out = NULL;
		size_t len = 0;
		STACK_OF(X509) *certs = NULL;
		char msg[160] = "";
		enum estkit_status rc;

		make_output(cases[i].f, &out, &len);
		rc = estd_cmd_parse_certs(out, len, leaf_key, &certs, msg, sizeof(msg));
		/* a truncated PEM keeps only what is whole: here just `other` -> EPOLICY */
		if (cases[i].f == F_TRUNCATED) {
			assert_true(rc == ESTKIT_EPOLICY || rc == ESTKIT_EPARSE);
			assert_null(certs);
		} else {
			if (rc != cases[i].want)
				fail_msg("case %zu: %s (%s)", i, estkit_strerror(rc), msg);
		}
		if (rc == ESTKIT_OK) {
			assert_int_equal(sk_X509_num(certs), cases[i].ncerts);
			/* RFC 7030 4.2.3: the client's certificate comes first */
			assert_int_equal(X509_cmp(sk_X509_value(certs, 0), leaf), 0);
		} else {
			assert_null(certs);
			assert_true(msg[0] != '\0');
		}
		OSSL_STACK_OF_X509_free(certs);
		free(out);
	}
}

static void test_first_line_sanitized(void **state)
{
	static const struct {
		const char *in;
		size_t outsz;
		const char *want;
	} cases[] = {
		{ "reason\nmore", 64, "reason" },
		{ "  padded \t\r\nx", 64, "padded" },
		{ "esc\x1b[31mred\x7f", 64, "esc?[31mred?" },
		{ "utf8 \xc3\xa9", 64, "utf8 ??" },
		{ "0123456789", 5, "0123" },
		{ "", 64, "" },
		{ "\n\nlater", 64, "" },
	};
	size_t i;
	char out[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		estd_cmd_first_line(cases[i].in, strlen(cases[i].in), out, cases[i].outsz);
		assert_string_equal(out, cases[i].want);
	}
	/* not NUL-terminated input, len respected */
	estd_cmd_first_line("abcdef", 3, out, sizeof(out));
	assert_string_equal(out, "abc");
}

static void test_verdict_table(void **state)
{
	unsigned char *pem = NULL;
	size_t pemlen = 0;
	static const struct {
		int exited, code, signo, timed_out, too_big;
		const char *out, *err;
		int http;
		unsigned retry;
		const char *reason;
	} cases[] = {
		{ 1, 0, 0, 0, 0, "PEM", "", 200, 60, "" },
		{ 1, 0, 0, 0, 0, "garbage", "", 500, 60, "no usable certificate" },
		{ 1, 1, 0, 0, 0, "", "CN not allowed\nsecond", 403, 60, "CN not allowed" },
		{ 1, 1, 0, 0, 0, "", "", 403, 60, "rejected by the signing program" },
		{ 1, 2, 0, 0, 0, "300\n", "", 202, 300, "" },
		{ 1, 2, 0, 0, 0, "soon", "", 202, 60, "" },
		{ 1, 2, 0, 0, 0, "999999", "", 202, 60, "" },
		{ 1, 2, 0, 0, 0, "-5", "", 202, 60, "" },
		{ 1, 3, 0, 0, 0, "", "boom", 500, 60, "the signing program failed" },
		{ 1, 127, 0, 0, 0, "", "", 500, 60, "the signing program failed" },
		{ 0, 0, 9, 0, 0, "", "", 500, 60, "the signing program failed" },
		{ 0, 0, 15, 1, 0, "", "", 503, 60, "did not answer in time" },
		{ 0, 0, 9, 0, 1, "", "", 500, 60, "the signing program failed" },
	};
	size_t i;

	make_output(F_PEM, &pem, &pemlen);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_cmd_result res;
		struct estd_cmd_verdict v;

		memset(&res, 0, sizeof(res));
		res.exited = cases[i].exited;
		res.exit_code = cases[i].code;
		res.signo = cases[i].signo;
		res.timed_out = cases[i].timed_out;
		res.too_big = cases[i].too_big;
		if (strcmp(cases[i].out, "PEM") == 0) {
			res.out = pem;
			res.outlen = pemlen;
		} else {
			res.out = (unsigned char *)cases[i].out;
			res.outlen = strlen(cases[i].out);
		}
		res.err = (char *)cases[i].err;
		res.errlen = strlen(cases[i].err);
		estd_cmd_verdict(&res, leaf_key, 60, &v);
		if (v.http != cases[i].http)
			fail_msg("case %zu: HTTP %d, want %d (%s)", i, v.http, cases[i].http, v.reason);
		if (v.http == 202 || v.http == 503)
			assert_int_equal(v.retry_after, cases[i].retry);
		assert_non_null(strstr(v.reason, cases[i].reason));
		if (v.http == 200)
			assert_int_equal(sk_X509_num(v.certs), 2);
		else
			assert_null(v.certs);
		if (v.http >= 500)
			assert_true(v.log[0] != '\0');
		OSSL_STACK_OF_X509_free(v.certs);
	}
	free(pem);
}

static void test_env_is_clean_and_complete(void **state)
{
	struct estd_cmd_ctx c = { "simpleenroll", "lab", "alice", "user:alice", NULL, NULL,
				  "YmluZA==", "127.0.0.1:5000", "CN=x", "DNS:x" };
	char **env = estd_command_env(&c);
	size_t n = 0;

	assert_non_null(env);
	while (env[n] != NULL)
		n++;
	assert_int_equal(n, 11);
	assert_string_equal(env[0], "PATH=/usr/bin:/bin");
	assert_string_equal(env[1], "ESTD_OP=simpleenroll");
	assert_string_equal(env[3], "ESTD_USER=alice");
	assert_string_equal(env[5], "ESTD_CLIENT_CERT=");
	assert_string_equal(env[7], "ESTD_CHANNEL_BINDING=YmluZA==");
	assert_string_equal(env[10], "ESTD_CSR_SANS=DNS:x");
	estd_ext_argv_free(env);
}

/* Runs argv (NULL-terminated, via /bin/sh -c SCRIPT) with input. */
static void run_sh(const char *script, const unsigned char *in, size_t inlen, long timeout_ms,
		   size_t max_output, struct estd_cmd_result *res)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct estd_cmd_spec spec = { argv, envp, in, inlen, timeout_ms, max_output };
	char msg[256];

	assert_int_equal(estd_command_exec(&spec, res, msg, sizeof(msg)), ESTKIT_OK);
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_exec_big_stdin_echoed_without_deadlock(void **state)
{
	size_t n = 512 * 1024, i;
	unsigned char *in = malloc(n);
	struct estd_cmd_result res;

	for (i = 0; i < n; i++)
		in[i] = (unsigned char)('a' + i % 26);
	/* cat writes while we still write: both pipes must be served at once */
	run_sh("cat; echo done >&2; exit 0", in, n, 10000, 1024 * 1024, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.outlen, n);
	assert_memory_equal(res.out, in, n);
	assert_string_equal(res.err, "done\n");
	estd_cmd_result_clear(&res);
	free(in);
}

static void test_exec_exit_codes_and_signal(void **state)
{
	struct estd_cmd_result res;

	run_sh("echo nope >&2; exit 1", NULL, 0, 5000, 4096, &res);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.exit_code, 1);
	assert_string_equal(res.err, "nope\n");
	estd_cmd_result_clear(&res);
	/* the program does not read its stdin at all: no EPIPE trouble */
	run_sh("exit 2", (const unsigned char *)"x", 1, 5000, 4096, &res);
	assert_int_equal(res.exit_code, 2);
	estd_cmd_result_clear(&res);
	run_sh("kill -KILL $$", NULL, 0, 5000, 4096, &res);
	assert_int_equal(res.exited, 0);
	assert_int_equal(res.signo, SIGKILL);
	estd_cmd_result_clear(&res);
}

static void test_exec_oversized_output_killed(void **state)
{
	struct estd_cmd_result res;
	long long t0 = ms_now();

	run_sh("head -c 100000 /dev/zero; sleep 20", NULL, 0, 15000, 4096, &res);
	assert_int_equal(res.too_big, 1);
	assert_int_equal(res.exited, 0);
	assert_true(ms_now() - t0 < 3000);
	estd_cmd_result_clear(&res);
}

static void test_exec_timeout_kills_the_group(void **state)
{
	struct estd_cmd_result res;
	char pidfile[] = "/tmp/estd-cmd-XXXXXX", script[256], buf[32] = "";
	long long t0 = ms_now();
	FILE *fp;
	int fd = mkstemp(pidfile);
	pid_t child;

	assert_true(fd >= 0);
	close(fd);
	/* a grandchild that ignores SIGTERM, and a parent that ignores it too */
	snprintf(script, sizeof(script),
		 "trap '' TERM; (trap '' TERM; sleep 30) & echo $! > %s; wait", pidfile);
	run_sh(script, NULL, 0, 500, 4096, &res);
	assert_int_equal(res.timed_out, 1);
	assert_int_equal(res.signo, SIGKILL);
	assert_true(ms_now() - t0 < 500 + 1000 + 700);
	fp = fopen(pidfile, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	unlink(pidfile);
	child = (pid_t)strtol(buf, NULL, 10);
	assert_true(child > 0);
	usleep(100000);
	/* gone (or at most a zombie of init's, never running on) */
	assert_true(kill(child, 0) != 0 || getpgid(child) != getpgid(0));
	estd_cmd_result_clear(&res);
}

static void test_exec_missing_program(void **state)
{
	char *argv[] = { "/nonexistent/prog", NULL };
	char *envp[] = { NULL };
	struct estd_cmd_spec spec = { argv, envp, NULL, 0, 1000, 1024 };
	struct estd_cmd_result res;
	char msg[256];

	assert_int_equal(estd_command_exec(&spec, &res, msg, sizeof(msg)), ESTKIT_EIO);
	assert_non_null(strstr(msg, "/nonexistent/prog"));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Label "a" has 1 slot, held. With job_threads threads of which `held`
 * (running or waiting) are taken, a second request for "a" waits out its
 * 150 ms or is refused at once; "b" always gets its free slot at once.
 */
static void test_slot_wait_keeps_a_job_thread_free(void **state)
{
	static const struct {
		int job_threads, limit;
		int waits; /* 1: waits the whole 150 ms then -1; 0: -1 at once */
	} cases[] = {
		{ 1, 1, 0 }, { 2, 1, 0 }, { 3, 1, 1 }, { 8, 1, 1 },
		{ 2, 2, -1 }, /* a second slot: taken at once (0) */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_ext *x = NULL;
		long long t0;
		int rc;

		assert_int_equal(estd_ext_new(NULL, NULL, cases[i].job_threads, &x), ESTKIT_OK);
		assert_int_equal(estd_ext_slot_get(x, "a", cases[i].limit, 0), 0);
		t0 = now_ms();
		rc = estd_ext_slot_get(x, "a", cases[i].limit, 150);
		if (cases[i].waits < 0) {
			assert_int_equal(rc, 0);
			estd_ext_slot_put(x, "a");
		} else {
			assert_int_equal(rc, -1);
			if (cases[i].waits && now_ms() - t0 < 140)
				fail_msg("case %zu: gave up after %lld ms", i, now_ms() - t0);
			if (!cases[i].waits && now_ms() - t0 > 100)
				fail_msg("case %zu: waited %lld ms", i, now_ms() - t0);
		}
		/* another label's free slot needs no waiting, busy threads or not */
		assert_int_equal(estd_ext_slot_get(x, "b", 1, 0), 0);
		estd_ext_slot_put(x, "b");
		/* the slot given back is free again; unknown labels are harmless */
		estd_ext_slot_put(x, "a");
		estd_ext_slot_put(x, "never-taken");
		assert_int_equal(estd_ext_slot_get(x, "a", cases[i].limit, 0), 0);
		assert_int_equal(estd_ext_slot_get(x, "a", 1, 0), -1);
		estd_ext_slot_put(x, "a");
		estd_ext_free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_certs_table),
		cmocka_unit_test(test_first_line_sanitized),
		cmocka_unit_test(test_verdict_table),
		cmocka_unit_test(test_env_is_clean_and_complete),
		cmocka_unit_test(test_exec_big_stdin_echoed_without_deadlock),
		cmocka_unit_test(test_exec_exit_codes_and_signal),
		cmocka_unit_test(test_exec_oversized_output_killed),
		cmocka_unit_test(test_exec_timeout_kills_the_group),
		cmocka_unit_test(test_exec_missing_program),
		cmocka_unit_test(test_slot_wait_keeps_a_job_thread_free),
	};

	signal(SIGPIPE, SIG_IGN); /* as estd does */
	return cmocka_run_group_tests(tests, setup, teardown);
}
