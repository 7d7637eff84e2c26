/*
 * rollover.c - root CA key update (RFC 7030 4.1.3, RFC 4210 4.4): the new
 * root, the NewWithOld and OldWithNew link certificates, and the running
 * server's rollover state loaded from estd.conf.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/pki.h>
#include <estkit/rollover.h>

#include "ca/rollover.h"
#include "ca/signer.h"
#include "util.h"

#define CLOCK_SKEW_SECONDS 60

/* What one CA certificate of a rollover is made of. */
struct ca_spec {
	const X509_NAME *subject;
	const X509_NAME *issuer;
	EVP_PKEY *pub;            /* the subject's public key */
	X509 *key_id_issuer;      /* source of the AKI; NULL: self-signed */
	const ASN1_TIME *not_after;
	struct estd_signer *signer;
};

/* basicConstraints and keyUsage of a CA (RFC 5280 4.2.1.9, 4.2.1.3), both critical. */
static enum estkit_status add_ca_extensions(X509 *x)
{
	X509V3_CTX ctx;
	X509_EXTENSION *bc = NULL, *ku = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (bc != NULL && ku != NULL && X509_add_ext(x, bc, -1) == 1 && X509_add_ext(x, ku, -1) == 1)
		rc = ESTKIT_OK;
	X509_EXTENSION_free(bc);
	X509_EXTENSION_free(ku);
	return rc;
}

static enum estkit_status make_cert(const struct ca_spec *s, X509 **out)
{
	X509 *x = NULL;
	enum estkit_status rc = ESTKIT_ECRYPTO;

	*out = NULL;
	if ((x = X509_new()) == NULL)
		return ESTKIT_ENOMEM;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_subject_name(x, s->subject) != 1 || X509_set_issuer_name(x, s->issuer) != 1 ||
	    X509_set_pubkey(x, s->pub) != 1 || estd_cert_set_random_serial(x) != ESTKIT_OK ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -CLOCK_SKEW_SECONDS) == NULL ||
	    X509_set1_notAfter(x, s->not_after) != 1)
		goto out;
	if ((rc = add_ca_extensions(x)) != ESTKIT_OK)
		goto out;
	rc = estd_cert_add_key_ids(x, s->key_id_issuer != NULL ? s->key_id_issuer : x);
	/* a fresh decode: no extension cache from the build */
	if (rc == ESTKIT_OK)
		rc = estd_signer_sign_cert_copy(s->signer, x, ESTD_CERT_KEY_DECODED, out);
out:
	X509_free(x);
	return rc;
}

/* The earlier of two times (borrowed). */
static const ASN1_TIME *earlier(const ASN1_TIME *a, const ASN1_TIME *b)
{
	int day = 0, sec = 0;

	if (ASN1_TIME_diff(&day, &sec, a, b) != 1)
		return a;
	return (day < 0 || sec < 0) ? b : a;
}

/* NewWithOld and OldWithNew (RFC 4210 4.4), once NewWithNew exists. */
static enum estkit_status make_links(struct estd_ca *old, struct estd_signer *new_signer,
				     EVP_PKEY *new_pub, struct estd_rollover_certs *c)
{
	X509 *oldc = estd_ca_cert(old);
	const ASN1_TIME *end = earlier(X509_get0_notAfter(oldc), X509_get0_notAfter(c->new_with_new));
	struct ca_spec nwo = { X509_get_subject_name(c->new_with_new), X509_get_subject_name(oldc),
			       new_pub, oldc, end, estd_ca_signer(old) };
	struct ca_spec own = { X509_get_subject_name(oldc), X509_get_subject_name(c->new_with_new),
			       X509_get0_pubkey(oldc), c->new_with_new, end, new_signer };
	enum estkit_status rc;

	rc = make_cert(&nwo, &c->new_with_old);
	if (rc == ESTKIT_OK)
		rc = make_cert(&own, &c->old_with_new);
	return rc;
}

enum estkit_status estd_rollover_create(struct estd_ca *old, struct estd_signer *new_signer,
					const X509_NAME *subject, int days,
					struct estd_rollover_certs *out, char **err)
{
	EVP_PKEY *pub = NULL;
	ASN1_TIME *end = NULL;
	struct ca_spec nwn;
	enum estkit_status rc = ESTKIT_EINVAL;

	*err = NULL;
	memset(out, 0, sizeof(*out));
	if (old == NULL || new_signer == NULL || days <= 0)
		goto out;
	if (subject == NULL)
		subject = X509_get_subject_name(estd_ca_cert(old));
	rc = estd_signer_public_key(new_signer, &pub);
	if (rc != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ENOMEM;
	if ((end = X509_time_adj_ex(NULL, days, 0, NULL)) == NULL)
		goto out;
	nwn = (struct ca_spec){ subject, subject, pub, NULL, end, new_signer };
	rc = make_cert(&nwn, &out->new_with_new);
	if (rc == ESTKIT_OK)
		rc = make_links(old, new_signer, pub, out);
out:
	if (rc != ESTKIT_OK) {
		*err = estd_strfmt("cannot create the rollover certificates: %s",
				   estkit_strerror(rc));
		estd_rollover_certs_clear(out);
	}
	ASN1_TIME_free(end);
	EVP_PKEY_free(pub);
	return rc;
}

void estd_rollover_certs_clear(struct estd_rollover_certs *c)
{
	if (c == NULL)
		return;
	X509_free(c->new_with_new);
	X509_free(c->new_with_old);
	X509_free(c->old_with_new);
	memset(c, 0, sizeof(*c));
}
