/* util.c - small helpers shared by estd's modules. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

/* Copies s; NULL stays NULL. */
char *estd_strdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* asprintf() with a NULL result on failure. */
char *estd_strfmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* dir + "/" + rel, or rel alone when it is absolute. */
char *estd_path_join(const char *dir, const char *rel)
{
	size_t dlen;

	if (dir == NULL || rel == NULL)
		return NULL;
	if (rel[0] == '/' || dir[0] == '\0')
		return strdup(rel);
	dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen == 1 && dir[0] == '/')
		return estd_strfmt("/%s", rel);
	return estd_strfmt("%.*s/%s", (int)dlen, dir, rel);
}

/* realpath() of the directory part of path. */
char *estd_path_dirname_abs(const char *path)
{
	const char *slash;
	char *dir = NULL, *abs = NULL;

	if (path == NULL) {
		errno = EINVAL;
		return NULL;
	}
	slash = strrchr(path, '/');
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

/* UTC "YYYY-MM-DD HH:MM:SS" (sep in the middle). */
char *estd_fmt_time(long long t, char sep, char *buf, size_t buflen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (buf == NULL || buflen == 0)
		return buf;
	if ((long long)tt != t || gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900LL > 9999 ||
	    tm.tm_year + 1900LL < 0) {
		snprintf(buf, buflen, "?");
		return buf;
	}
	snprintf(buf, buflen, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return buf;
}

/* strtoll() with every check: whole string, no overflow, in range. */
int estd_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0' || out == NULL)
		return -1;
	/* strtoll() would skip leading blanks: a value must be the number alone. */
	if (*s == ' ' || *s == '\t')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* [A-Za-z0-9._-]{1,64}, not starting with '.'. */
int estd_name_is_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= 64)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Length of the valid UTF-8 sequence at p (1-4) with its code point in *cp,
 * or 0 when the bytes are not UTF-8 (overlong, surrogate, > U+10FFFF, cut).
 */
static size_t utf8_decode(const unsigned char *p, unsigned long *cp)
{
	size_t n, i;
	unsigned long v;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, v = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, v = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, v = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
		return 0; /* overlong */
	if ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return n;
}

/* JSON string with escapes; invalid UTF-8 as U+FFFD. */
void estd_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	unsigned long cp;
	size_t n;

	fputc('"', out);
	while (*p != '\0') {
		n = utf8_decode(p, &cp);
		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			fprintf(out, "\\%c", (char)cp);
		else if (cp == '\n')
			fputs("\\n", out);
		else if (cp == '\t')
			fputs("\\t", out);
		else if (cp < 0x20 || cp == 0x7f)
			fprintf(out, "\\u%04lx", cp);
		else
			fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

/* Text for a terminal: controls and invalid UTF-8 as '?'. */
void estd_fputs_printable(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	unsigned long cp;
	size_t n;

	while (*p != '\0') {
		n = utf8_decode(p, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			fputc('?', out);
			p += n != 0 ? n : 1;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
}

int estd_parse_utc(const char *s, long long *out)
{
	struct tm tm;
	const char *end = NULL;
	time_t t;

	if (s == NULL || out == NULL || strlen(s) != 20)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (long long)t;
	return 0;
}

/* See util.h. */
enum estkit_status estd_secret_file_line(const char *path, const char *what, char *buf,
					 size_t max, char *msg, size_t msglen)
{
	char *raw = NULL;
	struct stat st;
	ssize_t r;
	size_t got = 0, n = 0;
	int fd = -1;
	enum estkit_status rc = ESTKIT_EIO;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? ESTKIT_ENOTFOUND : ESTKIT_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: mode %04o, must not be accessible to group or others "
			 "(chmod 600)", path, (unsigned)(st.st_mode & 07777));
		rc = ESTKIT_EINVAL;
		goto out;
	}
	/* one byte past max tells a line that is too long */
	if ((raw = malloc(max + 2)) == NULL) {
		snprintf(msg, msglen, "%s: out of memory", path);
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	while (got < max + 2 && (r = read(fd, raw + got, max + 2 - got)) > 0)
		got += (size_t)r;
	while (n < got && raw[n] != '\n' && raw[n] != '\r' && raw[n] != '\0')
		n++;
	rc = ESTKIT_EINVAL;
	if (n == 0)
		snprintf(msg, msglen, "%s: the first line (the %s) is empty", path, what);
	else if (n > max)
		snprintf(msg, msglen, "%s: the %s is longer than %zu bytes", path, what, max);
	else {
		memcpy(buf, raw, n);
		buf[n] = '\0';
		rc = ESTKIT_OK;
	}
out:
	if (raw != NULL)
		OPENSSL_cleanse(raw, max + 2);
	free(raw);
	close(fd);
	return rc;
}
