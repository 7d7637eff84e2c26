/*
 * backend/extconf.h - where a label's certificates come from when not from
 * estd's own CA: `backend = proxy` (an upstream EST server, RFC 7030 3.7)
 * or `backend = command` (a program run per request). The keys go in a
 * [label ...] section, or in a [backend] section whose values every label
 * inherits key by key unless it sets the key itself:
 *
 *   backend = ca | proxy | command       ; default ca (estd's [ca] issues)
 *   upstream_url = https://ca.example:8443/LABEL
 *   upstream_trust = upstream-ca.pem     ; trust anchors for the upstream's TLS certificate
 *   upstream_cert = ra.pem               ; the RA's TLS client certificate (id-kp-cmcRA)
 *   upstream_key = ra.key
 *   upstream_user = ra                   ; optional HTTP Basic/Digest towards the upstream
 *   upstream_password_file = ra.pass     ; its password (first line)
 *   upstream_timeout = 20                ; seconds for one upstream exchange
 *   upstream_cacerts_ttl = 300           ; seconds the upstream /cacerts answer is cached
 *   upstream_retry_after = 30            ; Retry-After of the 503 when the upstream is down
 *   upstream_keepalive = 15              ; seconds an idle upstream connection is kept; 0: none
 *   command = /usr/local/bin/sign arg1 "arg 2"   ; argv, split here, no shell
 *   command_input = base64 | der         ; the request on stdin (default base64)
 *   command_timeout = 30                 ; seconds before the program is killed
 *   command_max_output = 1048576         ; bytes of stdout (and of stderr) kept at most
 *   command_concurrency = 0              ; programs running at once; 0 = job_threads
 *   command_cacerts = ca-chain.pem       ; /cacerts of the label (default: estd's [ca])
 */
#ifndef ESTD_BACKEND_EXTCONF_H
#define ESTD_BACKEND_EXTCONF_H

#include <stddef.h>
#include <stdint.h>

enum estd_ext_kind { ESTD_EXT_CA = 0, ESTD_EXT_PROXY = 1, ESTD_EXT_COMMAND = 2 };

/* Limits of the command argv. */
#define ESTD_EXT_MAX_ARGS 64
#define ESTD_EXT_MAX_ARG 4096

struct estd_ext_conf {
	enum estd_ext_kind kind;
	/* proxy */
	char *upstream_url;
	char *upstream_trust;          /* absolute path */
	char *upstream_cert, *upstream_key;
	char *upstream_user, *upstream_password_file;
	int upstream_timeout;          /* 1..600 s, default 20 */
	int upstream_cacerts_ttl;      /* 0..86400 s, default 300 (0: no cache) */
	int upstream_retry_after;      /* 1..86400 s, default 30 */
	int upstream_keepalive;        /* 0..3600 s idle, default 15; 0: no reuse */
	/* command */
	char **argv;                   /* NULL-terminated, argv[0] an absolute path */
	size_t argc;
	int command_der;               /* command_input = der */
	int command_timeout;           /* 1..3600 s, default 30 */
	size_t command_max_output;     /* 1 KiB..64 MiB, default 1 MiB */
	int command_concurrency;       /* 0..1024, 0 = job_threads */
	char *command_cacerts;         /* absolute path or NULL */
	uint32_t set;                  /* keys set in this section (bit per key) */
};

/* 1 when name is one of the keys above (so config.c routes it here). */
int estd_ext_conf_is_key(const char *name);

/*
 * Sets key name to value in *slot (allocated with the defaults on first
 * use). Relative paths are resolved against dir. Returns 1, or 0 with a
 * message in msg (duplicate key, bad value).
 */
int estd_ext_conf_set(struct estd_ext_conf **slot, const char *name, const char *value,
		      const char *dir, char *msg, size_t msglen);

/*
 * After parsing: a label's settings completed from the [backend] section
 * (global, may be NULL) key by key, then checked as a whole (proxy needs
 * upstream_url and upstream_trust, command needs command, pairs go
 * together). A label left with backend = ca ends with *slot NULL. Returns 1,
 * or 0 with a message.
 */
int estd_ext_conf_finish(struct estd_ext_conf **slot, const struct estd_ext_conf *global,
			 char *msg, size_t msglen);

/* Frees conf; NULL is a no-op. */
void estd_ext_conf_free(struct estd_ext_conf *conf);

/*
 * Splits a command line into *argv (NULL-terminated; free with
 * estd_ext_argv_free()) without a shell: blanks separate words, '...'
 * is literal, "..." allows \" and \\, a backslash outside quotes escapes
 * the next character. No expansion of any kind. Returns the word count,
 * or -1 with msg set (unterminated quote, empty, too many or too long words).
 */
int estd_ext_argv_split(const char *line, char ***argv, char *msg, size_t msglen);

void estd_ext_argv_free(char **argv);

#endif /* ESTD_BACKEND_EXTCONF_H */
