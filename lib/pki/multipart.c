/*
 * multipart.c - multipart/mixed (RFC 2046 5.1) parsing and building for the
 * /serverkeygen response (RFC 7030 4.4.2).
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <estkit/multipart.h>
#include <estkit/pki.h>

struct estkit_multipart {
	unsigned char *buf; /* our copy of the body, NUL-terminated; headers NUL-split in place */
	size_t len;
	size_t nparts;
	struct estkit_mime_part parts[ESTKIT_MULTIPART_MAX_PARTS];
};

static int is_ws(int c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2046 5.1.1 bchars, without the trailing space rule (checked by the caller). */
static int is_bchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       strchr("'()+_,-./:=? ", c) != NULL;
}

/* Copies the boundary parameter's value (token or quoted-string) of one "name=value" pair. */
static enum estkit_status param_value(const char **pp, char *out, size_t outsz, size_t *outlen)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 >= outsz)
				return ESTKIT_EINVAL;
			out[n++] = *p;
		}
		if (*p != '"')
			return ESTKIT_EINVAL;
		p++;
	} else {
		for (; *p != '\0' && *p != ';' && !is_ws(*p); p++) {
			if (n + 1 >= outsz)
				return ESTKIT_EINVAL;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	*outlen = n;
	*pp = p;
	return ESTKIT_OK;
}

/* The boundary of a "multipart/mixed; boundary=..." header value. */
static enum estkit_status boundary_of(const char *ct, char *out, size_t outsz)
{
	static const char mixed[] = "multipart/mixed";
	char val[ESTKIT_MULTIPART_BOUNDARY_MAX + 2];
	const char *p = ct;
	size_t n = 0, i;
	int found = 0;

	while (is_ws(*p))
		p++;
	if (strncasecmp(p, mixed, sizeof(mixed) - 1) != 0)
		return ESTKIT_EINVAL;
	p += sizeof(mixed) - 1;
	for (;;) {
		int is_boundary = 0;

		while (is_ws(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';')
			return ESTKIT_EINVAL;
		while (is_ws(*p))
			p++;
		is_boundary = strncasecmp(p, "boundary", 8) == 0 && (is_ws(p[8]) || p[8] == '=');
		p += strcspn(p, "=;");
		if (*p != '=')
			return ESTKIT_EINVAL;
		for (p++; is_ws(*p); p++)
			;
		if (param_value(&p, val, sizeof(val), &n) != ESTKIT_OK)
			return ESTKIT_EINVAL;
		if (is_boundary) {
			if (found || n == 0 || n > ESTKIT_MULTIPART_BOUNDARY_MAX ||
			    val[n - 1] == ' ' || n + 1 > outsz)
				return ESTKIT_EINVAL;
			for (i = 0; i < n; i++)
				if (!is_bchar((unsigned char)val[i]))
					return ESTKIT_EINVAL;
			memcpy(out, val, n + 1);
			found = 1;
		}
	}
	return found ? ESTKIT_OK : ESTKIT_EINVAL;
}

/* Offset of the next "--boundary" at the start of a line at or after from, or len. */
static size_t find_delim(const unsigned char *buf, size_t len, size_t from, const char *delim,
			 size_t dlen)
{
	const unsigned char *p = NULL;

	while (from < len) {
		p = memmem(buf + from, len - from, delim, dlen);
		if (p == NULL)
			return len;
		if (p == buf || p[-1] == '\n')
			return (size_t)(p - buf);
		from = (size_t)(p - buf) + 1;
	}
	return len;
}

/* Trims white space at both ends of s in place; returns the new start. */
static char *trim(char *s)
{
	size_t n;

	while (is_ws(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_ws(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/*
 * Reads the header block of a part in buf[s, end): sets the header fields
 * of part and returns the offset of the content, or 0 when there is no blank
 * line ending the headers.
 */
static size_t part_headers(unsigned char *buf, size_t s, size_t end,
			   struct estkit_mime_part *part)
{
	size_t pos = s;

	while (pos < end) {
		unsigned char *nl = memchr(buf + pos, '\n', end - pos);
		char *line = (char *)buf + pos, *colon = NULL;
		size_t llen;

		if (nl == NULL)
			return 0;
		llen = (size_t)(nl - (buf + pos));
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (memchr(line, '\0', llen) != NULL)
			return 0;
		line[llen] = '\0';
		pos = (size_t)(nl - buf) + 1;
		if (llen == 0)
			return pos;
		if (is_ws(line[0]))
			continue; /* folded continuation of a header we do not read */
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return 0;
		*colon = '\0';
		if (strcasecmp(trim(line), "Content-Type") == 0)
			part->content_type = trim(colon + 1);
		else if (strcasecmp(trim(line), "Content-Transfer-Encoding") == 0)
			part->encoding = trim(colon + 1);
	}
	return 0;
}

/* One part between the delimiter line ending at s and the delimiter at next. */
static enum estkit_status parse_part(struct estkit_multipart *mp, size_t s, size_t next)
{
	struct estkit_mime_part *part = NULL;
	size_t content = 0, e = next;

	if (mp->nparts == ESTKIT_MULTIPART_MAX_PARTS)
		return ESTKIT_ETOOBIG;
	part = &mp->parts[mp->nparts];
	memset(part, 0, sizeof(*part));
	content = part_headers(mp->buf, s, next, part);
	if (content == 0)
		return ESTKIT_EPARSE;
	/* the line break before the delimiter belongs to the delimiter (RFC 2046 5.1.1) */
	if (e > content && mp->buf[e - 1] == '\n')
		e--;
	if (e > content && mp->buf[e - 1] == '\r')
		e--;
	if (part->content_type != NULL && strncasecmp(part->content_type, "multipart/", 10) == 0)
		return ESTKIT_EPARSE; /* EST never nests multiparts */
	part->data = mp->buf + content;
	part->len = e > content ? e - content : 0;
	mp->nparts++;
	return ESTKIT_OK;
}

/* Walks the delimiters of mp->buf. */
static enum estkit_status parse_body(struct estkit_multipart *mp, const char *boundary)
{
	char delim[ESTKIT_MULTIPART_BOUNDARY_MAX + 3];
	size_t dlen = strlen(boundary) + 2, pos = 0, next = 0;
	enum estkit_status rc = ESTKIT_EPARSE;

	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, boundary, dlen - 2);
	pos = find_delim(mp->buf, mp->len, 0, delim, dlen);
	while (pos < mp->len) {
		pos += dlen;
		if (mp->len - pos >= 2 && memcmp(mp->buf + pos, "--", 2) == 0)
			return mp->nparts > 0 ? ESTKIT_OK : ESTKIT_EPARSE; /* close; epilogue ignored */
		while (pos < mp->len && is_ws(mp->buf[pos]))
			pos++; /* transport padding */
		if (pos < mp->len && mp->buf[pos] == '\r')
			pos++;
		if (pos >= mp->len || mp->buf[pos] != '\n')
			return ESTKIT_EPARSE; /* "--boundaryX" or a cut-off delimiter */
		pos++;
		next = find_delim(mp->buf, mp->len, pos, delim, dlen);
		if (next >= mp->len)
			return ESTKIT_EPARSE; /* truncated: no delimiter after the part */
		rc = parse_part(mp, pos, next);
		if (rc != ESTKIT_OK)
			return rc;
		pos = next;
	}
	return ESTKIT_EPARSE;
}

/* See estkit/multipart.h. */
enum estkit_status estkit_multipart_parse(const char *content_type, const unsigned char *body,
					  size_t len, struct estkit_multipart **out)
{
	struct estkit_multipart *mp = NULL;
	char boundary[ESTKIT_MULTIPART_BOUNDARY_MAX + 1];
	enum estkit_status rc = ESTKIT_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (content_type == NULL || (body == NULL && len > 0) || out == NULL)
		return ESTKIT_EINVAL;
	rc = boundary_of(content_type, boundary, sizeof(boundary));
	if (rc != ESTKIT_OK)
		return rc;
	if (len > ESTKIT_MULTIPART_MAX_BODY)
		return ESTKIT_ETOOBIG;
	mp = OPENSSL_zalloc(sizeof(*mp));
	if (mp == NULL || (mp->buf = OPENSSL_malloc(len + 1)) == NULL) {
		rc = ESTKIT_ENOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(mp->buf, body, len);
	mp->buf[len] = '\0';
	mp->len = len;
	rc = parse_body(mp, boundary);
	if (rc != ESTKIT_OK)
		goto out;
	*out = mp;
	mp = NULL;
out:
	estkit_multipart_free(mp);
	return rc;
}

/* See estkit/multipart.h. */
size_t estkit_multipart_count(const struct estkit_multipart *mp)
{
	return mp != NULL ? mp->nparts : 0;
}

/* See estkit/multipart.h. */
const struct estkit_mime_part *estkit_multipart_part(const struct estkit_multipart *mp,
						     size_t i)
{
	return mp != NULL && i < mp->nparts ? &mp->parts[i] : NULL;
}

/* See estkit/multipart.h. */
const struct estkit_mime_part *estkit_multipart_find(const struct estkit_multipart *mp,
						     const char *media_type)
{
	size_t i, n;

	if (mp == NULL || media_type == NULL)
		return NULL;
	n = strlen(media_type);
	for (i = 0; i < mp->nparts; i++) {
		const char *ct = mp->parts[i].content_type;

		if (ct != NULL && strncasecmp(ct, media_type, n) == 0 &&
		    (ct[n] == '\0' || ct[n] == ';' || is_ws(ct[n])))
			return &mp->parts[i];
	}
	return NULL;
}

/* See estkit/multipart.h. */
void estkit_multipart_free(struct estkit_multipart *mp)
{
	if (mp == NULL)
		return;
	if (mp->buf != NULL)
		OPENSSL_clear_free(mp->buf, mp->len + 1);
	OPENSSL_free(mp);
}

/* Appends n bytes at *pos (the size was computed beforehand). */
static void put(char *dst, size_t *pos, const void *src, size_t n)
{
	memcpy(dst + *pos, src, n);
	*pos += n;
}

/* Bytes of the body for boundary b (strlen blen). */
static size_t build_size(const struct estkit_mime_part *parts, size_t n, size_t blen)
{
	size_t i, total = 2 + blen + 4 + 1; /* close delimiter "--B--\r\n" and the NUL */

	for (i = 0; i < n; i++) {
		total += 2 + blen + 2 + sizeof("Content-Type: \r\n") - 1 +
			 strlen(parts[i].content_type) + 2 + parts[i].len + 2;
		if (parts[i].encoding != NULL)
			total += sizeof("Content-Transfer-Encoding: \r\n") - 1 +
				 strlen(parts[i].encoding);
	}
	return total;
}

/* Writes the body for boundary b into a new buffer. */
static char *build_body(const struct estkit_mime_part *parts, size_t n, const char *b,
			size_t *len)
{
	size_t i, blen = strlen(b), pos = 0, size = build_size(parts, n, blen);
	char *out = OPENSSL_malloc(size);

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		put(out, &pos, "--", 2);
		put(out, &pos, b, blen);
		put(out, &pos, "\r\nContent-Type: ", 16);
		put(out, &pos, parts[i].content_type, strlen(parts[i].content_type));
		if (parts[i].encoding != NULL) {
			put(out, &pos, "\r\nContent-Transfer-Encoding: ", 29);
			put(out, &pos, parts[i].encoding, strlen(parts[i].encoding));
		}
		put(out, &pos, "\r\n\r\n", 4);
		if (parts[i].len > 0)
			put(out, &pos, parts[i].data, parts[i].len);
		put(out, &pos, "\r\n", 2);
	}
	put(out, &pos, "--", 2);
	put(out, &pos, b, blen);
	put(out, &pos, "--\r\n", 4);
	out[pos] = '\0';
	*len = pos;
	return out;
}

/* 1 when a header value is safe to write: printable, no line break. */
static int header_ok(const char *v)
{
	if (v == NULL || *v == '\0' || strlen(v) > 256)
		return 0;
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/* A random boundary that none of the parts contains. */
static enum estkit_status pick_boundary(const struct estkit_mime_part *parts, size_t n,
					char b[48])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	int attempt;
	size_t i;

	for (attempt = 0; attempt < 4; attempt++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return ESTKIT_ECRYPTO;
		memcpy(b, "estkit-", 7);
		for (i = 0; i < sizeof(rnd); i++) {
			b[7 + 2 * i] = hex[rnd[i] >> 4];
			b[8 + 2 * i] = hex[rnd[i] & 15];
		}
		b[7 + 2 * sizeof(rnd)] = '\0';
		for (i = 0; i < n; i++)
			if (parts[i].len > 0 && memmem(parts[i].data, parts[i].len, b, strlen(b)))
				break;
		if (i == n)
			return ESTKIT_OK;
	}
	return ESTKIT_EINTERNAL;
}

/* See estkit/multipart.h. */
enum estkit_status estkit_multipart_build(const struct estkit_mime_part *parts, size_t n,
					  char **ctype, char **body, size_t *len)
{
	char b[48];
	size_t i, clen = 0;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (ctype != NULL)
		*ctype = NULL;
	if (body != NULL)
		*body = NULL;
	if (parts == NULL || n == 0 || n > ESTKIT_MULTIPART_MAX_PARTS || ctype == NULL ||
	    body == NULL || len == NULL)
		return ESTKIT_EINVAL;
	for (i = 0; i < n; i++)
		if (!header_ok(parts[i].content_type) ||
		    (parts[i].encoding != NULL && !header_ok(parts[i].encoding)) ||
		    (parts[i].data == NULL && parts[i].len > 0))
			return ESTKIT_EINVAL;
	rc = pick_boundary(parts, n, b);
	if (rc != ESTKIT_OK)
		return rc;
	clen = sizeof("multipart/mixed; boundary=") + strlen(b);
	*ctype = OPENSSL_malloc(clen);
	*body = build_body(parts, n, b, len);
	if (*ctype == NULL || *body == NULL) {
		OPENSSL_free(*ctype);
		OPENSSL_free(*body);
		*ctype = NULL;
		*body = NULL;
		return ESTKIT_ENOMEM;
	}
	memcpy(*ctype, "multipart/mixed; boundary=", sizeof("multipart/mixed; boundary=") - 1);
	memcpy(*ctype + sizeof("multipart/mixed; boundary=") - 1, b, strlen(b) + 1);
	return ESTKIT_OK;
}
