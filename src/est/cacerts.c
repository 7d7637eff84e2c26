/*
 * cacerts.c - `est cacerts`: fetch the CA certificates (RFC 7030 4.1),
 * verified with --cacert or, for a first contact, with implicit trust
 * anchors (--implicit-ta) or by fingerprint (--insecure-bootstrap), RFC 7030
 * 4.1.1.
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
	int update;
};

void est_usage_cacerts(FILE *f)
{
	fprintf(
	    f,
	    "usage: est cacerts --server URL (--cacert FILE | --implicit-ta FILE|system |\n"
	    "                   --srp-user NAME [--srp-password-file FILE] |\n"
	    "                   --insecure-bootstrap --fingerprint SHA256)\n"
	    "                   [--out FILE | --update] [--accept-ra] [--timeout SECONDS] "
	    "[--verbose]\n"
	    "\n"
	    "  --server URL          https://host[:port][/label]\n"
	    "  --cacert FILE         trust anchors that authenticate the server\n"
	    "  --implicit-ta SRC     first contact: authenticate the server with third-party\n"
	    "                        CAs (a file, or \"system\" for the OpenSSL default bundle)\n"
	    "                        and the URL host name (RFC 7030 3.6.2, 4.1.1); used only\n"
	    "                        when no --cacert is given, never with credentials\n"
	    "  --insecure-bootstrap  first contact: do not verify the server, accept the answer\n"
	    "                        only if a returned CA has the SHA-256 --fingerprint and the\n"
	    "                        server's TLS certificate chains to it\n"
	    "  --fingerprint HEX     SHA-256 of the CA certificate (colons optional)\n"
	    "  --out FILE            where to write the CA certificates (default ./cacerts.pem)\n"
	    "  --update              rewrite the --cacert file in place (atomically)\n"
	    "  --accept-ra           also authorize a server whose certificate (verified with\n"
	    "                        --cacert) carries id-kp-cmcRA (RFC 7030 3.6.1)\n"
	    "  --timeout SECONDS     limit for the whole operation (1..3600)\n"
	    "  --verbose             log each HTTP exchange on stderr\n"
	    EST_SRP_USAGE
	    "                   A /cacerts answer over TLS-SRP comes from the server holding\n"
	    "                   the verifier: it may serve as --cacert from then on (4.1.1)\n"
	    "\n"
	    "With --cacert, a root the server sends that the file does not hold is kept only\n"
	    "through a link certificate (NewWithOld) signed by a trusted root (RFC 7030 4.1.3);\n"
	    "others are dropped with a warning. This applies when the answer holds a trusted\n"
	    "root, and always with --update.\n");
}

static int parse_one(void *ctx, int ch, const char *arg)
{
	struct opts *o = ctx;
	int ex = 0;

	if (est_conn_srp_option(&o->conn, ch, arg))
		return 0;
	if ((ex = est_conn_option(CMD, &o->conn, ch, arg)) >= 0)
		return ex;
	switch (ch) {
	case 'B': o->bootstrap = 1; break;
	case 'f': o->fingerprint = arg; break;
	case 'o': o->out = arg; break;
	case 'U': o->update = 1; break;
	case 'Z': o->conn.accept_ra = 1; break;
	case 'I': o->conn.implicit_ta = arg; break;
	default: return EST_EXIT_USAGE;
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'},
	    {"cacert", required_argument, NULL, 'c'},
	    {"insecure-bootstrap", no_argument, NULL, 'B'},
	    {"fingerprint", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"update", no_argument, NULL, 'U'},
	    {"timeout", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"accept-ra", no_argument, NULL, 'Z'},
	    {"implicit-ta", required_argument, NULL, 'I'},
	    EST_SRP_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};

	return est_getopt(CMD, argc, argv, ":s:c:f:o:t:vh", longopts, est_usage_cacerts, parse_one,
	                  o);
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
	if (o->conn.implicit_ta != NULL && (o->bootstrap || o->conn.cacert != NULL))
		return est_usage_error(CMD, "--implicit-ta is for a first contact: not with "
		                            "--cacert or --insecure-bootstrap");
	if (o->update && o->conn.cacert == NULL)
		return est_usage_error(CMD, "--update needs --cacert (the file it rewrites)");
	if (o->update && o->out != NULL)
		return est_usage_error(CMD, "--update and --out exclude each other");
	if (o->conn.srp_user != NULL && (o->bootstrap || o->update))
		return est_usage_error(CMD, "--srp-user authenticates the server itself: not with "
		                            "--insecure-bootstrap or --update");
	if (!o->bootstrap && o->conn.cacert == NULL && o->conn.implicit_ta == NULL &&
	    o->conn.srp_user == NULL)
		return est_usage_error(CMD, "need --cacert, --implicit-ta, --srp-user, or "
		                            "--insecure-bootstrap with --fingerprint");
	return est_conn_srp_check(CMD, &o->conn) != 0 ? EST_EXIT_USAGE : 0;
}

/* Warns about each certificate of certs that kept lacks. */
static void warn_dropped(STACK_OF(X509) *certs, STACK_OF(X509) *kept)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (est_certs_hold(kept, x))
			continue;
		est_err(CMD, "warning: not trusting this certificate: no link certificate from a "
			     "trusted root vouches for it (RFC 7030 4.1.3):");
		est_print_cert_summary(stderr, x);
	}
}

/*
 * RFC 7030 4.1.3, RFC 4210 4.4: a new root only through a NewWithOld link
 * from a root of the --cacert file. With --update the file's own
 * certificates stay (first), so the old root survives a rollover.
 */
static int keep_linked(const struct opts *o, STACK_OF(X509) **certs)
{
	STACK_OF(X509) *trusted = NULL, *kept = NULL;
	enum estkit_status rc;
	int known = 0, rejected = 0, i, ex = EST_EXIT_FAIL;

	if ((rc = estkit_certs_load(o->conn.cacert, &trusted)) != ESTKIT_OK) {
		est_err(CMD, "cannot read %s: %s", o->conn.cacert, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	if ((rc = estkit_rollover_filter(*certs, trusted, &kept, &known, &rejected)) != ESTKIT_OK) {
		est_err(CMD, "%s", estkit_strerror(rc));
		goto out;
	}
	/* A --cacert that only authenticates TLS (no root in common): the answer as it is. */
	if (!o->update && known == 0) {
		ex = EST_EXIT_OK;
		goto out;
	}
	warn_dropped(*certs, kept);
	for (i = o->update ? sk_X509_num(trusted) - 1 : -1; i >= 0; i--) {
		X509 *x = sk_X509_value(trusted, i);

		if (est_certs_hold(kept, x))
			continue;
		if (!X509_up_ref(x))
			goto oom;
		if (!sk_X509_unshift(kept, x)) {
			X509_free(x);
			goto oom;
		}
	}
	est_certs_free(*certs);
	*certs = kept;
	kept = NULL;
	ex = EST_EXIT_OK;
	goto out;
oom:
	est_err(CMD, "out of memory");
out:
	est_certs_free(kept);
	est_certs_free(trusted);
	return ex;
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
	if ((ex = parse(argc, argv, &o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((ex = check(&o)) != 0)
		return ex;
	if (o.out == NULL)
		o.out = o.update ? o.conn.cacert : "cacerts.pem";
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
	if (o.conn.cacert != NULL && (ex = keep_linked(&o, &certs)) != EST_EXIT_OK)
		goto out;
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
