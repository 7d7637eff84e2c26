/*
 * common.c - messages, exit codes, option helpers, password sources and
 * client set-up shared by the `est` subcommands.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "common.h"

#define PASSWORD_MAX EST_SECRET_MAX

/* "est: CMD: message" on stderr, without the end of the line. */
static void vmessage(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "est: %s: ", cmd);
	vfprintf(stderr, fmt, ap);
}

void est_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int est_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'est %s --help')\n", cmd);
	return EST_EXIT_USAGE;
}

int est_conn_option(const char *cmd, struct est_conn *o, int ch, const char *arg)
{
	switch (ch) {
	case 's': o->server = arg; return 0;
	case 'c': o->cacert = arg; return 0;
	case 'u': o->user = arg; return 0;
	case 'p': o->password = arg; return 0;
	case 'P': o->password_file = arg; return 0;
	case 'C': o->cert = arg; return 0;
	case 'v': o->verbose = 1; return 0;
	case 't':
		if (est_parse_long(arg, 1, 3600, &o->timeout) != 0)
			return est_usage_error(cmd, "--timeout wants 1..3600 seconds");
		return 0;
	default: return -1;
	}
}

int est_add_san(const char *cmd, const char **sans, size_t *n, size_t max, const char *arg)
{
	if (*n == max)
		return est_usage_error(cmd, "at most %zu --san", max);
	sans[(*n)++] = arg;
	return 0;
}

int est_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts, void (*usage)(FILE *f),
               int (*one)(void *ctx, int ch, const char *arg), void *ctx)
{
	int ch = 0, ex = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return -1;
		}
		if (ch == ':')
			return est_usage_error(cmd, "%s needs a value", argv[optind - 1]);
		if (ch == '?')
			return est_usage_error(cmd, "unknown option %s", argv[optind - 1]);
		if ((ex = one(ctx, ch, optarg)) != 0)
			return ex;
	}
	if (optind < argc)
		return est_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

int est_exit_for(enum estkit_status rc)
{
	if (rc == ESTKIT_OK)
		return EST_EXIT_OK;
	return rc == ESTKIT_EPENDING ? EST_EXIT_PENDING : EST_EXIT_FAIL;
}

int est_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void est_secret_free(char *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* First line of buf (len bytes) as a new string, or NULL when empty or too long. */
static char *first_line(const unsigned char *buf, size_t len)
{
	size_t n = 0;
	char *s = NULL;

	while (n < len && buf[n] != '\n' && buf[n] != '\r' && buf[n] != '\0')
		n++;
	if (n == 0 || n > PASSWORD_MAX)
		return NULL;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, buf, n);
	s[n] = '\0';
	return s;
}

/* See common.h. */
enum estkit_status est_secret_file_line(const char *path, char **out)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (path == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_file_read(path, &buf, &len);
	if (rc != ESTKIT_OK)
		return rc;
	*out = first_line(buf, len);
	estkit_free_secret(buf, len);
	return *out != NULL ? ESTKIT_OK : ESTKIT_EINVAL;
}

static int password_from_file(const char *cmd, const char *path, char **out)
{
	enum estkit_status rc = est_secret_file_line(path, out);

	if (rc == ESTKIT_EINVAL) {
		est_err(cmd, "password file %s: empty first line or longer than %d bytes", path,
		        PASSWORD_MAX);
		return EST_EXIT_FAIL;
	}
	if (rc != ESTKIT_OK) {
		est_err(cmd, "cannot read password file %s: %s", path, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

/* Reads a line from the terminal on stdin without echo (termios). */
static int password_prompt(const char *cmd, const char *user, char **out)
{
	struct termios old;
	struct termios quiet;
	char line[PASSWORD_MAX + 2];
	char *got = NULL;

	if (tcgetattr(STDIN_FILENO, &old) != 0) {
		est_err(cmd, "cannot read the terminal: %s", strerror(errno));
		return EST_EXIT_FAIL;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	fprintf(stderr, "Password for %s: ", user);
	fflush(stderr);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	got = fgets(line, sizeof(line), stdin);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	*out = got != NULL ? first_line((const unsigned char *)line, strlen(line)) : NULL;
	OPENSSL_cleanse(line, sizeof(line));
	if (*out == NULL) {
		est_err(cmd, "no password entered");
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

int est_password_get(const char *cmd, const struct est_conn *o, char **out)
{
	const char *env = getenv("EST_PASSWORD");

	*out = NULL;
	if (o->password != NULL && o->password_file != NULL)
		return est_usage_error(cmd, "--password and --password-file exclude each other");
	if (o->password_file != NULL)
		return password_from_file(cmd, o->password_file, out);
	if (o->password != NULL || (env != NULL && env[0] != '\0')) {
		*out = strdup(o->password != NULL ? o->password : env);
		if (*out == NULL) {
			est_err(cmd, "out of memory");
			return EST_EXIT_FAIL;
		}
		return EST_EXIT_OK;
	}
	if (isatty(STDIN_FILENO))
		return password_prompt(cmd, o->user, out);
	est_err(cmd, "--user %s needs a password: --password-file, EST_PASSWORD or a terminal",
	        o->user);
	return EST_EXIT_FAIL;
}

/* See common.h. */
int est_conn_srp_option(struct est_conn *o, int ch, const char *arg)
{
	if (ch == EST_OPT_SRP_USER)
		o->srp_user = arg;
	else if (ch == EST_OPT_SRP_PWFILE)
		o->srp_password_file = arg;
	else
		return 0;
	return 1;
}

/* See common.h. */
int est_conn_srp_check(const char *cmd, const struct est_conn *o)
{
	if (o->srp_password_file != NULL && o->srp_user == NULL)
		return est_usage_error(cmd, "--srp-password-file needs --srp-user");
	if (o->srp_user == NULL)
		return 0;
	if (o->user != NULL || o->cert != NULL || o->implicit_ta != NULL)
		return est_usage_error(cmd, "--srp-user authenticates both sides by itself: not "
		                            "with --user, --cert or --implicit-ta");
	if (o->tls_max == TLS1_3_VERSION)
		return est_usage_error(cmd, "TLS-SRP is TLS 1.2 only: not with --tls-max 1.3");
	return 0;
}

/* --srp-password-file, EST_SRP_PASSWORD or a prompt; then estkit_client_set_srp(). */
static int set_srp(const char *cmd, struct estkit_client *c, const struct est_conn *o)
{
	const char *env = getenv("EST_SRP_PASSWORD");
	char *pw = NULL;
	int ex = EST_EXIT_OK;
	enum estkit_status rc = ESTKIT_OK;

	if (o->srp_password_file != NULL) {
		ex = password_from_file(cmd, o->srp_password_file, &pw);
	} else if (env != NULL && env[0] != '\0') {
		if ((pw = strdup(env)) == NULL) {
			est_err(cmd, "out of memory");
			ex = EST_EXIT_FAIL;
		}
	} else if (isatty(STDIN_FILENO)) {
		ex = password_prompt(cmd, o->srp_user, &pw);
	} else {
		est_err(cmd, "--srp-user %s needs a password: --srp-password-file, "
		             "EST_SRP_PASSWORD or a terminal", o->srp_user);
		ex = EST_EXIT_FAIL;
	}
	if (ex != EST_EXIT_OK)
		return ex;
	rc = estkit_client_set_srp(c, o->srp_user, pw);
	est_secret_free(pw);
	if (rc != ESTKIT_OK) {
		est_err(cmd, "cannot use SRP user name \"%s\": %s", o->srp_user,
		        estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

static void log_line(void *arg, const char *line)
{
	fprintf(stderr, "est: %s: debug: %s\n", (const char *)arg, line);
}

static int set_credentials(const char *cmd, struct estkit_client *c, const struct est_conn *o)
{
	char *pw = NULL;
	int ex = EST_EXIT_OK;
	enum estkit_status rc = ESTKIT_OK;

	if (o->user == NULL)
		return EST_EXIT_OK;
	ex = est_password_get(cmd, o, &pw);
	if (ex != EST_EXIT_OK)
		return ex;
	rc = estkit_client_set_basic_auth(c, o->user, pw);
	est_secret_free(pw);
	if (rc == ESTKIT_OK && o->auth != NULL)
		rc = estkit_client_set_auth_methods(
			c, strcmp(o->auth, "digest") == 0 ? ESTKIT_AUTH_DIGEST
			   : strcmp(o->auth, "any") == 0  ? ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST
							  : ESTKIT_AUTH_BASIC);
	if (rc != ESTKIT_OK) {
		est_err(cmd, "cannot use user name \"%s\": %s", o->user, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

struct estkit_client *est_client_open(const char *cmd, const struct est_conn *o, int *exit_code)
{
	struct estkit_client *c = estkit_client_new(o->server);
	enum estkit_status rc = ESTKIT_OK;

	*exit_code = EST_EXIT_FAIL;
	if (c == NULL) {
		if (errno == ENOMEM)
			est_err(cmd, "out of memory");
		else
			*exit_code = est_usage_error(
			    cmd, "bad --server URL \"%s\" (want https://host[:port][/label])",
			    o->server);
		return NULL;
	}
	if (o->verbose)
		estkit_client_set_log(c, log_line, (void *)cmd);
	if (o->timeout > 0)
		estkit_client_set_timeout(c, o->timeout);
	if (o->tls_max != 0)
		estkit_client_set_tls_max(c, o->tls_max);
	if (o->accept_ra)
		estkit_client_set_accept_ra(c, 1);
	if (o->cacert != NULL && (rc = estkit_client_set_trust(c, o->cacert)) != ESTKIT_OK)
		goto fail;
	if (o->implicit_ta != NULL &&
	    (rc = estkit_client_set_implicit_trust(c, o->implicit_ta, 0)) != ESTKIT_OK)
		goto fail;
	if (o->cert != NULL &&
	    (rc = estkit_client_set_client_cert(c, o->cert, o->key)) != ESTKIT_OK)
		goto fail;
	*exit_code = o->srp_user != NULL ? set_srp(cmd, c, o) : set_credentials(cmd, c, o);
	if (*exit_code != EST_EXIT_OK) {
		estkit_client_free(c);
		return NULL;
	}
	return c;
fail:
	est_client_error(cmd, c, rc);
	estkit_client_free(c);
	return NULL;
}

int est_parse_tls_max(const char *cmd, const char *arg, struct est_conn *o)
{
	if (strcmp(arg, "1.2") == 0)
		o->tls_max = TLS1_2_VERSION;
	else if (strcmp(arg, "1.3") == 0)
		o->tls_max = TLS1_3_VERSION;
	else
		return est_usage_error(cmd, "--tls-max wants 1.2 or 1.3");
	return 0;
}

int est_client_error(const char *cmd, struct estkit_client *c, enum estkit_status rc)
{
	const char *msg = estkit_client_errmsg(c);

	est_err(cmd, "%s", msg[0] != '\0' ? msg : estkit_strerror(rc));
	return est_exit_for(rc);
}

/* See common.h. */
int est_certs_hold(STACK_OF(X509) *certs, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (X509_cmp(sk_X509_value(certs, i), x) == 0)
			return 1;
	return 0;
}
