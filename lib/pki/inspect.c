/*
 * inspect.c - looking at certificates: fingerprints, serials, SANs, keys.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* See pki_internal.h. */
enum estkit_status ek_bio_to_string(BIO *bio, char **out, size_t *outlen)
{
	char *data = NULL, *buf;
	long n;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	n = BIO_get_mem_data(bio, &data);
	if (n < 0)
		return ESTKIT_EINTERNAL;
	if ((buf = OPENSSL_malloc((size_t)n + 1)) == NULL)
		return ESTKIT_ENOMEM;
	if (n > 0)
		memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = (size_t)n;
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
enum estkit_status estkit_cert_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (out != NULL)
		out[0] = '\0';
	if (cert == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if (!X509_digest(cert, EVP_sha256(), md, &n) || n != 32)
		return ESTKIT_ECRYPTO;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return ESTKIT_OK;
}

/* See estkit/pki.h. */
int estkit_cert_fingerprint_matches(X509 *cert, const char *fingerprint)
{
	char want[65], have[65];
	size_t n = 0;
	const char *p;

	if (cert == NULL || fingerprint == NULL)
		return 0;
	p = fingerprint;
	if (strncasecmp(p, "sha256:", 7) == 0)
		p += 7;
	for (; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == 64)
			return 0;
		want[n++] = (char)tolower((unsigned char)*p);
	}
	want[n] = '\0';
	if (n != 64 || estkit_cert_fingerprint(cert, have) != ESTKIT_OK)
		return 0;
	return CRYPTO_memcmp(want, have, 64) == 0;
}

/* See estkit/pki.h. */
enum estkit_status estkit_cert_serial_hex(X509 *cert, char **out)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	size_t skip = 0, len;

	if (out != NULL)
		*out = NULL;
	if (cert == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		BN_free(bn);
		return ESTKIT_ECRYPTO;
	}
	BN_free(bn);
	len = strlen(hex);
	/* BN_bn2hex prints whole bytes ("0A"); drop the leading zero nibble. */
	while (hex[skip] == '0' && skip + 1 < len)
		skip++;
	memmove(hex, hex + skip, len - skip + 1);
	for (char *c = hex; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	*out = hex;
	return ESTKIT_OK;
}

/* Appends s with control bytes, backslash and comma escaped as \xHH. */
static int put_escaped(BIO *bio, const unsigned char *s, int len)
{
	for (int i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' || s[i] == ',') {
			if (BIO_printf(bio, "\\x%02x", s[i]) <= 0)
				return 0;
		} else if (BIO_write(bio, &s[i], 1) != 1) {
			return 0;
		}
	}
	return 1;
}

/* Writes one GeneralName as "TYPE:value". */
static int put_general_name(BIO *bio, const GENERAL_NAME *gen)
{
	const ASN1_STRING *s;
	char ip[INET6_ADDRSTRLEN], oid[128];
	int type;

	s = GENERAL_NAME_get0_value(gen, &type);
	switch (type) {
	case GEN_DNS:
		return BIO_puts(bio, "DNS:") > 0 && put_escaped(bio, s->data, s->length);
	case GEN_URI:
		return BIO_puts(bio, "URI:") > 0 && put_escaped(bio, s->data, s->length);
	case GEN_EMAIL:
		return BIO_puts(bio, "email:") > 0 && put_escaped(bio, s->data, s->length);
	case GEN_IPADD:
		if ((s->length != 4 && s->length != 16) ||
		    inet_ntop(s->length == 4 ? AF_INET : AF_INET6, s->data, ip, sizeof(ip)) == NULL)
			return BIO_puts(bio, "IP:<invalid>") > 0;
		return BIO_printf(bio, "IP:%s", ip) > 0;
	case GEN_RID:
		OBJ_obj2txt(oid, sizeof(oid), gen->d.registeredID, 1);
		return BIO_printf(bio, "RID:%s", oid) > 0;
	case GEN_OTHERNAME:
		OBJ_obj2txt(oid, sizeof(oid), gen->d.otherName->type_id, 1);
		return BIO_printf(bio, "othername:%s", oid) > 0;
	case GEN_DIRNAME:
		return BIO_puts(bio, "DirName:") > 0 &&
		       X509_NAME_print_ex(bio, gen->d.directoryName, 0, XN_FLAG_RFC2253) >= 0;
	default: return BIO_printf(bio, "type%d:<unsupported>", type) > 0;
	}
}

/* See pki_internal.h. */
enum estkit_status ek_sans_format(const GENERAL_NAMES *gens, char **out)
{
	enum estkit_status rc = ESTKIT_ENOMEM;
	BIO *bio = NULL;

	*out = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		if ((i > 0 && BIO_puts(bio, ", ") != 2) ||
		    !put_general_name(bio, sk_GENERAL_NAME_value(gens, i)))
			goto out;
	}
	rc = ek_bio_to_string(bio, out, NULL);
out:
	BIO_free(bio);
	return rc;
}

/* See estkit/pki.h. */
enum estkit_status estkit_cert_sans(X509 *cert, char **out)
{
	GENERAL_NAMES *gens = NULL;
	enum estkit_status rc;
	int crit = -1;

	if (out != NULL)
		*out = NULL;
	if (cert == NULL || out == NULL)
		return ESTKIT_EINVAL;
	ERR_set_mark();
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		ERR_clear_last_mark();
		return ESTKIT_EPARSE; /* duplicated or undecodable extension */
	}
	ERR_pop_to_mark();
	rc = ek_sans_format(gens, out);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* See estkit/pki.h. */
X509 *estkit_certs_find_by_key(STACK_OF(X509) *certs, EVP_PKEY *key)
{
	if (certs == NULL || key == NULL)
		return NULL;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		EVP_PKEY *pub = c != NULL ? X509_get0_pubkey(c) : NULL;

		if (pub != NULL && EVP_PKEY_eq(pub, key) == 1)
			return c;
	}
	return NULL;
}
