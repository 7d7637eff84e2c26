/*
 * agent.c - `est agent`: the command line, the daemon loop, --once and
 * status. What to do when comes from agent_sched.c; the files from
 * agent_store.c; the network from agent_renew.c and agent_trust.c.
 *
 * The daemon blocks SIGTERM, SIGINT and SIGHUP and waits for them with
 * sigtimedwait() between checks, so a signal never interrupts a renewal
 * half-way: SIGTERM ends the loop after the operation in progress (bounded
 * by the configured timeout), SIGHUP reloads the configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "agent.h"
#include "common.h"

#define CMD "agent"

struct aopts {
	const char *config;
	int once;
	int force;
	int status;
	int verbose;
};

void agent_log(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "est agent: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void est_usage_agent(FILE *f)
{
	fprintf(f,
	        "usage: est agent -c FILE [--once [--force]] [--verbose]\n"
	        "       est agent status -c FILE\n"
	        "\n"
	        "Keeps the certificates of FILE ([cert NAME] sections) renewed and their trust\n"
	        "anchors current (see est(1), AGENT).\n"
	        "  -c, --config FILE  the agent configuration\n"
	        "  --once             check every certificate once, renew what is due, exit:\n"
	        "                     0 done, 1 some failure, 75 some request pending (202)\n"
	        "  --force            with --once: renew every certificate now\n"
	        "  status             each certificate, its expiry and next renewal; exit 0 all\n"
	        "                     fine, 1 some failing or pending, 3 some expired or missing\n"
	        "Without --once it runs until SIGTERM; SIGHUP reloads FILE.\n");
}

static int parse(int argc, char **argv, struct aopts *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"once", no_argument, NULL, '1'},
	    {"force", no_argument, NULL, 'F'},        {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int ch = 0;

	opterr = 0;
	optind = 1;
	if (argc > 1 && strcmp(argv[1], "status") == 0) {
		o->status = 1;
		argv++;
		argc--;
	}
	while ((ch = getopt_long(argc, argv, ":c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case '1': o->once = 1; break;
		case 'F': o->force = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': est_usage_agent(stdout); return -1;
		case ':': return est_usage_error(CMD, "%s needs a value", argv[optind - 1]);
		default: return est_usage_error(CMD, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return est_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);
	if (o->config == NULL)
		return est_usage_error(CMD, "-c FILE is required");
	if (o->force && !o->once)
		return est_usage_error(CMD, "--force goes with --once");
	if (o->status && (o->once || o->force))
		return est_usage_error(CMD, "status takes only -c");
	return 0;
}

static void fmt_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* not_before/not_after of cert as Unix times. 0 or -1. */
static int validity(X509 *cert, time_t *nb, time_t *na)
{
	struct tm a, b;

	if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &b) != 1 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &a) != 1)
		return -1;
	*nb = timegm(&b);
	*na = timegm(&a);
	return 0;
}

/* The planned renewal time of cert (stable jitter from its DER). */
static time_t renew_time_of(const struct agent_cert *ac, X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	time_t nb = 0, na = 0;
	double jitter = 0;

	if (validity(cert, &nb, &na) != 0)
		return 0;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
		jitter = agent_jitter(md, mdlen);
	return agent_renew_time(nb, na, ac->renew_pct, ac->renew_before, jitter);
}

/* When ac wants the next attempt: a retry time after a failure, else its renewal time. */
static time_t due_time(const struct agent_cert *ac, const struct agent_state *st)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	time_t t = 0;

	if ((st->failures > 0 || st->pending) && st->next_attempt > 0)
		return (time_t)st->next_attempt;
	if (agent_store_current(ac, &cert, &key) != ESTKIT_OK)
		return time(NULL); /* none yet (or unreadable): now */
	t = renew_time_of(ac, cert);
	X509_free(cert);
	EVP_PKEY_free(key);
	return t;
}

/* A random number in [0, 1) for the backoff jitter. */
static double rnd01(void)
{
	unsigned char b[4];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0.5;
	return agent_jitter(b, sizeof(b));
}

/* Records the outcome of an attempt and when to try next. */
static void record(const struct agent_conf *conf, const struct agent_cert *ac,
                   enum agent_result r, long retry_after)
{
	struct agent_state st;
	time_t now = time(NULL);
	long wait = 0;

	if (agent_state_read(ac->store, &st) != 0)
		memset(&st, 0, sizeof(st));
	st.last_attempt = now;
	st.pending = r == AGENT_PENDING;
	if (r == AGENT_DONE) {
		st.failures = 0;
		st.last_success = now;
		st.last_error[0] = '\0';
		st.next_attempt = due_time(ac, &st);
	} else if (r == AGENT_PENDING) {
		wait = agent_pending_delay(retry_after, conf->retry_min, conf->retry_max);
		st.next_attempt = now + wait;
		snprintf(st.last_error, sizeof(st.last_error), "pending approval (HTTP 202)");
		agent_log(ac->name, "sending the same request again in %ld s", wait);
	} else {
		st.failures++;
		wait = agent_backoff(st.failures, conf->retry_min, conf->retry_max, rnd01());
		st.next_attempt = now + wait;
		snprintf(st.last_error, sizeof(st.last_error), "attempt %u failed, see the log",
		         st.failures);
		agent_log(ac->name, "retrying in %ld s (failure %u)", wait, st.failures);
	}
	if (agent_state_write(ac->store, &st) != 0)
		agent_log(ac->name, "cannot write the state file in %s", ac->store);
}

/* One attempt at ac, under its lock; returns its result. */
static enum agent_result attempt(const struct agent_conf *conf, const struct agent_cert *ac)
{
	enum agent_result r = AGENT_FAILED;
	long retry_after = 0;

	r = agent_renew(conf, ac, &retry_after);
	record(conf, ac, r, retry_after);
	return r;
}

/* Trust maintenance for ac when its period has passed (or always with force). */
static void maybe_refresh_trust(const struct agent_conf *conf, const struct agent_cert *ac,
                                int force)
{
	struct agent_state st;
	time_t now = time(NULL);

	if (!ac->update_trust || conf->cacerts_interval == 0)
		return;
	if (agent_state_read(ac->store, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (!force && st.last_trust > 0 && now - st.last_trust < conf->cacerts_interval)
		return;
	if (agent_trust_refresh(conf, ac) != 0)
		return; /* logged; tried again at the next period */
	if (agent_state_read(ac->store, &st) != 0)
		memset(&st, 0, sizeof(st));
	st.last_trust = now;
	(void)agent_state_write(ac->store, &st);
}

/* One pass over every certificate; *next gets the earliest next due time. */
static int pass(const struct agent_conf *conf, int force, time_t *next)
{
	int failed = 0, pending = 0;
	struct agent_state st;
	time_t now, due;
	size_t i;

	for (i = 0; i < conf->ncerts; i++) {
		const struct agent_cert *ac = &conf->certs[i];
		enum agent_result r = AGENT_DONE;
		int fd = agent_store_lock(ac);

		/* prepare removes unreferenced generations: only under the lock */
		if (fd < 0 || agent_store_prepare(ac) != 0) {
			failed = 1;
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (agent_state_read(ac->store, &st) != 0)
			memset(&st, 0, sizeof(st));
		now = time(NULL);
		if (force || due_time(ac, &st) <= now)
			r = attempt(conf, ac);
		else if (st.pending)
			r = AGENT_PENDING; /* still waiting for Retry-After: still pending */
		failed |= r == AGENT_FAILED;
		pending |= r == AGENT_PENDING;
		maybe_refresh_trust(conf, ac, 0);
		if (agent_state_read(ac->store, &st) != 0)
			memset(&st, 0, sizeof(st));
		due = due_time(ac, &st);
		if (next != NULL && due < *next)
			*next = due;
		close(fd);
	}
	return failed ? AGENT_EXIT_FAIL : pending ? AGENT_EXIT_PENDING : AGENT_EXIT_OK;
}

static int load(const char *path, struct agent_conf *conf, int verbose)
{
	char err[512];

	if (agent_conf_load(path, conf, err, sizeof(err)) != 0) {
		est_err(CMD, "%s: %s", path, err);
		return -1;
	}
	conf->verbose = verbose;
	return 0;
}

/* Sleeps until t (at most check_interval); returns the signal that woke it, or 0. */
static int sleep_until(const struct agent_conf *conf, time_t t, const sigset_t *set)
{
	time_t now = time(NULL);
	long wait = t > now ? (long)(t - now) : 1;
	struct timespec ts;
	int sig = 0;

	if (wait > conf->check_interval)
		wait = conf->check_interval;
	ts.tv_sec = wait;
	ts.tv_nsec = 0;
	sig = sigtimedwait(set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

static int daemon_loop(const char *path, struct agent_conf *conf, int verbose)
{
	sigset_t set;
	time_t next = 0;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return AGENT_EXIT_FAIL;
	agent_log("-", "started: %zu certificate(s) from %s", conf->ncerts, path);
	for (;;) {
		next = time(NULL) + conf->check_interval;
		(void)pass(conf, 0, &next);
		sig = sleep_until(conf, next, &set);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			struct agent_conf fresh;

			if (load(path, &fresh, verbose) == 0) {
				agent_conf_free(conf);
				*conf = fresh;
				agent_log("-", "reloaded %s: %zu certificate(s)", path, conf->ncerts);
			} else {
				agent_log("-", "reload failed: keeping the configuration in use");
			}
		}
	}
	agent_log("-", "stopping (signal %d)", sig);
	return AGENT_EXIT_OK;
}

/* One line per certificate; returns the worst: 3 expired/missing, 1 failing, 0 fine. */
static int status_one(const struct agent_cert *ac)
{
	struct agent_state st;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	char end[32], next[32];
	time_t nb = 0, na = 0;
	int ex = AGENT_EXIT_OK;

	if (agent_state_read(ac->store, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (agent_store_current(ac, &cert, &key) != ESTKIT_OK || validity(cert, &nb, &na) != 0) {
		printf("%s: missing (no certificate in %s)\n", ac->name, ac->store);
		ERR_clear_error();
		X509_free(cert);
		EVP_PKEY_free(key);
		return AGENT_EXIT_EXPIRED;
	}
	fmt_time(na, end, sizeof(end));
	fmt_time(due_time(ac, &st), next, sizeof(next));
	if (na <= time(NULL))
		ex = AGENT_EXIT_EXPIRED;
	else if (st.failures > 0 || st.pending)
		ex = AGENT_EXIT_FAIL;
	printf("%s: %s, expires %s, next renewal %s, %s\n", ac->name,
	       ex == AGENT_EXIT_EXPIRED ? "EXPIRED" : "valid", end, next,
	       st.pending ? "pending approval"
	       : st.failures > 0 ? "FAILING"
	                         : "ok");
	if (st.failures > 0)
		printf("  %u failed attempt(s); last error: %s\n", st.failures, st.last_error);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ex;
}

static int status(const struct agent_conf *conf)
{
	int worst = AGENT_EXIT_OK, ex = 0;
	size_t i;

	for (i = 0; i < conf->ncerts; i++) {
		ex = status_one(&conf->certs[i]);
		if (ex == AGENT_EXIT_EXPIRED || (ex == AGENT_EXIT_FAIL && worst == AGENT_EXIT_OK))
			worst = ex;
	}
	return worst;
}

int est_cmd_agent(int argc, char **argv)
{
	struct aopts o;
	struct agent_conf conf;
	int ex = 0;

	memset(&o, 0, sizeof(o));
	if ((ex = parse(argc, argv, &o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if (load(o.config, &conf, o.verbose) != 0)
		return AGENT_EXIT_USAGE;
	if (o.status)
		ex = status(&conf);
	else if (o.once)
		ex = pass(&conf, o.force, NULL);
	else
		ex = daemon_loop(o.config, &conf, o.verbose);
	agent_conf_free(&conf);
	return ex;
}
