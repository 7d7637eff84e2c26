/*
 * ca.c - `estd ca rollover`: a new CA key and root with its link
 * certificates (RFC 7030 4.1.3, RFC 4210 4.4), written next to the old CA
 * and announced in estd.conf's [ca] section; a running estd picks it up on
 * SIGHUP.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include <estkit/pki.h>

#include "admin/admin.h"
#include "admin/init.h"
#include "ca/issue.h"
#include "ca/rollover.h"
#include "ca/signer.h"
#include "config.h"
#include "util.h"

#define MAX_GENERATION 99

struct rollover_opts {
	const char *conf;
	const char *key_type;
	const char *subject;
	long long days;
	long long switch_at; /* Unix time */
};

/* The files of one rollover, absolute, and their names relative to the config directory. */
struct rollover_files {
	char *cert, *key, *links;
	char name_cert[32], name_key[32], name_links[32];
};

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: estd ca rollover [-c FILE] [--key-type SPEC] [--days N]\n"
		   "                        [--subject DN] [--switch-at YYYY-MM-DDTHH:MM:SSZ|now]\n"
		   "  Creates a new CA key and self-signed certificate (NewWithNew) and the\n"
		   "  link certificates NewWithOld and OldWithNew (RFC 4210 4.4), writes\n"
		   "  ca-N.pem, ca-N.key and ca-N-links.pem next to estd.conf and sets [ca]\n"
		   "  next_cert, next_key, link_certs and switch_at. SIGHUP applies it.\n"
		   "  --key-type  ec:P-256 (default), ec:P-384, ec:P-521, rsa:BITS, ed25519\n"
		   "  --days      validity of the new root (default %d)\n"
		   "  --subject   subject of the new root (default: the old root's)\n"
		   "  --switch-at when the new CA starts issuing (default: now)\n",
		ESTD_INIT_DEFAULT_DAYS);
	return rc;
}

static int parse_switch_at(const char *v, long long *out)
{
	if (strcmp(v, "now") == 0) {
		*out = (long long)time(NULL);
		return 0;
	}
	return estd_parse_utc(v, out);
}

static int parse_opts(int argc, char **argv, struct rollover_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "subject", required_argument, NULL, 's' },
		{ "switch-at", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 's': o->subject = optarg; break;
		case 'h': return usage(stdout, 0);
		case 'd':
			if (estd_parse_ll(optarg, 1, 36500, &o->days) != 0) {
				fprintf(stderr, "estd: ca: --days wants 1..36500\n");
				return usage(stderr, 2);
			}
			break;
		case 'w':
			if (parse_switch_at(optarg, &o->switch_at) != 0) {
				fprintf(stderr, "estd: ca: --switch-at wants now or "
						"YYYY-MM-DDTHH:MM:SSZ (UTC)\n");
				return usage(stderr, 2);
			}
			break;
		default:
			fprintf(stderr, "estd: ca: invalid option or missing argument: %s\n",
				argv[optind - 1]);
			return usage(stderr, 2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "estd: ca: unexpected argument '%s'\n", argv[optind]);
		return usage(stderr, 2);
	}
	return -1;
}

static void files_free(struct rollover_files *f)
{
	free(f->cert);
	free(f->key);
	free(f->links);
}

/* The first generation N >= 2 for which none of ca-N.pem, ca-N.key, ca-N-links.pem exists. */
static int pick_files(const char *dir, struct rollover_files *f)
{
	int n;

	for (n = 2; n <= MAX_GENERATION; n++) {
		snprintf(f->name_cert, sizeof(f->name_cert), "ca-%d.pem", n);
		snprintf(f->name_key, sizeof(f->name_key), "ca-%d.key", n);
		snprintf(f->name_links, sizeof(f->name_links), "ca-%d-links.pem", n);
		files_free(f);
		f->cert = estd_path_join(dir, f->name_cert);
		f->key = estd_path_join(dir, f->name_key);
		f->links = estd_path_join(dir, f->name_links);
		if (f->cert == NULL || f->key == NULL || f->links == NULL)
			return -1;
		if (access(f->cert, F_OK) != 0 && access(f->key, F_OK) != 0 &&
		    access(f->links, F_OK) != 0)
			return 0;
	}
	return -1;
}

/* 1 when line (up to its newline) is the [ca] section header. */
static int is_ca_header(const char *line, size_t len)
{
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	return len == 4 && memcmp(line, "[ca]", 4) == 0;
}

/* estd.conf with the rollover keys inserted right after the [ca] header, written atomically. */
static int update_config(const struct estd_config *cfg, const struct rollover_files *f,
			 long long switch_at)
{
	unsigned char *text = NULL;
	char *add = NULL, *out = NULL, ts[ESTD_TIME_BUFLEN];
	size_t len = 0, pos = 0, eol, alen;
	struct stat st;
	int ret = 1;

	if (stat(cfg->path, &st) != 0 || estkit_file_read(cfg->path, &text, &len) != ESTKIT_OK) {
		fprintf(stderr, "estd: ca: cannot read %s\n", cfg->path);
		return 1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		eol = nl != NULL ? (size_t)(nl - (const char *)text) + 1 : len;
		if (is_ca_header((const char *)text + pos, eol - pos - (nl != NULL)))
			break;
		pos = eol;
	}
	if (pos >= len) {
		fprintf(stderr, "estd: ca: %s has no [ca] section\n", cfg->path);
		goto out;
	}
	estd_fmt_time(switch_at, 'T', ts, sizeof(ts));
	add = estd_strfmt("%s# CA rollover (estd ca rollover, RFC 7030 4.1.3)\n"
			  "next_cert = %s\nnext_key = %s\nlink_certs = %s\nswitch_at = %sZ\n",
			  text[eol - 1] == '\n' ? "" : "\n", f->name_cert, f->name_key,
			  f->name_links, ts);
	alen = add != NULL ? strlen(add) : 0;
	out = add != NULL ? malloc(len + alen) : NULL;
	if (out == NULL)
		goto out;
	memcpy(out, text, eol);
	memcpy(out + eol, add, alen);
	memcpy(out + eol + alen, text + eol, len - eol);
	if (estkit_file_write_atomic(cfg->path, out, len + alen, st.st_mode & 07777) != ESTKIT_OK)
		fprintf(stderr, "estd: ca: cannot write %s\n", cfg->path);
	else
		ret = 0;
out:
	free(out);
	free(add);
	estkit_free(text);
	return ret;
}

/* The CA that issues now, from [ca] cert and key. */
static struct estd_ca *load_old(const struct estd_config *cfg)
{
	struct estd_signer *signer = NULL;
	struct estd_ca *ca = NULL;
	X509 *cert = NULL;
	char *err = NULL;

	if (estkit_cert_load(cfg->ca_cert, &cert) != ESTKIT_OK) {
		fprintf(stderr, "estd: ca: cannot read CA certificate %s\n", cfg->ca_cert);
		return NULL;
	}
	if (estd_signer_load_cfg(cfg->ca_key, cfg, &signer, &err) != ESTKIT_OK)
		fprintf(stderr, "estd: ca: %s\n", err != NULL ? err : "cannot read the CA key");
	else if (estd_ca_new(cert, signer, &ca) != ESTKIT_OK)
		fprintf(stderr, "estd: ca: %s does not match %s or is not a CA\n", cfg->ca_key,
			cfg->ca_cert);
	else
		signer = NULL;
	free(err);
	estd_signer_free(signer);
	X509_free(cert);
	return ca;
}

/* Key, links, then the certificate: next_cert never names a key that is not on disk. */
static int write_files(const struct rollover_files *f, EVP_PKEY *key,
		       const struct estd_rollover_certs *c)
{
	STACK_OF(X509) *links = sk_X509_new_null();
	enum estkit_status rc = ESTKIT_ENOMEM;
	const char *what = f->key;

	if (links != NULL && sk_X509_push(links, c->new_with_old) && sk_X509_push(links, c->old_with_new)) {
		rc = estkit_key_save(f->key, key);
		if (rc == ESTKIT_OK && (what = f->links) != NULL)
			rc = estkit_certs_save(f->links, links);
		if (rc == ESTKIT_OK && (what = f->cert) != NULL)
			rc = estkit_cert_save(f->cert, c->new_with_new);
	}
	sk_X509_free(links); /* the references stay c's */
	if (rc != ESTKIT_OK)
		fprintf(stderr, "estd: ca: cannot write %s: %s\n", what, estkit_strerror(rc));
	return rc == ESTKIT_OK ? 0 : 1;
}

/* Generates the new key and the three certificates. */
static int make_rollover(const struct rollover_opts *o, struct estd_ca *old, EVP_PKEY **key,
			 struct estd_rollover_certs *c)
{
	struct estd_signer *signer = NULL;
	X509_NAME *subject = NULL;
	const char *spec = o->key_type != NULL ? o->key_type : ESTD_INIT_DEFAULT_KEY;
	char *err = NULL;
	int ret = 1;

	if (estkit_key_generate(spec, key) != ESTKIT_OK) {
		fprintf(stderr, "estd: ca: --key-type '%s': unsupported key type\n", spec);
		return 1;
	}
	if (o->subject != NULL && estkit_name_parse(o->subject, &subject) != ESTKIT_OK) {
		fprintf(stderr, "estd: ca: --subject '%s' is not a DN like /CN=name/O=org\n",
			o->subject);
		return 1;
	}
	if (estd_signer_new(*key, &signer) != ESTKIT_OK)
		fprintf(stderr, "estd: ca: --key-type '%s' cannot sign certificates\n", spec);
	else if (estd_rollover_create(old, signer, subject, (int)o->days, c, &err) != ESTKIT_OK)
		fprintf(stderr, "estd: ca: %s\n", err != NULL ? err : "rollover failed");
	else
		ret = 0;
	free(err);
	estd_signer_free(signer);
	X509_NAME_free(subject);
	return ret;
}

static int do_rollover(const struct estd_config *cfg, const struct rollover_opts *o)
{
	struct estd_rollover_certs c = { NULL, NULL, NULL };
	struct rollover_files f;
	struct estd_ca *old = NULL;
	EVP_PKEY *key = NULL;
	char ts[ESTD_TIME_BUFLEN];
	int ret = 1;

	memset(&f, 0, sizeof(f));
	if (cfg->ca_next_cert != NULL) {
		fprintf(stderr, "estd: ca: a rollover is already under way ([ca] next_cert = %s)\n",
			cfg->ca_next_cert);
		return 1;
	}
	if ((old = load_old(cfg)) == NULL)
		return 1;
	if (pick_files(cfg->dir, &f) != 0) {
		fprintf(stderr, "estd: ca: no free ca-N.pem name in %s\n", cfg->dir);
		goto out;
	}
	if (make_rollover(o, old, &key, &c) != 0 || write_files(&f, key, &c) != 0 ||
	    update_config(cfg, &f, o->switch_at) != 0)
		goto out;
	estd_fmt_time(o->switch_at, ' ', ts, sizeof(ts));
	printf("new CA %s (key %s), links NewWithOld + OldWithNew in %s\n", f.cert, f.key,
	       f.links);
	printf("%s: [ca] next_cert, next_key, link_certs, switch_at (%s UTC) set;\n"
	       "send SIGHUP to estd (or restart it) to apply\n", cfg->path, ts);
	ret = 0;
out:
	estd_rollover_certs_clear(&c);
	EVP_PKEY_free(key);
	estd_ca_free(old);
	files_free(&f);
	return ret;
}

/* estd ca rollover ...; see admin.h. */
int estd_cmd_ca(int argc, char **argv)
{
	struct rollover_opts o = { NULL, NULL, NULL, ESTD_INIT_DEFAULT_DAYS, 0 };
	struct estd_config *cfg = NULL;
	int rc;

	if (argc < 2)
		return usage(stderr, 2);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout, 0);
	if (strcmp(argv[1], "rollover") != 0) {
		fputs("estd: ca: unknown subcommand ", stderr);
		estd_fputs_printable(stderr, argv[1]);
		fputc('\n', stderr);
		return usage(stderr, 2);
	}
	o.switch_at = (long long)time(NULL);
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc >= 0)
		return rc;
	cfg = estd_admin_load_config("ca", o.conf);
	if (cfg == NULL)
		return 1;
	rc = do_rollover(cfg, &o);
	estd_config_free(cfg);
	return rc;
}
