/*
 * user.c - `estd user add|del|list`: the HTTP Basic users file.
 *
 * The password never appears on the command line (it would be visible in
 * ps and shell history): it is read from stdin, without echo on a terminal.
 */
#include "admin/admin.h"
#include "config.h"
#include "users.h"
#include "util.h"

#include <errno.h>
#include <estkit/server.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define MAX_PASSWORD 1024
#define HINT "send SIGHUP to a running estd to apply"

enum { PW_OK = 0, PW_IO = -1, PW_LONG = -2, PW_INTR = -3 };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * Reads one line from fd into buf (at most MAX_PASSWORD bytes, NUL
 * terminated, "\n" or "\r\n" stripped). Byte by byte, so nothing after the
 * line is consumed.
 */
static int read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	char c;
	ssize_t r;

	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR && !interrupted)
			continue;
		if (r < 0)
			return interrupted ? PW_INTR : PW_IO;
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			/* drain the rest of the line so no bytes of it stay behind */
			while (read(fd, &c, 1) == 1 && c != '\n')
				;
			return PW_LONG;
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return PW_OK;
}

/* Prompts on stderr and reads a line from the terminal with echo off. */
static int read_hidden(const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	struct sigaction sa, oint, oterm, oquit;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return PW_IO;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: read() must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGTERM, &sa, &oterm);
	sigaction(SIGQUIT, &sa, &oquit);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		rc = PW_IO;
	else
		rc = read_line(STDIN_FILENO, buf, cap, len);
	/* whatever happened, give the terminal its echo back */
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGTERM, &oterm, NULL);
	sigaction(SIGQUIT, &oquit, NULL);
	return rc;
}

static int pw_error(int rc)
{
	if (rc == PW_LONG)
		fprintf(stderr, "estd: user: password longer than %d bytes\n", MAX_PASSWORD);
	else if (rc == PW_INTR)
		fputs("estd: user: interrupted\n", stderr);
	else
		fprintf(stderr, "estd: user: cannot read the password: %s\n", strerror(errno));
	return 1;
}

/*
 * The new password into pw (cap bytes): asked twice on a terminal, else one
 * line of stdin. 0 on success; on failure the message is printed.
 */
static int get_password(char *pw, size_t cap)
{
	char again[MAX_PASSWORD + 2];
	size_t len = 0, len2 = 0;
	int rc, differ;

	if (!isatty(STDIN_FILENO)) {
		rc = read_line(STDIN_FILENO, pw, cap, &len);
		return rc == PW_OK ? 0 : pw_error(rc);
	}
	rc = read_hidden("Password: ", pw, cap, &len);
	if (rc == PW_OK)
		rc = read_hidden("Again: ", again, sizeof(again), &len2);
	if (rc != PW_OK) {
		OPENSSL_cleanse(again, sizeof(again));
		return pw_error(rc);
	}
	differ = len != len2 || CRYPTO_memcmp(pw, again, len) != 0;
	OPENSSL_cleanse(again, sizeof(again));
	if (differ) {
		fputs("estd: user: the passwords do not match\n", stderr);
		return 1;
	}
	return 0;
}

/* 1 when name is in the users file (for the "added"/"changed" wording). */
static int user_exists(const char *path, const char *name)
{
	struct estd_users *u = NULL;
	char *err = NULL;
	size_t i, n;
	int found = 0;

	if (estd_users_load(path, &u, &err) != ESTKIT_OK) {
		free(err);
		return 0;
	}
	n = estd_users_count(u);
	for (i = 0; i < n && !found; i++)
		found = strcmp(estd_users_name(u, i), name) == 0;
	estd_users_free(u);
	return found;
}

static int do_add(const struct estd_config *cfg, const char *name)
{
	char pw[MAX_PASSWORD + 2];
	char *err = NULL;
	int existed, rc = 1;

	existed = user_exists(cfg->users_file, name);
	if (get_password(pw, sizeof(pw)) != 0)
		goto out;
	/* Digest HA1 values depend on the realm (RFC 7616 3.4.2) */
	if (estd_users_set_digest(cfg->users_file, name, pw,
				  (cfg->auth_methods & ESTKIT_AUTH_DIGEST) ? cfg->realm : NULL,
				  &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: user: %s\n", err != NULL ? err : "cannot save the user");
		goto out;
	}
	printf("user '%s' %s; " HINT "\n", name, existed ? "password changed" : "added");
	rc = 0;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	free(err);
	return rc;
}

static int do_del(const struct estd_config *cfg, const char *name)
{
	char *err = NULL;
	int rc = 1;

	if (estd_users_del(cfg->users_file, name, &err) != ESTKIT_OK)
		fprintf(stderr, "estd: user: %s\n", err != NULL ? err : "cannot delete the user");
	else {
		printf("user '%s' deleted; " HINT "\n", name);
		rc = 0;
	}
	free(err);
	return rc;
}

static int do_list(const struct estd_config *cfg)
{
	struct estd_users *u = NULL;
	char *err = NULL;
	size_t i, n;

	if (estd_users_load(cfg->users_file, &u, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: user: %s\n", err != NULL ? err : "cannot read the users");
		free(err);
		return 1;
	}
	n = estd_users_count(u);
	for (i = 0; i < n; i++)
		printf("%s\n", estd_users_name(u, i));
	estd_users_free(u);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int usage(FILE *out, int rc)
{
	fputs("usage: estd user add NAME [-c FILE]   (password from stdin)\n"
	      "       estd user del NAME [-c FILE]\n"
	      "       estd user list [-c FILE]\n",
	      out);
	return rc;
}

/* Parses -c/--config; *conf stays NULL without it. -1 when done, else an exit code. */
static int parse_opts(int argc, char **argv, const char **conf)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': *conf = optarg; break;
		case 'h': return usage(stdout, 0);
		default:
			fprintf(stderr, "estd: user: invalid option or missing argument: %s\n",
				argv[optind - 1]);
			return usage(stderr, 2);
		}
	}
	return -1;
}

/* estd user add|del|list ...; see admin.h. */
int estd_cmd_user(int argc, char **argv)
{
	struct estd_config *cfg = NULL;
	const char *conf = NULL, *sub;
	int rc, nargs;

	if (argc < 2)
		return usage(stderr, 2);
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return usage(stdout, 0);
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0 && strcmp(sub, "list") != 0) {
		fputs("estd: user: unknown subcommand ", stderr);
		estd_fputs_printable(stderr, sub);
		fputc('\n', stderr);
		return usage(stderr, 2);
	}
	rc = parse_opts(argc - 1, argv + 1, &conf);
	if (rc >= 0)
		return rc;
	nargs = argc - 1 - optind;
	if (nargs != (strcmp(sub, "list") == 0 ? 0 : 1)) {
		fprintf(stderr, "estd: user: %s takes %s\n", sub,
			strcmp(sub, "list") == 0 ? "no argument" : "exactly one NAME");
		return usage(stderr, 2);
	}
	cfg = estd_admin_load_config("user", conf);
	if (cfg == NULL)
		return 1;
	if (strcmp(sub, "add") == 0)
		rc = do_add(cfg, argv[1 + optind]);
	else if (strcmp(sub, "del") == 0)
		rc = do_del(cfg, argv[1 + optind]);
	else
		rc = do_list(cfg);
	estd_config_free(cfg);
	return rc;
}
