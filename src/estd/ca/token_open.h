/*
 * token_open.h - opening a key on a PKCS#11 token the way every estd process
 * does it (the TLS key in run.c, the CA keys in the signer's workers): one
 * process at a time, a few tries.
 */
#ifndef ESTD_CA_TOKEN_OPEN_H
#define ESTD_CA_TOKEN_OPEN_H

#include <estkit/error.h>

/* The tries estd gives a token key, and the pause between them. */
#define ESTD_TOKEN_ATTEMPTS 10
#define ESTD_TOKEN_RETRY_US 300000u

/*
 * One try at opening the key. Returns ESTKIT_OK once it is open; on failure
 * it may set *err (NULL on entry) to a message to free() with free().
 */
typedef enum estkit_status (*estd_token_try_fn)(void *arg, char **err);

/*
 * Calls try_open(arg, err) up to attempts times (1..1000), pause_us
 * microseconds apart (at most one second), until a try returns ESTKIT_OK or
 * ESTKIT_EIO (a PIN file that cannot be read: trying again cannot help).
 *
 * Meanwhile it holds an exclusive flock() on lock_path (estd.conf: opened
 * read-only, never created or written; flock locks are per open, so each
 * call opens it anew). NULL, or a file that cannot be opened, means no lock.
 * One process at a time opens the token: SoftHSM2's file store can show a
 * token as uninitialised to one process while another logs in.
 *
 * *err is NULL or a message from earlier (freed before each try); on return
 * it holds the last try's message. When the last try failed without one and
 * what is not NULL, *err becomes "cannot open <what>". Returns the last try's
 * status, or ESTKIT_EINVAL (with a message) for arguments out of range.
 */
enum estkit_status estd_token_open_locked(const char *lock_path, int attempts,
					  unsigned pause_us, estd_token_try_fn try_open,
					  void *arg, const char *what, char **err);

#endif /* ESTD_CA_TOKEN_OPEN_H */
