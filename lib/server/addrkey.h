/*
 * addrkey.h - the key of a peer address and its keyed hash, shared by the
 * per-address tables of the server: brute-force protection (authfail.c),
 * the connection limit (connlim.c) and the TLS-SRP lockout check
 * (tls_srp.c).
 *
 * A key is 16 bytes: an IPv4 address as its IPv4-mapped IPv6 address (a
 * mapped address stays whole), an IPv6 address cut to its /64 (one IPv6 host
 * usually holds a whole /64). The hash is keyed with a random secret drawn
 * per table, so that a peer choosing its addresses cannot aim them at one
 * bucket or probe window.
 */
#ifndef EK_ADDRKEY_H
#define EK_ADDRKEY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EK_ADDRKEY_LEN 16

/* The secret of one table's hash. */
struct ek_addrhash {
	uint64_t k0, k1;
};

/* The key of a socket address. 0, or -1 for another family or a short length. */
int ek_addrkey_sockaddr(const struct sockaddr *sa, socklen_t len,
			unsigned char key[EK_ADDRKEY_LEN]);
/*
 * The key of a peer written "a.b.c.d:port", "[v6]:port" or as a bare
 * address (as evhttp reports it). 0 or -1 (NULL, a name, malformed).
 */
int ek_addrkey_text(const char *peer, unsigned char key[EK_ADDRKEY_LEN]);
/*
 * The key of the peer of the connected socket fd; with host (may be NULL),
 * also the peer address as text (hostsz >= INET6_ADDRSTRLEN). 0 or -1.
 */
int ek_addrkey_fd(int fd, unsigned char key[EK_ADDRKEY_LEN], char *host, size_t hostsz);
/* Draws a fresh random secret into h (RAND_bytes). 0, or -1 when no randomness. */
int ek_addrhash_init(struct ek_addrhash *h);
/* The keyed 64-bit hash of key under h. */
uint64_t ek_addrhash(const struct ek_addrhash *h, const unsigned char key[EK_ADDRKEY_LEN]);

#endif
