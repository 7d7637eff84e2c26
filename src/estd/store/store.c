/*
 * store.c - the store interface: picks the engine from the spec and calls
 * through its ops table (store_int.h). Engines: SQLite (sqlite*.c) for one
 * node, PostgreSQL (pg*.c) for one or several nodes sharing a database.
 *
 * Every store call blocks (disk or network) and so runs on the job pool or
 * in an admin command, never on an event loop (docs/server-internals.md).
 */
#include "store/store_int.h"
#include "store/store.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message of this thread's last store call (store.h: per thread). */
static _Thread_local char errbuf[512];

/* See store_int.h. */
void estd_store_set_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

/* See store_int.h. */
void estd_store_clear_err(void)
{
	errbuf[0] = '\0';
}

/* See store_int.h. */
const char *estd_store_err(void)
{
	return errbuf;
}

/* This thread's last message ("" when the last call succeeded). */
const char *estd_store_errmsg(struct estd_store *st)
{
	(void)st;
	return errbuf;
}

/* See store_int.h. */
int estd_store_normalize_serial(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	const char *s;

	if (in == NULL || strlen(in) > 3 * ESTD_STORE_MAX_SERIAL)
		return -1;
	for (s = in; *s != '\0'; s++) {
		char c = *s;

		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		if (n == 0 && c == '0')
			continue;
		if (n + 1 >= outlen || n >= ESTD_STORE_MAX_SERIAL)
			return -1;
		out[n++] = c;
	}
	if (n == 0) {
		/* all zeros is "0"; nothing at all is an error */
		if (strspn(in, ":") == strlen(in))
			return -1;
		out[n++] = '0';
	}
	out[n] = '\0';
	return 0;
}

/* See store_int.h. */
int estd_store_valid_hash(const char *h)
{
	return h != NULL && strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64;
}

/* 1 when spec names a PostgreSQL database (a libpq connection URI). */
static int is_pg(const char *spec)
{
	return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

/*
 * spec for messages: a PostgreSQL URI's password ("user:secret@host") and
 * any password= parameter become "***". Caller frees.
 */
char *estd_store_redact(const char *spec)
{
	const char *auth, *end, *at, *colon, *pw;
	char *out = NULL, *tmp = NULL;

	if (spec == NULL || !is_pg(spec))
		return estd_strdup(spec != NULL ? spec : "(null)");
	auth = strstr(spec, "://") + 3;
	end = auth + strcspn(auth, "/?");
	at = memchr(auth, '@', (size_t)(end - auth));
	colon = memchr(auth, ':', (size_t)(end - auth));
	if (at != NULL && colon != NULL && colon < at)
		out = estd_strfmt("%.*s:***%s", (int)(colon - spec), spec, at);
	else
		out = estd_strdup(spec);
	pw = out != NULL ? strstr(out, "password=") : NULL;
	if (pw != NULL) {
		size_t n = strcspn(pw, "&");

		tmp = estd_strfmt("%.*spassword=***%s", (int)(pw - out), out, pw + n);
		free(out);
		out = tmp;
	}
	return out;
}

/* Opens the store at spec: "PATH", "sqlite:PATH", "postgresql://..." or "postgres://...". */
enum estkit_status estd_store_open(const char *spec, struct estd_store **out, char **err)
{
	enum estkit_status rc = ESTKIT_EINVAL;

	estd_store_clear_err();
	if (err != NULL)
		*err = NULL;
	if (out != NULL)
		*out = NULL;
	if (spec == NULL || out == NULL) {
		estd_store_set_err("no store given");
	} else if (is_pg(spec)) {
		rc = estd_pg_open(spec, out);
	} else if (strncmp(spec, "postgres:", 9) == 0 || strncmp(spec, "postgresql:", 11) == 0) {
		estd_store_set_err("a PostgreSQL store is written postgresql://[user@]host[:port]/db");
	} else {
		const char *path = strncmp(spec, "sqlite:", 7) == 0 ? spec + 7 : spec;

		if (*path == '\0')
			estd_store_set_err("empty store path");
		else
			rc = estd_sqlite_open(path, out);
	}
	if (rc != ESTKIT_OK && err != NULL) {
		char *shown = estd_store_redact(spec);

		*err = estd_strfmt("%s: %s", shown != NULL ? shown : "(store)",
				   errbuf[0] ? errbuf : estkit_strerror(rc));
		free(shown);
	}
	return rc;
}

/* Closes the store; NULL is a no-op. */
void estd_store_close(struct estd_store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

/* See store.h. */
int estd_store_http_status(enum estkit_status rc)
{
	return rc == ESTKIT_EBUSY ? 503 : 500;
}

/* See store.h. */
const char *estd_store_engine(const struct estd_store *st)
{
	return st != NULL ? st->ops->name : "";
}

/* See store.h. */
void estd_store_set_connections(struct estd_store *st, int n)
{
	if (st != NULL && st->ops->set_connections != NULL && n > 0)
		st->ops->set_connections(st, n);
}

#define CHECK(st)                                                                              \
	do {                                                                                   \
		estd_store_clear_err();                                                        \
		if ((st) == NULL) {                                                            \
			estd_store_set_err("no store");                                        \
			return ESTKIT_EINVAL;                                                  \
		}                                                                              \
	} while (0)

/*
 * An argument no engine may see: ESTKIT_EINVAL with msg as the thread's
 * message (NULL: none, as for a missing out or callback pointer).
 */
#define REFUSE_IF(cond, msg)                                                                   \
	do {                                                                                   \
		if (cond) {                                                                    \
			if ((msg) != NULL)                                                     \
				estd_store_set_err("%s", (const char *)(msg));                 \
			return ESTKIT_EINVAL;                                                  \
		}                                                                              \
	} while (0)

#define BAD_SERIAL "invalid serial (expected hexadecimal)"

/* Reasons, names and other free text the engines store go into logs and bodies. */
static int text_ok(const char *v)
{
	return v != NULL && strlen(v) <= ESTD_STORE_MAX_TEXT;
}

/* Inserts and commits rec; a known serial is ESTKIT_EEXIST. */
enum estkit_status estd_store_cert_insert(struct estd_store *st,
					  const struct estd_cert_record *rec)
{
	char norm[ESTD_STORE_MAX_SERIAL + 1];

	CHECK(st);
	REFUSE_IF(rec == NULL || estd_store_normalize_serial(rec->serial, norm, sizeof(norm)) != 0,
		  "invalid record or serial");
	return st->ops->cert_insert(st, rec);
}

/* The record with serial (any case, leading zeros and ':' ignored). */
enum estkit_status estd_store_cert_get(struct estd_store *st, const char *serial,
				       struct estd_cert_record **out)
{
	char norm[ESTD_STORE_MAX_SERIAL + 1];

	if (out != NULL)
		*out = NULL;
	CHECK(st);
	REFUSE_IF(out == NULL, NULL);
	REFUSE_IF(estd_store_normalize_serial(serial, norm, sizeof(norm)) != 0, BAD_SERIAL);
	return st->ops->cert_get(st, norm, out);
}

/* Walks all records, oldest first; cb returning non-zero stops the walk. */
enum estkit_status estd_store_cert_foreach(struct estd_store *st,
					   int (*cb)(void *arg, const struct estd_cert_record *rec),
					   void *arg)
{
	CHECK(st);
	REFUSE_IF(cb == NULL, NULL);
	return st->ops->cert_foreach(st, cb, arg);
}

/* See store.h. */
enum estkit_status estd_store_revoke(struct estd_store *st, const char *serial, int reason,
				     long long at, const char *by)
{
	char norm[ESTD_STORE_MAX_SERIAL + 1];

	CHECK(st);
	REFUSE_IF(estd_store_normalize_serial(serial, norm, sizeof(norm)) != 0, BAD_SERIAL);
	return st->ops->revoke(st, norm, reason, at, by);
}

/* See store.h. */
enum estkit_status estd_store_revocation_get(struct estd_store *st, const char *serial,
					     int *reason, long long *at)
{
	char norm[ESTD_STORE_MAX_SERIAL + 1];

	CHECK(st);
	REFUSE_IF(estd_store_normalize_serial(serial, norm, sizeof(norm)) != 0, NULL);
	return st->ops->revocation_get(st, norm, reason, at);
}

/* See store.h. */
enum estkit_status estd_store_revocation_foreach(struct estd_store *st,
						 int (*cb)(void *arg, const char *serial,
							   int reason, long long at),
						 void *arg)
{
	CHECK(st);
	REFUSE_IF(cb == NULL, NULL);
	return st->ops->revocation_foreach(st, cb, arg);
}

/* See store.h. */
enum estkit_status estd_store_crl_next_number(struct estd_store *st, long long *out)
{
	CHECK(st);
	REFUSE_IF(out == NULL, NULL);
	return st->ops->crl_next_number(st, out);
}

/* Insert-or-get by (label, csr_sha256); see store.h. */
enum estkit_status estd_store_request_submit(struct estd_store *st,
					     const struct estd_request_record *req,
					     struct estd_request_record **out, int *created)
{
	if (out != NULL)
		*out = NULL;
	if (created != NULL)
		*created = 0;
	CHECK(st);
	REFUSE_IF(req == NULL || out == NULL || req->label == NULL || req->csr_der == NULL ||
			  req->csr_len == 0 || !estd_store_valid_hash(req->csr_sha256),
		  "invalid request record");
	return st->ops->request_submit(st, req, out, created);
}

/* The request with id. */
enum estkit_status estd_store_request_get(struct estd_store *st, long long id,
					  struct estd_request_record **out)
{
	if (out != NULL)
		*out = NULL;
	CHECK(st);
	REFUSE_IF(out == NULL, NULL);
	return st->ops->request_get(st, id, out);
}

/* Walks the requests with status (NULL: all), oldest first. */
enum estkit_status estd_store_request_foreach(struct estd_store *st, const char *status,
					      int (*cb)(void *arg,
							const struct estd_request_record *r),
					      void *arg)
{
	CHECK(st);
	REFUSE_IF(cb == NULL, NULL);
	return st->ops->request_foreach(st, status, cb, arg);
}

/* pending -> approved | rejected, atomically. */
enum estkit_status estd_store_request_decide(struct estd_store *st, long long id,
					     const char *status, const char *reason,
					     const char *decided_by)
{
	CHECK(st);
	REFUSE_IF(status == NULL ||
			  (strcmp(status, "approved") != 0 && strcmp(status, "rejected") != 0) ||
			  (reason != NULL && !text_ok(reason)) ||
			  (decided_by != NULL && !text_ok(decided_by)),
		  "invalid decision");
	return st->ops->request_decide(st, id, status, reason, decided_by);
}

/* Records the certificate of an approved request and marks it issued; see store.h. */
enum estkit_status estd_store_request_issue(struct estd_store *st, long long id,
					    const struct estd_cert_record *cert)
{
	CHECK(st);
	REFUSE_IF(cert == NULL, NULL);
	return st->ops->request_issue(st, id, cert);
}

/* See store.h. */
int estd_store_shares_nonces(const struct estd_store *st)
{
	return st != NULL && st->ops->digest_nc != NULL;
}

/* See store.h. */
enum estkit_status estd_store_digest_nc(struct estd_store *st, const unsigned char key[16],
					long long ts, unsigned long nc, long long forget_before)
{
	CHECK(st);
	if (key == NULL || st->ops->digest_nc == NULL) {
		estd_store_set_err("this store keeps no Digest nonce-counts");
		return ESTKIT_EINVAL;
	}
	return st->ops->digest_nc(st, key, ts, nc, forget_before);
}

/* Frees a record and its blobs; NULL is a no-op. */
void estd_cert_record_free(struct estd_cert_record *rec)
{
	if (rec == NULL)
		return;
	free(rec->serial);
	free(rec->subject);
	free(rec->issuer);
	free(rec->sans);
	free(rec->requester);
	free(rec->label);
	free(rec->op);
	free(rec->csr_der);
	free(rec->cert_der);
	free(rec);
}

/* Frees r and its strings; NULL is a no-op. */
void estd_request_record_free(struct estd_request_record *r)
{
	if (r == NULL)
		return;
	free(r->label);
	free(r->op);
	free(r->requester);
	free(r->subject);
	free(r->sans);
	free(r->csr_der);
	free(r->csr_sha256);
	free(r->status);
	free(r->reason);
	free(r->serial);
	free(r->decided_by);
	free(r);
}

/* ---- one-time enrollment tokens: see store.h ---- */

#define TOKEN_OPS(st, fn)                                                                     \
	do {                                                                                   \
		CHECK(st);                                                                     \
		if ((st)->ops->fn == NULL) {                                                   \
			estd_store_set_err("the %s store keeps no tokens", (st)->ops->name);    \
			return ESTKIT_EINVAL;                                                  \
		}                                                                              \
	} while (0)

/*
 * A token id as every engine accepts it: 1..64 printable ASCII characters
 * (estd makes 16 hex digits). Checked here so that a malformed id - empty,
 * with spaces, control or non-ASCII bytes, which PostgreSQL would refuse
 * as text of the database's encoding - is ESTKIT_EINVAL on every engine.
 */
#define TOKEN_ID(id)                                                                          \
	do {                                                                                   \
		if (!token_id_ok(id)) {                                                        \
			estd_store_set_err("invalid token id");                                \
			return ESTKIT_EINVAL;                                                  \
		}                                                                              \
	} while (0)

static int token_id_ok(const char *id)
{
	size_t n;

	if (id == NULL)
		return 0;
	for (n = 0; id[n] != '\0'; n++)
		if (n >= 64 || id[n] <= ' ' || id[n] > '~')
			return 0;
	return n > 0;
}

/* See store.h. */
enum estkit_status estd_store_token_insert(struct estd_store *st, const struct estd_token_record *t)
{
	TOKEN_OPS(st, token_insert);
	if (t == NULL) {
		estd_store_set_err("invalid token");
		return ESTKIT_EINVAL;
	}
	TOKEN_ID(t->id);
	REFUSE_IF(!text_ok(t->hash) || !text_ok(t->label) || !text_ok(t->subject) ||
			  !text_ok(t->sans) || (t->created_by != NULL && !text_ok(t->created_by)),
		  "invalid token");
	return st->ops->token_insert(st, t);
}

/* See store.h. */
enum estkit_status estd_store_token_get(struct estd_store *st, const char *id, struct estd_token_record **out)
{
	TOKEN_OPS(st, token_get);
	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	TOKEN_ID(id);
	return st->ops->token_get(st, id, out);
}

/* See store.h. */
enum estkit_status estd_store_token_foreach(struct estd_store *st, int (*cb)(void *arg, const struct estd_token_record *t), void *arg)
{
	TOKEN_OPS(st, token_foreach);
	REFUSE_IF(cb == NULL, NULL);
	return st->ops->token_foreach(st, cb, arg);
}

/* See store.h. */
enum estkit_status estd_store_token_claim(struct estd_store *st, const char *id, long long now, const char *used_by)
{
	TOKEN_OPS(st, token_claim);
	TOKEN_ID(id);
	REFUSE_IF(used_by != NULL && !text_ok(used_by), "invalid token user");
	return st->ops->token_claim(st, id, now, used_by);
}

/* See store.h. */
enum estkit_status estd_store_token_release(struct estd_store *st, const char *id)
{
	TOKEN_OPS(st, token_release);
	TOKEN_ID(id);
	return st->ops->token_release(st, id);
}

/* See store.h. */
enum estkit_status estd_store_token_set_serial(struct estd_store *st, const char *id, const char *serial)
{
	TOKEN_OPS(st, token_set_serial);
	TOKEN_ID(id);
	REFUSE_IF(serial != NULL && !text_ok(serial), "invalid serial");
	return st->ops->token_set_serial(st, id, serial);
}

/* See store.h. */
enum estkit_status estd_store_token_revoke(struct estd_store *st, const char *id, long long now)
{
	TOKEN_OPS(st, token_revoke);
	TOKEN_ID(id);
	return st->ops->token_revoke(st, id, now);
}

/* See store.h. */
void estd_token_record_free(struct estd_token_record *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->hash);
	free(t->label);
	free(t->subject);
	free(t->sans);
	free(t->created_by);
	free(t->used_by);
	free(t->serial);
	free(t);
}
