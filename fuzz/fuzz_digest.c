/*
 * fuzz_digest.c - HTTP Digest (RFC 7616) on the server: the Authorization
 * header parser ek_digest_parse(), then what authentication does with the
 * parsed fields: the nonce MAC check and the expected response for both
 * algorithms. Input: the Authorization header value.
 */
#include <openssl/evp.h>
#include "server/server_internal.h"
#include "fuzz_common.h"

/* One nonce key per process (fixed, so runs are reproducible). */
static struct ek_digest *digest(void)
{
	static const unsigned char secret[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static struct ek_digest *d;

	if (d == NULL && (d = ek_digest_new(secret, sizeof(secret), 300, 64)) == NULL)
		abort();
	return d;
}

/* The nonce and response paths a parsed header reaches in ek_digest_authenticate(). */
static void use(const struct ek_digest_params *p)
{
	static const unsigned char ha1[32] = { 0x42 };
	char out[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char key[16];
	int64_t ts = 0;

	if (p->nonce != NULL &&
	    ek_digest_nonce_check(digest(), "estkit", p->nonce, 1700000000, &ts, key) ==
		    EK_NONCE_OK)
		(void)ek_digest_nc_accept(digest(), key, ts, 1);
	(void)ek_digest_response("SHA-256", ha1, sizeof(ha1), p, "POST", out);
	(void)ek_digest_response(NULL, ha1, 16, p, "GET", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ek_digest_params p; /* large: keep it off the stack */
	char *authz = fz_strndup(data, size);

	if (ek_digest_parse(authz, &p) == 0)
		use(&p);
	free(authz);
	ERR_clear_error();
	return 0;
}
