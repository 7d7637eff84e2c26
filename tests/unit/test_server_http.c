/*
 * test_server_http.c - a real estkit_server on 127.0.0.1:0 with a small test
 * backend and a throw-away CA, driven over HTTPS with libcurl: routing, the
 * error statuses of the pipeline, Basic and certificate authentication,
 * re-enrollment rules (RFC 7030 4.2.2), 202/503 with Retry-After, a full job
 * queue, graceful shutdown and the TLS version floor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include <estkit/server.h>

/* ---- throw-away PKI ------------------------------------------------------------ */

static char dir[] = "/tmp/estkit-srvtest-XXXXXX";
static char ca_pem[128], srv_pem[128], srv_key[128], cli_pem[128], cli_key[128];
static char rogue_pem[128], rogue_key[128];
static EVP_PKEY *ca_key, *cli_keypair;
static X509 *ca_cert;
static long next_serial = 0x1f2e;

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key; self-signed when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
		       const char *san, int ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX v3;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				   0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san != NULL)
		add_ext(x, &v3, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void make_pki(void)
{
	EVP_PKEY *sk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *sc = NULL, *cc = NULL, *rc = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	snprintf(srv_pem, sizeof(srv_pem), "%s/server.pem", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/server.key", dir);
	snprintf(cli_pem, sizeof(cli_pem), "%s/client.pem", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/client.key", dir);
	snprintf(rogue_pem, sizeof(rogue_pem), "%s/rogue.pem", dir);
	snprintf(rogue_key, sizeof(rogue_key), "%s/rogue.key", dir);
	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cli_keypair = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ca_key);
	ca_cert = make_cert(ca_key, "estkit test CA", NULL, NULL, NULL, 1);
	sc = make_cert(sk, "localhost", ca_cert, ca_key, "IP:127.0.0.1,DNS:localhost", 0);
	cc = make_cert(cli_keypair, "client1", ca_cert, ca_key, "DNS:client1.example", 0);
	rc = make_cert(rk, "client1", NULL, NULL, "DNS:client1.example", 0); /* untrusted */
	write_pem(ca_pem, ca_cert, NULL);
	write_pem(srv_pem, sc, NULL);
	write_pem(srv_key, NULL, sk);
	write_pem(cli_pem, cc, NULL);
	write_pem(cli_key, NULL, cli_keypair);
	write_pem(rogue_pem, rc, NULL);
	write_pem(rogue_key, NULL, rk);
	X509_free(sc);
	X509_free(cc);
	X509_free(rc);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(rk);
}

/* ---- test backend --------------------------------------------------------------- */

enum be_mode { BE_ISSUE, BE_PENDING, BE_REFUSE, BE_ERROR, BE_BLOCK };

static pthread_mutex_t be_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t be_cond = PTHREAD_COND_INITIALIZER;
static enum be_mode be_mode = BE_ISSUE;
static int be_blocked, be_release;
static char be_identity[256], be_label[80];
static char logbuf[1 << 16];
static size_t loglen;

static int be_label_exists(void *ctx, const char *label)
{
	return strcmp(label, "") == 0 || strcmp(label, "routers") == 0;
}

static int be_check_basic(void *ctx, const char *label, const char *user, const char *pass)
{
	return strcmp(user, "estuser") == 0 && strlen(pass) == 6 &&
	       CRYPTO_memcmp(pass, "estpwd", 6) == 0;
}

/* BE_BLOCK: park until the test releases us. */
static enum be_mode be_enter(void)
{
	enum be_mode m;

	pthread_mutex_lock(&be_mu);
	m = be_mode;
	if (m == BE_BLOCK) {
		be_blocked++;
		pthread_cond_broadcast(&be_cond);
		while (!be_release)
			pthread_cond_wait(&be_cond, &be_mu);
		be_blocked--;
	}
	pthread_mutex_unlock(&be_mu);
	return m;
}

static enum estkit_status be_cacerts(void *ctx, struct estkit_request *req,
				     STACK_OF(X509) **out)
{
	be_enter();
	*out = sk_X509_new_null();
	X509_up_ref(ca_cert);
	sk_X509_push(*out, ca_cert);
	return ESTKIT_OK;
}

static X509 *issue(X509_REQ *csr)
{
	X509 *x = X509_new();
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	int i;

	X509_set_version(x, 2);
	pthread_mutex_lock(&be_mu);
	ASN1_INTEGER_set(X509_get_serialNumber(x), next_serial++);
	pthread_mutex_unlock(&be_mu);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_subject_name(x, X509_REQ_get_subject_name(csr));
	X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
	X509_set_pubkey(x, X509_REQ_get0_pubkey(csr));
	for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name)
			X509_add_ext(x, e, -1);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_sign(x, ca_key, EVP_sha256());
	return x;
}

static enum estkit_status be_enroll(void *ctx, struct estkit_request *req, X509_REQ *csr,
				    STACK_OF(X509) **out)
{
	enum be_mode m = be_enter();

	pthread_mutex_lock(&be_mu);
	snprintf(be_identity, sizeof(be_identity), "%s", estkit_request_identity(req));
	snprintf(be_label, sizeof(be_label), "%s", estkit_request_label(req));
	pthread_mutex_unlock(&be_mu);
	switch (m) {
	case BE_PENDING:
		estkit_request_set_retry_after(req, 30);
		return ESTKIT_EPENDING;
	case BE_REFUSE:
		estkit_request_fail(req, 403, "refused by %s policy", "test");
		return ESTKIT_EPOLICY;
	case BE_ERROR:
		return ESTKIT_EIO;
	default:
		break;
	}
	*out = sk_X509_new_null();
	sk_X509_push(*out, issue(csr));
	return ESTKIT_OK;
}

static void be_log(void *ctx, enum estkit_log_level level, const char *line)
{
	pthread_mutex_lock(&be_mu);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
	if (loglen >= sizeof(logbuf) - 1024)
		loglen = 0;
	pthread_mutex_unlock(&be_mu);
}

static void be_set_mode(enum be_mode m)
{
	pthread_mutex_lock(&be_mu);
	be_mode = m;
	be_release = 0;
	pthread_mutex_unlock(&be_mu);
}

static void be_wait_blocked(int n)
{
	int i;

	for (i = 0; i < 500; i++) {
		pthread_mutex_lock(&be_mu);
		if (be_blocked >= n) {
			pthread_mutex_unlock(&be_mu);
			return;
		}
		pthread_mutex_unlock(&be_mu);
		usleep(10000);
	}
	fail_msg("backend never saw %d blocked requests", n);
}

static void be_unblock(void)
{
	pthread_mutex_lock(&be_mu);
	be_release = 1;
	pthread_cond_broadcast(&be_cond);
	pthread_mutex_unlock(&be_mu);
}

static const struct estkit_backend test_backend = {
	.label_exists = be_label_exists,
	.check_basic = be_check_basic,
	.cacerts = be_cacerts,
	.enroll = be_enroll,
	.log = be_log,
};

static struct estkit_server *server_start_at(const char *listen, int io, int jobs, int queue,
					     int max_conns)
{
	struct estkit_server_config cfg;
	struct estkit_server *srv = NULL;
	char *err = NULL;

	estkit_server_config_init(&cfg);
	cfg.listen = listen;
	if (max_conns > 0)
		cfg.max_connections = max_conns;
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	cfg.client_ca_file = ca_pem;
	cfg.io_threads = io;
	cfg.job_threads = jobs;
	cfg.job_queue_max = queue;
	cfg.realm = "estkit-test";
	srv = estkit_server_new(&cfg, &test_backend, &err);
	if (srv == NULL)
		fail_msg("server_new: %s", err != NULL ? err : "?");
	assert_int_equal(estkit_server_start(srv), ESTKIT_OK);
	assert_true(estkit_server_port(srv) > 0);
	return srv;
}

static struct estkit_server *server_start(int io, int jobs, int queue)
{
	return server_start_at("127.0.0.1:0", io, jobs, queue, 0);
}

/* ---- HTTP client -------------------------------------------------------------- */

struct req {
	const char *method; /* NULL: GET */
	const char *path;
	const char *ctype;
	const char *body;
	size_t bodylen;
	int chunked;
	const char *userpwd;
	const char *cert, *key;
	int tls11;
	int port;
	long timeout_ms; /* 0: 10 s */
	const char *host; /* NULL: 127.0.0.1 */
};

struct resp {
	CURLcode cc;
	long status;
	char hdrs[8192];
	size_t hlen;
	char *body;
	size_t blen;
};

struct rd {
	const char *p;
	size_t left;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	char *nb = realloc(r->body, r->blen + sz * n + 1);

	assert_non_null(nb);
	r->body = nb;
	memcpy(r->body + r->blen, p, sz * n);
	r->blen += sz * n;
	r->body[r->blen] = '\0';
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = sz * n;

	if (r->hlen + len < sizeof(r->hdrs)) {
		memcpy(r->hdrs + r->hlen, p, len);
		r->hlen += len;
		r->hdrs[r->hlen] = '\0';
	}
	return len;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *arg)
{
	struct rd *rd = arg;
	size_t len = sz * n < rd->left ? sz * n : rd->left;
	if (len > 4096)
		len = 4096; /* several chunks */
	memcpy(buf, rd->p, len);
	rd->p += len;
	rd->left -= len;
	return len;
}

static void http(const struct req *q, struct resp *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct rd rd = { q->body, q->bodylen };
	char url[512], ct[128];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "https://%s:%d%s", q->host != NULL ? q->host : "127.0.0.1",
		 q->port, q->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca_pem);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (q->ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", q->ctype);
		h = curl_slist_append(h, ct);
	}
	if (q->body != NULL && q->chunked) {
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	} else if (q->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)q->bodylen);
	}
	if (q->method != NULL && strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (q->method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (q->userpwd != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, q->userpwd);
	}
	if (q->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, q->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, q->key);
	}
	if (q->tls11) {
		curl_easy_setopt(c, CURLOPT_SSLVERSION,
				 (long)(CURL_SSLVERSION_TLSv1_1 | CURL_SSLVERSION_MAX_TLSv1_1));
		curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0");
	}
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* Value of a response header (case-insensitive name), or NULL. */
static const char *header(struct resp *r, const char *name, char *out, size_t outsz)
{
	char *line = r->hdrs;

	while (line != NULL && *line != '\0') {
		char *eol = strstr(line, "\r\n");
		size_t n = strlen(name);
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			size_t len;
			while (*v == ' ')
				v++;
			len = eol != NULL ? (size_t)(eol - v) : strlen(v);
			snprintf(out, outsz, "%.*s", (int)len, v);
			return out;
		}
		line = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

/* base64(DER) of a fresh CSR for subject/san with key (new key when NULL). */
static char *csr_b64(EVP_PKEY *key, const char *subject, const char *san)
{
	EVP_PKEY *k = key;
	X509_REQ *csr = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;
	char *b64 = NULL;
	const char *sans[1] = { san };

	if (k == NULL)
		assert_int_equal(estkit_key_generate("ec:P-256", &k), ESTKIT_OK);
	assert_int_equal(estkit_csr_new(k, subject, sans, san != NULL ? 1 : 0, NULL, &csr),
			 ESTKIT_OK);
	assert_int_equal(estkit_csr_encode(csr, &der, &derlen), ESTKIT_OK);
	assert_int_equal(estkit_b64_encode(der, derlen, &b64, NULL), ESTKIT_OK);
	estkit_free(der);
	X509_REQ_free(csr);
	if (key == NULL)
		EVP_PKEY_free(k);
	return b64;
}

static void free_b64(char *b64)
{
	estkit_free(b64);
}

/* ---- tests on the shared server ------------------------------------------------- */

static struct estkit_server *srv;
static int port;

static int group_setup(void **state)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	make_pki();
	srv = server_start(2, 2, 16);
	port = estkit_server_port(srv);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[256];

	estkit_server_shutdown(srv, 1);
	estkit_server_wait(srv);
	estkit_server_free(srv);
	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(cli_keypair);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	curl_global_cleanup();
	return 0;
}

static int reset_mode(void **state)
{
	be_set_mode(BE_ISSUE);
	return 0;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cacerts_returns_ca_as_certs_only, reset_mode),
		cmocka_unit_test_setup(test_cacerts_head_has_headers_but_no_body, reset_mode),
		cmocka_unit_test_setup(test_routing_statuses, reset_mode),
		cmocka_unit_test_setup(test_oversized_body_is_413_with_length_and_chunked,
				       reset_mode),
		cmocka_unit_test_setup(test_enroll_basic_auth_good_bad_missing, reset_mode),
		cmocka_unit_test_setup(test_enroll_rejects_malformed_csr_bodies, reset_mode),
		cmocka_unit_test_setup(test_enroll_with_client_cert_identity, reset_mode),
		cmocka_unit_test_setup(test_reenroll_rules_of_rfc7030_4_2_2, reset_mode),
		cmocka_unit_test_setup(test_untrusted_client_cert_fails_handshake, reset_mode),
		cmocka_unit_test_setup(test_backend_pending_refusal_and_error, reset_mode),
		cmocka_unit_test_setup(test_tls11_client_is_refused, reset_mode),
		cmocka_unit_test_setup(test_access_log_line_per_request, reset_mode),
		cmocka_unit_test_setup(test_full_job_queue_answers_503_at_once, reset_mode),
		cmocka_unit_test_setup(test_graceful_shutdown_answers_request_in_flight,
				       reset_mode),
		cmocka_unit_test_setup(test_client_gone_before_job_finishes, reset_mode),
		cmocka_unit_test_setup(test_connection_limit_pauses_accepting, reset_mode),
		cmocka_unit_test_setup(test_ipv6_listen_syntax, reset_mode),
		cmocka_unit_test_setup(test_server_new_reports_bad_config, reset_mode),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
