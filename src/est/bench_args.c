/*
 * bench_args.c - the options of `est bench` (docs/est.1).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "bench.h"

#define CMD "bench"

static const char *const op_names[] = {
    [EST_BENCH_CACERTS] = "cacerts",
    [EST_BENCH_SIMPLEENROLL] = "simpleenroll",
    [EST_BENCH_SIMPLEREENROLL] = "simplereenroll",
    [EST_BENCH_SERVERKEYGEN] = "serverkeygen",
};

const char *est_bench_op_name(enum est_bench_op op)
{
	if ((size_t)op >= sizeof(op_names) / sizeof(op_names[0]))
		return "?";
	return op_names[op];
}

void est_usage_bench(FILE *f)
{
	fprintf(
	    f,
	    "usage: est bench --server URL --cacert FILE\n"
	    "                 --op cacerts|simpleenroll|simplereenroll|serverkeygen\n"
	    "                 (--duration SECONDS | --requests N) [--concurrency N] [--keepalive]\n"
	    "                 [--tls1.2 | --tls1.3] [--keys N] [--key-type SPEC] [--json]\n"
	    "                 [--user NAME [--password-file FILE | --password PW]]\n"
	    "                 [--auth basic|digest|any] [--cert FILE --key FILE]\n"
	    "                 [--timeout SECONDS]\n"
	    "\n"
	    "Puts an EST server under load and reports requests/s, latency percentiles\n"
	    "(p50, p90, p99, max) and errors by kind. Keys, requests and (for reenroll)\n"
	    "client certificates are made before the clock starts.\n"
	    "  --op OP            the operation (each worker sends it in a loop)\n"
	    "  --concurrency N    workers, one request in flight each (default 1, max %d)\n"
	    "  --duration S       run for S seconds, or\n"
	    "  --requests N       send N requests in all\n"
	    "  --keepalive        one TLS connection per worker (default: a new TLS\n"
	    "                     connection, full handshake, for every request)\n"
	    "  --tls1.2, --tls1.3 highest TLS version offered (TLS 1.2 is the minimum)\n"
	    "  --keys N           distinct keys and requests to cycle through (default %ld)\n"
	    "  --key-type SPEC    their type: ec:P-256 (default), rsa:2048, ...\n"
	    "  --cacert FILE      trust anchors (also --trust)\n"
	    "  --cert, --key      TLS client certificate (reenroll renews it); without them\n"
	    "                     reenroll first enrolls one certificate per worker with --user\n"
	    "  --json             print one JSON object instead of the report\n"
	    "Exit 0 when at least one request succeeded (errors are in the report).\n",
	    EST_BENCH_MAX_CONCURRENCY, EST_BENCH_DEFAULT_KEYS);
}

static int parse_op(const char *arg, struct est_bench_opts *o)
{
	size_t i;

	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strcmp(arg, op_names[i]) == 0) {
			o->op = (enum est_bench_op)i;
			return 0;
		}
	}
	return est_usage_error(CMD, "--op wants cacerts, simpleenroll, simplereenroll or "
	                            "serverkeygen");
}

static int parse_number(const char *opt, const char *arg, long max, long *out)
{
	if (est_parse_long(arg, 1, max, out) != 0)
		return est_usage_error(CMD, "%s wants a number from 1 to %ld", opt, max);
	return 0;
}

static int parse_one(struct est_bench_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 's': o->conn.server = arg; return 0;
	case 'c': o->conn.cacert = arg; return 0;
	case 'u': o->conn.user = arg; return 0;
	case 'p': o->conn.password = arg; return 0;
	case 'P': o->conn.password_file = arg; return 0;
	case 'C': o->conn.cert = arg; return 0;
	case 'k': o->conn.key = arg; return 0;
	case 'K': o->key_type = arg; return 0;
	case 'a': o->keepalive = 1; return 0;
	case 'j': o->json = 1; return 0;
	case 'v': o->conn.verbose = 1; return 0;
	case 'Z': o->conn.accept_ra = 1; return 0;
	case '2': o->conn.tls_max = TLS1_2_VERSION; return 0;
	case '3': o->conn.tls_max = TLS1_3_VERSION; return 0;
	case 'o': return parse_op(arg, o);
	case 'n': return parse_number("--concurrency", arg, EST_BENCH_MAX_CONCURRENCY,
	                              &o->concurrency);
	case 'd': return parse_number("--duration", arg, EST_BENCH_MAX_DURATION, &o->duration);
	case 'r': return parse_number("--requests", arg, EST_BENCH_MAX_REQUESTS, &o->requests);
	case 'N': return parse_number("--keys", arg, EST_BENCH_MAX_KEYS, &o->keys);
	case 't': return parse_number("--timeout", arg, 3600, &o->conn.timeout);
	case 'A':
		if (strcmp(arg, "basic") != 0 && strcmp(arg, "digest") != 0 &&
		    strcmp(arg, "any") != 0)
			return est_usage_error(CMD, "--auth wants basic, digest or any");
		o->conn.auth = arg;
		return 0;
	default: return est_usage_error(CMD, "unknown option");
	}
}

/* parse_one() that also counts --op and the TLS version flags, for check(). */
struct parse_state {
	struct est_bench_opts *o;
	int have_op;
	int tls_flags;
};

static int parse_counted(void *ctx, int ch, const char *arg)
{
	struct parse_state *ps = ctx;

	ps->have_op |= ch == 'o';
	ps->tls_flags += ch == '2' || ch == '3';
	return parse_one(ps->o, ch, arg);
}

/* Options that only make sense together. */
static int check(const struct est_bench_opts *o, int have_op, int tls_flags)
{
	if (o->conn.server == NULL)
		return est_usage_error(CMD, "--server is required");
	if (o->conn.cacert == NULL)
		return est_usage_error(CMD, "--cacert (or --trust) is required");
	if (!have_op)
		return est_usage_error(CMD, "--op is required");
	if ((o->duration == 0) == (o->requests == 0))
		return est_usage_error(CMD, "give exactly one of --duration and --requests");
	if (tls_flags > 1)
		return est_usage_error(CMD, "--tls1.2 and --tls1.3 exclude each other");
	if ((o->conn.cert == NULL) != (o->conn.key == NULL))
		return est_usage_error(CMD, "--cert and --key go together");
	if (o->op == EST_BENCH_SIMPLEREENROLL && o->conn.cert == NULL && o->conn.user == NULL)
		return est_usage_error(CMD, "simplereenroll needs --cert/--key, or --user to "
		                            "enroll the certificates it renews");
	if (o->op == EST_BENCH_CACERTS && (o->keys != 0 || o->key_type != NULL))
		return est_usage_error(CMD, "--keys and --key-type are for the enrollment ops");
	if ((o->conn.password != NULL || o->conn.password_file != NULL) && o->conn.user == NULL)
		return est_usage_error(CMD, "--password and --password-file need --user");
	return 0;
}

int est_bench_parse(int argc, char **argv, struct est_bench_opts *o)
{
	static const struct option longopts[] = {
	    EST_CONN_LONGOPTS,
	    {"trust", required_argument, NULL, 'c'},
	    {"auth", required_argument, NULL, 'A'},
	    {"key", required_argument, NULL, 'k'},
	    {"op", required_argument, NULL, 'o'},
	    {"concurrency", required_argument, NULL, 'n'},
	    {"duration", required_argument, NULL, 'd'},
	    {"requests", required_argument, NULL, 'r'},
	    {"keys", required_argument, NULL, 'N'},
	    {"key-type", required_argument, NULL, 'K'},
	    {"keepalive", no_argument, NULL, 'a'},
	    {"tls1.2", no_argument, NULL, '2'},
	    {"tls1.3", no_argument, NULL, '3'},
	    {"json", no_argument, NULL, 'j'},
	    {"accept-ra", no_argument, NULL, 'Z'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct parse_state ps = {o, 0, 0};
	int ex = 0;

	memset(o, 0, sizeof(*o));
	o->concurrency = 1;
	ex = est_getopt(CMD, argc, argv, ":s:c:u:p:n:d:r:t:o:vh", longopts, est_usage_bench,
	                parse_counted, &ps);
	if (ex != 0)
		return ex;
	return check(o, ps.have_op, ps.tls_flags);
}
