/*
 * certs.c - `estd certs list|show`: what the store says estd issued.
 *
 * Reads the store through its own connection; with WAL a running estd keeps
 * issuing while the list is read.
 */
#include "admin/admin.h"
#include "config.h"
#include "store/store.h"
#include "util.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define W_SERIAL 32
#define W_TIME 19
#define W_LABEL 12
#define W_REQUESTER 24

struct list_ctx {
	const char *label; /* NULL: all labels */
	int json;
	size_t n;
	struct estd_store *st;
};

/* $ESTD_CONF, else the packaged location. */
const char *estd_admin_default_conf(void)
{
	const char *env = getenv("ESTD_CONF");

	return env != NULL && *env != '\0' ? env : "/etc/estd/estd.conf";
}

/* estd_config_load() with the error printed for the operator. */
struct estd_config *estd_admin_load_config(const char *cmd, const char *path)
{
	struct estd_config *cfg = NULL;
	char *err = NULL;

	if (path == NULL)
		path = estd_admin_default_conf();
	if (estd_config_load(path, &cfg, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: %s: %s\n", cmd, err != NULL ? err : "cannot load config");
		free(err);
		return NULL;
	}
	return cfg;
}

/* A table cell: printable text padded to width, then the column gap. */
static void cell(FILE *out, const char *s, int width)
{
	int len = (int)strlen(s);

	estd_fputs_printable(out, s);
	fprintf(out, "%*s  ", len < width ? width - len : 0, "");
}

/* SERIAL, NOT AFTER (UTC), LABEL, REQUESTER, SUBJECT. */
void estd_admin_print_header(FILE *out)
{
	fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", W_SERIAL, "SERIAL", W_TIME, "NOT AFTER",
		W_LABEL, "LABEL", W_REQUESTER, "REQUESTER", "SUBJECT");
}

/* One row; the default label shows as "-". */
void estd_admin_print_row(FILE *out, const struct estd_cert_record *rec)
{
	char t[ESTD_TIME_BUFLEN];

	cell(out, rec->serial, W_SERIAL);
	cell(out, estd_fmt_time(rec->not_after, ' ', t, sizeof(t)), W_TIME);
	cell(out, rec->label[0] != '\0' ? rec->label : "-", W_LABEL);
	cell(out, rec->requester, W_REQUESTER);
	estd_fputs_printable(out, rec->subject);
	fputc('\n', out);
}

static void json_field(FILE *out, const char *name, const char *value, int last)
{
	fprintf(out, "\"%s\": ", name);
	estd_json_string(out, value);
	fputs(last ? "" : ", ", out);
}

/* t as UTC with sep between date and time and suffix after ("Z", " UTC"). */
static const char *utc(long long t, char sep, const char *suffix, char *buf, size_t len)
{
	char tmp[ESTD_TIME_BUFLEN];

	snprintf(buf, len, "%s%s", estd_fmt_time(t, sep, tmp, sizeof(tmp)), suffix);
	return buf;
}

/* {"serial": ..., "not_after": "YYYY-MM-DDTHH:MM:SSZ", ...}: times are RFC 3339 UTC. */
void estd_admin_print_json(FILE *out, const struct estd_cert_record *rec)
{
	char nb[ESTD_TIME_BUFLEN + 8], na[ESTD_TIME_BUFLEN + 8], ia[ESTD_TIME_BUFLEN + 8];

	utc(rec->not_before, 'T', "Z", nb, sizeof(nb));
	utc(rec->not_after, 'T', "Z", na, sizeof(na));
	utc(rec->issued_at, 'T', "Z", ia, sizeof(ia));
	fputc('{', out);
	json_field(out, "serial", rec->serial, 0);
	json_field(out, "subject", rec->subject, 0);
	json_field(out, "issuer", rec->issuer, 0);
	json_field(out, "sans", rec->sans, 0);
	json_field(out, "not_before", nb, 0);
	json_field(out, "not_after", na, 0);
	json_field(out, "issued_at", ia, 0);
	json_field(out, "requester", rec->requester, 0);
	json_field(out, "label", rec->label, 0);
	json_field(out, "op", rec->op, 1);
	fputc('}', out);
}

static void show_line(FILE *out, const char *name, const char *value)
{
	fprintf(out, "%-12s ", name);
	estd_fputs_printable(out, value);
	fputc('\n', out);
}

/* serial, subject, issuer, SANs, validity, issued at, requester, label, operation. */
void estd_admin_print_record(FILE *out, const struct estd_cert_record *rec)
{
	char t[ESTD_TIME_BUFLEN + 8];

	show_line(out, "serial:", rec->serial);
	show_line(out, "subject:", rec->subject);
	show_line(out, "issuer:", rec->issuer);
	show_line(out, "SANs:", rec->sans[0] != '\0' ? rec->sans : "-");
	show_line(out, "not before:", utc(rec->not_before, ' ', " UTC", t, sizeof(t)));
	show_line(out, "not after:", utc(rec->not_after, ' ', " UTC", t, sizeof(t)));
	show_line(out, "issued at:", utc(rec->issued_at, ' ', " UTC", t, sizeof(t)));
	show_line(out, "requester:", rec->requester);
	show_line(out, "label:", rec->label[0] != '\0' ? rec->label : "- (default)");
	show_line(out, "operation:", rec->op);
}

/* The record's JSON object with "revoked" and "revocation_reason" (-1: not revoked) added. */
static int print_json_revoked(const struct estd_cert_record *rec, int revoked, int reason)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return -1;
	estd_admin_print_json(m, rec);
	if (fclose(m) != 0 || len == 0 || buf[len - 1] != '}') {
		free(buf);
		return -1;
	}
	fprintf(stdout, "%.*s, \"revoked\": %s, \"revocation_reason\": %d}", (int)(len - 1), buf,
		revoked ? "true" : "false", revoked ? reason : -1);
	free(buf);
	return 0;
}

static int list_one(void *arg, const struct estd_cert_record *rec)
{
	struct list_ctx *c = arg;

	if (c->label != NULL && strcmp(rec->label, c->label) != 0)
		return 0;
	int reason = 0, revoked = estd_store_revocation_get(c->st, rec->serial, &reason, NULL) ==
				  ESTKIT_OK;

	if (c->json) {
		fputs(c->n == 0 ? "\n  " : ",\n  ", stdout);
		if (print_json_revoked(rec, revoked, reason) != 0)
			return 1;
	} else {
		estd_admin_print_row(stdout, rec);
		if (revoked)
			fprintf(stdout, "%-*s  (revoked, reason %d)\n", W_SERIAL, "", reason);
	}
	c->n++;
	return ferror(stdout) ? 1 : 0;
}

static struct estd_store *open_store(const struct estd_config *cfg)
{
	struct estd_store *st = NULL;
	char *err = NULL;

	if (estd_store_open(cfg->store_path, &st, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: certs: %s\n", err != NULL ? err : "cannot open the store");
		free(err);
		return NULL;
	}
	return st;
}

static int usage(FILE *out, int rc)
{
	fputs("usage: estd certs list [-c FILE] [--label LABEL] [--json]\n"
	      "       estd certs show SERIAL [-c FILE] [--pem]\n"
	      "       estd certs revoke SERIAL [-c FILE] [--reason REASON]\n",
	      out);
	return rc;
}

/* Reports a bad option the way every subcommand does. */
static int bad_option(char **argv)
{
	fprintf(stderr, "estd: certs: invalid option or missing argument: %s\n", argv[optind - 1]);
	return usage(stderr, 2);
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"label", required_argument, NULL, 'l'},
		{"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct list_ctx ctx = {NULL, 0, 0, NULL};
	struct estd_config *cfg = NULL;
	struct estd_store *st = NULL;
	const char *conf = NULL;
	int c, rc = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'l': ctx.label = optarg; break;
		case 'j': ctx.json = 1; break;
		case 'h': return usage(stdout, 0);
		default: return bad_option(argv);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "estd: certs: list takes no argument: %s\n", argv[optind]);
		return usage(stderr, 2);
	}
	cfg = estd_admin_load_config("certs", conf);
	st = cfg != NULL ? open_store(cfg) : NULL;
	if (st == NULL)
		goto out;
	ctx.st = st;
	if (ctx.json)
		fputc('[', stdout);
	else
		estd_admin_print_header(stdout);
	if (estd_store_cert_foreach(st, list_one, &ctx) != ESTKIT_OK) {
		fprintf(stderr, "estd: certs: %s\n", estd_store_errmsg(st));
		goto out;
	}
	if (ctx.json)
		fputs(ctx.n > 0 ? "\n]\n" : "]\n", stdout);
	rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
out:
	estd_store_close(st);
	estd_config_free(cfg);
	return rc;
}

/* The certificate of rec as PEM on stdout. */
static int print_pem(const struct estd_cert_record *rec)
{
	const unsigned char *p = rec->cert_der;
	X509 *x = NULL;
	int ok;

	if (rec->cert_der == NULL ||
	    (x = d2i_X509(NULL, &p, (long)rec->cert_len)) == NULL) {
		fprintf(stderr, "estd: certs: the stored certificate of %s cannot be read\n",
			rec->serial);
		return 1;
	}
	fflush(stdout);
	ok = PEM_write_X509(stdout, x);
	X509_free(x);
	return ok ? 0 : 1;
}

static int show_serial(const struct estd_config *cfg, const char *serial, int pem)
{
	struct estd_store *st = open_store(cfg);
	struct estd_cert_record *rec = NULL;
	enum estkit_status s;
	int rc = 1;

	if (st == NULL)
		return 1;
	s = estd_store_cert_get(st, serial, &rec);
	if (s == ESTKIT_ENOTFOUND || s == ESTKIT_EINVAL) {
		fputs("estd: certs: ", stderr);
		fputs(s == ESTKIT_EINVAL ? "invalid serial " : "no certificate with serial ",
		      stderr);
		estd_fputs_printable(stderr, serial);
		fputs(s == ESTKIT_EINVAL ? " (expected hexadecimal)\n" : "\n", stderr);
	} else if (s != ESTKIT_OK) {
		fprintf(stderr, "estd: certs: %s\n", estd_store_errmsg(st));
	} else {
		estd_admin_print_record(stdout, rec);
		rc = pem ? print_pem(rec) : 0;
		if (fflush(stdout) != 0)
			rc = 1;
	}
	estd_cert_record_free(rec);
	estd_store_close(st);
	return rc;
}

static int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"pem", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct estd_config *cfg = NULL;
	const char *conf = NULL;
	int c, pem = 0, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'p': pem = 1; break;
		case 'h': return usage(stdout, 0);
		default: return bad_option(argv);
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "estd: certs: show needs exactly one SERIAL\n");
		return usage(stderr, 2);
	}
	cfg = estd_admin_load_config("certs", conf);
	if (cfg == NULL)
		return 1;
	rc = show_serial(cfg, argv[optind], pem);
	estd_config_free(cfg);
	return rc;
}

/* estd certs list|show ...; see admin.h. */
int estd_cmd_certs(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (strcmp(argv[1], "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return estd_certs_revoke(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	fputs("estd: certs: unknown subcommand ", stderr);
	estd_fputs_printable(stderr, argv[1]);
	fputc('\n', stderr);
	return usage(stderr, 2);
}
