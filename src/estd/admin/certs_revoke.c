/*
 * certs_revoke.c - `estd certs revoke SERIAL [--reason R]`: the operator's
 * revocation, recorded in the store like a CMC revokeRequest (by "admin").
 * The next `estd crl` lists it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "admin/admin.h"
#include "config.h"
#include "store/store.h"
#include "util.h"

static int usage(FILE *f, int rc)
{
	fputs("usage: estd certs revoke SERIAL [-c FILE] [--reason REASON]\n"
	      "  REASON: unspecified (default), keyCompromise, cACompromise, affiliationChanged,\n"
	      "  superseded, cessationOfOperation, certificateHold, privilegeWithdrawn,\n"
	      "  aACompromise, or the RFC 5280 number\n", f);
	return rc;
}

static int revoke(const struct estd_config *cfg, const char *serial, int reason)
{
	struct estd_store *st = NULL;
	char *err = NULL;
	enum estkit_status s;
	int rc = 1;

	if (estd_store_open(cfg->store_path, &st, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: certs: %s\n", err != NULL ? err : "cannot open the store");
		free(err);
		return 1;
	}
	s = estd_store_revoke(st, serial, reason, (long long)time(NULL), "admin");
	if (s == ESTKIT_OK) {
		fputs("revoked ", stdout);
		estd_fputs_printable(stdout, serial);
		fputc('\n', stdout);
		rc = 0;
	} else {
		fprintf(stderr, "estd: certs: %s\n", estd_store_errmsg(st));
	}
	estd_store_close(st);
	return rc;
}

/* See admin.h. */
int estd_certs_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"reason", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct estd_config *cfg = NULL;
	const char *conf = NULL;
	int c, reason = 0, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'r':
			reason = estd_crl_reason_parse(optarg);
			if (reason < 0) {
				fprintf(stderr, "estd: certs: unknown --reason\n");
				return usage(stderr, 2);
			}
			break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	if (argc - optind != 1)
		return usage(stderr, 2);
	cfg = estd_admin_load_config("certs", conf);
	if (cfg == NULL)
		return 1;
	rc = revoke(cfg, argv[optind], reason);
	estd_config_free(cfg);
	return rc;
}
