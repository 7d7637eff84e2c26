/*
 * fullcmc.c - `est fullcmc` (RFC 7030 4.3: a PKCS#10 request inside a signed
 * CMC PKIData) and `est revoke` (a CMC revokeRequest, RFC 5272 6.11).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/err.h>

#include "cmc_check.h"

#define MAX_SANS 64

struct copts {
	const char *cmd;
	struct est_conn conn;    /* --cert/--key: TLS client auth (and revoke's signer) */
	const char *signer;      /* revoke: --cert, which over TLS-SRP only signs */
	int revoke;
	const char *csr, *csr_key, *subject, *key_type, *out, *save, *serial, *reason;
	const char *id_secret_file, *identification; /* RFC 5272 6.2.1, 6.2.3 */
	const char *sans[MAX_SANS];
	size_t nsans;
	int crmf;                /* --crmf: a CRMF CertReqMsg instead of PKCS#10 */
};

void est_usage_fullcmc(FILE *f)
{
	fprintf(f, "usage: est fullcmc --server URL --cacert FILE\n"
		   "                   [--user NAME [--password-file FILE | --password PW]]\n"
		   "                   [--cert FILE --tls-key FILE]\n"
		   "                   [--srp-user NAME [--srp-password-file FILE]]\n"
		   "                   (--csr FILE --key FILE | --subject SUBJ [--san SAN]... "
		   "[--key-type SPEC])\n"
		   "                   [--crmf] [--identity-proof-secret-file FILE] "
		   "[--identification NAME]\n"
		   "                   [--out DIR] [--save-request FILE] [--timeout S] [--verbose]\n"
		   "\n"
		   "Sends the request as Full CMC (RFC 7030 4.3): a PKIData signed with the\n"
		   "request's key; checks the CA's signature, nonces and status of the answer.\n"
		   "  --crmf               send a CRMF CertReqMsg (RFC 4211) with a signature\n"
		   "                       proof of possession instead of the PKCS#10\n"
		   "  --save-request FILE  write the base64 CMC request to FILE, send nothing\n"
		   "  --identity-proof-secret-file FILE  add identityProofV2 (RFC 5272 6.2.1):\n"
		   "                       HMAC-SHA256 over the requests with the secret shared\n"
		   "                       with the CA (first line of FILE)\n"
		   "  --identification NAME  add the identification control (RFC 5272 6.2.3)\n"
		   EST_SRP_USAGE
		   "                   Without --cacert the CMC response must be signed by a CA\n"
		   "                   of the /cacerts answer over the TLS-SRP connection.\n");
}

void est_usage_revoke(FILE *f)
{
	fprintf(f, "usage: est revoke --server URL --cacert FILE --cert CERT --key KEY\n"
		   "                  --serial HEX [--reason NAME]\n"
		   "                  [--user NAME [--password-file FILE | --password PW]]\n"
		   "                  [--srp-user NAME [--srp-password-file FILE]]\n"
		   "                  [--save-request FILE] [--timeout S] [--verbose]\n"
		   "\n"
		   "Asks the CA to revoke certificate SERIAL with a CMC revokeRequest signed\n"
		   "with KEY (and CERT, also used for TLS client authentication).\n"
		   "  --reason  unspecified, keyCompromise, cACompromise, affiliationChanged,\n"
		   "            superseded, cessationOfOperation, certificateHold,\n"
		   "            privilegeWithdrawn, aACompromise (default unspecified)\n"
		   EST_SRP_USAGE
		   "                   Over TLS-SRP, CERT and KEY only sign the revokeRequest and\n"
		   "                   --cacert may be left out (as for est fullcmc).\n");
}

static int parse_one(void *ctx, int ch, const char *arg)
{
	struct copts *o = ctx;
	int ex = 0;

	if (est_conn_srp_option(&o->conn, ch, arg))
		return 0;
	if ((ex = est_conn_option(o->cmd, &o->conn, ch, arg)) >= 0)
		return ex;
	switch (ch) {
	case 'T': o->conn.key = arg; break;
	case 'k': o->csr_key = arg; break;
	case 'r': o->csr = arg; break;
	case 'S': o->subject = arg; break;
	case 'K': o->key_type = arg; break;
	case 'o': o->out = arg; break;
	case 'w': o->save = arg; break;
	case 'n': o->serial = arg; break;
	case 'R': o->reason = arg; break;
	case 'X': o->id_secret_file = arg; break;
	case 'D': o->identification = arg; break;
	case 'M': o->crmf = 1; break;
	case 'a': return est_add_san(o->cmd, o->sans, &o->nsans, MAX_SANS, arg);
	default: return EST_EXIT_USAGE;
	}
	return 0;
}

static int parse(int argc, char **argv, struct copts *o, void (*usage)(FILE *))
{
	static const struct option longopts[] = {
	    EST_CONN_LONGOPTS,
	    {"tls-key", required_argument, NULL, 'T'},
	    {"key", required_argument, NULL, 'k'},
	    {"csr", required_argument, NULL, 'r'},
	    {"subject", required_argument, NULL, 'S'},
	    {"san", required_argument, NULL, 'a'},
	    {"key-type", required_argument, NULL, 'K'},
	    {"out", required_argument, NULL, 'o'},
	    {"save-request", required_argument, NULL, 'w'},
	    {"serial", required_argument, NULL, 'n'},
	    {"reason", required_argument, NULL, 'R'},
	    {"identity-proof-secret-file", required_argument, NULL, 'X'},
	    {"identification", required_argument, NULL, 'D'},
	    {"crmf", no_argument, NULL, 'M'},
	    EST_SRP_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ex = est_getopt(o->cmd, argc, argv, ":s:c:u:p:P:C:T:k:r:S:a:K:o:w:n:R:t:vh",
	                    longopts, usage, parse_one, o);

	if (ex != 0)
		return ex;
	if (o->conn.server == NULL && o->save == NULL)
		return est_usage_error(o->cmd, "--server is required");
	if (o->conn.cacert == NULL && o->conn.srp_user == NULL && o->save == NULL)
		return est_usage_error(o->cmd, "--cacert (or --srp-user) is required");
	if (o->revoke) {
		/* the revokeRequest's signer; over TLS-SRP it does not authenticate TLS */
		o->signer = o->conn.cert;
		if (o->conn.srp_user != NULL)
			o->conn.cert = NULL;
	}
	if (est_conn_srp_check(o->cmd, &o->conn) != 0)
		return EST_EXIT_USAGE;
	if (o->conn.user == NULL && (o->conn.password != NULL || o->conn.password_file != NULL))
		return est_usage_error(o->cmd, "a password needs --user");
	return 0;
}

/* The request and its key: --csr + --key, or a new key for --subject. */
static int make_csr(struct copts *o, X509_REQ **csr, EVP_PKEY **key, int *generated)
{
	enum estkit_status rc;

	*generated = o->csr == NULL;
	if (o->csr != NULL) {
		if ((rc = estkit_csr_load(o->csr, csr)) != ESTKIT_OK ||
		    (rc = estkit_key_load(o->csr_key, key)) != ESTKIT_OK) {
			est_err(o->cmd, "cannot load --csr/--key: %s", estkit_strerror(rc));
			return EST_EXIT_FAIL;
		}
		if (EVP_PKEY_eq(*key, X509_REQ_get0_pubkey(*csr)) != 1) {
			est_err(o->cmd, "--key %s is not the key of --csr %s", o->csr_key, o->csr);
			return EST_EXIT_FAIL;
		}
		return EST_EXIT_OK;
	}
	if ((rc = estkit_key_generate(o->key_type, key)) != ESTKIT_OK ||
	    (rc = estkit_csr_new(*key, o->subject, o->sans, o->nsans, NULL, csr)) != ESTKIT_OK) {
		est_err(o->cmd, "cannot build the request: %s", estkit_strerror(rc));
		return rc == ESTKIT_EINVAL ? EST_EXIT_USAGE : EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

/* The issued certificate (ours by key) -> DIR/cert.pem, chain.pem (and key.pem). */
static int write_out(struct copts *o, STACK_OF(X509) *certs, EVP_PKEY *key, int generated)
{
	X509 *leaf = estkit_certs_find_by_key(certs, key);
	STACK_OF(X509) *chain = sk_X509_new_null(), *cas = NULL;
	int i, ex = EST_EXIT_FAIL;

	if (leaf == NULL || chain == NULL) {
		est_err(o->cmd, "the CMC response holds no certificate for the requested key");
		goto out;
	}
	for (i = 0; i < sk_X509_num(certs); i++)
		if (sk_X509_value(certs, i) != leaf && !sk_X509_push(chain, sk_X509_value(certs, i)))
			goto out;
	if (o->conn.cacert == NULL || estkit_certs_load(o->conn.cacert, &cas) != ESTKIT_OK)
		cas = NULL;
	printf("Certificate issued:\n");
	est_print_cert_summary(stdout, leaf);
	ex = est_write_enrollment(o->cmd, o->out, leaf, chain, generated ? key : NULL, cas, stdout);
out:
	sk_X509_free(chain);
	est_certs_free(cas);
	return ex;
}

/* identification and identityProofV2 (RFC 5272 6.2.3, 6.2.1) when asked for. */
static int add_identity(struct copts *o, struct estkit_cmc_req *req)
{
	struct est_conn src;
	char *secret = NULL;
	int ex = EST_EXIT_OK;

	if (o->identification != NULL &&
	    estkit_cmc_req_set_identification(req, o->identification) != ESTKIT_OK) {
		est_err(o->cmd, "bad --identification");
		return EST_EXIT_USAGE;
	}
	if (o->id_secret_file == NULL)
		return EST_EXIT_OK;
	/* the password-file reader: first line, bounded, wiped after use */
	memset(&src, 0, sizeof(src));
	src.password_file = o->id_secret_file;
	if ((ex = est_password_get(o->cmd, &src, &secret)) != EST_EXIT_OK)
		return ex;
	if (estkit_cmc_req_set_identity_secret(req, (const unsigned char *)secret,
					       strlen(secret)) != ESTKIT_OK) {
		est_err(o->cmd, "cannot use the identity proof secret");
		ex = EST_EXIT_FAIL;
	}
	est_secret_free(secret);
	return ex;
}

int est_cmd_fullcmc(int argc, char **argv)
{
	struct copts o;
	struct estkit_cmc_req *req = NULL;
	X509_REQ *csr = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *certs = NULL;
	int ex, generated = 0;

	memset(&o, 0, sizeof(o));
	o.cmd = "fullcmc";
	o.out = ".";
	if ((ex = parse(argc, argv, &o, est_usage_fullcmc)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((o.csr == NULL) == (o.subject == NULL) || (o.csr != NULL && o.csr_key == NULL))
		return est_usage_error(o.cmd, "need --csr FILE --key FILE, or --subject");
	if (o.conn.cert != NULL && o.conn.key == NULL)
		return est_usage_error(o.cmd, "--cert needs --tls-key");
	if ((ex = make_csr(&o, &csr, &key, &generated)) != EST_EXIT_OK)
		goto out;
	ex = EST_EXIT_FAIL;
	/* RFC 5272 3.2.1.3: the same request as PKCS#10 or as a CRMF CertReqMsg */
	if (estkit_cmc_req_new(&req) != ESTKIT_OK ||
	    (o.crmf ? estkit_cmc_req_add_crmf_csr(req, csr, key, NULL)
		    : estkit_cmc_req_add_pkcs10(req, csr, NULL)) != ESTKIT_OK) {
		est_err(o.cmd, "cannot build the CMC request");
		goto out;
	}
	if ((ex = add_identity(&o, req)) != EST_EXIT_OK)
		goto out;
	ex = EST_EXIT_FAIL;
	/* RFC 5272 3.2.1.3.2: signed with the requested key, named by its SKI */
	ex = est_cmc_send(o.cmd, &o.conn, req, NULL, key, o.save, &certs);
	if (ex == EST_EXIT_OK && o.save == NULL)
		ex = write_out(&o, certs, key, generated);
out:
	ERR_clear_error();
	est_certs_free(certs);
	estkit_cmc_req_free(req);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	return ex;
}

static int reason_code(const char *s)
{
	static const char *const names[] = { "unspecified", "keyCompromise", "cACompromise",
		"affiliationChanged", "superseded", "cessationOfOperation", "certificateHold",
		NULL, "removeFromCRL", "privilegeWithdrawn", "aACompromise" };
	long n = 0;
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i] != NULL && strcasecmp(s, names[i]) == 0)
			return (int)i;
	if (est_parse_long(s, 0, 10, &n) == 0 && n != 7)
		return (int)n;
	return -1;
}

/* Issuer of the revoked certificate: that of --cert, else the first --cacert. */
static int revoke_target(struct copts *o, X509 *cert, X509_NAME **issuer, ASN1_INTEGER **serial)
{
	STACK_OF(X509) *cas = NULL;
	BIGNUM *bn = NULL;
	char hex[130];
	size_t i, n = 0;

	for (i = 0; o->serial[i] != '\0' && n + 1 < sizeof(hex); i++)
		if (o->serial[i] != ':')
			hex[n++] = o->serial[i];
	hex[n] = '\0';
	if (o->serial[i] != '\0' || n == 0 || BN_hex2bn(&bn, hex) != (int)n ||
	    (*serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		BN_free(bn);
		return est_usage_error(o->cmd, "--serial wants a hexadecimal serial number");
	}
	BN_free(bn);
	if (cert != NULL) {
		*issuer = X509_NAME_dup(X509_get_issuer_name(cert));
	} else if (estkit_certs_load(o->conn.cacert, &cas) == ESTKIT_OK && sk_X509_num(cas) > 0) {
		*issuer = X509_NAME_dup(X509_get_subject_name(sk_X509_value(cas, 0)));
	}
	est_certs_free(cas);
	if (*issuer == NULL) {
		est_err(o->cmd, "cannot find the issuer name (--cert or --cacert)");
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

int est_cmd_revoke(int argc, char **argv)
{
	struct copts o;
	struct estkit_cmc_req *req = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	int ex, reason;

	memset(&o, 0, sizeof(o));
	o.cmd = "revoke";
	o.revoke = 1;
	if ((ex = parse(argc, argv, &o, est_usage_revoke)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	/* estd verifies a revokeRequest's signature with the signer certificate */
	if (o.csr_key == NULL || o.signer == NULL || o.serial == NULL)
		return est_usage_error(o.cmd, "need --cert, --key and --serial");
	if (o.crmf)
		return est_usage_error(o.cmd, "--crmf is for est fullcmc");
	if ((reason = reason_code(o.reason)) < 0)
		return est_usage_error(o.cmd, "unknown --reason \"%s\"", o.reason);
	ex = EST_EXIT_FAIL;
	if (estkit_key_load(o.csr_key, &key) != ESTKIT_OK ||
	    estkit_cert_load(o.signer, &cert) != ESTKIT_OK) {
		est_err(o.cmd, "cannot load --key/--cert");
		goto out;
	}
	if (o.conn.cert != NULL && o.conn.key == NULL)
		o.conn.key = o.csr_key; /* the signer certificate also authenticates TLS */
	if ((ex = revoke_target(&o, cert, &issuer, &serial)) != EST_EXIT_OK)
		goto out;
	ex = EST_EXIT_FAIL;
	if (estkit_cmc_req_new(&req) != ESTKIT_OK ||
	    estkit_cmc_req_add_revoke(req, issuer, serial, reason) != ESTKIT_OK) {
		est_err(o.cmd, "cannot build the CMC request");
		goto out;
	}
	ex = est_cmc_send(o.cmd, &o.conn, req, cert, key, o.save, NULL);
	if (ex == EST_EXIT_OK && o.save == NULL)
		printf("Revoked: serial %s\n", o.serial);
out:
	ERR_clear_error();
	estkit_cmc_req_free(req);
	X509_NAME_free(issuer);
	ASN1_INTEGER_free(serial);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ex;
}
