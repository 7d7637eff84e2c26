/*
 * serverkeygen.c - the job side of /serverkeygen (RFC 7030 4.4): read what
 * encryption the CSR asks for, let the backend generate the key and issue
 * its certificate, and answer multipart/mixed with the private key (PKCS#8,
 * or CMS EnvelopedData of a SignedData of it) and the certs-only PKCS#7.
 *
 * Split: the backend owns policy (key type, issuance, the store, which
 * symmetric keys exist); this file owns the wire format and the CMS, so every
 * backend gets the same, RFC-conformant encoding. Every buffer that held the
 * private key is wiped before it is freed.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <estkit/multipart.h>
#include <estkit/pki.h>
#include <estkit/serverkeygen.h>
#include "server/server_internal.h"

#define SKG_CERTS_TYPE "application/pkcs7-mime; smime-type=certs-only"
#define SKG_PKCS8_TYPE "application/pkcs8"
#define SKG_ENC_TYPE   "application/pkcs7-mime; smime-type=server-generated-key"

/* What one /serverkeygen needs besides the request. Everything is wiped. */
struct skg {
	unsigned char *symid, *asymid; /* the CSR's key identifiers */
	size_t symlen, asymlen;
	unsigned char *kek;            /* symmetric key named by symid */
	size_t keklen;
	EVP_PKEY *key;                 /* the generated key */
};

static void skg_clear(struct skg *s)
{
	estkit_free(s->symid);
	estkit_free(s->asymid);
	estkit_free_secret(s->kek, s->keklen);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
}

/* RFC 7030 4.4.1.2: the key must be usable for key transport or agreement. */
static int recipient_ok(struct estkit_request *r, const struct skg *s)
{
	X509 *c = r->peer_cert;
	const ASN1_OCTET_STRING *ski = c != NULL ? X509_get0_subject_key_id(c) : NULL;
	int type = c != NULL ? EVP_PKEY_get_base_id(X509_get0_pubkey(c)) : 0;
	uint32_t need = type == EVP_PKEY_RSA ? KU_KEY_ENCIPHERMENT : KU_KEY_AGREEMENT;

	if (c == NULL) {
		ek_request_set(r, 400, "AsymmetricDecryptKeyIdentifier needs the TLS client "
				       "certificate it names");
		return -1;
	}
	if (ski == NULL || (size_t)ASN1_STRING_length(ski) != s->asymlen ||
	    memcmp(ASN1_STRING_get0_data(ski), s->asymid, s->asymlen) != 0) {
		ek_request_set(r, 400, "AsymmetricDecryptKeyIdentifier does not match the "
				       "subjectKeyIdentifier of the TLS client certificate");
		return -1;
	}
	if ((type != EVP_PKEY_RSA && type != EVP_PKEY_EC) ||
	    ((X509_get_extension_flags(c) & EXFLAG_KUSAGE) && !(X509_get_key_usage(c) & need))) {
		ek_request_set(r, 400, "the TLS client certificate's key cannot be used for key "
				       "transport or key agreement");
		return -1;
	}
	return 0;
}

/* RFC 7030 4.4.1.1: an unknown symmetric key identifier ends the request. */
static int find_kek(struct estkit_request *r, struct skg *s)
{
	const struct estkit_backend *be = &r->srv->backend;
	enum estkit_status st = ESTKIT_ENOTFOUND;

	if (be->serverkeygen_kek != NULL)
		st = be->serverkeygen_kek(be->ctx, r, s->symid, s->symlen, &s->kek, &s->keklen);
	if (st == ESTKIT_ENOTFOUND) {
		ek_request_set(r, 400, "no key matches the DecryptKeyIdentifier");
		return -1;
	}
	if (st != ESTKIT_OK || s->kek == NULL ||
	    (s->keklen != 16 && s->keklen != 24 && s->keklen != 32)) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "serverkeygen: unusable key-encryption key");
		ek_request_set(r, 500, "internal error");
		return -1;
	}
	return 0;
}

/* Reads the CSR's DecryptKeyIdentifier / AsymmetricDecryptKeyIdentifier. */
static int encryption_request(struct estkit_request *r, struct skg *s)
{
	enum estkit_status a, b;

	a = estkit_csr_get_key_id(r->csr, ESTKIT_KEY_ID_SYMMETRIC, &s->symid, &s->symlen);
	b = estkit_csr_get_key_id(r->csr, ESTKIT_KEY_ID_ASYMMETRIC, &s->asymid, &s->asymlen);
	ERR_clear_error();
	if ((a != ESTKIT_OK && a != ESTKIT_ENOTFOUND) || (b != ESTKIT_OK && b != ESTKIT_ENOTFOUND)) {
		ek_request_set(r, 400, a == ESTKIT_ENOMEM || b == ESTKIT_ENOMEM
					       ? "internal error"
					       : "malformed key identifier attribute");
		return -1;
	}
	if (a == ESTKIT_OK && b == ESTKIT_OK) {
		ek_request_set(r, 400, "DecryptKeyIdentifier and AsymmetricDecryptKeyIdentifier "
				       "exclude each other");
		return -1;
	}
	if (a == ESTKIT_OK)
		return find_kek(r, s);
	if (b == ESTKIT_OK)
		return recipient_ok(r, s);
	return 0;
}

/* DER PrivateKeyInfo of key (RFC 5958), OPENSSL_malloc'ed. */
static int key_pkcs8(EVP_PKEY *key, unsigned char **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int n = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, der) : -1;

	PKCS8_PRIV_KEY_INFO_free(p8); /* its template wipes the key octets */
	if (n <= 0) {
		*der = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* DER of a CMS structure; the eContent of a SignedData is wiped afterwards. */
static int cms_der(CMS_ContentInfo *cms, unsigned char **der, size_t *len)
{
	ASN1_OCTET_STRING **content = NULL;
	int n = i2d_CMS_ContentInfo(cms, der);

	if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed &&
	    (content = CMS_get0_content(cms)) != NULL && *content != NULL &&
	    (*content)->data != NULL)
		OPENSSL_cleanse((*content)->data, (size_t)(*content)->length);
	if (n <= 0) {
		*der = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

/* The envelope around signed (RFC 7030 4.4.2): kekri, or ktri/kari by CMS_encrypt. */
static CMS_ContentInfo *envelope(const struct skg *s, X509 *recip, BIO *in)
{
	const unsigned int flags = CMS_BINARY | CMS_USE_KEYID;
	STACK_OF(X509) *rcpts = NULL;
	CMS_ContentInfo *env = NULL;
	unsigned char *key = NULL, *id = NULL;

	if (s->kek == NULL) {
		rcpts = sk_X509_new_null();
		if (rcpts != NULL && sk_X509_push(rcpts, recip))
			env = CMS_encrypt(rcpts, in, EVP_aes_256_cbc(), flags);
		sk_X509_free(rcpts);
		return env;
	}
	env = CMS_encrypt(NULL, in, EVP_aes_256_cbc(), flags | CMS_PARTIAL);
	key = OPENSSL_memdup(s->kek, s->keklen);
	id = OPENSSL_memdup(s->symid, s->symlen);
	/* NID_undef: AES key wrap sized to the key (RFC 3394); the RI owns key and id */
	if (env == NULL || key == NULL || id == NULL ||
	    CMS_add0_recipient_key(env, NID_undef, key, s->keklen, id, s->symlen, NULL, NULL,
				   NULL) == NULL) {
		estkit_free_secret(key, s->keklen);
		estkit_free(id);
		CMS_ContentInfo_free(env);
		return NULL;
	}
	if (CMS_final(env, in, NULL, CMS_BINARY) != 1) {
		CMS_ContentInfo_free(env);
		return NULL;
	}
	return env;
}

/* PKCS#8 -> SignedData (by the EST server's TLS identity) -> EnvelopedData. */
static int key_wrap(struct estkit_request *r, const struct skg *s, const unsigned char *p8,
		    size_t p8len, unsigned char **der, size_t *len)
{
	SSL_CTX *ctx = r->srv->ssl_ctx;
	BIO *in = BIO_new_mem_buf(p8, (int)p8len), *sdbio = NULL;
	CMS_ContentInfo *sd = NULL, *env = NULL;
	unsigned char *sdder = NULL;
	size_t sdlen = 0;
	int rc = -1;

	*der = NULL;
	if (in == NULL)
		goto out;
	sd = CMS_sign(SSL_CTX_get0_certificate(ctx), SSL_CTX_get0_privatekey(ctx), NULL, in,
		      CMS_BINARY | CMS_NOSMIMECAP);
	if (sd == NULL || cms_der(sd, &sdder, &sdlen) != 0)
		goto out;
	sdbio = BIO_new_mem_buf(sdder, (int)sdlen);
	env = sdbio != NULL ? envelope(s, r->peer_cert, sdbio) : NULL;
	/* the encrypted content is a SignedData, not id-data (RFC 5652 6.1) */
	if (env == NULL || CMS_set1_eContentType(env, OBJ_nid2obj(NID_pkcs7_signed)) != 1 ||
	    cms_der(env, der, len) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "serverkeygen: CMS encryption failed: %s",
			      ERR_reason_error_string(ERR_peek_last_error()) != NULL
				      ? ERR_reason_error_string(ERR_peek_last_error())
				      : "unknown error");
	ERR_clear_error();
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(sd);
	BIO_free(sdbio);
	BIO_free(in);
	estkit_free_secret(sdder, sdlen);
	return rc;
}

/* The key part: base64 of the PKCS#8, or of its CMS wrapping when asked for. */
static int key_part(struct estkit_request *r, const struct skg *s, char **b64, size_t *b64len,
		    const char **ctype)
{
	unsigned char *p8 = NULL, *wrapped = NULL;
	size_t p8len = 0, wlen = 0;
	int rc = -1;

	if (key_pkcs8(s->key, &p8, &p8len) != 0)
		goto out;
	*ctype = SKG_PKCS8_TYPE;
	if (s->kek != NULL || s->asymid != NULL) {
		if (key_wrap(r, s, p8, p8len, &wrapped, &wlen) != 0)
			goto out;
		*ctype = SKG_ENC_TYPE;
	}
	if (estkit_b64_encode(wrapped != NULL ? wrapped : p8, wrapped != NULL ? wlen : p8len, b64,
			      b64len) != ESTKIT_OK)
		goto out;
	rc = 0;
out:
	estkit_free_secret(p8, p8len);
	estkit_free_secret(wrapped, wlen);
	return rc;
}

/* RFC 7030 4.4.2: multipart/mixed, the key part first, then the certificates. */
static int build_reply(struct estkit_request *r, const struct skg *s)
{
	struct estkit_mime_part parts[2];
	char *keyb64 = NULL, *ctype = NULL, *body = NULL;
	size_t keylen = 0, len = 0;
	const char *keytype = NULL;
	int rc = -1;

	if (key_part(r, s, &keyb64, &keylen, &keytype) != 0)
		goto out;
	parts[0].content_type = keytype;
	parts[0].encoding = "base64";
	parts[0].data = (const unsigned char *)keyb64;
	parts[0].len = keylen;
	parts[1].content_type = SKG_CERTS_TYPE;
	parts[1].encoding = "base64";
	parts[1].data = (const unsigned char *)r->resp_body;
	parts[1].len = r->resp_len;
	if (estkit_multipart_build(parts, 2, &ctype, &body, &len) != ESTKIT_OK)
		goto out;
	OPENSSL_free(r->resp_body);
	r->resp_body = body;
	r->resp_len = len;
	r->resp_ctype_buf = ctype;
	r->resp_ctype = ctype;
	rc = 0;
out:
	estkit_free_secret(keyb64, keylen);
	if (rc != 0) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "serverkeygen: cannot build the response");
		ek_request_set(r, 500, "internal error");
	}
	return rc;
}

/* See server_internal.h. */
void ek_serverkeygen_run(struct estkit_request *r)
{
	const struct estkit_backend *be = &r->srv->backend;
	STACK_OF(X509) *certs = NULL;
	struct skg s;
	enum estkit_status st;

	memset(&s, 0, sizeof(s));
	if (encryption_request(r, &s) != 0)
		goto out;
	st = be->serverkeygen(be->ctx, r, r->csr, &s.key, &certs);
	if (st == ESTKIT_OK && s.key == NULL) {
		ek_server_log(r->srv, ESTKIT_LOG_ERROR, "serverkeygen: backend returned no key");
		st = ESTKIT_EINTERNAL;
		r->failed = 1;
		ek_request_set(r, 500, "internal error");
	}
	ek_pipeline_result(r, st, certs);
	if (r->status == 200 && build_reply(r, &s) != 0) {
		estkit_free(r->resp_body);
		r->resp_body = NULL;
	}
out:
	skg_clear(&s);
}
