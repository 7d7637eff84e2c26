/*
 * cmc_req.c - PKIData (RFC 5272 3.2.1): building a request with its
 * controls, encoding, decoding and reading it back.
 */
#include <string.h>
#include <openssl/rand.h>
#include "pki/cmc_asn1.h"
#include "pki/cmc_internal.h"

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_new(struct estkit_cmc_req **out)
{
	struct estkit_cmc_req *r = NULL;
	unsigned char nonce[ESTKIT_CMC_NONCE_LEN];
	uint64_t tid = 0;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (out == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	r = OPENSSL_zalloc(sizeof(*r));
	if (r == NULL || (r->pd = EK_CMC_PKIDATA_new()) == NULL)
		goto out;
	r->next_id = 1;
	if (ek_cmc_random_u64(&tid) != 0 || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		rc = ESTKIT_ECRYPTO;
		goto out;
	}
	/* RFC 5272 6.6 transactionId, 6.3 senderNonce */
	if (ek_cmc_ctrl_add_u64(r->pd->controls, r->next_id++, EK_OID_CMC_TRANSACTIONID, tid) != 0 ||
	    ek_cmc_ctrl_add_octets(r->pd->controls, r->next_id++, EK_OID_CMC_SENDERNONCE, nonce,
				   sizeof(nonce)) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = ESTKIT_OK;
out:
	estkit_cmc_req_free(r);
	return rc;
}

/* See estkit/cmc.h. */
void estkit_cmc_req_free(struct estkit_cmc_req *r)
{
	if (r == NULL)
		return;
	EK_CMC_PKIDATA_free(r->pd);
	OPENSSL_clear_free(r->secret, r->secret_len);
	OPENSSL_free(r->ident);
	sk_EK_CMC_REVREQ_pop_free(r->revs, EK_CMC_REVREQ_free);
	OPENSSL_free(r);
}

static enum estkit_status add_treq(struct estkit_cmc_req *r, EK_CMC_TREQ *t, uint32_t *bp)
{
	if (!sk_EK_CMC_TREQ_push(r->pd->reqs, t)) {
		EK_CMC_TREQ_free(t);
		return ESTKIT_ENOMEM;
	}
	if (bp != NULL)
		*bp = r->next_id;
	r->next_id++;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_add_pkcs10(struct estkit_cmc_req *r, X509_REQ *csr,
					     uint32_t *body_part)
{
	EK_CMC_TREQ *t = NULL;

	if (r == NULL || csr == NULL)
		return ESTKIT_EINVAL;
	t = EK_CMC_TREQ_new();
	if (t == NULL)
		return ESTKIT_ENOMEM;
	t->type = EK_CMC_TREQ_TCR;
	t->value.tcr = EK_CMC_TCR_new();
	if (t->value.tcr == NULL || !ASN1_INTEGER_set_uint64(t->value.tcr->bpid, r->next_id))
		goto err;
	X509_REQ_free(t->value.tcr->req);
	t->value.tcr->req = X509_REQ_dup(csr);
	if (t->value.tcr->req == NULL)
		goto err;
	return add_treq(r, t, body_part);
err:
	EK_CMC_TREQ_free(t);
	return ESTKIT_ENOMEM;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_add_crmf(struct estkit_cmc_req *r, const OSSL_CRMF_MSG *msg,
					   uint32_t *body_part)
{
	EK_CMC_TREQ *t = NULL;
	int rid;
	enum estkit_status rc;

	if (r == NULL || msg == NULL || (rid = OSSL_CRMF_MSG_get_certReqId(msg)) < 0)
		return ESTKIT_EINVAL;
	t = EK_CMC_TREQ_new();
	if (t == NULL)
		return ESTKIT_ENOMEM;
	t->type = EK_CMC_TREQ_CRM;
	t->value.crm = OSSL_CRMF_MSG_dup(msg);
	if (t->value.crm == NULL) {
		EK_CMC_TREQ_free(t);
		return ESTKIT_ENOMEM;
	}
	rc = add_treq(r, t, NULL);
	/* RFC 5272 3.2.1.3.2: a CertReqMsg's body part id is its certReqId */
	if (rc == ESTKIT_OK && body_part != NULL)
		*body_part = (uint32_t)rid;
	return rc;
}

/* See estkit/cmc.h. RFC 5272 6.11: revokeRequest. */
enum estkit_status estkit_cmc_req_add_revoke(struct estkit_cmc_req *r, const X509_NAME *issuer,
					     const ASN1_INTEGER *serial, int reason)
{
	EK_CMC_REVREQ *rr = NULL;
	ASN1_TYPE *t = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (r == NULL || issuer == NULL || serial == NULL || reason < 0 || reason > 10)
		return ESTKIT_EINVAL;
	rr = EK_CMC_REVREQ_new();
	if (rr == NULL || !X509_NAME_set(&rr->issuer, (X509_NAME *)issuer) ||
	    !ASN1_ENUMERATED_set(rr->reason, reason))
		goto out;
	ASN1_INTEGER_free(rr->serial);
	rr->serial = ASN1_INTEGER_dup(serial);
	if (rr->serial == NULL)
		goto out;
	t = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(EK_CMC_REVREQ), rr, NULL);
	if (t == NULL || ek_cmc_ctrl_add(r->pd->controls, r->next_id, EK_OID_CMC_REVOKEREQUEST,
					 t) != 0)
		goto out;
	t = NULL;
	r->next_id++;
	rc = ESTKIT_OK;
out:
	ASN1_TYPE_free(t);
	EK_CMC_REVREQ_free(rr);
	return rc;
}

/* See estkit/cmc.h. RFC 5272 6.2.3: identification is a UTF8String. */
enum estkit_status estkit_cmc_req_set_identification(struct estkit_cmc_req *r, const char *id)
{
	ASN1_TYPE *t = NULL;
	ASN1_UTF8STRING *s = NULL;

	if (r == NULL || id == NULL || strlen(id) > 1024)
		return ESTKIT_EINVAL;
	t = ASN1_TYPE_new();
	s = ASN1_UTF8STRING_new();
	if (t == NULL || s == NULL || !ASN1_STRING_set(s, id, (int)strlen(id)))
		goto err;
	ASN1_TYPE_set(t, V_ASN1_UTF8STRING, s);
	s = NULL;
	ek_cmc_ctrl_remove(r->pd->controls, EK_OID_CMC_IDENTIFICATION);
	if (ek_cmc_ctrl_add(r->pd->controls, r->next_id, EK_OID_CMC_IDENTIFICATION, t) != 0)
		goto err;
	r->next_id++;
	return ESTKIT_OK;
err:
	ASN1_UTF8STRING_free(s);
	ASN1_TYPE_free(t);
	return ESTKIT_ENOMEM;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_set_identity_secret(struct estkit_cmc_req *r,
						      const unsigned char *secret, size_t len)
{
	if (r == NULL || secret == NULL || len == 0 || len > 1024)
		return ESTKIT_EINVAL;
	OPENSSL_clear_free(r->secret, r->secret_len);
	r->secret_len = 0;
	r->secret = OPENSSL_memdup(secret, len);
	if (r->secret == NULL)
		return ESTKIT_ENOMEM;
	r->secret_len = len;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_encode(struct estkit_cmc_req *r, unsigned char **out,
					 size_t *outlen)
{
	if (r == NULL || out == NULL || outlen == NULL)
		return ESTKIT_EINVAL;
	*out = NULL;
	if (r->secret != NULL) {
		enum estkit_status rc = ek_cmc_idproof_add(r);
		if (rc != ESTKIT_OK)
			return rc;
	}
	return ek_cmc_item_encode(ASN1_ITEM_rptr(EK_CMC_PKIDATA), r->pd, out, outlen);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_decode(const unsigned char *der, size_t len,
					 struct estkit_cmc_req **out)
{
	struct estkit_cmc_req *r = NULL;
	void *pd = NULL;
	enum estkit_status rc;

	if (der == NULL || out == NULL || len == 0 || len > ESTKIT_MAX_DECODE)
		return ESTKIT_EINVAL;
	*out = NULL;
	r = OPENSSL_zalloc(sizeof(*r));
	if (r == NULL)
		return ESTKIT_ENOMEM;
	rc = ek_cmc_item_decode(ASN1_ITEM_rptr(EK_CMC_PKIDATA), der, len, &pd);
	r->pd = pd;
	if (rc != ESTKIT_OK) {
		estkit_cmc_req_free(r);
		return rc;
	}
	*out = r;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_transaction_id(const struct estkit_cmc_req *r, uint64_t *id)
{
	if (r == NULL || id == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_ctrl_u64(r->pd->controls, EK_OID_CMC_TRANSACTIONID, id);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_sender_nonce(const struct estkit_cmc_req *r,
					       const unsigned char **nonce, size_t *len)
{
	if (r == NULL || nonce == NULL || len == NULL)
		return ESTKIT_EINVAL;
	return ek_cmc_ctrl_octets(r->pd->controls, EK_OID_CMC_SENDERNONCE, nonce, len);
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_identification(const struct estkit_cmc_req *r,
						 const char **id)
{
	struct estkit_cmc_req *w = (struct estkit_cmc_req *)r; /* caches the string */
	ASN1_TYPE *t = NULL;

	if (r == NULL || id == NULL)
		return ESTKIT_EINVAL;
	if (ek_cmc_ctrl_count(r->pd->controls, EK_OID_CMC_IDENTIFICATION) == 0)
		return ESTKIT_ENOTFOUND;
	t = ek_cmc_ctrl_find(r->pd->controls, EK_OID_CMC_IDENTIFICATION, 0, NULL);
	if (t == NULL || t->type != V_ASN1_UTF8STRING ||
	    memchr(t->value.utf8string->data, '\0', (size_t)t->value.utf8string->length) != NULL)
		return ESTKIT_EPARSE;
	OPENSSL_free(w->ident);
	w->ident = OPENSSL_strndup((const char *)t->value.utf8string->data,
				   (size_t)t->value.utf8string->length);
	if (w->ident == NULL)
		return ESTKIT_ENOMEM;
	*id = w->ident;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
int estkit_cmc_req_count(const struct estkit_cmc_req *r)
{
	return r != NULL ? sk_EK_CMC_TREQ_num(r->pd->reqs) : 0;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_get(const struct estkit_cmc_req *r, int i,
				      uint32_t *body_part, enum estkit_cmc_req_type *type,
				      X509_REQ **csr, OSSL_CRMF_MSG **crmf)
{
	EK_CMC_TREQ *t = NULL;
	const ASN1_INTEGER *bp = NULL;
	uint32_t id = 0;

	if (r == NULL || i < 0 || i >= sk_EK_CMC_TREQ_num(r->pd->reqs))
		return ESTKIT_EINVAL;
	t = sk_EK_CMC_TREQ_value(r->pd->reqs, i);
	if (csr != NULL)
		*csr = NULL;
	if (crmf != NULL)
		*crmf = NULL;
	if (t->type == EK_CMC_TREQ_TCR) {
		bp = t->value.tcr->bpid;
		if (csr != NULL)
			*csr = t->value.tcr->req;
	} else if (t->type == EK_CMC_TREQ_CRM) {
		if (crmf != NULL)
			*crmf = t->value.crm;
	} else {
		bp = t->value.orm->bpid;
	}
	if (bp != NULL && ek_cmc_bpid_get(bp, &id) != 0)
		return ESTKIT_EPARSE;
	if (t->type == EK_CMC_TREQ_CRM) {
		/* RFC 5272 3.2.1.3.2: the bodyPartID of a CertReqMsg is its certReqId */
		int rid = OSSL_CRMF_MSG_get_certReqId(t->value.crm);
		if (rid < 0)
			return ESTKIT_EPARSE;
		id = (uint32_t)rid;
	}
	if (body_part != NULL)
		*body_part = id;
	if (type != NULL)
		*type = t->type == EK_CMC_TREQ_TCR ? ESTKIT_CMC_REQ_PKCS10
			: t->type == EK_CMC_TREQ_CRM ? ESTKIT_CMC_REQ_CRMF : ESTKIT_CMC_REQ_OTHER;
	return ESTKIT_OK;
}

/* See estkit/cmc.h. */
int estkit_cmc_req_revoke_count(const struct estkit_cmc_req *r)
{
	int i, n;

	if (r == NULL)
		return 0;
	n = ek_cmc_ctrl_count(r->pd->controls, EK_OID_CMC_REVOKEREQUEST);
	for (i = 0; i < n; i++) {
		struct estkit_cmc_revoke rv;
		if (estkit_cmc_req_revoke_get(r, i, &rv) != ESTKIT_OK)
			return -1;
	}
	return n;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_revoke_get(const struct estkit_cmc_req *r, int i,
					     struct estkit_cmc_revoke *out)
{
	struct estkit_cmc_req *w = (struct estkit_cmc_req *)r; /* keeps the decoded controls */
	ASN1_TYPE *t = NULL;
	EK_CMC_REVREQ *rr = NULL;
	long reason;

	if (r == NULL || out == NULL || i < 0)
		return ESTKIT_EINVAL;
	t = ek_cmc_ctrl_find(r->pd->controls, EK_OID_CMC_REVOKEREQUEST, i, &out->body_part);
	if (t == NULL)
		return ESTKIT_ENOTFOUND;
	if (t->type != V_ASN1_SEQUENCE)
		return ESTKIT_EPARSE;
	rr = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(EK_CMC_REVREQ), t);
	if (rr == NULL)
		return ESTKIT_EPARSE;
	reason = ASN1_ENUMERATED_get(rr->reason);
	if (reason < 0 || reason > 10 || ek_cmc_keep_revreq(w, rr) != 0) {
		EK_CMC_REVREQ_free(rr);
		return reason < 0 || reason > 10 ? ESTKIT_EPARSE : ESTKIT_ENOMEM;
	}
	out->issuer = rr->issuer;
	out->serial = rr->serial;
	out->reason = (int)reason;
	return ESTKIT_OK;
}
