/*
 * estkit/multipart.h - the multipart/mixed bodies of RFC 2046 5.1 as EST uses
 * them: the /serverkeygen response (RFC 7030 4.4.2) is one multipart/mixed
 * body with a private-key part and a certificate part.
 *
 * The parser is strict where it matters and lenient where real servers
 * differ: the boundary comes from the Content-Type's boundary parameter
 * (white space around ';' and '=' and a quoted value are accepted, as in
 * RFC 7030 A.4's "multipart/mixed ; boundary=..."), the preamble and the
 * epilogue are ignored, lines may end in CRLF or bare LF, and a missing close
 * delimiter, a part without its header block, more than
 * ESTKIT_MULTIPART_MAX_PARTS parts or a nested multipart part are errors.
 */
#ifndef ESTKIT_MULTIPART_H
#define ESTKIT_MULTIPART_H

#include <stddef.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESTKIT_MULTIPART_MAX_PARTS 8           /* EST needs two */
#define ESTKIT_MULTIPART_MAX_BODY  (1024 * 1024) /* bytes; larger bodies: ESTKIT_ETOOBIG */
#define ESTKIT_MULTIPART_BOUNDARY_MAX 70       /* RFC 2046 5.1.1 */

/* One body part. For a parsed body every pointer is borrowed from the multipart. */
struct estkit_mime_part {
	const char *content_type;     /* header value, trimmed; NULL when absent */
	const char *encoding;         /* Content-Transfer-Encoding, trimmed; NULL when absent */
	const unsigned char *data;    /* the part's content, without the CRLF before the delimiter */
	size_t len;
};

struct estkit_multipart;

/*
 * Parses body (borrowed; copied) whose Content-Type header is content_type.
 * ESTKIT_EINVAL when content_type is not multipart/mixed with a valid
 * boundary, ESTKIT_ETOOBIG over ESTKIT_MULTIPART_MAX_BODY or _MAX_PARTS,
 * ESTKIT_EPARSE for a malformed body. *out is the caller's
 * (estkit_multipart_free()).
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_multipart_parse(const char *content_type, const unsigned char *body, size_t len,
		       struct estkit_multipart **out);

/* Number of parts (0 for NULL). */
ESTKIT_API size_t estkit_multipart_count(const struct estkit_multipart *mp);

/* Part i (0-based) or NULL; valid until estkit_multipart_free(). */
ESTKIT_API const struct estkit_mime_part *estkit_multipart_part(const struct estkit_multipart *mp,
								 size_t i);

/*
 * The first part whose media type (before any ';', any case) is media_type,
 * or NULL.
 */
ESTKIT_API const struct estkit_mime_part *
estkit_multipart_find(const struct estkit_multipart *mp, const char *media_type);

/* Frees mp, wiping its copy of the body (it may hold a private key). NULL is a no-op. */
ESTKIT_API void estkit_multipart_free(struct estkit_multipart *mp);

/*
 * Builds a multipart/mixed body of n parts (content_type required, encoding
 * optional) with a random boundary, CRLF line ends and no preamble. *ctype
 * receives the Content-Type header value ("multipart/mixed; boundary=...")
 * and *body / *len the body (NUL-terminated); the caller frees both with
 * estkit_free() - the body with estkit_free_secret() when it holds a key.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status
estkit_multipart_build(const struct estkit_mime_part *parts, size_t n, char **ctype,
		       char **body, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_MULTIPART_H */
