/*
 * cmc_idproof.c - identityProofV2 (RFC 5272 6.2.1): a MAC with a key derived
 * from a secret shared out of band, over the DER of the reqSequence. We use
 * proofAlgID = SHA-256 (key = SHA-256(secret)) and macAlgId = hmacWithSHA256.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "pki/cmc_internal.h"

/* witness = HMAC-SHA256(SHA-256(secret), DER(reqSequence)) */
static int witness(STACK_OF(EK_CMC_TREQ) *reqs, const unsigned char *secret, size_t slen,
		   unsigned char mac[EVP_MAX_MD_SIZE], unsigned int *maclen)
{
	unsigned char key[32], *der = NULL;
	unsigned int klen = 0;
	int n, rc = -1;

	n = ek_cmc_i2d_reqseq(reqs, &der);
	if (n <= 0)
		return -1;
	if (EVP_Digest(secret, slen, key, &klen, EVP_sha256(), NULL) != 1)
		goto out;
	if (HMAC(EVP_sha256(), key, (int)klen, der, (size_t)n, mac, maclen) == NULL)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_free(der);
	return rc;
}

/* See cmc_internal.h. */
enum estkit_status ek_cmc_idproof_add(struct estkit_cmc_req *r)
{
	EK_CMC_IDPROOF *ip = EK_CMC_IDPROOF_new();
	ASN1_TYPE *t = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (ip == NULL)
		goto out;
	if (witness(r->pd->reqs, r->secret, r->secret_len, mac, &maclen) != 0) {
		rc = ESTKIT_ECRYPTO;
		goto out;
	}
	if (!X509_ALGOR_set0(ip->proof_alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
	    !X509_ALGOR_set0(ip->mac_alg, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(ip->witness, mac, (int)maclen))
		goto out;
	t = ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(EK_CMC_IDPROOF), ip, NULL);
	if (t == NULL)
		goto out;
	ek_cmc_ctrl_remove(r->pd->controls, EK_OID_CMC_IDPROOFV2);
	if (ek_cmc_ctrl_add(r->pd->controls, r->next_id, EK_OID_CMC_IDPROOFV2, t) != 0)
		goto out;
	t = NULL;
	r->next_id++;
	rc = ESTKIT_OK;
out:
	ASN1_TYPE_free(t);
	EK_CMC_IDPROOF_free(ip);
	return rc;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_req_check_identity(const struct estkit_cmc_req *r,
						 const unsigned char *secret, size_t len)
{
	EK_CMC_IDPROOF *ip = NULL;
	ASN1_TYPE *t = NULL;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	enum estkit_status rc = ESTKIT_EPARSE;

	if (r == NULL || secret == NULL)
		return ESTKIT_EINVAL;
	if (ek_cmc_ctrl_count(r->pd->controls, EK_OID_CMC_IDPROOFV2) == 0)
		return ESTKIT_ENOTFOUND;
	t = ek_cmc_ctrl_find(r->pd->controls, EK_OID_CMC_IDPROOFV2, 0, NULL);
	if (t == NULL || t->type != V_ASN1_SEQUENCE)
		return ESTKIT_EPARSE;
	ip = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(EK_CMC_IDPROOF), t);
	if (ip == NULL || OBJ_obj2nid(ip->proof_alg->algorithm) != NID_sha256 ||
	    OBJ_obj2nid(ip->mac_alg->algorithm) != NID_hmacWithSHA256)
		goto out;
	if (witness(r->pd->reqs, secret, len, mac, &maclen) != 0) {
		rc = ESTKIT_ECRYPTO;
		goto out;
	}
	rc = ESTKIT_EAUTH;
	if ((unsigned)ip->witness->length == maclen &&
	    CRYPTO_memcmp(ip->witness->data, mac, maclen) == 0)
		rc = ESTKIT_OK;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	EK_CMC_IDPROOF_free(ip);
	return rc;
}

/* See cmc_internal.h. */
int ek_cmc_keep_revreq(struct estkit_cmc_req *r, EK_CMC_REVREQ *rr)
{
	if (r->revs == NULL && (r->revs = sk_EK_CMC_REVREQ_new_null()) == NULL)
		return -1;
	return sk_EK_CMC_REVREQ_push(r->revs, rr) > 0 ? 0 : -1;
}
