/*
 * request.c - the per-request accessors a backend uses inside its callbacks,
 * and the setters through which it reports a refusal, a delay or a serial.
 * All run on the job thread that owns the request.
 */
#include <stdio.h>
#include <string.h>
#include "server/server_internal.h"

/* See server_internal.h. */
void ek_request_set(struct estkit_request *r, int status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* See estkit/server.h. */
enum estkit_op estkit_request_op(const struct estkit_request *req)
{
	return req->op;
}

/* See estkit/server.h. */
const char *estkit_request_label(const struct estkit_request *req)
{
	return req->label;
}

/* See estkit/server.h. */
const char *estkit_request_user(const struct estkit_request *req)
{
	return req->user;
}

/* See estkit/server.h. */
X509 *estkit_request_peer_cert(const struct estkit_request *req)
{
	return req->peer_cert;
}

/* See estkit/server.h. */
const char *estkit_request_peer_addr(const struct estkit_request *req)
{
	return req->peer;
}

/* See estkit/server.h. */
const char *estkit_request_identity(const struct estkit_request *req)
{
	return req->identity != NULL ? req->identity : "anonymous";
}

/* See estkit/server.h. Status outside 4xx/5xx is a backend bug: 500. */
void estkit_request_fail(struct estkit_request *req, int http_status, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (req == NULL)
		return;
	req->status = (http_status >= 400 && http_status <= 599) ? http_status : 500;
	req->failed = 1;
	va_start(ap, fmt);
	vsnprintf(req->reason, sizeof(req->reason), fmt, ap);
	va_end(ap);
	/* one line of text: the reason ends up in a body and a log line */
	for (i = 0; req->reason[i] != '\0'; i++)
		if (req->reason[i] == '\r' || req->reason[i] == '\n')
			req->reason[i] = ' ';
}

/* See estkit/server.h. */
void estkit_request_set_retry_after(struct estkit_request *req, unsigned seconds)
{
	if (req != NULL)
		req->retry_after = seconds;
}

/* See estkit/server.h. */
void estkit_request_set_serial(struct estkit_request *req, const char *serial_hex)
{
	if (req == NULL || serial_hex == NULL)
		return;
	snprintf(req->serial, sizeof(req->serial), "%s", serial_hex);
}
