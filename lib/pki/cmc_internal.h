/*
 * cmc_internal.h - the objects behind struct estkit_cmc_req / estkit_cmc_resp
 * (lib/pki/cmc_*.c only).
 */
#ifndef EK_CMC_INTERNAL_H
#define EK_CMC_INTERNAL_H

#include "pki/cmc_asn1.h"

DEFINE_STACK_OF(EK_CMC_REVREQ)
DEFINE_STACK_OF(EK_CMC_STATUS)

struct estkit_cmc_req {
	EK_CMC_PKIDATA *pd;
	uint32_t next_id;                /* next bodyPartID the builder gives */
	unsigned char *secret;           /* identityProofV2 shared secret (wiped) */
	size_t secret_len;
	char *ident;                     /* identification as a C string, for the getter */
	STACK_OF(EK_CMC_REVREQ) *revs;   /* decoded revokeRequests handed out by the getter */
};

struct estkit_cmc_resp {
	EK_CMC_PKIRESP *pr;
	uint32_t next_id;
	STACK_OF(EK_CMC_STATUS) *stats;  /* decoded statuses handed out by the getter */
	char **texts;                    /* their statusStrings as C strings */
	size_t ntexts;
};

/* Keeps a decoded RevokeRequest alive as long as r (taken on success). 0 on success. */
int ek_cmc_keep_revreq(struct estkit_cmc_req *r, EK_CMC_REVREQ *rr);

/* Computes identityProofV2 over r's reqSequence and (re)places the control. */
enum estkit_status ek_cmc_idproof_add(struct estkit_cmc_req *r);

#endif /* EK_CMC_INTERNAL_H */
