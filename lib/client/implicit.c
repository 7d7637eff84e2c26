/*
 * implicit.c - the client's implicit trust anchor database (RFC 7030 3.6,
 * 3.6.2, 4.1.1): third-party CAs (a file or the system bundle) that may
 * authenticate an EST server for the bootstrap /cacerts only. They live
 * apart from the explicit anchors (c->trust) as RFC 7030 3.3.1 requires:
 * a transfer uses one database or the other, never both, so the
 * authorization rule that applies (3.6.1 or 3.6.2) is always known.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "client/client_internal.h"

/* See client_internal.h. */
void ek_client_implicit_clear(struct estkit_client *c)
{
	ek_certs_free(c->implicit);
	c->implicit = NULL;
	c->implicit_system = 0;
	c->implicit_all_ops = 0;
}

/* See estkit/client.h. */
enum estkit_status estkit_client_set_implicit_trust(struct estkit_client *c, const char *source,
                                                    int all_ops)
{
	STACK_OF(X509) *cas = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (c == NULL)
		return ESTKIT_EINVAL;
	if (source != NULL && source[0] == '\0')
		return ek_client_fail(c, ESTKIT_EINVAL, "empty implicit trust anchor source");
	if (source != NULL && strcmp(source, "system") != 0) {
		rc = estkit_certs_load(source, &cas);
		ERR_clear_error();
		if (rc != ESTKIT_OK)
			return ek_client_fail(c, rc, "cannot load implicit trust anchors from %s: %s",
			                      source, estkit_strerror(rc));
	}
	ek_client_implicit_clear(c);
	ek_client_drop_connection(c); /* no connection authorized otherwise is reused */
	c->implicit = cas;
	c->implicit_system = source != NULL && cas == NULL;
	c->implicit_all_ops = source != NULL && all_ops != 0;
	return ESTKIT_OK;
}

/* See client_internal.h. */
int ek_client_use_implicit(const struct estkit_client *c, const char *op)
{
	if (c->trust != NULL || (c->implicit == NULL && !c->implicit_system))
		return 0;
	/* RFC 7030 4.1.1: the client MAY use implicit TAs for /cacerts */
	return c->implicit_all_ops || strcmp(op, "cacerts") == 0;
}

/* See client_internal.h. */
int ek_client_implicit_store(const struct estkit_client *c, X509_STORE *st)
{
	int i = 0;

	if (c->implicit_system && X509_STORE_set_default_paths(st) != 1)
		return -1;
	for (i = 0; i < sk_X509_num(c->implicit); i++)
		if (!X509_STORE_add_cert(st, sk_X509_value(c->implicit, i)))
			return -1;
	return 0;
}
