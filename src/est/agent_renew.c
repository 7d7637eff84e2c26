/*
 * agent_renew.c - one renewal by `est agent`: /simplereenroll over TLS with
 * the current certificate (RFC 7030 4.2.2), or /simpleenroll with the
 * enrollment credentials (RFC 7030 4.2.1; HTTP Basic/Digest with a password
 * or a one-time password, a bootstrap certificate such as an IDevID, or
 * TLS-SRP)
 * when there is no certificate yet or it has expired.
 *
 * A new request and its key are saved (STORE/pending.*, the key 0600,
 * atomically) before the request is sent, and dropped only once the answer
 * is final: the certificate installed, or a refusal (4xx). A 202 answer
 * (RFC 7030 4.2.3), a lost connection, a server error or a crash mid-way all
 * leave the saved pair, and the next attempt sends the same request with
 * the same key: a request the server may hold is never orphaned by a key
 * that only lived in memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "agent.h"
#include "common.h"

/* Everything one attempt holds. */
struct attempt {
	const struct agent_conf *conf;
	const struct agent_cert *ac;
	char cmd[AGENT_NAME_MAX + 16]; /* "agent: NAME" for est_err() */
	X509 *cur;          /* the current certificate, NULL when none */
	EVP_PKEY *curkey;
	int enroll;         /* /simpleenroll with the enrollment credentials */
	struct estkit_client *c;
	EVP_PKEY *key;      /* the key of the request */
	X509_REQ *csr;
	STACK_OF(X509) *certs;
};

static void attempt_clear(struct attempt *a)
{
	estkit_client_free(a->c);
	X509_free(a->cur);
	EVP_PKEY_free(a->curkey);
	EVP_PKEY_free(a->key);
	X509_REQ_free(a->csr);
	est_certs_free(a->certs);
}

/* Which operation and credentials (see the file comment). -1 when none fits. */
static int choose(struct attempt *a)
{
	const struct agent_cert *ac = a->ac;
	int creds = ac->user != NULL || ac->bootstrap_cert != NULL || ac->srp_user != NULL;
	enum estkit_status rc = agent_store_current(ac, &a->cur, &a->curkey);

	if (rc != ESTKIT_OK && rc != ESTKIT_ENOTFOUND) {
		agent_log(ac->name, "cannot read the current pair in %s: %s", ac->store,
		          estkit_strerror(rc));
		return -1;
	}
	if (a->cur == NULL) {
		if (!ac->enroll_if_missing || !creds) {
			agent_log(ac->name, "no certificate yet and %s",
			          creds ? "enroll_if_missing = no" : "no enrollment credentials");
			return -1;
		}
		a->enroll = 1;
		return 0;
	}
	if (X509_cmp_time(X509_get0_notAfter(a->cur), NULL) <= 0) {
		if (!creds) {
			agent_log(ac->name, "the certificate has expired and there are no enrollment "
			                    "credentials to get a new one");
			return -1;
		}
		agent_log(ac->name, "the certificate has expired: enrolling again");
		a->enroll = 1;
		return 0;
	}
	a->enroll = ac->reenroll_with_enroll;
	return 0;
}

/* The client with the credentials of the chosen operation. */
static int open_client(struct attempt *a)
{
	const struct agent_cert *ac = a->ac;
	struct est_conn o;
	int ex = EST_EXIT_FAIL;
	enum estkit_status rc = ESTKIT_OK;

	memset(&o, 0, sizeof(o));
	o.server = ac->server;
	o.cacert = ac->trust;
	o.timeout = a->conf->timeout;
	o.verbose = a->conf->verbose;
	if (a->enroll) {
		o.user = ac->user;
		o.password_file = ac->password_file != NULL ? ac->password_file : ac->otp_file;
		o.auth = ac->auth;
		o.cert = ac->bootstrap_cert;
		o.key = ac->bootstrap_key;
		o.srp_user = ac->srp_user;
		o.srp_password_file = ac->srp_password_file;
	}
	if ((a->c = est_client_open(a->cmd, &o, &ex)) == NULL)
		return -1;
	if (!a->enroll && (rc = estkit_client_set_client_key(a->c, a->cur, a->curkey, NULL)) !=
	                      ESTKIT_OK) {
		est_client_error(a->cmd, a->c, rc);
		return -1;
	}
	return 0;
}

/* The type of the new key: as configured, else like the current one. */
static const char *key_spec(const struct attempt *a, char *buf, size_t len)
{
	if (a->ac->key_type != NULL)
		return a->ac->key_type;
	if (a->curkey != NULL && est_key_spec_of(a->curkey, buf, len) == 0)
		return buf;
	return NULL; /* the library default, ec:P-256 */
}

/* RFC 7894 otpChallenge: the one-time password also goes into the request. */
static int add_otp(struct attempt *a, const struct est_csr_plan *p)
{
	char *otp = NULL;
	enum estkit_status rc;

	if (!a->enroll || a->ac->otp_file == NULL)
		return 0;
	rc = est_secret_file_line(a->ac->otp_file, &otp);
	if (rc != ESTKIT_OK) {
		if (rc == ESTKIT_EINVAL)
			agent_log(a->ac->name, "otp_file %s: empty first line or longer than %d bytes",
			          a->ac->otp_file, EST_SECRET_MAX);
		else
			agent_log(a->ac->name, "cannot read otp_file %s", a->ac->otp_file);
		return -1;
	}
	rc = estkit_csr_set_attr(a->csr, ESTKIT_ATTR_OTP_CHALLENGE, otp);
	if (rc == ESTKIT_OK)
		rc = estkit_csr_sign(a->csr, a->key);
	est_secret_free(otp);
	ERR_clear_error();
	if (rc != ESTKIT_OK || est_request_sign(a->cmd, p, a->key, a->csr) != EST_EXIT_OK) {
		agent_log(a->ac->name, "cannot put the one-time password in the request");
		return -1;
	}
	return 0;
}

/* A new request: like the current certificate (RFC 7030 4.2.2), or as planned. */
static int build_request(struct attempt *a)
{
	const struct agent_cert *ac = a->ac;
	struct est_csr_plan plan;
	char spec[64];
	size_t i;
	int ex = EST_EXIT_FAIL;

	memset(&plan, 0, sizeof(plan));
	plan.key_type = key_spec(a, spec, sizeof(spec));
	plan.subject = ac->subject;
	for (i = 0; i < ac->nsans; i++)
		plan.sans[plan.nsans++] = ac->sans[i];
	if (a->cur != NULL && (!a->enroll || ac->subject == NULL)) {
		/* RFC 7030 4.2.2: a renewal keeps subject and SANs; so does re-enrollment
		 * after expiry unless the file names a subject */
		if (!ac->regenerate_key && a->curkey != NULL && EVP_PKEY_up_ref(a->curkey))
			a->key = a->curkey;
		else if (estkit_key_generate(plan.key_type, &a->key) != ESTKIT_OK)
			goto out;
		if (estkit_client_reenroll_csr(a->cur, a->key, &a->csr) != ESTKIT_OK)
			goto out;
		ex = EST_EXIT_OK;
	} else {
		if (ac->use_csrattrs && est_csrattrs_follow(a->cmd, a->c, &plan) != EST_EXIT_OK)
			goto out;
		ex = est_request_from_plan(a->cmd, &plan, &a->key, &a->csr);
	}
	if (ex == EST_EXIT_OK && add_otp(a, &plan) != 0)
		ex = EST_EXIT_FAIL;
out:
	if (ex != EST_EXIT_OK)
		agent_log(ac->name, "cannot build the request");
	est_csr_plan_clear(&plan);
	ERR_clear_error();
	return ex == EST_EXIT_OK ? 0 : -1;
}

static void log_installed(const struct agent_cert *ac, X509 *leaf)
{
	char *serial = NULL;
	struct tm tm;
	char end[32] = "?";

	if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1)
		strftime(end, sizeof(end), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (estkit_cert_serial_hex(leaf, &serial) == ESTKIT_OK)
		agent_log(ac->name, "new certificate installed: serial %s, valid until %s", serial,
		          end);
	estkit_free(serial);
}

/* The new pair on disk, then the hook. */
static int install(struct attempt *a)
{
	X509 *leaf = estkit_certs_find_by_key(a->certs, a->key);
	STACK_OF(X509) *chain = NULL;
	int i, rc = -1;

	if (leaf == NULL) {
		agent_log(a->ac->name, "the answer holds no certificate for the requested key");
		return -1;
	}
	if ((chain = sk_X509_new_null()) == NULL)
		return -1;
	for (i = 0; i < sk_X509_num(a->certs); i++)
		if (sk_X509_value(a->certs, i) != leaf && !sk_X509_push(chain, sk_X509_value(a->certs, i)))
			goto out;
	if (agent_store_install(a->ac, leaf, chain, a->key) != 0)
		goto out;
	log_installed(a->ac, leaf);
	rc = 0;
out:
	sk_X509_free(chain); /* borrowed pointers */
	ERR_clear_error();
	return rc;
}

static enum agent_result send_request(struct attempt *a, long *retry_after)
{
	enum estkit_status rc = a->enroll ? estkit_client_simpleenroll(a->c, a->csr, &a->certs)
	                                  : estkit_client_simplereenroll(a->c, a->csr, &a->certs);

	if (rc == ESTKIT_EPENDING) {
		*retry_after = estkit_client_retry_after(a->c);
		agent_log(a->ac->name, "request pending (HTTP 202), server's Retry-After %ld s",
		          *retry_after);
		return AGENT_PENDING; /* saved before it was sent */
	}
	if (rc != ESTKIT_OK) {
		agent_log(a->ac->name, "%s failed: %s", a->enroll ? "/simpleenroll" : "/simplereenroll",
		          estkit_client_errmsg(a->c));
		/* a refusal is final for this request: build a new one next time */
		if (estkit_client_http_status(a->c) >= 400 && estkit_client_http_status(a->c) < 500)
			agent_pending_drop(a->ac);
		return AGENT_FAILED;
	}
	if (install(a) != 0)
		return AGENT_FAILED;
	agent_pending_drop(a->ac);
	return AGENT_DONE;
}

/*
 * The saved request, when there is one to send again (a->csr and a->key set;
 * both stay NULL otherwise). A saved key that is already the current
 * certificate's, with regenerate_key, is the leftover of a renewal installed
 * just before a crash: sending it would renew without a new key, so it is
 * dropped. -1 on an error reading the store.
 */
static int load_saved(struct attempt *a)
{
	enum estkit_status rc = agent_pending_load(a->ac, &a->csr, &a->key);

	if (rc == ESTKIT_ENOTFOUND)
		return 0;
	if (rc != ESTKIT_OK) {
		agent_log(a->ac->name,
		          "the saved request in %s is unreadable (%s): building a new one",
		          a->ac->store, estkit_strerror(rc));
		agent_pending_drop(a->ac);
		return 0;
	}
	if (agent_pending_stale(a->cur, a->key, a->ac->regenerate_key)) {
		agent_pending_drop(a->ac);
		X509_REQ_free(a->csr);
		EVP_PKEY_free(a->key);
		a->csr = NULL;
		a->key = NULL;
		return 0;
	}
	agent_log(a->ac->name, "sending the pending request again (the same key)");
	return 0;
}

enum agent_result agent_renew(const struct agent_conf *conf, const struct agent_cert *ac,
                              long *retry_after)
{
	struct attempt a;
	enum agent_result r = AGENT_FAILED;

	memset(&a, 0, sizeof(a));
	a.conf = conf;
	a.ac = ac;
	*retry_after = 0;
	snprintf(a.cmd, sizeof(a.cmd), "agent: %s", ac->name);
	if (choose(&a) != 0 || open_client(&a) != 0)
		goto out;
	if (load_saved(&a) != 0)
		goto out;
	if (a.csr == NULL && (build_request(&a) != 0 || agent_pending_save(ac, a.csr, a.key) != 0))
		goto out; /* logged; nothing was sent */
	r = send_request(&a, retry_after);
	if (r == AGENT_DONE)
		(void)agent_hook_run(ac, conf->hook_timeout);
out:
	attempt_clear(&a);
	ERR_clear_error();
	return r;
}
