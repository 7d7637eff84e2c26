/*
 * names.c - checks of the names a CSR asks for (see names.h).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include "ca/names.h"

#define DNS_MAX 253 /* RFC 1035 2.3.4 */
#define URI_MAX 2048
#define EMAIL_MAX 320
#define EK_STR2(x) #x
#define EK_STR(x) EK_STR2(x)

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

/* NULL when an otherName's value is a bounded string without control bytes; else why not. */
static const char *othername_value_bad(const ASN1_TYPE *v)
{
	unsigned char *utf8 = NULL;
	int len, der, ok;

	if (v == NULL || (v->type != V_ASN1_UTF8STRING && v->type != V_ASN1_IA5STRING &&
			  v->type != V_ASN1_PRINTABLESTRING))
		return "is not a UTF8String, IA5String or PrintableString";
	der = i2d_ASN1_TYPE(v, NULL);
	if (der <= 0 || der > ESTD_OTHERNAME_MAX)
		return "is longer than " EK_STR(ESTD_OTHERNAME_MAX) " DER bytes";
	len = ASN1_STRING_to_UTF8(&utf8, v->value.asn1_string);
	ok = len > 0 && printable_utf8(utf8, len);
	OPENSSL_free(utf8);
	return ok ? NULL : "is empty, not valid UTF-8 or holds control characters";
}

/*
 * An otherName: its type listed in pol, its value a bounded string. 1, or 0
 * with a reason naming the type (and what would allow it) written.
 */
static int othername_ok(const OTHERNAME *on, const struct estd_names_policy *pol, int index,
			char *reason, size_t rlen)
{
	char oid[128] = "?";
	const char *why = NULL;
	int i, n = pol->othername_types != NULL ? sk_ASN1_OBJECT_num(pol->othername_types) : 0;

	if (on == NULL || on->type_id == NULL ||
	    OBJ_obj2txt(oid, sizeof(oid), on->type_id, 1) <= 0)
		return snprintf(reason, rlen, "CSR has a malformed otherName subjectAltName "
				"(name %d)", index + 1), 0;
	for (i = 0; i < n; i++)
		if (OBJ_cmp(sk_ASN1_OBJECT_value(pol->othername_types, i), on->type_id) == 0)
			break;
	if (i == n)
		return snprintf(reason, rlen, "CSR asks for an otherName subjectAltName of type %s "
				"(name %d), which this CA does not issue; the CA operator can allow "
				"it with allow_othername = %s in the profile", oid, index + 1, oid), 0;
	if ((why = othername_value_bad(on->value)) != NULL)
		return snprintf(reason, rlen, "CSR otherName subjectAltName of type %s (name %d) %s",
				oid, index + 1, why), 0;
	return 1;
}

/* 1 when one general name is of a supported type with a well-formed value. */
static int gen_ok(const GENERAL_NAME *g, const struct estd_names_policy *pol, int index,
		  char *reason, size_t rlen)
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
		return estd_names_check_subject(v, pol->max_subject, reason, rlen) == ESTKIT_OK;
	case GEN_OTHERNAME:
		return othername_ok(v, pol, index, reason, rlen) ? 1 : -1;
	case GEN_RID:
		if (pol->registered_id)
			return 1;
		snprintf(reason, rlen, "CSR asks for a registeredID subjectAltName (name %d), which "
			 "this CA does not issue; the CA operator can allow it with "
			 "allow_registered_id = yes in the profile", index + 1);
		return -1;
	default: /* x400Address, ediPartyName */
		return 0;
	}
}

/* See names.h. */
enum estkit_status estd_names_check_sans(const GENERAL_NAMES *sans,
					 const struct estd_names_policy *pol, char *reason,
					 size_t rlen)
{
	int i, r, n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;

	if (n > pol->max_sans) {
		snprintf(reason, rlen, "CSR asks for %d subjectAltNames; this profile allows %d", n,
			 pol->max_sans);
		return ESTKIT_EPOLICY;
	}
	for (i = 0; i < n; i++) {
		r = gen_ok(sk_GENERAL_NAME_value(sans, i), pol, i, reason, rlen);
		if (r == 0)
			reasonf(reason, rlen, "CSR has a malformed or unsupported subjectAltName", i);
		if (r <= 0)
			return ESTKIT_EPOLICY;
	}
	return ESTKIT_OK;
}
