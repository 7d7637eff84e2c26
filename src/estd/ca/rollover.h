/*
 * rollover.h - root CA key update (RFC 7030 4.1.3, RFC 4210 4.4): making
 * the new root and its two link certificates, and the running server's view
 * of a rollover configured in estd.conf ([ca] next_cert, next_key,
 * link_certs, switch_at).
 */
#ifndef ESTD_CA_ROLLOVER_H
#define ESTD_CA_ROLLOVER_H

#include <time.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#include "ca/issue.h"
#include "config.h"

/* The three certificates a rollover adds to the old root (OldWithOld). */
struct estd_rollover_certs {
	X509 *new_with_new; /* the new self-signed root */
	X509 *new_with_old; /* new public key, signed by the old key, issuer = old subject */
	X509 *old_with_new; /* old public key, signed by the new key, issuer = new subject */
};

/*
 * Makes the new root for new_signer's key (subject: subject, or the old
 * root's when NULL; valid `days` days from now) and the two link
 * certificates, valid from now to the end of the old root (RFC 4210 4.4),
 * never beyond the new root. Every certificate: basicConstraints CA:TRUE
 * and keyUsage keyCertSign, cRLSign (both critical), SKI and AKI. The old
 * key signs NewWithOld through old's signer; nothing else leaves a signer.
 * On failure *err (caller frees) says why and *out is cleared.
 */
enum estkit_status estd_rollover_create(struct estd_ca *old, struct estd_signer *new_signer,
					const X509_NAME *subject, int days,
					struct estd_rollover_certs *out, char **err);

/* Frees the certificates of c and zeroes it. */
void estd_rollover_certs_clear(struct estd_rollover_certs *c);

/* A rollover in progress, as the server runs it. */
struct estd_rollover;

/*
 * Loads the rollover cfg describes ([ca] next_cert etc.) for the running CA
 * old. *out is NULL (and ESTKIT_OK) when none is configured. Checks that
 * next_key belongs to next_cert, that next_cert is a self-signed CA, and
 * that link_certs holds a NewWithOld and an OldWithNew for the pair
 * (estkit_rollover_classify). cacerts is the /cacerts answer without the
 * rollover (old root, then its chain): the rollover's answer is that plus
 * NewWithOld, OldWithNew, NewWithNew (the RFC 7030 A.1 set). On failure
 * *err (caller frees) says why.
 */
enum estkit_status estd_rollover_load(const struct estd_config *cfg, struct estd_ca *old,
				      STACK_OF(X509) *cacerts, struct estd_rollover **out,
				      char **err);

/* Frees r. NULL is a no-op. */
void estd_rollover_free(struct estd_rollover *r);

/* The /cacerts answer during the rollover. Borrowed from r. */
STACK_OF(X509) *estd_rollover_cacerts(const struct estd_rollover *r);

/* The new CA (NewWithNew and its signer). Borrowed from r. */
struct estd_ca *estd_rollover_next_ca(const struct estd_rollover *r);

/* NewWithOld: sent with certificates the new CA issues, for clients that trust only the old root. */
X509 *estd_rollover_new_with_old(const struct estd_rollover *r);

/* 1 when the new CA issues at time now ([ca] switch_at set and reached), else 0. */
int estd_rollover_switched(const struct estd_rollover *r, time_t now);

#endif /* ESTD_CA_ROLLOVER_H */
