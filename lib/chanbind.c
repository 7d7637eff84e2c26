/*
 * chanbind.c - the TLS channel binding value EST links identity and proof of
 * possession with (RFC 7030 3.5): tls-unique on TLS 1.2, tls-exporter on
 * TLS 1.3. Used by the client (lib/client/chanbind.c) and the server
 * (lib/server/chanbind.c) alike.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <estkit/chanbind.h>

#define CB_MAX 64 /* the longest Finished (SHA-384 PRF: 12 bytes in TLS 1.2) fits easily */

static const char exporter_label[] = "EXPORTER-Channel-Binding"; /* RFC 9266 2 */

/* RFC 5929 3.1: the first Finished of the latest handshake. */
static size_t tls_unique(SSL *ssl, unsigned char *buf, size_t bufsz)
{
	int resumed = SSL_session_reused(ssl);

	/*
	 * Full handshake: the client's Finished comes first; resumed: the
	 * server's. The server reads the client's as the peer's, the client its
	 * own - and the other way round when resumed.
	 */
	if (SSL_is_server(ssl) != resumed)
		return SSL_get_peer_finished(ssl, buf, bufsz);
	return SSL_get_finished(ssl, buf, bufsz);
}

/* See estkit/chanbind.h. */
enum estkit_status estkit_tls_channel_binding(SSL *ssl, char out[ESTKIT_CHANBIND_B64_MAX])
{
	unsigned char cb[CB_MAX];
	size_t n = 0;
	enum estkit_status rc = ESTKIT_ETLS;

	if (out != NULL)
		out[0] = '\0';
	if (ssl == NULL || out == NULL)
		return ESTKIT_EINVAL;
	if (!SSL_is_init_finished(ssl))
		goto out;
	if (SSL_version(ssl) == TLS1_3_VERSION) {
		n = 32; /* RFC 9266 2: 32 bytes, empty context */
		if (SSL_export_keying_material(ssl, cb, n, exporter_label,
					       sizeof(exporter_label) - 1, NULL, 0, 1) != 1)
			goto out;
	} else if (SSL_version(ssl) == TLS1_2_VERSION) {
		/* RFC 7627 6.1: without the extended master secret tls-unique is not unique */
		if (SSL_get_extms_support(ssl) != 1)
			goto out;
		n = tls_unique(ssl, cb, sizeof(cb));
		if (n == 0 || n > sizeof(cb))
			goto out;
	} else {
		goto out;
	}
	/* 4 * ceil(64 / 3) = 88 characters + NUL fit ESTKIT_CHANBIND_B64_MAX */
	if (EVP_EncodeBlock((unsigned char *)out, cb, (int)n) <= 0)
		goto out;
	rc = ESTKIT_OK;
out:
	OPENSSL_cleanse(cb, sizeof(cb));
	return rc;
}
