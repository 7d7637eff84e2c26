/*
 * config.c - estd.conf: read with inih, checked key by key, validated as a
 * whole. The format is documented in config.h and docs/estd.conf.5.
 *
 * inih (as packaged) calls the handler for key = value lines only and does
 * not pass line numbers, so the stream reader below counts lines itself and
 * notices section headers on the way: that gives every message a line, and
 * makes an empty or unknown section visible too.
 */
#include "config.h"
#include "csrattrs_conf.h"
#include "backend/extconf.h"
#include "policy.h"
#include "backend/skg.h"
#include "ca/profile.h"
#include "util.h"

#include <errno.h>
#include <estkit/server.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE_SIZE (1024 * 1024) /* a config file is small; refuse anything else */
#define MAX_NAMED 1024              /* profiles, labels */
#define DEFAULT_PROFILE "default"

enum vtype {
	V_STR,     /* any non-empty text */
	V_REALM,   /* text that fits in a quoted HTTP header value */
	V_LEVEL,   /* error|warn|info|debug */
	V_LISTEN,  /* HOST:PORT or [V6]:PORT */
	V_PATH,    /* required path, resolved against the file's directory */
	V_OPTPATH, /* optional path: empty means unset (NULL) */
	V_STORE,   /* "PATH", "sqlite:PATH" or a PostgreSQL URI (kept as written) */
	V_INT,     /* int in [min, max] */
	V_SIZE,    /* size_t in [min, max] */
	V_BOOL,    /* yes/no/true/false/on/off/1/0 */
	V_KU,      /* key usage names */
	V_EKU,     /* extended key usage names or OIDs */
	V_KEYS,    /* allowed key types */
	V_ONAMES,  /* otherName type OIDs (allow_othername) */
	V_PROFREF, /* name of a profile (checked after parsing) */
	V_KEYSPEC, /* key spec for estkit_key_generate() */
	V_KEK,     /* ID:PATH, PATH resolved against the file's directory */
	V_APPROVAL, /* auto|manual, stored as int (1 = manual) */
	V_CSRATTRS, /* a csrattrs* key of a label (csrattrs_conf.c) */
	V_METHODS, /* comma list of basic, digest */
	V_TIME,    /* UTC time YYYY-MM-DDTHH:MM:SSZ, stored as long long Unix time */
	V_KEYREF,  /* a key: a path (as V_OPTPATH) or a pkcs11: URI (RFC 7512), kept verbatim */
	V_SIGNER,  /* process|inline, stored as int (1 = inline) */
	V_POLICY,  /* an enrollment-policy key of a label (policy.c) */
};

struct key {
	const char *name;
	enum vtype type;
	size_t off; /* offset in struct estd_config, estd_profile or estd_label */
	long long min, max;
};

#define CFG(f) offsetof(struct estd_config, f)
#define PRO(f) offsetof(struct estd_profile, f)
#define LAB(f) offsetof(struct estd_label, f)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct key server_keys[] = {
	{"listen", V_LISTEN, CFG(listen), 0, 0},
	{"tls_cert", V_PATH, CFG(tls_cert), 0, 0},
	{"tls_key", V_KEYREF, CFG(tls_key), 0, 0},
	{"tls_key_pin_file", V_OPTPATH, CFG(tls_key_pin_file), 0, 0},
	{"io_threads", V_INT, CFG(io_threads), 0, 256},
	{"job_threads", V_INT, CFG(job_threads), 0, 256},
	{"job_queue", V_INT, CFG(job_queue), 1, 1000000},
	{"max_body", V_SIZE, CFG(max_body), 1024, 16 * 1024 * 1024},
	{"max_headers", V_SIZE, CFG(max_headers), 1024, 1024 * 1024},
	{"max_connections", V_INT, CFG(max_connections), 1, 1000000},
	{"max_connections_per_address", V_INT, CFG(max_connections_per_address), 0, 1000000},
	{"timeout", V_INT, CFG(timeout), 1, 3600},
	{"log_level", V_LEVEL, CFG(log_level), 0, 0},
};
static const struct key ca_keys[] = {
	{"cert", V_PATH, CFG(ca_cert), 0, 0},
	{"key", V_KEYREF, CFG(ca_key), 0, 0},
	{"chain", V_OPTPATH, CFG(ca_chain), 0, 0},
	/* CA rollover (RFC 7030 4.1.3), written by `estd ca rollover` */
	{"next_cert", V_OPTPATH, CFG(ca_next_cert), 0, 0},
	{"next_key", V_KEYREF, CFG(ca_next_key), 0, 0},
	{"link_certs", V_OPTPATH, CFG(ca_link_certs), 0, 0},
	{"switch_at", V_TIME, CFG(ca_switch_at), 0, 0},
	/* the CA key out of the network process (docs/design.md, docs/security.md) */
	{"signer", V_SIGNER, CFG(ca_signer_inline), 0, 0},
	{"signer_workers", V_INT, CFG(ca_signer_workers), 0, 64},
	{"signer_timeout", V_INT, CFG(ca_signer_timeout), 1, 3600},
	{"key_pin_file", V_OPTPATH, CFG(ca_key_pin_file), 0, 0},
	{"pkcs11_module", V_OPTPATH, CFG(ca_pkcs11_module), 0, 0},
	{"max_sans", V_INT, CFG(max_sans), 1, 100000},
	{"max_subject", V_INT, CFG(max_subject), 64, 65536},
};
static const struct key store_keys[] = {
	{"path", V_STORE, CFG(store_path), 0, 0},
	{"connections", V_INT, CFG(store_connections), 1, 1024},
	{"pool_wait", V_INT, CFG(store_pool_wait), 1, 300},
};
static const struct key auth_keys[] = {
	{"users", V_PATH, CFG(users_file), 0, 0},
	{"realm", V_REALM, CFG(realm), 0, 0},
	{"client_ca", V_OPTPATH, CFG(client_ca), 0, 0},
	{"explicit_ca", V_OPTPATH, CFG(explicit_ca), 0, 0}, /* RFC 7030 3.6 name of client_ca */
	{"implicit_ca", V_OPTPATH, CFG(implicit_ca), 0, 0},
	{"implicit_ca_enabled", V_BOOL, CFG(implicit_ca_enabled), 0, 0},
	{"srp_verifier_file", V_OPTPATH, CFG(srp_verifier_file), 0, 0}, /* RFC 7030 3.3.3 */
	{"reenroll_requires_cert", V_BOOL, CFG(reenroll_requires_cert), 0, 0},
	{"methods", V_METHODS, CFG(auth_methods), 0, 0},
	{"digest_secret_file", V_PATH, CFG(digest_secret_file), 0, 0},
	{"digest_nonce_lifetime", V_INT, CFG(digest_nonce_lifetime), 1, 86400},
	{"digest_nonce_table", V_INT, CFG(digest_nonce_table), 64, 10000000},
	{"revokers", V_STR, CFG(revokers), 0, 0},
	{"auth_fail_limit", V_INT, CFG(auth_fail_limit), 0, 1000000},
	{"auth_fail_window", V_INT, CFG(auth_fail_window), 1, 86400},
	{"auth_fail_lockout", V_INT, CFG(auth_fail_lockout), 1, 7 * 86400},
	{"auth_fail_table", V_INT, CFG(auth_fail_table), 16, 10000000},
	{"auth_fail_delay", V_INT, CFG(auth_fail_delay), 0, 5000},
	{"ra_certs", V_STR, CFG(ra_certs), 0, 0},
};
static const struct key profile_keys[] = {
	{"validity_days", V_INT, PRO(validity_days), 1, 36500},
	{"key_usage", V_KU, PRO(key_usage), 0, 0},
	{"extended_key_usage", V_EKU, PRO(ext_key_usage), 0, 0},
	{"allowed_keys", V_KEYS, PRO(allowed_keys), 0, 0},
	{"copy_sans", V_BOOL, PRO(copy_sans), 0, 0},
	{"crl_url", V_STR, PRO(crl_url), 0, 0},
	{"validity_seconds", V_INT, PRO(validity_seconds), 10, 31536000},
	{"allow_othername", V_ONAMES, PRO(allow_othername), 0, 0},
	{"allow_registered_id", V_BOOL, PRO(allow_registered_id), 0, 0},
};
static const struct key label_keys[] = {
	{"profile", V_PROFREF, LAB(profile), 0, 0},
	{"serverkeygen_key", V_KEYSPEC, LAB(serverkeygen_key), 0, 0},
	{"serverkeygen_kek", V_KEK, LAB(serverkeygen_kek), 0, 0},
	{"require_channel_binding", V_BOOL, LAB(require_channel_binding), 0, 0},
	{"cmc_require_identity_proof", V_BOOL, LAB(cmc_require_identity_proof), 0, 0},
	{"cmc_identity_secret_file", V_OPTPATH, LAB(cmc_identity_secret_file), 0, 0},
	{"approval", V_APPROVAL, LAB(approval_manual), 0, 0},
	{"retry_after", V_INT, LAB(retry_after), 1, 86400},
	{"csrattrs", V_CSRATTRS, 0, 0, 0},
	{"csrattrs_san", V_CSRATTRS, 0, 0, 0},
	{"csrattrs_subject", V_CSRATTRS, 0, 0, 0},
	{"csrattrs_file", V_CSRATTRS, 0, 0, 0},
	{"csrattrs_auth", V_CSRATTRS, 0, 0, 0},
	{"allow", V_POLICY, 0, 0, 0},
	{"subject_pattern", V_POLICY, 0, 0, 0},
	{"san_pattern", V_POLICY, 0, 0, 0},
	{"san_must_match", V_POLICY, 0, 0, 0},
	{"cn_must_match", V_POLICY, 0, 0, 0},
	{"max_sans", V_POLICY, 0, 0, 0},
};

enum kind { K_SERVER, K_CA, K_STORE, K_AUTH, K_PROFILE, K_LABEL, K_BACKEND };

struct section_type {
	const char *name;
	enum kind kind;
	const struct key *keys;
	size_t nkeys;
	int named; /* 0: [x] only, 1: [x NAME] only, 2: both */
};

static const struct section_type section_types[] = {
	{"server", K_SERVER, server_keys, NELEM(server_keys), 0},
	{"ca", K_CA, ca_keys, NELEM(ca_keys), 0},
	{"store", K_STORE, store_keys, NELEM(store_keys), 0},
	{"auth", K_AUTH, auth_keys, NELEM(auth_keys), 0},
	{"profile", K_PROFILE, profile_keys, NELEM(profile_keys), 1},
	{"label", K_LABEL, label_keys, NELEM(label_keys), 2},
	/* backend = proxy | command defaults for every label (backend/extconf.h) */
	{"backend", K_BACKEND, NULL, 0, 0},
};

struct parser {
	const char *file; /* as the caller named it, for messages */
	struct estd_config *cfg;
	FILE *fp;
	char *line;
	size_t linecap;
	int lineno;
	enum estkit_status rc; /* first failure */
	char *err;
	const struct section_type *sect; /* NULL outside or in a bad section */
	int in_bad_section;
	size_t idx;          /* current profile or label */
	uint32_t seen;       /* keys of the current section already set */
	int nkeys;           /* key lines in the current section */
	uint32_t singletons; /* unnamed sections already opened */
	int *label_lines;    /* line of each label's section header or profile key */
	int any_label;
};

/* Records the first failure as "file:line: message" (line 0: "file: message"). */
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, enum estkit_status rc,
						       const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (p->rc != ESTKIT_OK)
		return 0;
	p->rc = rc;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL) {
		p->rc = ESTKIT_ENOMEM;
		return 0;
	}
	if (p->lineno > 0)
		p->err = estd_strfmt("%s:%d: %s", p->file, p->lineno, msg);
	else
		p->err = estd_strfmt("%s: %s", p->file, msg);
	free(msg);
	return 0;
}

static int oom(struct parser *p)
{
	return fail(p, ESTKIT_ENOMEM, "out of memory");
}

/* Replaces *slot with a copy of value. */
static int set_str(struct parser *p, char **slot, const char *value)
{
	char *s = estd_strdup(value);

	if (s == NULL)
		return oom(p);
	free(*slot);
	*slot = s;
	return 1;
}

/* ---- value checks ------------------------------------------------------------ */

/* Realm goes into WWW-Authenticate: Basic realm="..." (RFC 7617 2). */
static int is_realm(const char *v)
{
	if (*v == '\0' || strlen(v) > 128)
		return 0;
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f || *v == '"' || *v == '\\')
			return 0;
	return 1;
}

static int is_level(const char *v)
{
	return strcmp(v, "error") == 0 || strcmp(v, "warn") == 0 || strcmp(v, "info") == 0 ||
	       strcmp(v, "debug") == 0;
}

/* HOST:PORT or [V6]:PORT, PORT 0..65535 (0: the system picks one, estd logs it). */
static int is_listen(const char *v)
{
	const char *colon, *h;
	long long port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL || close == v + 1 || close[1] != ':')
			return 0;
		for (h = v + 1; h < close; h++)
			if (strchr("0123456789abcdefABCDEF:.", *h) == NULL)
				return 0;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || colon == v)
			return 0;
		for (h = v; h < colon; h++)
			if (strchr("0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-_",
				   *h) == NULL)
				return 0;
	}
	return colon[1] >= '0' && colon[1] <= '9' && estd_parse_ll(colon + 1, 0, 65535, &port) == 0;
}

/* -1 when v is not one of the boolean words. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < NELEM(yes); i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* ---- setting one key ----------------------------------------------------------- */

/* Paths: absolute, or relative to the config file's directory; "sqlite:" kept. */
static int set_path(struct parser *p, const struct key *k, char **slot, const char *v)
{
	const char *prefix = "";
	char *abs = NULL, *full = NULL;

	if (*v == '\0') {
		if (k->type == V_OPTPATH || k->type == V_KEYREF) {
			free(*slot);
			*slot = NULL;
			return 1;
		}
		return fail(p, ESTKIT_EINVAL, "%s: a path is required", k->name);
	}
	if (k->type == V_STORE &&
	    (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0)) {
		/* a libpq connection URI: no file path to resolve */
		abs = estd_strdup(v);
		if (abs == NULL)
			return oom(p);
		free(*slot);
		*slot = abs;
		return 1;
	}
	if (k->type == V_STORE &&
	    (strncmp(v, "postgresql:", 11) == 0 || strncmp(v, "postgres:", 9) == 0)) {
		/* not a file name either; and not echoed: it may hold a password */
		return fail(p, ESTKIT_EINVAL, "%s: a PostgreSQL store is written "
					      "postgresql://[user[:password]@]host[:port]/db", k->name);
	}
	if (k->type == V_STORE && strncmp(v, "sqlite:", 7) == 0) {
		prefix = "sqlite:";
		v += 7;
		if (*v == '\0')
			return fail(p, ESTKIT_EINVAL, "%s: a path is required", k->name);
	}
	abs = estd_path_join(p->cfg->dir, v);
	full = abs != NULL ? estd_strfmt("%s%s", prefix, abs) : NULL;
	free(abs);
	if (full == NULL)
		return oom(p);
	free(*slot);
	*slot = full;
	return 1;
}

static int set_number(struct parser *p, const struct key *k, void *slot, const char *v)
{
	long long n;

	if (estd_parse_ll(v, k->min, k->max, &n) != 0)
		return fail(p, ESTKIT_EINVAL, "%s: '%s' is not a whole number in %lld..%lld",
			    k->name, v, k->min, k->max);
	if (k->type == V_SIZE)
		*(size_t *)slot = (size_t)n;
	else
		*(int *)slot = (int)n;
	return 1;
}

/* Checks a text value against its type; 1 when acceptable. */
static int text_ok(enum vtype type, const char *v)
{
	switch (type) {
	case V_REALM: return is_realm(v);
	case V_LEVEL: return is_level(v);
	case V_LISTEN: return is_listen(v);
	case V_PROFREF: return estd_name_is_valid(v);
	case V_KEYSPEC: return *v != '\0' && estd_skg_keyspec_ok(v);
	case V_KEK: return estd_skg_kek_syntax_ok(v);
	default: return *v != '\0';
	}
}

static const char *text_hint(enum vtype type)
{
	switch (type) {
	case V_REALM: return "printable, no '\"' or '\\', at most 128 characters";
	case V_LEVEL: return "error, warn, info or debug";
	case V_LISTEN: return "HOST:PORT or [IPV6]:PORT";
	case V_PROFREF: return "a profile name";
	case V_KEYSPEC: return "ec:P-256, ec:P-384, ec:P-521, rsa:BITS or ed25519";
	case V_KEK: return "ID:FILE, ID printable without ':' or spaces, at most 64 characters";
	default: return "a value is required";
	}
}

/*
 * key_usage, extended_key_usage, allowed_keys, allow_othername: checked by the parser that
 * issuance uses (ca/profile.c), so a file that loads is a file that issues;
 * here only to give the message its line.
 */
static int set_profile_list(struct parser *p, const struct key *k, void *base, const char *v)
{
	struct estd_profile tmp = *(struct estd_profile *)base;
	struct estd_ca_profile *parsed = NULL;
	char msg[512];

	*(const char **)((char *)&tmp + k->off) = v;
	if (estd_profile_parse(&tmp, &parsed, msg, sizeof(msg)) != ESTKIT_OK)
		return fail(p, ESTKIT_EINVAL, "%s", msg);
	estd_profile_free(parsed);
	return set_str(p, (char **)((char *)base + k->off), v);
}

/* "basic, digest": the HTTP authentication schemes offered; at least one. */
static int set_methods(struct parser *p, const struct key *k, int *slot, const char *v)
{
	const char *s = v;
	size_t n;
	int bits = 0;

	while (*s != '\0') {
		s += strspn(s, " \t,");
		n = strcspn(s, " \t,");
		if (n == 5 && strncmp(s, "basic", 5) == 0)
			bits |= ESTKIT_AUTH_BASIC;
		else if (n == 6 && strncmp(s, "digest", 6) == 0)
			bits |= ESTKIT_AUTH_DIGEST;
		else if (n > 0)
			return fail(p, ESTKIT_EINVAL, "%s: '%s' is not a list of basic, digest",
				    k->name, v);
		s += n;
	}
	if (bits == 0)
		return fail(p, ESTKIT_EINVAL, "%s: name basic, digest or both", k->name);
	*slot = bits;
	return 1;
}

/* The csrattrs* keys of a label, checked where they are read so errors carry the line. */
static int set_csrattrs(struct parser *p, const struct key *k, void *base, const char *v)
{
	char msg[512], *path = NULL;
	int ok;

	if (strcmp(k->name, "csrattrs_file") == 0 && *v != '\0' &&
	    (path = estd_path_join(p->cfg->dir, v)) == NULL)
		return oom(p);
	ok = estd_csrattrs_conf_set(base, k->name, v, path, msg, sizeof(msg));
	free(path);
	return ok ? 1 : fail(p, ESTKIT_EINVAL, "%s: %s", k->name, msg);
}

/* serverkeygen_kek = ID:PATH -> "ID:/absolute/path". */
static int set_kek(struct parser *p, char **slot, const char *v)
{
	const char *colon = strchr(v, ':');
	char *abs = estd_path_join(p->cfg->dir, colon + 1);
	char *full = abs != NULL ? estd_strfmt("%.*s:%s", (int)(colon - v), v, abs) : NULL;

	free(abs);
	if (full == NULL)
		return oom(p);
	free(*slot);
	*slot = full;
	return 1;
}

static int set_value(struct parser *p, const struct key *k, void *base, const char *v)
{
	void *slot = (char *)base + k->off;
	int b;

	switch (k->type) {
	case V_PATH:
	case V_OPTPATH:
	case V_STORE: return set_path(p, k, slot, v);
	case V_KEYREF:
		/* RFC 7512 URIs name a token object, not a file: no directory to resolve */
		if (strncmp(v, "pkcs11:", 7) == 0)
			return set_str(p, slot, v);
		return set_path(p, k, slot, v);
	case V_SIGNER:
		if (strcmp(v, "process") != 0 && strcmp(v, "inline") != 0)
			return fail(p, ESTKIT_EINVAL, "%s: '%s' is not process or inline", k->name, v);
		*(int *)slot = strcmp(v, "inline") == 0;
		return 1;
	case V_INT:
	case V_SIZE: return set_number(p, k, slot, v);
	case V_METHODS: return set_methods(p, k, slot, v);
	case V_KU:
	case V_EKU:
	case V_KEYS:
	case V_ONAMES: return set_profile_list(p, k, base, v);
	case V_CSRATTRS: return set_csrattrs(p, k, base, v);
	case V_POLICY: {
		char msg[512];

		if (!estd_policy_conf_set(&((struct estd_label *)base)->policy, k->name, v, msg,
					  sizeof(msg)))
			return fail(p, ESTKIT_EINVAL, "%s: %s", k->name, msg);
		return 1;
	}
	case V_TIME:
		if (estd_parse_utc(v, (long long *)slot) != 0)
			return fail(p, ESTKIT_EINVAL, "%s: '%s' is not a UTC time YYYY-MM-DDTHH:MM:SSZ",
				    k->name, v);
		return 1;
	case V_BOOL:
		b = parse_bool(v);
		if (b < 0)
			return fail(p, ESTKIT_EINVAL, "%s: '%s' is not yes/no/true/false/on/off/1/0",
				    k->name, v);
		*(int *)slot = b;
		return 1;
	case V_APPROVAL:
		if (strcmp(v, "auto") != 0 && strcmp(v, "manual") != 0)
			return fail(p, ESTKIT_EINVAL, "%s: '%s' is not auto or manual", k->name, v);
		*(int *)slot = strcmp(v, "manual") == 0;
		return 1;
	default:
		if (!text_ok(k->type, v))
			return fail(p, ESTKIT_EINVAL, "%s: invalid value '%s' (%s)", k->name, v,
				    text_hint(k->type));
		if (k->type == V_PROFREF)
			p->label_lines[p->idx] = p->lineno;
		if (k->type == V_KEK)
			return set_kek(p, slot, v);
		return set_str(p, slot, v);
	}
}

/* backend = proxy | command keys of a [label] or of [backend] (backend/extconf.c). */
static int set_ext(struct parser *p, const char *name, const char *value)
{
	struct estd_ext_conf **slot = p->sect->kind == K_LABEL ? &p->cfg->labels[p->idx].ext
								: &p->cfg->ext_default;
	char msg[512];

	if (!estd_ext_conf_set(slot, name, value, p->cfg->dir, msg, sizeof(msg)))
		return fail(p, ESTKIT_EINVAL, "%s: %s", name, msg);
	return 1;
}

/* inih's handler: one key = value line of the current section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	const struct key *k = NULL;
	void *base = p->cfg;
	size_t i;

	p->nkeys++;
	if (p->rc != ESTKIT_OK || p->in_bad_section)
		return 1; /* already reported; the first error is the one shown */
	if (p->sect == NULL)
		return fail(p, ESTKIT_EPARSE, "key '%s' outside of a section", name);
	for (i = 0; i < p->sect->nkeys; i++)
		if (strcmp(p->sect->keys[i].name, name) == 0)
			k = &p->sect->keys[i];
	if (k == NULL && (p->sect->kind == K_LABEL || p->sect->kind == K_BACKEND) &&
	    estd_ext_conf_is_key(name))
		return set_ext(p, name, value);
	if (k == NULL)
		return fail(p, ESTKIT_EPARSE, "unknown key '%s' in [%s]", name, section);
	i = (size_t)(k - p->sect->keys);
	if (p->seen & (UINT32_C(1) << i))
		return fail(p, ESTKIT_EPARSE, "duplicate key '%s' in [%s]", name, section);
	p->seen |= UINT32_C(1) << i;
	if (p->sect->kind == K_PROFILE)
		base = &p->cfg->profiles[p->idx];
	else if (p->sect->kind == K_LABEL)
		base = &p->cfg->labels[p->idx];
	return set_value(p, k, base, value);
}

/* ---- sections -------------------------------------------------------------------- */

/* Fills a profile with the documented defaults. */
static int profile_defaults(struct estd_profile *pr, const char *name)
{
	memset(pr, 0, sizeof(*pr));
	pr->validity_days = 365;
	pr->copy_sans = 1;
	pr->name = estd_strdup(name);
	pr->key_usage = estd_strdup("digitalSignature, keyEncipherment");
	pr->ext_key_usage = estd_strdup("clientAuth");
	pr->allowed_keys = estd_strdup("ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519");
	return pr->name && pr->key_usage && pr->ext_key_usage && pr->allowed_keys;
}

static void profile_clear(struct estd_profile *pr)
{
	free(pr->name);
	free(pr->key_usage);
	free(pr->ext_key_usage);
	free(pr->crl_url);
	free(pr->allowed_keys);
	free(pr->allow_othername);
}

/* Appends [profile name] with defaults; its index in *idx. */
static int add_profile(struct parser *p, const char *name, size_t *idx)
{
	struct estd_config *cfg = p->cfg;
	struct estd_profile *np;

	if (estd_config_profile(cfg, name) != NULL)
		return fail(p, ESTKIT_EPARSE, "duplicate section [profile %s]", name);
	if (cfg->nprofiles >= MAX_NAMED)
		return fail(p, ESTKIT_ETOOBIG, "too many profiles (at most %d)", MAX_NAMED);
	np = realloc(cfg->profiles, (cfg->nprofiles + 1) * sizeof(*np));
	if (np == NULL)
		return oom(p);
	cfg->profiles = np;
	if (!profile_defaults(&np[cfg->nprofiles], name)) {
		profile_clear(&np[cfg->nprofiles]);
		return oom(p);
	}
	*idx = cfg->nprofiles++;
	return 1;
}

/* Appends [label name] ("" for [label]) using profile "default". */
static int add_label(struct parser *p, const char *name, size_t *idx)
{
	struct estd_config *cfg = p->cfg;
	struct estd_label *nl;
	int *lines;

	if (estd_config_label(cfg, name) != NULL)
		return fail(p, ESTKIT_EPARSE, "duplicate section [label%s%s]", *name ? " " : "", name);
	if (cfg->nlabels >= MAX_NAMED)
		return fail(p, ESTKIT_ETOOBIG, "too many labels (at most %d)", MAX_NAMED);
	lines = realloc(p->label_lines, (cfg->nlabels + 1) * sizeof(*lines));
	if (lines == NULL)
		return oom(p);
	p->label_lines = lines;
	nl = realloc(cfg->labels, (cfg->nlabels + 1) * sizeof(*nl));
	if (nl == NULL)
		return oom(p);
	cfg->labels = nl;
	memset(&nl[cfg->nlabels], 0, sizeof(*nl));
	nl[cfg->nlabels].name = estd_strdup(name);
	nl[cfg->nlabels].profile = estd_strdup(DEFAULT_PROFILE);
	nl[cfg->nlabels].serverkeygen_key = NULL;
	nl[cfg->nlabels].serverkeygen_kek = NULL;
	nl[cfg->nlabels].require_channel_binding = 0;
	nl[cfg->nlabels].approval_manual = 0;
	nl[cfg->nlabels].retry_after = 60;
	if (nl[cfg->nlabels].name == NULL || nl[cfg->nlabels].profile == NULL) {
		free(nl[cfg->nlabels].name);
		free(nl[cfg->nlabels].profile);
		return oom(p);
	}
	lines[cfg->nlabels] = p->lineno;
	*idx = cfg->nlabels++;
	p->any_label = 1;
	return 1;
}

/* Splits "type [name]" (already trimmed) and finds the section type. */
static const struct section_type *split_section(struct parser *p, char *text, const char **name)
{
	char *sp = text + strcspn(text, " \t");
	size_t i;

	*name = "";
	if (*sp != '\0') {
		*sp++ = '\0';
		sp += strspn(sp, " \t");
		*name = sp;
	}
	for (i = 0; i < NELEM(section_types); i++) {
		const struct section_type *t = &section_types[i];

		if (strcmp(t->name, text) != 0)
			continue;
		if (t->named == 0 && **name != '\0')
			break;
		if (t->named == 1 && **name == '\0') {
			fail(p, ESTKIT_EPARSE, "section [%s] needs a name: [%s NAME]", text, text);
			return NULL;
		}
		if (**name != '\0' && !estd_name_is_valid(*name)) {
			fail(p, ESTKIT_EPARSE,
			     "invalid name '%s' in [%s %s] (1-64 of A-Z a-z 0-9 . _ -, not first '.')",
			     *name, text, *name);
			return NULL;
		}
		return t;
	}
	fail(p, ESTKIT_EPARSE, "unknown section [%s%s%s]", text, **name ? " " : "", *name);
	return NULL;
}

/* A "[...]" line: text is what is between the brackets. */
static void begin_section(struct parser *p, const char *text, size_t len)
{
	char buf[256];
	const char *name = NULL;
	const struct section_type *t;
	size_t bit;

	p->sect = NULL;
	p->in_bad_section = 1;
	p->seen = 0;
	p->nkeys = 0;
	while (len > 0 && (*text == ' ' || *text == '\t'))
		text++, len--;
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len >= sizeof(buf)) {
		fail(p, ESTKIT_EPARSE, "section name too long");
		return;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	t = split_section(p, buf, &name);
	if (t == NULL)
		return;
	bit = (size_t)(t - section_types);
	if (t->kind == K_PROFILE) {
		if (!add_profile(p, name, &p->idx))
			return;
	} else if (t->kind == K_LABEL) {
		if (!add_label(p, name, &p->idx))
			return;
	} else if (p->singletons & (UINT32_C(1) << bit)) {
		fail(p, ESTKIT_EPARSE, "duplicate section [%s]", t->name);
		return;
	}
	p->singletons |= UINT32_C(1) << bit;
	p->sect = t;
	p->in_bad_section = 0;
}

/* Looks at a line before inih does: sections and continuation lines. */
static void observe_line(struct parser *p, const char *line)
{
	const char *s = line + strspn(line, " \t");
	const char *end;

	if (*s == '\0' || *s == '\r' || *s == '\n' || *s == ';' || *s == '#')
		return;
	/* inih would append an indented line to the previous value */
	if (s > line && p->nkeys > 0) {
		fail(p, ESTKIT_EPARSE, "indented line (continuation lines are not supported)");
		return;
	}
	if (*s != '[')
		return;
	end = strchr(s, ']');
	if (end != NULL)
		begin_section(p, s + 1, (size_t)(end - s - 1));
	/* no ']': inih reports the line as malformed */
}

/* inih's reader: one line per call, counted; too long a line is an error. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t n = getline(&p->line, &p->linecap, p->fp);
	size_t len;

	if (n < 0) {
		if (ferror(p->fp))
			fail(p, ESTKIT_EIO, "read error: %s", strerror(errno));
		return NULL;
	}
	p->lineno++;
	len = strlen(p->line);
	if (len != (size_t)n) {
		fail(p, ESTKIT_EPARSE, "NUL byte in line");
		len = 0;
	}
	while (len > 0 && (p->line[len - 1] == '\n' || p->line[len - 1] == '\r'))
		len--;
	/* inih needs room for "\r\n\0" after the text */
	if (len + 3 > (size_t)num) {
		fail(p, ESTKIT_EPARSE, "line too long (at most %d characters)", num - 3);
		len = 0;
	}
	memcpy(str, p->line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	/* inih skips a UTF-8 byte order mark at the start of the file too */
	if (p->lineno == 1 && strncmp(str, "\xef\xbb\xbf", 3) == 0)
		observe_line(p, str + 3);
	else
		observe_line(p, str);
	return str;
}

/* ---- load and validate ---------------------------------------------------------- */

static int config_defaults(struct estd_config *cfg)
{
	cfg->listen = estd_strdup("127.0.0.1:8443");
	cfg->io_threads = 0;
	cfg->job_threads = 0;
	cfg->job_queue = 1024;
	cfg->max_body = 65536;
	cfg->max_headers = 16384;
	cfg->max_connections = 4096;
	cfg->max_connections_per_address = 64;
	cfg->timeout = 30;
	cfg->log_level = estd_strdup("info");
	cfg->store_path = estd_path_join(cfg->dir, "estd.db");
	cfg->users_file = estd_path_join(cfg->dir, "users");
	cfg->realm = estd_strdup("estkit");
	cfg->reenroll_requires_cert = 1;
	cfg->ca_switch_at = -1;
	cfg->ca_signer_timeout = 10;
	cfg->auth_methods = ESTKIT_AUTH_BASIC | ESTKIT_AUTH_DIGEST;
	cfg->digest_secret_file = estd_path_join(cfg->dir, "digest.key");
	cfg->digest_nonce_lifetime = 300;
	cfg->digest_nonce_table = 4096;
	cfg->auth_fail_limit = 10;
	cfg->auth_fail_window = 60;
	cfg->auth_fail_lockout = 300;
	cfg->auth_fail_table = 4096;
	cfg->auth_fail_delay = 250;
	cfg->max_sans = 256;
	cfg->max_subject = 2048;
	cfg->implicit_ca_enabled = -1;
	cfg->store_connections = 8;
	cfg->store_pool_wait = 10;
	return cfg->listen && cfg->log_level && cfg->store_path && cfg->users_file && cfg->realm &&
	       cfg->digest_secret_file;
}

/* [ca] rollover keys: next_cert and next_key together; the others only with them. */
static int validate_rollover(struct parser *p)
{
	const struct estd_config *cfg = p->cfg;

	if ((cfg->ca_next_cert == NULL) != (cfg->ca_next_key == NULL))
		return fail(p, ESTKIT_EINVAL, "[ca] next_cert and next_key go together");
	if (cfg->ca_next_cert == NULL && (cfg->ca_link_certs != NULL || cfg->ca_switch_at >= 0))
		return fail(p, ESTKIT_EINVAL, "[ca] link_certs and switch_at need next_cert");
	if (cfg->ca_next_cert != NULL && cfg->ca_link_certs == NULL)
		return fail(p, ESTKIT_EINVAL, "[ca] next_cert needs link_certs (RFC 7030 4.1.3)");
	return 1;
}

/* [auth] explicit_ca is the RFC 7030 3.6 name of client_ca: one value for both. */
static int validate_trust(struct parser *p)
{
	struct estd_config *cfg = p->cfg;

	if (cfg->explicit_ca == NULL)
		return 1;
	if (cfg->client_ca != NULL && strcmp(cfg->client_ca, cfg->explicit_ca) != 0)
		return fail(p, ESTKIT_EINVAL,
			    "[auth] explicit_ca and client_ca are one setting: give one of them");
	free(cfg->client_ca);
	cfg->client_ca = cfg->explicit_ca;
	cfg->explicit_ca = NULL;
	return 1;
}

/* Whole-file rules: required keys, implicit default profile/label, references. */
static void validate(struct parser *p)
{
	struct estd_config *cfg = p->cfg;
	size_t i, idx;

	p->lineno = 0;
	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		fail(p, ESTKIT_EINVAL, "[server] %s is required",
		     cfg->tls_cert == NULL ? "tls_cert" : "tls_key");
		return;
	}
	if (cfg->ca_cert == NULL || cfg->ca_key == NULL) {
		fail(p, ESTKIT_EINVAL, "[ca] %s is required", cfg->ca_cert == NULL ? "cert" : "key");
		return;
	}
	if (!validate_rollover(p) || !validate_trust(p))
		return;
	if (estd_config_profile(cfg, DEFAULT_PROFILE) == NULL &&
	    !add_profile(p, DEFAULT_PROFILE, &idx))
		return;
	if (!p->any_label && !add_label(p, "", &idx))
		return;
	for (i = 0; i < cfg->nlabels; i++) {
		if (estd_config_profile(cfg, cfg->labels[i].profile) != NULL)
			continue;
		p->lineno = p->label_lines[i];
		fail(p, ESTKIT_EINVAL, "label '%s': no section [profile %s]",
		     cfg->labels[i].name[0] ? cfg->labels[i].name : "(default)",
		     cfg->labels[i].profile);
		return;
	}
	for (i = 0; i < cfg->nlabels; i++) {
		char msg[512];

		if (estd_ext_conf_finish(&cfg->labels[i].ext, cfg->ext_default, msg, sizeof(msg)))
			continue;
		p->lineno = p->label_lines[i];
		fail(p, ESTKIT_EINVAL, "label '%s': %s",
		     cfg->labels[i].name[0] ? cfg->labels[i].name : "(default)", msg);
		return;
	}
	for (i = 0; i < cfg->nlabels; i++) {
		char msg[512];

		if (cfg->labels[i].cmc_require_identity_proof &&
		    cfg->labels[i].cmc_identity_secret_file == NULL) {
			p->lineno = p->label_lines[i];
			fail(p, ESTKIT_EINVAL,
			     "label '%s': cmc_require_identity_proof needs cmc_identity_secret_file",
			     cfg->labels[i].name[0] ? cfg->labels[i].name : "(default)");
			return;
		}
		if (estd_csrattrs_conf_build(&cfg->labels[i], msg, sizeof(msg)))
			continue;
		p->lineno = p->label_lines[i];
		fail(p, ESTKIT_EINVAL, "label '%s': %s",
		     cfg->labels[i].name[0] ? cfg->labels[i].name : "(default)", msg);
		return;
	}
}

/* Opens path, checks it is a regular file of sane size, sets cfg->path/dir. */
static int open_file(struct parser *p, const char *path)
{
	struct stat st;
	const char *base = strrchr(path, '/');

	p->fp = fopen(path, "re");
	if (p->fp == NULL)
		return fail(p, ESTKIT_EIO, "cannot open: %s", strerror(errno));
	if (fstat(fileno(p->fp), &st) != 0 || !S_ISREG(st.st_mode))
		return fail(p, ESTKIT_EIO, "not a regular file");
	if (st.st_size > MAX_FILE_SIZE)
		return fail(p, ESTKIT_EPARSE, "file too large (at most %d bytes)", MAX_FILE_SIZE);
	p->cfg->dir = estd_path_dirname_abs(path);
	if (p->cfg->dir == NULL)
		return fail(p, ESTKIT_EIO, "cannot resolve directory: %s", strerror(errno));
	p->cfg->path = estd_path_join(p->cfg->dir, base != NULL ? base + 1 : path);
	if (p->cfg->path == NULL || !config_defaults(p->cfg))
		return oom(p);
	return 1;
}

/* Loads and validates path; see config.h. */
enum estkit_status estd_config_load(const char *path, struct estd_config **out, char **err)
{
	struct parser p;
	int r;

	memset(&p, 0, sizeof(p));
	if (out != NULL)
		*out = NULL;
	if (err != NULL)
		*err = NULL;
	if (path == NULL || out == NULL)
		return ESTKIT_EINVAL;
	p.file = path;
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (p.cfg == NULL)
		return ESTKIT_ENOMEM;
	if (!open_file(&p, path))
		goto out;
	r = ini_parse_stream(read_line, &p, on_key, &p);
	if (p.rc == ESTKIT_OK && r == -2)
		oom(&p);
	else if (p.rc == ESTKIT_OK && r != 0) {
		p.lineno = r;
		fail(&p, ESTKIT_EPARSE, "syntax error (expected [section] or key = value)");
	}
	if (p.rc == ESTKIT_OK)
		validate(&p);
out:
	if (p.fp != NULL)
		fclose(p.fp);
	free(p.line);
	free(p.label_lines);
	if (p.rc != ESTKIT_OK) {
		estd_config_free(p.cfg);
		if (err != NULL)
			*err = p.err;
		else
			free(p.err);
		return p.rc;
	}
	*out = p.cfg;
	return ESTKIT_OK;
}

/* Frees cfg and everything in it; NULL is a no-op. */
void estd_config_free(struct estd_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_key_pin_file);
	free(cfg->log_level);
	free(cfg->ca_cert);
	free(cfg->ca_key);
	free(cfg->ca_chain);
	free(cfg->ca_next_cert);
	free(cfg->ca_next_key);
	free(cfg->ca_link_certs);
	free(cfg->ca_key_pin_file);
	free(cfg->ca_pkcs11_module);
	free(cfg->store_path);
	free(cfg->users_file);
	free(cfg->realm);
	free(cfg->client_ca);
	free(cfg->implicit_ca);
	free(cfg->explicit_ca);
	free(cfg->srp_verifier_file);
	free(cfg->digest_secret_file);
	free(cfg->revokers);
	free(cfg->ra_certs);
	for (i = 0; i < cfg->nprofiles; i++)
		profile_clear(&cfg->profiles[i]);
	free(cfg->profiles);
	for (i = 0; i < cfg->nlabels; i++) {
		free(cfg->labels[i].name);
		free(cfg->labels[i].profile);
		estd_csrattrs_conf_clear(&cfg->labels[i]);
		free(cfg->labels[i].serverkeygen_key);
		free(cfg->labels[i].serverkeygen_kek);
		free(cfg->labels[i].cmc_identity_secret_file);
		estd_ext_conf_free(cfg->labels[i].ext);
		estd_policy_free(cfg->labels[i].policy);
	}
	estd_ext_conf_free(cfg->ext_default);
	free(cfg->labels);
	free(cfg);
}

/* The label called name ("" = default); borrowed. */
const struct estd_label *estd_config_label(const struct estd_config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nlabels; i++)
		if (strcmp(cfg->labels[i].name, name) == 0)
			return &cfg->labels[i];
	return NULL;
}

/* The profile called name; borrowed. */
const struct estd_profile *estd_config_profile(const struct estd_config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nprofiles; i++)
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}
