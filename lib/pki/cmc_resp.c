/*
 * cmc_resp.c - PKIResponse (RFC 5272 3.2.2) with CMCStatusInfoV2 (6.1.1),
 * transactionId (6.6) and the nonces (6.3).
 */
#include <string.h>
#include <openssl/rand.h>
#include "pki/cmc_internal.h"

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_new(struct estkit_cmc_resp **out)
{
	struct estkit_cmc_resp *r = NULL;
	unsigned char nonce[ESTKIT_CMC_NONCE_LEN];

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return ESTKIT_ECRYPTO;
	r = OPENSSL_zalloc(sizeof(*r));
	if (r == NULL || (r->pr = EK_CMC_PKIRESP_new()) == NULL)
		goto err;
	r->next_id = 1;
	if (ek_cmc_ctrl_add_octets(r->pr->controls, r->next_id++, EK_OID_CMC_SENDERNONCE, nonce,
				   sizeof(nonce)) != 0)
		goto err;
	*out = r;
	return ESTKIT_OK;
err:
	estkit_cmc_resp_free(r);
	return ESTKIT_ENOMEM;
}

/* See estkit/cmc.h. */
void estkit_cmc_resp_free(struct estkit_cmc_resp *r)
{
	size_t i;

	if (r == NULL)
		return;
	EK_CMC_PKIRESP_free(r->pr);
	sk_EK_CMC_STATUS_pop_free(r->stats, EK_CMC_STATUS_free);
	for (i = 0; i < r->ntexts; i++)
		OPENSSL_free(r->texts[i]);
	OPENSSL_free(r->texts);
	OPENSSL_free(r);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_answer(struct estkit_cmc_resp *r,
					  const struct estkit_cmc_req *req)
{
	const unsigned char *nonce = NULL;
	size_t nlen = 0;
	uint64_t tid = 0;
	enum estkit_status rc;

	if (r == NULL || req == NULL)
		return ESTKIT_EINVAL;
	rc = estkit_cmc_req_transaction_id(req, &tid);
	if (rc == ESTKIT_OK &&
	    ek_cmc_ctrl_add_u64(r->pr->controls, r->next_id++, EK_OID_CMC_TRANSACTIONID, tid) != 0)
		return ESTKIT_ENOMEM;
	if (rc != ESTKIT_OK && rc != ESTKIT_ENOTFOUND)
		return rc;
	rc = estkit_cmc_req_sender_nonce(req, &nonce, &nlen);
	if (rc == ESTKIT_OK && ek_cmc_ctrl_add_octets(r->pr->controls, r->next_id++,
						      EK_OID_CMC_RECIPIENTNONCE, nonce, nlen) != 0)
		return ESTKIT_ENOMEM;
	return rc == ESTKIT_ENOTFOUND ? ESTKIT_OK : rc;
}

static EK_CMC_STATUS *status_build(enum estkit_cmc_status status, const uint32_t *bodies,
				   size_t nbodies, enum estkit_cmc_fail fail, const char *text)
{
	EK_CMC_STATUS *s = EK_CMC_STATUS_new();
	size_t i;

	if (s == NULL || !ASN1_INTEGER_set(s->status, (long)status))
		goto err;
	for (i = 0; i < nbodies; i++) {
		EK_CMC_BPREF *b = EK_CMC_BPREF_new();
		if (b == NULL)
			goto err;
		b->type = EK_CMC_BPREF_ID;
		b->value.id = ASN1_INTEGER_new();
		if (b->value.id == NULL || !ASN1_INTEGER_set_uint64(b->value.id, bodies[i]) ||
		    !sk_EK_CMC_BPREF_push(s->bodies, b)) {
			EK_CMC_BPREF_free(b);
			goto err;
		}
	}
	if (text != NULL && ((s->text = ASN1_UTF8STRING_new()) == NULL ||
			     !ASN1_STRING_set(s->text, text, (int)strnlen(text, 512))))
		goto err;
	if (fail != ESTKIT_CMC_FAIL_NONE) {
		ASN1_INTEGER *fi = ASN1_INTEGER_new();
		if (fi == NULL || (s->other = ASN1_TYPE_new()) == NULL ||
		    !ASN1_INTEGER_set(fi, (long)fail)) {
			ASN1_INTEGER_free(fi);
			goto err;
		}
		ASN1_TYPE_set(s->other, V_ASN1_INTEGER, fi);
	}
	return s;
err:
	EK_CMC_STATUS_free(s);
	return NULL;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_add_status(struct estkit_cmc_resp *r,
					      enum estkit_cmc_status status,
					      const uint32_t *bodies, size_t nbodies,
					      enum estkit_cmc_fail fail, const char *text)
{
	EK_CMC_STATUS *s = NULL;
	ASN1_TYPE *t = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	/* RFC 5272 6.1.1: bodyList SIZE (1..MAX) */
	if (r == NULL || bodies == NULL || nbodies == 0 || nbodies > 1024)
		return ESTKIT_EINVAL;
	s = status_build(status, bodies, nbodies, fail, text);
	if (s == NULL)
		goto out;
	t = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(EK_CMC_STATUS), s, NULL);
	if (t == NULL ||
	    ek_cmc_ctrl_add(r->pr->controls, r->next_id, EK_OID_CMC_STATUSINFOV2, t) != 0)
		goto out;
	t = NULL;
	r->next_id++;
	rc = ESTKIT_OK;
out:
	ASN1_TYPE_free(t);
	EK_CMC_STATUS_free(s);
	return rc;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_encode(struct estkit_cmc_resp *r, unsigned char **out,
					  size_t *outlen)
{
	if (r == NULL || out == NULL || outlen == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_item_encode(ASN1_ITEM_rptr(EK_CMC_PKIRESP), r->pr, out, outlen);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_decode(const unsigned char *der, size_t len,
					  struct estkit_cmc_resp **out)
{
	struct estkit_cmc_resp *r = NULL;
	void *pr = NULL;
	enum estkit_status rc;

	if (der == NULL || out == NULL || len == 0 || len > ESTKIT_MAX_DECODE)
		return ESTKIT_EINVAL;
	*out = NULL;
	r = OPENSSL_zalloc(sizeof(*r));
	if (r == NULL)
		return ESTKIT_ENOMEM;
	rc = ek_cmc_item_decode(ASN1_ITEM_rptr(EK_CMC_PKIRESP), der, len, &pr);
	r->pr = pr;
	if (rc != ESTKIT_OK) {
		estkit_cmc_resp_free(r);
		return rc;
	}
	*out = r;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_transaction_id(const struct estkit_cmc_resp *r, uint64_t *id)
{
	if (r == NULL || id == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_ctrl_u64(r->pr->controls, EK_OID_CMC_TRANSACTIONID, id);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_recipient_nonce(const struct estkit_cmc_resp *r,
						   const unsigned char **nonce, size_t *len)
{
	if (r == NULL || nonce == NULL || len == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_ctrl_octets(r->pr->controls, EK_OID_CMC_RECIPIENTNONCE, nonce, len);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_sender_nonce(const struct estkit_cmc_resp *r,
						const unsigned char **nonce, size_t *len)
{
	if (r == NULL || nonce == NULL || len == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_ctrl_octets(r->pr->controls, EK_OID_CMC_SENDERNONCE, nonce, len);
}
