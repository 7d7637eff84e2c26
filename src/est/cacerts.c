/*
 * cacerts.c - `est cacerts`: fetch the CA certificates (RFC 7030 4.1),
 * verified with --cacert or, for a first contact, by fingerprint
 * (--insecure-bootstrap, RFC 7030 4.1.1).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

#define CMD "cacerts"

struct opts {
	struct est_conn conn;
	int bootstrap;
	const char *fingerprint;
	const char *out;
};

void est_usage_cacerts(FILE *f)
{
	fprintf(
	    f,
	    "usage: est cacerts --server URL (--cacert FILE | --insecure-bootstrap "
	    "--fingerprint SHA256)\n"
	    "                   [--out FILE] [--timeout SECONDS] [--verbose]\n"
	    "\n"
	    "  --server URL          https://host[:port][/label]\n"
	    "  --cacert FILE         trust anchors that authenticate the server\n"
	    "  --insecure-bootstrap  first contact: do not verify the server, accept the answer\n"
	    "                        only if a returned CA has the SHA-256 --fingerprint and the\n"
	    "                        server's TLS certificate chains to it\n"
	    "  --fingerprint HEX     SHA-256 of the CA certificate (colons optional)\n"
	    "  --out FILE            where to write the CA certificates (default ./cacerts.pem)\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"cacert", required_argument, NULL, 'c'},
	    {"insecure-bootstrap", no_argument, NULL, 'B'},
	    {"fingerprint", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"timeout", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"accept-ra", no_argument, NULL, 'Z'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch = 0;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":s:c:f:o:t:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->conn.server = optarg; break;
		case 'c': o->conn.cacert = optarg; break;
		case 'B': o->bootstrap = 1; break;
		case 'f': o->fingerprint = optarg; break;
		case 'o': o->out = optarg; break;
		case 'v': o->conn.verbose = 1; break;
		case 'Z': o->conn.accept_ra = 1; break;
		case 'h': est_usage_cacerts(stdout); return -1;
		case 't':
			if (est_parse_long(optarg, 1, 3600, &o->conn.timeout) != 0)
				return est_usage_error(CMD, "--timeout wants 1..3600 seconds");
			break;
		case ':': return est_usage_error(CMD, "%s needs a value", argv[optind - 1]);
		default: return est_usage_error(CMD, "unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return est_usage_error(CMD, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

static int check(const struct opts *o)
{
	if (o->conn.server == NULL)
		return est_usage_error(CMD, "--server is required");
	if (o->fingerprint != NULL && !o->bootstrap)
		return est_usage_error(CMD, "--fingerprint goes with --insecure-bootstrap");
	if (o->bootstrap && o->fingerprint == NULL)
		return est_usage_error(CMD, "--insecure-bootstrap needs --fingerprint");
	if (o->bootstrap && o->conn.cacert != NULL)
		return est_usage_error(CMD, "--cacert and --insecure-bootstrap exclude each other");
	if (!o->bootstrap && o->conn.cacert == NULL)
		return est_usage_error(CMD,
		                       "need --cacert, or --insecure-bootstrap with --fingerprint");
	return 0;
}

int est_cmd_cacerts(int argc, char **argv)
{
	struct opts o;
	struct estkit_client *c = NULL;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc = ESTKIT_OK;
	int ex = 0;
	int i = 0;

	memset(&o, 0, sizeof(o));
	o.out = "cacerts.pem";
	if ((ex = parse(argc, argv, &o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((ex = check(&o)) != 0)
		return ex;
	if ((c = est_client_open(CMD, &o.conn, &ex)) == NULL)
		return ex;
	if (o.bootstrap)
		rc = estkit_client_cacerts_bootstrap(c, o.fingerprint, &certs);
	else
		rc = estkit_client_cacerts(c, &certs);
	if (rc != ESTKIT_OK) {
		ex = est_client_error(CMD, c, rc);
		goto out;
	}
	if ((rc = estkit_certs_save(o.out, certs)) != ESTKIT_OK) {
		est_err(CMD, "cannot write %s: %s", o.out, estkit_strerror(rc));
		ex = EST_EXIT_FAIL;
		goto out;
	}
	printf("%d CA certificate%s written to %s:\n", sk_X509_num(certs),
	       sk_X509_num(certs) == 1 ? "" : "s", o.out);
	for (i = 0; i < sk_X509_num(certs); i++)
		est_print_cert_line(stdout, sk_X509_value(certs, i));
	ex = EST_EXIT_OK;
out:
	est_certs_free(certs);
	estkit_client_free(c);
	return ex;
}
