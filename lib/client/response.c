/*
 * response.c - pure helpers that read an EST server's HTTP answer: media
 * types, Retry-After, status mapping and quoting server text safely.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/client_internal.h"

/* A server asking us to wait longer than a week is treated as asking for a week. */
#define RETRY_AFTER_CAP (7L * 24 * 3600)

static long parse_delta_seconds(const char *p, const char *end)
{
	long v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v < RETRY_AFTER_CAP)
			v = v * 10 + (*p - '0');
	}
	return v > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : v;
}

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
static long parse_http_date(const char *p, const char *end, time_t now)
{
	char buf[64];
	struct tm tm;
	const char *rest = NULL;
	time_t t = 0;
	size_t n = (size_t)(end - p);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	memset(&tm, 0, sizeof(tm));
	rest = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (rest == NULL || *rest != '\0')
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : (long)(t - now);
}

long ek_client_retry_after_parse(const char *value, time_t now)
{
	const char *p = value;
	const char *end = NULL;

	if (value == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (p < end && *p >= '0' && *p <= '9')
		return parse_delta_seconds(p, end);
	return parse_http_date(p, end, now);
}

int ek_client_media_type_is(const char *ct, const char *want)
{
	size_t n = 0;
	size_t wn = 0;

	if (ct == NULL || want == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	while (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
		n++;
	wn = strlen(want);
	if (n != wn || strncasecmp(ct, want, n) != 0)
		return 0;
	/* After the type only white space or parameters may follow. */
	while (ct[n] == ' ' || ct[n] == '\t')
		n++;
	return ct[n] == '\0' || ct[n] == ';';
}

enum estkit_status ek_client_status_for_http(long code)
{
	switch (code) {
	case 200: return ESTKIT_OK;
	case 202: return ESTKIT_EPENDING; /* RFC 7030 4.2.3 */
	case 401: return ESTKIT_EAUTH;
	case 403: return ESTKIT_EFORBIDDEN;
	case 503: return ESTKIT_EBUSY;
	default: break;
	}
	/* Any other 2xx is not an EST answer (RFC 7030 4.2.3 allows only 200 and 202). */
	if (code >= 200 && code < 300)
		return ESTKIT_EPROTO;
	return ESTKIT_EHTTP;
}

static int is_tls_text(const char *errbuf)
{
	/* curl reports a TLS alert received after the handshake (TLS 1.3 client
	 * certificate refusal) as a receive error; the text tells it apart. */
	return errbuf != NULL &&
	       (strstr(errbuf, "alert") != NULL || strstr(errbuf, "SSL") != NULL ||
	        strstr(errbuf, "certificate") != NULL);
}

enum estkit_status ek_client_status_for_curl(CURLcode cc, const char *errbuf)
{
	switch (cc) {
	case CURLE_OK: return ESTKIT_OK;
	case CURLE_OPERATION_TIMEDOUT: return ESTKIT_ETIMEOUT;
	case CURLE_OUT_OF_MEMORY: return ESTKIT_ENOMEM;
	case CURLE_FILESIZE_EXCEEDED: return ESTKIT_ETOOBIG;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED: return ESTKIT_ETLS;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: return is_tls_text(errbuf) ? ESTKIT_ETLS : ESTKIT_ENET;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION: return ESTKIT_EINTERNAL;
	default: return ESTKIT_ENET;
	}
}

void ek_client_sanitize_line(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t i = 0;
	size_t o = 0;
	size_t max = outsz - 1;

	if (outsz == 0)
		return;
	if (max > EK_SERVER_TEXT_MAX)
		max = EK_SERVER_TEXT_MAX;
	/* Skip leading blank lines and white space. */
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
		i++;
	for (; i < len && o < max; i++) {
		if (in[i] == '\r' || in[i] == '\n' || in[i] == '\0')
			break;
		out[o++] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '?';
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
}

enum estkit_status ek_client_decode_certs(const unsigned char *body, size_t len,
                                          STACK_OF(X509) * *out)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	enum estkit_status rc = ESTKIT_EPARSE;

	*out = NULL;
	if (body == NULL || len == 0)
		return ESTKIT_EPARSE;
	if (len > ESTKIT_MAX_DECODE)
		return ESTKIT_ETOOBIG;
	if (estkit_b64_decode((const char *)body, len, &der, &derlen) == ESTKIT_OK) {
		rc = estkit_pkcs7_certs_decode(der, derlen, out);
		goto out;
	}
	/* RFC 8951 made base64 the rule, but some servers still send DER
	 * ("Content-Transfer-Encoding: binary"); a DER SEQUENCE is never base64. */
	if (body[0] == 0x30)
		rc = estkit_pkcs7_certs_decode(body, len, out);
out:
	estkit_free(der);
	return rc;
}
