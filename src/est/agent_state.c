/*
 * agent_state.c - what `est agent` remembers about a certificate between
 * runs (STORE/state: attempts, failures, the next attempt, the last error)
 * and a request left pending by HTTP 202 (STORE/pending.csr and
 * STORE/pending.key), which is sent again unchanged (RFC 7030 4.2.3).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "agent.h"
#include "common.h"

#define STATE_MAX 4096

static int store_file(const char *store, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", store, name);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

/* One "key=value" line into st; unknown keys are ignored (newer versions). */
static int state_line(struct agent_state *st, const char *line)
{
	const char *eq = strchr(line, '=');
	const char *v = eq != NULL ? eq + 1 : NULL;
	size_t klen = eq != NULL ? (size_t)(eq - line) : 0;
	long long *slot = NULL;
	long n = 0;
	char *end = NULL;

	if (v == NULL)
		return -1;
	if (klen == 10 && strncmp(line, "last_error", klen) == 0) {
		snprintf(st->last_error, sizeof(st->last_error), "%s", v);
		return 0;
	}
	if (klen == 12 && strncmp(line, "last_attempt", klen) == 0)
		slot = &st->last_attempt;
	else if (klen == 12 && strncmp(line, "last_success", klen) == 0)
		slot = &st->last_success;
	else if (klen == 12 && strncmp(line, "next_attempt", klen) == 0)
		slot = &st->next_attempt;
	else if (klen == 10 && strncmp(line, "last_trust", klen) == 0)
		slot = &st->last_trust;
	if (slot != NULL) {
		errno = 0;
		*slot = strtoll(v, &end, 10);
		return (errno != 0 || *end != '\0' || *slot < 0) ? -1 : 0;
	}
	if ((klen == 8 && strncmp(line, "failures", klen) == 0) ||
	    (klen == 7 && strncmp(line, "pending", klen) == 0)) {
		if (est_parse_long(v, 0, 1000000, &n) != 0)
			return -1;
		if (line[0] == 'f')
			st->failures = (unsigned)n;
		else
			st->pending = n != 0;
	}
	return 0;
}

int agent_state_read(const char *store, struct agent_state *st)
{
	char path[PATH_MAX];
	unsigned char *buf = NULL;
	size_t len = 0;
	char *line = NULL;
	char *nl = NULL;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (store_file(store, "state", path, sizeof(path)) != 0)
		return -1;
	if (access(path, F_OK) != 0)
		return 0;
	if (estkit_file_read(path, &buf, &len) != ESTKIT_OK || len > STATE_MAX)
		rc = -1;
	for (line = rc == 0 ? (char *)buf : NULL; line != NULL && line < (char *)buf + len;
	     line = nl + 1) {
		nl = memchr(line, '\n', len - (size_t)(line - (char *)buf));
		if (nl == NULL) {
			rc = -1; /* every line ends in a newline */
			break;
		}
		*nl = '\0';
		if (state_line(st, line) != 0)
			rc = -1;
	}
	estkit_free(buf);
	return rc;
}

int agent_state_write(const char *store, const struct agent_state *st)
{
	char path[PATH_MAX];
	char buf[STATE_MAX];
	char err[sizeof(st->last_error)];
	size_t i;
	int n = 0;

	if (store_file(store, "state", path, sizeof(path)) != 0)
		return -1;
	/* one line per key: no newline may hide in the error text */
	for (i = 0; i < sizeof(err) - 1 && st->last_error[i] != '\0'; i++)
		err[i] = (st->last_error[i] == '\n' || st->last_error[i] == '\r') ? ' '
		                                                                 : st->last_error[i];
	err[i] = '\0';
	n = snprintf(buf, sizeof(buf),
	             "last_attempt=%lld\nlast_success=%lld\nnext_attempt=%lld\nlast_trust=%lld\n"
	             "failures=%u\npending=%d\nlast_error=%s\n",
	             st->last_attempt, st->last_success, st->next_attempt, st->last_trust, st->failures,
	             st->pending, err);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return estkit_file_write_atomic(path, buf, (size_t)n, 0644) == ESTKIT_OK ? 0 : -1;
}

int agent_pending_save(const struct agent_cert *ac, X509_REQ *csr, EVP_PKEY *key)
{
	char kp[PATH_MAX], cp[PATH_MAX];

	/* key first: a request file is used only when its key is there too */
	if (store_file(ac->store, "pending.key", kp, sizeof(kp)) != 0 ||
	    store_file(ac->store, "pending.csr", cp, sizeof(cp)) != 0 ||
	    estkit_key_save(kp, key) != ESTKIT_OK || estkit_csr_save(cp, csr) != ESTKIT_OK) {
		ERR_clear_error();
		agent_log(ac->name, "cannot save the pending request in %s", ac->store);
		return -1;
	}
	return 0;
}

enum estkit_status agent_pending_load(const struct agent_cert *ac, X509_REQ **csr,
                                      EVP_PKEY **key)
{
	char kp[PATH_MAX], cp[PATH_MAX];
	enum estkit_status rc = ESTKIT_ENOTFOUND;

	*csr = NULL;
	*key = NULL;
	if (store_file(ac->store, "pending.key", kp, sizeof(kp)) != 0 ||
	    store_file(ac->store, "pending.csr", cp, sizeof(cp)) != 0 || access(cp, F_OK) != 0 ||
	    access(kp, F_OK) != 0)
		return ESTKIT_ENOTFOUND;
	if ((rc = estkit_csr_load(cp, csr)) != ESTKIT_OK ||
	    (rc = estkit_key_load(kp, key)) != ESTKIT_OK ||
	    EVP_PKEY_eq(*key, X509_REQ_get0_pubkey(*csr)) != 1) {
		X509_REQ_free(*csr);
		EVP_PKEY_free(*key);
		*csr = NULL;
		*key = NULL;
		ERR_clear_error();
		return rc == ESTKIT_OK ? ESTKIT_EPARSE : rc;
	}
	return ESTKIT_OK;
}

void agent_pending_drop(const struct agent_cert *ac)
{
	char p[PATH_MAX];

	if (store_file(ac->store, "pending.csr", p, sizeof(p)) == 0)
		(void)unlink(p);
	if (store_file(ac->store, "pending.key", p, sizeof(p)) == 0)
		(void)unlink(p);
}

int agent_pending_stale(X509 *cur, EVP_PKEY *saved, int regenerate_key)
{
	EVP_PKEY *curpub = cur != NULL ? X509_get0_pubkey(cur) : NULL;

	return regenerate_key && curpub != NULL && saved != NULL && EVP_PKEY_eq(curpub, saved) == 1;
}
