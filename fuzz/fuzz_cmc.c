/*
 * fuzz_cmc.c - the CMC parsers of estkit/cmc.h (RFC 5272): PKIData and
 * PKIResponse with every getter, the CRMF POP check and template reader for
 * each CertReqMsg (RFC 4211), and the SignedData opener and verifier.
 * What decodes must encode again.
 */
#include <estkit/cmc.h>
#include <estkit/pki.h>
#include "fuzz_common.h"

static void pkidata(const uint8_t *data, size_t size)
{
	struct estkit_cmc_req *r = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int i, n;

	if (estkit_cmc_req_decode(data, size, &r) != ESTKIT_OK)
		return;
	{
		uint64_t t;
		const unsigned char *p;
		const char *id;
		(void)estkit_cmc_req_transaction_id(r, &t);
		(void)estkit_cmc_req_sender_nonce(r, &p, &len);
		(void)estkit_cmc_req_identification(r, &id);
		(void)estkit_cmc_req_check_identity(r, (const unsigned char *)"s", 1);
	}
	n = estkit_cmc_req_count(r);
	for (i = 0; i < n; i++) {
		enum estkit_cmc_req_type type;
		X509_REQ *csr = NULL;
		OSSL_CRMF_MSG *crmf = NULL;
		uint32_t bp;
		if (estkit_cmc_req_get(r, i, &bp, &type, &csr, &crmf) == ESTKIT_OK &&
		    crmf != NULL) {
			enum estkit_cmc_fail fail;
			X509_REQ *tmpl = NULL;
			const char *why = NULL;
			(void)estkit_cmc_crmf_verify_pop(crmf, 1, &fail);
			if (estkit_cmc_crmf_to_csr(crmf, &tmpl, &why) == ESTKIT_OK)
				FZ_ASSERT(X509_REQ_get0_pubkey(tmpl) != NULL);
			else
				FZ_ASSERT(tmpl == NULL && why != NULL);
			X509_REQ_free(tmpl);
		}
	}
	n = estkit_cmc_req_revoke_count(r);
	for (i = 0; i < n; i++) {
		struct estkit_cmc_revoke rv;
		FZ_ASSERT(estkit_cmc_req_revoke_get(r, i, &rv) == ESTKIT_OK);
	}
	FZ_ASSERT(estkit_cmc_req_encode(r, &der, &len) == ESTKIT_OK);
	estkit_free(der);
	estkit_cmc_req_free(r);
}

static void pkiresponse(const uint8_t *data, size_t size)
{
	struct estkit_cmc_resp *r = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int i, n;

	if (estkit_cmc_resp_decode(data, size, &r) != ESTKIT_OK)
		return;
	n = estkit_cmc_resp_status_count(r);
	for (i = 0; i < n; i++) {
		enum estkit_cmc_status st;
		enum estkit_cmc_fail fail;
		const char *text;
		(void)estkit_cmc_resp_status(r, i, &st, &fail, &text);
	}
	{
		uint64_t t;
		const unsigned char *p;
		(void)estkit_cmc_resp_transaction_id(r, &t);
		(void)estkit_cmc_resp_recipient_nonce(r, &p, &len);
	}
	FZ_ASSERT(estkit_cmc_resp_encode(r, &der, &len) == ESTKIT_OK);
	estkit_free(der);
	estkit_cmc_resp_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *content = NULL;
	size_t clen = 0;
	STACK_OF(X509) *certs = NULL;
	X509 *signer = NULL;
	int response;

	pkidata(data, size);
	pkiresponse(data, size);
	for (response = 0; response <= 1; response++) {
		if (estkit_cmc_open(data, size, response, &content, &clen, &certs) == ESTKIT_OK) {
			(response ? pkiresponse : pkidata)(content, clen);
			estkit_free(content);
			OSSL_STACK_OF_X509_free(certs);
		}
	}
	if (estkit_cmc_verify_carried(data, size, &signer) == ESTKIT_OK)
		X509_free(signer);
	ERR_clear_error();
	return 0;
}
