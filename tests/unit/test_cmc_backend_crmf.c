/*
 * test_cmc_backend_crmf.c - estd's /fullcmc backend (backend/cmc.c) with
 * CRMF requests (RFC 4211 in RFC 5272 3.2.1.3.2): each POP and template
 * refusal with its failInfo, raVerified from a CMC RA, mixed PKCS#10 + CRMF,
 * the certReqId in the status's bodyList; and revokeRequest during a CA
 * rollover (RFC 7030 4.1.3): holders of the old and of the new CA's
 * certificates revoke their own, and no one else's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crmf.h>
#include <estkit/cmc.h>
#include <estkit/pki.h>
#include "backend/ca.h"
#include "backend/cmc.h"
#include "backend/record.h"
#include "ca/rollover.h"
#include "ca_testutil.h"
#include "pki/cmc_internal.h"
#include "server/server_internal.h"
#include "tmpdir_testutil.h"

#define CRMF_ID 5 /* certReqId of the CertReqMsgs made here */

struct fix {
	char dir[64];
	EVP_PKEY *cakey, *newkey;
	X509 *cacert, *newcert;   /* newcert: the rollover's new root (NULL without one) */
	struct estd_ca *ca;
	struct estd_store *st;
	struct estd_backend_ca *b;
};

static char *path(struct fix *f, const char *name)
{
	size_t n = strlen(f->dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", f->dir, name);
	return p;
}

static struct estd_config *config(void)
{
	struct estd_config *c = calloc(1, sizeof(*c));

	c->path = strdup("test.conf");
	c->log_level = strdup("error");
	c->ca_switch_at = -1;
	c->nprofiles = 1;
	c->profiles = calloc(1, sizeof(*c->profiles));
	c->profiles[0] = (struct estd_profile){ strdup("default"), 365, strdup("digitalSignature"),
						strdup("clientAuth"), strdup("ec:P-256"), 1, NULL, 0, NULL, 0 };
	c->nlabels = 1;
	c->labels = calloc(1, sizeof(*c->labels));
	c->labels[0] = (struct estd_label){ .name = strdup(""), .profile = strdup("default") };
	return c;
}

/* A rollover to a new root "Test CA 2", switched (the new CA issues), files in f->dir. */
static void rollover(struct fix *f, struct estd_config *c)
{
	struct estd_rollover_certs rc;
	struct estd_signer *s = NULL;
	X509_NAME *subj = X509_NAME_new();
	STACK_OF(X509) *links = sk_X509_new_null();
	char *err = NULL;

	f->newkey = tu_key("EC", "P-256", 0);
	assert_true(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					       (const unsigned char *)"Test CA 2", -1, -1, 0));
	assert_int_equal(estd_signer_new(f->newkey, &s), ESTKIT_OK);
	assert_int_equal(estd_rollover_create(f->ca, s, subj, 30, &rc, &err), ESTKIT_OK);
	c->ca_cert = path(f, "ca.pem");
	c->ca_next_cert = path(f, "ca-2.pem");
	c->ca_next_key = path(f, "ca-2.key");
	c->ca_link_certs = path(f, "ca-2-links.pem");
	c->ca_switch_at = 1000;
	sk_X509_push(links, rc.new_with_old);
	sk_X509_push(links, rc.old_with_new);
	assert_int_equal(estkit_cert_save(c->ca_cert, f->cacert), ESTKIT_OK);
	assert_int_equal(estkit_cert_save(c->ca_next_cert, rc.new_with_new), ESTKIT_OK);
	assert_int_equal(estkit_key_save(c->ca_next_key, f->newkey), ESTKIT_OK);
	assert_int_equal(estkit_certs_save(c->ca_link_certs, links), ESTKIT_OK);
	f->newcert = X509_dup(rc.new_with_new);
	sk_X509_free(links);
	estd_rollover_certs_clear(&rc);
	estd_signer_free(s);
	X509_NAME_free(subj);
}

static int setup_with(void **state, int with_rollover)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct estd_signer *s = NULL;
	struct estd_config *c = config();
	char *db = NULL, *err = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/estd-crmf-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->cakey = tu_key("EC", "P-256", 0);
	f->cacert = tu_ca_cert(f->cakey, "Test CA", 3650, 1);
	if (estd_signer_new(f->cakey, &s) != ESTKIT_OK || estd_ca_new(f->cacert, s, &f->ca) != ESTKIT_OK)
		return -1;
	if (with_rollover)
		rollover(f, c);
	db = path(f, "estd.db");
	if (estd_store_open(db, &f->st, &err) != ESTKIT_OK ||
	    estd_backend_ca_new(c, NULL, f->st, f->ca, &f->b, &err) != ESTKIT_OK) {
		fprintf(stderr, "setup: %s\n", err != NULL ? err : "?");
		return -1;
	}
	free(db);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 0);
}

static int setup_rollover(void **state)
{
	return setup_with(state, 1);
}

static int teardown(void **state)
{
	struct fix *f = *state;
	int rc = 0;

	estd_backend_ca_free(f->b);
	estd_store_close(f->st);
	estd_ca_free(f->ca);
	X509_free(f->cacert);
	X509_free(f->newcert);
	EVP_PKEY_free(f->cakey);
	EVP_PKEY_free(f->newkey);
	rc = tu_rmtree(f->dir);
	free(f);
	return rc;
}

/*
 * A certificate for key issued by (issuer, ikey), optionally with the
 * id-kp-cmcRA extended key usage, recorded in the store as if issued here.
 */
static X509 *leaf(struct fix *f, X509 *issuer, EVP_PKEY *ikey, const char *cn, EVP_PKEY *key,
		  int ra)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_EXTENSION *e = NULL;
	X509_REQ *csr = tu_csr(key, cn, NULL, NULL);
	struct estd_cert_record rec;

	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					       -1, -1, 0));
	assert_true(X509_set_version(x, X509_VERSION_3));
	assert_int_equal(estd_cert_set_random_serial(x), ESTKIT_OK);
	assert_true(X509_set_subject_name(x, n));
	assert_true(X509_set_issuer_name(x, X509_get_subject_name(issuer)));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_true(X509_set_pubkey(x, key));
	assert_int_equal(estd_cert_add_key_ids(x, issuer), ESTKIT_OK);
	if (ra) {
		e = X509V3_EXT_conf_nid(NULL, NULL, NID_ext_key_usage, "cmcRA");
		assert_non_null(e);
		assert_true(X509_add_ext(x, e, -1));
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
	if (f != NULL) {
		assert_int_equal(estd_record_build(csr, x, "test", "", "simpleenroll", &rec),
				 ESTKIT_OK);
		assert_int_equal(estd_store_cert_insert(f->st, &rec), ESTKIT_OK);
		estd_record_clear(&rec);
	}
	X509_REQ_free(csr);
	X509_NAME_free(n);
	return x;
}

enum shape { GOOD, TAMPERED, NO_POP, RA_VERIFIED, NO_PUBKEY, WITH_SERIAL, OTHER_ISSUER,
	     EMPTY_TEMPLATE };

/* A CertReqMsg (certReqId CRMF_ID) made with OpenSSL's CRMF calls, not with the code under test. */
static OSSL_CRMF_MSG *ossl_msg(enum shape s, EVP_PKEY *k)
{
	OSSL_CRMF_MSG *m = OSSL_CRMF_MSG_new();
	X509_NAME *subj = X509_NAME_new(), *other = X509_NAME_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();

	assert_true(OSSL_CRMF_MSG_set_certReqId(m, CRMF_ID));
	assert_true(X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
					       (const unsigned char *)"crmf-backend", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_ASC,
					       (const unsigned char *)"Some Other CA", -1, -1, 0));
	assert_true(ASN1_INTEGER_set(sn, 99));
	if (s != EMPTY_TEMPLATE)
		assert_true(OSSL_CRMF_CERTTEMPLATE_fill(
			OSSL_CRMF_MSG_get0_tmpl(m), s == NO_PUBKEY ? NULL : k, subj,
			s == OTHER_ISSUER ? other : NULL, s == WITH_SERIAL ? sn : NULL));
	if (s == RA_VERIFIED)
		assert_true(OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_RAVERIFIED, m, NULL, NULL,
						      NULL, NULL));
	else if (s != NO_POP && s != EMPTY_TEMPLATE)
		assert_true(OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, m, k, EVP_sha256(),
						      NULL, NULL));
	if (s == TAMPERED)
		assert_true(OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(m), NULL, other,
							NULL, NULL));
	X509_NAME_free(subj);
	X509_NAME_free(other);
	ASN1_INTEGER_free(sn);
	return m;
}

/* Who signs the SignedData: the requested key (SKI), a client or RA certificate of the CA. */
enum signer { BY_KEY, BY_CLIENT_CERT, BY_RA_CERT };

struct ccase {
	const char *name;
	enum shape shape;
	int with_pkcs10;            /* a PKCS#10 of the same key before the CRMF */
	enum signer signer;
	enum estkit_status want;
	int http;
	enum estkit_cmc_fail fail;  /* of the CRMF's status */
	size_t ncerts;              /* certificates in the answer */
};

static const struct ccase ccases[] = {
	{ "good CRMF signed by its key", GOOD, 0, BY_KEY, ESTKIT_OK, 0, ESTKIT_CMC_FAIL_NONE, 2 },
	{ "good CRMF signed by a client", GOOD, 0, BY_CLIENT_CERT, ESTKIT_OK, 0,
	  ESTKIT_CMC_FAIL_NONE, 2 },
	{ "POP over another template", TAMPERED, 0, BY_KEY, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_POP_FAILED, 1 },
	{ "no POP", NO_POP, 0, BY_KEY, ESTKIT_EPOLICY, 400, ESTKIT_CMC_POP_REQUIRED_FAIL, 1 },
	{ "raVerified from a client", RA_VERIFIED, 0, BY_CLIENT_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_POP_FAILED, 1 },
	{ "raVerified signed by the key itself", RA_VERIFIED, 0, BY_KEY, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_POP_FAILED, 1 },
	{ "raVerified from a CMC RA", RA_VERIFIED, 0, BY_RA_CERT, ESTKIT_OK, 0,
	  ESTKIT_CMC_FAIL_NONE, 2 },
	{ "template without public key", NO_PUBKEY, 0, BY_CLIENT_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_POP_FAILED, 1 },
	{ "serialNumber asked for", WITH_SERIAL, 0, BY_CLIENT_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_REQUEST, 1 },
	{ "another issuer asked for", OTHER_ISSUER, 0, BY_CLIENT_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_BAD_REQUEST, 1 },
	{ "empty CertReqMsg", EMPTY_TEMPLATE, 0, BY_CLIENT_CERT, ESTKIT_EPOLICY, 400,
	  ESTKIT_CMC_POP_REQUIRED_FAIL, 1 },
	{ "mixed PKCS#10 and CRMF", GOOD, 1, BY_KEY, ESTKIT_OK, 0, ESTKIT_CMC_FAIL_NONE, 3 },
	{ "mixed, the CRMF without POP", NO_POP, 1, BY_KEY, ESTKIT_OK, 0,
	  ESTKIT_CMC_POP_REQUIRED_FAIL, 2 },
};

/* The signed PKIData of a case. */
static void build(struct fix *f, const struct ccase *c, EVP_PKEY *k, unsigned char **sd,
		  size_t *sdlen)
{
	struct estkit_cmc_req *r = NULL;
	OSSL_CRMF_MSG *m = ossl_msg(c->shape, k);
	EVP_PKEY *ck = tu_key("EC", "P-256", 0);
	X509 *signer = NULL;
	unsigned char *pd = NULL;
	size_t pdlen = 0;

	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	if (c->with_pkcs10) {
		X509_REQ *csr = tu_csr(k, "mixed-pkcs10", NULL, NULL);
		assert_int_equal(estkit_cmc_req_add_pkcs10(r, csr, NULL), ESTKIT_OK);
		X509_REQ_free(csr);
	}
	assert_int_equal(estkit_cmc_req_add_crmf(r, m, NULL), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_encode(r, &pd, &pdlen), ESTKIT_OK);
	if (c->signer != BY_KEY)
		signer = leaf(NULL, f->cacert, f->cakey, c->signer == BY_RA_CERT ? "ra" : "client",
			      ck, c->signer == BY_RA_CERT);
	assert_int_equal(estkit_cmc_sign(pd, pdlen, 0, signer, signer != NULL ? ck : k, NULL, sd,
					 sdlen),
			 ESTKIT_OK);
	X509_free(signer);
	EVP_PKEY_free(ck);
	estkit_free(pd);
	estkit_cmc_req_free(r);
	OSSL_CRMF_MSG_free(m);
}

/* Status i of the answer: CMCStatus, failInfo and the single body part it names. */
static void answer_status(const unsigned char *der, size_t len, X509 *cacert, int i,
			  enum estkit_cmc_status *st, enum estkit_cmc_fail *fail, uint32_t *bp,
			  size_t *ncerts)
{
	unsigned char *content = NULL;
	size_t clen = 0;
	STACK_OF(X509) *certs = NULL;
	struct estkit_cmc_resp *resp = NULL;
	ASN1_TYPE *t = NULL;
	EK_CMC_STATUS *s = NULL;

	assert_int_equal(estkit_cmc_verify_key(der, len, X509_get0_pubkey(cacert), NULL),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(der, len, 1, &content, &clen, &certs), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_decode(content, clen, &resp), ESTKIT_OK);
	assert_int_equal(estkit_cmc_resp_status(resp, i, st, fail, NULL), ESTKIT_OK);
	/* RFC 5272 3.2.1.3.2: a CertReqMsg is referred to by its certReqId */
	t = ek_cmc_ctrl_find(resp->pr->controls, EK_OID_CMC_STATUSINFOV2, i, NULL);
	assert_non_null(t);
	s = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(EK_CMC_STATUS), t);
	assert_non_null(s);
	assert_int_equal(sk_EK_CMC_BPREF_num(s->bodies), 1);
	assert_int_equal(sk_EK_CMC_BPREF_value(s->bodies, 0)->type, EK_CMC_BPREF_ID);
	assert_int_equal(ek_cmc_bpid_get(sk_EK_CMC_BPREF_value(s->bodies, 0)->value.id, bp), 0);
	*ncerts = (size_t)sk_X509_num(certs);
	EK_CMC_STATUS_free(s);
	sk_X509_pop_free(certs, X509_free);
	estkit_cmc_resp_free(resp);
	estkit_free(content);
}

static struct estkit_request *request(const char *identity)
{
	struct estkit_request *req = calloc(1, sizeof(*req));

	req->op = ESTKIT_OP_FULLCMC;
	req->identity = OPENSSL_strdup(identity);
	return req;
}

static void request_free(struct estkit_request *req)
{
	OPENSSL_free(req->identity);
	free(req);
}

static void test_crmf_cases(void **state)
{
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		const struct ccase *c = &ccases[i];
		struct estkit_request *req = request("user:tester");
		EVP_PKEY *k = tu_key("EC", "P-256", 0);
		unsigned char *sd = NULL, *out = NULL;
		size_t sdlen = 0, outlen = 0, ncerts = 0;
		enum estkit_cmc_status st;
		enum estkit_cmc_fail fail;
		uint32_t bp = 0;
		enum estkit_status rc;

		print_message("case: %s\n", c->name);
		build(f, c, k, &sd, &sdlen);
		rc = estd_backend_cmc_fullcmc(f->b, req, sd, sdlen, &out, &outlen);
		if (rc != c->want)
			fail_msg("%s: got %s", c->name, estkit_strerror(rc));
		assert_non_null(out);
		if (rc != ESTKIT_OK)
			assert_int_equal(req->status, c->http);
		/* the CRMF's status is the last one */
		answer_status(out, outlen, f->cacert, c->with_pkcs10, &st, &fail, &bp, &ncerts);
		assert_int_equal(fail, c->fail);
		assert_int_equal(st, c->fail == ESTKIT_CMC_FAIL_NONE ? ESTKIT_CMC_SUCCESS
								    : ESTKIT_CMC_FAILED);
		assert_int_equal(bp, CRMF_ID);
		assert_int_equal(ncerts, c->ncerts);
		estkit_free(out);
		estkit_free(sd);
		EVP_PKEY_free(k);
		request_free(req);
	}
}

/* The store keeps the CertReqMsg of a CRMF issuance, as received. */
static void test_crmf_recorded(void **state)
{
	struct fix *f = *state;
	const struct ccase c = { "recorded", GOOD, 0, BY_KEY, ESTKIT_OK, 0, ESTKIT_CMC_FAIL_NONE,
				 2 };
	struct estkit_request *req = request("user:tester");
	EVP_PKEY *k = tu_key("EC", "P-256", 0);
	unsigned char *sd = NULL, *out = NULL, *content = NULL;
	size_t sdlen = 0, outlen = 0, clen = 0;
	STACK_OF(X509) *certs = NULL;
	X509 *cert = NULL;
	char *serial = NULL;
	struct estd_cert_record *rec = NULL;
	const unsigned char *p = NULL;
	OSSL_CRMF_MSG *m = NULL;

	build(f, &c, k, &sd, &sdlen);
	assert_int_equal(estd_backend_cmc_fullcmc(f->b, req, sd, sdlen, &out, &outlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(out, outlen, 1, &content, &clen, &certs), ESTKIT_OK);
	cert = estkit_certs_find_by_key(certs, k);
	assert_non_null(cert);
	assert_int_equal(estkit_cert_serial_hex(cert, &serial), ESTKIT_OK);
	assert_int_equal(estd_store_cert_get(f->st, serial, &rec), ESTKIT_OK);
	assert_string_equal(rec->op, "fullcmc");
	p = rec->csr_der;
	m = d2i_OSSL_CRMF_MSG(NULL, &p, (long)rec->csr_len);
	assert_non_null(m);
	assert_int_equal(OSSL_CRMF_MSG_get_certReqId(m), CRMF_ID);
	OSSL_CRMF_MSG_free(m);
	estd_cert_record_free(rec);
	estkit_free(serial);
	sk_X509_pop_free(certs, X509_free);
	estkit_free(content);
	estkit_free(out);
	estkit_free(sd);
	EVP_PKEY_free(k);
	request_free(req);
}

/* A revokeRequest for target signed with (signer, key); the answer's failInfo and HTTP status. */
static void revoke_by(struct fix *f, X509 *signer, EVP_PKEY *key, X509 *target,
		   enum estkit_cmc_fail want, int http)
{
	struct estkit_request *req = request("user:tester");
	struct estkit_cmc_req *r = NULL;
	unsigned char *pd = NULL, *sd = NULL, *out = NULL;
	size_t pdlen = 0, sdlen = 0, outlen = 0, ncerts = 0;
	enum estkit_cmc_status st;
	enum estkit_cmc_fail fail;
	uint32_t bp = 0;
	enum estkit_status rc;

	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_add_revoke(r, X509_get_issuer_name(target),
						   X509_get0_serialNumber(target), 1),
			 ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_encode(r, &pd, &pdlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_sign(pd, pdlen, 0, signer, key, NULL, &sd, &sdlen), ESTKIT_OK);
	rc = estd_backend_cmc_fullcmc(f->b, req, sd, sdlen, &out, &outlen);
	assert_int_equal(rc, want == ESTKIT_CMC_FAIL_NONE ? ESTKIT_OK : ESTKIT_EPOLICY);
	if (rc != ESTKIT_OK)
		assert_int_equal(req->status, http);
	/* a revocation is answered by the CA that issues now: the new one */
	answer_status(out, outlen, f->newcert, 0, &st, &fail, &bp, &ncerts);
	assert_int_equal(fail, want);
	estkit_free(out);
	estkit_free(sd);
	estkit_free(pd);
	estkit_cmc_req_free(r);
	request_free(req);
}

static void test_rollover_revoke(void **state)
{
	struct fix *f = *state;
	EVP_PKEY *ko = tu_key("EC", "P-256", 0), *kn = tu_key("EC", "P-256", 0);
	EVP_PKEY *kv = tu_key("EC", "P-256", 0), *kf = tu_key("EC", "P-256", 0);
	X509 *old_holder = leaf(f, f->cacert, f->cakey, "old-holder", ko, 0);
	X509 *new_holder = leaf(f, f->newcert, f->newkey, "new-holder", kn, 0);
	X509 *victim = leaf(f, f->cacert, f->cakey, "victim", kv, 0);
	X509 *foreign_ca = tu_ca_cert(kf, "Foreign CA", 30, 1);
	X509 *foreign = leaf(NULL, foreign_ca, kf, "foreign", kf, 0);

	/* a certificate of the old CA, still trusted during the rollover */
	print_message("old CA's holder revokes its own\n");
	revoke_by(f, old_holder, ko, old_holder, ESTKIT_CMC_FAIL_NONE, 0);
	/* one of the new CA, whose root has another name */
	print_message("new CA's holder revokes its own\n");
	revoke_by(f, new_holder, kn, new_holder, ESTKIT_CMC_FAIL_NONE, 0);
	print_message("revoked holder cannot revoke again\n");
	revoke_by(f, new_holder, kn, new_holder, ESTKIT_CMC_BAD_REQUEST, 400);
	print_message("new CA's holder cannot revoke another's\n");
	{
		X509 *nh2 = leaf(f, f->newcert, f->newkey, "new-holder-2", kn, 0);
		revoke_by(f, nh2, kn, victim, ESTKIT_CMC_BAD_IDENTITY, 403);
		X509_free(nh2);
	}
	print_message("a foreign CA's certificate is not a signer\n");
	revoke_by(f, foreign, kf, victim, ESTKIT_CMC_BAD_MESSAGE_CHECK, 400);
	print_message("a revokeRequest naming a foreign issuer\n");
	revoke_by(f, victim, kv, foreign, ESTKIT_CMC_BAD_CERT_ID, 400);
	X509_free(old_holder);
	X509_free(new_holder);
	X509_free(victim);
	X509_free(foreign_ca);
	X509_free(foreign);
	EVP_PKEY_free(ko);
	EVP_PKEY_free(kn);
	EVP_PKEY_free(kv);
	EVP_PKEY_free(kf);
}

/* A CRMF enrollment signed by a certificate of the new CA is issued by the new CA. */
static void test_rollover_crmf(void **state)
{
	struct fix *f = *state;
	EVP_PKEY *kn = tu_key("EC", "P-256", 0), *k = tu_key("EC", "P-256", 0);
	X509 *holder = leaf(f, f->newcert, f->newkey, "new-holder", kn, 0);
	struct estkit_request *req = request("user:tester");
	struct estkit_cmc_req *r = NULL;
	OSSL_CRMF_MSG *m = ossl_msg(GOOD, k);
	unsigned char *pd = NULL, *sd = NULL, *out = NULL, *content = NULL;
	size_t pdlen = 0, sdlen = 0, outlen = 0, clen = 0;
	STACK_OF(X509) *certs = NULL;
	X509 *cert = NULL;

	assert_int_equal(estkit_cmc_req_new(&r), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_add_crmf(r, m, NULL), ESTKIT_OK);
	assert_int_equal(estkit_cmc_req_encode(r, &pd, &pdlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_sign(pd, pdlen, 0, holder, kn, NULL, &sd, &sdlen), ESTKIT_OK);
	assert_int_equal(estd_backend_cmc_fullcmc(f->b, req, sd, sdlen, &out, &outlen), ESTKIT_OK);
	assert_int_equal(estkit_cmc_open(out, outlen, 1, &content, &clen, &certs), ESTKIT_OK);
	cert = estkit_certs_find_by_key(certs, k);
	assert_non_null(cert);
	assert_int_equal(X509_verify(cert, X509_get0_pubkey(f->newcert)), 1);
	sk_X509_pop_free(certs, X509_free);
	estkit_free(content);
	estkit_free(out);
	estkit_free(sd);
	estkit_free(pd);
	estkit_cmc_req_free(r);
	OSSL_CRMF_MSG_free(m);
	X509_free(holder);
	EVP_PKEY_free(kn);
	EVP_PKEY_free(k);
	request_free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crmf_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crmf_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollover_revoke, setup_rollover, teardown),
		cmocka_unit_test_setup_teardown(test_rollover_crmf, setup_rollover, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
