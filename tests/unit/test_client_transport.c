/*
 * test_client_transport.c - the pluggable transport (estkit_client_set_transport)
 * and keys loaded through OSSL_STORE (estkit_key_load_uri), without a network:
 * an in-memory EST server answers with the RFC 7030 Appendix A messages
 * (tests/vectors/rfc7030, csrattrs), so the whole client path from request
 * building to response parsing runs through the hook; and the rule that the
 * hook gets credentials only for a server the library authorized (RFC 7030
 * 3.6): from the chain the hook reports, or the caller's declaration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <estkit/estkit.h>

/* The fake server's script and what it saw. */
struct fake {
	long status;              /* 0: answer by path */
	const char *retry_after;
	size_t oversize;          /* > 0: a body of this many bytes */
	enum estkit_status fail;  /* != OK: no answer at all */
	char method[8];
	char path[256];
	char auth[256];
	char ctype[128];
	int has_cert;
	int has_trust;
	int calls;
	STACK_OF(X509) *chain;        /* reported to the library before "sending", or NULL */
	enum estkit_status chain_rc;  /* what estkit_http_response_set_peer_chain() said */
};

static unsigned char *vector(const char *name, size_t *len)
{
	char path[512];
	unsigned char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", ESTKIT_VECTORS_DIR, name);
	assert_int_equal(estkit_file_read(path, &buf, len), ESTKIT_OK);
	return buf;
}

static void answer_file(struct estkit_http_response *resp, const char *ctype, const char *name)
{
	size_t len = 0;
	unsigned char *b = vector(name, &len);

	assert_int_equal(estkit_http_response_set_status(resp, 200), ESTKIT_OK);
	assert_int_equal(estkit_http_response_set_header(resp, "content-type", ctype), ESTKIT_OK);
	assert_int_equal(estkit_http_response_append_body(resp, b, len), ESTKIT_OK);
	estkit_free(b);
}

static void record(struct fake *f, const struct estkit_http_request *req)
{
	size_t i;

	f->calls++;
	snprintf(f->method, sizeof(f->method), "%s", req->method);
	snprintf(f->path, sizeof(f->path), "%s", req->path);
	f->auth[0] = f->ctype[0] = '\0';
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if (strncmp(req->headers[i], "Authorization: ", 15) == 0)
			snprintf(f->auth, sizeof(f->auth), "%s", req->headers[i] + 15);
		if (strncmp(req->headers[i], "Content-Type: ", 14) == 0)
			snprintf(f->ctype, sizeof(f->ctype), "%s", req->headers[i] + 14);
	}
	f->has_cert = req->client_cert != NULL && req->client_key != NULL;
	f->has_trust = req->trust != NULL;
}

/* POST /simpleenroll: the body must be a base64 PKCS#10 whose signature verifies. */
static void enroll(struct fake *f, const struct estkit_http_request *req,
                   struct estkit_http_response *resp)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	X509_REQ *csr = NULL;

	if (f->auth[0] == '\0' && !f->has_cert) {
		assert_int_equal(estkit_http_response_set_status(resp, 401), ESTKIT_OK);
		assert_int_equal(estkit_http_response_append_body(resp, "no credentials", 14),
		                 ESTKIT_OK);
		return;
	}
	assert_string_equal(f->ctype, "application/pkcs10");
	assert_int_equal(estkit_b64_decode((const char *)req->body, req->bodylen, &der, &derlen),
	                 ESTKIT_OK);
	assert_int_equal(estkit_csr_decode(der, derlen, &csr), ESTKIT_OK);
	assert_int_equal(estkit_csr_verify(csr), ESTKIT_OK);
	X509_REQ_free(csr);
	estkit_free(der);
	answer_file(resp, "application/pkcs7-mime; smime-type=certs-only",
	            "rfc7030/A.3-simpleenroll-response.b64");
}

static enum estkit_status fake_server(void *arg, const struct estkit_http_request *req,
                                      struct estkit_http_response *resp)
{
	struct fake *f = arg;
	const char *op = strrchr(req->path, '/');

	record(f, req);
	/* a hook that checked its TLS peer: the chain, then the credentials if authorized */
	if (f->chain != NULL) {
		const char *a = NULL;

		f->chain_rc = estkit_http_response_set_peer_chain(resp, f->chain);
		a = estkit_http_response_authorization(resp);
		if (a != NULL && strncmp(a, "Authorization: ", 15) == 0)
			snprintf(f->auth, sizeof(f->auth), "%s", a + 15);
	}
	if (f->fail != ESTKIT_OK)
		return f->fail;
	if (f->oversize > 0) {
		char *big = calloc(1, f->oversize);
		enum estkit_status rc = ESTKIT_OK;

		assert_int_equal(estkit_http_response_set_status(resp, 200), ESTKIT_OK);
		rc = estkit_http_response_append_body(resp, big, f->oversize);
		free(big);
		return rc == ESTKIT_ETOOBIG ? ESTKIT_OK : rc;
	}
	if (f->status != 0) {
		if (f->status >= 100)
			assert_int_equal(estkit_http_response_set_status(resp, f->status), ESTKIT_OK);
		if (f->retry_after != NULL)
			assert_int_equal(
			    estkit_http_response_set_header(resp, "Retry-After", f->retry_after),
			    ESTKIT_OK);
		return ESTKIT_OK;
	}
	if (strcmp(op, "/cacerts") == 0)
		answer_file(resp, "application/pkcs7-mime", "rfc7030/A.1-cacerts-response.b64");
	else if (strcmp(op, "/csrattrs") == 0)
		answer_file(resp, "application/csrattrs", "csrattrs/A.2-csrattrs-response.b64");
	else if (strcmp(op, "/simpleenroll") == 0 || strcmp(op, "/simplereenroll") == 0)
		enroll(f, req, resp);
	else
		assert_int_equal(estkit_http_response_set_status(resp, 404), ESTKIT_OK);
	return ESTKIT_OK;
}

static struct estkit_client *client(struct fake *f, const char *url)
{
	struct estkit_client *c = estkit_client_new(url);

	assert_non_null(c);
	memset(f, 0, sizeof(*f));
	estkit_client_set_transport(c, fake_server, f);
	return c;
}

static void test_cacerts_and_csrattrs_through_hook(void **state)
{
	struct fake f;
	struct estkit_client *c = client(&f, "https://ca.example:8443/routers");
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_OK);
	assert_int_equal(sk_X509_num(certs), 4); /* RFC 7030 A.1 */
	assert_string_equal(f.method, "GET");
	assert_string_equal(f.path, "/.well-known/est/routers/cacerts");
	assert_string_equal(f.auth, "");
	sk_X509_pop_free(certs, X509_free);
	assert_int_equal(estkit_client_csrattrs(c, &der, &len), ESTKIT_OK);
	assert_true(der != NULL && len > 0 && der[0] == 0x30);
	estkit_free(der);
	assert_int_equal(estkit_client_http_status(c), 200);
	estkit_client_free(c);
}

static void test_enroll_basic_auth_and_uri_key(void **state)
{
	struct fake f;
	struct estkit_client *c = client(&f, "https://ca.example");
	char path[] = "/tmp/test_client_transport.XXXXXX";
	char uri[64];
	EVP_PKEY *gen = NULL, *key = NULL;
	X509_REQ *csr = NULL;
	STACK_OF(X509) *certs = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* the signing key comes back through OSSL_STORE, as a provider key would */
	assert_int_equal(estkit_key_generate("ec:P-256", &gen), ESTKIT_OK);
	assert_int_equal(estkit_key_save(path, gen), ESTKIT_OK);
	snprintf(uri, sizeof(uri), "file:%s", path);
	assert_int_equal(estkit_key_load_uri(uri, NULL, &key), ESTKIT_OK);
	assert_int_equal(EVP_PKEY_eq(gen, key), 1);
	assert_int_equal(estkit_csr_new(key, "CN=dev1", NULL, 0, NULL, &csr), ESTKIT_OK);
	/* without credentials: 401 */
	assert_int_equal(estkit_client_simpleenroll(c, csr, &certs), ESTKIT_EAUTH);
	assert_non_null(strstr(estkit_client_errmsg(c), "no credentials"));
	assert_null(certs);
	/* Basic credentials set, but nothing says the hook's server is authorized:
	 * they are withheld (RFC 7030 3.6), the 401 stands */
	assert_int_equal(estkit_client_set_basic_auth(c, "estuser", "estpwd"), ESTKIT_OK);
	assert_int_equal(estkit_client_simpleenroll(c, csr, &certs), ESTKIT_EAUTH);
	assert_string_equal(f.auth, "");
	assert_non_null(strstr(estkit_client_errmsg(c), "credentials withheld"));
	assert_null(certs);
	/* the caller declares the hook authorizes the server: Basic "estuser:estpwd" (RFC 7617) */
	estkit_client_set_transport_authorized(c, 1);
	assert_int_equal(estkit_client_simpleenroll(c, csr, &certs), ESTKIT_OK);
	assert_string_equal(f.method, "POST");
	assert_string_equal(f.path, "/.well-known/est/simpleenroll");
	assert_string_equal(f.auth, "Basic ZXN0dXNlcjplc3Rwd2Q=");
	assert_int_equal(sk_X509_num(certs), 1); /* RFC 7030 A.3 */
	sk_X509_pop_free(certs, X509_free);
	X509_REQ_free(csr);
	EVP_PKEY_free(gen);
	EVP_PKEY_free(key);
	unlink(path);
	estkit_client_free(c);
}

static void test_hook_answers_table(void **state)
{
	static const struct {
		long status;
		const char *retry_after;
		size_t oversize;
		enum estkit_status fail;
		enum estkit_status want;
		long retry;
	} cases[] = {
	    {202, "120", 0, ESTKIT_OK, ESTKIT_EPENDING, 120},
	    {503, "30", 0, ESTKIT_OK, ESTKIT_EBUSY, 30},
	    {202, "soon", 0, ESTKIT_OK, ESTKIT_EPENDING, 0},     /* malformed Retry-After */
	    {403, NULL, 0, ESTKIT_OK, ESTKIT_EFORBIDDEN, 0},
	    {500, NULL, 0, ESTKIT_OK, ESTKIT_EHTTP, 0},
	    {1, NULL, 0, ESTKIT_OK, ESTKIT_EPROTO, 0},           /* no status set */
	    {200, NULL, 0, ESTKIT_OK, ESTKIT_EPROTO, 0},         /* 200, no Content-Type */
	    {0, NULL, ESTKIT_MAX_DECODE + 1, ESTKIT_OK, ESTKIT_ETOOBIG, 0},
	    {0, NULL, 0, ESTKIT_ENET, ESTKIT_ENET, 0},
	    {0, NULL, 0, ESTKIT_ETIMEOUT, ESTKIT_ETIMEOUT, 0},
	};
	struct fake f;
	STACK_OF(X509) *certs = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estkit_client *c = client(&f, "https://ca.example");
		enum estkit_status rc;

		f.status = cases[i].status;
		f.retry_after = cases[i].retry_after;
		f.oversize = cases[i].oversize;
		f.fail = cases[i].fail;
		rc = estkit_client_cacerts(c, &certs);
		if (rc != cases[i].want || estkit_client_retry_after(c) != cases[i].retry)
			fail_msg("case %zu: %s (%s), retry %ld", i, estkit_strerror(rc),
			         estkit_client_errmsg(c), estkit_client_retry_after(c));
		assert_null(certs);
		estkit_client_free(c);
	}
}

static void test_hook_limits(void **state)
{
	struct fake f;
	struct estkit_client *c = client(&f, "https://ca.example");
	STACK_OF(X509) *certs = NULL;

	(void)state;
	/* bootstrap and Digest need the built-in transport; nothing is sent */
	assert_int_equal(estkit_client_cacerts_bootstrap(c, "00", &certs), ESTKIT_EINVAL);
	assert_int_equal(estkit_client_set_basic_auth(c, "u", "p"), ESTKIT_OK);
	assert_int_equal(estkit_client_set_auth_methods(c, ESTKIT_AUTH_DIGEST), ESTKIT_OK);
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_EINVAL);
	assert_int_equal(f.calls, 0);
	/* setters refuse bad input */
	assert_int_equal(estkit_http_response_set_status(NULL, 200), ESTKIT_EINVAL);
	/* NULL restores libcurl: without trust anchors that fails before any network */
	estkit_client_set_transport(c, NULL, NULL);
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_ETLS);
	estkit_client_free(c);
	/* keys: no such URI, bad arguments */
	{
		EVP_PKEY *k = NULL;

		assert_int_equal(estkit_key_load_uri("file:/nonexistent/key.pem", NULL, &k),
		                 ESTKIT_ENOTFOUND);
		assert_null(k);
		assert_int_equal(estkit_key_load_uri("", NULL, &k), ESTKIT_EINVAL);
		assert_int_equal(estkit_key_load_uri(NULL, NULL, &k), ESTKIT_EINVAL);
	}
}

/* estkit_client_set_srp(): arguments, no custom transport, no trust anchors needed. */
static void test_srp_settings(void **state)
{
	static const struct {
		const char *user, *password;
		enum estkit_status rc;
	} cases[] = {
		{"alice", "pw", ESTKIT_OK},
		{"", "pw", ESTKIT_EINVAL},
		{"alice", "", ESTKIT_EINVAL},
		{"alice", NULL, ESTKIT_EINVAL},
		{"a-name-of-256-bytes", "pw", ESTKIT_EINVAL}, /* replaced below */
		{NULL, NULL, ESTKIT_OK},                       /* SRP off again */
	};
	char longname[257];
	struct fake f;
	struct estkit_client *c = client(&f, "https://ca.example");
	STACK_OF(X509) *certs = NULL;
	size_t i;

	(void)state;
	memset(longname, 'n', 256);
	longname[256] = '\0';
	assert_int_equal(estkit_client_set_srp(NULL, "alice", "pw"), ESTKIT_EINVAL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(estkit_client_set_srp(c, i == 4 ? longname : cases[i].user,
		                                       cases[i].password),
		                 cases[i].rc);
	longname[255] = '\0'; /* 255 bytes: RFC 5054 allows it */
	assert_int_equal(estkit_client_set_srp(c, longname, "pw"), ESTKIT_OK);
	/* TLS-SRP needs libcurl: a custom transport is refused before anything is sent */
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_EINVAL);
	assert_non_null(strstr(estkit_client_errmsg(c), "TLS-SRP"));
	assert_int_equal(f.calls, 0);
	estkit_client_free(c);

	/* over libcurl, SRP needs no trust anchors: the failure is the network, not ETLS */
	c = estkit_client_new("https://127.0.0.1:1");
	assert_non_null(c);
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_ETLS);
	assert_int_equal(estkit_client_set_srp(c, "alice", "pw"), ESTKIT_OK);
	assert_int_equal(estkit_client_cacerts(c, &certs), ESTKIT_ENET);
	assert_null(certs);
	estkit_client_free(c);
}

/* ---- credentials only to an authorized server (RFC 7030 3.6) ---- */

/* A certificate for key, signed by ikey (self-signed when issuer is NULL). */
static X509 *mk_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey,
                     const char *san, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *e = NULL;
	const char *ext[3][2] = {{issuer == NULL ? "critical,CA:TRUE" : "CA:FALSE", NULL},
	                         {san, NULL},
	                         {eku, NULL}};
	const int nids[3] = {NID_basic_constraints, NID_subject_alt_name, NID_ext_key_usage};
	int i;

	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(intptr_t)key & 0x7fffffff), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	                                            (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (i = 0; i < 3; i++) {
		if (ext[i][0] == NULL)
			continue;
		e = X509V3_EXT_conf_nid(NULL, &v3, nids[i], ext[i][0]);
		assert_non_null(e);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* A chain of the leaf alone (the anchor is the client's). */
static STACK_OF(X509) *chain_of(X509 *leaf)
{
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	assert_int_equal(X509_up_ref(leaf), 1);
	assert_true(sk_X509_push(sk, leaf) > 0);
	return sk;
}

enum which_chain { NO_CHAIN, GOOD, OTHER_HOST, UNTRUSTED, RA, IP_GOOD };

static void test_credentials_only_to_an_authorized_server(void **state)
{
	static const struct {
		const char *url;
		enum which_chain chain;
		int accept_ra, declared, no_trust;
		enum estkit_status chain_rc, want;
		const char *auth; /* what the server saw */
		const char *msg;  /* in estkit_client_errmsg() when want != OK */
	} cases[] = {
	    /* default: no chain reported, nothing declared: no credentials leave */
	    {"https://ca.example", NO_CHAIN, 0, 0, 0, ESTKIT_OK, ESTKIT_EAUTH, "",
	     "estkit_http_response_set_peer_chain"},
	    {"https://ca.example", GOOD, 0, 0, 0, ESTKIT_OK, ESTKIT_OK, "Basic ZXN0dXNlcjplc3Rwd2Q=",
	     NULL},
	    {"https://10.1.2.3:8443", IP_GOOD, 0, 0, 0, ESTKIT_OK, ESTKIT_OK,
	     "Basic ZXN0dXNlcjplc3Rwd2Q=", NULL},
	    {"https://ca.example", OTHER_HOST, 0, 0, 0, ESTKIT_ETLS, ESTKIT_EAUTH, "",
	     "does not match ca.example"},
	    {"https://ca.example", UNTRUSTED, 0, 0, 0, ESTKIT_ETLS, ESTKIT_EAUTH, "", "not trusted"},
	    {"https://ca.example", GOOD, 0, 0, 1, ESTKIT_ETLS, ESTKIT_EAUTH, "", "no trust anchors"},
	    /* id-kp-cmcRA authorizes another name only with accept_ra (RFC 7030 3.6.1) */
	    {"https://ca.example", RA, 0, 0, 0, ESTKIT_ETLS, ESTKIT_EAUTH, "", "does not match"},
	    {"https://ca.example", RA, 1, 0, 0, ESTKIT_OK, ESTKIT_OK, "Basic ZXN0dXNlcjplc3Rwd2Q=",
	     NULL},
	    {"https://ca.example", OTHER_HOST, 1, 0, 0, ESTKIT_ETLS, ESTKIT_EAUTH, "", "id-kp-cmcRA"},
	    /* the caller's explicit declaration: the header is in req->headers */
	    {"https://ca.example", NO_CHAIN, 0, 1, 0, ESTKIT_OK, ESTKIT_OK,
	     "Basic ZXN0dXNlcjplc3Rwd2Q=", NULL},
	};
	EVP_PKEY *cak = NULL, *k = NULL, *evk = NULL;
	X509 *ca = NULL, *evil = NULL, *certs[6] = {NULL};
	STACK_OF(X509) *anchors = sk_X509_new_null();
	EVP_PKEY *csrkey = NULL;
	X509_REQ *csr = NULL;
	size_t i;

	(void)state;
	assert_int_equal(estkit_key_generate("ec:P-256", &cak), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &k), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &evk), ESTKIT_OK);
	assert_int_equal(estkit_key_generate("ec:P-256", &csrkey), ESTKIT_OK);
	ca = mk_cert(cak, "Test EST CA", NULL, NULL, NULL, NULL);
	evil = mk_cert(evk, "Test EST CA", NULL, NULL, NULL, NULL); /* same name, other key */
	certs[GOOD] = mk_cert(k, "ca.example", ca, cak, "DNS:ca.example", "serverAuth");
	certs[IP_GOOD] = mk_cert(k, "10.1.2.3", ca, cak, "IP:10.1.2.3", "serverAuth");
	certs[OTHER_HOST] = mk_cert(k, "other.example", ca, cak, "DNS:other.example", "serverAuth");
	certs[UNTRUSTED] = mk_cert(k, "ca.example", evil, evk, "DNS:ca.example", "serverAuth");
	certs[RA] = mk_cert(k, "ra", ca, cak, "DNS:ra.example", "serverAuth,1.3.6.1.5.5.7.3.28");
	assert_true(sk_X509_push(anchors, ca) > 0);
	assert_int_equal(estkit_csr_new(csrkey, "CN=dev1", NULL, 0, NULL, &csr), ESTKIT_OK);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f;
		struct estkit_client *c = client(&f, cases[i].url);
		STACK_OF(X509) *out = NULL;
		enum estkit_status rc;

		if (!cases[i].no_trust)
			assert_int_equal(estkit_client_set_trust_certs(c, anchors), ESTKIT_OK);
		assert_int_equal(estkit_client_set_basic_auth(c, "estuser", "estpwd"), ESTKIT_OK);
		estkit_client_set_accept_ra(c, cases[i].accept_ra);
		estkit_client_set_transport_authorized(c, cases[i].declared);
		f.chain = cases[i].chain != NO_CHAIN ? chain_of(certs[cases[i].chain]) : NULL;
		rc = estkit_client_simpleenroll(c, csr, &out);
		if (rc != cases[i].want || f.chain_rc != cases[i].chain_rc ||
		    strcmp(f.auth, cases[i].auth) != 0)
			fail_msg("case %zu: %s (%s), chain %s, server saw '%s'", i, estkit_strerror(rc),
			         estkit_client_errmsg(c), estkit_strerror(f.chain_rc), f.auth);
		if (cases[i].msg != NULL && strstr(estkit_client_errmsg(c), cases[i].msg) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, estkit_client_errmsg(c),
			         cases[i].msg);
		assert_int_equal(f.calls, 1);
		sk_X509_pop_free(out, X509_free);
		sk_X509_pop_free(f.chain, X509_free);
		estkit_client_free(c);
	}
	/* bad arguments: no response, an empty chain (the hook saw no certificate) */
	assert_int_equal(estkit_http_response_set_peer_chain(NULL, anchors), ESTKIT_EINVAL);
	{
		struct fake f;
		struct estkit_client *c = client(&f, "https://ca.example");
		STACK_OF(X509) *out = NULL;

		assert_int_equal(estkit_client_set_trust_certs(c, anchors), ESTKIT_OK);
		assert_int_equal(estkit_client_set_basic_auth(c, "estuser", "estpwd"), ESTKIT_OK);
		f.chain = sk_X509_new_null();
		assert_int_equal(estkit_client_simpleenroll(c, csr, &out), ESTKIT_EAUTH);
		assert_int_equal(f.chain_rc, ESTKIT_EINVAL);
		assert_string_equal(f.auth, "");
		sk_X509_free(f.chain);
		estkit_client_free(c);
	}
	assert_null(estkit_http_response_authorization(NULL));
	estkit_client_set_transport_authorized(NULL, 1);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	sk_X509_pop_free(anchors, X509_free);
	X509_free(evil);
	X509_REQ_free(csr);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	EVP_PKEY_free(evk);
	EVP_PKEY_free(csrkey);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_srp_settings),
	    cmocka_unit_test(test_cacerts_and_csrattrs_through_hook),
	    cmocka_unit_test(test_enroll_basic_auth_and_uri_key),
	    cmocka_unit_test(test_hook_answers_table),
	    cmocka_unit_test(test_hook_limits),
	    cmocka_unit_test(test_credentials_only_to_an_authorized_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
