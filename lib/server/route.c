/*
 * route.c - request-target parsing (RFC 7030 3.2.2), method and content-type
 * rules, and strict parsing of the HTTP Basic Authorization header.
 *
 * Nothing is percent-decoded: a path that needs decoding is not one of ours,
 * and refusing it closes every traversal and double-decoding trick at once.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <strings.h>
#include <estkit/pki.h>
#include "server/server_internal.h"

#define EST_PREFIX "/.well-known/est/"

static const char *const op_names[] = {
	[ESTKIT_OP_CACERTS] = "cacerts",
	[ESTKIT_OP_SIMPLEENROLL] = "simpleenroll",
	[ESTKIT_OP_SIMPLEREENROLL] = "simplereenroll",
	[ESTKIT_OP_CSRATTRS] = "csrattrs",
	[ESTKIT_OP_SERVERKEYGEN] = "serverkeygen",
	[ESTKIT_OP_FULLCMC] = "fullcmc",
};

/* See estkit/server.h. */
const char *estkit_op_name(enum estkit_op op)
{
	if ((unsigned)op < sizeof(op_names) / sizeof(op_names[0]))
		return op_names[op];
	return "unknown";
}

static int op_lookup(const char *s, size_t len, enum estkit_op *op)
{
	size_t i;

	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strlen(op_names[i]) == len && memcmp(op_names[i], s, len) == 0) {
			*op = (enum estkit_op)i;
			return 0;
		}
	}
	return -1;
}

static int label_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > EK_LABEL_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* See server_internal.h. */
int ek_route_parse(const char *uri, char *label, enum estkit_op *op, const char **reason)
{
	size_t plen = 0, rlen = 0;
	const char *rest = NULL, *slash = NULL;

	*reason = "not found";
	label[0] = '\0';
	if (uri == NULL)
		return -1;
	plen = strcspn(uri, "?"); /* the query is ignored */
	if (memchr(uri, '%', plen) != NULL || memchr(uri, '#', plen) != NULL)
		return -1;
	if (plen < sizeof(EST_PREFIX) - 1 || memcmp(uri, EST_PREFIX, sizeof(EST_PREFIX) - 1) != 0)
		return -1;
	rest = uri + sizeof(EST_PREFIX) - 1;
	rlen = plen - (size_t)(rest - uri);
	slash = memchr(rest, '/', rlen);
	if (slash != NULL) {
		size_t llen = (size_t)(slash - rest);
		if (!label_ok(rest, llen)) {
			*reason = "invalid label";
			return -1;
		}
		/* '.' is allowed inside a label, but never a ".." segment */
		memcpy(label, rest, llen);
		label[llen] = '\0';
		rlen -= llen + 1;
		rest = slash + 1;
		if (memchr(rest, '/', rlen) != NULL)
			goto bad;
	}
	if (op_lookup(rest, rlen, op) != 0) {
		*reason = "unknown operation";
		goto bad;
	}
	return 0;
bad:
	label[0] = '\0';
	return -1;
}

/* See server_internal.h. RFC 7030 4.2.1: the request is application/pkcs10. */
int ek_route_is_pkcs10(const char *ctype)
{
	static const char want[] = "application/pkcs10";
	const char *p = NULL;

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, want, sizeof(want) - 1) != 0)
		return 0;
	p = ctype + sizeof(want) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

/* See server_internal.h. RFC 7030 4.3.1, RFC 5273 3: smime-type=CMC-request. */
int ek_route_is_cmc(const char *ctype)
{
	static const char want[] = "application/pkcs7-mime";
	const char *p = NULL;

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, want, sizeof(want) - 1) != 0)
		return 0;
	p = ctype + sizeof(want) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != ';')
		return 0; /* "application/pkcs7-mimex" or no smime-type at all */
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "smime-type=", 11) != 0)
			continue;
		p += 11;
		if (*p == '"')
			p++;
		return strncasecmp(p, "CMC-request", 11) == 0 &&
		       (p[11] == '\0' || p[11] == '"' || p[11] == ';' || p[11] == ' ');
	}
	return 0;
}

/* See server_internal.h. */
int ek_route_method_ok(enum estkit_op op, int method, const char **allow)
{
	switch (op) {
	case ESTKIT_OP_CACERTS:
		*allow = "GET, HEAD";
		return method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
	case ESTKIT_OP_CSRATTRS:
		*allow = "GET, HEAD";
		return method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
	default:
		*allow = "POST";
		return method == EVHTTP_REQ_POST;
	}
}

/* See server_internal.h. RFC 7617: credentials are base64("user:password"). */
int ek_route_parse_basic(const char *authz, char **user, char **pass)
{
	unsigned char *dec = NULL;
	size_t declen = 0, ulen = 0;
	const char *p = authz;
	char *colon = NULL;
	int rc = -1;

	*user = NULL;
	*pass = NULL;
	if (authz == NULL || strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return -1;
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	/* base64 grows by 4/3: anything longer cannot decode to <= EK_AUTH_MAX */
	if (strlen(p) > (EK_AUTH_MAX / 3 + 1) * 4 + 8 || strpbrk(p, " \t\r\n") != NULL)
		return -1;
	if (estkit_b64_decode(p, strlen(p), &dec, &declen) != ESTKIT_OK)
		return -1;
	if (declen > EK_AUTH_MAX || memchr(dec, '\0', declen) != NULL)
		goto out;
	colon = memchr(dec, ':', declen);
	if (colon == NULL || colon == (char *)dec)
		goto out;
	ulen = (size_t)(colon - (char *)dec);
	*user = OPENSSL_strndup((char *)dec, ulen);
	*pass = OPENSSL_strndup(colon + 1, declen - ulen - 1);
	if (*user == NULL || *pass == NULL) {
		OPENSSL_free(*user);
		if (*pass != NULL)
			OPENSSL_clear_free(*pass, strlen(*pass));
		*user = NULL;
		*pass = NULL;
		goto out;
	}
	rc = 0;
out:
	estkit_free_secret(dec, declen);
	return rc;
}
