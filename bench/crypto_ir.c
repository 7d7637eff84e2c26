/*
 * bench/crypto_ir.c - the public-key work of one keep-alive enrollment, alone:
 * N times one ECDSA P-256 signature (the certificate) and one verification
 * (the CSR's self-signature), each with SHA-256 over a message of a
 * to-be-signed certificate's size. bench/callgrind.sh runs it under
 * callgrind with two values of N; the difference divided by the difference
 * of N is the instruction count of the crypto alone, against which estd's
 * instructions per enrollment are compared.
 *
 *   crypto_ir N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define MSG_LEN 420 /* about the DER size of a P-256 to-be-signed certificate */

static int sign_verify(EVP_PKEY *key, EVP_MD *md, const unsigned char *msg)
{
	unsigned char sig[128];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
	int rc = -1;

	if (s == NULL || v == NULL)
		goto out;
	if (EVP_DigestSignInit(s, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(s, sig, &siglen, msg, MSG_LEN) != 1)
		goto out;
	if (EVP_DigestVerifyInit(v, NULL, md, NULL, key) != 1 ||
	    EVP_DigestVerify(v, sig, siglen, msg, MSG_LEN) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned char msg[MSG_LEN];
	EVP_PKEY *key = NULL;
	EVP_MD *md = NULL;
	char *end = NULL;
	long i, n;
	int rc = 1;

	n = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end != '\0' || n < 0 || n > 1000000) {
		fprintf(stderr, "usage: crypto_ir N (0..1000000)\n");
		return 2;
	}
	memset(msg, 0x5a, sizeof(msg));
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (key == NULL || md == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (sign_verify(key, md, msg) != 0)
			goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "crypto_ir: OpenSSL failed\n");
	EVP_MD_free(md);
	EVP_PKEY_free(key);
	return rc;
}
