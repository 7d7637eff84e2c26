/*
 * fuzz_signer.c - what a signer worker parses from the network process
 * (src/estd/ca/signer_wire.h): a frame body as SignerRequest and as
 * SignerResponse, then the signer's checks on the certificate or CRL a
 * request carries. A decoded message must re-encode and decode to the same.
 */
#include <openssl/x509.h>

#include "ca/signer_wire.h"
#include "fuzz_common.h"

static X509_NAME *issuer(void)
{
	static X509_NAME *n;

	if (n == NULL) {
		n = X509_NAME_new();
		if (n == NULL || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
							     (const unsigned char *)"estkit CA",
							     -1, -1, 0))
			abort();
	}
	return n;
}

static void round_trip(const struct estd_signer_msg *m, int rsp)
{
	struct estd_signer_msg again;
	unsigned char *f = NULL;
	size_t len = 0;

	FZ_ASSERT(estd_signer_msg_encode(m, rsp, &f, &len) == ESTKIT_OK);
	FZ_ASSERT(estd_signer_frame_len(f) == (long)(len - 4));
	FZ_ASSERT(estd_signer_msg_decode(f + 4, len - 4, rsp, &again) == ESTKIT_OK);
	FZ_ASSERT(again.id == m->id && again.op == m->op && again.key == m->key &&
		  again.status == m->status && again.len == m->len);
	FZ_ASSERT(m->len == 0 || memcmp(again.data, m->data, m->len) == 0);
	estd_signer_msg_clear(&again);
	free(f);
}

static void checks(const struct estd_signer_msg *m)
{
	char why[128];
	X509 *x = NULL;
	X509_CRL *crl = NULL;

	if (m->op == ESTD_SIGNER_OP_SIGN_CERT &&
	    estd_signer_check_cert(m->data, m->len, issuer(), &x, why, sizeof(why)) == ESTKIT_OK)
		FZ_ASSERT(X509_NAME_cmp(X509_get_issuer_name(x), issuer()) == 0);
	if (m->op == ESTD_SIGNER_OP_SIGN_CRL)
		(void)estd_signer_check_crl(m->data, m->len, issuer(), &crl, why, sizeof(why));
	X509_free(x);
	X509_CRL_free(crl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estd_signer_msg m;

	if (estd_signer_msg_decode(data, size, 0, &m) == ESTKIT_OK) {
		round_trip(&m, 0);
		checks(&m);
		estd_signer_msg_clear(&m);
	}
	if (estd_signer_msg_decode(data, size, 1, &m) == ESTKIT_OK) {
		round_trip(&m, 1);
		estd_signer_msg_clear(&m);
	}
	if (size >= 4)
		(void)estd_signer_frame_len(data);
	ERR_clear_error();
	return 0;
}
