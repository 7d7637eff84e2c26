/*
 * agent.h - `est agent`: keeps certificates renewed (RFC 7030 4.2.2) and the
 * trust anchors current (RFC 7030 4.1.3), as a daemon or once from a timer.
 *
 * Split by job: agent_conf.c reads the INI file, agent_sched.c computes when
 * to act (pure, unit tested), agent_store.c owns the files on disk (the
 * generation directories and the atomic switch), agent_renew.c talks to the
 * server, agent_trust.c refreshes the trust anchors, agent_hook.c runs the
 * post-renewal command, agent.c is the command line and the daemon loop.
 */
#ifndef EST_AGENT_H
#define EST_AGENT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <estkit/estkit.h>

#define AGENT_MAX_SANS  32
#define AGENT_MAX_CERTS 64
#define AGENT_NAME_MAX  64
#define AGENT_HOOK_ARGS 32

/* Exit codes of `est agent --once` and `est agent status` (docs/est.1). */
#define AGENT_EXIT_OK      0  /* all certificates valid (and renewed when due) */
#define AGENT_EXIT_FAIL    1  /* some renewal or check failed (see the log) */
#define AGENT_EXIT_USAGE   2  /* bad command line or configuration */
#define AGENT_EXIT_EXPIRED 3  /* status: some certificate expired or missing */
#define AGENT_EXIT_PENDING 75 /* --once: some request pending (HTTP 202) */

/* One [cert NAME] section. Strings are owned (freed by agent_conf_free). */
struct agent_cert {
	char *name;
	char *server;         /* https://host[:port][/label] */
	char *trust;          /* trust anchor file (explicit TA, RFC 7030 3.6.1) */
	int update_trust;     /* keep trust current from /cacerts (default yes) */
	/* enrollment credentials (first enrollment, or after expiry) */
	char *user, *password_file, *otp_file, *auth;
	char *srp_user, *srp_password_file; /* TLS-SRP (RFC 7030 3.3.3) instead */
	char *bootstrap_cert, *bootstrap_key; /* e.g. an IDevID */
	int reenroll_with_enroll; /* renew with the enrollment credentials, not the cert */
	/* the request */
	char *key_type;       /* NULL: like the current key, ec:P-256 for the first */
	char *subject;        /* NULL: from /csrattrs, or the current certificate */
	char *sans[AGENT_MAX_SANS];
	size_t nsans;
	int use_csrattrs;     /* ask /csrattrs for what the file leaves open (default yes) */
	/* the output */
	char *cert_path, *key_path, *chain_path, *fullchain_path;
	char *store;          /* state_dir/NAME: generations, state file */
	long owner, group;    /* -1: unchanged */
	unsigned key_mode, cert_mode;
	/* the schedule */
	int renew_pct;        /* 10..95; 0 when renew_before is used */
	long renew_before;    /* seconds before notAfter; 0 when renew_pct is used */
	int regenerate_key;   /* default yes */
	int enroll_if_missing; /* default yes */
	char *hook;           /* post_renew_command as written */
};

/* The whole file. */
struct agent_conf {
	char *state_dir;        /* default /var/lib/est-agent */
	long check_interval;    /* longest daemon sleep, seconds */
	long retry_min, retry_max; /* backoff bounds, seconds */
	long cacerts_interval;  /* trust refresh period, seconds; 0: never */
	long timeout;           /* per EST operation, seconds */
	long hook_timeout;      /* post_renew_command is killed after this */
	int verbose;            /* --verbose: log every HTTP exchange */
	struct agent_cert *certs;
	size_t ncerts;
};

/* ---- agent_conf.c ------------------------------------------------------------------- */

/*
 * Reads and checks the agent configuration file path into *out (zeroed
 * first). Returns 0, or -1 with a one-line reason naming the line or key in
 * err (errlen bytes). Unknown sections and keys are errors.
 */
int agent_conf_load(const char *path, struct agent_conf *out, char *err, size_t errlen);

/* Same from a string (for tests). */
int agent_conf_parse(const char *text, struct agent_conf *out, char *err, size_t errlen);

/* Frees what agent_conf_load() allocated; the struct itself is the caller's. */
void agent_conf_free(struct agent_conf *c);

/*
 * Parses a duration: seconds, or a number with a unit s, m, h, d ("7d").
 * Returns 0 and *out in seconds, or -1 when malformed, <= 0 or over 10 years.
 */
int agent_parse_duration(const char *s, long *out);

/*
 * Splits a post_renew_command into argv (no shell): words separated by
 * blanks, "double" and 'single' quotes group, backslash escapes the next
 * character. argv[0] must be an absolute path. buf (bufsz bytes) receives
 * the words; argv gets at most AGENT_HOOK_ARGS words and a NULL. Returns
 * the number of words, or -1 on an unterminated quote, too many words, a
 * relative program or no room.
 */
int agent_hook_split(const char *cmd, char *buf, size_t bufsz, char *argv[AGENT_HOOK_ARGS + 1]);

/* ---- agent_sched.c (pure) ----------------------------------------------------------- */

/*
 * When to renew a certificate valid from not_before to not_after: at
 * renew_pct percent of its lifetime, or renew_before seconds before its end
 * (never earlier than 10% of the lifetime). jitter in [0, 1) moves the time
 * earlier by up to 5% of the lifetime (at most an hour) so that a fleet does
 * not renew at one instant; derive it from the certificate (agent_jitter) so
 * it is stable across restarts.
 */
time_t agent_renew_time(time_t not_before, time_t not_after, int renew_pct, long renew_before,
                        double jitter);

/* A value in [0, 1) from the first bytes of data (e.g. a certificate's DER hash). */
double agent_jitter(const unsigned char *data, size_t len);

/*
 * Delay before retry number failures (>= 1): retry_min doubled per earlier
 * failure, at most retry_max, then scaled into [delay/2, delay] by rnd in
 * [0, 1) ("equal jitter"). Never below 1.
 */
long agent_backoff(unsigned failures, long retry_min, long retry_max, double rnd);

/*
 * Delay before sending a pending request (HTTP 202) again: the server's
 * Retry-After (RFC 7030 4.2.3), or retry_min when it gave none (<= 0), at
 * most retry_max so that a far Retry-After never parks the certificate
 * longer than the configuration allows. Never below 1.
 */
long agent_pending_delay(long retry_after, long retry_min, long retry_max);

/* ---- agent_store.c ------------------------------------------------------------------ */

/* What the state file remembers between runs. */
struct agent_state {
	long long last_attempt, last_success, next_attempt; /* Unix times, 0: never */
	long long last_trust;    /* last /cacerts refresh */
	unsigned failures;       /* consecutive failed attempts */
	int pending;             /* a request is waiting for approval (HTTP 202) */
	char last_error[256];    /* "" after a success */
};

/* Reads store/state; a missing file is an empty state (0). -1 when malformed. */
int agent_state_read(const char *store, struct agent_state *st);

/* Writes store/state atomically. 0 or -1. */
int agent_state_write(const char *store, const struct agent_state *st);

/*
 * Makes the store directory and repairs what a crash may have left: stray
 * temporary links, generation directories no link names, output links that
 * are missing or point elsewhere (they are recreated to name store/current).
 * When there is no current generation yet but cert_path and key_path are
 * regular files holding a matching pair, they are imported as the first
 * generation. 0, or -1 after logging.
 */
int agent_store_prepare(const struct agent_cert *ac);

/*
 * Installs a new pair (see agent_store.c for why a crash at any point leaves
 * the old pair or the new one): writes key, cert, chain and fullchain into a
 * new generation directory, fsyncs, points store/prev at the current
 * generation, then switches store/current with one rename. 0 or -1.
 */
int agent_store_install(const struct agent_cert *ac, X509 *leaf, STACK_OF(X509) *chain,
                        EVP_PKEY *key);

/*
 * Loads the current pair (store/current); ENOENT-like absence is
 * ESTKIT_ENOTFOUND. *cert and *key are the caller's.
 */
enum estkit_status agent_store_current(const struct agent_cert *ac, X509 **cert, EVP_PKEY **key);

/*
 * Takes the exclusive lock STORE/lock (creating STORE), so that a timer run
 * and the daemon never work on one certificate at once. Returns the file
 * descriptor to close(2) when done, or -1 (busy or error, logged).
 */
int agent_store_lock(const struct agent_cert *ac);

/* Path of a file of the current generation ("cert.pem", "key.pem") into buf. 0 or -1. */
int agent_store_path(const struct agent_cert *ac, const char *file, char *buf, size_t len);

/*
 * The request in flight: saved before it is sent, loaded to send it again
 * (ESTKIT_ENOTFOUND when none), dropped once the answer is final.
 */
int agent_pending_save(const struct agent_cert *ac, X509_REQ *csr, EVP_PKEY *key);
enum estkit_status agent_pending_load(const struct agent_cert *ac, X509_REQ **csr,
                                      EVP_PKEY **key);
void agent_pending_drop(const struct agent_cert *ac);

/*
 * 1 when a saved request's key saved is already the key of cur, the current
 * certificate, while regenerate_key asks for a new key at each renewal: the
 * leftover of an installed renewal, not a request to send again. 0 otherwise.
 */
int agent_pending_stale(X509 *cur, EVP_PKEY *saved, int regenerate_key);

/* ---- agent_renew.c ------------------------------------------------------------------ */

/* Result of one attempt. */
enum agent_result { AGENT_DONE, AGENT_FAILED, AGENT_PENDING };

/*
 * One renewal (or first enrollment) for ac now: /simplereenroll with the
 * current certificate, or /simpleenroll with the enrollment credentials when
 * there is none or it expired; installs the new pair and runs the hook.
 * *retry_after receives the server's Retry-After on AGENT_PENDING.
 */
enum agent_result agent_renew(const struct agent_conf *conf, const struct agent_cert *ac,
                              long *retry_after);

/* ---- agent_trust.c ------------------------------------------------------------------ */

/*
 * GET /cacerts and rewrite ac->trust atomically when the answer brings a
 * root it may accept (its own key or a NewWithOld link, RFC 7030 4.1.3);
 * the file's own certificates are kept. 0 (also when nothing changed) or -1.
 */
int agent_trust_refresh(const struct agent_conf *conf, const struct agent_cert *ac);

/* ---- agent_hook.c ------------------------------------------------------------------- */

/*
 * Runs ac->hook (if any) without a shell, with EST_AGENT_NAME, EST_AGENT_CERT,
 * EST_AGENT_KEY in its environment; kills it after timeout seconds. 0 when
 * it exited 0 (or there is none), else -1 after logging.
 */
int agent_hook_run(const struct agent_cert *ac, long timeout);

/* ---- agent.c ------------------------------------------------------------------------ */

/* "est agent: NAME: message" on stderr (the journal adds the time). */
void agent_log(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `est agent` and its usage text. */
int est_cmd_agent(int argc, char **argv);
void est_usage_agent(FILE *f);

#endif /* EST_AGENT_H */
