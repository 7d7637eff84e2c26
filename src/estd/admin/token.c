/*
 * token.c - `estd token create|list|revoke`: one-time enrollment tokens
 * (token.h). create prints the secret once; the store keeps its SHA-256.
 * Works on the store directly, like `estd requests`: a running estd sees a
 * new token at once.
 */
#include "admin/admin.h"
#include "config.h"
#include "policy.h"
#include "store/store.h"
#include "token.h"
#include "util.h"

#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <estkit/pki.h>

struct topts {
	const char *conf;
	const char *label;
	const char *subject;
	const char *sans[ESTD_TOKEN_MAX_SANS];
	size_t nsans;
	long long expires;
	int json;
};

static int usage(FILE *out, int rc)
{
	fputs("usage: estd token create --label L --subject DN [--san TYPE:NAME]... "
	      "[--expires 24h] [-c FILE]\n"
	      "       estd token list [--json] [-c FILE]\n"
	      "       estd token revoke ID [-c FILE]\n"
	      "create prints the secret once: give it to the device, which enrolls with\n"
	      "  est enroll --otp SECRET   (the CSR's otpChallenge, RFC 7894)\n"
	      "  or HTTP Basic user \"token\" with the secret as password.\n"
	      "--label \"\" is the default label; --expires: Ns, Nm, Nh, Nd (1 min..365 d).\n",
	      out);
	return rc;
}

static int parse(int argc, char **argv, struct topts *o)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},  {"label", required_argument, NULL, 'l'},
		{"subject", required_argument, NULL, 's'}, {"san", required_argument, NULL, 'a'},
		{"expires", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 'l': o->label = optarg; break;
		case 's': o->subject = optarg; break;
		case 'j': o->json = 1; break;
		case 'a':
			if (o->nsans == ESTD_TOKEN_MAX_SANS) {
				fprintf(stderr, "estd: token: at most %d --san\n", ESTD_TOKEN_MAX_SANS);
				return 2;
			}
			o->sans[o->nsans++] = optarg;
			break;
		case 'e':
			if (estd_token_parse_duration(optarg, &o->expires) != 0) {
				fputs("estd: token: --expires wants 60s..365d (e.g. 30m, 24h, 7d)\n",
				      stderr);
				return 2;
			}
			break;
		case 'h': return usage(stdout, -1);
		default:
			fprintf(stderr, "estd: token: invalid option or missing argument: %s\n",
				argv[optind - 1]);
			return usage(stderr, 2);
		}
	}
	return 0;
}

static char *operator_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL && pw->pw_name != NULL)
		return estd_strfmt("operator:%s", pw->pw_name);
	return estd_strfmt("operator:uid %ld", (long)geteuid());
}

/* The token's names must be ones the label's policy allows: a token never widens it. */
static int check_label(const struct estd_config *cfg, const struct estd_token_record *t,
		       char *reason, size_t len)
{
	const struct estd_label *lab = estd_config_label(cfg, t->label);
	struct estd_policy_who who = {NULL, NULL, 1, 0};
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL;
	const char *sans[ESTD_TOKEN_MAX_SANS];
	char *copy = NULL, *p;
	size_t n = 0;
	int rc = -1;

	if (lab == NULL)
		return snprintf(reason, len, "no label '%s' in the configuration", t->label), -1;
	/* a throw-away request with the token's names, checked as the server will */
	if ((copy = estd_strdup(t->sans)) == NULL)
		return snprintf(reason, len, "out of memory"), -1;
	for (p = copy; *p != '\0' && n < ESTD_TOKEN_MAX_SANS;) {
		size_t l = strcspn(p, ",");
		char *next = p + l + (p[l] == ',');

		p[l] = '\0';
		while (*p == ' ')
			p++;
		sans[n++] = p;
		p = next;
	}
	if (estkit_key_generate("ec:P-256", &key) != ESTKIT_OK ||
	    estkit_csr_new(key, t->subject, sans, n, NULL, &req) != ESTKIT_OK) {
		snprintf(reason, len, "cannot build a request with these names");
		goto out;
	}
	rc = estd_policy_check(lab->policy, &who, req, reason, len);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	free(copy);
	return rc;
}

static struct estd_store *open_store(struct estd_config *cfg)
{
	struct estd_store *st = NULL;
	char *err = NULL;

	if (estd_store_open(cfg->store_path, &st, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: token: %s\n", err != NULL ? err : "cannot open the store");
		free(err);
	}
	return st;
}

static int cmd_create(struct estd_config *cfg, const struct topts *o)
{
	struct estd_token_record t;
	struct estd_store *st = NULL;
	char id[ESTD_TOKEN_ID_LEN + 1], secret[ESTD_TOKEN_SECRET_LEN + 1];
	char hash[ESTD_TOKEN_HASH_LEN + 1], reason[320], exp[ESTD_TIME_BUFLEN];
	int ex = 1;

	memset(&t, 0, sizeof(t));
	if (o->label == NULL || o->subject == NULL) {
		fputs("estd: token: create needs --label and --subject\n", stderr);
		return usage(stderr, 2);
	}
	if (estd_token_constraints(o->subject, o->sans, o->nsans, &t.subject, &t.sans, reason,
				   sizeof(reason)) != 0) {
		fprintf(stderr, "estd: token: %s\n", reason);
		return 2;
	}
	t.label = (char *)o->label;
	if (check_label(cfg, &t, reason, sizeof(reason)) != 0) {
		fprintf(stderr, "estd: token: refused by label '%s': %s\n", o->label, reason);
		goto out;
	}
	if ((st = open_store(cfg)) == NULL || estd_token_generate(id, secret, hash) != ESTKIT_OK)
		goto out;
	t.id = id;
	t.hash = hash;
	t.created_at = (long long)time(NULL);
	t.expires_at = t.created_at + (o->expires > 0 ? o->expires : 86400);
	t.created_by = operator_name();
	if (estd_store_token_insert(st, &t) != ESTKIT_OK) {
		fprintf(stderr, "estd: token: %s\n", estd_store_errmsg(st));
		goto out;
	}
	printf("token %s for label '%s', subject %s%s%s, expires %sZ\n%s\n", id, o->label,
	       t.subject, t.sans[0] ? ", SANs " : "", t.sans,
	       estd_fmt_time(t.expires_at, 'T', exp, sizeof(exp)), secret);
	ex = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(t.subject);
	free(t.sans);
	free(t.created_by);
	estd_store_close(st);
	return ex;
}

static const char *state_of(const struct estd_token_record *t)
{
	if (t->revoked_at != 0)
		return "revoked";
	if (t->used_at != 0)
		return "used";
	return t->expires_at <= (long long)time(NULL) ? "expired" : "unused";
}

static int list_one(void *arg, const struct estd_token_record *t)
{
	int *n = arg;
	char e[ESTD_TIME_BUFLEN];

	if (n[1]) {
		fputs(n[0] == 0 ? "\n  {\"id\": " : ",\n  {\"id\": ", stdout);
		estd_json_string(stdout, t->id);
		fputs(", \"state\": ", stdout);
		estd_json_string(stdout, state_of(t));
		fputs(", \"label\": ", stdout);
		estd_json_string(stdout, t->label);
		fputs(", \"subject\": ", stdout);
		estd_json_string(stdout, t->subject);
		fputs(", \"sans\": ", stdout);
		estd_json_string(stdout, t->sans);
		fputs(", \"used_by\": ", stdout);
		estd_json_string(stdout, t->used_by);
		fputs(", \"serial\": ", stdout);
		estd_json_string(stdout, t->serial);
		printf(", \"expires_at\": %lld}", t->expires_at);
	} else {
		printf("%-16s  %-7s  %-19s  %-12s  ", t->id, state_of(t),
		       estd_fmt_time(t->expires_at, ' ', e, sizeof(e)),
		       t->label[0] != '\0' ? t->label : "-");
		estd_fputs_printable(stdout, t->subject);
		if (t->serial[0] != '\0')
			printf("  serial %s", t->serial);
		fputc('\n', stdout);
	}
	n[0]++;
	return 0;
}

static int cmd_list(struct estd_config *cfg, const struct topts *o)
{
	struct estd_store *st = open_store(cfg);
	int n[2] = {0, o->json};
	enum estkit_status rc;

	if (st == NULL)
		return 1;
	if (o->json)
		fputc('[', stdout);
	else
		printf("%-16s  %-7s  %-19s  %-12s  %s\n", "ID", "STATE", "EXPIRES", "LABEL",
		       "SUBJECT");
	rc = estd_store_token_foreach(st, list_one, n);
	if (o->json)
		fputs(n[0] > 0 ? "\n]\n" : "]\n", stdout);
	if (rc != ESTKIT_OK)
		fprintf(stderr, "estd: token: %s\n", estd_store_errmsg(st));
	estd_store_close(st);
	return rc == ESTKIT_OK ? 0 : 1;
}

static int cmd_revoke(struct estd_config *cfg, const char *id)
{
	struct estd_store *st = open_store(cfg);
	enum estkit_status rc;

	if (st == NULL)
		return 1;
	rc = estd_store_token_revoke(st, id, (long long)time(NULL));
	if (rc == ESTKIT_OK)
		printf("token %s revoked\n", id);
	else
		fprintf(stderr, "estd: token: %s: %s\n", id,
			rc == ESTKIT_ENOTFOUND ? "no such token"
			: rc == ESTKIT_EEXIST ? "already used or revoked" : estd_store_errmsg(st));
	estd_store_close(st);
	return rc == ESTKIT_OK ? 0 : 1;
}

/* See admin/admin.h. */
int estd_cmd_token(int argc, char **argv)
{
	struct topts o;
	struct estd_config *cfg = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int ex;

	memset(&o, 0, sizeof(o));
	if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return usage(sub == NULL ? stderr : stdout, sub == NULL ? 2 : 0);
	if ((ex = parse(argc - 1, argv + 1, &o)) != 0)
		return ex < 0 ? 0 : ex;
	if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "revoke") != 0) {
		fprintf(stderr, "estd: token: unknown subcommand '%s'\n", sub);
		return usage(stderr, 2);
	}
	if (argc - 1 - optind != (strcmp(sub, "revoke") == 0)) {
		fputs("estd: token: revoke takes one ID; create and list take none\n", stderr);
		return usage(stderr, 2);
	}
	if ((cfg = estd_admin_load_config("token", o.conf)) == NULL)
		return 1;
	if (strcmp(sub, "create") == 0)
		ex = cmd_create(cfg, &o);
	else if (strcmp(sub, "list") == 0)
		ex = cmd_list(cfg, &o);
	else
		ex = cmd_revoke(cfg, argv[1 + optind]);
	estd_config_free(cfg);
	return ex;
}
