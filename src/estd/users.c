/*
 * users.c - the HTTP Basic users file (users.h): "name:hash" lines.
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
		colon = strchr(line, ':');
		if (colon == NULL || !user_name_ok(line, (size_t)(colon - line)) ||
		    !hash_ok(colon + 1))
			return fail(err, ESTKIT_EPARSE,
				    "%s:%d: malformed line (expected name:$y$... hash)", path,
				    lineno);
		line[colon - line] = '\0';
		if (find(u, line) != NULL)
			return fail(err, ESTKIT_EPARSE, "%s:%d: duplicate user '%s'", path, lineno,
				    line);
		rc = append(u, NULL, line, (size_t)(colon - line), colon + 1);
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
			fprintf(mem, "%s:%s\n", u->lines[i].name, u->lines[i].hash);
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
