/*
 * enroll.c - `est enroll` (/simpleenroll, RFC 7030 4.2.1) and `est reenroll`
 * (/simplereenroll, RFC 7030 4.2.2). Both build or load a request, send it,
 * pick the new certificate out of the answer and write key, cert and chain.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common.h"

#define MAX_SANS 64
#define WAIT_DEFAULT 3600L /* --wait without =MAX */
#define WAIT_LIMIT 604800L /* --wait=MAX at most a week */

struct eopts {
	const char *cmd;
	int reenroll;
	struct est_conn conn;
	const char *csr;
	const char *csr_key; /* enroll: --key of --csr when no --cert */
	const char *subject;
	const char *sans[MAX_SANS];
	size_t nsans;
	const char *key_type;
	const char *out;
	int new_key;
	int reuse_key;
	int bind;    /* --channel-binding / --identity-linking (RFC 7030 3.5, RFC 7894) */
	int linking; /* carry it in estIdentityLinking instead of challengePassword */
	const char *csr_out; /* --csr-out: keep the request as sent */
	long wait_max; /* --wait[=MAX]: seconds to keep retrying a 202; 0 = do not wait */
	int no_csrattrs;       /* enroll: do not ask /csrattrs first */
	const char *challenge; /* enroll: --challenge-password */
	const char *otp;       /* enroll: --otp, a one-time password (RFC 7894 otpChallenge) */
	const char *otp_file;  /* enroll: --otp-file */
	char *otp_value;       /* the one of them in use (wiped) */
};

/* What an enrollment produced and still owns. */
struct enrollment {
	X509_REQ *csr;
	EVP_PKEY *key; /* the request's private key when est knows it (written to key.pem) */
	STACK_OF(X509) * certs;
};

void est_usage_enroll(FILE *f)
{
	fprintf(
	    f,
	    "usage: est enroll --server URL --cacert FILE\n"
	    "                  [--user NAME [--password-file FILE | --password PW]]\n"
	    "                  [--srp-user NAME [--srp-password-file FILE]]\n"
	    "                  [--auth basic|digest|any] [--cert FILE --key FILE]\n"
	    "                  [--csr FILE [--key FILE] | --subject SUBJ [--san SAN]... "
	    "[--key-type SPEC]]\n"
	    "                  [--challenge-password PW] [--otp SECRET | --otp-file FILE]\n"
	    "                  [--no-csrattrs]\n"
	    "                  [--channel-binding | --identity-linking] [--tls-max 1.2|1.3]\n"
	    "                  [--csr-out FILE] [--out DIR] [--wait[=MAX]] [--timeout SECONDS]\n"
	    "                  [--verbose]\n"
	    "\n"
	    "  --channel-binding   put the TLS channel binding in challengePassword (RFC 7030 3.5)\n"
	    "  --identity-linking  same, in the RFC 7894 estIdentityLinking attribute\n"
	    "  --csr-out FILE      also write the request as sent (PEM)\n"
	    EST_SRP_USAGE
	    "  --accept-ra         authorize a server certificate with id-kp-cmcRA even if\n"
	    "                      it does not name the host (RFC 7030 3.6.1)\n"
	    "  --no-csrattrs       do not ask /csrattrs first and follow it (key type, hash,\n"
	    "                      the server's subject and altnames when none are given)\n"
	    "  --challenge-password PW  put PW in challengePassword\n"
	    "  --otp SECRET     a one-time enrollment password (estd token create), sent in\n"
	    "                   the request's otpChallenge attribute (RFC 7894); no --user\n"
	    "  --otp-file FILE  the same, from the first line of FILE\n"
	    "  --subject SUBJ   e.g. \"CN=dev1,O=Example\"; a new key is generated (key.pem)\n"
	    "  --san SAN        DNS:name, IP:addr, URI:uri or email:addr (repeatable)\n"
	    "  --key-type SPEC  ec:P-256 (default), ec:P-384, ec:P-521, rsa:2048..8192, ed25519\n"
	    "  --csr FILE       send this PKCS#10 request instead (no key.pem is written)\n"
	    "  --cert, --key    TLS client certificate and key (e.g. a bootstrap certificate)\n"
	    "  --out DIR        writes DIR/cert.pem, DIR/chain.pem, DIR/key.pem (default .)\n"
	    "  --auth SCHEME    how --user/password are sent: basic (default), digest\n"
	    "                   (RFC 7616) or any (the strongest the server offers)\n"
	    "  --wait[=MAX]     on 202 (pending approval) send the same request again after\n"
	    "                   Retry-After, for at most MAX seconds (default 3600)\n"
	    "Password: --password-file, env EST_PASSWORD, --password, or a terminal prompt.\n");
}

void est_usage_reenroll(FILE *f)
{
	fprintf(f,
	        "usage: est reenroll --server URL --cacert FILE --cert CURRENT.pem --key "
	        "CURRENT-KEY.pem\n"
	        "                    [--csr FILE] [--new-key | --reuse-key] [--key-type SPEC]\n"
	        "                    [--user NAME [--password-file FILE | --password PW]]\n"
	        "                    [--auth basic|digest|any]\n"
	        "                    [--channel-binding | --identity-linking] [--tls-max 1.2|1.3]\n"
	        "                    [--csr-out FILE] [--out DIR] [--wait[=MAX]] [--timeout SECONDS]\n"
	        "                    [--verbose]\n"
	        "\n"
	        "Renews CURRENT: a request with its subject and subjectAltName, authenticated\n"
	        "with TLS using CURRENT. By default a new key of the same type is generated.\n"
	        "  --reuse-key      keep the current key\n"
	        "  --key-type SPEC  new key of another type (see est enroll --help)\n"
	        "  --out DIR        writes DIR/cert.pem, DIR/chain.pem, DIR/key.pem (default .)\n"
	        "  --wait[=MAX]     retry a pending (202) request for at most MAX s (3600)\n");
}

static int parse_one(void *ctx, int ch, const char *arg)
{
	struct eopts *o = ctx;
	int ex = 0;

	if (!o->reenroll && est_conn_srp_option(&o->conn, ch, arg))
		return 0; /* re-enrollment authenticates with the certificate it renews */
	if ((ex = est_conn_option(o->cmd, &o->conn, ch, arg)) >= 0)
		return ex;
	switch (ch) {
	case 'A':
		if (strcmp(arg, "basic") != 0 && strcmp(arg, "digest") != 0 &&
		    strcmp(arg, "any") != 0)
			return est_usage_error(o->cmd, "--auth wants basic, digest or any");
		o->conn.auth = arg;
		break;
	case 'k': o->conn.key = arg; break;
	case 'r': o->csr = arg; break;
	case 'S': o->subject = arg; break;
	case 'K': o->key_type = arg; break;
	case 'o': o->out = arg; break;
	case 'N': o->new_key = 1; break;
	case 'R': o->reuse_key = 1; break;
	case 'B': o->bind = 1; break;
	case 'L': o->bind = o->linking = 1; break;
	case 'O': o->csr_out = arg; break;
	case 'Z': o->conn.accept_ra = 1; break;
	case 'T': return est_parse_tls_max(o->cmd, arg, &o->conn);
	case 'X': o->no_csrattrs = 1; break;
	case 'Y': o->challenge = arg; break;
	case 'J': o->otp = arg; break;
	case 'F': o->otp_file = arg; break;
	case 'a': return est_add_san(o->cmd, o->sans, &o->nsans, MAX_SANS, arg);
	case 'W':
		o->wait_max = WAIT_DEFAULT;
		if (arg != NULL && est_parse_long(arg, 1, WAIT_LIMIT, &o->wait_max) != 0)
			return est_usage_error(o->cmd, "--wait wants 1..%ld seconds", WAIT_LIMIT);
		break;
	default: return EST_EXIT_USAGE;
	}
	return 0;
}

static int parse(int argc, char **argv, struct eopts *o)
{
	static const struct option longopts[] = {
	    EST_CONN_LONGOPTS,
	    {"auth", required_argument, NULL, 'A'},
	    {"key", required_argument, NULL, 'k'},
	    {"csr", required_argument, NULL, 'r'},
	    {"subject", required_argument, NULL, 'S'},
	    {"san", required_argument, NULL, 'a'},
	    {"key-type", required_argument, NULL, 'K'},
	    {"out", required_argument, NULL, 'o'},
	    {"new-key", no_argument, NULL, 'N'},
	    {"reuse-key", no_argument, NULL, 'R'},
	    {"wait", optional_argument, NULL, 'W'},
	    {"channel-binding", no_argument, NULL, 'B'},
	    {"identity-linking", no_argument, NULL, 'L'},
	    {"tls-max", required_argument, NULL, 'T'},
	    {"csr-out", required_argument, NULL, 'O'},
	    {"accept-ra", no_argument, NULL, 'Z'},
	    {"no-csrattrs", no_argument, NULL, 'X'},
	    {"challenge-password", required_argument, NULL, 'Y'},
	    {"otp", required_argument, NULL, 'J'},
	    {"otp-file", required_argument, NULL, 'F'},
	    EST_SRP_LONGOPTS,
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};

	return est_getopt(o->cmd, argc, argv, ":s:c:u:p:P:A:C:k:r:S:a:K:o:t:T:O:vhBL", longopts,
	                  o->reenroll ? est_usage_reenroll : est_usage_enroll, parse_one, o);
}

static int check_enroll(struct eopts *o)
{
	if (o->new_key || o->reuse_key)
		return est_usage_error(o->cmd, "--new-key/--reuse-key are for reenroll");
	if (o->csr != NULL && o->subject != NULL)
		return est_usage_error(o->cmd, "--csr and --subject exclude each other");
	if (o->csr == NULL && o->subject == NULL && o->no_csrattrs)
		return est_usage_error(o->cmd, "need --subject or --csr");
	if (o->otp != NULL && o->otp_file != NULL)
		return est_usage_error(o->cmd, "--otp and --otp-file exclude each other");
	if (o->csr != NULL && (o->otp != NULL || o->otp_file != NULL))
		return est_usage_error(o->cmd, "--otp goes into a request est builds; not with --csr");
	if (o->csr != NULL && (o->nsans > 0 || o->key_type != NULL || o->challenge != NULL))
		return est_usage_error(o->cmd, "--san and --key-type go with --subject");
	if (o->conn.cert == NULL && o->conn.key != NULL) {
		if (o->csr == NULL)
			return est_usage_error(o->cmd, "--key needs --cert or --csr");
		o->csr_key = o->conn.key; /* the key of --csr, not a TLS key */
		o->conn.key = NULL;
	}
	return 0;
}

static int check_reenroll(const struct eopts *o)
{
	if (o->otp != NULL || o->otp_file != NULL)
		return est_usage_error(o->cmd, "--otp is for the first enrollment; reenroll "
		                               "authenticates with --cert");
	if (o->conn.cert == NULL || o->conn.key == NULL)
		return est_usage_error(o->cmd, "--cert and --key (the current certificate) are "
		                               "required");
	if (o->subject != NULL || o->nsans > 0)
		return est_usage_error(o->cmd, "the subject and altnames come from --cert "
		                               "(RFC 7030 4.2.2)");
	if (o->new_key && o->reuse_key)
		return est_usage_error(o->cmd, "--new-key and --reuse-key exclude each other");
	if (o->csr != NULL && (o->new_key || o->reuse_key || o->key_type != NULL))
		return est_usage_error(o->cmd, "--csr carries its own key");
	if (o->reuse_key && o->key_type != NULL)
		return est_usage_error(o->cmd, "--key-type makes a new key; not with --reuse-key");
	return 0;
}

static int check(struct eopts *o)
{
	if (o->conn.server == NULL || (o->conn.cacert == NULL && o->conn.srp_user == NULL))
		return est_usage_error(o->cmd, "--server and --cacert (or --srp-user) are required");
	if (est_conn_srp_check(o->cmd, &o->conn) != 0)
		return EST_EXIT_USAGE;
	if (o->conn.cert != NULL && o->conn.key == NULL)
		return est_usage_error(o->cmd, "--cert needs --key");
	if (o->conn.user == NULL && (o->conn.password != NULL || o->conn.password_file != NULL))
		return est_usage_error(o->cmd, "a password needs --user");
	if (o->conn.user == NULL && o->conn.auth != NULL)
		return est_usage_error(o->cmd, "--auth needs --user");
	if (o->bind && !o->linking && o->challenge != NULL)
		return est_usage_error(o->cmd, "--channel-binding fills challengePassword; "
		                               "not with --challenge-password");
	if (o->bind && o->csr != NULL)
		return est_usage_error(o->cmd, "--channel-binding signs a request est builds; "
		                               "not with --csr");
	return o->reenroll ? check_reenroll(o) : check_enroll(o);
}

/* --csr: load it, and check that --key (if any) belongs to it. */
static int load_csr(const struct eopts *o, struct enrollment *e)
{
	EVP_PKEY *k = NULL;
	enum estkit_status rc = estkit_csr_load(o->csr, &e->csr);

	if (rc != ESTKIT_OK) {
		est_err(o->cmd, "cannot load --csr %s: %s", o->csr, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	if (o->csr_key == NULL)
		return EST_EXIT_OK;
	if ((rc = estkit_key_load(o->csr_key, &k)) != ESTKIT_OK) {
		est_err(o->cmd, "cannot load --key %s: %s", o->csr_key, estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	rc = EVP_PKEY_eq(k, X509_REQ_get0_pubkey(e->csr)) == 1 ? ESTKIT_OK : ESTKIT_EINVAL;
	EVP_PKEY_free(k);
	if (rc != ESTKIT_OK) {
		est_err(o->cmd, "--key %s is not the key of --csr %s", o->csr_key, o->csr);
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

/* A new key and request as planned, with --otp in otpChallenge (RFC 7894 3). */
static int new_request(const struct eopts *o, const struct est_csr_plan *p, struct enrollment *e)
{
	enum estkit_status rc;
	int ex;

	ex = est_request_from_plan(o->cmd, p, &e->key, &e->csr);
	if (ex != EST_EXIT_OK || o->otp_value == NULL)
		return ex;
	/* the attribute invalidates the signature: sign again as planned */
	if ((rc = estkit_csr_set_attr(e->csr, ESTKIT_ATTR_OTP_CHALLENGE, o->otp_value)) !=
	        ESTKIT_OK ||
	    (p->md == NULL && (rc = estkit_csr_sign(e->csr, e->key)) != ESTKIT_OK)) {
		est_err(o->cmd, "cannot put --otp in the request: %s", estkit_strerror(rc));
		return EST_EXIT_FAIL;
	}
	return est_request_sign(o->cmd, p, e->key, e->csr);
}

/* RFC 7030 4.2.2: same subject and subjectAltName as the current certificate. */
static int renew_request(const struct eopts *o, struct enrollment *e)
{
	X509 *cur = NULL;
	EVP_PKEY *curkey = NULL;
	char spec[64];
	enum estkit_status rc = estkit_cert_load(o->conn.cert, &cur);
	int ex = EST_EXIT_FAIL;

	if (rc != ESTKIT_OK || (rc = estkit_key_load(o->conn.key, &curkey)) != ESTKIT_OK) {
		est_err(o->cmd, "cannot load --cert/--key: %s", estkit_strerror(rc));
		goto out;
	}
	if (o->reuse_key) {
		e->key = curkey;
		curkey = NULL;
	} else {
		if (o->key_type == NULL && est_key_spec_of(curkey, spec, sizeof(spec)) != 0) {
			est_err(o->cmd, "cannot make a key like the current one; use --key-type");
			goto out;
		}
		rc = estkit_key_generate(o->key_type != NULL ? o->key_type : spec, &e->key);
		if (rc != ESTKIT_OK) {
			est_err(o->cmd, "cannot generate a key of type \"%s\": %s",
			        o->key_type != NULL ? o->key_type : spec, estkit_strerror(rc));
			goto out;
		}
	}
	if ((rc = estkit_client_reenroll_csr(cur, e->key, &e->csr)) != ESTKIT_OK) {
		est_err(o->cmd, "cannot build the request: %s", estkit_strerror(rc));
		goto out;
	}
	ex = EST_EXIT_OK;
out:
	X509_free(cur);
	EVP_PKEY_free(curkey);
	return ex;
}

static int make_request(const struct eopts *o, struct estkit_client *c, struct enrollment *e)
{
	struct est_csr_plan plan;
	int ex = 0;

	memset(&plan, 0, sizeof(plan));
	plan.key_type = o->key_type;
	plan.subject = o->subject;
	plan.challenge = o->challenge;
	plan.challenge_bound = o->bind && !o->linking;
	for (size_t i = 0; i < o->nsans; i++)
		plan.sans[plan.nsans++] = o->sans[i];
	if (o->csr != NULL)
		ex = load_csr(o, e);
	else if (o->reenroll)
		ex = renew_request(o, e);
	else if (!o->no_csrattrs && (ex = est_csrattrs_follow(o->cmd, c, &plan)) != EST_EXIT_OK)
		; /* the error is printed */
	else
		ex = new_request(o, &plan, e);
	est_csr_plan_clear(&plan);
	ERR_clear_error();
	return ex;
}

/* Picks the new certificate (the one with our key), prints it and writes the files. */
static int finish(const struct eopts *o, struct enrollment *e)
{
	EVP_PKEY *pub = e->key != NULL ? e->key : X509_REQ_get0_pubkey(e->csr);
	X509 *leaf = estkit_certs_find_by_key(e->certs, pub);
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *cas = NULL;
	int ex = EST_EXIT_FAIL;
	int i = 0;

	if (leaf == NULL) {
		est_err(o->cmd, "the answer holds no certificate for the requested key");
		return EST_EXIT_FAIL;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(e->certs); i++)
		if (sk_X509_value(e->certs, i) != leaf &&
		    !sk_X509_push(chain, sk_X509_value(e->certs, i)))
			goto out;
	if (estkit_certs_load(o->conn.cacert, &cas) != ESTKIT_OK)
		cas = NULL; /* only used to find an issuer for chain.pem */
	printf("Certificate issued:\n");
	est_print_cert_summary(stdout, leaf);
	ex = est_write_enrollment(o->cmd, o->out, leaf, chain, e->key, cas, stdout);
out:
	if (chain == NULL)
		est_err(o->cmd, "out of memory");
	sk_X509_free(chain); /* borrowed pointers */
	est_certs_free(cas);
	ERR_clear_error();
	return ex;
}

/* The request of e with the binding in it, re-signed (RFC 7030 3.5, RFC 7894). */
static enum estkit_status bind_request(const struct eopts *o, struct enrollment *e,
                                       const char *binding)
{
	enum estkit_csr_attr a =
	    o->linking ? ESTKIT_ATTR_EST_IDENTITY_LINKING : ESTKIT_ATTR_CHALLENGE_PASSWORD;
	enum estkit_status rc = estkit_csr_set_attr(e->csr, a, binding);

	if (rc == ESTKIT_OK)
		rc = estkit_csr_sign(e->csr, e->key);
	ERR_clear_error();
	return rc;
}

struct bind_arg {
	const struct eopts *o;
	struct enrollment *e;
};

/* estkit_client_csr_builder for estkit_client_simpleenroll_bound(). */
static enum estkit_status build_bound(void *arg, const char *binding, X509_REQ **csr)
{
	struct bind_arg *b = arg;
	enum estkit_status rc = bind_request(b->o, b->e, binding);

	if (rc == ESTKIT_OK && (*csr = X509_REQ_dup(b->e->csr)) == NULL)
		rc = ESTKIT_ENOMEM;
	return rc;
}

/*
 * Plain, or bound to the TLS connection it goes out on. A --wait repeat sends
 * the bound request of the first attempt unchanged (the approval store matches
 * it byte for byte); it passes only on the same connection.
 */
static enum estkit_status send_once(const struct eopts *o, struct estkit_client *c,
                                    struct enrollment *e, int first)
{
	char cb[ESTKIT_CHANBIND_B64_MAX];
	struct bind_arg b = {o, e};
	enum estkit_status rc = ESTKIT_OK;

	if (!o->bind || !first)
		return o->reenroll ? estkit_client_simplereenroll(c, e->csr, &e->certs)
		                   : estkit_client_simpleenroll(c, e->csr, &e->certs);
	if (!o->reenroll)
		return estkit_client_simpleenroll_bound(c, build_bound, &b, &e->certs);
	/* reenroll: the same steps by hand (there is no _bound variant for it) */
	if ((rc = estkit_client_channel_binding(c, cb)) != ESTKIT_OK)
		return rc;
	if ((rc = bind_request(o, e, cb)) != ESTKIT_OK) {
		estkit_client_channel_unpin(c);
		return rc;
	}
	return estkit_client_simplereenroll(c, e->csr, &e->certs);
}

/*
 * Sends the request; with --wait, a 202 (RFC 7030 4.2.3) is answered by
 * sending the very same request (same CSR, same key) again after
 * Retry-After, bounded to [1 s, what is left of MAX]. The key stays in
 * memory only until the certificate arrives.
 */
static int send_request(const struct eopts *o, struct estkit_client *c, struct enrollment *e)
{
	time_t deadline = time(NULL) + o->wait_max;
	enum estkit_status rc;
	int first = 1;
	long delay, left;

	for (;;) {
		rc = send_once(o, c, e, first);
		first = 0;
		if (o->csr_out != NULL && estkit_csr_save(o->csr_out, e->csr) != ESTKIT_OK)
			est_err(o->cmd, "cannot write --csr-out %s", o->csr_out);
		if (rc != ESTKIT_EPENDING || o->wait_max == 0)
			break;
		left = (long)(deadline - time(NULL));
		if (left <= 0) {
			est_err(o->cmd, "still pending after %ld s (--wait)", o->wait_max);
			return EST_EXIT_PENDING;
		}
		delay = estkit_client_retry_after(c);
		delay = delay < 1 ? 1 : delay > left ? left : delay;
		printf("pending, retrying in %ld s\n", delay);
		fflush(stdout);
		sleep((unsigned)delay);
	}
	return rc == ESTKIT_OK ? EST_EXIT_OK : est_client_error(o->cmd, c, rc);
}

/* --otp or the first line of --otp-file into o->otp_value. */
static int otp_load(struct eopts *o)
{
	struct est_conn tmp;
	char *v = NULL;
	int ex;

	memset(&tmp, 0, sizeof(tmp));
	tmp.password = o->otp;
	tmp.password_file = o->otp_file;
	if ((ex = est_password_get(o->cmd, &tmp, &v)) != EST_EXIT_OK)
		return ex;
	o->otp_value = v; /* malloc'ed by est_password_get(); wiped and freed in run() */
	return EST_EXIT_OK;
}

static int run(int argc, char **argv, struct eopts *o)
{
	struct enrollment e = {NULL, NULL, NULL};
	struct estkit_client *c = NULL;
	int ex = 0;

	if ((ex = parse(argc, argv, o)) != 0)
		return ex < 0 ? EST_EXIT_OK : ex;
	if ((ex = check(o)) != 0)
		return ex;
	if ((o->otp != NULL || o->otp_file != NULL) && (ex = otp_load(o)) != EST_EXIT_OK)
		return ex;
	/* The client first: a bad URL or trust file fails before any key is made. */
	if ((c = est_client_open(o->cmd, &o->conn, &ex)) == NULL)
		goto out;
	if ((ex = make_request(o, c, &e)) != EST_EXIT_OK)
		goto out;
	if ((ex = send_request(o, c, &e)) != EST_EXIT_OK)
		goto out;
	ex = finish(o, &e);
out:
	estkit_client_free(c);
	X509_REQ_free(e.csr);
	EVP_PKEY_free(e.key);
	est_certs_free(e.certs);
	if (o->otp_value != NULL) {
		OPENSSL_cleanse(o->otp_value, strlen(o->otp_value));
		free(o->otp_value);
	}
	return ex;
}

int est_cmd_enroll(int argc, char **argv)
{
	struct eopts o;

	memset(&o, 0, sizeof(o));
	o.cmd = "enroll";
	o.out = ".";
	return run(argc, argv, &o);
}

int est_cmd_reenroll(int argc, char **argv)
{
	struct eopts o;

	memset(&o, 0, sizeof(o));
	o.cmd = "reenroll";
	o.reenroll = 1;
	o.out = ".";
	return run(argc, argv, &o);
}
