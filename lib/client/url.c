/*
 * url.c - EST server URLs: https://host[:port][/.well-known/est][/LABEL]
 * (RFC 7030 3.2.2). Parsed strictly so that a typo never sends credentials
 * somewhere unexpected.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client/client_internal.h"

#define WELL_KNOWN "/.well-known/est"

static int is_label_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

static int is_host_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

/* Host: a bracketed IPv6 literal or a name/IPv4 of safe characters. Returns the end or NULL. */
static const char *parse_host(const char *p, struct ek_url *u)
{
	const char *end = NULL;
	size_t n = 0;
	unsigned char addr[16];

	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return NULL;
		n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof(u->host))
			return NULL;
		memcpy(u->host, p + 1, n);
		u->host[n] = '\0';
		/* Zone ids ("%eth0") are not supported: they have no meaning in a certificate. */
		if (inet_pton(AF_INET6, u->host, addr) != 1)
			return NULL;
		u->host_is_ipv6 = 1;
		u->host_is_ip = 1;
		return end + 1;
	}
	for (end = p; is_host_char(*end); end++)
		;
	n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(u->host))
		return NULL;
	memcpy(u->host, p, n);
	u->host[n] = '\0';
	if (u->host[0] == '.' || u->host[0] == '-' || strstr(u->host, "..") != NULL)
		return NULL;
	u->host_is_ip = inet_pton(AF_INET, u->host, addr) == 1;
	return end;
}

/* ":port" with 1..5 digits, 1..65535. Returns the end or NULL. */
static const char *parse_port(const char *p, struct ek_url *u)
{
	unsigned long v = 0;
	int digits = 0;

	u->port = 443;
	if (*p != ':')
		return p;
	p++;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 5)
			return NULL;
		v = v * 10 + (unsigned long)(*p - '0');
		p++;
	}
	if (digits == 0 || v == 0 || v > 65535)
		return NULL;
	u->port = (unsigned)v;
	return p;
}

/* "", "/", "/LABEL", "/LABEL/" after the optional well-known prefix. */
static int parse_label(const char *p, struct ek_url *u)
{
	size_t n = 0;

	u->label[0] = '\0';
	if (*p == '\0' || strcmp(p, "/") == 0)
		return 0;
	if (*p != '/')
		return -1;
	p++;
	while (is_label_char(p[n]))
		n++;
	if (n == 0 || n > EK_LABEL_MAX)
		return -1;
	if (!(p[n] == '\0' || (p[n] == '/' && p[n + 1] == '\0')))
		return -1; /* a second segment or a character outside the label set */
	/* Dot segments would be removed by URL normalization: not a label. */
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return -1;
	memcpy(u->label, p, n);
	u->label[n] = '\0';
	return 0;
}

enum estkit_status ek_client_url_parse(const char *url, struct ek_url *out)
{
	static const char scheme[] = "https://";
	struct ek_url u;
	const char *p = NULL;
	size_t wk = strlen(WELL_KNOWN);

	memset(out, 0, sizeof(*out));
	memset(&u, 0, sizeof(u));
	if (url == NULL || strlen(url) > 2048)
		return ESTKIT_EINVAL;
	if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0)
		return ESTKIT_EINVAL; /* RFC 7030 3.3: EST runs over HTTPS only */
	p = url + sizeof(scheme) - 1;
	p = parse_host(p, &u);
	if (p == NULL)
		return ESTKIT_EINVAL;
	p = parse_port(p, &u);
	if (p == NULL)
		return ESTKIT_EINVAL;
	if (strncmp(p, WELL_KNOWN, wk) == 0 && (p[wk] == '\0' || p[wk] == '/'))
		p += wk;
	else if (strncmp(p, "/.well-known", 12) == 0)
		return ESTKIT_EINVAL; /* another well-known service, or a typo of it */
	if (parse_label(p, &u) != 0)
		return ESTKIT_EINVAL;
	*out = u;
	return ESTKIT_OK;
}

enum estkit_status ek_client_url_endpoint(const struct ek_url *u, const char *op, char *buf,
                                          size_t bufsz)
{
	int n = 0;

	n = snprintf(buf, bufsz, "https://%s%s%s:%u" WELL_KNOWN "/%s%s%s",
	             u->host_is_ipv6 ? "[" : "", u->host, u->host_is_ipv6 ? "]" : "", u->port,
	             u->label, u->label[0] != '\0' ? "/" : "", op);
	if (n < 0 || (size_t)n >= bufsz)
		return ESTKIT_ETOOBIG;
	return ESTKIT_OK;
}
