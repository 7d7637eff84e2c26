/*
 * names.h - what a requested subject and subjectAltName may hold before the
 * CA copies them into a certificate: bounded size and count, no control or
 * NUL bytes (a NUL inside a name is the classic way to make a certificate
 * read as another name, e.g. "bank.example\0.attacker.example"), and
 * dNSName / rfc822Name / URI / iPAddress values of their RFC 5280 4.2.1.6
 * syntax. otherName and registeredID names are refused unless the profile
 * allows them: an otherName can claim anything a relying party gives
 * meaning to (a Windows logon UPN, an SmtpUTF8Mailbox), so only the
 * otherName types the operator lists pass, and only with a bounded string
 * value.
 */
#ifndef ESTD_CA_NAMES_H
#define ESTD_CA_NAMES_H

#include <stddef.h>
#include <openssl/x509v3.h>
#include <estkit/error.h>

#define ESTD_MAX_SANS_DEFAULT    256  /* [profile] max_sans */
#define ESTD_MAX_SUBJECT_DEFAULT 2048 /* [profile] max_subject, DER bytes */
#define ESTD_OTHERNAME_MAX       1024 /* DER bytes of an allowed otherName's value */

/* What a profile lets a request name in its subjectAltName. */
struct estd_names_policy {
	int max_sans;       /* names allowed */
	size_t max_subject; /* DER bytes of a directoryName (as of the subject) */
	/* otherName type-ids allowed ([profile] allow_othername); NULL or empty: none */
	const STACK_OF(ASN1_OBJECT) *othername_types;
	int registered_id;  /* 1: registeredID allowed ([profile] allow_registered_id) */
};

/*
 * ESTKIT_OK when subject (DER at most max_subject bytes, printable values)
 * is acceptable; else ESTKIT_EPOLICY with a reason for the client.
 */
enum estkit_status estd_names_check_subject(const X509_NAME *subject, size_t max_subject,
					    char *reason, size_t rlen);

/*
 * ESTKIT_OK when sans (NULL: none) has at most pol->max_sans names, each of
 * a supported type with a well-formed value (a directoryName held to
 * pol->max_subject as a subject is; an otherName of a type in
 * pol->othername_types with a UTF8String, IA5String or PrintableString value
 * of at most ESTD_OTHERNAME_MAX DER bytes; a registeredID only with
 * pol->registered_id); else ESTKIT_EPOLICY with a reason for the client that
 * names the refused otherName type and the setting that would allow it.
 */
enum estkit_status estd_names_check_sans(const GENERAL_NAMES *sans,
					 const struct estd_names_policy *pol, char *reason,
					 size_t rlen);

#endif /* ESTD_CA_NAMES_H */
