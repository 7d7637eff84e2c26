/*
 * admin.h - estd's operator subcommands: `estd certs ...`, `estd user ...`, `estd ca ...`.
 *
 * Each takes the argument vector from its own name on (argv[0] is "certs" or
 * "user"), reads estd.conf (-c FILE, else $ESTD_CONF, else
 * /etc/estd/estd.conf) and returns the process exit code: 0 success, 1
 * failure, 2 usage. Errors are one line on stderr: "estd: certs: ...".
 */
#ifndef ESTD_ADMIN_H
#define ESTD_ADMIN_H

#include <stdio.h>

struct estd_cert_record;
struct estd_config;

/* estd certs list [-c F] [--label L] [--json] | estd certs show SERIAL [-c F] [--pem] */
int estd_cmd_certs(int argc, char **argv);

/*
 * estd requests list [--status S|all] [--json] | show ID | approve ID |
 * reject ID [--reason TEXT]   [-c F]: manual approval (approval = manual).
 */
int estd_cmd_requests(int argc, char **argv);
/* estd crl [-c F] [--out FILE] [--days N]: a signed CRL of the store's revocations. */
int estd_cmd_crl(int argc, char **argv);

/* estd certs revoke SERIAL [--reason R] [-c F] (in certs_revoke.c). */
int estd_certs_revoke(int argc, char **argv);

/* CRLReason name ("keyCompromise", any case) or number (0..10 but 7) -> code; -1 if unknown. */
int estd_crl_reason_parse(const char *s);

/* estd user add NAME | del NAME | list  [-c F] */
int estd_cmd_user(int argc, char **argv);

/*
 * estd ca rollover [-c F] [--key-type SPEC] [--days N] [--subject DN]
 * [--switch-at TIME|now]: root CA key update (RFC 7030 4.1.3).
 */
int estd_cmd_ca(int argc, char **argv);

/*
 * estd token create --label L --subject DN [--san S]... [--expires 24h] |
 * list [--json] | revoke ID   [-c F]: one-time enrollment tokens (token.h).
 */
int estd_cmd_token(int argc, char **argv);

/* The config file to use when no -c is given: $ESTD_CONF, else /etc/estd/estd.conf. */
const char *estd_admin_default_conf(void);

/*
 * Loads the config at path (NULL: estd_admin_default_conf()). On failure
 * prints "estd: CMD: why" to stderr and returns NULL.
 */
struct estd_config *estd_admin_load_config(const char *cmd, const char *path);

/* One record as a JSON object (no trailing newline); label "" is the default. */
void estd_admin_print_json(FILE *out, const struct estd_cert_record *rec);

/* One table row of `certs list`, control characters made harmless. */
void estd_admin_print_row(FILE *out, const struct estd_cert_record *rec);

/* The header line of the `certs list` table. */
void estd_admin_print_header(FILE *out);

/* Every field of a record, one "name: value" line each (`certs show`). */
void estd_admin_print_record(FILE *out, const struct estd_cert_record *rec);

#endif /* ESTD_ADMIN_H */
