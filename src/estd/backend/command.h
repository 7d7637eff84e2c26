/*
 * backend/command.h - backend = command: a program per request (the "server
 * scripts" design of the original EST reference implementation). The
 * contract (stdin, environment, exit statuses) is in command_out.h and in
 * docs/operator-guide.md.
 */
#ifndef ESTD_BACKEND_COMMAND_H
#define ESTD_BACKEND_COMMAND_H

#include <openssl/x509.h>
#include <estkit/error.h>
#include <estkit/server.h>

#include "backend/ext.h"

/*
 * Runs the label's program for /simpleenroll or /simplereenroll with csr
 * (verified by the server) and answers as estkit_backend's enroll does:
 * the certificates, a 202 with Retry-After, 403 with the program's reason,
 * 503 (timeout, no free slot) or 500. Issued certificates are recorded.
 */
enum estkit_status estd_command_enroll(struct estd_ext *x, const struct estd_label *lab,
				       struct estkit_request *req, X509_REQ *csr,
				       STACK_OF(X509) **out);

/* What the program learns about the request, in ESTD_* variables (borrowed; NULL = ""). */
struct estd_cmd_ctx {
	const char *op;             /* ESTD_OP: simpleenroll | simplereenroll */
	const char *label;          /* ESTD_LABEL: "" for the default label */
	const char *user;           /* ESTD_USER: the HTTP-authenticated user */
	const char *identity;       /* ESTD_IDENTITY: "user:NAME", "cert:SUBJECT", "anonymous" */
	const char *client_cert;    /* ESTD_CLIENT_CERT: the TLS client certificate, PEM */
	const char *client_subject; /* ESTD_CLIENT_SUBJECT: its subject, RFC 2253 */
	const char *binding;        /* ESTD_CHANNEL_BINDING: base64 tls-unique/tls-exporter */
	const char *peer;           /* ESTD_PEER: "ip:port" */
	const char *csr_subject;    /* ESTD_CSR_SUBJECT: the request's subject, RFC 2253 */
	const char *csr_sans;       /* ESTD_CSR_SANS: "DNS:x, IP:y" */
};

/*
 * The program's whole environment (NULL-terminated "NAME=value" strings,
 * free with estd_ext_argv_free()): PATH=/usr/bin:/bin and the variables of
 * ctx. NULL when memory ran out.
 */
char **estd_command_env(const struct estd_cmd_ctx *ctx);

#endif /* ESTD_BACKEND_COMMAND_H */
