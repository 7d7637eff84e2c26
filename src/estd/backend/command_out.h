/*
 * backend/command_out.h - what a signing program's end means (the contract
 * of docs/operator-guide.md, "Signing with your own program"):
 *
 *   exit 0   issued: stdout holds the certificate (PEM, DER, or a certs-only
 *            PKCS#7 in DER or base64), optionally with its chain
 *   exit 1   rejected: 403, the first line of stderr is the reason
 *   exit 2   pending: 202; a first stdout line of digits is the Retry-After
 *   other    failed: 500 (exit status, signal); a timeout: 503 + Retry-After
 */
#ifndef ESTD_BACKEND_COMMAND_OUT_H
#define ESTD_BACKEND_COMMAND_OUT_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "backend/command_run.h"

/* The exit statuses of the contract. */
#define ESTD_CMD_EXIT_ISSUED 0
#define ESTD_CMD_EXIT_REJECTED 1
#define ESTD_CMD_EXIT_PENDING 2

/* Longest reason passed on to the client. */
#define ESTD_CMD_REASON_MAX 200

struct estd_cmd_verdict {
	enum estkit_status status;    /* OK, EPENDING, EFORBIDDEN, EBUSY (503), EINTERNAL */
	int http;                     /* 200, 202, 403, 500, 503 */
	unsigned retry_after;         /* for 202 and 503 */
	char reason[ESTD_CMD_REASON_MAX + 1]; /* for the client (4xx/5xx) */
	char log[256];                /* for the operator's log (failures) */
	STACK_OF(X509) *certs;        /* OK: the issued certificate first, then the rest */
};

/*
 * The certificates of a program's stdout: every certificate of out (formats
 * above), reordered so the one whose public key is key comes first.
 * ESTKIT_EPARSE (nothing usable, msg says why), ESTKIT_EPOLICY (no
 * certificate for key), ESTKIT_ENOMEM. *certs is the caller's.
 */
enum estkit_status estd_cmd_parse_certs(const unsigned char *out, size_t len, EVP_PKEY *key,
					STACK_OF(X509) **certs, char *msg, size_t msglen);

/*
 * The first line of text (len bytes, need not be NUL-terminated), safe to
 * send and log: printable ASCII only (a tab becomes a blank, anything else '?'), blanks
 * trimmed, at most outsz - 1 bytes. "" when there is none.
 */
void estd_cmd_first_line(const char *text, size_t len, char *out, size_t outsz);

/*
 * Maps a finished run to the answer (table above). key is the request's
 * public key (borrowed); retry_after the label's default for 202 and 503.
 * v->certs is the caller's (OSSL_STACK_OF_X509_free) when set.
 */
void estd_cmd_verdict(const struct estd_cmd_result *res, EVP_PKEY *key, unsigned retry_after,
		      struct estd_cmd_verdict *v);

#endif /* ESTD_BACKEND_COMMAND_OUT_H */
