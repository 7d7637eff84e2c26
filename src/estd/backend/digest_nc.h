/*
 * digest_nc.h - estd's backend->digest_nc: HTTP Digest nonce-counts kept in
 * a store shared by every node (PostgreSQL), so a replay is refused
 * whichever node it reaches (RFC 7616 3.4).
 */
#ifndef ESTD_BACKEND_DIGEST_NC_H
#define ESTD_BACKEND_DIGEST_NC_H

#include <stdint.h>

/*
 * The estkit_backend.digest_nc callback; ctx is the struct estd_backend_ca.
 * 1 accepted, 0 replay, -1 the store cannot tell now (logged). Job pool.
 */
int estd_backend_digest_nc(void *ctx, const unsigned char key[16], int64_t issued, uint32_t nc);

#endif /* ESTD_BACKEND_DIGEST_NC_H */
