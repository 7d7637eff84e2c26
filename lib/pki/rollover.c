/*
 * rollover.c - root CA key update on the client side: classify the
 * OldWithOld / OldWithNew / NewWithOld / NewWithNew certificates of a
 * /cacerts answer and decide which new root a client may trust
 * (RFC 7030 4.1.3, RFC 4210 4.4). Matching is by public key and signature.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/rollover.h>

/* 1 when a and b carry the same public key. */
static int same_key(X509 *a, X509 *b)
{
	EVP_PKEY *ka = X509_get0_pubkey(a), *kb = X509_get0_pubkey(b);

	return ka != NULL && kb != NULL && EVP_PKEY_eq(ka, kb) == 1;
}

/* 1 when cert names issuer's subject as its issuer and issuer's key verifies its signature. */
static int issued_by(X509 *cert, X509 *issuer)
{
	EVP_PKEY *key = X509_get0_pubkey(issuer);
	int ok;

	if (key == NULL ||
	    X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0)
		return 0;
	ERR_set_mark();
	ok = X509_verify(cert, key) == 1;
	ERR_pop_to_mark();
	return ok;
}

static int self_signed(X509 *cert)
{
	return issued_by(cert, cert);
}

/* The first certificate in certs with key's key that issued_by(x, signer) holds for. */
static X509 *find_link(STACK_OF(X509) *certs, X509 *key, X509 *signer)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (x != key && same_key(x, key) && !self_signed(x) && issued_by(x, signer))
			return x;
	}
	return NULL;
}

enum estkit_status estkit_rollover_classify(STACK_OF(X509) *certs, X509 *old_root,
					    struct estkit_rollover_roles *out)
{
	X509 *link = NULL;
	int i;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (certs == NULL || old_root == NULL || out == NULL)
		return ESTKIT_EINVAL;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!self_signed(x))
			continue;
		if (same_key(x, old_root)) {
			if (out->old_with_old == NULL)
				out->old_with_old = x;
			continue;
		}
		/* RFC 4210 4.4: the new root is the one the old key vouches for. */
		if (out->new_with_old != NULL)
			continue;
		link = find_link(certs, x, old_root);
		if (link != NULL || out->new_with_new == NULL) {
			out->new_with_new = x;
			out->new_with_old = link;
		}
	}
	if (out->new_with_new != NULL)
		out->old_with_new = find_link(certs, old_root, out->new_with_new);
	return ESTKIT_OK;
}

int estkit_rollover_root_linked(X509 *root, STACK_OF(X509) *certs, STACK_OF(X509) *trusted)
{
	int i;

	if (root == NULL || trusted == NULL || !self_signed(root) || X509_check_ca(root) == 0)
		return 0;
	for (i = 0; i < sk_X509_num(trusted); i++)
		if (same_key(root, sk_X509_value(trusted, i)))
			return 1;
	if (certs == NULL)
		return 0;
	/* A NewWithOld: the new key, signed by a key the client already trusts. */
	for (i = 0; i < sk_X509_num(trusted); i++) {
		X509 *t = sk_X509_value(trusted, i);

		if (self_signed(t) && find_link(certs, root, t) != NULL)
			return 1;
	}
	return 0;
}

/* Marks the certificates that chain by signature to a kept one, until nothing changes. */
static void keep_chained(STACK_OF(X509) *certs, char *kept)
{
	int n = sk_X509_num(certs), changed = 1, i, j;

	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			X509 *x = sk_X509_value(certs, i);

			for (j = 0; !kept[i] && j < n; j++) {
				if (kept[j] && i != j && issued_by(x, sk_X509_value(certs, j))) {
					kept[i] = 1;
					changed = 1;
				}
			}
		}
	}
}

/* Marks the acceptable roots; counts the known and the rejected ones. */
static void keep_roots(STACK_OF(X509) *certs, STACK_OF(X509) *trusted, char *kept, int *known,
		       int *rejected)
{
	int i, j;

	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!self_signed(x))
			continue;
		kept[i] = (char)estkit_rollover_root_linked(x, certs, trusted);
		if (!kept[i]) {
			(*rejected)++;
			continue;
		}
		for (j = 0; j < sk_X509_num(trusted); j++) {
			if (same_key(x, sk_X509_value(trusted, j))) {
				(*known)++;
				break;
			}
		}
	}
}

enum estkit_status estkit_rollover_filter(STACK_OF(X509) *certs, STACK_OF(X509) *trusted,
					  STACK_OF(X509) **out, int *known, int *rejected)
{
	char *kept = NULL;
	int nknown = 0, nrejected = 0, i;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (out != NULL)
		*out = NULL;
	if (certs == NULL || trusted == NULL || out == NULL)
		return ESTKIT_EINVAL;
	kept = calloc((size_t)sk_X509_num(certs) + 1, 1);
	*out = sk_X509_new_null();
	if (kept == NULL || *out == NULL)
		goto out;
	keep_roots(certs, trusted, kept, &nknown, &nrejected);
	keep_chained(certs, kept);
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		if (!kept[i])
			continue;
		if (!X509_up_ref(x))
			goto out;
		if (!sk_X509_push(*out, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (known != NULL)
		*known = nknown;
	if (rejected != NULL)
		*rejected = nrejected;
	rc = ESTKIT_OK;
out:
	if (rc != ESTKIT_OK) {
		sk_X509_pop_free(*out, X509_free);
		*out = NULL;
	}
	free(kept);
	return rc;
}
