/*
 * estkit/serverkeygen.h - helpers for server-side key generation (RFC 7030
 * 4.4): the CSR attributes that ask for the private key to be encrypted, and
 * opening an encrypted key. The HTTP side is estkit_client_serverkeygen()
 * (client.h) and the serverkeygen backend callback (server.h).
 */
#ifndef ESTKIT_SERVERKEYGEN_H
#define ESTKIT_SERVERKEYGEN_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* id-aa-decryptKeyID (RFC 4108 2.2.5) and id-aa-asymmDecryptKeyID (RFC 7030 4.4.1.2) */
#define ESTKIT_OID_DECRYPT_KEY_ID       "1.2.840.113549.1.9.16.2.37"
#define ESTKIT_OID_ASYMM_DECRYPT_KEY_ID "1.2.840.113549.1.9.16.2.54"
#define ESTKIT_KEY_ID_MAX 256 /* bytes of a key identifier we accept */

/* Which attribute: symmetric (DecryptKeyIdentifier) or asymmetric. */
enum estkit_key_id_kind { ESTKIT_KEY_ID_SYMMETRIC = 0, ESTKIT_KEY_ID_ASYMMETRIC = 1 };

/*
 * Adds the attribute kind with the OCTET STRING id to csr and, when
 * sign_key is not NULL, signs csr again with it (the attribute is part of
 * the signed content). ESTKIT_EINVAL for an empty id or one over
 * ESTKIT_KEY_ID_MAX bytes, ESTKIT_EEXIST when csr already has the attribute.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_add_key_id(X509_REQ *csr, enum estkit_key_id_kind kind, const unsigned char *id,
		      size_t len, EVP_PKEY *sign_key);

/*
 * Reads the attribute kind of csr: ESTKIT_OK with *id (caller frees with
 * estkit_free()) and *len; ESTKIT_ENOTFOUND when absent; ESTKIT_EPARSE when
 * the attribute is not exactly one non-empty OCTET STRING of at most
 * ESTKIT_KEY_ID_MAX bytes, or appears twice.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_csr_get_key_id(X509_REQ *csr, enum estkit_key_id_kind kind, unsigned char **id,
		      size_t *len);

/*
 * Opens a server-generated key delivered as CMS (application/pkcs7-mime;
 * smime-type=server-generated-key, RFC 7030 4.4.2): EnvelopedData, decrypted
 * with the symmetric key kek (when kek is not NULL) or with pkey/cert (the
 * recipient's key and certificate), around a SignedData whose content is the
 * PKCS#8 PrivateKeyInfo. The SignedData's signature is checked against
 * signer_trust when it is not NULL (the EST server's trust anchors).
 * *out is the caller's. All inputs are borrowed.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_serverkeygen_key_decrypt(const unsigned char *der, size_t len, const unsigned char *kek,
				size_t keklen, EVP_PKEY *pkey, X509 *cert,
				STACK_OF(X509) *signer_trust, EVP_PKEY **out);

/* Parses a DER PKCS#8 PrivateKeyInfo (the application/pkcs8 part). *out is the caller's. */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_pkcs8_decode(const unsigned char *der, size_t len, EVP_PKEY **out);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_SERVERKEYGEN_H */
