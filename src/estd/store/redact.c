/*
 * redact.c - keeping PostgreSQL passwords out of messages: the store spec
 * as shown (estd_store_redact(), store.h) and messages that may quote it
 * (estd_store_scrub(), store_int.h).
 *
 * What is secret in a libpq URI: the user info's password (between the
 * first ':' after "://" and the last '@', so that a careless password
 * holding '@', '/', '?' or '#' unencoded is still hidden whole) and the
 * value of every password= or sslpassword= parameter, in any case. When in
 * doubt more is hidden, never less: a spec that starts like a PostgreSQL
 * one but lacks the "//" shows only its scheme.
 */
#include "store/store_int.h"
#include "store/store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDACTED "***"
#define PASSWORD_KEY "password="

/* Marks spec[from, to) secret; an empty range still shows as REDACTED. */
static void mark(unsigned char *hide, unsigned char *empty, size_t from, size_t to)
{
	if (from == to)
		empty[from] = 1;
	for (; from < to; from++)
		hide[from] = 1;
}

/* The next "password=" at or after p, in any case (also the tail of "sslpassword="). */
static const char *find_password_key(const char *p)
{
	for (; *p != '\0'; p++)
		if (strncasecmp(p, PASSWORD_KEY, strlen(PASSWORD_KEY)) == 0)
			return p;
	return NULL;
}

/* hide[i]: byte i of spec (length n) is secret; empty[i]: an empty secret is at i. */
static void mark_secrets(const char *spec, size_t n, unsigned char *hide, unsigned char *empty)
{
	const char *auth = NULL, *at = NULL, *colon = NULL, *p = NULL;
	size_t v;

	if (strncmp(spec, "postgresql:", 11) != 0 && strncmp(spec, "postgres:", 9) != 0)
		return;
	auth = strstr(spec, "://");
	if (auth == NULL || auth != strchr(spec, ':')) {
		/* not a URI libpq reads: hide all but the scheme */
		v = (size_t)(strchr(spec, ':') - spec) + 1;
		mark(hide, empty, v, n);
		return;
	}
	auth += 3;
	at = strrchr(auth, '@');
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon != NULL)
		mark(hide, empty, (size_t)(colon + 1 - spec), (size_t)(at - spec));
	for (p = spec; (p = find_password_key(p)) != NULL; p += strlen(PASSWORD_KEY)) {
		v = (size_t)(p - spec) + strlen(PASSWORD_KEY);
		mark(hide, empty, v, v + strcspn(spec + v, "&#"));
	}
}

/* See store.h. */
char *estd_store_redact(const char *spec)
{
	unsigned char *hide = NULL, *empty = NULL;
	char *out = NULL, *o = NULL;
	size_t n, i;

	if (spec == NULL)
		return estd_strdup("(null)");
	n = strlen(spec);
	hide = calloc(n + 1, 1);
	empty = calloc(n + 1, 1);
	/* worst case: every byte or gap turns into REDACTED */
	out = malloc((n + 1) * 2 * strlen(REDACTED) + 1);
	if (hide == NULL || empty == NULL || out == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	mark_secrets(spec, n, hide, empty);
	for (i = 0, o = out; i <= n; i++) {
		int after_hidden = i > 0 && hide[i - 1];

		/* one REDACTED per run of secret bytes, and for an empty secret */
		if (!after_hidden && (empty[i] || (i < n && hide[i]))) {
			memcpy(o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
		}
		if (i < n && !hide[i])
			*o++ = spec[i];
	}
	*o = '\0';
done:
	free(hide);
	free(empty);
	return out;
}

/* msg with every occurrence of secret[0, len) replaced, and a cut-off start of it at the end. */
static char *replace_secret(const char *msg, const char *secret, size_t len)
{
	size_t n = strlen(msg), i = 0, k;
	char *out = malloc(n * strlen(REDACTED) + 1), *o = out;

	if (out == NULL)
		return NULL;
	while (i < n) {
		if (strncmp(msg + i, secret, len) == 0) {
			memcpy(o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
			i += len;
			continue;
		}
		/* msg ends inside the secret: a buffer cut it short */
		k = n - i;
		if (k < len && strncmp(msg + i, secret, k) == 0) {
			memcpy(o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
			break;
		}
		*o++ = msg[i++];
	}
	*o = '\0';
	return out;
}

/* 1 when text[0, len) occurs inside one secret run of spec. */
static int in_secret(const char *spec, const unsigned char *hide, size_t n, const char *text,
		     size_t len)
{
	size_t i;

	for (i = 0; len > 0 && i + len <= n; i++)
		if (hide[i] && memchr(hide + i, 0, len) == NULL && memcmp(spec + i, text, len) == 0)
			return 1;
	return 0;
}

/*
 * libpq quotes the piece it could not use ("invalid integer value "s3" for
 * connection option "port""), which may be a piece of a password: a quoted
 * text found inside a secret is replaced.
 */
static char *scrub_quoted(const char *msg, const char *spec, const unsigned char *hide, size_t n)
{
	char *out = malloc(strlen(msg) * strlen(REDACTED) + 1), *o = out;
	const char *p = msg, *q = NULL, *end = NULL;

	if (out == NULL)
		return NULL;
	while ((q = strchr(p, '"')) != NULL && (end = strchr(q + 1, '"')) != NULL) {
		memcpy(o, p, (size_t)(q + 1 - p));
		o += q + 1 - p;
		if (in_secret(spec, hide, n, q + 1, (size_t)(end - q - 1))) {
			memcpy(o, REDACTED, strlen(REDACTED));
			o += strlen(REDACTED);
		} else {
			memcpy(o, q + 1, (size_t)(end - q - 1));
			o += end - q - 1;
		}
		*o++ = '"';
		p = end + 1;
	}
	memcpy(o, p, strlen(p) + 1);
	return out;
}

/* See store_int.h. */
char *estd_store_scrub(const char *msg, const char *spec)
{
	unsigned char *hide = NULL, *empty = NULL;
	char *out = estd_strdup(msg), *next = NULL;
	size_t n = spec != NULL ? strlen(spec) : 0, i, j;

	if (out == NULL || spec == NULL)
		return out;
	hide = calloc(n + 1, 1);
	empty = calloc(n + 1, 1);
	if (hide == NULL || empty == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	mark_secrets(spec, n, hide, empty);
	for (i = 0; i < n && out != NULL; i = j) {
		for (j = i; j < n && hide[j] == hide[i]; j++)
			;
		if (!hide[i])
			continue;
		next = replace_secret(out, spec + i, j - i);
		free(out);
		out = next;
	}
	if (out != NULL) {
		next = scrub_quoted(out, spec, hide, n);
		free(out);
		out = next;
	}
done:
	free(hide);
	free(empty);
	return out;
}
