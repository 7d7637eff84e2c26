/*
 * bench.h - `est bench`, a load generator for EST servers: its options
 * (bench_args.c), its statistics and reports (bench_stats.c) and the run
 * itself (bench.c, bench_setup.c). Public libestkit API only.
 */
#ifndef EST_BENCH_H
#define EST_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

/* Limits of the options (docs/est.1). */
#define EST_BENCH_MAX_CONCURRENCY 1000
#define EST_BENCH_MAX_DURATION    86400L
#define EST_BENCH_MAX_REQUESTS    100000000L
#define EST_BENCH_MAX_KEYS        100000L
#define EST_BENCH_DEFAULT_KEYS    64L

/* The operation under load. */
enum est_bench_op {
	EST_BENCH_CACERTS = 0,
	EST_BENCH_SIMPLEENROLL,
	EST_BENCH_SIMPLEREENROLL,
	EST_BENCH_SERVERKEYGEN,
};

struct est_bench_opts {
	struct est_conn conn;    /* --server, --cacert/--trust, --user, --cert ... */
	enum est_bench_op op;
	long concurrency;        /* workers, each with one request in flight */
	long duration;           /* seconds, or 0 when --requests is given */
	long requests;           /* total requests, or 0 when --duration is given */
	long keys;               /* distinct keys (and CSRs) made before timing */
	const char *key_type;    /* spec of those keys (estkit_key_generate), NULL: ec:P-256 */
	int keepalive;           /* 1: one connection per worker; 0: a new one per request */
	int json;                /* print the JSON summary instead of the text report */
};

/* The name of op as given to --op ("cacerts", ...). */
const char *est_bench_op_name(enum est_bench_op op);

/*
 * Parses the arguments of `est bench` (argv[0] is "bench") into o and checks
 * them. Returns 0 when o is ready, -1 after --help (exit 0), or
 * EST_EXIT_USAGE after printing the usage error.
 */
int est_bench_parse(int argc, char **argv, struct est_bench_opts *o);


/* ---- bench_stats.c: latencies and errors ------------------------------------------- */

#define EST_BENCH_KIND_MAX 32  /* distinct error kinds kept; more count as "other" */
#define EST_BENCH_KIND_LEN 24
#define EST_BENCH_MSG_LEN  160

/* Requests of one kind of error, with the first message seen. */
struct est_bench_kind {
	char name[EST_BENCH_KIND_LEN]; /* "http_503", "tls", "timeout", "network", "other" */
	uint64_t count;
	char first[EST_BENCH_MSG_LEN];
};

/* What a worker (or, merged, the whole run) saw. */
struct est_bench_stats {
	uint64_t *lat_us;    /* latency of each successful request, microseconds */
	size_t nlat, caplat;
	uint64_t ok, failed;
	struct est_bench_kind kinds[EST_BENCH_KIND_MAX];
	size_t nkinds;
};

/* Records a success that took us microseconds. Returns 0, or -1 out of memory. */
int est_bench_stats_ok(struct est_bench_stats *s, uint64_t us);

/* Records a failure of kind (truncated to fit) with its message (first one kept). */
void est_bench_stats_fail(struct est_bench_stats *s, const char *kind, const char *msg);

/* Adds everything of from into to. Returns 0, or -1 out of memory. */
int est_bench_stats_merge(struct est_bench_stats *to, const struct est_bench_stats *from);

/* Frees the latencies; s is zeroed. */
void est_bench_stats_clear(struct est_bench_stats *s);

/*
 * The p-th percentile (0 < p <= 100) of the n values of sorted (ascending)
 * by the nearest-rank method: the smallest value with at least p% of the
 * values at or below it. 0 when n is 0.
 */
uint64_t est_bench_percentile(const uint64_t *sorted, size_t n, double p);

/* Sorts the latencies of s in ascending order. */
void est_bench_stats_sort(struct est_bench_stats *s);

/* The kind of a failed request: "http_NNN" for an HTTP answer, else by status. */
void est_bench_error_kind(enum estkit_status rc, long http_status, char out[EST_BENCH_KIND_LEN]);

/* What the run measured besides the statistics. */
struct est_bench_run {
	double wall_s;           /* timed wall-clock seconds */
	double cpu_s;            /* CPU seconds of this process (user + system) while timed */
	double setup_s;          /* untimed preparation (keys, CSRs, client certificates) */
	long distinct_keys;      /* keys the requests were made with */
	const char *tls;         /* "1.2", "1.3" or "any" */
};

/*
 * Prints the report of a finished run to f: text, or with o->json one JSON
 * object. s must be sorted (est_bench_stats_sort()).
 */
void est_bench_report(FILE *f, const struct est_bench_opts *o, const struct est_bench_run *r,
                      const struct est_bench_stats *s);

/* ---- bench_setup.c: what is made before timing --------------------------------------- */

/* One worker's material: its CSRs (private copies) and TLS client key for reenroll. */
struct est_bench_material {
	X509_REQ **csrs;
	size_t ncsrs;
	X509 *cert;     /* TLS client certificate, or NULL */
	EVP_PKEY *key;
};

/*
 * Makes the material of nworkers workers for o: o->keys keys and CSRs shared
 * out among the workers (enroll, serverkeygen), or one certificate per
 * worker enrolled now with --user (reenroll without --cert). *distinct is
 * the number of distinct keys. Returns an exit code after printing errors.
 */
int est_bench_prepare(const struct est_bench_opts *o, const char *password,
                      STACK_OF(X509) *trust, struct est_bench_material *m, size_t nworkers,
                      long *distinct);

/* Frees what est_bench_prepare() made in m[0..n). */
void est_bench_material_free(struct est_bench_material *m, size_t n);

/*
 * A client for o->server with trust, the user and password (NULL: none), and
 * the TLS client key of m (if any). NULL after recording why in *err (a
 * static message).
 */
struct estkit_client *est_bench_client(const struct est_bench_opts *o, STACK_OF(X509) *trust,
                                       const char *password, const struct est_bench_material *m,
                                       const char **err);

#endif /* EST_BENCH_H */
