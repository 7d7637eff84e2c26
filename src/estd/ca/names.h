/*
 * names.h - what a requested subject and subjectAltName may hold before the
 * CA copies them into a certificate: bounded size and count, no control or
 * NUL bytes (a NUL inside a name is the classic way to make a certificate
 * read as another name, e.g. "bank.example\0.attacker.example"), and
 * dNSName / rfc822Name / URI / iPAddress values of their RFC 5280 4.2.1.6
 * syntax.
 */
#ifndef ESTD_CA_NAMES_H
#define ESTD_CA_NAMES_H

#include <stddef.h>
#include <openssl/x509v3.h>
#include <estkit/error.h>

#define ESTD_MAX_SANS_DEFAULT    256  /* [profile] max_sans */
#define ESTD_MAX_SUBJECT_DEFAULT 2048 /* [profile] max_subject, DER bytes */

/*
 * ESTKIT_OK when subject (DER at most max_subject bytes, printable values)
 * is acceptable; else ESTKIT_EPOLICY with a reason for the client.
 */
enum estkit_status estd_names_check_subject(const X509_NAME *subject, size_t max_subject,
					    char *reason, size_t rlen);

/*
 * ESTKIT_OK when sans (NULL: none) has at most max_sans names, each of a
 * supported type with a well-formed value (a directoryName held to
 * max_subject as a subject is); else ESTKIT_EPOLICY with a reason.
 */
enum estkit_status estd_names_check_sans(const GENERAL_NAMES *sans, int max_sans,
					 size_t max_subject,
					 char *reason, size_t rlen);

#endif /* ESTD_CA_NAMES_H */
