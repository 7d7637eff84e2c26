/*
 * rollover_load.c - the running server's view of a CA rollover: the new CA,
 * its link certificates and the /cacerts answer, loaded from estd.conf
 * ([ca] next_cert, next_key, link_certs, switch_at) and checked.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include <estkit/pki.h>
#include <estkit/rollover.h>

#include "ca/rollover.h"
#include "ca/signer.h"
#include "util.h"

struct estd_rollover {
	struct estd_ca *next;
	X509 *new_with_old;
	X509 *old_with_new;
	long long switch_at;
	STACK_OF(X509) *cacerts;
};

/* Pushes a new reference to x; 0 when memory ran out. */
static int push_ref(STACK_OF(X509) *sk, X509 *x)
{
	if (!X509_up_ref(x))
		return 0;
	if (!sk_X509_push(sk, x)) {
		X509_free(x);
		return 0;
	}
	return 1;
}

/* The new CA from next_cert and next_key. */
static enum estkit_status load_next(const struct estd_config *cfg, struct estd_rollover *r,
				    char **err)
{
	struct estd_signer *signer = NULL;
	X509 *cert = NULL;
	enum estkit_status rc;

	rc = estkit_cert_load(cfg->ca_next_cert, &cert);
	if (rc != ESTKIT_OK) {
		*err = estd_strfmt("cannot read [ca] next_cert %s: %s", cfg->ca_next_cert,
				   estkit_strerror(rc));
		return rc;
	}
	rc = estd_signer_load_cfg(cfg->ca_next_key, cfg, &signer, err);
	if (rc == ESTKIT_OK) {
		rc = estd_ca_new(cert, signer, &r->next);
		if (rc != ESTKIT_OK)
			*err = estd_strfmt("[ca] next_key %s does not match next_cert %s, or it "
					   "is not a CA certificate", cfg->ca_next_key,
					   cfg->ca_next_cert);
		else
			signer = NULL; /* the CA's now */
	}
	estd_signer_free(signer);
	X509_free(cert);
	return rc;
}

/* RFC 4210 4.4: link_certs must hold NewWithOld and OldWithNew for this pair. */
static enum estkit_status check_links(const struct estd_config *cfg, struct estd_ca *old,
				      struct estd_rollover *r, char **err)
{
	STACK_OF(X509) *all = NULL;
	struct estkit_rollover_roles roles;
	X509 *nwn = estd_ca_cert(r->next);
	enum estkit_status rc;

	rc = estkit_certs_load(cfg->ca_link_certs, &all);
	if (rc != ESTKIT_OK) {
		*err = estd_strfmt("cannot read [ca] link_certs %s: %s", cfg->ca_link_certs,
				   estkit_strerror(rc));
		return rc;
	}
	rc = ESTKIT_ENOMEM;
	if (!push_ref(all, estd_ca_cert(old)) || !push_ref(all, nwn))
		goto out;
	rc = estkit_rollover_classify(all, estd_ca_cert(old), &roles);
	if (rc == ESTKIT_OK && (roles.new_with_new != nwn || roles.new_with_old == NULL ||
				roles.old_with_new == NULL)) {
		*err = estd_strfmt("[ca] link_certs %s lacks a NewWithOld or OldWithNew "
				   "certificate linking %s and %s (RFC 4210 4.4); next_cert must be "
				   "self-signed", cfg->ca_link_certs, cfg->ca_cert, cfg->ca_next_cert);
		rc = ESTKIT_EINVAL;
	}
	if (rc != ESTKIT_OK)
		goto out;
	rc = ESTKIT_ECRYPTO;
	if (!X509_up_ref(roles.new_with_old))
		goto out;
	r->new_with_old = roles.new_with_old;
	if (!X509_up_ref(roles.old_with_new))
		goto out;
	r->old_with_new = roles.old_with_new;
	rc = ESTKIT_OK;
out:
	sk_X509_pop_free(all, X509_free);
	return rc;
}

/* RFC 7030 4.1.3 / A.1: OldWithOld (and its chain), NewWithOld, OldWithNew, NewWithNew. */
static enum estkit_status build_cacerts(struct estd_rollover *r, STACK_OF(X509) *base)
{
	int i;

	r->cacerts = sk_X509_new_null();
	if (r->cacerts == NULL)
		return ESTKIT_ENOMEM;
	for (i = 0; i < sk_X509_num(base); i++)
		if (!push_ref(r->cacerts, sk_X509_value(base, i)))
			return ESTKIT_ENOMEM;
	if (!push_ref(r->cacerts, r->new_with_old) || !push_ref(r->cacerts, r->old_with_new) ||
	    !push_ref(r->cacerts, estd_ca_cert(r->next)))
		return ESTKIT_ENOMEM;
	return ESTKIT_OK;
}

enum estkit_status estd_rollover_load(const struct estd_config *cfg, struct estd_ca *old,
				      STACK_OF(X509) *cacerts, struct estd_rollover **out,
				      char **err)
{
	struct estd_rollover *r = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	*err = NULL;
	*out = NULL;
	if (cfg == NULL || old == NULL || cacerts == NULL)
		return ESTKIT_EINVAL;
	if (cfg->ca_next_cert == NULL)
		return ESTKIT_OK;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto out;
	r->switch_at = cfg->ca_switch_at;
	rc = load_next(cfg, r, err);
	if (rc == ESTKIT_OK)
		rc = check_links(cfg, old, r, err);
	if (rc == ESTKIT_OK)
		rc = build_cacerts(r, cacerts);
	if (rc != ESTKIT_OK)
		goto out;
	*out = r;
	r = NULL;
out:
	if (rc != ESTKIT_OK && *err == NULL)
		*err = estd_strfmt("cannot load the CA rollover: %s", estkit_strerror(rc));
	estd_rollover_free(r);
	return rc;
}

void estd_rollover_free(struct estd_rollover *r)
{
	if (r == NULL)
		return;
	estd_ca_free(r->next);
	X509_free(r->new_with_old);
	X509_free(r->old_with_new);
	sk_X509_pop_free(r->cacerts, X509_free);
	free(r);
}

STACK_OF(X509) *estd_rollover_cacerts(const struct estd_rollover *r)
{
	return r->cacerts;
}

struct estd_ca *estd_rollover_next_ca(const struct estd_rollover *r)
{
	return r->next;
}

X509 *estd_rollover_new_with_old(const struct estd_rollover *r)
{
	return r->new_with_old;
}

int estd_rollover_switched(const struct estd_rollover *r, time_t now)
{
	return r != NULL && r->switch_at >= 0 && (long long)now >= r->switch_at;
}
