/*
 * config.h - estd.conf, the server's INI configuration (parsed with inih).
 *
 * Relative paths in the file are resolved against the directory of the
 * config file, so a server directory made by `estd init` can be moved.
 *
 *   [server]
 *   listen = 127.0.0.1:8443        ; HOST:PORT or [V6]:PORT
 *   tls_cert = tls.pem             ; server certificate (+ chain)
 *   tls_key = tls.key              ; or pkcs11:token=...;object=... ([ca] pkcs11_module)
 *   tls_key_pin_file = tls.pin     ; the token's PIN for a pkcs11: tls_key
 *   io_threads = 0                 ; 0 = one per core
 *   job_threads = 0                ; 0 = 2 x cores
 *   job_queue = 1024               ; queued jobs before 503
 *   max_body = 65536               ; bytes, larger bodies get 413
 *   max_headers = 16384            ; bytes
 *   max_connections = 4096
 *   max_connections_per_address = 64 ; per IPv4 address / IPv6 /64; 0 = no limit
 *   timeout = 30                   ; seconds, read/write/idle
 *   log_level = info               ; error|warn|info|debug
 *
 *   [ca]
 *   cert = ca.pem                  ; CA certificate (the clients' trust anchor)
 *   key = ca.key                   ; CA private key (0600)
 *   chain =                        ; optional: intermediates up to the root, sent in /cacerts
 *   next_cert =                    ; rollover (estd ca rollover): the new self-signed CA
 *   next_key =                     ;   its key (0600)
 *   link_certs =                   ;   NewWithOld + OldWithNew (RFC 4210 4.4)
 *   switch_at =                    ;   UTC YYYY-MM-DDTHH:MM:SSZ: the new CA issues from then on
 *   max_sans = 256                 ; more requested subjectAltNames: 400
 *   max_subject = 2048             ; a longer requested subject (DER bytes): 400
 *
 *   [store]
 *   path = estd.db                 ; SQLite database file, or postgresql://user@host/db
 *   connections = 8                ; PostgreSQL: connections per estd process (1..1024)
 *   pool_wait = 10                 ; PostgreSQL: seconds to wait for a free one, then 503 (1..300)
 *
 *   [auth]
 *   users = users                  ; Basic-auth users file ("name:crypt-hash" lines)
 *   realm = estkit
 *   client_ca =                    ; extra trust anchors for TLS client certs (the CA is always one)
 *   explicit_ca =                  ;   the same setting (RFC 7030 3.6 name); use one of the two
 *   implicit_ca =                  ; third-party CAs for client certs: /simpleenroll only (3.3.2)
 *   implicit_ca_enabled = yes      ; default yes when implicit_ca is set
 *   reenroll_requires_cert = yes   ; RFC 7030 4.2.2
 *   methods = basic, digest        ; HTTP authentication offered (RFC 7617, RFC 7616)
 *   digest_secret_file = digest.key ; 32-byte nonce key, shared by nodes (0600; made if absent)
 *   digest_nonce_lifetime = 300    ; seconds a Digest nonce is valid
 *   digest_nonce_table = 4096      ; Digest nonce-counts remembered (replay detection)
 *   auth_fail_limit = 10           ; failed authentications per address that lock it out (0: off)
 *   auth_fail_window = 60          ; seconds in which they count
 *   auth_fail_lockout = 300        ; seconds a locked-out address gets 429
 *   auth_fail_table = 4096         ; addresses remembered
 *   auth_fail_delay = 250          ; ms: the n-th failure's 401 waits (n - 1) x this (max 5 s)
 *   ra_certs =                     ; RFC 7030 3.7 RAs: any | cert:SUBJECT, ... (id-kp-cmcRA)
 *   srp_verifier_file =            ; TLS-SRP verifiers (`openssl srp` format, RFC 7030 3.3.3);
 *                                  ;   unset: no SRP. Reread on SIGHUP
 *
 *   [profile default]              ; what issued certificates look like
 *   validity_days = 365
 *   key_usage = digitalSignature, keyEncipherment
 *   extended_key_usage = clientAuth
 *   allowed_keys = ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519   ; rsa:N = at least N bits
 *   copy_sans = yes                ; copy the requested subjectAltName
 *
 *   [label]                        ; the default label: /.well-known/est/<op>
 *   profile = default
 *
 *   [label routers]                ; /.well-known/est/routers/<op>
 *   profile = default
 *   serverkeygen_key = ec:P-256    ; /serverkeygen key type (default: like the CSR's key)
 *   serverkeygen_kek = ID:kek.hex  ; DecryptKeyIdentifier ID -> hex AES key file (16/24/32 bytes)
 *   require_channel_binding = no   ; RFC 7030 3.5: CSRs must carry the TLS channel binding
 *   approval = auto                ; auto | manual: hold enrollments for an operator
 *   retry_after = 60               ; seconds in the 202 Retry-After (RFC 7030 4.2.3)
 *   csrattrs = challengePassword, ecPublicKey:secp384r1, ecdsa-with-SHA384
 *   csrattrs_san = DNS:*.example.com ; see csrattrs_conf.h
 *   cmc_require_identity_proof = no ; RFC 5272 6.2.1: /fullcmc needs identityProofV2
 *   cmc_identity_secret_file =     ;   its shared secret (first line; 0600)
 *
 *   backend = ca                   ; ca | proxy | command, see backend/extconf.h
 *                                  ; (those keys also go in a [backend] section: defaults)
 *   allow = user:alice, cert-subject:CN=*.example.com  ; who may enroll (policy.h)
 *   subject_pattern = CN=*.devices.example              ; and for which names
 *   san_pattern = DNS:*.devices.example, IP:10.0.0.0/8
 *   san_must_match = user          ; cn_must_match = user; max_sans = 100
 *
 * A label section is needed for a label to exist; without any [label ...]
 * section the default label exists with profile "default". Unknown sections
 * or keys are errors (typos must not pass silently).
 */
#ifndef ESTD_CONFIG_H
#define ESTD_CONFIG_H

#include <stddef.h>
#include <estkit/error.h>

struct estd_ext_conf; /* backend/extconf.h */
struct estd_policy;

struct estd_profile {
	char *name;
	int validity_days;        /* > 0 */
	char *key_usage;          /* comma list of OpenSSL long/short names, as in the file */
	char *ext_key_usage;      /* comma list: clientAuth, serverAuth, ... */
	char *allowed_keys;       /* comma list as in the file */
	int copy_sans;            /* bool */
	char *crl_url;            /* CRL distribution point URI or NULL */
	int validity_seconds;     /* > 0: overrides validity_days (short-lived certificates) */
	char *allow_othername;    /* comma list of otherName type OIDs; NULL: none allowed */
	int allow_registered_id;  /* bool: registeredID SANs allowed; default no */
};

struct estd_label {
	char *name;               /* "" is the default label */
	char *profile;            /* name of a [profile NAME] section that exists */
	char *serverkeygen_key;   /* key spec for /serverkeygen; NULL: like the CSR's key */
	char *serverkeygen_kek;   /* "ID:/abs/path" of a hex AES key (RFC 7030 4.4.1.1) or NULL */
	int require_channel_binding; /* RFC 7030 3.5; default no */
	int approval_manual;      /* approval = manual: 202 until `estd requests approve` */
	int retry_after;          /* Retry-After seconds of those 202 answers, 1..86400 */

	/* /csrattrs (RFC 7030 4.5, RFC 9908): see csrattrs_conf.h */
	char *csrattrs;           /* comma list of items as in the file, NULL when unset */
	char *csrattrs_san;       /* comma list of "DNS:x", "IP:a", ... */
	char *csrattrs_subject;   /* subject of the RFC 9908 template */
	char *csrattrs_file;      /* absolute path of a DER or base64 CsrAttrs */
	int csrattrs_auth;        /* 1: csrattrs_auth = required */
	unsigned char *csrattrs_der; /* built at load; NULL: none (204) */
	size_t csrattrs_len;

	/* /fullcmc identityProofV2 (RFC 5272 6.2.1) */
	int cmc_require_identity_proof; /* default no */
	char *cmc_identity_secret_file;  /* absolute path or NULL; read per request */
	/* backend = proxy | command (backend/extconf.h); NULL: estd's own CA issues */
	struct estd_ext_conf *ext;
	/* allow, subject_pattern, san_pattern, *_must_match, max_sans: see policy.h */
	struct estd_policy *policy; /* NULL: the default policy */
};

struct estd_config {
	char *path;               /* the file loaded (absolute) */
	char *dir;                /* its directory: base of relative paths */

	/* [server] */
	char *listen;
	char *tls_cert, *tls_key;  /* tls_key: a path or a pkcs11: URI (RFC 7512) */
	char *tls_key_pin_file;    /* PIN of a pkcs11: tls_key (first line); NULL: none or in the URI */
	int io_threads, job_threads, job_queue;
	size_t max_body, max_headers;
	int max_connections, max_connections_per_address, timeout;
	char *log_level;

	/* [ca] */
	char *ca_cert, *ca_key, *ca_chain; /* ca_chain NULL when unset */

	/* [store] */
	char *store_path;

	/* [auth] */
	char *users_file, *realm, *client_ca; /* client_ca NULL when unset */
	int reenroll_requires_cert;

	struct estd_profile *profiles;
	size_t nprofiles;
	struct estd_label *labels;
	size_t nlabels;

	/* [auth] HTTP Digest */
	int auth_methods;         /* ESTKIT_AUTH_* bits */
	char *digest_secret_file;
	int digest_nonce_lifetime, digest_nonce_table;

	/* [ca] rollover (RFC 7030 4.1.3): all NULL / -1 when no rollover is under way */
	char *ca_next_cert, *ca_next_key, *ca_link_certs;
	long long ca_switch_at;   /* Unix time the new CA starts issuing; -1: not yet set */
	/* [auth] revokers: identities allowed to revoke any certificate, comma-separated
	 * "user:NAME" / "cert:SUBJECT" (RFC 2253 one-line); NULL: holders only */
	char *revokers;
	/* [auth] implicit TA database for client certificates (RFC 7030 3.6) */
	char *implicit_ca;        /* NULL when unset */
	char *explicit_ca;        /* parse only: moved to client_ca (its alias) */
	int implicit_ca_enabled;  /* -1 unset: yes when implicit_ca is set */
	char *srp_verifier_file;  /* [auth] TLS-SRP verifiers (RFC 7030 3.3.3); NULL: no SRP */
	/* [ca] signer: 0 = a separate signer process holds the CA keys (default), 1 = inline */
	int ca_signer_inline;
	int ca_signer_workers;    /* signer worker processes; 0: one per online CPU (max 8) */
	int ca_signer_timeout;    /* seconds a signature may take before the worker is replaced */
	char *ca_key_pin_file;    /* PIN of a pkcs11: key (first line); NULL: none or in the URI */
	char *ca_pkcs11_module;   /* PKCS#11 library for pkcs11: keys; NULL: p11-kit's proxy */
	/* [auth] brute-force protection (estkit_server_config.auth_fail_*); limit 0: off */
	int auth_fail_limit, auth_fail_window, auth_fail_lockout, auth_fail_table;
	int auth_fail_delay;      /* milliseconds */
	/* [ca] bounds of the names a CSR may ask for (ca/names.h); 0: the defaults */
	int max_sans, max_subject;
	/* [store] connections: at most this many PostgreSQL connections per process */
	int store_connections;
	/* [store] pool_wait: seconds a request waits for a free connection, then 503 */
	int store_pool_wait;

	/* [auth] ra_certs: RFC 7030 3.7 RA clients, "any" or comma-separated
	 * "cert:SUBJECT" (RFC 2253 one-line), each also needing id-kp-cmcRA; NULL: none */
	char *ra_certs;
	/* [backend]: proxy/command settings every label inherits (NULL: none) */
	struct estd_ext_conf *ext_default;
};

/*
 * Loads and validates path. All path values in *out are absolute (resolved
 * against the file's directory). On error returns ESTKIT_EPARSE/EIO/EINVAL
 * and *err (caller frees with estkit_free()) says "file:line: what".
 */
enum estkit_status estd_config_load(const char *path, struct estd_config **out, char **err);

void estd_config_free(struct estd_config *cfg);

/* The label named name ("" for the default), or NULL. Borrowed from cfg. */
const struct estd_label *estd_config_label(const struct estd_config *cfg, const char *name);

/* The profile named name, or NULL. Borrowed from cfg. */
const struct estd_profile *estd_config_profile(const struct estd_config *cfg, const char *name);

#endif /* ESTD_CONFIG_H */
