/*
 * save.c - certificates and requests written as PEM files.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Writes the contents of a memory BIO to path atomically. */
static enum estkit_status bio_save(const char *path, BIO *bio, mode_t mode)
{
	BUF_MEM *mem = NULL;

	if (BIO_get_mem_ptr(bio, &mem) <= 0 || mem == NULL)
		return ESTKIT_EINTERNAL;
	return estkit_file_write_atomic(path, mem->data, mem->length, mode);
}

/* See estkit/pki.h. */
enum estkit_status estkit_certs_save(const char *path, STACK_OF(X509) *certs)
{
	enum estkit_status rc = ESTKIT_ECRYPTO;
	BIO *bio = NULL;

	if (path == NULL || certs == NULL || sk_X509_num(certs) < 1)
		return ESTKIT_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		if (!PEM_write_bio_X509(bio, sk_X509_value(certs, i)))
			goto out;
	}
	rc = bio_save(path, bio, 0644);
out:
	BIO_free(bio);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_cert_save(const char *path, X509 *cert)
{
	enum estkit_status rc = ESTKIT_ECRYPTO;
	BIO *bio = NULL;

	if (path == NULL || cert == NULL)
		return ESTKIT_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	if (PEM_write_bio_X509(bio, cert))
		rc = bio_save(path, bio, 0644);
	BIO_free(bio);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_csr_save(const char *path, X509_REQ *csr)
{
	enum estkit_status rc = ESTKIT_ECRYPTO;
	BIO *bio = NULL;

	if (path == NULL || csr == NULL)
		return ESTKIT_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	if (PEM_write_bio_X509_REQ(bio, csr))
		rc = bio_save(path, bio, 0644);
	BIO_free(bio);
	return rc;
}
