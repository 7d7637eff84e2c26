/*
 * print.c - human-readable certificate summaries for `est`.
 */
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "common.h"

static void print_time(FILE *f, const char *label, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[64];

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, sizeof(buf), "(unreadable)");
	fprintf(f, "  %-12s %s\n", label, buf);
}

static void print_name(FILE *f, const char *label, const X509_NAME *name)
{
	char *s = NULL;

	if (estkit_name_oneline(name, &s) != ESTKIT_OK) {
		fprintf(f, "  %-12s (unreadable)\n", label);
		return;
	}
	fprintf(f, "  %-12s %s\n", label, s[0] != '\0' ? s : "(empty)");
	estkit_free(s);
}

void est_print_cert_summary(FILE *f, X509 *cert)
{
	char *serial = NULL;
	char *sans = NULL;
	char fp[65];

	print_name(f, "subject:", X509_get_subject_name(cert));
	if (estkit_cert_sans(cert, &sans) == ESTKIT_OK && sans[0] != '\0')
		fprintf(f, "  %-12s %s\n", "altnames:", sans);
	if (estkit_cert_serial_hex(cert, &serial) == ESTKIT_OK)
		fprintf(f, "  %-12s %s\n", "serial:", serial);
	print_name(f, "issuer:", X509_get_issuer_name(cert));
	print_time(f, "not before:", X509_get0_notBefore(cert));
	print_time(f, "not after:", X509_get0_notAfter(cert));
	if (estkit_cert_fingerprint(cert, fp) == ESTKIT_OK)
		fprintf(f, "  %-12s %s\n", "SHA-256:", fp);
	estkit_free(serial);
	estkit_free(sans);
	ERR_clear_error();
}

void est_print_cert_line(FILE *f, X509 *cert)
{
	char *subject = NULL;
	char fp[65];

	if (estkit_name_oneline(X509_get_subject_name(cert), &subject) != ESTKIT_OK)
		subject = NULL;
	if (estkit_cert_fingerprint(cert, fp) != ESTKIT_OK)
		snprintf(fp, sizeof(fp), "(unavailable)");
	fprintf(f, "%s\n  SHA256:%s\n", subject != NULL ? subject : "(unreadable subject)", fp);
	estkit_free(subject);
	ERR_clear_error();
}
