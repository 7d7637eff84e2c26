/* mem.c - freeing buffers that libestkit hands out. */
#include <openssl/crypto.h>
#include <estkit/pki.h>

/*
 * Buffers of libestkit come from OPENSSL_malloc() so that buffers produced
 * by OpenSSL (i2d, BN_bn2hex) can be returned as they are.
 */
void estkit_free(void *p)
{
	OPENSSL_free(p);
}

/* Wipes len bytes and frees: for keys, passwords and PEM that held a key. */
void estkit_free_secret(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_clear_free(p, len);
}
