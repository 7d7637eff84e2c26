/*
 * common.h - what the `est` subcommands share: messages and exit codes,
 * option helpers, password sources, opening a client, printing certificates
 * and writing the files of an enrollment. Public libestkit API only.
 */
#ifndef EST_COMMON_H
#define EST_COMMON_H

#include <stdio.h>
#include <estkit/estkit.h>

/* Exit codes (docs/est.1). 75 is EX_TEMPFAIL: the server answered 202. */
#define EST_EXIT_OK      0
#define EST_EXIT_FAIL    1
#define EST_EXIT_USAGE   2
#define EST_EXIT_PENDING 75

/* Options that reach the server, shared by all subcommands. */
struct est_conn {
	const char *server;
	const char *cacert;
	const char *user;
	const char *password; /* from argv: visible in ps; the man page says so */
	const char *password_file;
	const char *auth; /* --auth basic|digest|any; NULL: basic */
	const char *cert; /* TLS client authentication */
	const char *key;
	long timeout; /* 0: library default */
	int verbose;
	int tls_max; /* --tls-max: TLS1_2_VERSION, TLS1_3_VERSION or 0 */
	int accept_ra; /* --accept-ra: RFC 7030 3.6.1 id-kp-cmcRA authorizes the server */
	const char *implicit_ta; /* --implicit-ta FILE|system: RFC 7030 4.1.1 /cacerts only */
	const char *srp_user;          /* --srp-user: TLS-SRP instead of certificates (3.3.3) */
	const char *srp_password_file; /* --srp-password-file */
};

/* getopt_long codes of the TLS-SRP options (long only), and their table rows. */
#define EST_OPT_SRP_USER   0x101
#define EST_OPT_SRP_PWFILE 0x102
#define EST_SRP_LONGOPTS                                                                   \
	{"srp-user", required_argument, NULL, EST_OPT_SRP_USER},                            \
	{                                                                                   \
		"srp-password-file", required_argument, NULL, EST_OPT_SRP_PWFILE            \
	}
#define EST_SRP_USAGE                                                                      \
	"  --srp-user NAME  mutual authentication with TLS-SRP (RFC 7030 3.3.3) instead of\n" \
	"                   certificates: TLS 1.2, no --cacert needed; the password from\n"   \
	"                   --srp-password-file FILE, env EST_SRP_PASSWORD or a prompt\n"

/*
 * The TLS-SRP options of ch into o: 1 when ch was one of them, else 0.
 */
int est_conn_srp_option(struct est_conn *o, int ch, const char *arg);

/*
 * TLS-SRP rules shared by the subcommands: a password file needs
 * --srp-user, which excludes --user, --cert and --implicit-ta. 0 or a usage error.
 */
int est_conn_srp_check(const char *cmd, const struct est_conn *o);

/* Prints "est: CMD: message" and a newline on stderr. */
void est_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints a usage error and returns EST_EXIT_USAGE. */
int est_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for a failed library status: 75 for pending, else 1. */
int est_exit_for(enum estkit_status rc);

/* Parses a decimal long in [min, max]. Returns 0 on success, -1 otherwise. */
int est_parse_long(const char *s, long min, long max, long *out);

/*
 * Finds the password for o->user: --password, --password-file (first line),
 * the environment variable EST_PASSWORD, or a prompt without echo when stdin
 * is a terminal. *out is malloc'ed; free it with est_secret_free(). Returns
 * an exit code (EST_EXIT_OK on success) after printing any error.
 */
int est_password_get(const char *cmd, const struct est_conn *o, char **out);

/* Wipes and frees a NUL-terminated secret. NULL is a no-op. */
void est_secret_free(char *s);

/* The longest password or one-time password est reads, in bytes. */
#define EST_SECRET_MAX 1024

/*
 * The first line of the file at path (up to CR, LF or NUL) as a new string in
 * *out, to free with est_secret_free(): how est reads --password-file,
 * --srp-password-file, --otp-file and the agent's password_file and otp_file.
 * Returns ESTKIT_OK; the status of reading the file (ESTKIT_EIO, ESTKIT_ETOOBIG,
 * ...); or ESTKIT_EINVAL when the first line is empty or longer than
 * EST_SECRET_MAX bytes (and for NULL arguments). The file's bytes are wiped.
 */
enum estkit_status est_secret_file_line(const char *path, char **out);

/*
 * Creates a client for o->server with o->cacert as trust anchors (unless
 * NULL), Basic credentials, a TLS client certificate or TLS-SRP
 * credentials when given. Returns
 * NULL after printing the error; *exit_code says how to exit.
 */
struct estkit_client *est_client_open(const char *cmd, const struct est_conn *o, int *exit_code);

/* The long options est_conn_option() takes, for a subcommand's getopt_long table. */
#define EST_CONN_LONGOPTS                                                                      \
	{"server", required_argument, NULL, 's'}, {"cacert", required_argument, NULL, 'c'},     \
	    {"user", required_argument, NULL, 'u'}, {"password", required_argument, NULL, 'p'}, \
	    {"password-file", required_argument, NULL, 'P'},                                    \
	    {"cert", required_argument, NULL, 'C'}, {"timeout", required_argument, NULL, 't'},  \
	{                                                                                       \
		"verbose", no_argument, NULL, 'v'                                               \
	}

/*
 * The connection options every subcommand spells alike, into o: -s
 * --server, -c --cacert, -u --user, -p --password, -P --password-file,
 * -C --cert, -v --verbose, -t --timeout (1..3600). 0, a usage error, or -1
 * when ch is none of them.
 */
int est_conn_option(const char *cmd, struct est_conn *o, int ch, const char *arg);

/* Appends a --san value to sans[*n] (max entries); 0 or a usage error. */
int est_add_san(const char *cmd, const char **sans, size_t *n, size_t max, const char *arg);

struct option;

/*
 * Runs getopt_long over argv with shortopts/longopts and hands each option
 * to one(ctx, ch, optarg), which returns 0 or an exit code. -h/--help
 * prints usage to stdout and returns -1; a missing value, an unknown option
 * or a left-over argument is a usage error. 0 when all went into ctx.
 */
int est_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, void (*usage)(FILE *f),
               int (*one)(void *ctx, int ch, const char *arg), void *ctx);

/* --tls-max 1.2|1.3 into o->tls_max; returns 0 or a usage error. */
int est_parse_tls_max(const char *cmd, const char *arg, struct est_conn *o);

/* Prints the client's last error as "est: CMD: message" and returns the exit code. */
int est_client_error(const char *cmd, struct estkit_client *c, enum estkit_status rc);

/* ---- print.c ------------------------------------------------------------------------- */

/* Prints subject, serial, issuer, validity (UTC) and SHA-256 fingerprint, indented. */
void est_print_cert_summary(FILE *f, X509 *cert);

/* Prints one line "subject  SHA256:fingerprint". */
void est_print_cert_line(FILE *f, X509 *cert);

/* ---- output.c ------------------------------------------------------------------------ */

/*
 * Writes an enrollment into dir: key.pem (0600, only when key is not NULL),
 * cert.pem (leaf) and chain.pem (chain; when empty the leaf's issuer among
 * cas, else no chain file). The key and the certificate are first written
 * to temporary names, then the key is renamed into place, then the
 * certificate, so cert.pem never names a key that is not on disk. Prints
 * the files written to f. Returns an exit code after printing any error.
 */
int est_write_enrollment(const char *cmd, const char *dir, X509 *leaf, STACK_OF(X509) * chain,
                         EVP_PKEY *key, STACK_OF(X509) * cas, FILE *f);

/* ---- csrattrs.c ------------------------------------------------------------------------ */

#define EST_PLAN_MAX_SANS 64

/* How `est enroll` builds its request: the user's options, then the server's csrattrs. */
struct est_csr_plan {
	const char *key_type;      /* key spec; NULL: ec:P-256 */
	const EVP_MD *md;          /* signature hash the server asks for; NULL: the default */
	const char *subject;
	const char *sans[EST_PLAN_MAX_SANS];
	size_t nsans;
	const char *challenge;     /* --challenge-password */
	int challenge_bound;       /* --channel-binding fills challengePassword (RFC 7030 3.5) */
	char key_buf[32];
	char *subject_buf;
	char *san_bufs[EST_PLAN_MAX_SANS];
};

/*
 * GET /csrattrs and fill what the user left open in p (key type, subject,
 * altnames; the hash always), telling the user on stderr what cannot be
 * satisfied. 404, 501 and 204 mean none. Returns an exit code.
 */
int est_csrattrs_follow(const char *cmd, struct estkit_client *c, struct est_csr_plan *p);

/* Frees what est_csrattrs_follow() allocated in p. */
void est_csr_plan_clear(struct est_csr_plan *p);

/* ---- request.c --------------------------------------------------------------------------- */

/*
 * A new key of p->key_type and a request for it with p's subject, altnames
 * and challengePassword, signed with p->md when set. *key and *csr are the
 * caller's (also on failure, when set). Returns an exit code after printing
 * any error (EST_EXIT_USAGE for a bad key type or subject).
 */
int est_request_from_plan(const char *cmd, const struct est_csr_plan *p, EVP_PKEY **key,
                          X509_REQ **csr);

/* Re-signs csr with key using p->md (RFC 9908 3) when the server asked for a hash. */
int est_request_sign(const char *cmd, const struct est_csr_plan *p, EVP_PKEY *key, X509_REQ *csr);

/* The key spec ("ec:P-256", "rsa:3072", "ed25519") of key into buf. 0 or -1. */
int est_key_spec_of(EVP_PKEY *key, char *buf, size_t len);

/* ---- subcommands (one file each) ----------------------------------------------------- */

int est_cmd_cacerts(int argc, char **argv);
int est_cmd_enroll(int argc, char **argv);
int est_cmd_reenroll(int argc, char **argv);
int est_cmd_csrattrs(int argc, char **argv);
void est_usage_csrattrs(FILE *f);
void est_usage_cacerts(FILE *f);
void est_usage_enroll(FILE *f);
void est_usage_reenroll(FILE *f);
int est_cmd_fullcmc(int argc, char **argv);
int est_cmd_revoke(int argc, char **argv);
void est_usage_fullcmc(FILE *f);
void est_usage_revoke(FILE *f);
int est_cmd_serverkeygen(int argc, char **argv);
void est_usage_serverkeygen(FILE *f);
int est_cmd_bench(int argc, char **argv);
void est_usage_bench(FILE *f);

/* OSSL_STACK_OF_X509_free() is OpenSSL 3.2+; we build on 3.0. */
#define est_certs_free(s) sk_X509_pop_free((s), X509_free)

/* 1 when certs holds a certificate equal to x (X509_cmp), else 0. */
int est_certs_hold(STACK_OF(X509) *certs, X509 *x);

#endif /* EST_COMMON_H */
