/*
 * bootstrap.c - deciding whether to believe an unauthenticated /cacerts
 * answer (RFC 7030 4.1.1). The user vouches for one CA certificate by its
 * SHA-256 fingerprint; we accept the answer only when that certificate was
 * returned AND the TLS server we talked to chains up to it for the host we
 * asked for. Checking only the fingerprint would let a man in the middle
 * return the genuine CA next to his own and serve his own TLS certificate.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "client/client_internal.h"

/* "a1b2..., c3d4..." of certs, truncated to fit buf. */
static void list_fingerprints(STACK_OF(X509) * certs, char *buf, size_t len)
{
	char fp[65];
	size_t used = 0;
	int i = 0;
	int n = 0;

	buf[0] = '\0';
	for (i = 0; i < sk_X509_num(certs) && used + 1 < len; i++) {
		if (estkit_cert_fingerprint(sk_X509_value(certs, i), fp) != ESTKIT_OK)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "", fp);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (used >= len)
		used = len - 1;
	buf[used] = '\0';
}

static enum estkit_status no_match(struct estkit_client *c, STACK_OF(X509) * returned)
{
	char seen[600];

	list_fingerprints(returned, seen, sizeof(seen));
	return ek_client_fail(c, ESTKIT_EUNTRUSTED,
	                      "no returned CA certificate has the given fingerprint; SHA-256 of "
	                      "the certificates received: %s",
	                      seen);
}

static enum estkit_status build_untrusted(STACK_OF(X509) * returned, STACK_OF(X509) * peer,
                                          STACK_OF(X509) * *out)
{
	STACK_OF(X509) *u = sk_X509_new_null();
	int i = 0;

	*out = NULL;
	if (u == NULL)
		return ESTKIT_ENOMEM;
	/* Borrowed pointers: the stack is freed with sk_X509_free only. */
	for (i = 0; i < sk_X509_num(returned); i++)
		if (!sk_X509_push(u, sk_X509_value(returned, i)))
			goto fail;
	for (i = 1; i < sk_X509_num(peer); i++)
		if (!sk_X509_push(u, sk_X509_value(peer, i)))
			goto fail;
	*out = u;
	return ESTKIT_OK;
fail:
	sk_X509_free(u);
	return ESTKIT_ENOMEM;
}

static int set_host(struct estkit_client *c, X509_VERIFY_PARAM *param)
{
	if (c->url.host_is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(param, c->url.host);
	return X509_VERIFY_PARAM_set1_host(param, c->url.host, 0);
}

enum estkit_status ek_client_bootstrap_check(struct estkit_client *c, STACK_OF(X509) * returned,
                                             STACK_OF(X509) * peer_chain, const char *fingerprint)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *vctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509_VERIFY_PARAM *param = NULL;
	X509 *leaf = NULL;
	char leaf_fp[65] = "";
	int i = 0;
	int matches = 0;
	int err = 0;
	enum estkit_status rc = ESTKIT_EUNTRUSTED;

	if (peer_chain == NULL || sk_X509_num(peer_chain) < 1)
		return ek_client_fail(c, rc, "could not read the server's TLS certificate");
	leaf = sk_X509_value(peer_chain, 0);
	if ((st = X509_STORE_new()) == NULL || (vctx = X509_STORE_CTX_new()) == NULL) {
		rc = ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
		goto out;
	}
	/* Only the vouched-for certificates are anchors; the rest may be intermediates. */
	for (i = 0; i < sk_X509_num(returned); i++) {
		X509 *x = sk_X509_value(returned, i);

		if (estkit_cert_fingerprint_matches(x, fingerprint) == 1 &&
		    X509_STORE_add_cert(st, x))
			matches++;
	}
	if (matches == 0) {
		rc = no_match(c, returned);
		goto out;
	}
	if (build_untrusted(returned, peer_chain, &untrusted) != ESTKIT_OK ||
	    !X509_STORE_CTX_init(vctx, st, leaf, untrusted)) {
		rc = ek_client_fail(c, ESTKIT_ENOMEM, "out of memory");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(vctx);
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER);
	if (set_host(c, param) != 1) {
		rc = ek_client_fail(c, ESTKIT_EINTERNAL, "cannot set the host name to verify");
		goto out;
	}
	if (X509_verify_cert(vctx) != 1) {
		err = X509_STORE_CTX_get_error(vctx);
		if (estkit_cert_fingerprint(leaf, leaf_fp) != ESTKIT_OK)
			leaf_fp[0] = '\0';
		rc = ek_client_fail(c, ESTKIT_EUNTRUSTED,
		                    "the server's TLS certificate (SHA-256 %s) does not verify "
		                    "against the fingerprinted CA for host %s: %s",
		                    leaf_fp, c->url.host, X509_verify_cert_error_string(err));
		goto out;
	}
	rc = ESTKIT_OK;
out:
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(st);
	return rc;
}
