/*
 * issue.c - building and signing end-entity certificates. What goes into a
 * certificate comes from the profile; from the request only the subject,
 * the public key and (if the profile says so) the subjectAltName are taken
 * (DESIGN.md section 5).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/issue.h"
#include "ca/names.h"

#define SERIAL_BYTES 16
#define CLOCK_SKEW_SECONDS 60

struct estd_ca {
	X509 *cert;
	struct estd_signer *signer;
};

static void reasonf(char *reason, size_t rlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reasonf(char *reason, size_t rlen, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || rlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, rlen, fmt, ap);
	va_end(ap);
}

enum estkit_status estd_ca_new(X509 *cert, struct estd_signer *signer, struct estd_ca **out)
{
	struct estd_ca *ca = NULL;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (cert == NULL || signer == NULL)
		return ESTKIT_EINVAL;
	if (!estd_signer_matches_cert(signer, cert))
		return ESTKIT_EINVAL;
	if (X509_check_ca(cert) == 0)
		return ESTKIT_EPOLICY;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return ESTKIT_ENOMEM;
	if (!X509_up_ref(cert)) {
		free(ca);
		return ESTKIT_ECRYPTO;
	}
	ca->cert = cert;
	ca->signer = signer;
	*out = ca;
	return ESTKIT_OK;
}

void estd_ca_free(struct estd_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	estd_signer_free(ca->signer);
	free(ca);
}

X509 *estd_ca_cert(const struct estd_ca *ca)
{
	return ca == NULL ? NULL : ca->cert;
}

struct estd_signer *estd_ca_signer(const struct estd_ca *ca)
{
	return ca == NULL ? NULL : ca->signer;
}

enum estkit_status estd_cert_set_random_serial(X509 *cert)
{
	unsigned char buf[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			goto out;
		/* Clear the top bit: positive, and DER needs no sign byte (16 bytes exactly). */
		buf[0] &= 0x7f;
		/* Keep the full 16-byte length and exclude zero: the first byte is non-zero. */
	} while (buf[0] == 0);
	bn = BN_bin2bn(buf, sizeof(buf), NULL);
	if (bn == NULL || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	if (X509_set_serialNumber(cert, ai) != 1)
		goto out;
	rc = ESTKIT_OK;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

/* SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 4.2.1.2, method 1). */
static ASN1_OCTET_STRING *key_hash(X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *os = NULL;

	if (X509_pubkey_digest(cert, EVP_sha1(), md, &mdlen) != 1)
		return NULL;
	os = ASN1_OCTET_STRING_new();
	if (os != NULL && ASN1_OCTET_STRING_set(os, md, (int)mdlen) != 1) {
		ASN1_OCTET_STRING_free(os);
		os = NULL;
	}
	return os;
}

enum estkit_status estd_cert_add_key_ids(X509 *cert, X509 *issuer)
{
	ASN1_OCTET_STRING *ski = NULL;
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_OCTET_STRING *issuer_ski = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	if (cert == NULL || issuer == NULL)
		return ESTKIT_EINVAL;
	ski = key_hash(cert);
	if (ski == NULL || X509_add1_ext_i2d(cert, NID_subject_key_identifier, ski, 0,
					     X509V3_ADD_REPLACE) != 1)
		goto out;
	akid = AUTHORITY_KEYID_new();
	if (akid == NULL)
		goto out;
	/*
	 * Never query cert itself: X509_get0_subject_key_id() caches the
	 * extensions of a certificate still being built, and the stale cache
	 * would make it look not self-signed later.
	 */
	if (issuer != cert)
		issuer_ski = X509_get0_subject_key_id(issuer);
	if (issuer == cert || issuer_ski == NULL)
		akid->keyid = issuer == cert ? ASN1_OCTET_STRING_dup(ski) : key_hash(issuer);
	else
		akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski);
	if (akid->keyid == NULL)
		goto out;
	if (X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0,
			      X509V3_ADD_REPLACE) != 1)
		goto out;
	rc = ESTKIT_OK;
out:
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(akid);
	return rc;
}

/*
 * The requested extensions of csr. *exts is NULL when there are none;
 * -1 when an extensionRequest is present but cannot be decoded.
 */
static int requested_extensions(X509_REQ *csr, STACK_OF(X509_EXTENSION) **exts)
{
	int present = X509_REQ_get_attr_by_NID(csr, NID_ext_req, -1) >= 0 ||
		      X509_REQ_get_attr_by_NID(csr, NID_ms_ext_req, -1) >= 0;

	ERR_set_mark();
	*exts = X509_REQ_get_extensions(csr);
	ERR_pop_to_mark();
	if (*exts == NULL && present)
		return -1;
	return 0;
}

/* Decodes the requested extension nid: 0 absent, 1 found (*val), -1 malformed or repeated. */
static int requested_ext(STACK_OF(X509_EXTENSION) *exts, int nid, void **val)
{
	int idx;

	*val = NULL;
	if (exts == NULL)
		return 0;
	idx = X509v3_get_ext_by_NID(exts, nid, -1);
	if (idx < 0)
		return 0;
	if (X509v3_get_ext_by_NID(exts, nid, idx) >= 0)
		return -1;
	ERR_set_mark();
	*val = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, idx));
	ERR_pop_to_mark();
	return *val != NULL ? 1 : -1;
}

/*
 * Policy on what the request asks for: never a CA certificate, and a
 * subject or a subjectAltName to name the holder. On success *sans holds the
 * subjectAltName to copy (NULL for none).
 */
static enum estkit_status check_request(const struct estd_ca_profile *profile, X509_REQ *csr,
					GENERAL_NAMES **sans, char *reason, size_t rlen)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	void *val = NULL;
	const struct estd_names_policy pol = { profile->max_sans, profile->max_subject,
					       profile->othername_types, profile->registered_id };
	enum estkit_status rc = ESTKIT_EPARSE;
	int r;

	*sans = NULL;
	if (requested_extensions(csr, &exts) != 0) {
		reasonf(reason, rlen, "CSR has a malformed extensionRequest attribute");
		goto out;
	}
	r = requested_ext(exts, NID_basic_constraints, &val);
	bc = val;
	if (r < 0) {
		reasonf(reason, rlen, "CSR has a malformed basicConstraints extension request");
		goto out;
	}
	if (bc != NULL && bc->ca) {
		reasonf(reason, rlen, "%s", ESTD_CA_REASON_CA_REQUESTED);
		rc = ESTKIT_EPOLICY;
		goto out;
	}
	r = requested_ext(exts, NID_subject_alt_name, &val);
	if (r < 0) {
		reasonf(reason, rlen, "CSR has a malformed subjectAltName extension request");
		goto out;
	}
	if (profile->copy_sans && sk_GENERAL_NAME_num(val) > 0) {
		*sans = val;
		val = NULL;
	}
	GENERAL_NAMES_free(val);
	/* names copied into the certificate: bounded, well-formed, no NUL (ca/names.h) */
	if (estd_names_check_sans(*sans, &pol, reason, rlen) != ESTKIT_OK ||
	    estd_names_check_subject(X509_REQ_get_subject_name(csr), profile->max_subject,
				     reason, rlen) != ESTKIT_OK) {
		rc = ESTKIT_EPOLICY;
		goto out;
	}
	if (X509_NAME_entry_count(X509_REQ_get_subject_name(csr)) == 0 && *sans == NULL) {
		reasonf(reason, rlen, "CSR has an empty subject and no subjectAltName");
		rc = ESTKIT_EPOLICY;
		goto out;
	}
	rc = ESTKIT_OK;
out:
	BASIC_CONSTRAINTS_free(bc);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if (rc != ESTKIT_OK) {
		GENERAL_NAMES_free(*sans);
		*sans = NULL;
	}
	return rc;
}

/*
 * notBefore = now - skew; notAfter = min(now + lifetime, CA notAfter). The
 * backdating is at most a tenth of the lifetime, so that a short-lived
 * certificate (validity_seconds) is not mostly spent before it is issued.
 */
static enum estkit_status set_validity(X509 *cert, X509 *cacert, long lifetime, char *reason,
				       size_t rlen)
{
	const ASN1_TIME *ca_end = X509_get0_notAfter(cacert);
	time_t now = time(NULL);
	time_t end = now + (time_t)lifetime;
	long skew = lifetime / 10 < CLOCK_SKEW_SECONDS ? lifetime / 10 : CLOCK_SKEW_SECONDS;

	if (X509_cmp_time(ca_end, &now) <= 0) {
		reasonf(reason, rlen, "the CA certificate has expired");
		return ESTKIT_EINTERNAL;
	}
	if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -skew, &now) == NULL)
		return ESTKIT_ECRYPTO;
	if (X509_cmp_time(ca_end, &end) < 0) {
		/* RFC 5280 6.1.3: a certificate outliving its issuer would not validate. */
		if (X509_set1_notAfter(cert, ca_end) != 1)
			return ESTKIT_ECRYPTO;
	} else if (X509_time_adj_ex(X509_getm_notAfter(cert), 0, lifetime, &now) == NULL) {
		return ESTKIT_ECRYPTO;
	}
	return ESTKIT_OK;
}

static enum estkit_status add_key_usage(X509 *cert, unsigned ku)
{
	static const unsigned flags[9] = {
		X509v3_KU_DIGITAL_SIGNATURE, X509v3_KU_NON_REPUDIATION,
		X509v3_KU_KEY_ENCIPHERMENT, X509v3_KU_DATA_ENCIPHERMENT,
		X509v3_KU_KEY_AGREEMENT, X509v3_KU_KEY_CERT_SIGN, X509v3_KU_CRL_SIGN,
		X509v3_KU_ENCIPHER_ONLY, X509v3_KU_DECIPHER_ONLY,
	};
	ASN1_BIT_STRING *bs = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;
	int i;

	bs = ASN1_BIT_STRING_new();
	if (bs == NULL)
		return ESTKIT_ENOMEM;
	/* RFC 5280 4.2.1.3 bit numbers: digitalSignature (0) .. decipherOnly (8). */
	for (i = 0; i < 9; i++)
		if ((ku & flags[i]) != 0 && ASN1_BIT_STRING_set_bit(bs, i, 1) != 1)
			goto out;
	/* RFC 5280 4.2.1.3: conforming CAs SHOULD mark keyUsage critical. */
	if (X509_add1_ext_i2d(cert, NID_key_usage, bs, 1, X509V3_ADD_REPLACE) != 1)
		goto out;
	rc = ESTKIT_OK;
out:
	ASN1_BIT_STRING_free(bs);
	return rc;
}

/* cRLDistributionPoints with one fullName URI (RFC 5280 4.2.1.13); profile.c vetted url. */
static int add_crl_dp(X509 *cert, X509V3_CTX *ctx, const char *url)
{
	char conf[600];
	X509_EXTENSION *ext = NULL;
	int rc = -1;

	snprintf(conf, sizeof(conf), "URI:%s", url);
	ext = X509V3_EXT_conf_nid(NULL, ctx, NID_crl_distribution_points, conf);
	if (ext != NULL && X509_add_ext(cert, ext, -1) == 1)
		rc = 0;
	X509_EXTENSION_free(ext);
	return rc;
}

/* basicConstraints, keyUsage, EKU, key identifiers, SANs and CRL DP, in that order. */
static enum estkit_status add_extensions(X509 *cert, X509 *cacert,
					 const struct estd_ca_profile *profile, unsigned ku,
					 GENERAL_NAMES *sans)
{
	X509V3_CTX ctx;
	X509_EXTENSION *bc = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;
	int san_critical;

	X509V3_set_ctx(&ctx, cacert, cert, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
	if (bc == NULL || X509_add_ext(cert, bc, -1) != 1)
		goto out;
	if (ku != 0 && (rc = add_key_usage(cert, ku)) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ECRYPTO;
	if (sk_ASN1_OBJECT_num(profile->eku) > 0 &&
	    X509_add1_ext_i2d(cert, NID_ext_key_usage, profile->eku, 0, X509V3_ADD_REPLACE) != 1)
		goto out;
	if ((rc = estd_cert_add_key_ids(cert, cacert)) != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ECRYPTO;
	/* RFC 5280 4.2.1.6: the SAN is critical when the subject is empty. */
	san_critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0;
	if (sans != NULL && X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, san_critical,
					      X509V3_ADD_REPLACE) != 1)
		goto out;
	if (profile->crl_url != NULL && add_crl_dp(cert, &ctx, profile->crl_url) != 0)
		goto out;
	rc = ESTKIT_OK;
out:
	X509_EXTENSION_free(bc);
	return rc;
}

/*
 * The CSR's SubjectPublicKeyInfo (the key whose self-signature was verified
 * and which the profile accepted) copied into cert field by field: algorithm
 * identifier with its parameters, then the key bits. Not X509_set_pubkey():
 * on OpenSSL 3.0 that encodes the key through an OSSL_ENCODER and decodes the
 * result through the provider decoders, about 2.2 million instructions per
 * certificate, a third of an enrollment's CPU (BENCHMARKS.md). cert's key is
 * left undecoded; the signer hands back a fresh decode of the signed
 * certificate (estd_signer_sign_cert_copy()).
 */
static enum estkit_status copy_public_key(X509 *cert, X509_REQ *csr)
{
	X509_PUBKEY *src = X509_REQ_get_X509_PUBKEY(csr);
	X509_PUBKEY *dst = X509_get_X509_PUBKEY(cert);
	X509_ALGOR *src_alg = NULL, *dst_alg = NULL;
	ASN1_OBJECT *alg = NULL, *alg_copy = NULL;
	const unsigned char *bits = NULL;
	unsigned char *bits_copy = NULL;
	int len = 0;

	if (src == NULL || dst == NULL ||
	    X509_PUBKEY_get0_param(&alg, &bits, &len, &src_alg, src) != 1 || alg == NULL ||
	    bits == NULL || len <= 0)
		return ESTKIT_EPARSE;
	alg_copy = OBJ_dup(alg);
	bits_copy = OPENSSL_memdup(bits, (size_t)len);
	/* dst takes both copies when set0 succeeds; on failure they are still ours */
	if (alg_copy == NULL || bits_copy == NULL ||
	    X509_PUBKEY_set0_param(dst, alg_copy, V_ASN1_UNDEF, NULL, bits_copy, len) != 1) {
		ASN1_OBJECT_free(alg_copy);
		OPENSSL_free(bits_copy);
		return ESTKIT_ENOMEM;
	}
	if (X509_PUBKEY_get0_param(NULL, NULL, NULL, &dst_alg, dst) != 1 ||
	    X509_ALGOR_copy(dst_alg, src_alg) != 1)
		return ESTKIT_ENOMEM;
	return ESTKIT_OK;
}

/* The to-be-signed certificate: everything but extensions and signature. */
static enum estkit_status build_base(X509 *cert, X509 *cacert, X509_REQ *csr, long lifetime,
				     char *reason, size_t rlen)
{
	enum estkit_status rc;

	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_set_issuer_name(cert, X509_get_subject_name(cacert)) != 1 ||
	    X509_set_subject_name(cert, X509_REQ_get_subject_name(csr)) != 1)
		return ESTKIT_ECRYPTO;
	rc = copy_public_key(cert, csr);
	if (rc != ESTKIT_OK)
		return rc;
	rc = estd_cert_set_random_serial(cert);
	if (rc != ESTKIT_OK)
		return rc;
	return set_validity(cert, cacert, lifetime, reason, rlen);
}

/*
 * The certificate for csr under profile, complete but unsigned: every policy
 * decision of issuance is made here (estd_ca_check_request, estd_ca_issue).
 */
static enum estkit_status build_tbs(struct estd_ca *ca, const struct estd_ca_profile *profile,
				    X509_REQ *csr, X509 **out, char *reason, size_t rlen)
{
	GENERAL_NAMES *sans = NULL;
	X509 *cert = NULL;
	EVP_PKEY *pub = NULL;
	unsigned ku;
	enum estkit_status rc = ESTKIT_EINVAL;

	*out = NULL;
	if (ca == NULL || profile == NULL || csr == NULL)
		goto out;
	pub = X509_REQ_get0_pubkey(csr);
	if (pub == NULL) {
		reasonf(reason, rlen, "CSR public key cannot be decoded");
		rc = ESTKIT_EPARSE;
		goto out;
	}
	rc = check_request(profile, csr, &sans, reason, rlen);
	if (rc != ESTKIT_OK)
		goto out;
	ku = estd_profile_key_usage_for(profile, pub);
	if (profile->key_usage != 0 && ku == 0) {
		/* No keyUsage at all would allow every usage: refuse instead. */
		reasonf(reason, rlen, "the profile's key usages do not apply to %s keys",
			EVP_PKEY_get0_type_name(pub));
		rc = ESTKIT_EPOLICY;
		goto out;
	}
	rc = ESTKIT_ENOMEM;
	cert = X509_new();
	if (cert == NULL)
		goto out;
	rc = build_base(cert, ca->cert, csr,
			profile->validity_seconds > 0 ? (long)profile->validity_seconds
						      : (long)profile->validity_days * 86400L,
			reason, rlen);
	if (rc == ESTKIT_OK)
		rc = add_extensions(cert, ca->cert, profile, ku, sans);
	if (rc == ESTKIT_OK) {
		*out = cert;
		cert = NULL;
	}
out:
	X509_free(cert);
	GENERAL_NAMES_free(sans);
	return rc;
}

enum estkit_status estd_ca_check_request(struct estd_ca *ca, const struct estd_ca_profile *profile,
					 X509_REQ *csr, char *reason, size_t rlen)
{
	X509 *cert = NULL;
	enum estkit_status rc;

	reasonf(reason, rlen, "could not issue the certificate");
	rc = build_tbs(ca, profile, csr, &cert, reason, rlen);
	X509_free(cert);
	return rc;
}

static enum estkit_status issue(struct estd_ca *ca, const struct estd_ca_profile *profile,
				X509_REQ *csr, enum estd_cert_key key, X509 **out, char *reason,
				size_t rlen)
{
	X509 *cert = NULL;
	enum estkit_status rc;

	reasonf(reason, rlen, "could not issue the certificate");
	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	rc = build_tbs(ca, profile, csr, &cert, reason, rlen);
	/* A fresh parse of what was signed: no cached state from the build. */
	if (rc == ESTKIT_OK)
		rc = estd_signer_sign_cert_copy(ca->signer, cert, key, out);
	if (rc != ESTKIT_OK)
		goto out;
	reasonf(reason, rlen, "issued");
out:
	X509_free(cert);
	return rc;
}

enum estkit_status estd_ca_issue(struct estd_ca *ca, const struct estd_ca_profile *profile,
				 X509_REQ *csr, X509 **out, char *reason, size_t rlen)
{
	return issue(ca, profile, csr, ESTD_CERT_KEY_DECODED, out, reason, rlen);
}

enum estkit_status estd_ca_issue_keyless(struct estd_ca *ca, const struct estd_ca_profile *profile,
					 X509_REQ *csr, X509 **out, char *reason, size_t rlen)
{
	return issue(ca, profile, csr, ESTD_CERT_KEY_UNDECODED, out, reason, rlen);
}
