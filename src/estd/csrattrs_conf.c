/*
 * csrattrs_conf.c - the csrattrs* keys of a [label] section: each value is
 * checked as it is read (so an error names its line) and the label's DER
 * CsrAttrs is built once when the whole file has loaded. See
 * csrattrs_conf.h and estd.conf(5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <estkit/csrattrs.h>
#include <estkit/pki.h>

#include "config.h"
#include "csrattrs_conf.h"
#include "util.h"

#define MAX_WORDS 64

/* Splits a comma list into trimmed words, in place. Returns the count or -1. */
static int split(char *s, char **words, int max)
{
	int n = 0;

	while (s != NULL && *s != '\0') {
		char *comma = strchr(s, ','), *end = NULL;

		if (comma != NULL)
			*comma = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		end = s + strlen(s);
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*s == '\0' || n == max)
			return -1;
		words[n++] = s;
		s = comma != NULL ? comma + 1 : NULL;
	}
	return n;
}

/* Appends the items of the csrattrs value; 1 or 0 with msg. */
static int add_items(struct estkit_csrattrs *a, const char *value, char *msg, size_t msglen)
{
	char *copy = estd_strdup(value), *words[MAX_WORDS];
	int n = copy != NULL ? split(copy, words, MAX_WORDS) : -1, ok = n > 0;

	if (!ok)
		snprintf(msg, msglen, "expected a comma list of at most %d names", MAX_WORDS);
	for (int i = 0; ok && i < n; i++) {
		if (estkit_csrattrs_add_spec(a, words[i]) != ESTKIT_OK) {
			snprintf(msg, msglen,
				 "'%.100s' is not an OID, attribute name or NAME:PARAMETER "
				 "(ecPublicKey:CURVE, rsaEncryption:BITS)",
				 words[i]);
			ok = 0;
		}
	}
	free(copy);
	return ok;
}

/* The csrattrs_san names; *copy holds the strings. Returns the count or -1. */
static int san_words(const char *value, char **copy, char **words)
{
	*copy = estd_strdup(value);
	return *copy != NULL ? split(*copy, words, MAX_WORDS) : -1;
}

/* The first key item of csrattrs ("ecPublicKey:secp384r1") for the template, or NULL. */
static char *template_key(const char *csrattrs)
{
	char *copy = csrattrs != NULL ? estd_strdup(csrattrs) : NULL, *words[MAX_WORDS], *key = NULL;
	int n = copy != NULL ? split(copy, words, MAX_WORDS) : 0;

	for (int i = 0; key == NULL && i < n; i++)
		if (strncmp(words[i], "ecPublicKey:", 12) == 0 || strcmp(words[i], "rsaEncryption") == 0)
			key = estd_strdup(words[i]);
	free(copy);
	return key;
}

/* Reads csrattrs_file: DER, or base64 of DER (RFC 8951), checked (RFC 9908). */
static int load_file(const char *path, unsigned char **der, size_t *len, char *msg,
		     size_t msglen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = malloc(2 * ESTKIT_CSRATTRS_MAX_DER + 1), *dec = NULL;
	struct estkit_csrattrs *a = NULL;
	size_t n = 0, dlen = 0;
	char why[256];
	int ok = 0;

	if (f == NULL || buf == NULL) {
		snprintf(msg, msglen, "cannot read %s", path);
		goto out;
	}
	n = fread(buf, 1, 2 * ESTKIT_CSRATTRS_MAX_DER + 1, f);
	if (n > 2 * ESTKIT_CSRATTRS_MAX_DER) {
		snprintf(msg, msglen, "%s is too large", path);
		goto out;
	}
	if (estkit_csrattrs_decode(buf, n, &a) != ESTKIT_OK) {
		if (estkit_b64_decode((const char *)buf, n, &dec, &dlen) != ESTKIT_OK ||
		    estkit_csrattrs_decode(dec, dlen, &a) != ESTKIT_OK) {
			snprintf(msg, msglen, "%s is not a DER or base64 CsrAttrs", path);
			goto out;
		}
	}
	if (estkit_csrattrs_check(a, why, sizeof(why)) != ESTKIT_OK) {
		snprintf(msg, msglen, "%s: %s", path, why);
		goto out;
	}
	ok = estkit_csrattrs_encode(a, der, len) == ESTKIT_OK;
	if (!ok)
		snprintf(msg, msglen, "out of memory");
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	estkit_free(dec);
	estkit_csrattrs_free(a);
	return ok;
}

/* A scratch list holding just this one value, to check it. */
static int check_value(const char *key, const char *value, char *msg, size_t msglen)
{
	struct estkit_csrattrs *a = estkit_csrattrs_new();
	char *copy = NULL, *words[MAX_WORDS];
	X509_NAME *name = NULL;
	int ok = 0, n;

	if (a == NULL) {
		snprintf(msg, msglen, "out of memory");
	} else if (strcmp(key, "csrattrs") == 0) {
		ok = add_items(a, value, msg, msglen);
	} else if (strcmp(key, "csrattrs_san") == 0) {
		n = san_words(value, &copy, words);
		ok = n > 0 && estkit_csrattrs_add_san_request(a, (const char *const *)words,
							       (size_t)n) == ESTKIT_OK;
		if (!ok)
			snprintf(msg, msglen, "expected a comma list of DNS:name, IP:address, "
					      "URI:uri or email:address");
	} else if (strcmp(key, "csrattrs_subject") == 0) {
		ok = estkit_name_parse(value, &name) == ESTKIT_OK;
		if (!ok)
			snprintf(msg, msglen, "'%.100s' is not a subject (CN=x,O=y or /CN=x/O=y)",
				 value);
	}
	free(copy);
	X509_NAME_free(name);
	estkit_csrattrs_free(a);
	return ok;
}

static int set_str(char **slot, const char *v, char *msg, size_t msglen)
{
	char *s = estd_strdup(v);

	if (s == NULL) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	free(*slot);
	*slot = s;
	return 1;
}

/* See csrattrs_conf.h. */
int estd_csrattrs_conf_set(struct estd_label *l, const char *key, const char *value,
			   const char *path, char *msg, size_t msglen)
{
	if (strlen(value) > ESTD_CSRATTRS_VALUE_MAX) {
		snprintf(msg, msglen, "value longer than %d bytes", ESTD_CSRATTRS_VALUE_MAX);
		return 0;
	}
	if (strcmp(key, "csrattrs_auth") == 0) {
		if (strcmp(value, "none") != 0 && strcmp(value, "required") != 0) {
			snprintf(msg, msglen, "'%.100s' is not none or required", value);
			return 0;
		}
		l->csrattrs_auth = strcmp(value, "required") == 0;
		return 1;
	}
	if (strcmp(key, "csrattrs_file") == 0) {
		if (path == NULL) {
			snprintf(msg, msglen, "a path is required");
			return 0;
		}
		OPENSSL_free(l->csrattrs_der);
		l->csrattrs_der = NULL;
		if (!load_file(path, &l->csrattrs_der, &l->csrattrs_len, msg, msglen))
			return 0;
		return set_str(&l->csrattrs_file, path, msg, msglen);
	}
	if (!check_value(key, value, msg, msglen))
		return 0;
	if (strcmp(key, "csrattrs") == 0)
		return set_str(&l->csrattrs, value, msg, msglen);
	if (strcmp(key, "csrattrs_san") == 0)
		return set_str(&l->csrattrs_san, value, msg, msglen);
	return set_str(&l->csrattrs_subject, value, msg, msglen);
}

/* The template (RFC 9908 4) of a label with csrattrs_subject. */
static int add_template(struct estkit_csrattrs *a, const struct estd_label *l, char *msg,
			size_t msglen)
{
	char *copy = NULL, *words[MAX_WORDS], *key = template_key(l->csrattrs);
	X509_NAME *name = NULL;
	int n = l->csrattrs_san != NULL ? san_words(l->csrattrs_san, &copy, words) : 0, ok;

	ok = n >= 0 && estkit_name_parse(l->csrattrs_subject, &name) == ESTKIT_OK &&
	     estkit_csrattrs_add_template(a, name, key, (const char *const *)words,
					  (size_t)n) == ESTKIT_OK;
	if (!ok)
		snprintf(msg, msglen, "cannot build the csrattrs template");
	X509_NAME_free(name);
	free(copy);
	free(key);
	return ok;
}

/* See csrattrs_conf.h. */
int estd_csrattrs_conf_build(struct estd_label *l, char *msg, size_t msglen)
{
	struct estkit_csrattrs *a = NULL;
	char *copy = NULL, *words[MAX_WORDS];
	int ok = 0, n;

	if (l->csrattrs_file != NULL) {
		if (l->csrattrs != NULL || l->csrattrs_san != NULL || l->csrattrs_subject != NULL) {
			snprintf(msg, msglen, "csrattrs_file excludes csrattrs, csrattrs_san and "
					      "csrattrs_subject");
			return 0;
		}
		return 1; /* loaded and checked when the key was read */
	}
	if (l->csrattrs == NULL && l->csrattrs_san == NULL && l->csrattrs_subject == NULL)
		return 1; /* none: /csrattrs answers 204 */
	if ((a = estkit_csrattrs_new()) == NULL)
		goto oom;
	if (l->csrattrs != NULL && !add_items(a, l->csrattrs, msg, msglen))
		goto out;
	if (l->csrattrs_san != NULL) {
		n = san_words(l->csrattrs_san, &copy, words);
		if (n <= 0 || estkit_csrattrs_add_san_request(a, (const char *const *)words,
							      (size_t)n) != ESTKIT_OK)
			goto oom;
	}
	if (l->csrattrs_subject != NULL && !add_template(a, l, msg, msglen))
		goto out;
	if (estkit_csrattrs_encode(a, &l->csrattrs_der, &l->csrattrs_len) != ESTKIT_OK)
		goto oom;
	ok = 1;
	goto out;
oom:
	snprintf(msg, msglen, "cannot build the csrattrs answer");
out:
	free(copy);
	estkit_csrattrs_free(a);
	return ok;
}

/* See csrattrs_conf.h. */
void estd_csrattrs_conf_clear(struct estd_label *l)
{
	free(l->csrattrs);
	free(l->csrattrs_san);
	free(l->csrattrs_subject);
	free(l->csrattrs_file);
	OPENSSL_free(l->csrattrs_der);
	l->csrattrs = l->csrattrs_san = l->csrattrs_subject = l->csrattrs_file = NULL;
	l->csrattrs_der = NULL;
	l->csrattrs_len = 0;
}
