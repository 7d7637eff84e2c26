/*
 * backend/ext.c - the labels served by an upstream EST server or a program:
 * dispatch, the state they share across reloads (command slots, the upstream
 * /cacerts cache) and recording what they issued.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/pki.h>

#include "backend/ca.h"
#include "backend/command.h"
#include "backend/ext.h"
#include "backend/proxy.h"
#include "backend/proxy_conn.h"
#include "backend/record.h"
#include "backend/upool.h"
#include "util.h"

/* Labels' slot counters and cache entries kept at most (one per label and URL). */
#define MAX_ENTRIES 4096

struct slot {
	char *label;
	int running;
};

struct cached {
	char *label, *url;
	STACK_OF(X509) *certs;
	long long expires;           /* monotonic seconds */
};

struct estd_ext {
	pthread_mutex_t lock;
	pthread_cond_t freed;        /* a slot was given back */
	struct estd_backend_ca *log; /* borrowed */
	struct estd_store *store;    /* borrowed */
	int job_threads;
	int busy;                    /* job threads in a program or waiting for a slot */
	struct slot *slots;
	size_t nslots;
	struct cached *cache;
	size_t ncache;
	struct estd_upool *upool;    /* kept-alive upstream connections (proxy) */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* See ext.h. */
enum estkit_status estd_ext_new(struct estd_backend_ca *log, struct estd_store *store,
				int job_threads, struct estd_ext **out)
{
	struct estd_ext *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;
	long cores;

	*out = NULL;
	if (x == NULL)
		return ESTKIT_ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&x->lock, NULL) != 0 || pthread_cond_init(&x->freed, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		free(x);
		return ESTKIT_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	x->log = log;
	x->store = store;
	/* as the server sizes its pool: [server] job_threads, 0 = 2 x cores */
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	x->job_threads = job_threads > 0 ? job_threads : (int)(cores > 0 ? 2 * cores : 4);
	/* one kept connection per job thread and label in use, twice over; see upool.h */
	x->upool = estd_upool_new((size_t)x->job_threads * 2);
	if (x->upool == NULL) {
		estd_ext_free(x);
		return ESTKIT_ENOMEM;
	}
	*out = x;
	return ESTKIT_OK;
}

/* See ext.h. */
enum estkit_status estd_ext_check(const struct estd_config *cfg, char **err)
{
	char pw[ESTD_PROXY_MAX_PASSWORD + 1], msg[400];
	enum estkit_status rc = ESTKIT_OK;
	size_t i;

	*err = NULL;
	for (i = 0; i < cfg->nlabels && rc == ESTKIT_OK; i++) {
		const struct estd_label *lab = &cfg->labels[i];

		if (estd_ext_kind(lab) != ESTD_EXT_PROXY || lab->ext->upstream_password_file == NULL)
			continue;
		rc = estd_proxy_password_read(lab->ext->upstream_password_file, pw, msg,
					      sizeof(msg));
		OPENSSL_cleanse(pw, sizeof(pw));
		if (rc != ESTKIT_OK) {
			*err = estd_strfmt("label '%s': upstream_password_file %s",
					   lab->name[0] != '\0' ? lab->name : "(default)", msg);
			if (*err == NULL)
				rc = ESTKIT_ENOMEM;
		}
	}
	return rc;
}

/* See ext.h. */
void estd_ext_free(struct estd_ext *x)
{
	size_t i;

	if (x == NULL)
		return;
	for (i = 0; i < x->nslots; i++)
		free(x->slots[i].label);
	for (i = 0; i < x->ncache; i++) {
		free(x->cache[i].label);
		free(x->cache[i].url);
		OSSL_STACK_OF_X509_free(x->cache[i].certs);
	}
	free(x->slots);
	free(x->cache);
	estd_upool_free(x->upool);
	pthread_cond_destroy(&x->freed);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

/* See ext.h. */
enum estd_ext_kind estd_ext_kind(const struct estd_label *lab)
{
	return lab != NULL && lab->ext != NULL ? lab->ext->kind : ESTD_EXT_CA;
}

/* See ext.h. */
struct estd_backend_ca *estd_ext_log(struct estd_ext *x)
{
	return x->log;
}

/* See ext.h. */
struct estd_upool *estd_ext_upool(struct estd_ext *x)
{
	return x->upool;
}

/* See ext.h. */
void estd_ext_reloaded(struct estd_ext *x)
{
	if (x != NULL)
		estd_upool_flush(x->upool);
}

/* See ext.h. */
int estd_ext_job_threads(const struct estd_ext *x)
{
	return x->job_threads;
}

/* See ext.h. */
STACK_OF(X509) *estd_ext_certs_dup(STACK_OF(X509) *src)
{
	return src != NULL ? X509_chain_up_ref(src) : NULL;
}

/* The slot counter of label (created); NULL when memory or the table ran out. Locked. */
static struct slot *slot_find(struct estd_ext *x, const char *label)
{
	struct slot *ns;
	size_t i;

	for (i = 0; i < x->nslots; i++)
		if (strcmp(x->slots[i].label, label) == 0)
			return &x->slots[i];
	if (x->nslots >= MAX_ENTRIES)
		return NULL;
	ns = realloc(x->slots, (x->nslots + 1) * sizeof(*ns));
	if (ns == NULL)
		return NULL;
	x->slots = ns;
	ns[x->nslots].label = estd_strdup(label);
	ns[x->nslots].running = 0;
	if (ns[x->nslots].label == NULL)
		return NULL;
	return &ns[x->nslots++];
}

/* See ext.h. */
int estd_ext_slot_get(struct estd_ext *x, const char *label, int limit, long wait_ms)
{
	long long end = mono_ms() + wait_ms;
	struct timespec ts = { (time_t)(end / 1000), (long)(end % 1000) * 1000000L };
	struct slot *s;
	int rc = -1, w = 0, waiting = 0;

	pthread_mutex_lock(&x->lock);
	s = slot_find(x, label);
	/*
	 * A job thread waiting for a slot serves nobody: wait only while one job
	 * thread stays free of programs and waiters, so /cacerts and the other
	 * labels are still answered when a label is saturated.
	 */
	if (s != NULL && s->running >= limit && x->busy + 1 < x->job_threads) {
		waiting = 1;
		x->busy++;
	}
	while (waiting && s != NULL && s->running >= limit && w == 0) {
		w = pthread_cond_timedwait(&x->freed, &x->lock, &ts);
		s = slot_find(x, label); /* the table may have moved */
	}
	if (s != NULL && s->running < limit) {
		s->running++;
		rc = 0;
		if (!waiting)
			x->busy++;
	} else if (waiting) {
		x->busy--;
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* See ext.h. */
void estd_ext_slot_put(struct estd_ext *x, const char *label)
{
	struct slot *s;

	pthread_mutex_lock(&x->lock);
	s = slot_find(x, label);
	if (s != NULL && s->running > 0) {
		s->running--;
		x->busy--;
	}
	pthread_cond_broadcast(&x->freed);
	pthread_mutex_unlock(&x->lock);
}

static struct cached *cache_find(struct estd_ext *x, const char *label, const char *url)
{
	size_t i;

	for (i = 0; i < x->ncache; i++)
		if (strcmp(x->cache[i].label, label) == 0 && strcmp(x->cache[i].url, url) == 0)
			return &x->cache[i];
	return NULL;
}

/* See ext.h. */
STACK_OF(X509) *estd_ext_cache_get(struct estd_ext *x, const char *label, const char *url)
{
	STACK_OF(X509) *out = NULL;
	struct cached *c;

	pthread_mutex_lock(&x->lock);
	c = cache_find(x, label, url);
	if (c != NULL && c->certs != NULL && mono_ms() / 1000 < c->expires)
		out = estd_ext_certs_dup(c->certs);
	pthread_mutex_unlock(&x->lock);
	return out;
}

/* See ext.h. */
void estd_ext_cache_put(struct estd_ext *x, const char *label, const char *url,
			STACK_OF(X509) *certs, int ttl)
{
	STACK_OF(X509) *copy = ttl > 0 ? estd_ext_certs_dup(certs) : NULL;
	struct cached *c, *nc;

	if (copy == NULL)
		return;
	pthread_mutex_lock(&x->lock);
	c = cache_find(x, label, url);
	if (c == NULL && x->ncache < MAX_ENTRIES &&
	    (nc = realloc(x->cache, (x->ncache + 1) * sizeof(*nc))) != NULL) {
		x->cache = nc;
		c = &nc[x->ncache];
		c->label = estd_strdup(label);
		c->url = estd_strdup(url);
		c->certs = NULL;
		if (c->label != NULL && c->url != NULL) {
			x->ncache++;
		} else {
			free(c->label);
			free(c->url);
			c = NULL;
		}
	}
	if (c != NULL) {
		OSSL_STACK_OF_X509_free(c->certs);
		c->certs = copy;
		c->expires = mono_ms() / 1000 + ttl;
		copy = NULL;
	}
	pthread_mutex_unlock(&x->lock);
	OSSL_STACK_OF_X509_free(copy);
}

/* See ext.h. */
enum estkit_status estd_ext_record(struct estd_ext *x, struct estkit_request *req,
				   X509_REQ *csr, X509 *cert, const char *how)
{
	struct estd_cert_record rec;
	char *op = estd_strfmt("%s via %s", estkit_op_name(estkit_request_op(req)), how);
	char *serial = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (op != NULL)
		rc = estd_record_build(csr, cert, estkit_request_identity(req),
				       estkit_request_label(req), op, &rec);
	if (rc == ESTKIT_OK) {
		rc = estd_store_cert_insert(x->store, &rec);
		estd_record_clear(&rec);
	}
	/* the same certificate handed out again (a pended request collected) */
	if (rc == ESTKIT_EEXIST)
		rc = ESTKIT_OK;
	if (rc == ESTKIT_OK && estkit_cert_serial_hex(cert, &serial) == ESTKIT_OK)
		estkit_request_set_serial(req, serial);
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(x->log, ESTKIT_LOG_ERROR,
				    "could not record the certificate issued via %s: %s (%s)", how,
				    estd_store_errmsg(x->store), estkit_strerror(rc));
		estkit_request_fail(req, 500, "could not record the certificate");
	}
	estkit_free(serial);
	free(op);
	return rc;
}

/* 1 when cert's extendedKeyUsage lists id-kp-cmcRA (RFC 6402 2.10). */
static int has_cmcra(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	int i, found = 0;

	for (i = 0; i < sk_ASN1_OBJECT_num(eku) && !found; i++)
		found = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

/* See ext.h. */
int estd_ext_is_ra(const char *list, X509 *cert)
{
	char *subj = NULL;
	const char *p = list;
	size_t n;
	int found = 0;

	if (list == NULL || cert == NULL || !has_cmcra(cert))
		return 0;
	if (strcmp(list, "any") == 0)
		return 1;
	if (estkit_name_oneline(X509_get_subject_name(cert), &subj) != ESTKIT_OK)
		return 0;
	n = strlen(subj);
	/*
	 * comma-separated "cert:SUBJECT" entries, blanks around them ignored; an
	 * RFC 2253 subject has commas of its own, so an entry ends only at the
	 * end of the list or where the next "cert:" starts
	 */
	for (; p != NULL && !found; p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 : NULL) {
		const char *q = p + strspn(p, " \t");

		if (strncmp(q, "cert:", 5) != 0 || strncmp(q + 5, subj, n) != 0)
			continue;
		q += 5 + n;
		q += strspn(q, " \t");
		if (*q == ',')
			q += 1 + strspn(q + 1, " \t");
		/* the entry ends here only if the list does or the next entry starts */
		found = *q == '\0' || strncmp(q, "cert:", 5) == 0;
	}
	estkit_free(subj);
	return found;
}

/* See ext.h. */
enum estkit_status estd_ext_cacerts(struct estd_ext *x, const struct estd_label *lab,
				    struct estkit_request *req, STACK_OF(X509) *local,
				    STACK_OF(X509) **out)
{
	enum estkit_status rc;

	*out = NULL;
	if (estd_ext_kind(lab) == ESTD_EXT_PROXY)
		return estd_proxy_cacerts(x, lab, req, out);
	if (lab->ext->command_cacerts == NULL) {
		*out = estd_ext_certs_dup(local);
		rc = *out != NULL ? ESTKIT_OK : ESTKIT_ENOMEM;
	} else {
		/* read each time: the operator may replace it without a reload */
		rc = estkit_certs_load(lab->ext->command_cacerts, out);
	}
	if (rc != ESTKIT_OK) {
		estd_backend_ca_log(x->log, ESTKIT_LOG_ERROR, "label '%s': command_cacerts %s: %s",
				    lab->name, lab->ext->command_cacerts, estkit_strerror(rc));
		estkit_request_fail(req, 500, "CA certificates unavailable");
	}
	return rc;
}

/* See ext.h. */
enum estkit_status estd_ext_enroll(struct estd_ext *x, const struct estd_label *lab,
				   struct estkit_request *req, X509_REQ *csr,
				   STACK_OF(X509) **out)
{
	if (estd_ext_kind(lab) == ESTD_EXT_PROXY)
		return estd_proxy_enroll(x, lab, req, csr, out);
	return estd_command_enroll(x, lab, req, csr, out);
}

/* See ext.h. */
enum estkit_status estd_ext_csrattrs(struct estd_ext *x, const struct estd_label *lab,
				     struct estkit_request *req, unsigned char **der,
				     size_t *len)
{
	return estd_proxy_csrattrs(x, lab, req, der, len);
}

/* See ext.h. */
enum estkit_status estd_ext_serverkeygen(struct estd_ext *x, const struct estd_label *lab,
					 struct estkit_request *req, X509_REQ *csr,
					 EVP_PKEY **key_out, STACK_OF(X509) **out)
{
	*key_out = NULL;
	*out = NULL;
	if (estd_ext_kind(lab) == ESTD_EXT_PROXY)
		return estd_proxy_serverkeygen(x, lab, req, csr, key_out, out);
	/* a program's answer carries no key: nothing a client could use */
	estkit_request_fail(req, 501, "/serverkeygen is not offered on this label");
	return ESTKIT_EINVAL;
}
