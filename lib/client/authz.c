/*
 * authz.c - EST server authorization (RFC 7030 3.6, 3.6.1). With the explicit
 * trust anchors the client accepts a server whose certificate matches the
 * URL's host (RFC 6125 6.4; normally libcurl checks that) or, when the
 * caller allowed it with estkit_client_set_accept_ra(), one whose certificate
 * carries the id-kp-cmcRA extended key usage (RFC 6402 2.10). The same rule
 * applies to the chain a transport hook reports (hook.c).
 */
#include <openssl/x509v3.h>

#include "client/client_internal.h"

/* 1 when cert's extendedKeyUsage lists id-kp-cmcRA. */
static int has_cmc_ra(X509 *cert)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
	int i, found = 0;

	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA)
			found = 1;
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return found;
}

/* RFC 6125 6.4 against the configured URL's host. */
static int host_matches(X509 *cert, const struct ek_url *u)
{
	if (u->host_is_ip)
		return X509_check_ip_asc(cert, u->host, 0) == 1;
	return X509_check_host(cert, u->host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/* See client_internal.h. */
int ek_client_verify_authz(X509_STORE_CTX *sctx, void *arg)
{
	struct estkit_client *c = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	int ok = X509_verify_cert(sctx);

	if (ok <= 0 || leaf == NULL)
		return ok;
	if (host_matches(leaf, &c->url))
		return 1;
	if (has_cmc_ra(leaf)) {
		ek_client_log(c, "server certificate does not name %s but carries id-kp-cmcRA: "
		                 "authorized (RFC 7030 3.6.1, --accept-ra)",
		              c->url.host);
		return 1;
	}
	X509_STORE_CTX_set_error(sctx, X509_V_ERR_HOSTNAME_MISMATCH);
	return 0;
}

/* The verification error of ctx, or why the name did not match. */
static enum estkit_status not_authorized(struct estkit_client *c, X509_STORE_CTX *ctx)
{
	int err = X509_STORE_CTX_get_error(ctx);

	if (err == X509_V_ERR_HOSTNAME_MISMATCH || err == X509_V_ERR_IP_ADDRESS_MISMATCH ||
	    err == X509_V_OK)
		return ek_client_fail(c, ESTKIT_ETLS, "server certificate does not match %s%s "
		                      "(RFC 7030 3.6.1, RFC 6125)", c->url.host,
		                      c->accept_ra ? " and does not carry id-kp-cmcRA" : "");
	return ek_client_fail(c, ESTKIT_ETLS, "server certificate not trusted: %s "
	                      "(RFC 7030 3.6.1)", X509_verify_cert_error_string(err));
}

/* See client_internal.h. */
enum estkit_status ek_client_authorize_chain(struct estkit_client *c, STACK_OF(X509) * chain)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = sk_X509_value(chain, 0);
	enum estkit_status rc = ESTKIT_ENOMEM;
	int ok = 0;

	if (leaf == NULL)
		return ek_client_fail(c, ESTKIT_EINVAL, "the transport reported no server certificate");
	if (c->trust == NULL)
		return ek_client_fail(c, ESTKIT_ETLS, "no trust anchors: set explicit trust "
		                                      "(RFC 7030 3.6.1)");
	if ((st = ek_client_anchor_store(c)) == NULL || (ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, st, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER) != 1) {
		rc = ek_client_fail(c, ESTKIT_ENOMEM, "cannot set up the certificate check");
		goto out;
	}
	/* the checks of the libcurl transport: its verify callback, or curl's host check */
	if (c->accept_ra) {
		ok = ek_client_verify_authz(ctx, c) == 1;
	} else if (X509_verify_cert(ctx) == 1) {
		ok = host_matches(leaf, &c->url);
		if (!ok)
			X509_STORE_CTX_set_error(ctx, X509_V_ERR_HOSTNAME_MISMATCH);
	}
	rc = ok ? ESTKIT_OK : not_authorized(c, ctx);
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

void estkit_client_set_accept_ra(struct estkit_client *c, int on)
{
	if (c == NULL)
		return;
	c->accept_ra = on != 0;
	ek_client_drop_connection(c); /* a connection authorized otherwise is not reused */
}
