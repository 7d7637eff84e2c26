/*
 * estkit/chanbind.h - the channel binding of a TLS connection (RFC 7030 3.5,
 * "linking identity and POP information"), shared by the EST client and
 * server. docs/channel-binding.md says what goes where.
 */
#ifndef ESTKIT_CHANBIND_H
#define ESTKIT_CHANBIND_H

#include <openssl/ssl.h>
#include <estkit/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest binding value in base64: 64 bytes -> 88 characters (+ NUL). */
#define ESTKIT_CHANBIND_B64_MAX 89

/*
 * The channel binding of the established connection ssl (borrowed), as
 * base64 without line breaks in out (ESTKIT_CHANBIND_B64_MAX bytes):
 *   TLS 1.2: tls-unique (RFC 5929 3.1), the first Finished message of the
 *            latest handshake - the client's on a full handshake, the
 *            server's on a resumed one. Only with the extended master secret
 *            (RFC 7627), without which tls-unique is not unique (the triple
 *            handshake attack): otherwise ESTKIT_ETLS.
 *   TLS 1.3: tls-exporter (RFC 9266): 32 bytes exported with the label
 *            "EXPORTER-Channel-Binding" and an empty context.
 * Works for either side (SSL_is_server()). ESTKIT_ETLS when the handshake is
 * not complete or the version is older than TLS 1.2.
 */
ESTKIT_API ESTKIT_WUR enum estkit_status estkit_tls_channel_binding(SSL *ssl,
								    char out[ESTKIT_CHANBIND_B64_MAX]);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_CHANBIND_H */
