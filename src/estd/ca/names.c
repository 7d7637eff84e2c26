/*
 * names.c - checks of the names a CSR asks for (see names.h).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include "ca/names.h"

#define DNS_MAX 253 /* RFC 1035 2.3.4 */
#define URI_MAX 2048
#define EMAIL_MAX 320

static void reasonf(char *reason, size_t rlen, const char *msg, int index)
{
	if (reason != NULL && rlen > 0)
		snprintf(reason, rlen, "%s (name %d)", msg, index + 1);
}

/* 1 when s (len bytes, UTF-8) has no C0 control byte, NUL or DEL. */
static int printable_utf8(const unsigned char *s, int len)
{
	int i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* See names.h. */
enum estkit_status estd_names_check_subject(const X509_NAME *subject, size_t max_subject,
					    char *reason, size_t rlen)
{
	const unsigned char *der = NULL;
	size_t derlen = 0;
	int i, n, len;

	if (X509_NAME_get0_der(subject, &der, &derlen) != 1 || derlen > max_subject) {
		snprintf(reason, rlen, "CSR subject is longer than %zu bytes", max_subject);
		return ESTKIT_EPOLICY;
	}
	n = X509_NAME_entry_count(subject);
	for (i = 0; i < n; i++) {
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
		unsigned char *utf8 = NULL;

		len = ASN1_STRING_to_UTF8(&utf8, v);
		if (len < 0 || !printable_utf8(utf8, len)) {
			OPENSSL_free(utf8);
			reasonf(reason, rlen, "CSR subject has a value with control or NUL bytes "
					      "or an invalid encoding", i);
			return ESTKIT_EPOLICY;
		}
		OPENSSL_free(utf8);
	}
	return ESTKIT_OK;
}

/* RFC 5280 4.2.1.6 / RFC 1034 3.5 preferred name syntax, with a leading "*." label. */
static int dns_ok(const unsigned char *s, int len)
{
	int i, label = 0;

	if (len <= 0 || len > DNS_MAX || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c == '*' && !(i == 0 && len > 2 && s[1] == '.'))
			return 0;
		if (c != '*' && c != '-' && c != '_' && !(c >= '0' && c <= '9') &&
		    !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/* Visible ASCII only (IA5String names: rfc822Name, URI). */
static int visible_ok(const unsigned char *s, int len, int max)
{
	int i;

	if (len <= 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return 1;
}

/* 1 when one general name is of a supported type with a well-formed value. */
static int gen_ok(const GENERAL_NAME *g, size_t max_subject, char *reason, size_t rlen)
{
	int type = 0;
	void *v = GENERAL_NAME_get0_value(g, &type);
	const unsigned char *d = NULL;
	int len = 0;

	if (type == GEN_DNS || type == GEN_EMAIL || type == GEN_URI || type == GEN_IPADD) {
		d = ASN1_STRING_get0_data(v);
		len = ASN1_STRING_length(v);
	}
	switch (type) {
	case GEN_DNS:
		return dns_ok(d, len);
	case GEN_EMAIL:
		return visible_ok(d, len, EMAIL_MAX) && memchr(d, '@', (size_t)len) != NULL;
	case GEN_URI:
		return visible_ok(d, len, URI_MAX);
	case GEN_IPADD:
		return len == 4 || len == 16;
	case GEN_DIRNAME:
		return estd_names_check_subject(v, max_subject, reason, rlen) == ESTKIT_OK;
	case GEN_OTHERNAME:
	case GEN_RID:
		return 1;
	default: /* x400Address, ediPartyName */
		return 0;
	}
}

/* See names.h. */
enum estkit_status estd_names_check_sans(const GENERAL_NAMES *sans, int max_sans,
					 size_t max_subject, char *reason, size_t rlen)
{
	int i, n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;

	if (n > max_sans) {
		snprintf(reason, rlen, "CSR asks for %d subjectAltNames; this profile allows %d", n,
			 max_sans);
		return ESTKIT_EPOLICY;
	}
	for (i = 0; i < n; i++) {
		if (!gen_ok(sk_GENERAL_NAME_value(sans, i), max_subject, reason, rlen)) {
			reasonf(reason, rlen, "CSR has a malformed or unsupported subjectAltName", i);
			return ESTKIT_EPOLICY;
		}
	}
	return ESTKIT_OK;
}
