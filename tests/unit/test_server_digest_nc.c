/*
 * test_server_digest_nc.c - HTTP Digest with the nonce-counts kept by the
 * backend (estkit_backend.digest_nc, what estd does with a PostgreSQL
 * store), through a real estkit_server and libcurl: the answer 1 lets the
 * request through, 0 (a replay) is 401 with a fresh challenge, -1 (the
 * store cannot tell) is 503 with Retry-After and not counted as a failed
 * login, and any other answer fails closed as 503. The count is asked only
 * after the password was proved, and never for a malformed header.
 */
#include "test_server_fixture.h"

#include <signal.h>
#include <time.h>

#define USER "digestuser"
#define PASS "digest-pw"
#define REALM "estkit-test"
#define ENROLL "/.well-known/est/simpleenroll"

static struct estkit_server *srv;
static int port;
static const unsigned char dsecret[32] = "digest secret for this test only";
static int nc_answer = 1, nc_calls;
static uint32_t nc_seen;
static int64_t nc_issued;
static int fail_limit; /* [auth] auth_fail_limit of the group's server; 0: off */

/* HA1 = H(user ":" realm ":" password) for USER only. */
static int nc_ha1(void *ctx, const char *label, const char *user, const char *algorithm,
		  unsigned char *ha1, size_t *ha1_len)
{
	char in[128];
	size_t len = 0;

	(void)ctx;
	(void)label;
	if (strcmp(user, USER) != 0)
		return 0;
	snprintf(in, sizeof(in), "%s:%s:%s", USER, REALM, PASS);
	if (EVP_Q_digest(NULL, strcmp(algorithm, "SHA-256") == 0 ? "SHA256" : "MD5", NULL, in,
			 strlen(in), ha1, &len) != 1 || len > *ha1_len)
		return 0;
	*ha1_len = len;
	return 1;
}

static int nc_check(void *ctx, const unsigned char key[16], int64_t issued, uint32_t nc)
{
	int answer;

	(void)ctx;
	(void)key;
	pthread_mutex_lock(&be_mu);
	nc_calls++;
	nc_seen = nc;
	nc_issued = issued;
	answer = nc_answer;
	pthread_mutex_unlock(&be_mu);
	return answer;
}

static int group_setup(void **state)
{
	struct estkit_server_config cfg;
	struct estkit_backend be = test_backend;
	char *err = NULL;

	(void)state;
	fixture_setup();
	be.digest_ha1 = nc_ha1;
	be.digest_nc = nc_check;
	estkit_server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	cfg.client_ca_file = ca_pem;
	cfg.io_threads = 1;
	cfg.job_threads = 2;
	cfg.realm = REALM;
	cfg.digest_secret = dsecret;
	cfg.digest_secret_len = sizeof(dsecret);
	cfg.auth_fail_limit = fail_limit;
	cfg.auth_fail_delay_ms = 0;
	srv = estkit_server_new(&cfg, &be, &err);
	if (srv == NULL)
		fail_msg("server_new: %s", err != NULL ? err : "?");
	assert_int_equal(estkit_server_start(srv), ESTKIT_OK);
	port = estkit_server_port(srv);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	estkit_server_shutdown(srv, 1);
	estkit_server_wait(srv);
	estkit_server_free(srv);
	return fixture_teardown();
}

static void set_answer(int answer)
{
	pthread_mutex_lock(&be_mu);
	nc_answer = answer;
	nc_calls = 0;
	nc_seen = 0;
	nc_issued = 0;
	loglen = 0;
	logbuf[0] = '\0';
	pthread_mutex_unlock(&be_mu);
}

/*
 * POST a fresh CSR to simpleenroll: with libcurl's Digest (userpwd; it
 * answers the 401 challenge itself), or with a fixed Authorization header.
 */
static void post(const char *userpwd, const char *authz, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[128], line[1024];
	char *body = csr_b64(NULL, "CN=digest-nc", NULL);

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, ENROLL);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_pem);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	h = curl_slist_append(h, "Content-Type: application/pkcs10");
	if (authz != NULL) {
		snprintf(line, sizeof(line), "Authorization: %s", authz);
		h = curl_slist_append(h, line);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free_b64(body);
}

static int logged(const char *text)
{
	int found;

	pthread_mutex_lock(&be_mu);
	found = strstr(logbuf, text) != NULL;
	pthread_mutex_unlock(&be_mu);
	return found;
}

/* The headers of the last response of r (libcurl keeps those of the 401 before it too). */
static const char *last_response(struct resp *r)
{
	const char *p = r->hdrs, *q = NULL;

	while ((q = strstr(p + 1, "HTTP/")) != NULL)
		p = q;
	return p;
}

static void test_backend_nonce_count_answers_map_to_statuses(void **state)
{
	static const struct {
		int answer;
		long status;
		const char *log;
	} t[] = {
		{1, 200, NULL},
		{0, 401, "nonce count replayed"},
		{-1, 503, "nonce-count store unavailable"},
		{2, 503, "nonce-count store unavailable"},   /* not in the contract: fail closed */
		{-7, 503, "nonce-count store unavailable"},
		{1, 200, NULL},                              /* and back */
	};
	struct resp r;
	char www[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *last;

		set_answer(t[i].answer);
		post(USER ":" PASS, NULL, &r);
		assert_int_equal(r.cc, CURLE_OK);
		if (r.status != t[i].status)
			fail_msg("case %zu: answer %d gave %ld, want %ld\n%s", i, t[i].answer,
				 r.status, t[i].status, r.hdrs);
		pthread_mutex_lock(&be_mu);
		assert_int_equal(nc_calls, 1);
		assert_int_equal(nc_seen, 1); /* libcurl's first count on a new nonce */
		assert_true(nc_issued > (int64_t)time(NULL) - 60 && nc_issued <= (int64_t)time(NULL));
		pthread_mutex_unlock(&be_mu);
		last = last_response(&r);
		if (t[i].status == 503) {
			/* a store failure is not a failed login: no challenge, retry later */
			assert_non_null(strstr(last, "Retry-After:"));
			assert_null(strstr(last, "WWW-Authenticate:"));
		}
		if (t[i].status == 401)
			assert_non_null(header(&r, "WWW-Authenticate", www, sizeof(www)));
		if (t[i].log != NULL && !logged(t[i].log))
			fail_msg("case %zu: no '%s' in the log:\n%s", i, t[i].log, logbuf);
		resp_free(&r);
	}
}

/*
 * Repeated store failures are not failed logins: with auth_fail_limit 3,
 * six 503s in a row are not followed by a lockout (429).
 */
static void test_unavailable_store_does_not_lock_the_peer_out(void **state)
{
	struct resp r;
	int i;

	(void)state;
	set_answer(-1);
	for (i = 0; i < 6; i++) {
		post(USER ":" PASS, NULL, &r);
		assert_int_equal(r.status, 503);
		resp_free(&r);
	}
	set_answer(1);
	post(USER ":" PASS, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* The count is asked for only once the response proved the password. */
static void test_no_count_without_a_proved_password(void **state)
{
	static const struct {
		const char *userpwd, *authz;
		const char *log;
	} t[] = {
		{USER ":wrong", NULL, "wrong user or password"},
		{"nobody:" PASS, NULL, "wrong user or password"},
		{NULL, "Digest username=\"" USER "\"", "digest: refused"},
		{NULL, "Digest username=\"" USER "\", realm=\"" REALM "\", nonce=\"AAAA\", uri=\""
		 ENROLL "\", response=\"00\", qop=auth, nc=00000001, cnonce=\"x\"", "digest: refused"},
		{NULL, "Digest username=\"" USER "\", realm=\"" REALM "\", nonce=\"AAAA\", uri=\""
		 ENROLL "\", response=\"00\", qop=auth, nc=zz, cnonce=\"x\"", "digest: refused"},
		{NULL, "Digest username=\"" USER "\", nc=00000001, nc=00000002", "digest: refused"},
	};
	struct resp r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		set_answer(1);
		post(t[i].userpwd, t[i].authz, &r);
		if (r.status != 401)
			fail_msg("case %zu: %ld\n%s", i, r.status, r.hdrs);
		pthread_mutex_lock(&be_mu);
		assert_int_equal(nc_calls, 0);
		pthread_mutex_unlock(&be_mu);
		if (!logged(t[i].log))
			fail_msg("case %zu: no '%s' in the log:\n%s", i, t[i].log, logbuf);
		resp_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest off[] = {
		cmocka_unit_test(test_backend_nonce_count_answers_map_to_statuses),
		cmocka_unit_test(test_no_count_without_a_proved_password),
	};
	const struct CMUnitTest limited[] = {
		cmocka_unit_test(test_unavailable_store_does_not_lock_the_peer_out),
	};
	int failed;

	signal(SIGPIPE, SIG_IGN);
	fail_limit = 0; /* these send wrong passwords on purpose */
	failed = cmocka_run_group_tests_name("lockout off", off, group_setup, group_teardown);
	fail_limit = 3;
	failed += cmocka_run_group_tests_name("lockout after 3", limited, group_setup,
					      group_teardown);
	return failed;
}
