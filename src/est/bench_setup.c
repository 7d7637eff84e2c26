/*
 * bench_setup.c - what `est bench` makes before the clock starts: keys and
 * PKCS#10 requests shared out among the workers, and for /simplereenroll
 * the certificates the workers renew (enrolled now, or --cert/--key).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "bench.h"

#define CMD "bench"

struct estkit_client *est_bench_client(const struct est_bench_opts *o, STACK_OF(X509) *trust,
                                       const char *password, const struct est_bench_material *m,
                                       const char **err)
{
	struct estkit_client *c = estkit_client_new(o->conn.server);
	const char *a = o->conn.auth;

	*err = "bad --server URL (want https://host[:port][/label]) or out of memory";
	if (c == NULL)
		return NULL;
	if (o->conn.timeout > 0)
		estkit_client_set_timeout(c, o->conn.timeout);
	if (o->conn.tls_max != 0)
		estkit_client_set_tls_max(c, o->conn.tls_max);
	estkit_client_set_accept_ra(c, o->conn.accept_ra);
	*err = "cannot set the trust anchors";
	if (estkit_client_set_trust_certs(c, trust) != ESTKIT_OK)
		goto fail;
	*err = "cannot set the user name and password";
	if (o->conn.user != NULL &&
	    (estkit_client_set_basic_auth(c, o->conn.user, password) != ESTKIT_OK ||
	     (a != NULL && estkit_client_set_auth_methods(
	                       c, strcmp(a, "digest") == 0 ? ESTKIT_AUTH_DIGEST
	                          : strcmp(a, "any") == 0  ? ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST
	                                                   : ESTKIT_AUTH_BASIC) != ESTKIT_OK)))
		goto fail;
	*err = "cannot use the TLS client certificate";
	if (m != NULL && m->cert != NULL &&
	    estkit_client_set_client_key(c, m->cert, m->key, NULL) != ESTKIT_OK)
		goto fail;
	*err = NULL;
	return c;
fail:
	estkit_client_free(c);
	return NULL;
}

void est_bench_material_free(struct est_bench_material *m, size_t n)
{
	size_t i, j;

	for (i = 0; m != NULL && i < n; i++) {
		for (j = 0; j < m[i].ncsrs; j++)
			X509_REQ_free(m[i].csrs[j]);
		free(m[i].csrs);
		X509_free(m[i].cert);
		EVP_PKEY_free(m[i].key);
	}
}

/* Appends csr (taken) to m's requests. */
static int give_csr(struct est_bench_material *m, X509_REQ *csr)
{
	X509_REQ **n = realloc(m->csrs, (m->ncsrs + 1) * sizeof(*n));

	if (n == NULL) {
		X509_REQ_free(csr);
		return -1;
	}
	m->csrs = n;
	m->csrs[m->ncsrs++] = csr;
	return 0;
}

/* A new key of o->key_type and a request for it with subject CN=<prefix>-<i>. */
static int new_csr(const struct est_bench_opts *o, const char *prefix, long i, EVP_PKEY **key,
                   X509_REQ **csr)
{
	char subject[96];
	enum estkit_status rc = ESTKIT_OK;

	snprintf(subject, sizeof(subject), "CN=%s-%ld", prefix, i);
	if ((rc = estkit_key_generate(o->key_type, key)) != ESTKIT_OK) {
		est_err(CMD, "cannot generate a %s key: %s", o->key_type ? o->key_type : "ec:P-256",
		        estkit_strerror(rc));
		return -1;
	}
	if ((rc = estkit_csr_new(*key, subject, NULL, 0, NULL, csr)) != ESTKIT_OK) {
		est_err(CMD, "cannot make a request: %s", estkit_strerror(rc));
		EVP_PKEY_free(*key);
		*key = NULL;
		return -1;
	}
	return 0;
}

/*
 * k keys and requests; with k >= n worker w gets requests w, w+n, ...,
 * else a private copy of request w % k (no two threads share an object).
 */
static int share_csrs(const struct est_bench_opts *o, struct est_bench_material *m, size_t n,
                      long k)
{
	X509_REQ **pool = NULL;
	EVP_PKEY *key = NULL;
	long i = 0, made = 0;
	int ex = EST_EXIT_FAIL;

	if ((pool = calloc((size_t)k, sizeof(*pool))) == NULL)
		goto oom;
	for (made = 0; made < k; made++) {
		if (new_csr(o, "est-bench", made, &key, &pool[made]) != 0)
			goto out;
		EVP_PKEY_free(key);
		key = NULL;
	}
	for (i = 0; i < (long)n && (size_t)k < n; i++)
		if (give_csr(&m[i], X509_REQ_dup(pool[i % k])) != 0 ||
		    m[i].csrs[m[i].ncsrs - 1] == NULL)
			goto oom;
	for (i = 0; i < k && (size_t)k >= n; i++) {
		X509_REQ *csr = pool[i];

		pool[i] = NULL;
		if (give_csr(&m[(size_t)i % n], csr) != 0)
			goto oom;
	}
	ex = EST_EXIT_OK;
	goto out;
oom:
	est_err(CMD, "out of memory");
out:
	for (i = 0; pool != NULL && i < made; i++)
		X509_REQ_free(pool[i]);
	free(pool);
	return ex;
}

/* Enrolls a certificate for worker w (untimed) so it can renew it. */
static int enroll_for_reenroll(const struct est_bench_opts *o, const char *password,
                               STACK_OF(X509) *trust, struct est_bench_material *m, long w)
{
	struct estkit_client *c = NULL;
	STACK_OF(X509) *certs = NULL;
	X509_REQ *csr = NULL, *re = NULL;
	X509 *leaf = NULL;
	const char *why = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int ex = EST_EXIT_FAIL;

	if (new_csr(o, "est-bench-reenroll", w, &m->key, &csr) != 0)
		goto out;
	if ((c = est_bench_client(o, trust, password, NULL, &why)) == NULL) {
		est_err(CMD, "%s", why);
		goto out;
	}
	if ((rc = estkit_client_simpleenroll(c, csr, &certs)) != ESTKIT_OK) {
		ex = est_client_error(CMD, c, rc);
		goto out;
	}
	if ((leaf = estkit_certs_find_by_key(certs, m->key)) == NULL || !X509_up_ref(leaf)) {
		est_err(CMD, "the enrollment answer holds no certificate for the key");
		goto out;
	}
	m->cert = leaf;
	if (estkit_client_reenroll_csr(m->cert, m->key, &re) != ESTKIT_OK || give_csr(m, re) != 0)
		goto out;
	ex = EST_EXIT_OK;
out:
	X509_REQ_free(csr);
	est_certs_free(certs);
	estkit_client_free(c);
	return ex;
}

/* --cert/--key for every worker (shared objects, referenced), and for reenroll its request. */
static int use_given_cert(const struct est_bench_opts *o, struct est_bench_material *m, size_t n)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	X509_REQ *re = NULL;
	enum estkit_status rc = ESTKIT_OK;
	size_t i;
	int ex = EST_EXIT_FAIL;

	if ((rc = estkit_cert_load(o->conn.cert, &cert)) != ESTKIT_OK ||
	    (rc = estkit_key_load(o->conn.key, &key)) != ESTKIT_OK) {
		est_err(CMD, "cannot read %s: %s", cert == NULL ? o->conn.cert : o->conn.key,
		        estkit_strerror(rc));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!X509_up_ref(cert) || !EVP_PKEY_up_ref(key))
			goto out;
		m[i].cert = cert;
		m[i].key = key;
		if (o->op != EST_BENCH_SIMPLEREENROLL)
			continue;
		if (estkit_client_reenroll_csr(cert, key, &re) != ESTKIT_OK || give_csr(&m[i], re) != 0) {
			est_err(CMD, "cannot make the reenroll request for %s", o->conn.cert);
			goto out;
		}
	}
	ex = EST_EXIT_OK;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return ex;
}

int est_bench_prepare(const struct est_bench_opts *o, const char *password,
                      STACK_OF(X509) *trust, struct est_bench_material *m, size_t nworkers,
                      long *distinct)
{
	long k = o->keys != 0 ? o->keys : EST_BENCH_DEFAULT_KEYS;
	size_t i;
	int ex = EST_EXIT_OK;

	*distinct = 0;
	if (o->conn.cert != NULL && (ex = use_given_cert(o, m, nworkers)) != EST_EXIT_OK)
		return ex;
	switch (o->op) {
	case EST_BENCH_CACERTS: return EST_EXIT_OK;
	case EST_BENCH_SIMPLEREENROLL:
		*distinct = o->conn.cert != NULL ? 1 : (long)nworkers;
		for (i = 0; o->conn.cert == NULL && i < nworkers; i++)
			if ((ex = enroll_for_reenroll(o, password, trust, &m[i], (long)i)) != 0)
				return ex;
		return EST_EXIT_OK;
	default:
		if (o->requests != 0 && o->requests < k)
			k = o->requests; /* no key made that no request uses */
		*distinct = k;
		return share_csrs(o, m, nworkers, k);
	}
}
