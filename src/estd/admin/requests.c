/*
 * requests.c - `estd requests list|show|approve|reject`: the operator's side
 * of manual approval (`approval = manual`, RFC 7030 4.2.3).
 *
 * Works on the store directly (its own connection; a running estd sees the
 * decision at the client's next retry). Deciding is atomic in the store:
 * of two operators deciding the same request, exactly one succeeds.
 */
#include "admin/admin.h"
#include "config.h"
#include "store/store.h"
#include "util.h"

#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define W_ID 6
#define W_STATUS 8
#define W_TIME 19
#define W_LABEL 12
#define W_REQUESTER 24
#define MAX_REASON 512

struct opts {
	const char *conf;
	const char *status; /* list: NULL = all */
	const char *reason; /* reject */
	int json;
	long long id;
};

struct list_ctx {
	int json;
	size_t n;
};

static int usage(FILE *out, int rc)
{
	fputs("usage: estd requests list [-c FILE] [--status pending|approved|rejected|issued|all]"
	      " [--json]\n"
	      "       estd requests show ID [-c FILE]\n"
	      "       estd requests approve ID [-c FILE]\n"
	      "       estd requests reject ID [-c FILE] [--reason TEXT]\n",
	      out);
	return rc;
}

static void cell(FILE *out, const char *s, int width)
{
	int len = (int)strlen(s);

	estd_fputs_printable(out, s);
	fprintf(out, "%*s  ", len < width ? width - len : 0, "");
}

static void json_str(FILE *out, const char *name, const char *v)
{
	fprintf(out, "\"%s\": ", name);
	estd_json_string(out, v);
	fputs(", ", out);
}

/* t as "YYYY-MM-DDTHH:MM:SSZ", or "" for 0 (not decided). */
static const char *rfc3339(long long t, char *buf, size_t len)
{
	char tmp[ESTD_TIME_BUFLEN];

	if (t == 0)
		buf[0] = '\0';
	else
		snprintf(buf, len, "%sZ", estd_fmt_time(t, 'T', tmp, sizeof(tmp)));
	return buf;
}

/* One request as a JSON object (no newline); times are RFC 3339 UTC. */
static void print_json(FILE *out, const struct estd_request_record *r)
{
	char t[ESTD_TIME_BUFLEN + 2];

	fprintf(out, "{\"id\": %lld, ", r->id);
	json_str(out, "status", r->status);
	json_str(out, "label", r->label);
	json_str(out, "op", r->op);
	json_str(out, "requester", r->requester);
	json_str(out, "subject", r->subject);
	json_str(out, "sans", r->sans);
	json_str(out, "csr_sha256", r->csr_sha256);
	json_str(out, "created_at", rfc3339(r->created_at, t, sizeof(t)));
	json_str(out, "decided_at", rfc3339(r->decided_at, t, sizeof(t)));
	json_str(out, "decided_by", r->decided_by);
	json_str(out, "reason", r->reason);
	fputs("\"serial\": ", out);
	estd_json_string(out, r->serial);
	fputc('}', out);
}

static int list_one(void *arg, const struct estd_request_record *r)
{
	struct list_ctx *c = arg;
	char t[ESTD_TIME_BUFLEN], id[24];

	if (c->json) {
		fputs(c->n == 0 ? "\n  " : ",\n  ", stdout);
		print_json(stdout, r);
	} else {
		snprintf(id, sizeof(id), "%lld", r->id);
		cell(stdout, id, W_ID);
		cell(stdout, r->status, W_STATUS);
		cell(stdout, estd_fmt_time(r->created_at, ' ', t, sizeof(t)), W_TIME);
		cell(stdout, r->label[0] != '\0' ? r->label : "-", W_LABEL);
		cell(stdout, r->requester, W_REQUESTER);
		estd_fputs_printable(stdout, r->subject);
		fputc('\n', stdout);
	}
	c->n++;
	return ferror(stdout) ? 1 : 0;
}

static void show_line(const char *name, const char *value)
{
	printf("%-12s ", name);
	estd_fputs_printable(stdout, value[0] != '\0' ? value : "-");
	fputc('\n', stdout);
}

/* Every field of a request, one "name: value" line each. */
static void print_request(const struct estd_request_record *r)
{
	char t[ESTD_TIME_BUFLEN + 2];

	printf("%-12s %lld\n", "id:", r->id);
	show_line("status:", r->status);
	show_line("label:", r->label[0] != '\0' ? r->label : "- (default)");
	show_line("operation:", r->op);
	show_line("requester:", r->requester);
	show_line("subject:", r->subject);
	show_line("SANs:", r->sans);
	show_line("csr sha256:", r->csr_sha256);
	show_line("created at:", rfc3339(r->created_at, t, sizeof(t)));
	show_line("decided at:", rfc3339(r->decided_at, t, sizeof(t)));
	show_line("decided by:", r->decided_by);
	show_line("reason:", r->reason);
	show_line("serial:", r->serial);
}

/* "operator:NAME" for the user running the command (decided_by). */
static char *operator_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL && pw->pw_name != NULL)
		return estd_strfmt("operator:%s", pw->pw_name);
	return estd_strfmt("operator:uid %ld", (long)geteuid());
}

static int valid_status(const char *s)
{
	static const char *const names[] = {"pending", "approved", "rejected", "issued", "all"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	return 0;
}

/* Options of `requests SUB`; want_id: SUB takes exactly one ID. 0, or an exit code. */
static int parse(int argc, char **argv, int want_id, struct opts *o)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"status", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},         {"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 's': o->status = optarg; break;
		case 'j': o->json = 1; break;
		case 'r': o->reason = optarg; break;
		case 'h': return usage(stdout, -1);
		default:
			fprintf(stderr, "estd: requests: invalid option or missing argument: %s\n",
				argv[optind - 1]);
			return usage(stderr, 2);
		}
	}
	if (o->status != NULL && !valid_status(o->status)) {
		fputs("estd: requests: --status wants pending, approved, rejected, issued or all\n",
		      stderr);
		return 2;
	}
	if (o->reason != NULL && strlen(o->reason) > MAX_REASON) {
		fprintf(stderr, "estd: requests: --reason is longer than %d bytes\n", MAX_REASON);
		return 2;
	}
	if (!want_id && optind != argc) {
		fputs("estd: requests: list takes no argument\n", stderr);
		return usage(stderr, 2);
	}
	if (want_id && (argc - optind != 1 ||
			estd_parse_ll(argv[optind], 1, 0x7fffffffffffffffLL, &o->id) != 0)) {
		fputs("estd: requests: expected exactly one request ID (a positive number)\n",
		      stderr);
		return usage(stderr, 2);
	}
	return 0;
}

/* Loads the config and opens its store; NULL after printing why. */
static struct estd_store *open_store(const struct opts *o)
{
	struct estd_config *cfg = estd_admin_load_config("requests", o->conf);
	struct estd_store *st = NULL;
	char *err = NULL;

	if (cfg == NULL)
		return NULL;
	if (estd_store_open(cfg->store_path, &st, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: requests: %s\n", err != NULL ? err : "cannot open the store");
		free(err);
	}
	estd_config_free(cfg);
	return st;
}

static int cmd_list(struct estd_store *st, const struct opts *o)
{
	struct list_ctx ctx = {o->json, 0};
	const char *status = o->status != NULL ? o->status : "pending";

	if (strcmp(status, "all") == 0)
		status = NULL;
	if (ctx.json)
		fputc('[', stdout);
	else
		fprintf(stdout, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", W_ID, "ID", W_STATUS, "STATUS",
			W_TIME, "CREATED", W_LABEL, "LABEL", W_REQUESTER, "REQUESTER", "SUBJECT");
	if (estd_store_request_foreach(st, status, list_one, &ctx) != ESTKIT_OK) {
		fprintf(stderr, "estd: requests: %s\n", estd_store_errmsg(st));
		return 1;
	}
	if (ctx.json)
		fputs(ctx.n > 0 ? "\n]\n" : "]\n", stdout);
	return 0;
}

static int cmd_show(struct estd_store *st, const struct opts *o)
{
	struct estd_request_record *r = NULL;

	if (estd_store_request_get(st, o->id, &r) != ESTKIT_OK) {
		fprintf(stderr, "estd: requests: %s\n", estd_store_errmsg(st));
		return 1;
	}
	print_request(r);
	estd_request_record_free(r);
	return 0;
}

/* approve or reject: one atomic store update. */
static int cmd_decide(struct estd_store *st, const struct opts *o, int approve)
{
	char *by = operator_name();
	enum estkit_status rc;

	rc = estd_store_request_decide(st, o->id, approve ? "approved" : "rejected",
				       approve ? NULL : o->reason, by);
	free(by);
	if (rc != ESTKIT_OK) {
		fprintf(stderr, "estd: requests: %s\n", estd_store_errmsg(st));
		return 1;
	}
	printf("request %lld %s\n", o->id, approve ? "approved" : "rejected");
	return 0;
}

/* Which subcommand, whether it takes an ID, and which options it accepts. */
static int run_sub(const char *sub, int argc, char **argv)
{
	struct opts o = {NULL, NULL, NULL, 0, 0};
	struct estd_store *st = NULL;
	int list = strcmp(sub, "list") == 0, approve = strcmp(sub, "approve") == 0;
	int reject = strcmp(sub, "reject") == 0;
	int rc = parse(argc, argv, !list, &o);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if ((!list && (o.status != NULL || o.json)) || (!reject && o.reason != NULL)) {
		fprintf(stderr, "estd: requests: option not valid for %s\n", sub);
		return usage(stderr, 2);
	}
	st = open_store(&o);
	if (st == NULL)
		return 1;
	if (list)
		rc = cmd_list(st, &o);
	else if (approve || reject)
		rc = cmd_decide(st, &o, approve);
	else
		rc = cmd_show(st, &o);
	estd_store_close(st);
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = 1;
	return rc;
}

/* estd requests list|show|approve|reject ...; see admin.h. */
int estd_cmd_requests(int argc, char **argv)
{
	static const char *const subs[] = {"list", "show", "approve", "reject"};
	size_t i;

	if (argc < 2)
		return usage(stderr, 2);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i]) == 0)
			return run_sub(subs[i], argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	fputs("estd: requests: unknown subcommand ", stderr);
	estd_fputs_printable(stderr, argv[1]);
	fputc('\n', stderr);
	return usage(stderr, 2);
}
