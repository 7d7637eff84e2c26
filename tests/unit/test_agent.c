/*
 * test_agent.c - the pure parts of `est agent` (src/est/agent_*.c, compiled
 * in here because `est` is not a library): configuration parsing, the
 * renewal schedule, the backoff, the post_renew_command splitting, the state
 * file, and the generation switch of agent_store.c.
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

#include "common.c"
#include "request.c"
#include "agent_conf.c"
#include "agent_sched.c"
#include "agent_hook.c"
#include "agent_state.c"
#include "agent_store.c"

void agent_log(const char *name, const char *fmt, ...)
{
	(void)name;
	(void)fmt;
}

#define HEAD "[agent]\nstate_dir = /var/lib/x\n"
#define CERT                                                                                   \
	"[cert web]\nserver = https://ca.example/routers\ntrust = /etc/est/ca.pem\n"           \
	"cert = /etc/nginx/web.crt\nkey = /etc/nginx/web.key\n"

static void test_conf_good(void **state)
{
	struct agent_conf c;
	char err[512];
	const char *text = HEAD "retry_min = 30s\nretry_max = 2h\ncacerts_interval = 0\n" CERT
	                        "user = u\npassword_file = /p\nsan = DNS:a, DNS:b\nsan = IP:192.0.2.1\n"
	                        "renew_before = 7d\nregenerate_key = no\nkey_mode = 0640\n"
	                        "post_renew_command = /bin/systemctl reload nginx\n"
	                        "[cert vpn]\nserver = https://ca\ntrust = /t\ncert = /c\nkey = /k\n"
	                        "bootstrap_cert = /idevid.pem\nbootstrap_key = /idevid.key\n"
	                        "[cert srp]\nserver = https://ca\ntrust = /t\ncert = /c2\nkey = /k2\n"
	                        "srp_user = dev-7\nsrp_password_file = /srp.pw\n"
	                        "reenroll_with = enroll\n";

	(void)state;
	assert_int_equal(agent_conf_parse(text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.ncerts, 3);
	assert_string_equal(c.certs[2].srp_user, "dev-7");
	assert_string_equal(c.certs[2].srp_password_file, "/srp.pw");
	assert_int_equal(c.certs[2].reenroll_with_enroll, 1);
	assert_int_equal(c.retry_min, 30);
	assert_int_equal(c.retry_max, 7200);
	assert_int_equal(c.cacerts_interval, 0);
	assert_string_equal(c.certs[0].store, "/var/lib/x/web");
	assert_int_equal(c.certs[0].nsans, 3);
	assert_string_equal(c.certs[0].sans[1], "DNS:b");
	assert_int_equal(c.certs[0].renew_before, 7 * 86400);
	assert_int_equal(c.certs[0].renew_pct, 0);
	assert_int_equal(c.certs[0].regenerate_key, 0);
	assert_int_equal(c.certs[0].key_mode, 0640);
	assert_int_equal(c.certs[1].renew_pct, 66); /* the default */
	assert_int_equal(c.certs[1].regenerate_key, 1);
	assert_int_equal(c.certs[1].enroll_if_missing, 1);
	agent_conf_free(&c);
}

static void test_conf_malformed_table(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* in the error */
	} cases[] = {
	    {"", "no [cert"},
	    {HEAD, "no [cert"},
	    {"[agents]\nx = 1\n", "unknown section"},
	    {"[cert]\nserver = a\n", "unknown section"},
	    {"[cert .x]\nserver = a\n", "a name is"},
	    {"[cert a/b]\nserver = a\n", "a name is"},
	    {"[agent]\nbogus = 1\n", "unknown key"},
	    {"[agent]\nstate_dir = relative\n", "absolute"},
	    {"[agent]\nretry_min = -5\n", "duration"},
	    {"[agent]\nretry_min = 5x\n", "duration"},
	    {"[agent]\nretry_min = 99999999999d\n", "duration"},
	    {"[agent]\nretry_min = 10m\nretry_max = 1m\n" CERT, "retry_min is above"},
	    {CERT "bogus = 1\n", "unknown key"},
	    {CERT "server = https://other\n", "twice"},
	    {CERT "subject =\n", "empty"},
	    {CERT "renew_at = 5%\n", "percentage"},
	    {CERT "renew_at = 96\n", "percentage"},
	    {CERT "renew_at = %\n", "percentage"},
	    {CERT "renew_at = 50%\nrenew_before = 1d\n", "exclude"},
	    {CERT "renew_before = 0\n", "duration"},
	    {CERT "regenerate_key = maybe\n", "yes or no"},
	    {CERT "key_mode = 640\n", "octal"},
	    {CERT "key_mode = 01777\n", "octal"},
	    {CERT "key_mode = 0644\n", "other users"},
	    {CERT "key_mode = 0602\n", "other users"},
	    {CERT "owner = no-such-user-here\n", "no such user"},
	    {CERT "san = nocolon\n", "TYPE:value"},
	    {CERT "san = DNS:a,,DNS:b\n", "empty entry"},
	    {CERT "reenroll_with = magic\n", "cert or enroll"},
	    {CERT "password_file = /p\n", "need user"},
	    {CERT "user = u\n", "password_file or otp_file"},
	    {CERT "user = u\npassword_file = /p\notp_file = /o\n", "exclude"},
	    {CERT "bootstrap_cert = /b\n", "go together"},
	    {CERT "user = u\npassword_file = /p\nauth = ntlm\n", "basic, digest or any"},
	    {CERT "reenroll_with = enroll\n", "enrollment credentials"},
	    {CERT "srp_user = u\n", "srp_user and srp_password_file go together"},
	    {CERT "srp_password_file = /p\n", "srp_user and srp_password_file go together"},
	    {CERT "srp_user = u\nsrp_password_file = /p\nuser = v\npassword_file = /q\n",
	     "srp_user excludes"},
	    {CERT "srp_user = u\nsrp_password_file = /p\nbootstrap_cert = /b\n"
	          "bootstrap_key = /k\n", "srp_user excludes"},
	    {CERT "srp_user =\nsrp_password_file = /p\n", "empty"},
	    {CERT "srp_user = u\nsrp_password_file = /p\nsrp_user = v\n", "twice"},
	    {CERT "post_renew_command = systemctl reload nginx\n", "absolute program"},
	    {CERT "post_renew_command = /bin/sh -c 'unterminated\n", "quotes closed"},
	    {"[cert web]\nserver = https://x\n", "required"},
	    {CERT "[cert x]\nserver = a\n[cert web]\nuser = u\n", "twice"},
	    {"key = outside\n", "outside a section"},
	    {"[cert a]\nno equals sign\n", "line 2"},
	};
	struct agent_conf c;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = agent_conf_parse(cases[i].text, &c, err, sizeof(err));

		if (r == 0 || strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu (%s): r=%d err=\"%s\"", i, cases[i].want, r, err);
	}
}

static void test_conf_oversized(void **state)
{
	struct agent_conf c;
	char err[512];
	char *text = malloc(200000);
	size_t n = 0, i;

	(void)state;
	assert_non_null(text);
	/* too many sections */
	for (i = 0; i <= AGENT_MAX_CERTS; i++)
		n += (size_t)snprintf(text + n, 200000 - n, "[cert c%zu]\nserver = https://x\n", i);
	assert_int_not_equal(agent_conf_parse(text, &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "at most"));
	/* too many SANs */
	n = (size_t)snprintf(text, 200000, "%s", CERT);
	for (i = 0; i <= AGENT_MAX_SANS; i++)
		n += (size_t)snprintf(text + n, 200000 - n, "san = DNS:h%zu\n", i);
	assert_int_not_equal(agent_conf_parse(text, &c, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "at most"));
	free(text);
}

static void test_duration_table(void **state)
{
	static const struct {
		const char *s;
		int rc;
		long v;
	} cases[] = {
	    {"30", 0, 30}, {"30s", 0, 30}, {"15m", 0, 900}, {"12h", 0, 43200}, {"7d", 0, 604800},
	    {"3650d", 0, 3650L * 86400}, {"3651d", -1, 0}, {"0", -1, 0}, {"-1", -1, 0},
	    {"", -1, 0}, {"d", -1, 0}, {"7dd", -1, 0}, {"7w", -1, 0}, {" 7", -1, 0},
	    {"99999999999999999999", -1, 0},
	};
	size_t i;
	long v = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 0;
		assert_int_equal(agent_parse_duration(cases[i].s, &v), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(v, cases[i].v);
	}
}

static void test_renew_time_table(void **state)
{
	static const struct {
		long long nb, na;
		int pct;
		long before;
		double jitter;
		long long want;
	} cases[] = {
	    {0, 1000, 66, 0, 0, 660},
	    {0, 1000, 50, 0, 0, 500},
	    {0, 1000, 10, 0, 0, 100},
	    {0, 1000, 95, 0, 0, 950},
	    {0, 1000, 0, 0, 0, 660},            /* default 66% */
	    {0, 1000, 0, 100, 0, 900},          /* renew_before */
	    {0, 1000, 0, 5000, 0, 100},         /* longer than the life: 10% floor */
	    {0, 1000, 50, 0, 0.5, 475},         /* jitter: up to 5% earlier */
	    {0, 1000, 50, 0, 0.999, 451},
	    {0, 1000, 10, 0, 0.9, 100},         /* never below 10% */
	    {0, 1000, 50, 0, 1.5, 500},         /* out-of-range jitter ignored */
	    {0, 1000, 50, 0, -1, 500},
	    {0, 10000000, 50, 0, 0.5, 5000000 - 1800}, /* spread capped at an hour */
	    {1000, 1000, 50, 0, 0, 1000},       /* empty validity: now */
	    {2000, 1000, 50, 0, 0, 2000},       /* inverted validity */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		time_t t = agent_renew_time((time_t)cases[i].nb, (time_t)cases[i].na, cases[i].pct,
		                            cases[i].before, cases[i].jitter);
		if ((long long)t != cases[i].want)
			fail_msg("case %zu: %lld, want %lld", i, (long long)t, cases[i].want);
	}
}

static void test_jitter(void **state)
{
	static const unsigned char zero[4] = {0, 0, 0, 0};
	static const unsigned char max[4] = {0xff, 0xff, 0xff, 0xff};
	static const unsigned char half[4] = {0x80, 0, 0, 0};

	(void)state;
	assert_true(agent_jitter(zero, 4) == 0.0);
	assert_true(agent_jitter(max, 4) < 1.0 && agent_jitter(max, 4) > 0.99);
	assert_true(agent_jitter(half, 4) == 0.5);
	assert_true(agent_jitter(max, 0) == 0.0); /* truncated input */
	assert_true(agent_jitter(max, 1) < 1.0);
}

static void test_backoff_table(void **state)
{
	static const struct {
		unsigned failures;
		long min, max;
		double rnd;
		long want;
	} cases[] = {
	    {1, 60, 3600, 0.999999, 59},  {1, 60, 3600, 0, 30},   {2, 60, 3600, 0, 60},
	    {3, 60, 3600, 0, 120},        {7, 60, 3600, 0, 1800}, {8, 60, 3600, 0, 1800},
	    {100, 60, 3600, 0.999999, 3599}, {4000000000u, 60, 3600, 0, 1800},
	    {1, 1, 4, 0, 1},              {5, 1, 4, 0, 2},        {1, 0, 0, 0, 1},
	    {1, 60, 10, 0, 30},           {3, 60, 3600, 2.0, 120}, {3, 60, 3600, -1, 120},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long d = agent_backoff(cases[i].failures, cases[i].min, cases[i].max, cases[i].rnd);
		if (d != cases[i].want)
			fail_msg("case %zu: %ld, want %ld", i, d, cases[i].want);
	}
}

static void test_hook_split_table(void **state)
{
	static const struct {
		const char *cmd;
		int argc;
		const char *a0, *a1, *alast;
	} cases[] = {
	    {"/bin/systemctl reload nginx", 3, "/bin/systemctl", "reload", "nginx"},
	    {"  /bin/true  ", 1, "/bin/true", NULL, "/bin/true"},
	    {"/bin/sh -c 'a && b; echo \"x\"'", 3, "/bin/sh", "-c", "a && b; echo \"x\""},
	    {"/bin/echo \"two words\" three", 3, "/bin/echo", "two words", "three"},
	    {"/bin/echo a\\ b", 2, "/bin/echo", "a b", "a b"},
	    {"/bin/echo ''", 2, "/bin/echo", "", ""},
	    {"systemctl reload", -1, NULL, NULL, NULL},
	    {"", -1, NULL, NULL, NULL},
	    {"   ", -1, NULL, NULL, NULL},
	    {"/bin/sh -c 'open", -1, NULL, NULL, NULL},
	    {"/bin/sh -c \"open", -1, NULL, NULL, NULL},
	};
	char buf[256];
	char *argv[AGENT_HOOK_ARGS + 1];
	char many[512];
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = agent_hook_split(cases[i].cmd, buf, sizeof(buf), argv);

		if (r != cases[i].argc)
			fail_msg("case %zu: argc %d, want %d", i, r, cases[i].argc);
		if (r <= 0)
			continue;
		assert_string_equal(argv[0], cases[i].a0);
		if (cases[i].a1 != NULL)
			assert_string_equal(argv[1], cases[i].a1);
		assert_string_equal(argv[r - 1], cases[i].alast);
		assert_null(argv[r]);
	}
	/* too many words, and no room */
	n = (size_t)snprintf(many, sizeof(many), "/bin/echo");
	for (i = 0; i < AGENT_HOOK_ARGS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, " w");
	assert_int_equal(agent_hook_split(many, buf, sizeof(buf), argv), -1);
	assert_int_equal(agent_hook_split("/bin/echo hello", buf, 8, argv), -1);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/test_agent.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f = NULL;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_state_roundtrip_and_malformed(void **state)
{
	static const char *const bad[] = {
	    "failures=abc\n", "last_attempt=-5\n", "last_attempt=12x\n", "no equals\n",
	    "failures=1", /* no final newline (truncated) */
	    "failures=99999999999\n",
	};
	struct agent_state st, back;
	char *d = tmpdir();
	size_t i;

	(void)state;
	assert_int_equal(agent_state_read(d, &back), 0); /* missing: empty */
	assert_int_equal(back.failures, 0);
	memset(&st, 0, sizeof(st));
	st.last_attempt = 1700000000;
	st.next_attempt = 1700000100;
	st.last_trust = 1700000050;
	st.failures = 3;
	st.pending = 1;
	snprintf(st.last_error, sizeof(st.last_error), "bad\nnews");
	assert_int_equal(agent_state_write(d, &st), 0);
	assert_int_equal(agent_state_read(d, &back), 0);
	assert_int_equal(back.last_attempt, 1700000000);
	assert_int_equal(back.next_attempt, 1700000100);
	assert_int_equal(back.last_trust, 1700000050);
	assert_int_equal(back.failures, 3);
	assert_int_equal(back.pending, 1);
	assert_string_equal(back.last_error, "bad news"); /* no line break survives */
	write_text(d, "state", "future_key=1\nfailures=2\n");
	assert_int_equal(agent_state_read(d, &back), 0);
	assert_int_equal(back.failures, 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(d, "state", bad[i]);
		if (agent_state_read(d, &back) != -1)
			fail_msg("malformed state %zu accepted", i);
	}
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
		assert_int_equal(system(cmd), 0);
	}
	free(d);
}

/* A self-signed certificate for key (enough for the store: it only pairs them). */
static void test_pending_delay_table(void **state)
{
	static const struct {
		long retry_after, min, max, want;
	} cases[] = {
	    {2, 60, 3600, 2},        /* the server's wish, even below retry_min */
	    {0, 60, 3600, 60},       /* none given: retry_min */
	    {-5, 60, 3600, 60},      /* unparsable (reported as <= 0): retry_min */
	    {86400, 60, 3600, 3600}, /* far away: at most retry_max */
	    {3600, 60, 3600, 3600},  {0, 0, 0, 1}, {1, 1, 1, 1}, {2147483647L, 1, 4, 4},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long d = agent_pending_delay(cases[i].retry_after, cases[i].min, cases[i].max);
		if (d != cases[i].want)
			fail_msg("case %zu: %ld, want %ld", i, d, cases[i].want);
	}
}

static X509 *self_signed(EVP_PKEY *key, long serial);

/* The pending request: saved key 0600, loaded back as saved; a key that does
 * not match the request, or a damaged file, is no pending request. */
static void test_pending_save_load(void **state)
{
	char *d = tmpdir();
	char p[PATH_MAX];
	struct agent_cert ac;
	EVP_PKEY *k = NULL, *k2 = NULL, *lk = NULL;
	X509_REQ *csr = NULL, *lcsr = NULL;
	X509 *cur = NULL;
	struct stat st;

	(void)state;
	memset(&ac, 0, sizeof(ac));
	ac.name = (char *)"web";
	ac.store = d;
	assert_int_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_ENOTFOUND);
	assert_int_equal(estkit_key_generate("ec:P-256", &k), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &k2), ESTKIT_OK);
	cur = self_signed(k2, 7);
	assert_int_equal(estkit_client_reenroll_csr(cur, k, &csr), ESTKIT_OK);
	umask(0);
	assert_int_equal(agent_pending_save(&ac, csr, k), 0);
	umask(022);
	snprintf(p, sizeof(p), "%s/pending.key", d);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(lk, k), 1);
	assert_int_equal(X509_REQ_get0_pubkey(lcsr) != NULL, 1);
	assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(lcsr), k), 1);
	X509_REQ_free(lcsr);
	EVP_PKEY_free(lk);
	/* a key that is not the request's */
	assert_int_equal(estkit_key_save(p, k2), ESTKIT_OK);
	assert_int_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_EPARSE);
	assert_null(lcsr);
	assert_null(lk);
	/* damaged files */
	write_text(d, "pending.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
	assert_int_not_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_OK);
	assert_int_equal(agent_pending_save(&ac, csr, k), 0);
	write_text(d, "pending.csr", "not a request\n");
	assert_int_not_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_OK);
	assert_null(lcsr);
	/* a saved key that is the current certificate's: stale only with regenerate_key */
	assert_int_equal(agent_pending_stale(cur, k2, 1), 1);
	assert_int_equal(agent_pending_stale(cur, k2, 0), 0);
	assert_int_equal(agent_pending_stale(cur, k, 1), 0);
	assert_int_equal(agent_pending_stale(NULL, k, 1), 0);
	assert_int_equal(agent_pending_stale(cur, NULL, 1), 0);
	/* only the key (a crash between the two writes): nothing pending */
	agent_pending_drop(&ac);
	assert_int_equal(estkit_key_save(p, k), ESTKIT_OK);
	assert_int_equal(agent_pending_load(&ac, &lcsr, &lk), ESTKIT_ENOTFOUND);
	agent_pending_drop(&ac);
	assert_int_not_equal(stat(p, &st), 0);
	X509_REQ_free(csr);
	X509_free(cur);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	snprintf(p, sizeof(p), "rm -rf '%s'", d);
	assert_int_equal(system(p), 0);
	free(d);
}

static X509 *self_signed(EVP_PKEY *key, long serial)
{
	X509 *x = X509_new();

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static void pair_is(const struct agent_cert *ac, long serial)
{
	X509 *c = NULL;
	EVP_PKEY *k = NULL;

	assert_int_equal(estkit_cert_load(ac->cert_path, &c), ESTKIT_OK);
	assert_int_equal(estkit_key_load(ac->key_path, &k), ESTKIT_OK);
	assert_int_equal(X509_check_private_key(c, k), 1);
	assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(c)), serial);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void test_store_install_switch_and_repair(void **state)
{
	char *d = tmpdir();
	char store[512], cert[512], key[512], trust[512], p[PATH_MAX];
	struct agent_cert ac;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	X509 *c1 = NULL, *c2 = NULL;
	struct stat st;

	(void)state;
	snprintf(store, sizeof(store), "%s/state/web", d);
	snprintf(cert, sizeof(cert), "%s/out/cert.pem", d);
	snprintf(key, sizeof(key), "%s/out/key.pem", d);
	snprintf(trust, sizeof(trust), "%s/none.pem", d);
	memset(&ac, 0, sizeof(ac));
	ac.name = (char *)"web";
	ac.store = store;
	ac.cert_path = cert;
	ac.key_path = key;
	ac.trust = trust;
	ac.owner = ac.group = -1;
	ac.key_mode = 0600;
	ac.cert_mode = 0644;
	assert_int_equal(estkit_key_generate("ec:P-256", &k1), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &k2), ESTKIT_OK);
	c1 = self_signed(k1, 1);
	c2 = self_signed(k2, 2);
	/* import: regular files the user already had */
	assert_int_equal(mkparent(cert), 0);
	assert_int_equal(estkit_cert_save(cert, c1), ESTKIT_OK);
	assert_int_equal(estkit_key_save(key, k1), ESTKIT_OK);
	assert_int_equal(agent_store_prepare(&ac), 0);
	assert_int_equal(lstat(cert, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	pair_is(&ac, 1);
	/* a new pair: the switch, and .prev */
	assert_int_equal(agent_store_install(&ac, c2, NULL, k2), 0);
	pair_is(&ac, 2);
	snprintf(p, sizeof(p), "%s.prev", cert);
	assert_int_equal(lstat(p, &st), 0);
	/* a crash before the commit leaves a stray generation and a temporary link */
	snprintf(p, sizeof(p), "%s/g-dead", store);
	assert_int_equal(mkdir(p, 0755), 0);
	write_text(p, "key.pem", "half");
	snprintf(p, sizeof(p), "%s/current.tmp-agent", store);
	assert_int_equal(symlink("g-dead", p), 0);
	assert_int_equal(agent_store_prepare(&ac), 0);
	snprintf(p, sizeof(p), "%s/g-dead", store);
	assert_int_not_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/current.tmp-agent", store);
	assert_int_not_equal(lstat(p, &st), 0);
	pair_is(&ac, 2);
	/* an output link removed by hand comes back */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(agent_store_prepare(&ac), 0);
	pair_is(&ac, 2);
	/* the lock excludes a second holder */
	{
		int fd = agent_store_lock(&ac);

		assert_true(fd >= 0);
		assert_int_equal(agent_store_lock(&ac), -1);
		close(fd);
	}
	X509_free(c1);
	X509_free(c2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	snprintf(p, sizeof(p), "rm -rf '%s'", d);
	assert_int_equal(system(p), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_good),
	    cmocka_unit_test(test_conf_malformed_table),
	    cmocka_unit_test(test_conf_oversized),
	    cmocka_unit_test(test_duration_table),
	    cmocka_unit_test(test_renew_time_table),
	    cmocka_unit_test(test_jitter),
	    cmocka_unit_test(test_backoff_table),
	    cmocka_unit_test(test_hook_split_table),
	    cmocka_unit_test(test_pending_delay_table),
	    cmocka_unit_test(test_pending_save_load),
	    cmocka_unit_test(test_state_roundtrip_and_malformed),
	    cmocka_unit_test(test_store_install_switch_and_repair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
