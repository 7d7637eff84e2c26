/*
 * test_server_fixture.h - shared by the in-process server tests
 * (test_server_http.c, test_server_lifecycle.c): a throw-away CA with server,
 * client and untrusted client certificates in a mkdtemp directory, a small
 * test backend whose behaviour a test switches (issue, pending, refuse, error,
 * block on a condition variable), and a libcurl request helper.
 */
#ifndef TEST_SERVER_FIXTURE_H
#define TEST_SERVER_FIXTURE_H

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


#define FX_UNUSED __attribute__((unused))

/* ---- throw-away PKI ------------------------------------------------------------ */

static FX_UNUSED char dir[200];
static FX_UNUSED char ca_pem[300], srv_pem[300], srv_key[300], cli_pem[300], cli_key[300];
static FX_UNUSED char rogue_pem[300], rogue_key[300];
static FX_UNUSED EVP_PKEY *ca_key, *cli_keypair;
static FX_UNUSED X509 *ca_cert;
static FX_UNUSED long next_serial = 0x1f2e;

static FX_UNUSED void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);

	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key; self-signed when issuer is NULL. */
static FX_UNUSED X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
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

static FX_UNUSED void write_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static FX_UNUSED void make_pki(void)
{
	EVP_PKEY *sk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *rk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *sc = NULL, *cc = NULL, *rc = NULL;
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/estkit-srvtest-XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : P_tmpdir);
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

static FX_UNUSED pthread_mutex_t be_mu = PTHREAD_MUTEX_INITIALIZER;
static FX_UNUSED pthread_cond_t be_cond = PTHREAD_COND_INITIALIZER;
static FX_UNUSED enum be_mode be_mode = BE_ISSUE;
static FX_UNUSED int be_blocked, be_release;
static FX_UNUSED char be_identity[256], be_label[80];
static FX_UNUSED char logbuf[1 << 16];
static FX_UNUSED size_t loglen;

static FX_UNUSED int be_label_exists(void *ctx, const char *label)
{
	return strcmp(label, "") == 0 || strcmp(label, "routers") == 0;
}

static FX_UNUSED int be_check_basic(void *ctx, const char *label, const char *user, const char *pass)
{
	return strcmp(user, "estuser") == 0 && strlen(pass) == 6 &&
	       CRYPTO_memcmp(pass, "estpwd", 6) == 0;
}

/* BE_BLOCK: park until the test releases us. */
static FX_UNUSED enum be_mode be_enter(void)
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

static FX_UNUSED enum estkit_status be_cacerts(void *ctx, struct estkit_request *req,
				     STACK_OF(X509) **out)
{
	be_enter();
	*out = sk_X509_new_null();
	X509_up_ref(ca_cert);
	sk_X509_push(*out, ca_cert);
	return ESTKIT_OK;
}

static FX_UNUSED X509 *issue(X509_REQ *csr)
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

static FX_UNUSED enum estkit_status be_enroll(void *ctx, struct estkit_request *req, X509_REQ *csr,
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

static FX_UNUSED void be_log(void *ctx, enum estkit_log_level level, const char *line)
{
	pthread_mutex_lock(&be_mu);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
	if (loglen >= sizeof(logbuf) - 1024)
		loglen = 0;
	pthread_mutex_unlock(&be_mu);
}

static FX_UNUSED void be_set_mode(enum be_mode m)
{
	pthread_mutex_lock(&be_mu);
	be_mode = m;
	be_release = 0;
	pthread_mutex_unlock(&be_mu);
}

static FX_UNUSED void be_wait_blocked(int n)
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

static FX_UNUSED void be_unblock(void)
{
	pthread_mutex_lock(&be_mu);
	be_release = 1;
	pthread_cond_broadcast(&be_cond);
	pthread_mutex_unlock(&be_mu);
}

static FX_UNUSED const struct estkit_backend test_backend = {
	.label_exists = be_label_exists,
	.check_basic = be_check_basic,
	.cacerts = be_cacerts,
	.enroll = be_enroll,
	.log = be_log,
};

static FX_UNUSED struct estkit_server *server_start_at(const char *listen, int io, int jobs, int queue,
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

static FX_UNUSED struct estkit_server *server_start(int io, int jobs, int queue)
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

static FX_UNUSED size_t on_body(char *p, size_t sz, size_t n, void *arg)
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

static FX_UNUSED size_t on_header(char *p, size_t sz, size_t n, void *arg)
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

static FX_UNUSED size_t on_read(char *buf, size_t sz, size_t n, void *arg)
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

static FX_UNUSED void http(const struct req *q, struct resp *r)
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

static FX_UNUSED void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* Value of a response header (case-insensitive name), or NULL. */
static FX_UNUSED const char *header(struct resp *r, const char *name, char *out, size_t outsz)
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
static FX_UNUSED char *csr_b64(EVP_PKEY *key, const char *subject, const char *san)
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

static FX_UNUSED void free_b64(char *b64)
{
	estkit_free(b64);
}


/* Temp dir, throw-away PKI and libcurl: once per test program. */
static FX_UNUSED int fixture_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	make_pki();
	return 0;
}

static FX_UNUSED int fixture_teardown(void)
{
	char cmd[300];

	X509_free(ca_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(cli_keypair);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	curl_global_cleanup();
	return system(cmd) == 0 ? 0 : -1;
}

static FX_UNUSED int reset_mode(void **state)
{
	be_set_mode(BE_ISSUE);
	return 0;
}

#endif /* TEST_SERVER_FIXTURE_H */
