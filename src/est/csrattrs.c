/*
 * csrattrs.c - `est csrattrs` prints what a server asks requests to carry
 * (RFC 7030 4.5, RFC 9908), and est_csrattrs_follow() turns that into the
 * key type, signature hash, subject and altnames `est enroll` uses.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "common.h"

#define CMD "csrattrs"

void est_usage_csrattrs(FILE *f)
{
	fprintf(f, "usage: est csrattrs --server URL --cacert FILE\n"
	           "                    [--user NAME [--password-file FILE | --password PW]]\n"
	           "                    [--cert FILE --key FILE] [--der FILE] [--timeout SECONDS] "
	           "[--verbose]\n"
	           "                    [--srp-user NAME [--srp-password-file FILE]]\n"
	           "\n"
	           "Prints the CSR attributes the server asks for (RFC 7030 4.5, RFC 9908).\n"
	           "  --der FILE   also write the DER CsrAttrs to FILE\n" EST_SRP_USAGE);
}

/* Where parse_one() puts the options. */
struct copts {
	struct est_conn *conn;
	const char **der;
};

static int parse_one(void *ctx, int ch, const char *arg)
{
	struct copts *o = ctx;
	int ex = 0;

	if (est_conn_srp_option(o->conn, ch, arg))
		return 0;
	if ((ex = est_conn_option(CMD, o->conn, ch, arg)) >= 0)
		return ex;
	switch (ch) {
	case 'k': o->conn->key = arg; break;
	case 'd': *o->der = arg; break;
	default: return EST_EXIT_USAGE;
	}
	return 0;
}

static int parse(int argc, char **argv, struct est_conn *o, const char **der)
{
	static const struct option longopts[] = {
	    EST_CONN_LONGOPTS,
	    {"key", required_argument, NULL, 'k'},
	    {"der", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    EST_SRP_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct copts co = {o, der};
	int ex = est_getopt(CMD, argc, argv, ":s:c:u:p:P:C:k:d:t:vh", longopts, est_usage_csrattrs,
	                    parse_one, &co);

	if (ex != 0)
		return ex;
	if (o->server == NULL || (o->cacert == NULL && o->srp_user == NULL))
		return est_usage_error(CMD, "--server and --cacert (or --srp-user) are required");
	if ((o->cert != NULL) != (o->key != NULL))
		return est_usage_error(CMD, "--cert and --key go together");
	return est_conn_srp_check(CMD, o) != 0 ? EST_EXIT_USAGE : 0;
}

static int write_der(const char *path, const unsigned char *der, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(der, 1, len, f) == len;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		est_err(CMD, "cannot write %s", path);
	return ok ? EST_EXIT_OK : EST_EXIT_FAIL;
}

int est_cmd_csrattrs(int argc, char **argv)
{
	struct est_conn o;
	struct estkit_client *c = NULL;
	struct estkit_csrattrs *a = NULL;
	unsigned char *der = NULL;
	const char *derfile = NULL;
	char *text = NULL;
	size_t len = 0;
	enum estkit_status rc;
	int ex = 0;

	memset(&o, 0, sizeof(o));
	if ((ex = parse(argc, argv, &o, &derfile)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((c = est_client_open(CMD, &o, &ex)) == NULL)
		return ex;
	if ((rc = estkit_client_csrattrs(c, &der, &len)) != ESTKIT_OK) {
		ex = est_client_error(CMD, c, rc);
		goto out;
	}
	if (der == NULL) {
		printf("The server asks for no CSR attributes.\n");
		ex = EST_EXIT_OK;
		goto out;
	}
	if (estkit_csrattrs_decode(der, len, &a) != ESTKIT_OK ||
	    estkit_csrattrs_print(a, &text) != ESTKIT_OK) {
		est_err(CMD, "cannot read the CSR attributes");
		ex = EST_EXIT_FAIL;
		goto out;
	}
	fputs(text, stdout);
	ex = derfile != NULL ? write_der(derfile, der, len) : EST_EXIT_OK;
out:
	estkit_free(text);
	estkit_free(der);
	estkit_csrattrs_free(a);
	estkit_client_free(c);
	return ex;
}

/* ---- following the attributes in `est enroll` ------------------------------------- */

/* "DNS:x", "IP:a", "URI:u", "email:e" of one name; 0 when not representable. */
static int san_text(const GENERAL_NAME *g, char *buf, size_t len)
{
	int type = 0;
	const ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);
	char ip[INET6_ADDRSTRLEN];
	const char *prefix = type == GEN_DNS ? "DNS" : type == GEN_URI ? "URI" : "email";

	if (type == GEN_IPADD) {
		if ((n != 4 && n != 16) || inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip,
		                                     sizeof(ip)) == NULL)
			return 0;
		return snprintf(buf, len, "IP:%s", ip) < (int)len;
	}
	if (type != GEN_DNS && type != GEN_URI && type != GEN_EMAIL)
		return 0;
	if (n <= 0 || memchr(d, '\0', (size_t)n) != NULL)
		return 0;
	return snprintf(buf, len, "%s:%.*s", prefix, n, (const char *)d) < (int)len;
}

/* The key spec est_key_generate() takes for what the server wants, or NULL. */
static const char *key_spec(const struct estkit_csrattrs_wants *w, char *buf, size_t len)
{
	if (w->key_nid == NID_X9_62_id_ecPublicKey) {
		switch (w->curve_nid) {
		case 0:
		case NID_X9_62_prime256v1: return "ec:P-256";
		case NID_secp384r1: return "ec:P-384";
		case NID_secp521r1: return "ec:P-521";
		default: return NULL;
		}
	}
	if (w->key_nid == NID_rsaEncryption) {
		if (w->rsa_bits == 0)
			return "rsa";
		snprintf(buf, len, "rsa:%d", w->rsa_bits);
		return buf;
	}
	if (w->key_nid == NID_ED25519)
		return "ed25519";
	return NULL;
}

/* Tells the user about each item est cannot follow. */
static void report_unknown(const char *cmd, const struct estkit_csrattrs *a)
{
	char name[128];

	for (int i = 0; i < estkit_csrattrs_count(a); i++) {
		if (estkit_csrattrs_understood(a, i))
			continue;
		if (OBJ_obj2txt(name, sizeof(name), estkit_csrattrs_oid(a, i, NULL), 0) <= 0)
			snprintf(name, sizeof(name), "?");
		est_err(cmd, "note: cannot satisfy the server's CSR attribute %s; "
		             "the server may refuse the request", name);
	}
}

/* Fills p from the wants; the user's own choices (set in p already) win. */
static void plan_fill(const char *cmd, struct est_csr_plan *p,
                      const struct estkit_csrattrs_wants *w)
{
	const char *spec = NULL;

	if (p->key_type == NULL && w->key_nid != 0) {
		if ((spec = key_spec(w, p->key_buf, sizeof(p->key_buf))) != NULL)
			p->key_type = spec;
		else
			est_err(cmd, "note: cannot make the key the server asks for (%s %s)",
			        OBJ_nid2sn(w->key_nid), w->curve_nid ? OBJ_nid2sn(w->curve_nid) : "");
	}
	if (w->md_nid != 0)
		p->md = EVP_get_digestbyname(OBJ_nid2sn(w->md_nid));
	if (w->challenge_password && p->challenge == NULL && !p->challenge_bound)
		est_err(cmd, "note: the server asks for a challengePassword; "
		             "give one with --challenge-password or use --channel-binding");
	if (p->subject == NULL && w->subject != NULL && X509_NAME_entry_count(w->subject) > 0 &&
	    estkit_name_oneline(w->subject, &p->subject_buf) == ESTKIT_OK)
		p->subject = p->subject_buf;
	if (p->nsans == 0) {
		for (int i = 0; i < sk_GENERAL_NAME_num(w->sans) && p->nsans < EST_PLAN_MAX_SANS;
		     i++) {
			char buf[1100];
			if (san_text(sk_GENERAL_NAME_value(w->sans, i), buf, sizeof(buf)) &&
			    (p->san_bufs[p->nsans] = strdup(buf)) != NULL) {
				p->sans[p->nsans] = p->san_bufs[p->nsans];
				p->nsans++;
			}
		}
	}
}

/* See common.h. */
int est_csrattrs_follow(const char *cmd, struct estkit_client *c, struct est_csr_plan *p)
{
	struct estkit_csrattrs *a = NULL;
	struct estkit_csrattrs_wants w;
	unsigned char *der = NULL;
	size_t len = 0;
	enum estkit_status rc = estkit_client_csrattrs(c, &der, &len);
	long st = estkit_client_http_status(c);

	memset(&w, 0, sizeof(w));
	if (rc != ESTKIT_OK) {
		/* RFC 7030 4.5: optional; 404/501 mean the server has none */
		if (st == 404 || st == 501)
			return EST_EXIT_OK;
		return est_client_error(cmd, c, rc);
	}
	if (der == NULL)
		return EST_EXIT_OK;
	if (estkit_csrattrs_decode(der, len, &a) != ESTKIT_OK ||
	    estkit_csrattrs_wants(a, &w) != ESTKIT_OK) {
		est_err(cmd, "cannot read the server's CSR attributes");
		estkit_free(der);
		estkit_csrattrs_free(a);
		return EST_EXIT_FAIL;
	}
	plan_fill(cmd, p, &w);
	report_unknown(cmd, a);
	estkit_csrattrs_wants_clear(&w);
	estkit_free(der);
	estkit_csrattrs_free(a);
	ERR_clear_error();
	return EST_EXIT_OK;
}

/* See common.h. */
void est_csr_plan_clear(struct est_csr_plan *p)
{
	estkit_free(p->subject_buf);
	for (size_t i = 0; i < p->nsans; i++)
		free(p->san_bufs[i]);
	memset(p, 0, sizeof(*p));
}
