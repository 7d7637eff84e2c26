/*
 * test_cmc_backend.c - estd's /fullcmc backend (backend/cmc.c) called
 * directly: who may sign what, the CMC failure of each refusal, and the
 * signed PKIResponse of a success.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <estkit/cmc.h>
#include <estkit/pki.h>
#include "backend/ca.h"
#include "backend/cmc.h"
#include "ca_testutil.h"
#include "server/server_internal.h"
#include "tmpdir_testutil.h"

struct fix {
	char dir[64];
	struct estd_ca *ca;
	struct estd_store *st;
	struct estd_backend_ca *b;
	X509 *cacert;
};

#define ID_SECRET "shared identity secret"

/* Labels: "" (no identity proof), "idp" (cmc_require_identity_proof with dir/id.secret). */
static struct estd_config *config(const char *dir)
{
	struct estd_config *c = calloc(1, sizeof(*c));
	char path[128];
	FILE *fp = NULL;

	c->path = strdup("test.conf");
	c->log_level = strdup("error");
	c->nprofiles = 1;
	c->profiles = calloc(1, sizeof(*c->profiles));
	c->profiles[0] = (struct estd_profile){ strdup("default"), 365, strdup("digitalSignature"),
						strdup("clientAuth"), strdup("ec:P-256"), 1, NULL, 0, NULL, 0 };
	snprintf(path, sizeof(path), "%s/id.secret", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(ID_SECRET "\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0); /* a secret: for the owner's eyes only */
	c->nlabels = 2;
	c->labels = calloc(2, sizeof(*c->labels));
	c->labels[0] = (struct estd_label){ .name = strdup(""), .profile = strdup("default") };
	c->labels[1] = (struct estd_label){ .name = strdup("idp"), .profile = strdup("default"),
					    .cmc_require_identity_proof = 1,
					    .cmc_identity_secret_file = strdup(path) };
	return c;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	char db[128], *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/estd-cmc-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/estd.db", f->dir);
	f->ca = tu_ca(3650, &f->cacert);
	if (estd_store_open(db, &f->st, &err) != ESTKIT_OK ||
	    estd_backend_ca_new(config(f->dir), NULL, f->st, f->ca, &f->b, &err) != ESTKIT_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	int rc = 0;

	estd_backend_ca_free(f->b);
	estd_store_close(f->st);
	estd_ca_free(f->ca);
	X509_free(f->cacert);
	rc = tu_rmtree(f->dir);
	free(f);
	return rc;
}

enum signer { BY_CSR_KEY, BY_OTHER_KEY, BY_FOREIGN_CERT, GARBAGE };

struct bcase {
	const char *name;
	int pkcs10, revoke;
	enum signer signer;
	enum estkit_status want;
	int http;                  /* HTTP status of a refusal */
	enum estkit_cmc_fail fail; /* first status's failInfo (NONE: success) */
	const char *label;         /* NULL: the default label */
	const char *idsecret;      /* identityProofV2 with this secret; NULL: none */
};

static const struct bcase cases[] = {
	{ "PKCS#10 signed by its own key", 1, 0, BY_CSR_KEY, ESTKIT_OK, 0, ESTKIT_CMC_FAIL_NONE, NULL, NULL },
	{ "PKCS#10 signed by another key", 1, 0, BY_OTHER_KEY, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_MESSAGE_CHECK, NULL, NULL },
	{ "revoke only, no certificate to verify", 0, 1, BY_OTHER_KEY, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_MESSAGE_CHECK, NULL, NULL },
	{ "signer certificate from another CA", 0, 1, BY_FOREIGN_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_MESSAGE_CHECK, NULL, NULL },
	{ "not CMS at all", 0, 0, GARBAGE, ESTKIT_EPOLICY, 400, ESTKIT_CMC_BAD_REQUEST, NULL, NULL },
	{ "no request in the PKIData", 0, 0, BY_OTHER_KEY, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_MESSAGE_CHECK, NULL, NULL },
	/* RFC 5272 6.2.1 identityProofV2 on a label with cmc_require_identity_proof */
	{ "identity proof with the label's secret", 1, 0, BY_CSR_KEY, ESTKIT_OK, 0,
	  ESTKIT_CMC_FAIL_NONE, "idp", ID_SECRET },
	{ "identity proof missing", 1, 0, BY_CSR_KEY, ESTKIT_EPOLICY, 403, ESTKIT_CMC_BAD_IDENTITY,
	  "idp", NULL },
	{ "identity proof with a wrong secret", 1, 0, BY_CSR_KEY, ESTKIT_EPOLICY, 403,
	  ESTKIT_CMC_BAD_IDENTITY, "idp", "shared identity secreT" },
	{ "identity proof with an empty-ish secret", 1, 0, BY_CSR_KEY, ESTKIT_EPOLICY, 403,
	  ESTKIT_CMC_BAD_IDENTITY, "idp", "x" },
	{ "identity proof where none is configured: ignored", 1, 0, BY_CSR_KEY, ESTKIT_OK, 0,
	  ESTKIT_CMC_FAIL_NONE, NULL, "anything" },
};

static void build(const struct bcase *c, X509 *cacert, unsigned char **sd, size_t *sdlen)
{
	EVP_PKEY *k = tu_key("EC", "P-256", 0), *other = tu_key("EC", "P-256", 0);
	X509 *foreign = NULL;
	struct estkit_cmc_req *r = NULL;
	unsigned char *pd = NULL;
	size_t pdlen = 0;

	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	if (c->pkcs10) {
		X509_REQ *csr = tu_csr(k, "cmc-backend", NULL, NULL);
		assert_true(X509_REQ_sign(csr, k, EVP_sha256()) > 0);
		assert_int_equal(estkit_cmc_req_add_pkcs10(r, csr, NULL), ESTKIT_OK);
		X509_REQ_free(csr);
	}
	if (c->idsecret != NULL)
		assert_int_equal(estkit_cmc_req_set_identity_secret(
				     r, (const unsigned char *)c->idsecret, strlen(c->idsecret)),
				 ESTKIT_OK);
	if (c->revoke)
		assert_int_equal(estkit_cmc_req_add_revoke(r, X509_get_subject_name(cacert),
							   X509_get0_serialNumber(cacert), 1),
				 ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_encode(r, &pd, &pdlen), ESTKIT_OK);
	if (c->signer == GARBAGE) {
		*sd = pd;
		*sdlen = pdlen; /* a bare PKIData, not a SignedData */
		pd = NULL;
	} else {
		if (c->signer == BY_FOREIGN_CERT)
			foreign = tu_ca_cert(other, "foreign", 30, 0);
		assert_int_equal(estkit_cmc_sign(pd, pdlen, 0, foreign,
						 c->signer == BY_CSR_KEY ? k : other, NULL, sd,
						 sdlen),
				 ESTKIT_OK);
	}
	X509_free(foreign);
	estkit_free(pd);
	estkit_cmc_req_free(r);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

/* The answer verifies with the CA key and its first status has the failInfo wanted. */
static void check_answer(const unsigned char *der, size_t len, X509 *cacert,
			 enum estkit_cmc_fail want, size_t *ncerts)
{
	unsigned char *content = NULL;
	size_t clen = 0;
	STACK_OF(X509) *certs = NULL;
	struct estkit_cmc_resp *resp = NULL;
	enum estkit_cmc_status st;
	enum estkit_cmc_fail fail;

	assert_int_equal(estkit_cmc_verify_key(der, len, X509_get0_pubkey(cacert), NULL),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(der, len, 1, &content, &clen, &certs), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_decode(content, clen, &resp), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_status(resp, 0, &st, &fail, NULL), ESTKIT_OK);
	assert_int_equal(fail, want);
	assert_int_equal(st, want == ESTKIT_CMC_FAIL_NONE ? ESTKIT_CMC_SUCCESS : ESTKIT_CMC_FAILED);
	*ncerts = (size_t)sk_X509_num(certs);
	sk_X509_pop_free(certs, X509_free);
	estkit_cmc_resp_free(resp);
	estkit_free(content);
}

/* Runs c through estd_backend_cmc_fullcmc() and checks status, HTTP code and answer. */
static void run_case(struct fix *f, const struct bcase *c)
{
	struct estkit_request *req = calloc(1, sizeof(*req));
	unsigned char *sd = NULL, *out = NULL;
	size_t sdlen = 0, outlen = 0, ncerts = 0;
	enum estkit_status rc;

	req->op = ESTKIT_OP_FULLCMC;
	snprintf(req->label, sizeof(req->label), "%s", c->label != NULL ? c->label : "");
	req->identity = OPENSSL_strdup("user:tester");
	build(c, f->cacert, &sd, &sdlen);
	rc = estd_backend_cmc_fullcmc(f->b, req, sd, sdlen, &out, &outlen);
	if (rc != c->want)
		fail_msg("%s: got %s", c->name, estkit_strerror(rc));
	assert_non_null(out);
	if (rc != ESTKIT_OK)
		assert_int_equal(req->status, c->http);
	check_answer(out, outlen, f->cacert, c->fail, &ncerts);
	/* a success carries the issued certificate and the CA certificate */
	assert_int_equal(ncerts, rc == ESTKIT_OK ? 2 : 1);
	estkit_free(out);
	estkit_free(sd);
	OPENSSL_free(req->identity);
	free(req);
}

static void test_fullcmc_cases(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(*state, &cases[i]);
}

/* An identity secret file that group or others may read is not used: badIdentity. */
static void test_identity_secret_file_must_be_private(void **state)
{
	static const struct bcase c = { "the right secret in a file others can read", 1, 0,
					BY_CSR_KEY, ESTKIT_EPOLICY, 403,
					ESTKIT_CMC_BAD_IDENTITY, "idp", ID_SECRET };
	struct fix *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/id.secret", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	run_case(f, &c);
	assert_int_equal(chmod(path, 0600), 0);
	run_case(f, &cases[6]); /* the same proof, the file private again: issued */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fullcmc_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_secret_file_must_be_private, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
