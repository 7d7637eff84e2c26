/*
 * addrkey.c - peer address keys and their keyed hash (see addrkey.h).
 *
 * Every form of a peer address (a socket address, evhttp's text, a socket)
 * goes through ek_addrkey_sockaddr(), so the three tables that count per
 * address agree on what one address is.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "server/addrkey.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* See addrkey.h. */
int ek_addrkey_sockaddr(const struct sockaddr *sa, socklen_t len,
			unsigned char key[EK_ADDRKEY_LEN])
{
	const struct sockaddr_in *v4 = NULL;
	const struct sockaddr_in6 *v6 = NULL;

	if (sa == NULL || key == NULL || len < (socklen_t)sizeof(sa->sa_family))
		return -1;
	memset(key, 0, EK_ADDRKEY_LEN);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(*v4)) {
		v4 = (const struct sockaddr_in *)sa;
		memcpy(key, v4mapped, sizeof(v4mapped));
		memcpy(key + 12, &v4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6 || len < (socklen_t)sizeof(*v6))
		return -1;
	v6 = (const struct sockaddr_in6 *)sa;
	memcpy(key, &v6->sin6_addr, EK_ADDRKEY_LEN);
	/* a mapped IPv4 address is the IPv4 host; a real IPv6 one counts by /64 */
	if (memcmp(key, v4mapped, sizeof(v4mapped)) != 0)
		memset(key + 8, 0, 8);
	return 0;
}

/* See addrkey.h. */
int ek_addrkey_text(const char *peer, unsigned char key[EK_ADDRKEY_LEN])
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end = NULL;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	size_t len;

	if (peer == NULL)
		return -1;
	if (peer[0] == '[') { /* "[v6]:port" */
		peer++;
		end = strchr(peer, ']');
	} else { /* "a.b.c.d:port" or a bare address */
		end = strrchr(peer, ':');
		if (end == NULL || strchr(peer, ':') != end)
			end = peer + strlen(peer);
	}
	if (end == NULL || (len = (size_t)(end - peer)) == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, peer, len);
	host[len] = '\0';
	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	v4.sin_family = AF_INET;
	v6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
		return ek_addrkey_sockaddr((struct sockaddr *)&v4, sizeof(v4), key);
	if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
		return ek_addrkey_sockaddr((struct sockaddr *)&v6, sizeof(v6), key);
	return -1;
}

/* See addrkey.h. */
int ek_addrkey_fd(int fd, unsigned char key[EK_ADDRKEY_LEN], char *host, size_t hostsz)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const void *a = NULL;

	memset(&ss, 0, sizeof(ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    ek_addrkey_sockaddr((struct sockaddr *)&ss, sl, key) != 0)
		return -1;
	if (host == NULL)
		return 0;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (hostsz < INET6_ADDRSTRLEN || inet_ntop(ss.ss_family, a, host, (socklen_t)hostsz) == NULL)
		return -1;
	return 0;
}

/* See addrkey.h. */
int ek_addrhash_init(struct ek_addrhash *h)
{
	unsigned char k[16];
	int rc = -1;

	if (h == NULL || RAND_bytes(k, sizeof(k)) != 1)
		goto out;
	memcpy(&h->k0, k, 8);
	memcpy(&h->k1, k + 8, 8);
	rc = 0;
out:
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

/* MurmurHash3's 64-bit finaliser: every input bit reaches every output bit. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* See addrkey.h. */
uint64_t ek_addrhash(const struct ek_addrhash *h, const unsigned char key[EK_ADDRKEY_LEN])
{
	uint64_t lo, hi;

	memcpy(&lo, key, 8);
	memcpy(&hi, key + 8, 8);
	return fmix64(fmix64(lo ^ h->k0) ^ hi ^ h->k1);
}
