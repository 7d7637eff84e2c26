/*
 * init.h - `estd init`: a ready-to-run server directory (CA, TLS
 * certificate, estd.conf, users file, store).
 */
#ifndef ESTD_ADMIN_INIT_H
#define ESTD_ADMIN_INIT_H

#include <stddef.h>
#include <stdio.h>
#include <estkit/error.h>

#define ESTD_INIT_DEFAULT_KEY "ec:P-256"
#define ESTD_INIT_DEFAULT_SUBJECT "/CN=estkit CA/O=estkit"
#define ESTD_INIT_DEFAULT_DAYS 3650
#define ESTD_INIT_DEFAULT_LISTEN "127.0.0.1:8443"
#define ESTD_INIT_TLS_DAYS 825

struct estd_init_opts {
	const char *dir;                  /* required */
	const char *key_type;             /* estkit_key_generate() spec; NULL: ec:P-256 */
	const char *const *hostnames;     /* extra TLS names (DNS or IP literals) */
	size_t nhostnames;
	const char *listen;               /* NULL: 127.0.0.1:8443 */
	const char *ca_subject;           /* NULL: /CN=estkit CA/O=estkit */
	int ca_days;                      /* 0: 3650 */
	const char *ca_cert, *ca_key;     /* both set: import this CA instead of creating one */
	int force;                        /* overwrite a non-empty dir */
	/* ca_key may be a pkcs11: URI (RFC 7512): alone, the CA certificate is made for the
	 * token's key; with ca_cert, that CA is imported. No ca.key is written. */
	const char *ca_key_pin_file;      /* the token PIN's file, written to [ca] key_pin_file */
	const char *pkcs11_module;        /* [ca] pkcs11_module; NULL: p11-kit's proxy */
};

/*
 * Creates the server directory o->dir (mode 0700 when new): ca.key, ca.pem
 * (and chain.pem when an imported CA file holds more certificates), tls.key,
 * tls.pem, estd.conf, users and estd.db. Prints a summary to out (NULL: quiet).
 * Returns ESTKIT_OK, ESTKIT_EINVAL for bad options, ESTKIT_EEXIST for a
 * non-empty directory without force, other codes for failures; on error *err
 * (caller frees with free()) says why.
 */
enum estkit_status estd_init(const struct estd_init_opts *o, FILE *out, char **err);

/* The `estd init` command line; argv[0] is "init". Returns the exit status 0/1/2. */
int estd_cmd_init(int argc, char **argv);

#endif /* ESTD_ADMIN_INIT_H */
