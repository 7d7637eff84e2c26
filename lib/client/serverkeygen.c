/*
 * serverkeygen.c - the client side of /serverkeygen (RFC 7030 4.4): post the
 * CSR, take the multipart/mixed answer apart, open the key (PKCS#8, or CMS
 * EnvelopedData around SignedData), and check it against the certificate.
 */
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include <estkit/multipart.h>
#include <estkit/serverkeygen.h>

#include "client/client_internal.h"

/* The key part and the certificate part of the answer, by their media types. */
static enum estkit_status find_parts(struct estkit_client *c, const struct estkit_multipart *mp,
				     const struct estkit_mime_part **key,
				     const struct estkit_mime_part **certs, int *encrypted)
{
	size_t i;

	*key = *certs = NULL;
	for (i = 0; i < estkit_multipart_count(mp); i++) {
		const struct estkit_mime_part *p = estkit_multipart_part(mp, i);
		const char *ct = p->content_type != NULL ? p->content_type : "";

		if (ek_client_media_type_is(ct, "application/pkcs8") && *key == NULL) {
			*key = p;
			*encrypted = 0;
		} else if (ek_client_media_type_is(ct, "application/pkcs7-mime") &&
			   strstr(ct, "server-generated-key") != NULL && *key == NULL) {
			*key = p;
			*encrypted = 1;
		} else if (ek_client_media_type_is(ct, "application/pkcs7-mime") &&
			   *certs == NULL) {
			*certs = p;
		}
	}
	if (*key == NULL || *certs == NULL)
		return ek_client_fail(c, ESTKIT_EPROTO, "/serverkeygen answer lacks the %s part",
				      *key == NULL ? "private key" : "certificate");
	/* RFC 7030 4.4.2: both parts are base64 */
	if ((*key)->encoding != NULL && strcasecmp((*key)->encoding, "base64") != 0)
		return ek_client_fail(c, ESTKIT_EPROTO,
				      "unsupported Content-Transfer-Encoding \"%s\" of the key part",
				      (*key)->encoding);
	return ESTKIT_OK;
}

/* Decodes (and decrypts) the key part into res. */
static enum estkit_status open_key(struct estkit_client *c, const struct estkit_mime_part *part,
				   const struct estkit_key_decrypt *dec,
				   struct estkit_serverkeygen_result *res)
{
	enum estkit_status rc;

	rc = estkit_b64_decode((const char *)part->data, part->len, &res->key_part,
			       &res->key_part_len);
	if (rc != ESTKIT_OK)
		return ek_client_fail(c, ESTKIT_EPROTO, "malformed base64 in the key part");
	if (!res->encrypted) {
		rc = estkit_pkcs8_decode(res->key_part, res->key_part_len, &res->key);
		if (rc != ESTKIT_OK)
			return ek_client_fail(c, ESTKIT_EPROTO, "malformed PKCS#8 key part");
		return ESTKIT_OK;
	}
	if (dec == NULL || (dec->kek == NULL && dec->key == NULL))
		return ek_client_fail(c, ESTKIT_EINVAL, "the server encrypted the key; a "
							"decryption key is needed");
	rc = estkit_serverkeygen_key_decrypt(res->key_part, res->key_part_len, dec->kek,
					     dec->keklen, dec->key, dec->cert, c->trust,
					     &res->key);
	if (rc == ESTKIT_EUNTRUSTED)
		return ek_client_fail(c, rc, "the encrypted key's signature does not verify "
					     "against the trust anchors");
	if (rc != ESTKIT_OK)
		return ek_client_fail(c, rc, "cannot decrypt the key part: %s",
				      estkit_strerror(rc));
	return ESTKIT_OK;
}

/* Parses a 200 answer into res. */
static enum estkit_status take_answer(struct estkit_client *c, const struct ek_response *r,
				      const struct estkit_key_decrypt *dec,
				      struct estkit_serverkeygen_result *res)
{
	struct estkit_multipart *mp = NULL;
	const struct estkit_mime_part *key = NULL, *certs = NULL;
	enum estkit_status rc;

	rc = estkit_multipart_parse(r->content_type, r->body, r->bodylen, &mp);
	if (rc == ESTKIT_EINVAL)
		rc = ek_client_fail(c, ESTKIT_EPROTO,
				    "unexpected Content-Type \"%s\" from /serverkeygen "
				    "(want multipart/mixed)", r->content_type);
	else if (rc != ESTKIT_OK)
		rc = ek_client_fail(c, ESTKIT_EPROTO, "malformed multipart answer: %s",
				    estkit_strerror(rc));
	if (rc == ESTKIT_OK)
		rc = find_parts(c, mp, &key, &certs, &res->encrypted);
	if (rc == ESTKIT_OK)
		rc = open_key(c, key, dec, res);
	if (rc == ESTKIT_OK && ek_client_decode_certs(certs->data, certs->len, &res->certs) !=
				       ESTKIT_OK)
		rc = ek_client_fail(c, ESTKIT_EPROTO, "malformed certificate part");
	if (rc == ESTKIT_OK && estkit_certs_find_by_key(res->certs, res->key) == NULL)
		rc = ek_client_fail(c, ESTKIT_EPROTO,
				    "no returned certificate matches the returned key");
	estkit_multipart_free(mp);
	ERR_clear_error();
	return rc;
}

/* See estkit/client.h. */
enum estkit_status estkit_client_serverkeygen(struct estkit_client *c, X509_REQ *csr,
					      const struct estkit_key_decrypt *dec,
					      struct estkit_serverkeygen_result *res)
{
	struct ek_response r;
	unsigned char *der = NULL;
	size_t derlen = 0;
	char *b64 = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (c == NULL || csr == NULL || res == NULL)
		return ESTKIT_EINVAL;
	ek_client_begin(c);
	memset(&r, 0, sizeof(r));
	rc = ek_client_csr_b64(c, csr, &der, &derlen, &b64);
	if (rc != ESTKIT_OK)
		goto out;
	rc = ek_client_perform(c, "serverkeygen", "application/pkcs10", b64, 0, &r);
	if (rc == ESTKIT_OK)
		rc = r.status == 200 ? take_answer(c, &r, dec, res)
				     : ek_client_http_error(c, "serverkeygen", &r);
out:
	if (rc != ESTKIT_OK)
		estkit_serverkeygen_result_clear(res);
	if (r.body != NULL) /* it held the private key */
		OPENSSL_cleanse(r.body, r.bodylen);
	estkit_free(der);
	estkit_free(b64);
	ek_response_clear(&r);
	return rc;
}

/* See estkit/client.h. */
void estkit_serverkeygen_result_clear(struct estkit_serverkeygen_result *res)
{
	if (res == NULL)
		return;
	EVP_PKEY_free(res->key);
	ek_certs_free(res->certs);
	estkit_free_secret(res->key_part, res->key_part_len);
	memset(res, 0, sizeof(*res));
}
