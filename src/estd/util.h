/*
 * util.h - small helpers shared by estd's modules (not part of libestkit).
 *
 * Every function returning a string returns a malloc'd one the caller frees
 * with free(), or NULL when memory ran out. (Error strings that estd's
 * interfaces hand out "to free with estkit_free()" come from here too:
 * estkit_free() is OPENSSL_free(), which is free() unless an embedder
 * replaced OpenSSL's allocator, and estd does not.)
 */
#ifndef ESTD_UTIL_H
#define ESTD_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <estkit/error.h>

/* Size of a buffer for estd_fmt_time(): "YYYY-MM-DD HH:MM:SS" plus NUL. */
#define ESTD_TIME_BUFLEN 32

/* A copy of s (NULL when s is NULL or memory ran out). */
char *estd_strdup(const char *s);

/* A formatted string, like asprintf(); NULL when memory ran out. */
char *estd_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * rel resolved against dir: a copy of rel when it is absolute, else
 * "dir/rel" (no doubled '/'). NULL when memory ran out.
 */
char *estd_path_join(const char *dir, const char *rel);

/*
 * The absolute directory holding file path (realpath() of its directory, so
 * symlinks and ".." are resolved). NULL with errno set when the directory
 * does not exist or memory ran out.
 */
char *estd_path_dirname_abs(const char *path);

/*
 * Formats Unix time t as UTC "YYYY-MM-DD HH:MM:SS" into buf (at least
 * ESTD_TIME_BUFLEN bytes; sep replaces the blank, e.g. 'T' for RFC 3339).
 * Returns buf; a time that cannot be represented gives "?".
 */
char *estd_fmt_time(long long t, char sep, char *buf, size_t buflen);

/*
 * Parses a whole decimal integer in [min, max] (optional sign, no trailing
 * garbage, no empty string). Returns 0 and sets *out, or -1.
 */
int estd_parse_ll(const char *s, long long min, long long max, long long *out);

/* 1 when name is 1..64 characters of [A-Za-z0-9._-] not starting with '.'. */
int estd_name_is_valid(const char *name);

/*
 * Writes s as a JSON string with its quotes (RFC 8259 7): '"', '\\' and
 * control characters escaped, bytes that are not valid UTF-8 as U+FFFD.
 */
void estd_json_string(FILE *out, const char *s);

/*
 * Writes s for a terminal: control characters (C0, DEL, C1) and invalid
 * UTF-8 become '?'. Subjects and names come from clients and must not be
 * able to send escape sequences to an operator's terminal.
 */
void estd_fputs_printable(FILE *out, const char *s);

/*
 * Parses a UTC time "YYYY-MM-DDTHH:MM:SSZ" (exactly that form) into Unix
 * time. Returns 0 on success, -1 otherwise.
 */
int estd_parse_utc(const char *s, long long *out);

/*
 * Reads the first line (up to CR, LF or NUL) of the secret file at path into
 * buf (max bytes and a NUL). The file must be a regular file that neither its
 * group nor others may access (as the users file and digest.key). On error msg
 * says why, naming the file and calling the line `what` ("password"), and the
 * status is ESTKIT_ENOTFOUND (no such file), ESTKIT_EIO or ESTKIT_EINVAL (mode,
 * empty or longer than max). Whatever was read is wiped.
 */
enum estkit_status estd_secret_file_line(const char *path, const char *what, char *buf,
					 size_t max, char *msg, size_t msglen);

#endif /* ESTD_UTIL_H */
