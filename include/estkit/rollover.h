/*
 * estkit/rollover.h - root CA key update: the four certificates of a
 * rollover and which new root a client may trust (RFC 7030 4.1.3,
 * RFC 4210 4.4).
 *
 * During a rollover a CA answers /cacerts with
 *   OldWithOld  the old self-signed root,
 *   OldWithNew  the old public key, signed by the new key,
 *   NewWithOld  the new public key, signed by the old key,
 *   NewWithNew  the new self-signed root.
 * A client that trusts the old root accepts the new one only through a
 * NewWithOld certificate: signed by the old (trusted) key, carrying the new
 * root's public key. Certificates are matched by public key and signature,
 * not by name: the names of the four may or may not be equal.
 */
#ifndef ESTKIT_ROLLOVER_H
#define ESTKIT_ROLLOVER_H

#include <openssl/x509.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The roles found in a set of CA certificates. Borrowed from the set; NULL when absent. */
struct estkit_rollover_roles {
	X509 *old_with_old;
	X509 *old_with_new;
	X509 *new_with_old;
	X509 *new_with_new;
};

/*
 * Classifies certs relative to old_root (the root the caller trusts):
 * old_with_old is a self-signed certificate with old_root's key;
 * new_with_old a certificate with another key whose signature verifies with
 * old_root's key and whose issuer is old_root's subject; new_with_new a
 * self-signed certificate with another key (the one new_with_old carries
 * when there is such a link); old_with_new a certificate with old_root's key
 * signed by new_with_new. Other certificates (intermediates) get no role.
 * ESTKIT_EINVAL on NULL arguments; ESTKIT_OK otherwise (roles may be NULL).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_rollover_classify(STACK_OF(X509) *certs, X509 *old_root,
			 struct estkit_rollover_roles *out);

/*
 * 1 when root (a self-signed CA certificate in certs) may be trusted by a
 * client that trusts the roots in trusted: its public key is a trusted
 * root's key, or certs holds a NewWithOld link for it, issued and signed by
 * a trusted root. 0 otherwise (not self-signed, not a CA, not linked).
 */
ESTKIT_API int estkit_rollover_root_linked(X509 *root, STACK_OF(X509) *certs,
					   STACK_OF(X509) *trusted);

/*
 * What a client that trusts `trusted` may keep of certs (a /cacerts answer):
 * every self-signed root that estkit_rollover_root_linked() accepts, and
 * every other certificate whose signature chains to one of those within
 * certs (link certificates, intermediates). *out is a new stack of new
 * references (caller frees with sk_X509_pop_free(.., X509_free)), in the
 * order of certs. *known (may be NULL) counts roots whose key is already
 * trusted, *rejected (may be NULL) self-signed roots left out.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_rollover_filter(STACK_OF(X509) *certs, STACK_OF(X509) *trusted, STACK_OF(X509) **out,
		       int *known, int *rejected);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_ROLLOVER_H */
