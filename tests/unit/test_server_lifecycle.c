/*
 * test_server_lifecycle.c - estkit_server instances of their own: a full job
 * queue answers 503 at once, graceful shutdown answers the request in flight,
 * a client gone before its job ends, the connection limit, [IPv6]:PORT
 * listening, and configuration errors.
 */
#include "test_server_fixture.h"

static int group_setup(void **state)
{
	return fixture_setup();
}

static int group_teardown(void **state)
{
	return fixture_teardown();
}

/* ---- tests with their own server ---------------------------------------------- */

struct bg {
	pthread_t t;
	struct req q;
	struct resp r;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;

	http(&b->q, &b->r);
	return NULL;
}

static void bg_start(struct bg *b, int p)
{
	memset(b, 0, sizeof(*b));
	b->q.path = "/.well-known/est/cacerts";
	b->q.port = p;
	assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
}

static void test_full_job_queue_answers_503_at_once(void **state)
{
	struct estkit_server *s = NULL;
	struct bg a, b;
	struct req q = { .path = "/.well-known/est/cacerts" };
	struct resp r;
	char v[32];

	be_set_mode(BE_BLOCK);
	s = server_start(1, 1, 1);
	q.port = estkit_server_port(s);
	bg_start(&a, q.port); /* occupies the only job thread */
	be_wait_blocked(1);
	bg_start(&b, q.port); /* fills the queue of one */
	usleep(300 * 1000);
	http(&q, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(header(&r, "Retry-After", v, sizeof(v)));
	assert_string_equal(v, "5");
	resp_free(&r);
	be_unblock();
	pthread_join(a.t, NULL);
	pthread_join(b.t, NULL);
	assert_int_equal(a.r.status, 200);
	assert_int_equal(b.r.status, 200);
	resp_free(&a.r);
	resp_free(&b.r);
	estkit_server_shutdown(s, 1);
	estkit_server_wait(s);
	estkit_server_free(s);
}

static void test_graceful_shutdown_answers_request_in_flight(void **state)
{
	struct estkit_server *s = NULL;
	struct bg a;
	struct req q = { .path = "/.well-known/est/cacerts" };
	struct resp r;

	be_set_mode(BE_BLOCK);
	s = server_start(2, 2, 4);
	q.port = estkit_server_port(s);
	bg_start(&a, q.port);
	be_wait_blocked(1);
	estkit_server_shutdown(s, 5);
	usleep(200 * 1000);
	/* listeners are closed: no new connections */
	http(&q, &r);
	assert_int_equal(r.cc, CURLE_COULDNT_CONNECT);
	resp_free(&r);
	be_unblock();
	estkit_server_wait(s);
	pthread_join(a.t, NULL);
	assert_int_equal(a.r.cc, CURLE_OK);
	assert_int_equal(a.r.status, 200);
	resp_free(&a.r);
	estkit_server_free(s);
}

static void test_client_gone_before_job_finishes(void **state)
{
	struct estkit_server *s = NULL;
	struct req q = { .path = "/.well-known/est/cacerts", .timeout_ms = 300 };
	struct resp r;

	be_set_mode(BE_BLOCK);
	s = server_start(1, 1, 4);
	q.port = estkit_server_port(s);
	http(&q, &r); /* gives up and closes while the backend still holds the job */
	assert_int_equal(r.cc, CURLE_OPERATION_TIMEDOUT);
	resp_free(&r);
	be_unblock();
	usleep(100 * 1000);
	be_set_mode(BE_ISSUE);
	q.timeout_ms = 0;
	http(&q, &r); /* the loop survived the orphaned reply */
	assert_int_equal(r.status, 200);
	resp_free(&r);
	estkit_server_shutdown(s, 1);
	estkit_server_wait(s);
	estkit_server_free(s);
}

static void test_connection_limit_pauses_accepting(void **state)
{
	struct estkit_server *s = server_start_at("127.0.0.1:0", 1, 1, 4, 1);
	struct req q = { .path = "/.well-known/est/cacerts", .timeout_ms = 500 };
	struct sockaddr_in sa;
	struct resp r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	q.port = estkit_server_port(s);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)q.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	usleep(100 * 1000); /* the server accepts it: the one allowed connection */
	http(&q, &r);       /* waits in the backlog */
	assert_int_equal(r.cc, CURLE_OPERATION_TIMEDOUT);
	resp_free(&r);
	close(fd);
	usleep(100 * 1000);
	q.timeout_ms = 0;
	http(&q, &r); /* the slot is free again */
	assert_int_equal(r.status, 200);
	resp_free(&r);
	estkit_server_free(s); /* also stops a running server */
}

static void test_ipv6_listen_syntax(void **state)
{
	struct estkit_server *s = NULL;
	struct req q = { .path = "/.well-known/est/cacerts", .host = "[::1]" };
	struct resp r;
	char want[64];
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		skip(); /* no IPv6 loopback here */
	}
	close(fd);
	s = server_start_at("[::1]:0", 1, 1, 4, 0);
	q.port = estkit_server_port(s);
	/* the server certificate names 127.0.0.1 only */
	http(&q, &r);
	assert_int_equal(r.cc, CURLE_PEER_FAILED_VERIFICATION);
	resp_free(&r);
	snprintf(want, sizeof(want), "listening on https://[::1]:%d\n", q.port);
	pthread_mutex_lock(&be_mu);
	assert_non_null(strstr(logbuf, want));
	pthread_mutex_unlock(&be_mu);
	estkit_server_shutdown(s, 0);
	estkit_server_wait(s);
	estkit_server_free(s);
}

static void test_server_new_reports_bad_config(void **state)
{
	struct estkit_server_config cfg;
	struct estkit_server *s = NULL;
	char *err = NULL;

	estkit_server_config_init(&cfg);
	cfg.cert_file = ca_pem; /* key does not match */
	cfg.key_file = srv_key;
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_null(s);
	assert_non_null(err);
	estkit_free(err);

	cfg.cert_file = srv_pem;
	cfg.listen = "127.0.0.1"; /* no port */
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_non_null(s);
	assert_int_not_equal(estkit_server_start(s), ESTKIT_OK);
	assert_non_null(strstr(estkit_server_errmsg(s), "listen"));
	estkit_server_free(s);
}

/* estkit_server_config.key: a key object instead of key_file (a token's key in estd). */
static void test_server_new_with_a_key_object(void **state)
{
	struct estkit_server_config cfg;
	struct estkit_server *s = NULL;
	EVP_PKEY *key = NULL, *other = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(estkit_key_load(srv_key, &key), ESTKIT_OK);
	estkit_server_config_init(&cfg);
	assert_null(cfg.key);
	cfg.cert_file = srv_pem;
	cfg.key = key;
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_non_null(s);
	assert_null(err);
	EVP_PKEY_free(key); /* the server holds its own reference (ASan: no use after free) */
	estkit_server_free(s);
	/* a key object that does not match the certificate */
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(other);
	cfg.key = other;
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_null(s);
	assert_non_null(err);
	assert_non_null(strstr(err, "(key object)"));
	estkit_free(err);
	err = NULL;
	EVP_PKEY_free(other);
	/* neither a key object nor a key file */
	cfg.key = NULL;
	cfg.key_file = NULL;
	s = estkit_server_new(&cfg, &test_backend, &err);
	assert_null(s);
	assert_non_null(err);
	estkit_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_full_job_queue_answers_503_at_once, reset_mode),
		cmocka_unit_test_setup(test_graceful_shutdown_answers_request_in_flight, reset_mode),
		cmocka_unit_test_setup(test_client_gone_before_job_finishes, reset_mode),
		cmocka_unit_test_setup(test_connection_limit_pauses_accepting, reset_mode),
		cmocka_unit_test_setup(test_ipv6_listen_syntax, reset_mode),
		cmocka_unit_test_setup(test_server_new_reports_bad_config, reset_mode),
		cmocka_unit_test_setup(test_server_new_with_a_key_object, reset_mode),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
