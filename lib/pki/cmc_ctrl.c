/*
 * cmc_ctrl.c - TaggedAttribute controls (RFC 5272 3.2.1.2) shared by the
 * PKIData and PKIResponse code: find, count, add, and typed values.
 */
#include <string.h>
#include <openssl/rand.h>
#include "pki/cmc_asn1.h"

static int is_oid(const EK_CMC_TATTR *a, const char *oid)
{
	char buf[80];

	if (OBJ_obj2txt(buf, sizeof(buf), a->type, 1) <= 0)
		return 0;
	return strcmp(buf, oid) == 0;
}

/* See cmc_asn1.h. */
ASN1_TYPE *ek_cmc_ctrl_find(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid, int n,
			    uint32_t *bpid)
{
	int i;

	for (i = 0; i < sk_EK_CMC_TATTR_num(ctrls); i++) {
		EK_CMC_TATTR *a = sk_EK_CMC_TATTR_value(ctrls, i);

		if (!is_oid(a, oid) || n-- > 0)
			continue;
		/* RFC 5272 6: each control we use has exactly one value */
		if (sk_ASN1_TYPE_num(a->values) != 1)
			return NULL;
		if (bpid != NULL && ek_cmc_bpid_get(a->bpid, bpid) != 0)
			return NULL;
		return sk_ASN1_TYPE_value(a->values, 0);
	}
	return NULL;
}

/* See cmc_asn1.h. */
int ek_cmc_ctrl_count(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid)
{
	int i, n = 0;

	for (i = 0; i < sk_EK_CMC_TATTR_num(ctrls); i++)
		n += is_oid(sk_EK_CMC_TATTR_value(ctrls, i), oid);
	return n;
}

/* See cmc_asn1.h. */
int ek_cmc_ctrl_add(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
		    ASN1_TYPE *val)
{
	EK_CMC_TATTR *a = EK_CMC_TATTR_new();

	if (a == NULL)
		return -1;
	ASN1_OBJECT_free(a->type);
	a->type = OBJ_txt2obj(oid, 1);
	if (a->type == NULL || !ASN1_INTEGER_set_uint64(a->bpid, bpid) ||
	    !sk_ASN1_TYPE_push(a->values, val))
		goto err;
	if (!sk_EK_CMC_TATTR_push(ctrls, a)) {
		(void)sk_ASN1_TYPE_pop(a->values); /* val stays the caller's */
		goto err;
	}
	return 0;
err:
	EK_CMC_TATTR_free(a);
	return -1;
}

/* See cmc_asn1.h. */
void ek_cmc_ctrl_remove(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid)
{
	int i;

	for (i = sk_EK_CMC_TATTR_num(ctrls) - 1; i >= 0; i--)
		if (is_oid(sk_EK_CMC_TATTR_value(ctrls, i), oid))
			EK_CMC_TATTR_free(sk_EK_CMC_TATTR_delete(ctrls, i));
}

/* See cmc_asn1.h. */
int ek_cmc_bpid_get(const ASN1_INTEGER *a, uint32_t *out)
{
	uint64_t v = 0;

	if (a == NULL || !ASN1_INTEGER_get_uint64(&v, a) || v > 0xffffffffu)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* See cmc_asn1.h. */
enum estkit_status ek_cmc_ctrl_u64(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid,
				   uint64_t *out)
{
	ASN1_TYPE *t = NULL;

	if (ek_cmc_ctrl_count(ctrls, oid) == 0)
		return ESTKIT_ENOTFOUND;
	t = ek_cmc_ctrl_find(ctrls, oid, 0, NULL);
	if (t == NULL || t->type != V_ASN1_INTEGER ||
	    !ASN1_INTEGER_get_uint64(out, t->value.integer))
		return ESTKIT_EPARSE;
	return ESTKIT_OK;
}

/* See cmc_asn1.h. */
enum estkit_status ek_cmc_ctrl_octets(STACK_OF(EK_CMC_TATTR) *ctrls, const char *oid,
				      const unsigned char **p, size_t *len)
{
	ASN1_TYPE *t = NULL;

	if (ek_cmc_ctrl_count(ctrls, oid) == 0)
		return ESTKIT_ENOTFOUND;
	t = ek_cmc_ctrl_find(ctrls, oid, 0, NULL);
	if (t == NULL || t->type != V_ASN1_OCTET_STRING ||
	    t->value.octet_string->length > ESTKIT_CMC_MAX_NONCE)
		return ESTKIT_EPARSE;
	*p = t->value.octet_string->data;
	*len = (size_t)t->value.octet_string->length;
	return ESTKIT_OK;
}

/* See cmc_asn1.h. */
int ek_cmc_ctrl_add_u64(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
			uint64_t v)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	ASN1_INTEGER *i = ASN1_INTEGER_new();

	if (t == NULL || i == NULL || !ASN1_INTEGER_set_uint64(i, v))
		goto err;
	ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
	i = NULL;
	if (ek_cmc_ctrl_add(ctrls, bpid, oid, t) == 0)
		return 0;
err:
	ASN1_INTEGER_free(i);
	ASN1_TYPE_free(t);
	return -1;
}

/* See cmc_asn1.h. */
int ek_cmc_ctrl_add_octets(STACK_OF(EK_CMC_TATTR) *ctrls, uint32_t bpid, const char *oid,
			   const unsigned char *p, size_t len)
{
	ASN1_TYPE *t = ASN1_TYPE_new();
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();

	if (t == NULL || o == NULL || len > ESTKIT_CMC_MAX_NONCE ||
	    !ASN1_OCTET_STRING_set(o, p, (int)len))
		goto err;
	ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, o);
	o = NULL;
	if (ek_cmc_ctrl_add(ctrls, bpid, oid, t) == 0)
		return 0;
err:
	ASN1_OCTET_STRING_free(o);
	ASN1_TYPE_free(t);
	return -1;
}

/* See cmc_asn1.h. */
int ek_cmc_random_u64(uint64_t *out)
{
	unsigned char b[8];
	uint64_t v = 0;
	size_t i;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	for (i = 0; i < sizeof(b); i++)
		v = (v << 8) | b[i];
	*out = (v >> 1) | 1; /* positive, non-zero, fits an int64 */
	return 0;
}
