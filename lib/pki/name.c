/*
 * name.c - distinguished names from and to text.
 */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <estkit/pki.h>
#include "pki_internal.h"

/* Longest subject string accepted; real subjects are far shorter. */
#define NAME_MAX_TEXT 8192

/* One "type=value" pair, unescaped into fixed buffers. */
struct rdn_text {
	char type[128];
	char value[NAME_MAX_TEXT];
	size_t vlen;
};

/*
 * Reads one "type=value" starting at *pos up to an unescaped sep (or the
 * end); *more tells whether a separator followed. A backslash makes the
 * next character literal. In comma form, unescaped blanks around type and
 * value are dropped (RFC 4514 2.4).
 */
static int read_pair(const char *s, size_t *pos, char sep, struct rdn_text *r, int *more)
{
	size_t i = *pos, tlen = 0, keep = 0;
	int in_value = 0;

	r->vlen = 0;
	if (sep == ',')
		while (s[i] == ' ')
			i++;
	for (; s[i] != '\0' && s[i] != sep; i++) {
		char c = s[i];
		int escaped = 0;

		if (c == '\\') {
			if (s[++i] == '\0')
				return 0; /* dangling backslash */
			c = s[i];
			escaped = 1;
		}
		if (!in_value && c == '=' && !escaped) {
			in_value = 1;
			continue;
		}
		if (!in_value) {
			if (escaped || tlen + 1 >= sizeof(r->type))
				return 0;
			r->type[tlen++] = c;
		} else {
			if (r->vlen == 0 && c == ' ' && !escaped && sep == ',')
				continue;
			if (r->vlen + 1 >= sizeof(r->value))
				return 0;
			r->value[r->vlen++] = c;
			if (escaped || c != ' ' || sep != ',')
				keep = r->vlen;
		}
	}
	if (sep == ',')
		r->vlen = keep;
	while (tlen > 0 && r->type[tlen - 1] == ' ')
		tlen--;
	r->type[tlen] = '\0';
	r->value[r->vlen] = '\0';
	*more = s[i] == sep;
	*pos = *more ? i + 1 : i;
	return in_value && tlen > 0 && r->vlen > 0;
}

/* Splits the subject into pairs and adds them to name. */
static enum estkit_status parse_into(const char *s, char sep, X509_NAME *name)
{
	struct rdn_text *r = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;
	size_t pos = sep == '/' ? 1 : 0;
	/* RFC 4514 2.1: the string lists the last RDN first. */
	int loc = sep == ',' ? 0 : -1;

	if ((r = OPENSSL_zalloc(sizeof(*r))) == NULL)
		return ESTKIT_ENOMEM;
	while (s[pos] != '\0') {
		int nid, more = 0;

		if (!read_pair(s, &pos, sep, r, &more))
			goto out;
		if ((nid = OBJ_txt2nid(r->type)) == NID_undef)
			goto out;
		if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (unsigned char *)r->value,
						(int)r->vlen, loc, 0))
			goto out;
		/* A trailing separator would leave an empty pair: refuse it. */
		if (more && s[pos] == '\0')
			goto out;
	}
	rc = X509_NAME_entry_count(name) > 0 ? ESTKIT_OK : ESTKIT_EINVAL;
out:
	OPENSSL_clear_free(r, sizeof(*r));
	return rc;
}

/*
 * See estkit/pki.h. "/CN=a/O=b" lists RDNs in DER order (as openssl -subj);
 * "CN=a,O=b" is RFC 4514 order (last RDN first), so that the string
 * estkit_name_oneline() prints parses back to the same name.
 */
enum estkit_status estkit_name_parse(const char *subject, X509_NAME **out)
{
	enum estkit_status rc;
	X509_NAME *name = NULL;

	if (out != NULL)
		*out = NULL;
	if (subject == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if (*subject == '\0' || strlen(subject) > NAME_MAX_TEXT)
		return ESTKIT_EINVAL;
	if ((name = X509_NAME_new()) == NULL)
		return ESTKIT_ENOMEM;
	rc = parse_into(subject, subject[0] == '/' ? '/' : ',', name);
	if (rc != ESTKIT_OK) {
		X509_NAME_free(name);
		return rc;
	}
	*out = name;
	return ESTKIT_OK;
}

/*
 * See estkit/pki.h. UTF-8 is printed as UTF-8 (not "\C3\A9" escapes);
 * control characters and RFC 2253 specials are escaped.
 */
enum estkit_status estkit_name_oneline(const X509_NAME *name, char **out)
{
	enum estkit_status rc;
	BIO *bio = NULL;

	if (out != NULL)
		*out = NULL;
	if (name == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return ESTKIT_ENOMEM;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		rc = ESTKIT_ECRYPTO;
	else
		rc = ek_bio_to_string(bio, out, NULL);
	BIO_free(bio);
	return rc;
}
