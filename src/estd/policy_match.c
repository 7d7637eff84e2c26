/*
 * policy_match.c - name matching for enrollment policy and tokens; the rules
 * are in policy_match.h. Nothing here allocates on the matching path.
 */
#include "policy_match.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <estkit/pki.h>

#define VALUE_MAX 1024

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int bytes_eq(const char *a, const char *b, size_t n, int icase)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (icase ? lower((unsigned char)a[i]) != lower((unsigned char)b[i]) : a[i] != b[i])
			return 0;
	return 1;
}

/* Printable ASCII without blanks: what DNS names, e-mail addresses and URIs are made of. */
static int graph_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return len > 0;
}

/* See policy_match.h. */
int estd_dns_name_ok(const char *name, size_t len)
{
	size_t i, lab = 0;

	if (len == 0 || len > ESTD_DNS_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		char c = i < len ? name[i] : '.';

		if (c == '.') {
			/* RFC 1035 2.3.1: 1..63 octets, no hyphen at either end */
			if (lab == 0 || lab > 63 || name[i - lab] == '-' || name[i - 1] == '-')
				return 0;
			lab = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		lab++;
	}
	return 1;
}

/* See policy_match.h. */
int estd_value_pattern_ok(const char *pat)
{
	size_t n = strlen(pat);
	const char *star = strchr(pat, '*');
	size_t i;

	if (n == 0 || n > VALUE_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)pat[i] < 0x20 || pat[i] == 0x7f)
			return 0;
	if (star == NULL)
		return 1;
	if (strcmp(pat, "*") == 0)
		return 1;
	/* '*' only as the whole leftmost label, followed by a DNS name */
	return star == pat && pat[1] == '.' && estd_dns_name_ok(pat + 2, n - 2);
}

/* See policy_match.h. */
int estd_value_match(const char *pat, const char *value, size_t len, int icase)
{
	size_t plen = strlen(pat), rlen;

	if (len == 0 || memchr(value, '\0', len) != NULL)
		return 0;
	if (strcmp(pat, "*") == 0)
		return 1;
	if (pat[0] == '*' && pat[1] == '.') {
		rlen = plen - 1; /* ".REST" */
		if (len <= rlen || !bytes_eq(value + len - rlen, pat + 1, rlen, 1))
			return 0;
		/* exactly one label, non-empty, in place of the '*' */
		return memchr(value, '.', len - rlen) == NULL;
	}
	return plen == len && bytes_eq(pat, value, len, icase);
}

/* See policy_match.h. */
int estd_dns_match(const char *pat, const char *name, size_t len)
{
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (!estd_dns_name_ok(name, len))
		return 0;
	return estd_value_match(pat, name, len, 1);
}

/* A DNS pattern: "*", "*.name" or "name" (exact: name only). One trailing dot dropped. */
static int dns_pattern_ok(char *p, int exact)
{
	size_t n = strlen(p);

	if (n > 1 && p[n - 1] == '.')
		p[--n] = '\0';
	if (strchr(p, '*') == NULL)
		return estd_dns_name_ok(p, n);
	return !exact && estd_value_pattern_ok(p);
}

/* "ADDR" or "ADDR/PREFIX", host bits zero. */
static int ip_parse(const char *v, int exact, struct estd_san_pat *sp, char *msg, size_t msglen)
{
	char addr[64];
	const char *slash = strchr(v, '/');
	size_t alen = slash != NULL ? (size_t)(slash - v) : strlen(v);
	long long prefix;
	int bits, i;

	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, sp->net) == 1)
		sp->netlen = 4;
	else if (inet_pton(AF_INET6, addr, sp->net) == 1)
		sp->netlen = 16;
	else
		goto bad;
	bits = sp->netlen * 8;
	sp->prefix = bits;
	if (slash != NULL) {
		char *end = NULL;

		if (exact || slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			goto bad;
		prefix = strtoll(slash + 1, &end, 10);
		if (*end != '\0' || prefix > bits)
			goto bad;
		sp->prefix = (int)prefix;
	}
	for (i = sp->prefix; i < bits; i++)
		if (sp->net[i / 8] & (0x80 >> (i % 8))) {
			snprintf(msg, msglen, "IP:%s has host bits set beyond /%d", v, sp->prefix);
			return 0;
		}
	return 1;
bad:
	snprintf(msg, msglen, "IP:%s is not an IP address%s", v, exact ? "" : " or ADDR/PREFIX");
	return 0;
}

/* "local@domain": local "*" or literal, domain a DNS pattern. */
static int email_parse(char *v, int exact)
{
	char *at = strrchr(v, '@');

	if (at == NULL || at == v || !graph_ascii(v, strlen(v)))
		return 0;
	*at = '\0';
	if (memchr(v, '@', (size_t)(at - v)) != NULL || (exact && strchr(v, '*') != NULL) ||
	    (strchr(v, '*') != NULL && strcmp(v, "*") != 0)) {
		*at = '@';
		return 0;
	}
	*at = '@';
	return dns_pattern_ok(at + 1, exact);
}

/* See policy_match.h. */
int estd_san_pat_parse(const char *s, int exact, struct estd_san_pat *sp, char *msg,
		       size_t msglen)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = {{"DNS:", GEN_DNS}, {"IP:", GEN_IPADD}, {"email:", GEN_EMAIL}, {"URI:", GEN_URI}};
	const char *v = NULL;
	size_t i;
	int ok = 0;

	memset(sp, 0, sizeof(*sp));
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && v == NULL; i++)
		if (strncasecmp(s, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
			v = s + strlen(kinds[i].prefix);
			sp->type = kinds[i].type;
		}
	if (v == NULL || *v == '\0' || strlen(v) > VALUE_MAX) {
		snprintf(msg, msglen, "'%.64s' is not DNS:, IP:, email: or URI: with a value", s);
		return 0;
	}
	if (sp->type == GEN_IPADD)
		return ip_parse(v, exact, sp, msg, msglen);
	if ((sp->text = OPENSSL_strdup(v)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	if (sp->type == GEN_DNS)
		ok = dns_pattern_ok(sp->text, exact);
	else if (sp->type == GEN_EMAIL)
		ok = email_parse(sp->text, exact);
	else
		ok = graph_ascii(v, strlen(v)) &&
		     (strchr(v, '*') == NULL || (!exact && strcmp(v, "*") == 0));
	if (!ok) {
		snprintf(msg, msglen, "'%.64s' is not a valid %s%s", s,
			 exact ? "name" : "pattern",
			 exact ? "" : " ('*' only as the whole value or leftmost DNS label)");
		estd_san_pat_clear(sp);
	}
	return ok;
}

/* See policy_match.h. */
void estd_san_pat_clear(struct estd_san_pat *sp)
{
	if (sp == NULL)
		return;
	OPENSSL_free(sp->text);
	memset(sp, 0, sizeof(*sp));
}

static int ip_match(const struct estd_san_pat *sp, const ASN1_OCTET_STRING *ip)
{
	int full = sp->prefix / 8, rest = sp->prefix % 8;

	if (ip->length != sp->netlen)
		return 0;
	if (memcmp(ip->data, sp->net, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((ip->data[full] ^ sp->net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int email_match(const char *pat, const char *v, size_t len)
{
	const char *pat_at = strrchr(pat, '@');
	const char *at = NULL;
	size_t i, local;

	for (i = 0; i < len; i++)
		if (v[i] == '@')
			at = v + i;
	if (at == NULL || at == v || !graph_ascii(v, len))
		return 0;
	local = (size_t)(at - v);
	if (!(pat_at - pat == 1 && pat[0] == '*') &&
	    !((size_t)(pat_at - pat) == local && memcmp(pat, v, local) == 0))
		return 0;
	return estd_dns_match(pat_at + 1, at + 1, len - local - 1);
}

/* See policy_match.h. */
int estd_san_pat_match(const struct estd_san_pat *sp, const GENERAL_NAME *gen)
{
	int type = -1;
	const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);
	const char *v;
	size_t len;

	if (s == NULL || type != sp->type)
		return 0;
	if (type == GEN_IPADD)
		return ip_match(sp, s);
	v = (const char *)ASN1_STRING_get0_data(s);
	len = (size_t)ASN1_STRING_length(s);
	if (type == GEN_DNS)
		return estd_dns_match(sp->text, v, len);
	if (type == GEN_EMAIL)
		return email_match(sp->text, v, len);
	if (!graph_ascii(v, len))
		return 0;
	return strcmp(sp->text, "*") == 0 || (strlen(sp->text) == len && memcmp(sp->text, v, len) == 0);
}

/* See policy_match.h. */
const char *estd_san_text(const GENERAL_NAME *gen, char *buf, size_t len)
{
	int type = -1;
	const ASN1_STRING *s = GENERAL_NAME_get0_value(gen, &type);
	const char *prefix = type == GEN_DNS ? "DNS" : type == GEN_EMAIL ? "email"
					   : type == GEN_URI ? "URI" : type == GEN_IPADD ? "IP"
					   : "other";
	char ip[INET6_ADDRSTRLEN] = "?";
	size_t i, n;

	if (type == GEN_IPADD) {
		if (s != NULL && (s->length == 4 || s->length == 16))
			inet_ntop(s->length == 4 ? AF_INET : AF_INET6, s->data, ip, sizeof(ip));
		snprintf(buf, len, "IP:%s", ip);
		return buf;
	}
	if (s == NULL || (type != GEN_DNS && type != GEN_EMAIL && type != GEN_URI)) {
		snprintf(buf, len, "%s name", prefix);
		return buf;
	}
	n = (size_t)snprintf(buf, len, "%s:%.*s", prefix, s->length > 200 ? 200 : s->length,
			     (const char *)s->data);
	for (i = 0; i < n && i + 1 < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
			buf[i] = '?';
	return buf;
}

/* ---- distinguished-name patterns ------------------------------------------------ */

/* The UTF-8 value of a name entry (OPENSSL_free), or NULL. */
static char *entry_utf8(const X509_NAME_ENTRY *e, size_t *len)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return (char *)u;
}

/* See policy_match.h. */
int estd_dn_pat_parse(const char *s, struct estd_dn_pat *dp, char *msg, size_t msglen)
{
	char buf[VALUE_MAX + 1];
	size_t n = strlen(s);
	int i;

	memset(dp, 0, sizeof(*dp));
	if (n == 0 || n > VALUE_MAX) {
		snprintf(msg, msglen, "a DN pattern has 1..%d characters", VALUE_MAX);
		return 0;
	}
	memcpy(buf, s, n + 1);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	/* a last ",*" (or "*" alone): further attributes allowed */
	if (n >= 1 && buf[n - 1] == '*' && (n == 1 || buf[n - 2] == ',' || buf[n - 2] == ' ')) {
		dp->open = 1;
		buf[--n] = '\0';
		while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == ','))
			buf[--n] = '\0';
	}
	if (n == 0 && dp->open)
		dp->name = X509_NAME_new();
	else if (estkit_name_parse(buf, &dp->name) != ESTKIT_OK)
		dp->name = NULL;
	if (dp->name == NULL) {
		snprintf(msg, msglen, "'%.64s' is not a DN pattern (TYPE=VALUE,...[,*])", s);
		return 0;
	}
	for (i = 0; i < X509_NAME_entry_count(dp->name); i++) {
		size_t vlen = 0;
		char *v = entry_utf8(X509_NAME_get_entry(dp->name, i), &vlen);
		int ok = v != NULL && strlen(v) == vlen && estd_value_pattern_ok(v);

		OPENSSL_free(v);
		if (!ok) {
			snprintf(msg, msglen, "'%.64s': '*' only as a whole value or leftmost "
					      "DNS label", s);
			estd_dn_pat_clear(dp);
			return 0;
		}
	}
	return 1;
}

/* See policy_match.h. */
void estd_dn_pat_clear(struct estd_dn_pat *dp)
{
	if (dp == NULL)
		return;
	X509_NAME_free(dp->name);
	memset(dp, 0, sizeof(*dp));
}

/* 0 literal, 1 "*.x", 2 "*": literals are matched first, so a "*" never takes their entry. */
static int specificity(const char *v)
{
	return strcmp(v, "*") == 0 ? 2 : v[0] == '*' ? 1 : 0;
}

/* Finds an unused entry of name with the NID of pe whose value matches; marks it used. */
static int take_entry(const X509_NAME *name, const char *pv, int nid, unsigned char *used)
{
	int j;

	for (j = 0; j < X509_NAME_entry_count(name); j++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, j);
		size_t len = 0;
		char *v = NULL;
		int ok;

		if (used[j] || OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != nid)
			continue;
		v = entry_utf8(e, &len);
		/* X.500 caseIgnoreMatch for the directory strings of a subject */
		ok = v != NULL && estd_value_match(pv, v, len, 1);
		OPENSSL_free(v);
		if (ok) {
			used[j] = 1;
			return 1;
		}
	}
	return 0;
}

/* See policy_match.h. */
int estd_dn_pat_match(const struct estd_dn_pat *dp, const X509_NAME *name)
{
	unsigned char used[64];
	int np = X509_NAME_entry_count(dp->name), nn = X509_NAME_entry_count(name);
	int pass, i, ok = 1;

	if (nn > (int)sizeof(used) || np > nn || (!dp->open && np != nn))
		return 0;
	memset(used, 0, sizeof(used));
	for (pass = 0; pass < 3 && ok; pass++)
		for (i = 0; i < np && ok; i++) {
			const X509_NAME_ENTRY *pe = X509_NAME_get_entry(dp->name, i);
			size_t len = 0;
			char *pv = entry_utf8(pe, &len);

			if (pv == NULL)
				ok = 0;
			else if (specificity(pv) == pass)
				ok = take_entry(name, pv, OBJ_obj2nid(X509_NAME_ENTRY_get_object(pe)),
						used);
			OPENSSL_free(pv);
		}
	return ok;
}
