/*
 * test_server_http.c - a real estkit_server on 127.0.0.1:0 with a test backend
 * and a throw-away CA, driven over HTTPS with libcurl: routing, the error
 * statuses of the pipeline, Basic and certificate authentication,
 * re-enrollment rules (RFC 7030 4.2.2), 202 with Retry-After, backend
 * refusals, the TLS version floor and the access log.
 */
#include "test_server_fixture.h"

/* ---- tests on the shared server ------------------------------------------------- */

static struct estkit_server *srv;
static int port;

static int group_setup(void **state)
{
	fixture_setup();
	srv = server_start(2, 2, 16);
	port = estkit_server_port(srv);
	return 0;
}

static int group_teardown(void **state)
{
	estkit_server_shutdown(srv, 1);
	estkit_server_wait(srv);
	estkit_server_free(srv);
	return fixture_teardown();
}

/* Decodes a certs-only body and returns its certificates. */
static STACK_OF(X509) *decode_certs(struct resp *r)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	STACK_OF(X509) *certs = NULL;
	char v[128];

	assert_non_null(header(r, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/pkcs7-mime; smime-type=certs-only");
	assert_non_null(header(r, "Content-Transfer-Encoding", v, sizeof(v)));
	assert_string_equal(v, "base64");
	assert_int_equal(estkit_b64_decode(r->body, r->blen, &der, &derlen), ESTKIT_OK);
	assert_int_equal(estkit_pkcs7_certs_decode(der, derlen, &certs), ESTKIT_OK);
	estkit_free(der);
	return certs;
}

static void test_cacerts_returns_ca_as_certs_only(void **state)
{
	struct req q = { .path = "/.well-known/est/cacerts", .port = port };
	struct resp r;
	STACK_OF(X509) *certs = NULL;

	http(&q, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
	certs = decode_certs(&r);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), ca_cert), 0);
	OSSL_STACK_OF_X509_free(certs);
	resp_free(&r);
}

static void test_cacerts_head_has_headers_but_no_body(void **state)
{
	struct req q = { .method = "HEAD", .path = "/.well-known/est/routers/cacerts",
			 .port = port };
	struct resp r;
	char v[128];

	http(&q, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.blen, 0);
	assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
	resp_free(&r);
}

struct route_case {
	const char *method, *path, *ctype, *body, *userpwd;
	long status;
	const char *allow;  /* expected Allow header or NULL */
	const char *text;   /* expected start of the body or NULL */
};

static void test_routing_statuses(void **state)
{
	static const struct route_case cases[] = {
		{ NULL, "/.well-known/est/cacerts?x=1", NULL, NULL, NULL, 200, NULL, NULL },
		{ NULL, "/.well-known/est/routers/cacerts", NULL, NULL, NULL, 200, NULL, NULL },
		{ NULL, "/.well-known/est/nosuch/cacerts", NULL, NULL, NULL, 404, NULL,
		  "unknown label" },
		{ NULL, "/.well-known/est/../cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/%2e%2e/cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/%2E/cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est//cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/routers//cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL,
		  "/.well-known/est/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/cacerts",
		  NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/unknownop", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/routers/x/cacerts", NULL, NULL, NULL, 404, NULL, NULL },
		{ NULL, "/.well-known/est/simpleenroll", NULL, NULL, NULL, 405, "POST", NULL },
		{ "PUT", "/.well-known/est/simplereenroll", NULL, NULL, NULL, 405, "POST", NULL },
		{ "POST", "/.well-known/est/cacerts", "application/pkcs10", "x", NULL, 405,
		  "GET, HEAD", NULL },
		{ "DELETE", "/.well-known/est/cacerts", NULL, NULL, NULL, 405, "GET, HEAD", NULL },
		{ "POST", "/.well-known/est/simpleenroll", "text/plain", "x", "estuser:estpwd", 415,
		  NULL, NULL },
		{ "POST", "/.well-known/est/simpleenroll", NULL, "x", "estuser:estpwd", 415, NULL,
		  NULL },
		{ "POST", "/.well-known/est/simpleenroll", "application/pkcs10", "", "estuser:estpwd",
		  400, NULL, NULL },
		{ NULL, "/.well-known/est/csrattrs", NULL, NULL, NULL, 501, NULL, "not implemented" },
		{ "POST", "/.well-known/est/serverkeygen", "application/pkcs10", "x", NULL, 501,
		  NULL, NULL },
		{ "POST", "/.well-known/est/fullcmc", "application/pkcs7-mime", "x", NULL, 501, NULL,
		  NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		struct req q = { .method = c->method, .path = c->path, .ctype = c->ctype,
				 .body = c->body, .bodylen = c->body ? strlen(c->body) : 0,
				 .userpwd = c->userpwd, .port = port };
		struct resp r;
		char v[128];

		http(&q, &r);
		assert_int_equal(r.cc, CURLE_OK);
		if (r.status != c->status)
			fail_msg("%s %s: status %ld, want %ld", c->method ? c->method : "GET",
				 c->path, r.status, c->status);
		if (c->allow != NULL) {
			assert_non_null(header(&r, "Allow", v, sizeof(v)));
			assert_string_equal(v, c->allow);
		}
		if (c->text != NULL) {
			assert_non_null(r.body);
			assert_memory_equal(r.body, c->text, strlen(c->text));
		}
		resp_free(&r);
	}
}

static void test_oversized_body_is_413_with_length_and_chunked(void **state)
{
	size_t len = 70 * 1024; /* default max_body is 64 KiB */
	char *big = malloc(len);
	int chunked;

	assert_non_null(big);
	memset(big, 'A', len);
	for (chunked = 0; chunked <= 1; chunked++) {
		struct req q = { .method = "POST", .path = "/.well-known/est/simpleenroll",
				 .ctype = "application/pkcs10", .body = big, .bodylen = len,
				 .chunked = chunked, .userpwd = "estuser:estpwd", .port = port };
		struct resp r;

		http(&q, &r);
		if (r.status != 413)
			fail_msg("chunked=%d: curl %d status %ld", chunked, r.cc, r.status);
		resp_free(&r);
	}
	free(big);
}

static void enroll_expect(const char *path, const char *body, const char *userpwd,
			  const char *cert, long status, const char *text)
{
	struct req q = { .method = "POST", .path = path, .ctype = "application/pkcs10",
			 .body = body, .bodylen = strlen(body), .userpwd = userpwd,
			 .cert = cert, .key = cert == cli_pem ? cli_key : rogue_key, .port = port };
	struct resp r;

	http(&q, &r);
	assert_int_equal(r.cc, CURLE_OK);
	if (r.status != status)
		fail_msg("%s: status %ld, want %ld (%s)", path, r.status, status,
			 r.body ? r.body : "");
	if (text != NULL) {
		assert_non_null(r.body);
		if (strncmp(r.body, text, strlen(text)) != 0)
			fail_msg("body '%s', want '%s'", r.body, text);
	}
	resp_free(&r);
}

static void test_enroll_basic_auth_good_bad_missing(void **state)
{
	static const struct {
		const char *userpwd;
		long status;
	} cases[] = {
		{ "estuser:estpwd", 200 },
		{ "estuser:wrong", 401 },
		{ "estuser:", 401 },
		{ "nobody:estpwd", 401 },
		{ "estuser:estpwdX", 401 },
		{ NULL, 401 },
	};
	char *body = csr_b64(NULL, "CN=dev1", "DNS:dev1.example");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct req q = { .method = "POST", .path = "/.well-known/est/simpleenroll",
				 .ctype = "application/pkcs10", .body = body,
				 .bodylen = strlen(body), .userpwd = cases[i].userpwd,
				 .port = port };
		struct resp r;
		char v[128];

		http(&q, &r);
		assert_int_equal(r.cc, CURLE_OK);
		assert_int_equal(r.status, cases[i].status);
		if (r.status == 200) {
			STACK_OF(X509) *certs = decode_certs(&r);
			assert_int_equal(sk_X509_num(certs), 1);
			OSSL_STACK_OF_X509_free(certs);
			assert_string_equal(be_identity, "user:estuser");
		} else {
			assert_non_null(header(&r, "WWW-Authenticate", v, sizeof(v)));
			assert_string_equal(v, "Basic realm=\"estkit-test\"");
			assert_string_equal(r.body, "authentication required\n");
		}
		resp_free(&r);
	}
	free_b64(body);
}

static void test_enroll_rejects_malformed_csr_bodies(void **state)
{
	static const char *const ep = "/.well-known/est/simpleenroll";
	char *good = csr_b64(NULL, "CN=dev2", NULL);
	char *truncated = NULL, path[512];
	unsigned char *corrupt = NULL;
	size_t clen = 0;

	enroll_expect(ep, "!!!! not base64 !!!!", "estuser:estpwd", NULL, 400,
		      "malformed base64");
	enroll_expect(ep, "MA==", "estuser:estpwd", NULL, 400, "malformed PKCS#10");
	/* a CSR cut in half, re-encoded as valid base64 */
	{
		unsigned char *der = NULL;
		size_t derlen = 0;
		assert_int_equal(estkit_b64_decode(good, strlen(good), &der, &derlen), ESTKIT_OK);
		assert_int_equal(estkit_b64_encode(der, derlen / 2, &truncated, NULL), ESTKIT_OK);
		estkit_free(der);
	}
	enroll_expect(ep, truncated, "estuser:estpwd", NULL, 400, "malformed PKCS#10");
	/* libEST us902: an EC CSR whose signature was corrupted */
	snprintf(path, sizeof(path), "%s/libest/US902__US902_PKCS10_CORRUPT.b64",
		 ESTKIT_VECTORS_DIR);
	assert_int_equal(estkit_file_read(path, &corrupt, &clen), ESTKIT_OK);
	corrupt = OPENSSL_realloc(corrupt, clen + 1);
	corrupt[clen] = '\0';
	enroll_expect(ep, (char *)corrupt, "estuser:estpwd", NULL, 400,
		      "CSR signature does not verify");
	/* authentication comes before decoding: no credentials, no parse feedback */
	enroll_expect(ep, "!!!! not base64 !!!!", NULL, NULL, 401, "authentication required");
	enroll_expect(ep, good, "estuser:estpwd", NULL, 200, NULL);
	estkit_free(corrupt);
	estkit_free(truncated);
	free_b64(good);
}

static void test_enroll_with_client_cert_identity(void **state)
{
	char *body = csr_b64(NULL, "CN=dev3", NULL);

	enroll_expect("/.well-known/est/routers/simpleenroll", body, NULL, cli_pem, 200, NULL);
	assert_string_equal(be_identity, "cert:CN=client1");
	assert_string_equal(be_label, "routers");
	free_b64(body);
}

static void test_reenroll_rules_of_rfc7030_4_2_2(void **state)
{
	static const char *const ep = "/.well-known/est/simplereenroll";
	char *same = csr_b64(NULL, "CN=client1", "DNS:client1.example");
	char *subj = csr_b64(NULL, "CN=client2", "DNS:client1.example");
	char *san = csr_b64(NULL, "CN=client1", "DNS:other.example");
	char *nosan = csr_b64(NULL, "CN=client1", NULL);

	enroll_expect(ep, same, NULL, cli_pem, 200, NULL);
	enroll_expect(ep, subj, NULL, cli_pem, 400,
		      "subject does not match the certificate being renewed");
	enroll_expect(ep, san, NULL, cli_pem, 400,
		      "subjectAltName does not match the certificate being renewed");
	enroll_expect(ep, nosan, NULL, cli_pem, 400, "subjectAltName does not match");
	enroll_expect(ep, same, "estuser:estpwd", NULL, 403,
		      "re-enrollment requires the certificate being renewed");
	enroll_expect(ep, same, NULL, NULL, 401, "authentication required");
	free_b64(same);
	free_b64(subj);
	free_b64(san);
	free_b64(nosan);
}

static void test_untrusted_client_cert_fails_handshake(void **state)
{
	char *body = csr_b64(NULL, "CN=client1", "DNS:client1.example");
	struct req q = { .method = "POST", .path = "/.well-known/est/simplereenroll",
			 .ctype = "application/pkcs10", .body = body, .bodylen = strlen(body),
			 .cert = rogue_pem, .key = rogue_key, .port = port };
	struct resp r;

	http(&q, &r);
	assert_int_not_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 0);
	resp_free(&r);
	free_b64(body);
}

static void test_backend_pending_refusal_and_error(void **state)
{
	char *body = csr_b64(NULL, "CN=dev4", NULL);
	struct req q = { .method = "POST", .path = "/.well-known/est/simpleenroll",
			 .ctype = "application/pkcs10", .body = body, .bodylen = strlen(body),
			 .userpwd = "estuser:estpwd", .port = port };
	struct resp r;
	char v[64];

	be_set_mode(BE_PENDING);
	http(&q, &r);
	assert_int_equal(r.status, 202);
	assert_non_null(header(&r, "Retry-After", v, sizeof(v)));
	assert_string_equal(v, "30");
	resp_free(&r);

	be_set_mode(BE_REFUSE);
	http(&q, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.body, "refused by test policy\n");
	resp_free(&r);

	be_set_mode(BE_ERROR);
	http(&q, &r);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.body, "internal error\n");
	resp_free(&r);
	free_b64(body);
}

static void test_tls11_client_is_refused(void **state)
{
	struct req q = { .path = "/.well-known/est/cacerts", .tls11 = 1, .port = port };
	struct resp r;

	http(&q, &r);
	assert_int_not_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 0);
	resp_free(&r);
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	return sz * n;
}

static void test_keep_alive_serves_several_requests_per_connection(void **state)
{
	CURL *c = curl_easy_init();
	char url[128];
	long status = 0, conns = -1;
	int i;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/.well-known/est/cacerts", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_pem);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (i = 0; i < 3; i++) {
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
		assert_int_equal(status, 200);
		assert_int_equal(conns, i == 0 ? 1 : 0); /* reused after the first */
	}
	curl_easy_cleanup(c);
}

static void test_access_log_line_per_request(void **state)
{
	struct req q = { .path = "/.well-known/est/cacerts?secret=1", .port = port };
	struct resp r;
	char want[128];

	pthread_mutex_lock(&be_mu);
	loglen = 0;
	logbuf[0] = '\0';
	pthread_mutex_unlock(&be_mu);
	http(&q, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	pthread_mutex_lock(&be_mu);
	assert_non_null(strstr(logbuf, "access method=GET path=/.well-known/est/cacerts label=- "
					"identity=anonymous status=200 serial=- ms="));
	snprintf(want, sizeof(want), "peer=127.0.0.1:");
	assert_non_null(strstr(logbuf, want));
	assert_null(strstr(logbuf, "secret"));
	pthread_mutex_unlock(&be_mu);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cacerts_returns_ca_as_certs_only, reset_mode),
		cmocka_unit_test_setup(test_cacerts_head_has_headers_but_no_body, reset_mode),
		cmocka_unit_test_setup(test_routing_statuses, reset_mode),
		cmocka_unit_test_setup(test_oversized_body_is_413_with_length_and_chunked, reset_mode),
		cmocka_unit_test_setup(test_enroll_basic_auth_good_bad_missing, reset_mode),
		cmocka_unit_test_setup(test_enroll_rejects_malformed_csr_bodies, reset_mode),
		cmocka_unit_test_setup(test_enroll_with_client_cert_identity, reset_mode),
		cmocka_unit_test_setup(test_reenroll_rules_of_rfc7030_4_2_2, reset_mode),
		cmocka_unit_test_setup(test_untrusted_client_cert_fails_handshake, reset_mode),
		cmocka_unit_test_setup(test_backend_pending_refusal_and_error, reset_mode),
		cmocka_unit_test_setup(test_tls11_client_is_refused, reset_mode),
		cmocka_unit_test_setup(test_keep_alive_serves_several_requests_per_connection,
				       reset_mode),
		cmocka_unit_test_setup(test_access_log_line_per_request, reset_mode),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
