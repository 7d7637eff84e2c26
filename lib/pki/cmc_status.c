/*
 * cmc_status.c - reading CMCStatusInfoV2 controls (RFC 5272 6.1.1) back out
 * of a PKIResponse.
 */
#include <string.h>
#include "pki/cmc_internal.h"

static const char *const fail_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId", "unsupportedExt",
	"mustArchiveKeys", "badIdentity", "popRequired", "popFailed", "noKeyReuse",
	"internalCAError", "tryLater", "authDataFail",
};

/* See estkit/cmc.h. */
const char *estkit_cmc_fail_name(enum estkit_cmc_fail fail)
{
	if ((int)fail >= 0 && (size_t)fail < sizeof(fail_names) / sizeof(fail_names[0]))
		return fail_names[fail];
	return "unknown";
}

/* Decodes every status once, keeping them (and their texts) on r. */
static int decode_all(struct estkit_cmc_resp *r)
{
	int i, n = ek_cmc_ctrl_count(r->pr->controls, EK_OID_CMC_STATUSINFOV2);

	if (r->stats != NULL)
		return 0;
	r->stats = sk_EK_CMC_STATUS_new_null();
	r->texts = OPENSSL_zalloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
	if (r->stats == NULL || r->texts == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		ASN1_TYPE *t = ek_cmc_ctrl_find(r->pr->controls, EK_OID_CMC_STATUSINFOV2, i, NULL);
		EK_CMC_STATUS *s = NULL;

		if (t == NULL || t->type != V_ASN1_SEQUENCE)
			return -1;
		s = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(EK_CMC_STATUS), t);
		if (s == NULL || sk_EK_CMC_BPREF_num(s->bodies) < 1 ||
		    !sk_EK_CMC_STATUS_push(r->stats, s)) {
			EK_CMC_STATUS_free(s);
			return -1;
		}
		if (s->text != NULL) {
			r->texts[i] = OPENSSL_strndup((const char *)s->text->data,
						      (size_t)s->text->length);
			if (r->texts[i] == NULL)
				return -1;
		}
		r->ntexts = (size_t)i + 1;
	}
	return 0;
}

/* See estkit/cmc.h. */
int estkit_cmc_resp_status_count(const struct estkit_cmc_resp *r)
{
	struct estkit_cmc_resp *w = (struct estkit_cmc_resp *)r;

	if (r == NULL)
		return 0;
	if (decode_all(w) != 0) {
		/* forget a half-decoded set so every call answers the same */
		sk_EK_CMC_STATUS_pop_free(w->stats, EK_CMC_STATUS_free);
		w->stats = NULL;
		while (w->ntexts > 0)
			OPENSSL_free(w->texts[--w->ntexts]);
		OPENSSL_free(w->texts);
		w->texts = NULL;
		return -1;
	}
	return sk_EK_CMC_STATUS_num(w->stats);
}

/* otherInfo: failInfo INTEGER, or a SEQUENCE (pendInfo / extendedFailInfo): no failInfo. */
static enum estkit_cmc_fail fail_of(const EK_CMC_STATUS *s)
{
	long v;

	if (s->other == NULL || s->other->type != V_ASN1_INTEGER)
		return ESTKIT_CMC_FAIL_NONE;
	v = ASN1_INTEGER_get(s->other->value.integer);
	if (v < 0 || v > 1000)
		return ESTKIT_CMC_FAIL_NONE;
	return (enum estkit_cmc_fail)v;
}

/* See estkit/cmc.h. */
enum estkit_status estkit_cmc_resp_status(const struct estkit_cmc_resp *r, int i,
					  enum estkit_cmc_status *status,
					  enum estkit_cmc_fail *fail, const char **text)
{
	const EK_CMC_STATUS *s = NULL;
	long v;
	int n = estkit_cmc_resp_status_count(r);

	if (n < 0)
		return ESTKIT_EPARSE;
	if (i < 0 || i >= n)
		return ESTKIT_ENOTFOUND;
	s = sk_EK_CMC_STATUS_value(r->stats, i);
	v = ASN1_INTEGER_get(s->status);
	if (v < 0 || v > 7)
		return ESTKIT_EPARSE;
	if (status != NULL)
		*status = (enum estkit_cmc_status)v;
	if (fail != NULL)
		*fail = fail_of(s);
	if (text != NULL)
		*text = r->texts[i];
	return ESTKIT_OK;
}
