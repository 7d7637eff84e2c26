/*
 * keyfile.c - private keys to and from files. Keys are never encrypted here
 * and never prompt: file permissions (0600) protect them.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Refuses every passphrase request, so an encrypted key fails instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* A DER private key (PKCS#8 or traditional) covering all of der. */
static EVP_PKEY *key_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)len);

	if (key != NULL && p != der + len) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* See pki_internal.h. Sniffs PEM, DER, or base64 of DER (RFC 7030 4.4.2 pkcs8 bodies). */
EVP_PKEY *ek_key_parse(const unsigned char *in, size_t len)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	EVP_PKEY *key = NULL;
	BIO *bio;

	if (ek_pki_looks_pem(in, len)) {
		if ((bio = BIO_new_mem_buf(in, (int)len)) == NULL)
			return NULL;
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
		return key;
	}
	if (in[0] == 0x30 && (key = key_from_der(in, len)) != NULL)
		return key;
	if (!ek_pki_looks_b64(in, len) ||
	    estkit_b64_decode((const char *)in, len, &der, &derlen) != ESTKIT_OK)
		return NULL;
	key = key_from_der(der, derlen);
	estkit_free_secret(der, derlen);
	return key;
}

/* See estkit/pki.h. Also accepts base64 of DER as server-keygen bodies carry it. */
enum estkit_status estkit_key_load(const char *path, EVP_PKEY **out)
{
	enum estkit_status rc;
	unsigned char *buf = NULL;
	size_t len = 0;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((rc = estkit_file_read(path, &buf, &len)) != ESTKIT_OK)
		return rc;
	ERR_set_mark();
	if (len > 0 && (*out = ek_key_parse(buf, len)) != NULL) {
		ERR_pop_to_mark();
		rc = ESTKIT_OK;
	} else {
		ERR_clear_last_mark();
		rc = ESTKIT_EPARSE;
	}
	estkit_free_secret(buf, len);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_key_save(const char *path, EVP_PKEY *key)
{
	enum estkit_status rc = ESTKIT_ECRYPTO;
	BUF_MEM *mem = NULL;
	BIO *bio = NULL;

	if (path == NULL || key == NULL)
		return ESTKIT_EINVAL;
	/* A secure-memory BIO wipes the PEM text when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return ESTKIT_ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	if (BIO_get_mem_ptr(bio, &mem) <= 0 || mem == NULL)
		goto out;
	rc = estkit_file_write_atomic(path, mem->data, mem->length, 0600);
out:
	BIO_free(bio);
	return rc;
}
