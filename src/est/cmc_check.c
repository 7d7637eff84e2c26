/*
 * cmc_check.c - what `est fullcmc` and `est revoke` share: sign and send a
 * PKIData, then check the CMC response (RFC 5272): signed by a CA of
 * --cacert (or, over TLS-SRP without it, of /cacerts), transactionId echoed, recipientNonce = our senderNonce
 * (RFC 5272 6.3, 6.6), every CMCStatusInfoV2 success.
 */
#include <string.h>
#include <openssl/err.h>
#include "cmc_check.h"

/* The response must verify with the key of one of the trusted CA certificates. */
static int check_signature(const char *cmd, const unsigned char *der, size_t len,
			   STACK_OF(X509) *cas)
{
	int i, ok = 0;

	for (i = 0; i < sk_X509_num(cas) && !ok; i++)
		ok = estkit_cmc_verify_key(der, len, X509_get0_pubkey(sk_X509_value(cas, i)),
					   NULL) == ESTKIT_OK;
	if (!ok)
		est_err(cmd, "the CMC response is not signed by a trusted CA");
	return ok ? EST_EXIT_OK : EST_EXIT_FAIL;
}

/* transactionId and nonces of RFC 5272 6.3 / 6.6. */
static int check_ids(const char *cmd, const struct estkit_cmc_req *req,
		     const struct estkit_cmc_resp *resp)
{
	const unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	uint64_t t1 = 0, t2 = 0;

	if (estkit_cmc_req_transaction_id(req, &t1) != ESTKIT_OK ||
	    estkit_cmc_resp_transaction_id(resp, &t2) != ESTKIT_OK || t1 != t2) {
		est_err(cmd, "the CMC response does not echo our transactionId");
		return EST_EXIT_FAIL;
	}
	if (estkit_cmc_req_sender_nonce(req, &a, &alen) != ESTKIT_OK ||
	    estkit_cmc_resp_recipient_nonce(resp, &b, &blen) != ESTKIT_OK || alen != blen ||
	    memcmp(a, b, alen) != 0) {
		est_err(cmd, "the CMC response's recipientNonce is not our senderNonce");
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

static int check_statuses(const char *cmd, const struct estkit_cmc_resp *resp, int verbose)
{
	int i, n = estkit_cmc_resp_status_count(resp), ex = EST_EXIT_OK;

	if (n <= 0) {
		est_err(cmd, "the CMC response holds no valid status");
		return EST_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		enum estkit_cmc_status st;
		enum estkit_cmc_fail fail;
		const char *text = NULL;

		if (estkit_cmc_resp_status(resp, i, &st, &fail, &text) != ESTKIT_OK) {
			est_err(cmd, "malformed CMC status");
			return EST_EXIT_FAIL;
		}
		if (st == ESTKIT_CMC_SUCCESS) {
			if (verbose)
				fprintf(stderr, "est: %s: CMC status success\n", cmd);
			continue;
		}
		est_err(cmd, "CMC status %s%s%s: %s", st == ESTKIT_CMC_FAILED ? "failed"
						     : st == ESTKIT_CMC_NOSUPPORT ? "noSupport" : "not success",
			fail != ESTKIT_CMC_FAIL_NONE ? ", failInfo " : "",
			fail != ESTKIT_CMC_FAIL_NONE ? estkit_cmc_fail_name(fail) : "",
			text != NULL ? text : "(no text)");
		ex = EST_EXIT_FAIL;
	}
	return ex;
}

/* See cmc_check.h. */
int est_cmc_check(const char *cmd, const unsigned char *der, size_t len,
		  const struct estkit_cmc_req *req, STACK_OF(X509) *cas, int verbose,
		  STACK_OF(X509) **certs)
{
	struct estkit_cmc_resp *resp = NULL;
	unsigned char *content = NULL;
	size_t clen = 0;
	int ex = check_signature(cmd, der, len, cas);

	if (ex != EST_EXIT_OK)
		goto out;
	ex = EST_EXIT_FAIL;
	if (estkit_cmc_open(der, len, 1, &content, &clen, certs) != ESTKIT_OK ||
	    estkit_cmc_resp_decode(content, clen, &resp) != ESTKIT_OK) {
		est_err(cmd, "malformed CMC response");
		goto out;
	}
	ex = check_ids(cmd, req, resp);
	if (ex == EST_EXIT_OK)
		ex = check_statuses(cmd, resp, verbose);
out:
	ERR_clear_error();
	estkit_free(content);
	estkit_cmc_resp_free(resp);
	return ex;
}

/*
 * The CAs a CMC response must be signed by: --cacert, or without it (only
 * allowed with --srp-user) the /cacerts answer over the TLS-SRP connection,
 * which the verifier authenticates (RFC 7030 3.3.3, 4.1.1).
 */
static int trust_anchors(const char *cmd, struct estkit_client *c, const struct est_conn *conn,
			 STACK_OF(X509) **cas)
{
	enum estkit_status rc = ESTKIT_OK;

	if (conn->cacert == NULL) {
		if ((rc = estkit_client_cacerts(c, cas)) != ESTKIT_OK)
			return est_client_error(cmd, c, rc);
		return EST_EXIT_OK;
	}
	if (estkit_certs_load(conn->cacert, cas) != ESTKIT_OK) {
		est_err(cmd, "cannot load --cacert %s", conn->cacert);
		return EST_EXIT_FAIL;
	}
	return EST_EXIT_OK;
}

/* See cmc_check.h. */
int est_cmc_send(const char *cmd, const struct est_conn *conn, struct estkit_cmc_req *req,
		 X509 *cert, EVP_PKEY *key, const char *save, STACK_OF(X509) **certs)
{
	struct estkit_client *c = NULL;
	STACK_OF(X509) *cas = NULL;
	unsigned char *pd = NULL, *sd = NULL, *resp = NULL;
	size_t pdlen = 0, sdlen = 0, resplen = 0;
	enum estkit_status rc;
	int ex = EST_EXIT_FAIL;

	if (estkit_cmc_req_encode(req, &pd, &pdlen) != ESTKIT_OK ||
	    estkit_cmc_sign(pd, pdlen, 0, cert, key, NULL, &sd, &sdlen) != ESTKIT_OK) {
		est_err(cmd, "cannot build the CMC request");
		goto out;
	}
	if (save != NULL) {
		ex = est_save_b64(cmd, save, sd, sdlen);
		goto out;
	}
	if ((c = est_client_open(cmd, conn, &ex)) == NULL)
		goto out;
	if ((ex = trust_anchors(cmd, c, conn, &cas)) != EST_EXIT_OK)
		goto out;
	rc = estkit_client_fullcmc(c, sd, sdlen, &resp, &resplen);
	if (resp != NULL) {
		/* a rejection's CMC response says why better than its HTTP status */
		ex = est_cmc_check(cmd, resp, resplen, req, cas, conn->verbose, certs);
		if (rc != ESTKIT_OK && ex == EST_EXIT_OK) {
			est_err(cmd, "HTTP %ld", estkit_client_http_status(c));
			ex = est_exit_for(rc);
		}
	} else if (rc != ESTKIT_OK) {
		ex = est_client_error(cmd, c, rc);
	}
out:
	ERR_clear_error();
	est_certs_free(cas);
	estkit_client_free(c);
	estkit_free(pd);
	estkit_free(sd);
	estkit_free(resp);
	return ex;
}

/* See cmc_check.h. */
int est_save_b64(const char *cmd, const char *path, const unsigned char *der, size_t len)
{
	char *b64 = NULL;
	size_t n = 0;
	FILE *f = NULL;
	int ex = EST_EXIT_FAIL;

	if (estkit_b64_encode(der, len, &b64, &n) != ESTKIT_OK)
		goto out;
	f = fopen(path, "w");
	if (f == NULL || fwrite(b64, 1, n, f) != n) {
		est_err(cmd, "cannot write %s", path);
		goto out;
	}
	ex = EST_EXIT_OK;
out:
	if (f != NULL && fclose(f) != 0)
		ex = EST_EXIT_FAIL;
	estkit_free(b64);
	return ex;
}
