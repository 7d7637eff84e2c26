/*
 * test_server_srp.c - TLS-SRP on the server (lib/server/tls_srp.c, RFC 7030
 * 3.3.3, RFC 5054): the verifier file check (malformed lines of every kind),
 * loading errors, the simulated record of an unknown user, and an
 * in-process server driven by libcurl's TLS-SRP: a login, a wrong password
 * and an unknown user failing alike, failures counted until a lockout,
 * reload, and no SRP at all when the file is not configured.
 *
 * The two verifier lines were made once with
 *   openssl srp -srpvfile v.txt -add -gn 2048 -passout pass:alice-pw alice
 * (and bob / bob-pw); a salt is 20 bytes.
 */
#include "test_server_fixture.h"
#include "server/server_internal.h"

#define ALICE_LINE                                                                                 \
	"V\t1mKN9axha/6cWKkakOA0kI2FTaB0hjrgw9LbqfnzdDKIUC2KxBwHtwUaJbBBQp2meSvuT7La08fLGXYd8H1.L/" \
	"0duygFios1ZEa9KFP0KNEqo4nHK1Sd6CWtl6cUqsepPyrSz5vXihftbH5kmUcc4E4K7ssbXZEX/"              \
	"fUmg1JD5j9rtr5nfykeFmuwUn6c/GAiwFkkZb.SL/KBAR9UEN28GsczyVrGh0c0d.6S4.9SVHf.1ooPRTYIvDAHgR."  \
	"ZIEiK9hr9okbSvNg4CIZdatWjQ/Ats/5FmNDtIH5SY7TSENDXQzYgosbiCGWv0QwjccNJT61fZZYSmUEOSRGzGu2XWI" \
	"\tC2vdW9b5k8rW.VPACnJivumeIHO\talice\t2048\t\n"
#define BOB_LINE                                                                                   \
	"V\t0kF.1AkeFRzAbq1idqi372GoxYwFUP0qk5ccJ7s.lcLzeKp7/faDtOuaThYIqHeBoCigg4HIQYee9Yn9bP7X04BM" \
	"ZR56pKcUjXWEL3bxkRIYvBIPndEV.aWJZSAcxvodrFD/t0cWc6Qc3XhkL1z8fgNIanj2Qo1w6Vtg/"              \
	".suthnGh3VJwax7Pm35FgGlRaoJExWBu2w1eG2swQKz5SP675/cLZdDj/"                                  \
	"LOJ7JFLIEsyODuQxD03MbvWGnS5eByWEqOMw/81sBS3ORl8pQRfeBmYU3zSm1B50vchf2oq9UBmC5VqQhpu50kBKJul" \
	"XA6cD30zAiH7sPsgtmqNquFXyBWMM\t9UGp08bAdHkrSCHl.hIs1cbSely\tbob\t2048\t\n"

static char vfile[300];

static int group_setup(void **state)
{
	return fixture_setup();
}

static int group_teardown(void **state)
{
	return fixture_teardown();
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
}

/* ---- the file check ----------------------------------------------------------- */

static void test_verifier_file_check_table(void **state)
{
	static char longline[9000];
	static const struct {
		const char *name;
		const char *text;
		int rc, nusers;
		const char *msg; /* substring of the message when rc is -1 */
	} cases[] = {
		{"empty file", "", 0, 0, NULL},
		{"two users", ALICE_LINE BOB_LINE, 0, 2, NULL},
		{"last line without newline", "V\tabc\tdef\tu1\t3072\t", 0, 1, NULL},
		{"revoked user of an unknown group is skipped", "R\tabc\tdef\tu1\t999\t\n", 0, 0,
		 NULL},
		{"index line (custom group)", "I\tN0\tg0\tmygrp\t\t\n", -1, 0,
		 "line 1: custom groups (I lines) are not supported"},
		{"user of a custom group", "V\tabc\tdef\tu1\tmygrp\t\n", -1, 0,
		 "group 'mygrp' is unknown"},
		{"1536-bit group refused", "V\tabc\tdef\tu1\t1536\t\n", -1, 0,
		 "smaller than 2048 bits"},
		{"8192-bit group (openssl srp's default)", "V\tabc\tdef\tu1\t8192\t\n", 0, 1,
		 NULL},
		{"blank line", ALICE_LINE "\n", -1, 0, "line 2: 1 tab-separated fields, want 6"},
		{"five fields", "V\tabc\tdef\tu1\t3072\n", -1, 0, "line 1: 5 tab-separated"},
		{"seven fields", "V\tabc\tdef\tu1\t3072\t\tx\n", -1, 0, "line 1: 7 tab-separated"},
		{"spaces for tabs", "V abc def u1 3072 \n", -1, 0, "1 tab-separated"},
		{"unknown type", "X\tabc\tdef\tu1\t3072\t\n", -1, 0, "type is not V, R or v"},
		{"two-letter type", "VV\tabc\tdef\tu1\t3072\t\n", -1, 0, "type is not"},
		{"verifier not SRP base64", "V\tab+c\tdef\tu1\t3072\t\n", -1, 0,
		 "verifier or salt is not SRP base64"},
		{"empty salt", "V\tabc\t\tu1\t3072\t\n", -1, 0, "verifier or salt"},
		{"empty user", "V\tabc\tdef\t\t3072\t\n", -1, 0, "user name is empty"},
		{"user with a space", "V\tabc\tdef\tal ice\t3072\t\n", -1, 0, "not printable ASCII"},
		{"user with a control byte", "V\tabc\tdef\tal\x01ice\t3072\t\n", -1, 0,
		 "not printable"},
		{"unknown group", "V\tabc\tdef\tu1\t999\t\n", -1, 0, "group '999' is unknown"},
		{"1024-bit group refused", "V\tabc\tdef\tu1\t1024\t\n", -1, 0,
		 "smaller than 2048 bits"},
		{"error on the second line", ALICE_LINE "V\tabc\tdef\tu1\t77\t\n", -1, 0,
		 "line 2: user u1"},
		{"CRLF line ends", "V\tabc\tdef\tu1\t3072\t\r\n", 0, 1, NULL},
	};
	char msg[256];
	size_t i;
	int n, rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msg[0] = '\0';
		n = -1;
		rc = ek_srp_check_file((const unsigned char *)cases[i].text, strlen(cases[i].text),
				       &n, msg, sizeof(msg));
		if (rc != cases[i].rc || (rc == 0 && n != cases[i].nusers) ||
		    (cases[i].msg != NULL && strstr(msg, cases[i].msg) == NULL))
			fail_msg("%s: rc %d users %d msg '%s'", cases[i].name, rc, n, msg);
	}
	/* a NUL byte, and a line over the limit */
	rc = ek_srp_check_file((const unsigned char *)"V\tab\0c\tdef\tu\t3072\t\n", 19, &n, msg,
			       sizeof(msg));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(msg, "NUL"));
	memset(longline, 'a', sizeof(longline) - 1);
	rc = ek_srp_check_file((const unsigned char *)longline, sizeof(longline) - 1, &n, msg,
			       sizeof(msg));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(msg, "line 1: longer than"));
}

/* ---- loading and the simulated user ---------------------------------------------- */

static void test_load_reports_missing_and_malformed_files(void **state)
{
	struct SRP_VBASE_st *vb = NULL;
	char path[320], msg[400];
	int n = -1;

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.srpv", dir);
	assert_int_equal(ek_srp_load(path, "00112233445566778899aabbccddeeff", &vb, &n, msg,
				     sizeof(msg)),
			 ESTKIT_EIO);
	assert_null(vb);
	assert_non_null(strstr(msg, path));

	snprintf(path, sizeof(path), "%s/bad.srpv", dir);
	write_file(path, ALICE_LINE "V\tabc\tdef\n");
	assert_int_equal(ek_srp_load(path, "00112233445566778899aabbccddeeff", &vb, &n, msg,
				     sizeof(msg)),
			 ESTKIT_EINVAL);
	assert_null(vb);
	assert_non_null(strstr(msg, "line 2: 3 tab-separated fields"));

	write_file(path, ALICE_LINE BOB_LINE);
	assert_int_equal(ek_srp_load(path, "00112233445566778899aabbccddeeff", &vb, &n, msg,
				     sizeof(msg)),
			 ESTKIT_OK);
	assert_int_equal(n, 2);
	ek_srp_vbase_free(vb);
}

struct rec {
	unsigned char salt[64];
	size_t len;
	int bits;
};

static void lookup(struct SRP_VBASE_st *vb, const char *name, struct rec *r)
{
	r->len = sizeof(r->salt);
	assert_int_equal(ek_srp_vbase_lookup(vb, name, r->salt, &r->len, &r->bits), 0);
}

static int same(const struct rec *a, const struct rec *b)
{
	return a->len == b->len && memcmp(a->salt, b->salt, a->len) == 0;
}

/*
 * RFC 5054 2.5.1.3: an unknown user looks like a known one - a salt of the
 * same size, the same on every attempt, in the group of the file's users -
 * and the salt depends on the seed key, not on anything a client can learn.
 */
static void test_unknown_user_gets_a_stable_simulated_record(void **state)
{
	struct SRP_VBASE_st *vb1 = NULL, *vb2 = NULL, *empty = NULL;
	struct rec alice1, alice2, m1, m1again, m2, other, e;
	char path[320], epath[320], msg[400];
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/two.srpv", dir);
	write_file(path, ALICE_LINE BOB_LINE);
	assert_int_equal(ek_srp_load(path, "00112233445566778899aabbccddeeff", &vb1, &n, msg,
				     sizeof(msg)), ESTKIT_OK);
	assert_int_equal(ek_srp_load(path, "ffeeddccbbaa99887766554433221100", &vb2, &n, msg,
				     sizeof(msg)), ESTKIT_OK);
	lookup(vb1, "alice", &alice1);
	lookup(vb2, "alice", &alice2);
	assert_true(same(&alice1, &alice2)); /* a real record ignores the seed */
	assert_int_equal(alice1.bits, 2048);

	lookup(vb1, "mallory", &m1);
	lookup(vb1, "mallory", &m1again);
	lookup(vb2, "mallory", &m2);
	lookup(vb1, "trudy", &other);
	assert_true(same(&m1, &m1again));
	assert_false(same(&m1, &m2));
	assert_false(same(&m1, &other));
	assert_int_equal(m1.len, alice1.len);
	assert_int_equal(m1.bits, 2048); /* the file's group, not OpenSSL's default */

	/* no user at all: unknown names still get a record */
	snprintf(epath, sizeof(epath), "%s/empty.srpv", dir);
	write_file(epath, "");
	assert_int_equal(ek_srp_load(epath, "00112233445566778899aabbccddeeff", &empty, &n, msg,
				     sizeof(msg)), ESTKIT_OK);
	assert_int_equal(n, 0);
	lookup(empty, "alice", &e);
	assert_true(e.bits >= 2048);
	ek_srp_vbase_free(vb1);
	ek_srp_vbase_free(vb2);
	ek_srp_vbase_free(empty);
}

/* ---- an in-process server and libcurl's TLS-SRP ---------------------------------- */

static struct estkit_server *srp_server(const char *file, int fail_limit, char **err)
{
	static const unsigned char seed[32] = "0123456789abcdef0123456789abcde";
	struct estkit_server_config cfg;

	estkit_server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	cfg.io_threads = 1;
	cfg.job_threads = 1;
	cfg.srp_verifier_file = file;
	cfg.srp_seed = seed;
	cfg.srp_seed_len = sizeof(seed);
	cfg.auth_fail_limit = fail_limit;
	cfg.auth_fail_delay_ms = 0;
	return estkit_server_new(&cfg, &test_backend, err);
}

struct srp_try {
	CURLcode cc;
	long status;
	char err[CURL_ERROR_SIZE];
	char cipher[64];
};

/* One request over TLS 1.2 offering only the SRP suites (CSR body: /simpleenroll). */
/* A curl handle for url over TLS 1.2 with TLS-SRP only (ciphers), as user/pass. */
static CURL *srp_curl(const char *url, const char *ciphers, const char *user, const char *pass)
{
	CURL *c = curl_easy_init();

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION,
			 (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
	curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, ciphers);
	curl_easy_setopt(c, CURLOPT_TLSAUTH_TYPE, "SRP");
	curl_easy_setopt(c, CURLOPT_TLSAUTH_USERNAME, user);
	curl_easy_setopt(c, CURLOPT_TLSAUTH_PASSWORD, pass);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* no certificate in a pure SRP suite */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	return c;
}

static void srp_get(int port, const char *user, const char *pass, const char *body,
		    struct srp_try *t)
{
	CURL *c = NULL;
	struct curl_slist *h = NULL;
	struct resp r;
	char url[128];

	memset(t, 0, sizeof(*t));
	memset(&r, 0, sizeof(r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/.well-known/est/%s", port,
		 body != NULL ? "simpleenroll" : "cacerts");
	c = srp_curl(url, "SRP-AES-256-CBC-SHA:SRP-AES-128-CBC-SHA", user, pass);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	if (body != NULL) {
		h = curl_slist_append(h, "Content-Type: application/pkcs10");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	t->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(r.body);
}

static int log_has(const char *what)
{
	int yes;

	pthread_mutex_lock(&be_mu);
	yes = strstr(logbuf, what) != NULL;
	pthread_mutex_unlock(&be_mu);
	return yes;
}

/*
 * Two enrollments on two connections of one curl handle, which offers the
 * first session again: the second connection is a full SRP login too (SRP
 * sessions are made not resumable, and a resumed one would name nobody)
 * and is 200 as well. (Whether curl's offer would otherwise be taken is not
 * shown here: estd did not resume curl's TLS 1.2 sessions with or without
 * SRP when this was written.)
 */
static void srp_twice(int port, const char *csr)
{
	CURL *c = NULL;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/pkcs10");
	struct resp r;
	char url[128];
	long status = 0;
	int i;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/.well-known/est/simpleenroll", port);
	c = srp_curl(url, "SRP-AES-256-CBC-SHA", "alice", "alice-pw");
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L); /* a new connection each time */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, csr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		assert_int_equal(status, 200);
		free(r.body);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void test_srp_login_and_failures_alike(void **state)
{
	struct estkit_server *s = NULL;
	struct srp_try ok, wrong, unknown, locked;
	char *err = NULL, *csr = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	int port, i;

	(void)state;
	snprintf(vfile, sizeof(vfile), "%s/login.srpv", dir);
	write_file(vfile, ALICE_LINE);
	s = srp_server(vfile, 3, &err);
	if (s == NULL)
		fail_msg("server_new: %s", err != NULL ? err : "?");
	assert_int_equal(estkit_server_start(s), ESTKIT_OK);
	port = estkit_server_port(s);

	/* the SRP user is the request's authenticated identity */
	csr = csr_b64(k, "CN=alice", NULL);
	srp_get(port, "alice", "alice-pw", csr, &ok);
	assert_int_equal(ok.cc, CURLE_OK);
	assert_int_equal(ok.status, 200);
	assert_string_equal(be_identity, "srp:alice");
	srp_twice(port, csr);

	/* RFC 5054 2.5.1.3: a wrong password and an unknown user fail the same way */
	srp_get(port, "alice", "wrong", NULL, &wrong);
	srp_get(port, "mallory", "alice-pw", NULL, &unknown);
	assert_int_not_equal(wrong.cc, CURLE_OK);
	assert_int_equal(wrong.status, 0);
	assert_int_equal(unknown.cc, wrong.cc);
	assert_string_equal(unknown.err, wrong.err);
	assert_non_null(strstr(wrong.err, "bad record mac"));

	/* both counted: the third failure locks the address out, the right password too */
	srp_get(port, "alice", "wrong again", NULL, &wrong);
	/* the server counts after its alert went out: the client may be told first */
	for (i = 0; i < 200 && !log_has("(TLS-SRP)"); i++)
		usleep(10000);
	if (!log_has("(TLS-SRP)"))
		fail_msg("no lockout line in:\n%s", logbuf);
	srp_get(port, "alice", "alice-pw", NULL, &locked);
	assert_int_not_equal(locked.cc, CURLE_OK);
	assert_non_null(strstr(locked.err, "access denied"));
	estkit_server_free(s);
	free_b64(csr);
	EVP_PKEY_free(k);
}

static void test_reload_takes_new_users_and_keeps_old_on_error(void **state)
{
	struct estkit_server *s = NULL;
	struct srp_try t;
	char *err = NULL;
	int port;

	(void)state;
	snprintf(vfile, sizeof(vfile), "%s/reload.srpv", dir);
	write_file(vfile, ALICE_LINE);
	s = srp_server(vfile, 0, &err);
	assert_non_null(s);
	assert_int_equal(estkit_server_start(s), ESTKIT_OK);
	port = estkit_server_port(s);
	srp_get(port, "bob", "bob-pw", NULL, &t);
	assert_int_not_equal(t.cc, CURLE_OK);

	write_file(vfile, ALICE_LINE BOB_LINE);
	assert_int_equal(estkit_server_srp_reload(s), ESTKIT_OK);
	srp_get(port, "bob", "bob-pw", NULL, &t);
	assert_int_equal(t.cc, CURLE_OK);
	assert_int_equal(t.status, 200);

	/* a broken file: refused with the line, bob still logs in */
	write_file(vfile, BOB_LINE "garbage\n");
	assert_int_equal(estkit_server_srp_reload(s), ESTKIT_EINVAL);
	assert_non_null(strstr(estkit_server_errmsg(s), "line 2"));
	srp_get(port, "bob", "bob-pw", NULL, &t);
	assert_int_equal(t.cc, CURLE_OK);
	estkit_server_free(s);
}

static void test_srp_config_errors_and_no_srp_without_file(void **state)
{
	struct estkit_server_config cfg;
	struct estkit_server *s = NULL;
	struct srp_try t;
	char path[320], *err = NULL;

	(void)state;
	snprintf(path, sizeof(path), "%s/nothere.srpv", dir);
	assert_null(srp_server(path, 0, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	estkit_free(err);
	err = NULL;

	snprintf(path, sizeof(path), "%s/malformed.srpv", dir);
	write_file(path, "V\tabc\tdef\tu1\t1024\t\n");
	assert_null(srp_server(path, 0, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "line 1: user u1: group '1024'"));
	estkit_free(err);
	err = NULL;

	/* a seed key under 16 bytes */
	write_file(path, ALICE_LINE);
	estkit_server_config_init(&cfg);
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	cfg.srp_verifier_file = path;
	cfg.srp_seed = (const unsigned char *)"short";
	cfg.srp_seed_len = 5;
	assert_null(estkit_server_new(&cfg, &test_backend, &err));
	assert_non_null(strstr(err, "srp_seed"));
	estkit_free(err);
	err = NULL;

	/* no srp_verifier_file: no SRP suite, no reload */
	cfg.listen = "127.0.0.1:0";
	cfg.srp_verifier_file = NULL;
	cfg.srp_seed = NULL;
	cfg.srp_seed_len = 0;
	cfg.io_threads = cfg.job_threads = 1;
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_non_null(s);
	assert_int_equal(estkit_server_srp_reload(s), ESTKIT_EINVAL);
	assert_int_equal(estkit_server_start(s), ESTKIT_OK);
	srp_get(estkit_server_port(s), "alice", "alice-pw", NULL, &t);
	assert_int_equal(t.cc, CURLE_SSL_CONNECT_ERROR);
	assert_int_equal(t.status, 0);
	estkit_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_file_check_table),
		cmocka_unit_test(test_load_reports_missing_and_malformed_files),
		cmocka_unit_test(test_unknown_user_gets_a_stable_simulated_record),
		cmocka_unit_test_setup(test_srp_login_and_failures_alike, reset_mode),
		cmocka_unit_test_setup(test_reload_takes_new_users_and_keeps_old_on_error,
				       reset_mode),
		cmocka_unit_test_setup(test_srp_config_errors_and_no_srp_without_file, reset_mode),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
