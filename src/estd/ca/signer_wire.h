/*
 * signer_wire.h - the messages between the network process and the signer
 * process (docs/design.md "The signer process").
 *
 * One frame = a 4-byte big-endian length, then that many bytes of DER:
 *
 *   SignerRequest ::= SEQUENCE {
 *     id     INTEGER,            -- echoed in the response
 *     op     INTEGER,            -- enum estd_signer_op
 *     key    INTEGER,            -- key slot (0: [ca] key, 1: [ca] next_key)
 *     data   OCTET STRING,       -- DER certificate / CRL / CMC PKIResponse
 *     extra  SEQUENCE OF Certificate OPTIONAL }  -- sign-cms: certificates to carry
 *
 *   SignerResponse ::= SEQUENCE {
 *     id     INTEGER,
 *     status INTEGER,            -- enum estkit_status
 *     data   OCTET STRING,       -- signed DER, or SubjectPublicKeyInfo
 *     reason UTF8String OPTIONAL }
 *
 * Both are OpenSSL ASN.1 templates; nothing here writes DER by hand.
 */
#ifndef ESTD_CA_SIGNER_WIRE_H
#define ESTD_CA_SIGNER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <estkit/error.h>

/* The largest frame either side accepts (a CMC response with many certificates fits). */
#define ESTD_SIGNER_MAX_FRAME (1024 * 1024)

/* Key slots the signer process holds. */
#define ESTD_SIGNER_MAX_KEYS 2

enum estd_signer_op {
	ESTD_SIGNER_OP_PUBKEY = 1,    /* data: empty; answer: SubjectPublicKeyInfo DER */
	ESTD_SIGNER_OP_SIGN_CERT = 2, /* data: certificate (placeholder signature) */
	ESTD_SIGNER_OP_SIGN_CRL = 3,  /* data: CRL (placeholder signature) */
	ESTD_SIGNER_OP_SIGN_CMS = 4,  /* data: DER PKIResponse; answer: CMS SignedData */
};

/* A decoded request or response; unused fields are 0/NULL. */
struct estd_signer_msg {
	uint32_t id;
	int op;                /* requests */
	int key;               /* requests */
	int status;            /* responses: enum estkit_status */
	unsigned char *data;   /* malloc'd */
	size_t len;
	STACK_OF(X509) *extra; /* requests, sign-cms only */
	char *reason;          /* responses, NUL-terminated; may be NULL */
};

/* Frees the members of m and zeroes it. */
void estd_signer_msg_clear(struct estd_signer_msg *m);

/*
 * Encodes m as a request (response = 0) or response (1) frame: length
 * header then DER. *out (malloc'd, caller frees) holds *outlen bytes.
 */
enum estkit_status estd_signer_msg_encode(const struct estd_signer_msg *m, int response,
					  unsigned char **out, size_t *outlen);

/*
 * Decodes the DER body of a frame (without its header) into m (cleared
 * first). ESTKIT_EPARSE for anything malformed, trailing bytes, an unknown
 * op or an out-of-range key slot/status.
 */
enum estkit_status estd_signer_msg_decode(const unsigned char *der, size_t len, int response,
					  struct estd_signer_msg *m);

/* The body length a 4-byte header announces; -1 when 0 or over ESTD_SIGNER_MAX_FRAME. */
long estd_signer_frame_len(const unsigned char hdr[4]);

/* Writes a whole frame to fd (MSG_NOSIGNAL). ESTKIT_ENET when the peer is gone. */
enum estkit_status estd_signer_frame_write(int fd, const unsigned char *buf, size_t len);

/*
 * Reads one frame body from fd into *out (malloc'd), waiting at most
 * timeout_ms in all (-1: forever). ESTKIT_ENET on EOF or error,
 * ESTKIT_ETIMEOUT on timeout, ESTKIT_EPARSE for a bad length header.
 */
enum estkit_status estd_signer_frame_read(int fd, int timeout_ms, unsigned char **out,
					  size_t *outlen);

/*
 * Parses der, exactly one DER certificate of at most ESTD_SIGNER_MAX_FRAME
 * bytes, without decoding its public key (OpenSSL 3.0 would set up the
 * provider decoders for it, ~1.5 million instructions): X509_get0_pubkey()
 * of *out is NULL. Everything else works as on a d2i_X509() copy: i2d gives
 * der back, names, serial, extensions and their flags, X509_digest(),
 * X509_check_issued() and X509_verify() against an issuer's key, PKCS#7 and
 * CMS certificate sets (tests/unit/test_ca_keyless.c). The certificate
 * belongs to a library context holding only the null provider; it must not
 * be given where its own key is needed (a TLS certificate, a key match,
 * X509_verify_cert(), which fails closed on it). ESTKIT_EPARSE when der is
 * not that, ESTKIT_ENOMEM. Caller frees *out.
 */
enum estkit_status estd_cert_parse_keyless(const unsigned char *der, size_t len, X509 **out);

/*
 * The signer's checks before it signs (docs/security.md): der is exactly
 * one well-formed certificate whose issuer is issuer, and not a CA
 * certificate (no basicConstraints cA, no keyCertSign) - the network
 * process may never mint a sub-CA. On success *out is the parsed
 * certificate (caller frees). ESTKIT_EPOLICY / ESTKIT_EPARSE with reason
 * filled otherwise.
 */
enum estkit_status estd_signer_check_cert(const unsigned char *der, size_t len,
					  const X509_NAME *issuer, X509 **out, char *reason,
					  size_t rlen);

/* As estd_signer_check_cert() for a CRL: well-formed and issued by issuer. */
enum estkit_status estd_signer_check_crl(const unsigned char *der, size_t len,
					 const X509_NAME *issuer, X509_CRL **out, char *reason,
					 size_t rlen);

/*
 * The network process's side: X509 / CRL DER to send, carrying a
 * placeholder signature (an ephemeral P-256 key of this process) so it
 * is well-formed; the signer replaces both algorithm fields and the
 * signature. *out is OPENSSL_malloc'd (caller OPENSSL_free()s).
 */
enum estkit_status estd_signer_tbs_cert(X509 *x, unsigned char **out, size_t *outlen);
enum estkit_status estd_signer_tbs_crl(X509_CRL *crl, unsigned char **out, size_t *outlen);

#endif /* ESTD_CA_SIGNER_WIRE_H */
