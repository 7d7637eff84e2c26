/*
 * bench.c - `est bench`: N worker threads, each with one EST request in
 * flight, for a duration or a number of requests. Each worker has its own
 * estkit_client (the handle is not thread-safe): kept for the whole run with
 * --keepalive (libcurl reuses the TLS connection), else made anew for every
 * request so that every request pays a full TLS handshake (a fresh handle
 * has no TLS session to resume). Keys and requests are made before timing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/err.h>

#include "bench.h"

#define CMD "bench"

/* What the workers share. */
struct bench_shared {
	const struct est_bench_opts *o;
	STACK_OF(X509) *trust;
	const char *password;
	pthread_mutex_t lock;       /* with go: the workers start together */
	pthread_cond_t go_cond;
	int go;
	int stop;                   /* set before go: start no request */
	double deadline;            /* --duration: monotonic seconds */
	atomic_long remaining;      /* --requests: requests not yet taken */
};

struct worker {
	struct bench_shared *sh;
	const struct est_bench_material *m;
	struct est_bench_stats stats;
	pthread_t tid;
	int started;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One request of the operation under load; the answer is parsed, then dropped. */
static enum estkit_status one_request(struct estkit_client *c, enum est_bench_op op,
                                      X509_REQ *csr)
{
	STACK_OF(X509) *certs = NULL;
	struct estkit_serverkeygen_result res;
	enum estkit_status rc = ESTKIT_EINVAL;

	switch (op) {
	case EST_BENCH_CACERTS: rc = estkit_client_cacerts(c, &certs); break;
	case EST_BENCH_SIMPLEENROLL: rc = estkit_client_simpleenroll(c, csr, &certs); break;
	case EST_BENCH_SIMPLEREENROLL: rc = estkit_client_simplereenroll(c, csr, &certs); break;
	case EST_BENCH_SERVERKEYGEN:
		memset(&res, 0, sizeof(res));
		rc = estkit_client_serverkeygen(c, csr, NULL, &res);
		estkit_serverkeygen_result_clear(&res);
		break;
	}
	est_certs_free(certs);
	ERR_clear_error();
	return rc;
}

/* 1 while the worker should send another request. */
static int more(struct bench_shared *sh)
{
	if (sh->stop)
		return 0;
	if (sh->o->requests != 0)
		return atomic_fetch_sub(&sh->remaining, 1) > 0;
	return now_s() < sh->deadline;
}

/* Times one request on c (made here when c is NULL, i.e. no keep-alive) and records it. */
static int timed_request(struct worker *w, struct estkit_client *keep, X509_REQ *csr)
{
	struct bench_shared *sh = w->sh;
	struct estkit_client *c = keep;
	const char *why = NULL;
	char kind[EST_BENCH_KIND_LEN];
	uint64_t t0 = now_us();
	enum estkit_status rc = ESTKIT_OK;

	if (c == NULL && (c = est_bench_client(sh->o, sh->trust, sh->password, w->m, &why)) == NULL) {
		est_bench_stats_fail(&w->stats, "client", why);
		return 0;
	}
	rc = one_request(c, sh->o->op, csr);
	if (rc == ESTKIT_OK) {
		if (est_bench_stats_ok(&w->stats, now_us() - t0) != 0)
			return -1;
	} else {
		est_bench_error_kind(rc, estkit_client_http_status(c), kind);
		est_bench_stats_fail(&w->stats, kind, estkit_client_errmsg(c));
	}
	if (c != keep)
		estkit_client_free(c);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench_shared *sh = w->sh;
	struct estkit_client *keep = NULL;
	const char *why = NULL;
	size_t next = 0;

	pthread_mutex_lock(&sh->lock);
	while (!sh->go)
		pthread_cond_wait(&sh->go_cond, &sh->lock);
	pthread_mutex_unlock(&sh->lock);
	if (sh->stop)
		return NULL;
	if (sh->o->keepalive &&
	    (keep = est_bench_client(sh->o, sh->trust, sh->password, w->m, &why)) == NULL) {
		est_bench_stats_fail(&w->stats, "client", why);
		return NULL;
	}
	while (more(sh)) {
		X509_REQ *csr = w->m->ncsrs > 0 ? w->m->csrs[next++ % w->m->ncsrs] : NULL;

		if (timed_request(w, keep, csr) != 0) {
			est_bench_stats_fail(&w->stats, "client", "out of memory");
			break;
		}
	}
	estkit_client_free(keep);
	return NULL;
}

/* Starts the workers, releases them together, waits; fills r's times. */
static int run_workers(struct bench_shared *sh, struct worker *w, size_t n,
                       struct est_bench_run *r)
{
	double t0 = 0, c0 = 0;
	size_t i;
	int ex = EST_EXIT_OK;

	for (i = 0; i < n; i++) {
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			est_err(CMD, "cannot start worker %zu of %zu", i + 1, n);
			ex = EST_EXIT_FAIL;
			sh->stop = 1; /* written before go: the started ones see it */
			break;
		}
		w[i].started = 1;
	}
	pthread_mutex_lock(&sh->lock);
	sh->deadline = now_s() + (double)sh->o->duration;
	t0 = now_s();
	c0 = cpu_s();
	sh->go = 1;
	pthread_cond_broadcast(&sh->go_cond);
	pthread_mutex_unlock(&sh->lock);
	for (i = 0; i < n; i++)
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
	r->wall_s = now_s() - t0;
	r->cpu_s = cpu_s() - c0;
	return ex;
}

/* Everything but parsing: prepare, run, report. */
static int bench(const struct est_bench_opts *o, STACK_OF(X509) *trust, const char *password)
{
	size_t n = (size_t)o->concurrency, i;
	struct est_bench_material *m = calloc(n, sizeof(*m));
	struct worker *w = calloc(n, sizeof(*w));
	struct bench_shared sh;
	struct est_bench_stats all;
	struct est_bench_run r;
	double t0 = now_s();
	int ex = EST_EXIT_FAIL;

	memset(&sh, 0, sizeof(sh));
	memset(&all, 0, sizeof(all));
	memset(&r, 0, sizeof(r));
	if (m == NULL || w == NULL) {
		est_err(CMD, "out of memory");
		goto out;
	}
	if ((ex = est_bench_prepare(o, password, trust, m, n, &r.distinct_keys)) != EST_EXIT_OK)
		goto out;
	r.setup_s = now_s() - t0;
	r.tls = o->conn.tls_max == TLS1_2_VERSION ? "1.2" : o->conn.tls_max ? "1.3" : "any";
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.go_cond, NULL);
	sh.o = o;
	sh.trust = trust;
	sh.password = password;
	atomic_init(&sh.remaining, o->requests);
	for (i = 0; i < n; i++) {
		w[i].sh = &sh;
		w[i].m = &m[i];
	}
	if ((ex = run_workers(&sh, w, n, &r)) != EST_EXIT_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (est_bench_stats_merge(&all, &w[i].stats) != 0) {
			est_err(CMD, "out of memory");
			ex = EST_EXIT_FAIL;
			goto out;
		}
	est_bench_stats_sort(&all);
	est_bench_report(stdout, o, &r, &all);
	ex = all.ok > 0 ? EST_EXIT_OK : EST_EXIT_FAIL;
out:
	for (i = 0; w != NULL && i < n; i++)
		est_bench_stats_clear(&w[i].stats);
	est_bench_stats_clear(&all);
	if (sh.o != NULL) {
		pthread_mutex_destroy(&sh.lock);
		pthread_cond_destroy(&sh.go_cond);
	}
	est_bench_material_free(m, n);
	free(m);
	free(w);
	return ex;
}

int est_cmd_bench(int argc, char **argv)
{
	struct est_bench_opts o;
	struct estkit_client *keeper = NULL;
	STACK_OF(X509) *trust = NULL;
	char *password = NULL;
	const char *why = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int ex = 0;

	if ((ex = est_bench_parse(argc, argv, &o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((rc = estkit_certs_load(o.conn.cacert, &trust)) != ESTKIT_OK) {
		est_err(CMD, "cannot read %s: %s", o.conn.cacert, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	if (o.conn.user != NULL && (ex = est_password_get(CMD, &o.conn, &password)) != EST_EXIT_OK)
		goto out;
	/* Holds libcurl's global state for the run: per-request handles do not redo it. */
	if ((keeper = est_bench_client(&o, trust, password, NULL, &why)) == NULL) {
		ex = est_usage_error(CMD, "%s", why);
		goto out;
	}
	ex = bench(&o, trust, password);
out:
	estkit_client_free(keeper);
	est_secret_free(password);
	est_certs_free(trust);
	return ex;
}
