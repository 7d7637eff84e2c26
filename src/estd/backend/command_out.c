/*
 * backend/command_out.c - a signing program's exit status and output turned
 * into the EST answer (contract in command_out.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <estkit/pki.h>

#include "backend/command_out.h"
#include "util.h"

/* See command_out.h. */
enum estkit_status estd_cmd_parse_certs(const unsigned char *out, size_t len, EVP_PKEY *key,
					STACK_OF(X509) **certs, char *msg, size_t msglen)
{
	STACK_OF(X509) *all = NULL;
	X509 *leaf = NULL;
	enum estkit_status rc;

	*certs = NULL;
	/*
	 * Trailing blanks after PEM or base64 are common and harmless. DER
	 * (a SEQUENCE, 0x30) is left whole: its last byte may be any value.
	 */
	while (len > 0 && out[0] != 0x30 &&
	       (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
		len--;
	if (len == 0) {
		snprintf(msg, msglen, "no output");
		return ESTKIT_EPARSE;
	}
	rc = estkit_certs_parse(out, len, &all);
	ERR_clear_error();
	if (rc != ESTKIT_OK) {
		snprintf(msg, msglen, "output is not a certificate or PKCS#7 (%s)",
			 estkit_strerror(rc));
		return rc == ESTKIT_ENOMEM ? rc : ESTKIT_EPARSE;
	}
	leaf = estkit_certs_find_by_key(all, key);
	if (leaf == NULL) {
		snprintf(msg, msglen, "no certificate in the output is for the request's key");
		OSSL_STACK_OF_X509_free(all);
		return ESTKIT_EPOLICY;
	}
	/* RFC 7030 4.2.3: the client takes the first certificate as its own */
	(void)sk_X509_delete_ptr(all, leaf);
	if (!sk_X509_unshift(all, leaf)) {
		X509_free(leaf);
		OSSL_STACK_OF_X509_free(all);
		return ESTKIT_ENOMEM;
	}
	*certs = all;
	return ESTKIT_OK;
}

/* See command_out.h. */
void estd_cmd_first_line(const char *text, size_t len, char *out, size_t outsz)
{
	size_t i = 0, n = 0;

	if (outsz == 0)
		return;
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	for (; i < len && text[i] != '\n' && text[i] != '\r' && text[i] != '\0' && n + 1 < outsz;
	     i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\t')
			ch = ' ';
		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
}

static void set(struct estd_cmd_verdict *v, enum estkit_status st, int http, const char *reason)
{
	v->status = st;
	v->http = http;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
}

/* exit 2: a first stdout line of digits (1..86400) overrides the default Retry-After. */
static unsigned pending_retry(const struct estd_cmd_result *res, unsigned dflt)
{
	char line[32];
	long long n;

	estd_cmd_first_line((const char *)res->out, res->outlen, line, sizeof(line));
	if (line[0] >= '0' && line[0] <= '9' && estd_parse_ll(line, 1, 86400, &n) == 0)
		return (unsigned)n;
	return dflt;
}

static void issued(const struct estd_cmd_result *res, EVP_PKEY *key, struct estd_cmd_verdict *v)
{
	char why[160];
	enum estkit_status rc;

	rc = estd_cmd_parse_certs(res->out, res->outlen, key, &v->certs, why, sizeof(why));
	if (rc == ESTKIT_OK) {
		set(v, ESTKIT_OK, 200, "");
		return;
	}
	set(v, ESTKIT_EINTERNAL, 500, "the signing program returned no usable certificate");
	snprintf(v->log, sizeof(v->log), "exit 0 but %s", why);
}

/* See command_out.h. */
void estd_cmd_verdict(const struct estd_cmd_result *res, EVP_PKEY *key, unsigned retry_after,
		      struct estd_cmd_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->retry_after = retry_after;
	if (res->timed_out) {
		set(v, ESTKIT_EBUSY, 503, "the signing program did not answer in time");
		snprintf(v->log, sizeof(v->log), "timed out, killed");
	} else if (res->too_big) {
		set(v, ESTKIT_EINTERNAL, 500, "the signing program failed");
		snprintf(v->log, sizeof(v->log), "output over command_max_output, killed");
	} else if (!res->exited) {
		set(v, ESTKIT_EINTERNAL, 500, "the signing program failed");
		snprintf(v->log, sizeof(v->log), "killed by signal %d", res->signo);
	} else if (res->exit_code == ESTD_CMD_EXIT_ISSUED) {
		issued(res, key, v);
	} else if (res->exit_code == ESTD_CMD_EXIT_REJECTED) {
		estd_cmd_first_line(res->err, res->errlen, v->reason, sizeof(v->reason));
		if (v->reason[0] == '\0')
			snprintf(v->reason, sizeof(v->reason), "rejected by the signing program");
		v->status = ESTKIT_EFORBIDDEN;
		v->http = 403;
	} else if (res->exit_code == ESTD_CMD_EXIT_PENDING) {
		set(v, ESTKIT_EPENDING, 202, "request accepted, retry later");
		v->retry_after = pending_retry(res, retry_after);
	} else {
		char first[120];

		estd_cmd_first_line(res->err, res->errlen, first, sizeof(first));
		set(v, ESTKIT_EINTERNAL, 500, "the signing program failed");
		snprintf(v->log, sizeof(v->log), "exit status %d%s%s", res->exit_code,
			 first[0] ? ": " : "", first);
	}
}
