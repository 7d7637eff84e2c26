/*
 * users.c - the HTTP users file (users.h): "name:hash[:sha256-ha1:md5-ha1]"
 * lines.
 *
 * A malformed line (no ':', a bad name, a hash that is not "$y$..." or
 * "$6$...", a second line for the same name) makes the whole file refused
 * with "path:line: why": silently skipping it would lock a user out, or
 * leave in place an entry the operator thought was gone. Comment and blank
 * lines are kept as written when the file is rewritten.
 *
 * Two `estd user` commands changing the file at the same moment can lose
 * one change (each rewrites the whole file); the file itself is never torn.
 */
#include "users.h"
#include "util.h"

#include <crypt.h>
#include <errno.h>
#include <estkit/pki.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE 4096
#define MAX_USERS 100000
#define MAX_FILE_SIZE (16 * 1024 * 1024)
#define MAX_PASSWORD 1024

/*
 * A yescrypt hash (default cost) of a password nobody knows: an unknown user
 * is checked against it, so that answering takes as long as for a real one.
 */
static const char dummy_hash[] =
	"$y$j9T$ETemqa9lXW3xemDr5dB9k/$v1YAEDMwB89JyTBu9PeLUc9EVIWbc7oV/PDgSs74PH.";

struct user_line {
	char *text; /* comment or blank line as written; NULL for a user */
	char *name; /* user lines: the name and its crypt(3) hash */
	char *hash;
	int has_ha1; /* Digest HA1 values present */
	unsigned char ha1_sha256[32], ha1_md5[16];
};

struct estd_users {
	struct user_line *lines;
	size_t n;
};

__attribute__((format(printf, 3, 4))) static enum estkit_status
fail(char **err, enum estkit_status rc, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || *err != NULL)
		return rc;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return rc;
}

/* users.h: 1-64 characters of [A-Za-z0-9._@-]. */
static int user_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return 0;
	}
	return 1;
}

/* "$y$..." or "$6$..." made of crypt(3)'s alphabet. */
static int hash_ok(const char *h)
{
	if (strncmp(h, "$y$", 3) != 0 && strncmp(h, "$6$", 3) != 0)
		return 0;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./$") ==
	       strlen(h);
}

static struct user_line *find(const struct estd_users *u, const char *name)
{
	size_t i;

	for (i = 0; u != NULL && i < u->n; i++)
		if (u->lines[i].name != NULL && strcmp(u->lines[i].name, name) == 0)
			return &u->lines[i];
	return NULL;
}

/* Appends a line: text for comments, or name + hash. Takes nothing over. */
static enum estkit_status append(struct estd_users *u, const char *text, const char *name,
				 size_t namelen, const char *hash)
{
	struct user_line *nl;
	struct user_line *l;

	if (u->n >= MAX_USERS)
		return ESTKIT_ETOOBIG;
	nl = realloc(u->lines, (u->n + 1) * sizeof(*nl));
	if (nl == NULL)
		return ESTKIT_ENOMEM;
	u->lines = nl;
	l = &nl[u->n];
	memset(l, 0, sizeof(*l));
	if (text != NULL) {
		l->text = strdup(text);
		if (l->text == NULL)
			return ESTKIT_ENOMEM;
	} else {
		l->name = strndup(name, namelen);
		l->hash = strdup(hash);
		if (l->name == NULL || l->hash == NULL) {
			free(l->name);
			free(l->hash);
			return ESTKIT_ENOMEM;
		}
	}
	u->n++;
	return ESTKIT_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* lowercase only: one spelling per value */
}

/* Exactly n bytes of lowercase hex from s; 0 or -1. */
static int unhex(const char *s, unsigned char *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* "SHA256HEX:MD5HEX" (64 + 1 + 32 characters). */
static int parse_ha1(const char *s, unsigned char *s256, unsigned char *m5)
{
	if (strlen(s) != 64 + 1 + 32 || s[64] != ':')
		return -1;
	return unhex(s, s256, 32) == 0 && unhex(s + 65, m5, 16) == 0 ? 0 : -1;
}

/* One line of the file (newline stripped). */
static enum estkit_status parse_line(struct estd_users *u, char *line, const char *path,
				     int lineno, char **err)
{
	const char *s = line + strspn(line, " \t");
	const char *colon;
	enum estkit_status rc;

	if (*s == '\0' || *s == '#')
		rc = append(u, line, NULL, 0, NULL);
	else {
		unsigned char s256[32], m5[16];
		char *ha1 = NULL;
		colon = strchr(line, ':');
		if (colon != NULL && (ha1 = strchr(colon + 1, ':')) != NULL)
			*ha1++ = '\0';
		if (colon == NULL || !user_name_ok(line, (size_t)(colon - line)) ||
		    !hash_ok(colon + 1) || (ha1 != NULL && parse_ha1(ha1, s256, m5) != 0))
			return fail(err, ESTKIT_EPARSE,
				    "%s:%d: malformed line (expected name:$y$... hash, optionally "
				    ":SHA256-HA1:MD5-HA1 in hex)", path, lineno);
		line[colon - line] = '\0';
		if (find(u, line) != NULL)
			return fail(err, ESTKIT_EPARSE, "%s:%d: duplicate user '%s'", path, lineno,
				    line);
		rc = append(u, NULL, line, (size_t)(colon - line), colon + 1);
		if (rc == ESTKIT_OK && ha1 != NULL) {
			struct user_line *l = &u->lines[u->n - 1];
			l->has_ha1 = 1;
			memcpy(l->ha1_sha256, s256, sizeof(s256));
			memcpy(l->ha1_md5, m5, sizeof(m5));
		}
		OPENSSL_cleanse(s256, sizeof(s256));
		OPENSSL_cleanse(m5, sizeof(m5));
	}
	if (rc != ESTKIT_OK)
		return fail(err, rc, "%s:%d: %s", path, lineno, estkit_strerror(rc));
	return ESTKIT_OK;
}

static enum estkit_status parse_file(struct estd_users *u, FILE *fp, const char *path,
				     char **err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	enum estkit_status rc = ESTKIT_OK;

	while (rc == ESTKIT_OK && (n = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (n > MAX_LINE || strlen(line) != (size_t)n) {
			rc = fail(err, ESTKIT_EPARSE, "%s:%d: line too long or NUL byte", path,
				  lineno);
			break;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		rc = parse_line(u, line, path, lineno, err);
	}
	if (rc == ESTKIT_OK && ferror(fp))
		rc = fail(err, ESTKIT_EIO, "%s: read error", path);
	free(line);
	return rc;
}

/* Loads path; a missing file is an empty list. */
enum estkit_status estd_users_load(const char *path, struct estd_users **out, char **err)
{
	struct estd_users *u = NULL;
	FILE *fp = NULL;
	struct stat st;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (err != NULL)
		*err = NULL;
	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL)
		return fail(err, rc, "invalid argument");
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return fail(err, ESTKIT_ENOMEM, "out of memory");
	fp = fopen(path, "re");
	if (fp == NULL && errno != ENOENT) {
		rc = fail(err, ESTKIT_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fp != NULL && (fstat(fileno(fp), &st) != 0 || st.st_size > MAX_FILE_SIZE)) {
		rc = fail(err, ESTKIT_ETOOBIG, "%s: larger than %d bytes", path, MAX_FILE_SIZE);
		goto out;
	}
	rc = fp != NULL ? parse_file(u, fp, path, err) : ESTKIT_OK;
out:
	if (fp != NULL)
		fclose(fp);
	if (rc != ESTKIT_OK) {
		estd_users_free(u);
		return rc;
	}
	*out = u;
	return ESTKIT_OK;
}

static void line_clear(struct user_line *l)
{
	free(l->text);
	free(l->name);
	if (l->hash != NULL) {
		OPENSSL_cleanse(l->hash, strlen(l->hash));
		free(l->hash);
	}
	OPENSSL_cleanse(l->ha1_sha256, sizeof(l->ha1_sha256));
	OPENSSL_cleanse(l->ha1_md5, sizeof(l->ha1_md5));
}

/* Frees u; NULL is a no-op. */
void estd_users_free(struct estd_users *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++)
		line_clear(&u->lines[i]);
	free(u->lines);
	free(u);
}

/* 1 when user exists and password matches; always costs one hash. */
int estd_users_check(const struct estd_users *u, const char *user, const char *password)
{
	const struct user_line *l = NULL;
	const char *hash = dummy_hash;
	struct crypt_data *data = NULL;
	const char *res;
	size_t len;
	int ok = 0;

	if (user != NULL)
		l = find(u, user);
	if (l != NULL)
		hash = l->hash;
	/* crypt_data is ~32 KiB: too big for a worker's stack */
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return 0;
	res = crypt_r(password != NULL ? password : "", hash, data);
	len = strlen(hash);
	if (res != NULL && res[0] == '$' && strlen(res) == len &&
	    CRYPTO_memcmp(res, hash, len) == 0)
		ok = 1;
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return ok && l != NULL && password != NULL;
}

/* A fresh yescrypt hash of password (malloc'd), or NULL. */
static char *make_hash(const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data = NULL;
	const char *res;
	char *hash = NULL;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, (int)sizeof(salt)) == NULL)
		return NULL;
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return NULL;
	res = crypt_r(password, salt, data);
	if (res != NULL && res[0] == '$' && hash_ok(res))
		hash = strdup(res);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return hash;
}

static void fput_hex(FILE *f, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

static void save_user(FILE *mem, const struct user_line *l)
{
	fprintf(mem, "%s:%s", l->name, l->hash);
	if (l->has_ha1) {
		fputc(':', mem);
		fput_hex(mem, l->ha1_sha256, sizeof(l->ha1_sha256));
		fputc(':', mem);
		fput_hex(mem, l->ha1_md5, sizeof(l->ha1_md5));
	}
	fputc('\n', mem);
}

/* Writes all lines to path, atomically, mode 0600. */
static enum estkit_status save(const struct estd_users *u, const char *path, char **err)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *mem = open_memstream(&buf, &len);
	enum estkit_status rc;

	if (mem == NULL)
		return fail(err, ESTKIT_ENOMEM, "out of memory");
	for (i = 0; i < u->n; i++) {
		if (u->lines[i].text != NULL)
			fprintf(mem, "%s\n", u->lines[i].text);
		else
			save_user(mem, &u->lines[i]);
	}
	if (fclose(mem) != 0 || buf == NULL) {
		free(buf);
		return fail(err, ESTKIT_ENOMEM, "out of memory");
	}
	rc = estkit_file_write_atomic(path, buf, len, 0600);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (rc != ESTKIT_OK)
		return fail(err, rc, "%s: cannot write: %s", path, estkit_strerror(rc));
	return ESTKIT_OK;
}

/* Adds or replaces user with a fresh yescrypt hash; rewrites path. */
enum estkit_status estd_users_set(const char *path, const char *user, const char *password,
				  char **err)
{
	return estd_users_set_digest(path, user, password, NULL, err);
}

/* RFC 7616 3.4.2: HA1 = H(user ":" realm ":" password) into l, for both algorithms. */
static int set_ha1(struct user_line *l, const char *user, const char *realm,
		   const char *password)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *mds[2] = { EVP_sha256(), EVP_md5() };
	unsigned char *outs[2] = { l->ha1_sha256, l->ha1_md5 };
	int i, ok = ctx != NULL;

	for (i = 0; ok && i < 2; i++)
		ok = EVP_DigestInit_ex(ctx, mds[i], NULL) == 1 &&
		     EVP_DigestUpdate(ctx, user, strlen(user)) == 1 &&
		     EVP_DigestUpdate(ctx, ":", 1) == 1 &&
		     EVP_DigestUpdate(ctx, realm, strlen(realm)) == 1 &&
		     EVP_DigestUpdate(ctx, ":", 1) == 1 &&
		     EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
		     EVP_DigestFinal_ex(ctx, outs[i], NULL) == 1;
	EVP_MD_CTX_free(ctx);
	l->has_ha1 = ok;
	return ok ? 0 : -1;
}

/* See users.h. */
enum estkit_status estd_users_set_digest(const char *path, const char *user,
					 const char *password, const char *realm, char **err)
{
	struct estd_users *u = NULL;
	struct user_line *l;
	char *hash = NULL;
	enum estkit_status rc;

	if (err != NULL)
		*err = NULL;
	if (path == NULL || user == NULL || !user_name_ok(user, strlen(user)))
		return fail(err, ESTKIT_EINVAL, "invalid user name (1-64 of A-Z a-z 0-9 . _ @ -)");
	if (password == NULL || password[0] == '\0')
		return fail(err, ESTKIT_EINVAL, "empty password refused");
	if (strlen(password) > MAX_PASSWORD)
		return fail(err, ESTKIT_ETOOBIG, "password longer than %d bytes", MAX_PASSWORD);
	rc = estd_users_load(path, &u, err);
	if (rc != ESTKIT_OK)
		return rc;
	hash = make_hash(password);
	if (hash == NULL) {
		rc = fail(err, ESTKIT_ECRYPTO, "cannot hash the password: %s", strerror(errno));
		goto out;
	}
	l = find(u, user);
	if (l != NULL) {
		OPENSSL_cleanse(l->hash, strlen(l->hash));
		free(l->hash);
		l->hash = hash;
		hash = NULL;
	} else if ((rc = append(u, NULL, user, strlen(user), hash)) != ESTKIT_OK) {
		rc = fail(err, rc, "%s", estkit_strerror(rc));
		goto out;
	} else {
		l = &u->lines[u->n - 1];
	}
	/* HA1 values of an old password must not outlive it */
	l->has_ha1 = 0;
	if (realm != NULL && set_ha1(l, user, realm, password) != 0) {
		rc = fail(err, ESTKIT_ECRYPTO, "cannot compute the Digest HA1 values");
		goto out;
	}
	rc = save(u, path, err);
out:
	free(hash);
	estd_users_free(u);
	return rc;
}

/* Removes user; ESTKIT_ENOTFOUND when absent. */
enum estkit_status estd_users_del(const char *path, const char *user, char **err)
{
	struct estd_users *u = NULL;
	struct user_line *l;
	enum estkit_status rc;

	if (err != NULL)
		*err = NULL;
	if (path == NULL || user == NULL || !user_name_ok(user, strlen(user)))
		return fail(err, ESTKIT_EINVAL, "invalid user name (1-64 of A-Z a-z 0-9 . _ @ -)");
	rc = estd_users_load(path, &u, err);
	if (rc != ESTKIT_OK)
		return rc;
	l = find(u, user);
	if (l == NULL) {
		rc = fail(err, ESTKIT_ENOTFOUND, "no user '%s'", user);
		goto out;
	}
	line_clear(l);
	memmove(l, l + 1, (size_t)(&u->lines[u->n] - (l + 1)) * sizeof(*l));
	u->n--;
	rc = save(u, path, err);
out:
	estd_users_free(u);
	return rc;
}

/* See users.h. */
int estd_users_digest_ha1(const struct estd_users *u, const char *user, const char *algorithm,
			  unsigned char *out, size_t *len)
{
	const struct user_line *l = user != NULL ? find(u, user) : NULL;
	const unsigned char *src = NULL;
	size_t n = 0;

	if (l == NULL || algorithm == NULL || out == NULL || len == NULL)
		return -1;
	if (strcmp(algorithm, "SHA-256") == 0) {
		src = l->ha1_sha256;
		n = sizeof(l->ha1_sha256);
	} else if (strcmp(algorithm, "MD5") == 0) {
		src = l->ha1_md5;
		n = sizeof(l->ha1_md5);
	} else {
		return -1;
	}
	if (!l->has_ha1)
		return 0;
	if (*len < n)
		return -1;
	memcpy(out, src, n);
	*len = n;
	return 1;
}

/* The number of users in u. */
size_t estd_users_count(const struct estd_users *u)
{
	size_t i, n = 0;

	for (i = 0; u != NULL && i < u->n; i++)
		n += u->lines[i].name != NULL;
	return n;
}

/* The i-th user's name in file order, or NULL; borrowed from u. */
const char *estd_users_name(const struct estd_users *u, size_t i)
{
	size_t k;

	for (k = 0; u != NULL && k < u->n; k++) {
		if (u->lines[k].name == NULL)
			continue;
		if (i-- == 0)
			return u->lines[k].name;
	}
	return NULL;
}
