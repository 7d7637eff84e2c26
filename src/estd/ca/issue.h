/*
 * issue.h - the built-in CA: a CA certificate, its signer, and issuance of
 * end-entity certificates from verified PKCS#10 requests under a profile.
 */
#ifndef ESTD_CA_ISSUE_H
#define ESTD_CA_ISSUE_H

#include <stddef.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "ca/profile.h"
#include "ca/signer.h"

struct estd_ca;

/* Reason given to a client whose CSR asks for cA TRUE. */
#define ESTD_CA_REASON_CA_REQUESTED \
	"CSR requests a CA certificate; this profile issues end-entity certificates only"

/*
 * Creates a CA from its certificate (a reference is taken) and signer
 * (ownership passes to the CA on success only). ESTKIT_EINVAL when the
 * signer's key does not belong to cert; ESTKIT_EPOLICY when cert is not a
 * CA certificate (X509_check_ca).
 */
enum estkit_status estd_ca_new(X509 *cert, struct estd_signer *signer, struct estd_ca **out);

/* Frees the CA, its certificate reference and its signer. NULL is a no-op. */
void estd_ca_free(struct estd_ca *ca);

/* The CA certificate. Borrowed; valid as long as ca. */
X509 *estd_ca_cert(const struct estd_ca *ca);

/* The CA's signer (for link certificates, ca/rollover.c). Borrowed; valid as long as ca. */
struct estd_signer *estd_ca_signer(const struct estd_ca *ca);

/*
 * Issues a certificate for csr (whose signature the caller has verified)
 * under profile: v3, random positive 16-byte serial, issuer = the CA subject,
 * subject = the CSR subject, notBefore = now - 60 s, notAfter = min(now +
 * validity_days, the CA's notAfter), the CSR public key, and extensions from
 * the profile only (basicConstraints CA:FALSE, keyUsage, extendedKeyUsage,
 * SKI, AKI) plus the requested subjectAltName when the profile copies SANs.
 * Nothing else from the request is used. The key is NOT checked against the
 * profile here (estd_profile_check_key()).
 *
 * Returns ESTKIT_OK with *out (caller frees); ESTKIT_EPOLICY or ESTKIT_EPARSE
 * for a request refused (reason is for the client); other codes for internal
 * failures (reason is for the log).
 */
enum estkit_status estd_ca_issue(struct estd_ca *ca, const struct estd_ca_profile *profile,
				 X509_REQ *csr, X509 **out, char *reason, size_t rlen);

/*
 * As estd_ca_issue(), but *out's public key is not decoded
 * (estd_cert_parse_keyless(): X509_get0_pubkey() gives NULL), which saves
 * OpenSSL 3.0's decoder set-up, a third of an enrollment's instructions
 * (BENCHMARKS.md). For the enrollment paths, which store, log and return the
 * certificate and never use its key; a caller that needs the key (a TLS
 * server certificate, a key match) uses estd_ca_issue().
 */
enum estkit_status estd_ca_issue_keyless(struct estd_ca *ca, const struct estd_ca_profile *profile,
					 X509_REQ *csr, X509 **out, char *reason, size_t rlen);

/*
 * Every check estd_ca_issue() makes, without signing anything (a request
 * held for approval is checked when it arrives and on each poll, and signed
 * only once approved). Same return codes and reason as estd_ca_issue().
 */
enum estkit_status estd_ca_check_request(struct estd_ca *ca, const struct estd_ca_profile *profile,
					 X509_REQ *csr, char *reason, size_t rlen);

/* Sets a random, positive, non-zero 16-byte serial (RFC 5280 4.1.2.2, DESIGN.md 5). */
enum estkit_status estd_cert_set_random_serial(X509 *cert);

/*
 * Adds subjectKeyIdentifier (SHA-1 of cert's public key, RFC 5280 4.2.1.2
 * method 1) and authorityKeyIdentifier (keyid of issuer: its SKI, or the
 * same hash of its key when it has none). For a self-signed certificate pass
 * issuer == cert.
 */
enum estkit_status estd_cert_add_key_ids(X509 *cert, X509 *issuer);

#endif /* ESTD_CA_ISSUE_H */
