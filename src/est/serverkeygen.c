/*
 * serverkeygen.c - `est serverkeygen` (/serverkeygen, RFC 7030 4.4): the
 * server generates the key. est sends a request with the wanted subject and
 * key type (signed by a throw-away key the server ignores), optionally asks
 * for the key to be encrypted (--decrypt-key), and writes key.pem (0600),
 * cert.pem and chain.pem.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common.h"

#define MAX_SANS 64

struct sopts {
	const char *cmd;
	struct est_conn conn;
	const char *subject;
	const char *sans[MAX_SANS];
	size_t nsans;
	const char *key_type;
	const char *decrypt_key;
	const char *key_id;
	const char *out;
};

/* Everything a run owns. */
struct skg_run {
	X509_REQ *csr;
	EVP_PKEY *csr_key;    /* throw-away: signs the request only */
	EVP_PKEY *dkey;       /* --decrypt-key as a private key */
	X509 *dcert;          /* its certificate (--cert) */
	unsigned char kek[32];
	struct estkit_key_decrypt dec;
	struct estkit_serverkeygen_result res;
};

void est_usage_serverkeygen(FILE *f)
{
	fprintf(f,
	        "usage: est serverkeygen --server URL --cacert FILE\n"
	        "                        [--user NAME [--password-file FILE | --password PW]]\n"
	        "                        [--cert FILE --key FILE]\n"
	        "                        [--srp-user NAME [--srp-password-file FILE]]\n"
	        "                        --subject SUBJ [--san SAN]... [--key-type SPEC]\n"
	        "                        [--decrypt-key FILE [--key-id ID]]\n"
	        "                        [--out DIR] [--timeout SECONDS] [--verbose]\n"
	        "\n"
	        "The server generates the key (RFC 7030 4.4).\n"
	        "  --key-type SPEC     the key type to ask for (default ec:P-256)\n"
	        "  --decrypt-key FILE  ask for the key encrypted (CMS) on top of TLS:\n"
	        "                      a hex AES key file (16/24/32 bytes) with --key-id ID\n"
	        "                      (the server's serverkeygen_kek), or the PEM private key\n"
	        "                      of --cert (the key is encrypted to that certificate)\n"
	        "  --out DIR           writes DIR/key.pem (0600), DIR/cert.pem, DIR/chain.pem,\n"
	        "                      and DIR/key.p7m (the encrypted key as sent, DER)\n"
	        EST_SRP_USAGE);
}

static int parse_one(void *ctx, int ch, const char *arg)
{
	struct sopts *o = ctx;
	int ex = 0;

	if (est_conn_srp_option(&o->conn, ch, arg))
		return 0;
	if ((ex = est_conn_option(o->cmd, &o->conn, ch, arg)) >= 0)
		return ex;
	switch (ch) {
	case 'k': o->conn.key = arg; break;
	case 'S': o->subject = arg; break;
	case 'K': o->key_type = arg; break;
	case 'd': o->decrypt_key = arg; break;
	case 'i': o->key_id = arg; break;
	case 'o': o->out = arg; break;
	case 'a': return est_add_san(o->cmd, o->sans, &o->nsans, MAX_SANS, arg);
	default: return EST_EXIT_USAGE;
	}
	return 0;
}

static int parse(int argc, char **argv, struct sopts *o)
{
	static const struct option longopts[] = {
	    EST_CONN_LONGOPTS,
	    {"key", required_argument, NULL, 'k'},
	    {"subject", required_argument, NULL, 'S'},
	    {"san", required_argument, NULL, 'a'},
	    {"key-type", required_argument, NULL, 'K'},
	    {"decrypt-key", required_argument, NULL, 'd'},
	    {"key-id", required_argument, NULL, 'i'},
	    {"out", required_argument, NULL, 'o'},
	    EST_SRP_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ex = est_getopt(o->cmd, argc, argv, ":s:c:u:p:P:C:k:S:a:K:d:i:o:t:vh", longopts,
	                    est_usage_serverkeygen, parse_one, o);

	if (ex != 0)
		return ex;
	if (o->conn.server == NULL || (o->conn.cacert == NULL && o->conn.srp_user == NULL) ||
	    o->subject == NULL)
		return est_usage_error(o->cmd, "--server, --cacert (or --srp-user) and --subject "
		                               "are required");
	if (est_conn_srp_check(o->cmd, &o->conn) != 0)
		return EST_EXIT_USAGE;
	if ((o->conn.cert == NULL) != (o->conn.key == NULL))
		return est_usage_error(o->cmd, "--cert and --key go together");
	if (o->conn.user == NULL && (o->conn.password != NULL || o->conn.password_file != NULL))
		return est_usage_error(o->cmd, "a password needs --user");
	if (o->key_id != NULL && o->decrypt_key == NULL)
		return est_usage_error(o->cmd, "--key-id goes with --decrypt-key");
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A hex AES key file (white space ignored) into r->kek. */
static int load_kek(const struct sopts *o, struct skg_run *r)
{
	unsigned char *text = NULL;
	size_t len = 0, i, n = 0;
	int hi = -1, v = 0, ex = EST_EXIT_FAIL;

	if (estkit_file_read(o->decrypt_key, &text, &len) != ESTKIT_OK) {
		est_err(o->cmd, "cannot read --decrypt-key %s", o->decrypt_key);
		return EST_EXIT_FAIL;
	}
	for (i = 0; i < len; i++) {
		if (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')
			continue;
		if ((v = hexval(text[i])) < 0 || n == sizeof(r->kek))
			goto out;
		if (hi < 0)
			hi = v;
		else
			r->kek[n++] = (unsigned char)(hi << 4 | v), hi = -1;
	}
	if (hi < 0 && (n == 16 || n == 24 || n == 32)) {
		r->dec.kek = r->kek;
		r->dec.keklen = n;
		ex = EST_EXIT_OK;
	}
out:
	if (ex != EST_EXIT_OK)
		est_err(o->cmd, "--decrypt-key %s is neither a PEM private key nor a hex AES key "
		                "of 16, 24 or 32 bytes", o->decrypt_key);
	estkit_free_secret(text, len);
	return ex;
}

/* RFC 7030 4.4.1.1 / 4.4.1.2: name the key the server must encrypt to. */
static int ask_encryption(const struct sopts *o, struct skg_run *r)
{
	const ASN1_OCTET_STRING *ski = NULL;
	enum estkit_status rc;
	int ex;

	if (estkit_key_load(o->decrypt_key, &r->dkey) == ESTKIT_OK) {
		if (o->conn.cert == NULL || estkit_cert_load(o->conn.cert, &r->dcert) != ESTKIT_OK ||
		    EVP_PKEY_eq(r->dkey, X509_get0_pubkey(r->dcert)) != 1 ||
		    (ski = X509_get0_subject_key_id(r->dcert)) == NULL) {
			est_err(o->cmd, "--decrypt-key with a private key needs --cert with its "
			                "certificate (having a subjectKeyIdentifier)");
			return EST_EXIT_USAGE;
		}
		r->dec.key = r->dkey;
		r->dec.cert = r->dcert;
		rc = estkit_csr_add_key_id(r->csr, ESTKIT_KEY_ID_ASYMMETRIC,
		                           ASN1_STRING_get0_data(ski),
		                           (size_t)ASN1_STRING_length(ski), r->csr_key);
	} else {
		ERR_clear_error();
		if (o->key_id == NULL)
			return est_usage_error(o->cmd, "a symmetric --decrypt-key needs --key-id");
		if ((ex = load_kek(o, r)) != EST_EXIT_OK)
			return ex;
		rc = estkit_csr_add_key_id(r->csr, ESTKIT_KEY_ID_SYMMETRIC,
		                           (const unsigned char *)o->key_id, strlen(o->key_id),
		                           r->csr_key);
	}
	if (rc != ESTKIT_OK) {
		est_err(o->cmd, "cannot add the key identifier: %s", estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

static int make_request(const struct sopts *o, struct skg_run *r)
{
	enum estkit_status rc = estkit_key_generate(o->key_type, &r->csr_key);

	if (rc != ESTKIT_OK) {
		est_err(o->cmd, "unknown --key-type \"%s\"", o->key_type);
		return EST_EXIT_USAGE;
	}
	rc = estkit_csr_new(r->csr_key, o->subject, o->sans, o->nsans, NULL, &r->csr);
	if (rc != ESTKIT_OK) {
		est_err(o->cmd, "cannot build the request for \"%s\": %s", o->subject,
		        estkit_strerror(rc));
		return rc == ESTKIT_EINVAL ? EST_EXIT_USAGE : EST_EXIT_FAIL;
	}
	return o->decrypt_key != NULL ? ask_encryption(o, r) : EST_EXIT_OK;
}

/* key.p7m next to key.pem: the encrypted key as the server sent it. */
static int write_p7m(const struct sopts *o, const struct skg_run *r)
{
	char path[4096];

	if (!r->res.encrypted)
		return EST_EXIT_OK;
	if ((size_t)snprintf(path, sizeof(path), "%s/key.p7m", o->out) >= sizeof(path) ||
	    estkit_file_write_atomic(path, r->res.key_part, r->res.key_part_len, 0600) !=
	        ESTKIT_OK) {
		est_err(o->cmd, "cannot write %s/key.p7m", o->out);
		return EST_EXIT_FAIL;
	}
	printf("  %s (encrypted key as sent, CMS DER)\n", path);
	return EST_EXIT_OK;
}

/* Prints the certificate and writes key.pem, cert.pem, chain.pem (and key.p7m). */
static int finish(const struct sopts *o, struct skg_run *r)
{
	X509 *leaf = estkit_certs_find_by_key(r->res.certs, r->res.key);
	STACK_OF(X509) *chain = sk_X509_new_null(), *cas = NULL;
	int i, ex = EST_EXIT_FAIL;

	if (leaf == NULL || chain == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(r->res.certs); i++)
		if (sk_X509_value(r->res.certs, i) != leaf &&
		    !sk_X509_push(chain, sk_X509_value(r->res.certs, i)))
			goto out;
	if (estkit_certs_load(o->conn.cacert, &cas) != ESTKIT_OK)
		cas = NULL;
	printf("Key generated by the server%s; certificate issued:\n",
	       r->res.encrypted ? " (delivered encrypted)" : "");
	est_print_cert_summary(stdout, leaf);
	ex = est_write_enrollment(o->cmd, o->out, leaf, chain, r->res.key, cas, stdout);
	if (ex == EST_EXIT_OK)
		ex = write_p7m(o, r);
out:
	if (leaf == NULL || chain == NULL)
		est_err(o->cmd, leaf == NULL ? "no certificate for the key" : "out of memory");
	sk_X509_free(chain);
	est_certs_free(cas);
	ERR_clear_error();
	return ex;
}

int est_cmd_serverkeygen(int argc, char **argv)
{
	struct sopts o;
	struct skg_run r;
	struct estkit_client *c = NULL;
	enum estkit_status rc;
	int ex = 0;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.cmd = "serverkeygen";
	o.out = ".";
	if ((ex = parse(argc, argv, &o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((c = est_client_open(o.cmd, &o.conn, &ex)) == NULL)
		goto out;
	if ((ex = make_request(&o, &r)) != EST_EXIT_OK)
		goto out;
	rc = estkit_client_serverkeygen(c, r.csr, o.decrypt_key != NULL ? &r.dec : NULL, &r.res);
	if (rc != ESTKIT_OK) {
		ex = est_client_error(o.cmd, c, rc);
		goto out;
	}
	ex = finish(&o, &r);
out:
	estkit_client_free(c);
	estkit_serverkeygen_result_clear(&r.res);
	X509_REQ_free(r.csr);
	EVP_PKEY_free(r.csr_key);
	EVP_PKEY_free(r.dkey);
	X509_free(r.dcert);
	OPENSSL_cleanse(r.kek, sizeof(r.kek));
	return ex;
}
