/*
 * digest_key.h - the HTTP Digest nonce key file ([auth] digest_secret_file):
 * exactly ESTD_DIGEST_KEY_LEN random bytes, mode 0600. estd nodes that share
 * it accept each other's nonces (RFC 7616 nonces are stateless here).
 */
#ifndef ESTD_DIGEST_KEY_H
#define ESTD_DIGEST_KEY_H

#include <estkit/error.h>

#define ESTD_DIGEST_KEY_LEN 32

/*
 * Reads the key from path into key. When the file does not exist, creates
 * it with fresh random bytes, atomically and without ever replacing a file
 * another process created meanwhile (that one wins and is read). A file of
 * another size, or readable by group or others, is refused. *err (caller
 * frees) on failure.
 */
enum estkit_status estd_digest_key_load(const char *path, unsigned char *key, char **err);

#endif /* ESTD_DIGEST_KEY_H */
