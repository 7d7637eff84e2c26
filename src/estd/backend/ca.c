/*
 * backend/ca.c - the built-in CA behind libestkit's server: estkit_backend
 * callbacks, certificate recording, logging and configuration reload. What
 * /fullcmc asks of the CA (issue, revokers, identity proof, signing) and the
 * rollover's next root are in backend/ca_cmc.c.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/pki.h>

#include "backend/digest_nc.h"
#include "backend/approval.h"
#include "backend/authz.h"
#include "backend/ca.h"
#include "backend/ca_issue.h"
#include "backend/cmc.h"
#include "backend/ext.h"
#include "backend/record.h"
#include "backend/skg.h"
#include "backend/snapshot.h"
#include "policy.h"
#include "util.h"

/* Serial collisions are astronomically rare; a few retries cover a broken RNG's bad day. */
/* Retry-After (seconds) when the signer process did not answer: a worker restarts in ~1 s. */
#define SIGNER_RETRY_AFTER 2
#define ISSUE_ATTEMPTS 5

struct estd_backend_ca {
	pthread_mutex_t lock;              /* guards cur */
	struct estd_snapshot *cur;         /* the configuration requests see */
	struct estd_snapshot *boot;        /* the one the server started with */
	int log_level;                     /* atomic: enum estkit_log_level */
	struct estd_store *store;          /* borrowed */
	struct estd_ca *ca;                /* borrowed */
	STACK_OF(X509) *cacerts;           /* CA certificate, then the [ca] chain */
	struct estd_ext *ext;              /* labels with backend = proxy | command */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

enum estkit_log_level estd_log_level_parse(const char *name)
{
	if (name == NULL)
		return ESTKIT_LOG_INFO;
	if (strcmp(name, "error") == 0)
		return ESTKIT_LOG_ERROR;
	if (strcmp(name, "warn") == 0)
		return ESTKIT_LOG_WARN;
	if (strcmp(name, "debug") == 0)
		return ESTKIT_LOG_DEBUG;
	return ESTKIT_LOG_INFO;
}

static void log_line(struct estd_backend_ca *b, enum estkit_log_level level, const char *line)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };
	int max = b != NULL ? __atomic_load_n(&b->log_level, __ATOMIC_RELAXED) : ESTKIT_LOG_INFO;
	char ts[ESTD_TIME_BUFLEN];

	if ((int)level > max || (int)level < 0 || level > ESTKIT_LOG_DEBUG)
		return;
	estd_fmt_time((long long)time(NULL), 'T', ts, sizeof(ts));
	/* One locked fprintf per line: lines from several threads never interleave. */
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%sZ estd[%ld]: %s%s\n", ts, (long)getpid(), prefix[level], line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void estd_backend_ca_log(struct estd_backend_ca *b, enum estkit_log_level level,
			 const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_line(b, level, line);
}

static struct estd_snapshot *acquire(struct estd_backend_ca *b)
{
	struct estd_snapshot *s;

	pthread_mutex_lock(&b->lock);
	s = b->cur;
	estd_snapshot_retain(s);
	pthread_mutex_unlock(&b->lock);
	return s;
}

static int cb_label_exists(void *ctx, const char *label)
{
	struct estd_snapshot *s = acquire(ctx);
	int found = estd_config_label(s->cfg, label != NULL ? label : "") != NULL;

	estd_snapshot_release(s);
	return found;
}

/* RFC 7030 3.5: the label's require_channel_binding. */
static int cb_require_channel_binding(void *ctx, const char *label)
{
	struct estd_snapshot *s = acquire(ctx);
	const struct estd_label *l = estd_config_label(s->cfg, label != NULL ? label : "");
	int req = l != NULL && l->require_channel_binding;

	estd_snapshot_release(s);
	return req;
}

static int cb_check_basic(void *ctx, const char *label, const char *user, const char *password)
{
	struct estd_snapshot *s = acquire(ctx);
	int ok = 0;

	/* The users file is shared by all labels; estd_users_check is constant-time. */
	if (user != NULL && password != NULL)
		ok = estd_users_check(s->users, user, password);
	estd_snapshot_release(s);
	return ok == 1;
}

/* HTTP Digest HA1 from the users file (RFC 7616 3.4.2); shared by all labels like Basic. */
static int cb_digest_ha1(void *ctx, const char *label, const char *user, const char *algorithm,
			 unsigned char *ha1, size_t *ha1_len)
{
	struct estd_snapshot *s = acquire(ctx);
	int found = estd_users_digest_ha1(s->users, user, algorithm, ha1, ha1_len);

	(void)label;
	estd_snapshot_release(s);
	if (found == 0)
		estd_backend_ca_log(ctx, ESTKIT_LOG_WARN,
				    "user %s has no Digest HA1 values (Basic only); set the password "
				    "again with `estd user add` to enable Digest", user);
	return found == 1;
}

/* A new stack holding references to the certificates of src. */
static STACK_OF(X509) *certs_ref_copy(STACK_OF(X509) *src)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	int i;

	for (i = 0; out != NULL && i < sk_X509_num(src); i++) {
		X509 *x = sk_X509_value(src, i);

		if (!X509_up_ref(x))
			goto err;
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			goto err;
		}
	}
	return out;
err:
	sk_X509_pop_free(out, X509_free);
	return NULL;
}

static enum estkit_status cb_cacerts(void *ctx, struct estkit_request *req,
				     STACK_OF(X509) **out)
{
	struct estd_backend_ca *b = ctx;
	struct estd_snapshot *s = acquire(b);
	const struct estd_label *lab = estd_config_label(s->cfg, estkit_request_label(req));
	enum estkit_status rc;

	if (estd_ext_kind(lab) != ESTD_EXT_CA) {
		rc = estd_ext_cacerts(b->ext, lab, req, b->cacerts, out);
		estd_snapshot_release(s);
		return rc;
	}
	/* RFC 7030 4.1.3: during a rollover, OldWithOld, NewWithOld, OldWithNew, NewWithNew. */
	*out = certs_ref_copy(s->rollover != NULL ? estd_rollover_cacerts(s->rollover) : b->cacerts);
	estd_snapshot_release(s);
	if (*out == NULL) {
		estkit_request_fail(req, 500, "out of memory");
		return ESTKIT_ENOMEM;
	}
	return ESTKIT_OK;
}

/*
 * The response chain: the new certificate, then the issuing CA certificate,
 * then link (NewWithOld when the new CA issued it, so a peer that trusts
 * only the old root can still build a path, RFC 4210 4.4), when not NULL.
 */
static enum estkit_status response_chain(X509 *cacert, X509 *link, X509 *cert,
					 STACK_OF(X509) **out)
{
	X509 *chain[3] = { cert, cacert, link };
	size_t i;

	*out = sk_X509_new_null();
	if (*out == NULL)
		return ESTKIT_ENOMEM;
	for (i = 0; i < 3 && chain[i] != NULL; i++) {
		if (!X509_up_ref(chain[i]))
			goto err;
		if (!sk_X509_push(*out, chain[i])) {
			X509_free(chain[i]);
			goto err;
		}
	}
	return ESTKIT_OK;
err:
	sk_X509_pop_free(*out, X509_free);
	*out = NULL;
	return ESTKIT_ENOMEM;
}

/* See backend/ca_issue.h. */
enum estkit_status estd_backend_ca_issue_record(struct estd_backend_ca *b, struct estd_ca *ca,
						const struct estd_ca_profile *prof,
						struct estkit_request *req, X509_REQ *csr,
						X509_REQ *recorded, const struct estd_raw_req *raw,
						X509 **cert, char *why, size_t whylen)
{
	char reason[256];
	enum estkit_status rc = ESTKIT_EINTERNAL;
	int attempt;

	for (attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
		rc = estd_ca_issue_keyless(ca, prof, csr, cert, reason, sizeof(reason));
		if (rc == ESTKIT_EPOLICY || rc == ESTKIT_EPARSE) {
			estkit_request_fail(req, 400, "%s", reason);
			if (why != NULL && whylen > 0)
				snprintf(why, whylen, "%s", reason);
			return rc;
		}
		if (rc == ESTKIT_ECRYPTO) {
			/* the signer (process) did not sign: temporary, the client may retry */
			estd_backend_ca_log(b, ESTKIT_LOG_ERROR, "signing failed: %s", reason);
			estkit_request_set_retry_after(req, SIGNER_RETRY_AFTER);
			estkit_request_fail(req, 503, "the CA signer is unavailable; retry later");
			return rc;
		}
		if (rc != ESTKIT_OK) {
			estd_backend_ca_log(b, ESTKIT_LOG_ERROR, "issuing failed: %s (%s)", reason,
					    estkit_strerror(rc));
			estkit_request_fail(req, 500, "could not issue the certificate");
			return rc;
		}
		rc = estd_record_cert(b->store, req, recorded, raw != NULL ? raw->der : NULL,
				      raw != NULL ? raw->len : 0, *cert);
		if (rc == ESTKIT_OK)
			return ESTKIT_OK;
		X509_free(*cert);
		*cert = NULL;
		if (rc != ESTKIT_EEXIST)
			break;
		estd_backend_ca_log(b, ESTKIT_LOG_WARN, "serial collision, issuing again");
	}
	estd_backend_ca_log(b, ESTKIT_LOG_ERROR, "could not record the certificate: %s (%s)",
			    estd_store_errmsg(b->store), estkit_strerror(rc));
	estkit_request_fail(req, estd_store_http_status(rc), "could not record the certificate");
	return rc == ESTKIT_OK ? ESTKIT_EINTERNAL : rc;
}

/* approval = manual labels go through the request store (RFC 7030 4.2.3). */
static enum estkit_status issue_or_hold(struct estd_backend_ca *b, struct estd_ca *ca,
					const struct estd_snapshot *s,
					const struct estd_ca_profile *prof,
					struct estkit_request *req, X509_REQ *csr, X509 **cert)
{
	const struct estd_label *lab = estd_config_label(s->cfg, estkit_request_label(req));
	struct estd_approval a = { b, b->store, ca, prof, lab };

	if (lab != NULL && lab->approval_manual)
		return estd_approval_enroll(&a, req, csr, cert);
	return estd_backend_ca_issue_record(b, ca, prof, req, csr, csr, NULL, cert, NULL, 0);
}

static enum estkit_status cb_enroll(void *ctx, struct estkit_request *req, X509_REQ *csr,
				    STACK_OF(X509) **out)
{
	struct estd_backend_ca *b = ctx;
	struct estd_snapshot *s = acquire(b);
	const struct estd_ca_profile *prof;
	X509 *cert = NULL, *link = NULL;
	struct estd_ca *ca = b->ca;
	char *serial = NULL;
	char reason[256];
	enum estkit_status rc;

	*out = NULL;
	if (estd_ext_kind(estd_config_label(s->cfg, estkit_request_label(req))) != ESTD_EXT_CA) {
		rc = estd_ext_enroll(b->ext, estd_config_label(s->cfg, estkit_request_label(req)), req,
				     csr, out);
		goto out;
	}
	/* After [ca] switch_at the new CA issues (RFC 7030 4.1.3); before, the old one. */
	if (estd_rollover_switched(s->rollover, time(NULL))) {
		ca = estd_rollover_next_ca(s->rollover);
		link = estd_rollover_new_with_old(s->rollover);
	}
	prof = estd_snapshot_profile(s, estkit_request_label(req));
	if (prof == NULL) {
		/* The label vanished in a reload between routing and now. */
		estkit_request_fail(req, 404, "unknown label");
		rc = ESTKIT_ENOTFOUND;
		goto out;
	}
	rc = estd_profile_check_key(prof, X509_REQ_get0_pubkey(csr), reason, sizeof(reason));
	if (rc != ESTKIT_OK) {
		estkit_request_fail(req, 400, "%s", reason);
		goto out;
	}
	rc = issue_or_hold(b, ca, s, prof, req, csr, &cert);
	if (rc != ESTKIT_OK)
		goto out;
	/* A held request may have been issued by the other CA of a rollover: chain its issuer. */
	if (ca != b->ca && X509_check_issued(estd_ca_cert(b->ca), cert) == X509_V_OK &&
	    X509_check_issued(estd_ca_cert(ca), cert) != X509_V_OK) {
		ca = b->ca;
		link = NULL;
	}
	if (estkit_cert_serial_hex(cert, &serial) == ESTKIT_OK)
		estkit_request_set_serial(req, serial);
	rc = response_chain(estd_ca_cert(ca), link, cert, out);
	if (rc != ESTKIT_OK)
		estkit_request_fail(req, 500, "out of memory");
out:
	estkit_free(serial);
	X509_free(cert);
	estd_snapshot_release(s);
	return rc;
}

/* RFC 7030 4.5: the label's CsrAttrs, built at config load; none -> 204. */
static enum estkit_status cb_csrattrs(void *ctx, struct estkit_request *req, unsigned char **der,
				      size_t *len)
{
	struct estd_snapshot *s = acquire(ctx);
	const struct estd_label *l = estd_config_label(s->cfg, estkit_request_label(req));
	enum estkit_status rc = ESTKIT_OK;

	*der = NULL;
	*len = 0;
	if (l == NULL) {
		estkit_request_fail(req, 404, "unknown label");
		rc = ESTKIT_ENOTFOUND;
	} else if (estd_ext_kind(l) == ESTD_EXT_PROXY && !l->csrattrs_auth &&
		   l->csrattrs_der == NULL) {
		/* RFC 7030 4.5: a proxy label without its own attributes asks the upstream */
		rc = estd_ext_csrattrs(((struct estd_backend_ca *)ctx)->ext, l, req, der, len);
	} else if (l->csrattrs_auth && estkit_request_user(req) == NULL &&
		   estkit_request_peer_cert(req) == NULL) {
		rc = ESTKIT_EAUTH; /* csrattrs_auth = required */
	} else if (l->csrattrs_der != NULL) {
		if ((*der = OPENSSL_memdup(l->csrattrs_der, l->csrattrs_len)) == NULL)
			rc = ESTKIT_ENOMEM;
		else
			*len = l->csrattrs_len;
	}
	estd_snapshot_release(s);
	return rc;
}

/*
 * RFC 7030 4.4: a key for the label (serverkeygen_key, else like the CSR's),
 * a certificate for it with the CSR's subject and subjectAltName under the
 * label's profile, recorded as op "serverkeygen" with the client's CSR. The
 * private key is never stored; the server wipes it after answering.
 */
static enum estkit_status cb_serverkeygen(void *ctx, struct estkit_request *req, X509_REQ *csr,
					  EVP_PKEY **key_out, STACK_OF(X509) **out)
{
	struct estd_backend_ca *b = ctx;
	struct estd_snapshot *s = acquire(b);
	const struct estd_ca_profile *prof;
	const struct estd_label *lab = NULL;
	X509_REQ *issued = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *link = NULL;
	struct estd_ca *ca = b->ca;
	char reason[256];
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	*key_out = NULL;
	*out = NULL;
	/* the issuing CA as for /simpleenroll (rollover, RFC 7030 4.1.3) */
	if (estd_rollover_switched(s->rollover, time(NULL))) {
		ca = estd_rollover_next_ca(s->rollover);
		link = estd_rollover_new_with_old(s->rollover);
	}
	prof = estd_snapshot_profile(s, estkit_request_label(req));
	lab = estd_config_label(s->cfg, estkit_request_label(req));
	if (prof == NULL || lab == NULL) {
		estkit_request_fail(req, 404, "unknown label");
		goto out;
	}
	if (estd_ext_kind(lab) != ESTD_EXT_CA) {
		rc = estd_ext_serverkeygen(b->ext, lab, req, csr, key_out, out);
		goto out;
	}
	if (lab->approval_manual) {
		/* a held request would need its key kept until collection: never */
		estkit_request_fail(req, 403, "/serverkeygen is not offered on labels with "
					      "manual approval");
		rc = ESTKIT_EFORBIDDEN;
		goto out;
	}
	rc = estd_skg_generate(lab, csr, &key, reason, sizeof(reason));
	if (rc == ESTKIT_OK)
		rc = estd_profile_check_key(prof, key, reason, sizeof(reason));
	if (rc != ESTKIT_OK) {
		estkit_request_fail(req, rc == ESTKIT_EPOLICY ? 400 : 500, "%s", reason);
		goto out;
	}
	/* RFC 7030 4.4.1: the CSR's public key is ignored; the new one is certified */
	issued = X509_REQ_dup(csr);
	if (issued == NULL || X509_REQ_set_pubkey(issued, key) != 1) {
		estkit_request_fail(req, 500, "out of memory");
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	rc = estd_backend_ca_issue_record(b, ca, prof, req, issued, csr, NULL, &cert, NULL, 0);
	if (rc == ESTKIT_OK)
		rc = response_chain(estd_ca_cert(ca), link, cert, out);
	if (rc != ESTKIT_OK)
		goto out;
	*key_out = key;
	key = NULL;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_REQ_free(issued);
	estd_snapshot_release(s);
	return rc;
}

/* RFC 7030 4.4.1.1: the label's serverkeygen_kek when the identifier matches. */
static enum estkit_status cb_serverkeygen_kek(void *ctx, struct estkit_request *req,
					      const unsigned char *id, size_t idlen,
					      unsigned char **kek, size_t *keklen)
{
	struct estd_backend_ca *b = ctx;
	struct estd_snapshot *s = acquire(b);
	enum estkit_status rc;

	rc = estd_skg_kek(estd_config_label(s->cfg, estkit_request_label(req)), id, idlen, kek,
			  keklen);
	if (rc != ESTKIT_OK && rc != ESTKIT_ENOTFOUND)
		estd_backend_ca_log(b, ESTKIT_LOG_ERROR,
				    "serverkeygen_kek of label '%s' unusable: %s",
				    estkit_request_label(req), estkit_strerror(rc));
	estd_snapshot_release(s);
	return rc;
}

/* RFC 7030 3.7: [auth] ra_certs and id-kp-cmcRA (backend/ext.c). */
static int cb_is_ra(void *ctx, struct estkit_request *req)
{
	struct estd_snapshot *s = acquire(ctx);
	int ra = estd_ext_is_ra(s->cfg->ra_certs, estkit_request_peer_cert(req));

	estd_snapshot_release(s);
	return ra;
}

static void cb_log(void *ctx, enum estkit_log_level level, const char *line)
{
	log_line(ctx, level, line);
}

void estd_backend_ca_vtable(struct estd_backend_ca *b, struct estkit_backend *vt)
{
	memset(vt, 0, sizeof(*vt));
	vt->ctx = b;
	vt->label_exists = cb_label_exists;
	vt->require_channel_binding = cb_require_channel_binding;
	vt->check_basic = cb_check_basic;
	vt->digest_ha1 = cb_digest_ha1;
	vt->cacerts = cb_cacerts;
	vt->enroll = cb_enroll;
	vt->log = cb_log;
	vt->csrattrs = cb_csrattrs;
	vt->fullcmc = estd_backend_cmc_fullcmc;
	vt->serverkeygen = cb_serverkeygen;
	vt->serverkeygen_kek = cb_serverkeygen_kek;
	/* several nodes on one PostgreSQL share the Digest nonce-counts */
	if (estd_store_shares_nonces(b->store))
		vt->digest_nc = estd_backend_digest_nc;
	vt->is_ra = cb_is_ra;
	vt->authorize = estd_authz_authorize;        /* policy, one-time tokens: authz.c */
	vt->authorize_done = estd_authz_done;
}

/* See backend/ca.h. */
struct estd_snapshot *estd_backend_ca_snapshot(struct estd_backend_ca *b)
{
	return acquire(b);
}

/* The [ca] chain file's certificates appended to the /cacerts answer (RFC 7030 4.1.3). */
static enum estkit_status build_cacerts(struct estd_backend_ca *b, const char *chain,
					char **err)
{
	STACK_OF(X509) *more = NULL;
	X509 *cacert = estd_ca_cert(b->ca);
	enum estkit_status rc;

	b->cacerts = sk_X509_new_null();
	if (b->cacerts == NULL || !X509_up_ref(cacert))
		return ESTKIT_ENOMEM;
	if (!sk_X509_push(b->cacerts, cacert)) {
		X509_free(cacert);
		return ESTKIT_ENOMEM;
	}
	if (chain == NULL)
		return ESTKIT_OK;
	rc = estkit_certs_load(chain, &more);
	if (rc != ESTKIT_OK) {
		*err = estd_strfmt("cannot read CA chain %s: %s", chain, estkit_strerror(rc));
		return rc;
	}
	while (sk_X509_num(more) > 0) {
		X509 *x = sk_X509_shift(more);

		if (!sk_X509_push(b->cacerts, x)) {
			X509_free(x);
			rc = ESTKIT_ENOMEM;
			break;
		}
	}
	sk_X509_pop_free(more, X509_free);
	return rc;
}

enum estkit_status estd_backend_ca_new(struct estd_config *cfg, struct estd_users *users,
				       struct estd_store *store, struct estd_ca *ca,
				       struct estd_backend_ca **out, char **err)
{
	struct estd_backend_ca *b = NULL;
	struct estd_rollover *ro = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (err != NULL)
		*err = NULL;
	if (out == NULL || cfg == NULL || ca == NULL || store == NULL || err == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return ESTKIT_ENOMEM;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b);
		return ESTKIT_ENOMEM;
	}
	b->store = store;
	b->ca = ca;
	rc = estd_ext_check(cfg, err);
	if (rc == ESTKIT_OK)
		rc = estd_ext_new(b, store, cfg->job_threads, &b->ext);
	if (rc == ESTKIT_OK)
		rc = build_cacerts(b, cfg->ca_chain, err);
	if (rc != ESTKIT_OK)
		goto out;
	rc = estd_rollover_load(cfg, ca, b->cacerts, &ro, err);
	if (rc == ESTKIT_OK)
		rc = estd_snapshot_new(cfg, users, &b->cur, err);
	if (rc != ESTKIT_OK)
		goto out;
	b->cur->rollover = ro;
	ro = NULL;
	b->boot = b->cur;
	estd_snapshot_retain(b->boot);
	b->log_level = (int)estd_log_level_parse(cfg->log_level);
	*out = b;
	b = NULL;
	rc = ESTKIT_OK;
out:
	estd_rollover_free(ro);
	estd_backend_ca_free(b);
	return rc;
}

void estd_backend_ca_free(struct estd_backend_ca *b)
{
	if (b == NULL)
		return;
	estd_snapshot_release(b->cur);
	estd_snapshot_release(b->boot);
	sk_X509_pop_free(b->cacerts, X509_free);
	estd_ext_free(b->ext);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static int str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Settings copied into the running server or opened once: log what a reload cannot apply. */
static void warn_restart_needed(struct estd_backend_ca *b, const struct estd_config *old,
				const struct estd_config *cfg)
{
	const struct {
		const char *name;
		int changed;
	} s[] = {
		{ "[server] listen", str_differs(old->listen, cfg->listen) },
		{ "[server] tls_cert", str_differs(old->tls_cert, cfg->tls_cert) },
		{ "[server] tls_key or tls_key_pin_file",
		  str_differs(old->tls_key, cfg->tls_key) ||
			  str_differs(old->tls_key_pin_file, cfg->tls_key_pin_file) },
		{ "[server] thread, queue, size or timeout limits",
		  old->io_threads != cfg->io_threads || old->job_threads != cfg->job_threads ||
			  old->job_queue != cfg->job_queue || old->max_body != cfg->max_body ||
			  old->max_headers != cfg->max_headers ||
			  old->max_connections != cfg->max_connections ||
			  old->max_connections_per_address != cfg->max_connections_per_address ||
			  old->timeout != cfg->timeout },
		{ "[ca] cert", str_differs(old->ca_cert, cfg->ca_cert) },
		{ "[ca] key", str_differs(old->ca_key, cfg->ca_key) },
		{ "[ca] chain", str_differs(old->ca_chain, cfg->ca_chain) },
		{ "[ca] signer, signer_workers, signer_timeout, key_pin_file or pkcs11_module",
		  old->ca_signer_inline != cfg->ca_signer_inline ||
			  old->ca_signer_workers != cfg->ca_signer_workers ||
			  old->ca_signer_timeout != cfg->ca_signer_timeout ||
			  str_differs(old->ca_key_pin_file, cfg->ca_key_pin_file) ||
			  str_differs(old->ca_pkcs11_module, cfg->ca_pkcs11_module) },
		{ "[store] path", str_differs(old->store_path, cfg->store_path) },
		{ "[auth] realm", str_differs(old->realm, cfg->realm) },
		{ "[auth] client_ca", str_differs(old->client_ca, cfg->client_ca) },
		{ "[auth] implicit_ca", str_differs(old->implicit_ca, cfg->implicit_ca) ||
		  old->implicit_ca_enabled != cfg->implicit_ca_enabled },
		{ "[auth] reenroll_requires_cert",
		  old->reenroll_requires_cert != cfg->reenroll_requires_cert },
	};
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i].changed)
			estd_backend_ca_log(b, ESTKIT_LOG_WARN,
					    "reload: %s changed; restart estd to apply it", s[i].name);
}

enum estkit_status estd_backend_ca_reload(struct estd_backend_ca *b)
{
	struct estd_config *cfg = NULL;
	struct estd_users *users = NULL;
	struct estd_snapshot *s = NULL, *old = NULL;
	struct estd_rollover *ro = NULL;
	char *err = NULL;
	enum estkit_status rc;

	if (b == NULL)
		return ESTKIT_EINVAL;
	rc = estd_config_load(b->boot->cfg->path, &cfg, &err);
	if (rc == ESTKIT_OK)
		rc = estd_ext_check(cfg, &err);
	if (rc == ESTKIT_OK)
		rc = estd_users_load(cfg->users_file, &users, &err);
	if (rc == ESTKIT_OK)
		rc = estd_rollover_load(cfg, b->ca, b->cacerts, &ro, &err);
	if (rc == ESTKIT_OK)
		rc = estd_snapshot_new(cfg, users, &s, &err);
	if (rc != ESTKIT_OK) {
		estd_rollover_free(ro);
		estd_backend_ca_log(b, ESTKIT_LOG_ERROR,
				    "reload failed, keeping the current configuration: %s",
				    err != NULL ? err : estkit_strerror(rc));
		estkit_free(err);
		estd_users_free(users);
		estd_config_free(cfg);
		return ESTKIT_EINVAL;
	}
	s->rollover = ro;
	warn_restart_needed(b, b->boot->cfg, cfg);
	pthread_mutex_lock(&b->lock);
	old = b->cur;
	b->cur = s;
	pthread_mutex_unlock(&b->lock);
	/* Requests holding the old snapshot keep it alive until they finish. */
	estd_snapshot_release(old);
	estd_ext_reloaded(b->ext);
	__atomic_store_n(&b->log_level, (int)estd_log_level_parse(cfg->log_level),
			 __ATOMIC_RELAXED);
	estd_backend_ca_log(b, ESTKIT_LOG_INFO,
			    "configuration reloaded from %s (%zu labels, %zu profiles)", cfg->path,
			    cfg->nlabels, cfg->nprofiles);
	if (s->rollover != NULL)
		estd_backend_ca_log(b, ESTKIT_LOG_INFO, "CA rollover: new CA %s, %s", cfg->ca_next_cert,
				    estd_rollover_switched(s->rollover, time(NULL))
					    ? "issuing now" : "not issuing yet");
	return ESTKIT_OK;
}

/* ---- for backend/ca_cmc.c and backend/cmc.c ------------------------------------ */

/* See backend/cmc.h. */
struct estd_store *estd_backend_ca_store(struct estd_backend_ca *b)
{
	return b->store;
}

/* See backend/cmc.h. */
struct estd_ca *estd_backend_ca_ca(struct estd_backend_ca *b)
{
	return b->ca;
}
