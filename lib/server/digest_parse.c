/*
 * digest_parse.c - strict, bounded parsing of an HTTP Digest Authorization
 * header (RFC 7616 3.4, RFC 7235 2.1 auth-param syntax, RFC 9110 5.6).
 *
 * The header is at most EK_DIGEST_AUTHZ_MAX bytes; values (tokens or
 * quoted-strings with their escapes undone) are copied into the params'
 * own buffer, so nothing is allocated. Anything unusual is refused: a
 * parameter twice, an empty list element, a control byte, an unterminated
 * quoted-string, more than EK_DIGEST_MAX_PARAMS parameters.
 */
#include <string.h>
#include <strings.h>
#include "server/server_internal.h"

#define EK_DIGEST_MAX_PARAMS 24

/* RFC 9110 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The slot of a parameter we use, or NULL for one we ignore (RFC 7616 3.4: unknown ones). */
static const char **param_slot(struct ek_digest_params *p, const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{ "username", offsetof(struct ek_digest_params, username) },
		{ "realm", offsetof(struct ek_digest_params, realm) },
		{ "nonce", offsetof(struct ek_digest_params, nonce) },
		{ "uri", offsetof(struct ek_digest_params, uri) },
		{ "response", offsetof(struct ek_digest_params, response) },
		{ "algorithm", offsetof(struct ek_digest_params, algorithm) },
		{ "cnonce", offsetof(struct ek_digest_params, cnonce) },
		{ "opaque", offsetof(struct ek_digest_params, opaque) },
		{ "qop", offsetof(struct ek_digest_params, qop) },
		{ "nc", offsetof(struct ek_digest_params, nc) },
		{ "userhash", offsetof(struct ek_digest_params, userhash) },
		{ "username*", offsetof(struct ek_digest_params, username_ext) },
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == len && strncasecmp(known[i].name, name, len) == 0)
			return (const char **)(void *)((char *)p + known[i].off);
	return NULL;
}

/*
 * One value at *sp: a token or a quoted-string (RFC 9110 5.6.4), unescaped
 * into p->buf at *used. Returns the value or NULL when malformed.
 */
static const char *parse_value(struct ek_digest_params *p, const char **sp, size_t *used)
{
	const unsigned char *s = (const unsigned char *)*sp;
	char *out = p->buf + *used, *start = out;

	if (*s != '"') {
		while (is_tchar(*s))
			*out++ = (char)*s++;
		if (out == start)
			return NULL;
	} else {
		for (s++; *s != '"'; s++) {
			if (*s == '\\')
				s++;
			/* qdtext / quoted-pair: HTAB, SP, VCHAR, obs-text; never CTLs */
			if (*s == '\0' || (*s < 0x20 && *s != '\t') || *s == 0x7f)
				return NULL;
			*out++ = (char)*s;
		}
		s++;
	}
	*out++ = '\0';
	*used += (size_t)(out - start);
	*sp = (const char *)s;
	return start;
}

/* See server_internal.h. */
int ek_digest_parse(const char *authz, struct ek_digest_params *p)
{
	const char *s = authz, *name = NULL, *val = NULL, **slot = NULL;
	size_t used = 0, nlen = 0;
	int n = 0;

	memset(p, 0, sizeof(*p));
	if (authz == NULL || strlen(authz) >= EK_DIGEST_AUTHZ_MAX ||
	    strncasecmp(s, "Digest", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return -1;
	s = skip_ows(s + 6);
	for (;;) {
		name = s;
		while (is_tchar((unsigned char)*s))
			s++;
		nlen = (size_t)(s - name);
		s = skip_ows(s);
		if (nlen == 0 || *s != '=' || ++n > EK_DIGEST_MAX_PARAMS)
			return -1;
		s = skip_ows(s + 1);
		if ((val = parse_value(p, &s, &used)) == NULL)
			return -1;
		if ((slot = param_slot(p, name, nlen)) != NULL) {
			if (*slot != NULL)
				return -1; /* a parameter twice: which one would count? */
			*slot = val;
		}
		s = skip_ows(s);
		if (*s == '\0')
			return 0;
		if (*s != ',')
			return -1;
		s = skip_ows(s + 1);
	}
}
