/*
 * digest_nc.c - HTTP Digest nonce-counts in the shared store (digest_nc.h).
 *
 * One upsert per Digest-authenticated request, on the job pool (the server
 * authenticates there, never on an event loop): the price of refusing a
 * replayed nonce-count on any node, not just the one that saw it first.
 */
#include "backend/digest_nc.h"
#include "backend/ca.h"
#include "backend/cmc.h"
#include "store/store.h"

#include <time.h>

/* The longest digest_nonce_lifetime estd accepts, plus clock skew: older entries are dead. */
#define FORGET_AFTER (86400 + 120)

/* See digest_nc.h. */
int estd_backend_digest_nc(void *ctx, const unsigned char key[16], int64_t issued, uint32_t nc)
{
	struct estd_backend_ca *b = ctx;
	enum estkit_status rc;

	rc = estd_store_digest_nc(estd_backend_ca_store(b), key, (long long)issued,
				  (unsigned long)nc, (long long)time(NULL) - FORGET_AFTER);
	if (rc == ESTKIT_OK)
		return 1;
	if (rc == ESTKIT_EEXIST)
		return 0;
	estd_backend_ca_log(b, ESTKIT_LOG_ERROR, "digest nonce-count check failed: %s (%s)",
			    estd_store_errmsg(estd_backend_ca_store(b)), estkit_strerror(rc));
	return -1;
}
