/*
 * profile.h - an issuance profile ([profile NAME] in estd.conf) parsed once
 * into the form issuance uses: key usage bits, EKU OIDs, allowed keys.
 */
#ifndef ESTD_CA_PROFILE_H
#define ESTD_CA_PROFILE_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "config.h"

/* One entry of allowed_keys. */
enum estd_key_kind { ESTD_KEY_EC = 1, ESTD_KEY_RSA = 2, ESTD_KEY_ED25519 = 3, ESTD_KEY_ED448 = 4 };

struct estd_allowed_key {
	enum estd_key_kind kind;
	int curve_nid;            /* ESTD_KEY_EC: the exact curve */
	int min_bits;             /* ESTD_KEY_RSA: the minimum modulus size */
};

struct estd_ca_profile {
	char *name;
	int validity_days;
	unsigned key_usage;       /* X509v3_KU_* bits; 0 = no keyUsage extension */
	STACK_OF(ASN1_OBJECT) *eku; /* extendedKeyUsage OIDs; empty = no extension */
	struct estd_allowed_key *keys;
	size_t nkeys;
	int copy_sans;
	char *crl_url;            /* cRLDistributionPoints URI (RFC 5280 4.2.1.13) or NULL */
	int max_sans;             /* requested subjectAltNames allowed (ca/names.h) */
	size_t max_subject;       /* requested subject DER bytes allowed */
	int validity_seconds;     /* > 0: lifetime in seconds, overriding validity_days */
	STACK_OF(ASN1_OBJECT) *othername_types; /* allow_othername: otherName types allowed */
	int registered_id;        /* allow_registered_id: registeredID SANs allowed */
};

/* RSA moduli larger than this are refused whatever the profile says (cost of use). */
#define ESTD_RSA_MAX_BITS 16384

/*
 * Parses src into *out. On a bad value returns ESTKIT_EINVAL and writes to
 * err (errlen bytes) a message naming the profile, the key and the bad token,
 * e.g. "profile default: key_usage: unknown key usage 'digitalSig'".
 */
enum estkit_status estd_profile_parse(const struct estd_profile *src,
				      struct estd_ca_profile **out, char *err, size_t errlen);

/* Frees a parsed profile. NULL is a no-op. */
void estd_profile_free(struct estd_ca_profile *p);

/*
 * Checks a requested public key against the profile's allowed keys. ESTKIT_OK
 * when allowed; else ESTKIT_EPOLICY with reason (for the client) written to
 * reason, e.g. "RSA key of 1024 bits is below the profile minimum of 2048".
 */
enum estkit_status estd_profile_check_key(const struct estd_ca_profile *p, EVP_PKEY *key,
					  char *reason, size_t rlen);

/*
 * The key usage bits of the profile that the key's algorithm may carry:
 * RFC 5480 section 3 forbids keyEncipherment and dataEncipherment with EC
 * keys, RFC 8410 section 5 allows only signature usages with EdDSA, and
 * keyAgreement makes no sense with RSA. 0 means no keyUsage extension.
 */
unsigned estd_profile_key_usage_for(const struct estd_ca_profile *p, EVP_PKEY *key);

#endif /* ESTD_CA_PROFILE_H */
