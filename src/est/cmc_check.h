/*
 * cmc_check.h - signing, sending and checking CMC messages for `est fullcmc`
 * and `est revoke` (public libestkit API only).
 */
#ifndef EST_CMC_CHECK_H
#define EST_CMC_CHECK_H

#include "common.h"

/*
 * Checks a CMC response to req: signature by one of cas, transactionId,
 * recipientNonce, every status success (failures printed). *certs (may be
 * NULL) receives the certificates it carries. Returns an exit code.
 */
int est_cmc_check(const char *cmd, const unsigned char *der, size_t len,
		  const struct estkit_cmc_req *req, STACK_OF(X509) *cas, int verbose,
		  STACK_OF(X509) **certs);

/*
 * Encodes req, signs it with key (and cert, or by subjectKeyIdentifier when
 * cert is NULL), then writes it base64 to save (when not NULL, nothing is
 * sent) or posts it to /fullcmc and checks the answer. Returns an exit code.
 */
int est_cmc_send(const char *cmd, const struct est_conn *conn, struct estkit_cmc_req *req,
		 X509 *cert, EVP_PKEY *key, const char *save, STACK_OF(X509) **certs);

/* Writes der base64-encoded to path. Returns an exit code. */
int est_save_b64(const char *cmd, const char *path, const unsigned char *der, size_t len);

#endif /* EST_CMC_CHECK_H */
