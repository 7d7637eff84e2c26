/*
 * users.h - the HTTP users file: one "name:hash" line per user, the
 * hash from crypt(3) (yescrypt, "$y$..."; SHA-512 "$6$" also accepted),
 * optionally followed by ":SHA256-HA1:MD5-HA1" (lowercase hex) for HTTP
 * Digest (RFC 7616 3.4.2: HA1 = H(name ":" realm ":" password); the realm
 * is [auth] realm when the line was written, so changing the realm needs
 * the passwords set again). A line without them allows Basic only.
 * Lines starting with '#' and blank lines are ignored. Names are 1-64
 * characters of [A-Za-z0-9._@-]. The file is written atomically, mode 0600.
 * Any other line (no ':', a bad name or hash, a name twice) makes the whole
 * file refused (ESTKIT_EPARSE, "path:line: why"), never silently skipped.
 */
#ifndef ESTD_USERS_H
#define ESTD_USERS_H

#include <stddef.h>
#include <estkit/error.h>

struct estd_users;

/* Loads the file. A missing file is an empty user list (ESTKIT_OK). */
enum estkit_status estd_users_load(const char *path, struct estd_users **out, char **err);

void estd_users_free(struct estd_users *u);

/*
 * 1 when user exists and password matches its hash, else 0. The comparison
 * of the computed hash is constant-time; an unknown user costs a hash too,
 * so timing does not tell which users exist. Thread-safe (crypt_r).
 */
int estd_users_check(const struct estd_users *u, const char *user, const char *password);

/* Adds or replaces user with a fresh yescrypt hash of password; rewrites path. */
enum estkit_status estd_users_set(const char *path, const char *user, const char *password,
				  char **err);

/*
 * Like estd_users_set, and when realm is not NULL also stores the Digest
 * HA1 values of (user, realm, password) for SHA-256 and MD5.
 */
enum estkit_status estd_users_set_digest(const char *path, const char *user,
					 const char *password, const char *realm, char **err);

/*
 * The stored Digest HA1 of user for algorithm "SHA-256" (32 bytes) or "MD5"
 * (16 bytes) into out (*len: its size in, the length out). 1 when found,
 * 0 when the user exists without HA1 values (Basic only), -1 when there is
 * no such user or the algorithm is unknown.
 */
int estd_users_digest_ha1(const struct estd_users *u, const char *user, const char *algorithm,
			  unsigned char *out, size_t *len);

/* Removes user; ESTKIT_ENOTFOUND when absent. */
enum estkit_status estd_users_del(const char *path, const char *user, char **err);

/* The number of users in u (for `estd user list`). */
size_t estd_users_count(const struct estd_users *u);

/* The name of user i (0-based, file order), or NULL past the end. Borrowed from u. */
const char *estd_users_name(const struct estd_users *u, size_t i);

#endif /* ESTD_USERS_H */
