/*
 * estkit/error.h - the one status enum of libestkit.
 *
 * Every fallible public function returns an enum estkit_status. 0 is success.
 * Numbers are part of the ABI: they are never reused or renumbered; new codes
 * are added at the end. Details of a failure (including OpenSSL's queued
 * errors) are kept on the handle that failed (estkit_client_errmsg(),
 * estkit_server_errmsg()); handle-less helpers leave OpenSSL's error queue
 * for the caller to read.
 */
#ifndef ESTKIT_ERROR_H
#define ESTKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ESTKIT_WUR __attribute__((warn_unused_result))
#define ESTKIT_API __attribute__((visibility("default")))
#else
#define ESTKIT_WUR
#define ESTKIT_API
#endif

enum estkit_status {
	ESTKIT_OK = 0,
	ESTKIT_EINVAL = 1,     /* an argument is invalid (NULL, out of range, bad syntax) */
	ESTKIT_ENOMEM = 2,     /* out of memory */
	ESTKIT_EPARSE = 3,     /* malformed input: base64, DER, PEM, CSR, PKCS#7 */
	ESTKIT_ECRYPTO = 4,    /* an OpenSSL operation failed, or a signature did not verify */
	ESTKIT_EIO = 5,        /* reading or writing a file failed */
	ESTKIT_ENET = 6,       /* could not connect, or the connection broke */
	ESTKIT_ETLS = 7,       /* TLS handshake failed or the server is not authorized */
	ESTKIT_EAUTH = 8,      /* authentication refused (HTTP 401) */
	ESTKIT_EFORBIDDEN = 9, /* authenticated but not allowed (HTTP 403) */
	ESTKIT_EHTTP = 10,     /* any other HTTP error status */
	ESTKIT_EPROTO = 11,    /* the peer did not follow the EST protocol */
	ESTKIT_EPENDING = 12,  /* request accepted, not yet fulfilled (HTTP 202 + Retry-After) */
	ESTKIT_ETOOBIG = 13,   /* input over a configured limit */
	ESTKIT_ENOTFOUND = 14, /* no such object (label, serial, user, file) */
	ESTKIT_EPOLICY = 15,   /* refused by policy (key too small, subject mismatch, ...) */
	ESTKIT_EUNTRUSTED = 16, /* certificate or fingerprint does not match what is trusted */
	ESTKIT_EEXIST = 17,    /* the object already exists */
	ESTKIT_EBUSY = 18,     /* temporarily unavailable (queue full, HTTP 503) */
	ESTKIT_ETIMEOUT = 19,  /* an operation timed out */
	ESTKIT_EINTERNAL = 20, /* a bug or an unexpected state */
};

/* A static, human-readable description of a status. Never NULL. */
ESTKIT_API const char *estkit_strerror(enum estkit_status status);

#ifdef __cplusplus
}
#endif
#endif /* ESTKIT_ERROR_H */
