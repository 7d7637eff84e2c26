/*
 * crl.c - `estd crl`: a CRL (RFC 5280 5) of every revocation in the store,
 * signed through the CA signer, with a CRL number from the store that only
 * grows (RFC 5280 5.2.3), and `estd certs revoke`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <estkit/pki.h>

#include "admin/admin.h"
#include "ca/signer.h"
#include "config.h"
#include "store/store.h"

#define CRL_DAYS_DEFAULT 7
#define CRL_DAYS_MAX 3650

static const char *const reason_names[] = { "unspecified", "keyCompromise", "cACompromise",
	"affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise" };

/* See admin.h. */
int estd_crl_reason_parse(const char *s)
{
	size_t i;
	char *end = NULL;
	long n;

	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof(reason_names) / sizeof(reason_names[0]); i++)
		if (reason_names[i] != NULL && strcasecmp(s, reason_names[i]) == 0)
			return (int)i;
	n = strtol(s, &end, 10);
	return *s != '\0' && *end == '\0' && n >= 0 && n <= 10 && n != 7 ? (int)n : -1;
}

/* One revokedCertificates entry with its reasonCode (RFC 5280 5.3.1). */
static int add_revoked(void *arg, const char *serial, int reason, long long at)
{
	X509_CRL *crl = arg;
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)at);
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	int rc = 1;

	if (rv == NULL || t == NULL || e == NULL || BN_hex2bn(&bn, serial) == 0 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL || !X509_REVOKED_set_serialNumber(rv, sn) ||
	    !X509_REVOKED_set_revocationDate(rv, t) || !ASN1_ENUMERATED_set(e, reason))
		goto out;
	/* RFC 5280 5.3.1: unspecified SHOULD be absent */
	if (reason != 0 && !X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, e, 0, 0))
		goto out;
	if (!X509_CRL_add0_revoked(crl, rv))
		goto out;
	rv = NULL;
	rc = 0;
out:
	X509_REVOKED_free(rv);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(e);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return rc;
}

/* v2 CRL fields and extensions: issuer, times, cRLNumber, authorityKeyIdentifier. */
static int crl_fields(X509_CRL *crl, X509 *ca, long long number, long days)
{
	ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
	ASN1_TIME *next = X509_time_adj_ex(NULL, (int)days, 0, NULL);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int ok = 0;

	if (now == NULL || next == NULL || num == NULL || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, now) || !X509_CRL_set1_nextUpdate(crl, next) ||
	    !ASN1_INTEGER_set_int64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto out;
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	ok = aki != NULL && X509_CRL_add_ext(crl, aki, -1);
out:
	X509_EXTENSION_free(aki);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	ASN1_INTEGER_free(num);
	return ok;
}

/* Builds and signs the CRL. */
static int make_crl(const struct estd_config *cfg, struct estd_store *st, long days,
		    X509_CRL **out)
{
	struct estd_signer *signer = NULL;
	X509 *ca = NULL;
	X509_CRL *crl = X509_CRL_new();
	long long number = 0;
	char *err = NULL;
	int rc = 1;

	if (estkit_cert_load(cfg->ca_cert, &ca) != ESTKIT_OK ||
	    estd_signer_load_cfg(cfg->ca_key, cfg, &signer, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: crl: cannot load the CA: %s\n", err != NULL ? err : cfg->ca_cert);
		goto out;
	}
	if (crl == NULL || estd_store_revocation_foreach(st, add_revoked, crl) != ESTKIT_OK ||
	    estd_store_crl_next_number(st, &number) != ESTKIT_OK) {
		fprintf(stderr, "estd: crl: %s\n", estd_store_errmsg(st));
		goto out;
	}
	if (!crl_fields(crl, ca, number, days) || !X509_CRL_sort(crl) ||
	    estd_signer_sign_crl(signer, crl) != ESTKIT_OK) {
		fprintf(stderr, "estd: crl: cannot build or sign the CRL\n");
		goto out;
	}
	*out = crl;
	crl = NULL;
	rc = 0;
out:
	free(err);
	X509_CRL_free(crl);
	X509_free(ca);
	estd_signer_free(signer);
	return rc;
}

static int crl_usage(FILE *f, int rc)
{
	fputs("usage: estd crl [-c FILE] [--out FILE] [--days N]\n"
	      "  writes a PEM CRL of every revoked certificate, signed by the CA;\n"
	      "  nextUpdate is N days ahead (default 7)\n", f);
	return rc;
}

static int write_crl(X509_CRL *crl, const char *path)
{
	FILE *f = path != NULL ? fopen(path, "w") : stdout;
	int ok;

	if (f == NULL) {
		fprintf(stderr, "estd: crl: cannot write %s\n", path);
		return 1;
	}
	ok = PEM_write_X509_CRL(f, crl);
	if (path != NULL)
		ok = fclose(f) == 0 && ok;
	else
		ok = fflush(f) == 0 && ok;
	return ok ? 0 : 1;
}

/* See admin.h. */
int estd_cmd_crl(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
		{"days", required_argument, NULL, 'd'},   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct estd_config *cfg = NULL;
	struct estd_store *st = NULL;
	X509_CRL *crl = NULL;
	const char *conf = NULL, *outp = NULL;
	char *end = NULL, *err = NULL;
	long days = CRL_DAYS_DEFAULT;
	int c, rc = 1;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'o': outp = optarg; break;
		case 'd':
			days = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || days < 1 || days > CRL_DAYS_MAX) {
				fprintf(stderr, "estd: crl: --days wants 1..%d\n", CRL_DAYS_MAX);
				return 2;
			}
			break;
		case 'h': return crl_usage(stdout, 0);
		default: return crl_usage(stderr, 2);
		}
	}
	if (optind != argc)
		return crl_usage(stderr, 2);
	cfg = estd_admin_load_config("crl", conf);
	if (cfg == NULL)
		return 1;
	if (estd_store_open(cfg->store_path, &st, &err) != ESTKIT_OK) {
		fprintf(stderr, "estd: crl: %s\n", err != NULL ? err : "cannot open the store");
		goto out;
	}
	if (make_crl(cfg, st, days, &crl) == 0)
		rc = write_crl(crl, outp);
out:
	free(err);
	X509_CRL_free(crl);
	estd_store_close(st);
	estd_config_free(cfg);
	return rc;
}
