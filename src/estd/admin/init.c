/*
 * init.c - `estd init`: creates (or imports) the CA, issues the server's TLS
 * certificate through the same issuance code as any enrollment, writes a
 * commented estd.conf with every setting, an empty users file and the store.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <estkit/pki.h>

#include "admin/init.h"
#include "backend/record.h"
#include "ca/issue.h"
#include "ca/profile.h"
#include "ca/signer.h"
#include "config.h"
#include "digest_key.h"
#include "ca/signer_pkcs11.h"
#include "store/store.h"
#include "util.h"

#define MAX_HOSTNAMES 64

/* What init builds before anything is written. */
struct init_state {
	EVP_PKEY *ca_key, *tls_key;
	X509 *ca_cert, *tls_cert;
	STACK_OF(X509) *chain;           /* certificates after the CA in an imported file */
	struct estd_ca *ca;
	X509_REQ *tls_csr;
	int ca_on_token;                 /* the CA key is a pkcs11: URI: no ca.key file */
};

static enum estkit_status errout(char **err, enum estkit_status rc, char *msg)
{
	if (err != NULL)
		*err = msg;
	else
		free(msg);
	return rc;
}

/* A DNS name (optionally "*." first) or an IP literal, as a SAN string "DNS:x"/"IP:x". */
static char *san_for(const char *host)
{
	unsigned char buf[16];
	const char *p;

	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1)
		return estd_strfmt("IP:%s", host);
	if (*host == '\0' || strlen(host) > 253)
		return NULL;
	p = strncmp(host, "*.", 2) == 0 ? host + 2 : host;
	if (*p == '\0' || *p == '.' || *p == '-')
		return NULL;
	for (; *p != '\0'; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", *p) ==
		    NULL)
			return NULL;
	return estd_strfmt("DNS:%s", host);
}

/* HOST:PORT or [V6]:PORT, port 0..65535 (0: any free port), nothing that could break the file. */
static int listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	long long port;

	if (colon == NULL || colon == v || strlen(v) > 300)
		return 0;
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") !=
	    strlen(v))
		return 0;
	return estd_parse_ll(colon + 1, 0, 65535, &port) == 0;
}

static enum estkit_status check_opts(const struct estd_init_opts *o, char **err)
{
	size_t i;

	if (o->dir == NULL || *o->dir == '\0')
		return errout(err, ESTKIT_EINVAL, estd_strfmt("--dir is required"));
	if (o->ca_cert != NULL && o->ca_key == NULL)
		return errout(err, ESTKIT_EINVAL,
			      estd_strfmt("--ca-cert and --ca-key go together"));
	if (o->ca_key != NULL && o->ca_cert == NULL && !estd_signer_is_pkcs11(o->ca_key))
		return errout(err, ESTKIT_EINVAL,
			      estd_strfmt("--ca-key FILE needs --ca-cert (only a pkcs11: key "
					  "gets a new CA certificate)"));
	if ((o->ca_key_pin_file != NULL || o->pkcs11_module != NULL) &&
	    !estd_signer_is_pkcs11(o->ca_key))
		return errout(err, ESTKIT_EINVAL,
			      estd_strfmt("--ca-key-pin-file and --pkcs11-module need --ca-key "
					  "pkcs11:URI"));
	if (o->ca_days < 0 || o->ca_days > 36500)
		return errout(err, ESTKIT_EINVAL,
			      estd_strfmt("--ca-days must be between 1 and 36500"));
	if (o->listen != NULL && !listen_ok(o->listen))
		return errout(err, ESTKIT_EINVAL,
			      estd_strfmt("--listen '%s' is not HOST:PORT or [V6]:PORT", o->listen));
	if (o->nhostnames > MAX_HOSTNAMES)
		return errout(err, ESTKIT_EINVAL, estd_strfmt("too many --hostname options"));
	for (i = 0; i < o->nhostnames; i++) {
		char *san = san_for(o->hostnames[i]);

		if (san == NULL)
			return errout(err, ESTKIT_EINVAL,
				      estd_strfmt("--hostname '%s' is not a DNS name or IP address",
						  o->hostnames[i]));
		free(san);
	}
	return ESTKIT_OK;
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* Creates dir (0700), or accepts an empty one, or with force clears what init would own. */
static enum estkit_status prepare_dir(const struct estd_init_opts *o, char **err)
{
	static const char *const stale[] = { "estd.db", "estd.db-wal", "estd.db-shm",
					     "chain.pem" };
	struct stat st;
	size_t i;

	if (mkdir(o->dir, 0700) == 0)
		return ESTKIT_OK;
	if (errno != EEXIST)
		return errout(err, ESTKIT_EIO, estd_strfmt("cannot create %s: %s", o->dir,
							    strerror(errno)));
	if (stat(o->dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return errout(err, ESTKIT_EIO, estd_strfmt("%s exists and is not a directory",
							    o->dir));
	if (dir_is_empty(o->dir))
		return ESTKIT_OK;
	if (!o->force)
		return errout(err, ESTKIT_EEXIST,
			      estd_strfmt("%s is not empty (use --force to overwrite it)", o->dir));
	/* A new CA starts a new record: the old store and chain must not linger. */
	for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		char *p = estd_path_join(o->dir, stale[i]);

		if (p == NULL || (unlink(p) != 0 && errno != ENOENT)) {
			char *m = estd_strfmt("cannot remove %s: %s", p ? p : stale[i],
					      strerror(errno));

			free(p);
			return errout(err, ESTKIT_EIO, m);
		}
		free(p);
	}
	return ESTKIT_OK;
}

/* The self-signed root: RFC 5280 4.2.1.9 / 4.2.1.3 constraints for a CA. */
static enum estkit_status make_root(struct estd_signer *signer, const char *subject, int days,
				    X509 **out, char **err)
{
	X509_NAME *name = NULL;
	EVP_PKEY *pub = NULL;
	X509 *x = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *bc = NULL, *ku = NULL;
	enum estkit_status rc;

	rc = estkit_name_parse(subject, &name);
	if (rc != ESTKIT_OK)
		return errout(err, ESTKIT_EINVAL, estd_strfmt("--ca-subject '%s': %s", subject,
							       estkit_strerror(rc)));
	rc = ESTKIT_ECRYPTO;
	if ((x = X509_new()) == NULL || estd_signer_public_key(signer, &pub) != ESTKIT_OK ||
	    X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pub) != 1 ||
	    estd_cert_set_random_serial(x) != ESTKIT_OK ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (bc == NULL || ku == NULL || X509_add_ext(x, bc, -1) != 1 || X509_add_ext(x, ku, -1) != 1 ||
	    estd_cert_add_key_ids(x, x) != ESTKIT_OK || estd_signer_sign_cert(signer, x) != ESTKIT_OK)
		goto out;
	*out = X509_dup(x); /* fresh decode: no extension cache from the build */
	rc = *out != NULL ? ESTKIT_OK : ESTKIT_ENOMEM;
out:
	if (rc != ESTKIT_OK && err != NULL && *err == NULL)
		*err = estd_strfmt("cannot create the CA certificate");
	X509_EXTENSION_free(bc);
	X509_EXTENSION_free(ku);
	EVP_PKEY_free(pub);
	X509_NAME_free(name);
	X509_free(x);
	return rc;
}

/* --ca-key pkcs11:URI: the token's key (it stays there; s->ca_key only refers to it). */
static enum estkit_status token_key(const struct estd_init_opts *o, struct init_state *s,
				    char **err)
{
	char *perr = NULL;
	enum estkit_status rc;

	rc = estd_signer_pkcs11_load(o->ca_key, o->pkcs11_module, o->ca_key_pin_file, &s->ca_key,
				     &perr);
	if (rc != ESTKIT_OK)
		return errout(err, rc, perr != NULL ? perr : estd_strfmt("cannot open %s", o->ca_key));
	s->ca_on_token = 1;
	return ESTKIT_OK;
}

static enum estkit_status create_ca(const struct estd_init_opts *o, struct init_state *s,
				    char **err)
{
	struct estd_signer *signer = NULL;
	const char *spec = o->key_type != NULL ? o->key_type : ESTD_INIT_DEFAULT_KEY;
	enum estkit_status rc;

	if (o->ca_key != NULL) {
		rc = token_key(o, s, err);
		if (rc != ESTKIT_OK)
			return rc;
	} else {
		rc = estkit_key_generate(spec, &s->ca_key);
		if (rc != ESTKIT_OK)
			return errout(err, ESTKIT_EINVAL, estd_strfmt("--key-type '%s': %s", spec,
								       estkit_strerror(rc)));
	}
	rc = estd_signer_new(s->ca_key, &signer);
	if (rc == ESTKIT_OK)
		rc = make_root(signer, o->ca_subject != NULL ? o->ca_subject
							      : ESTD_INIT_DEFAULT_SUBJECT,
			       o->ca_days > 0 ? o->ca_days : ESTD_INIT_DEFAULT_DAYS, &s->ca_cert,
			       err);
	if (rc == ESTKIT_OK)
		rc = estd_ca_new(s->ca_cert, signer, &s->ca);
	if (rc == ESTKIT_OK)
		return ESTKIT_OK;
	estd_signer_free(signer);
	if (err != NULL && *err == NULL)
		*err = estd_strfmt("cannot create the CA: %s", estkit_strerror(rc));
	return rc;
}

/* --ca-cert/--ca-key: an existing CA; the file may carry its chain after it. */
static enum estkit_status import_ca(const struct estd_init_opts *o, struct init_state *s,
				    char **err)
{
	struct estd_signer *signer = NULL;
	STACK_OF(X509) *certs = NULL;
	enum estkit_status rc;

	rc = estkit_certs_load(o->ca_cert, &certs);
	if (rc != ESTKIT_OK)
		return errout(err, rc, estd_strfmt("cannot read CA certificate %s: %s", o->ca_cert,
						    estkit_strerror(rc)));
	s->ca_cert = sk_X509_shift(certs);
	s->chain = certs;
	if (estd_signer_is_pkcs11(o->ca_key))
		rc = token_key(o, s, err);
	else if ((rc = estkit_key_load(o->ca_key, &s->ca_key)) != ESTKIT_OK)
		return errout(err, rc, estd_strfmt("cannot read CA key %s: %s", o->ca_key,
						    estkit_strerror(rc)));
	if (rc != ESTKIT_OK)
		return rc;
	if (X509_check_ca(s->ca_cert) == 0)
		return errout(err, ESTKIT_EPOLICY,
			      estd_strfmt("%s is not a CA certificate", o->ca_cert));
	if (X509_cmp_time(X509_get0_notAfter(s->ca_cert), NULL) <= 0)
		return errout(err, ESTKIT_EPOLICY,
			      estd_strfmt("CA certificate %s has expired", o->ca_cert));
	rc = estd_signer_new(s->ca_key, &signer);
	if (rc != ESTKIT_OK)
		return errout(err, rc, estd_strfmt("CA key %s: unsupported key type", o->ca_key));
	rc = estd_ca_new(s->ca_cert, signer, &s->ca);
	if (rc != ESTKIT_OK) {
		estd_signer_free(signer);
		return errout(err, rc, estd_strfmt("CA key %s does not match CA certificate %s",
						    o->ca_key, o->ca_cert));
	}
	return ESTKIT_OK;
}

/* The SAN list: localhost, 127.0.0.1, then every --hostname not already there. */
static size_t tls_sans(const struct estd_init_opts *o, char **sans)
{
	size_t n = 0, i, j;

	sans[n++] = estd_strdup("DNS:localhost");
	sans[n++] = estd_strdup("IP:127.0.0.1");
	for (i = 0; i < o->nhostnames; i++) {
		char *san = san_for(o->hostnames[i]);
		int dup = 0;

		for (j = 0; san != NULL && j < n; j++)
			dup |= sans[j] != NULL && strcmp(sans[j], san) == 0;
		if (dup)
			free(san);
		else
			sans[n++] = san;
	}
	return n;
}

/*
 * The server certificate, issued by the new CA through estd_ca_issue() with a
 * serverAuth profile, so it is built exactly like an enrolled certificate.
 */
static enum estkit_status make_tls(const struct estd_init_opts *o, struct init_state *s,
				   char **err)
{
	struct estd_profile src = { (char *)"tls", ESTD_INIT_TLS_DAYS,
				    (char *)"digitalSignature, keyEncipherment",
				    (char *)"serverAuth",
				    (char *)"ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519, ed448", 1, NULL, 0, NULL, 0 };
	struct estd_ca_profile *prof = NULL;
	char *sans[MAX_HOSTNAMES + 2] = { NULL };
	char *subject = NULL;
	char reason[256] = "";
	size_t n, i;
	enum estkit_status rc;

	rc = estkit_key_generate(o->key_type != NULL ? o->key_type : ESTD_INIT_DEFAULT_KEY,
				 &s->tls_key);
	if (rc != ESTKIT_OK)
		return errout(err, rc, estd_strfmt("cannot generate the TLS key: %s",
						    estkit_strerror(rc)));
	n = tls_sans(o, sans);
	subject = estd_strfmt("/CN=%s", o->nhostnames > 0 ? o->hostnames[0] : "localhost");
	rc = ESTKIT_ENOMEM;
	if (subject != NULL)
		rc = estkit_csr_new(s->tls_key, subject, (const char *const *)sans, n, NULL,
				    &s->tls_csr);
	if (rc == ESTKIT_OK)
		rc = estd_profile_parse(&src, &prof, reason, sizeof(reason));
	if (rc == ESTKIT_OK)
		rc = estd_ca_issue(s->ca, prof, s->tls_csr, &s->tls_cert, reason, sizeof(reason));
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("cannot issue the TLS certificate: %s",
				   reason[0] ? reason : estkit_strerror(rc));
	estd_profile_free(prof);
	for (i = 0; i < n; i++)
		free(sans[i]);
	free(subject);
	return rc;
}

/* [ca] key (and for a token its PIN file and module); absolute paths: the file moves nowhere. */
static char *ca_key_lines(const struct estd_init_opts *o)
{
	char *pin = NULL, *mod = NULL, *out;

	if (o->ca_key == NULL || !estd_signer_is_pkcs11(o->ca_key))
		return estd_strfmt("key = ca.key\n");
	if (o->ca_key_pin_file != NULL && (pin = realpath(o->ca_key_pin_file, NULL)) == NULL)
		return NULL;
	if (o->pkcs11_module != NULL && (mod = realpath(o->pkcs11_module, NULL)) == NULL) {
		free(pin);
		return NULL;
	}
	out = estd_strfmt("# a key on a PKCS#11 token (RFC 7512 URI): it never leaves the token\n"
			  "key = %s\nkey_pin_file = %s\npkcs11_module = %s\n",
			  o->ca_key, pin != NULL ? pin : "", mod != NULL ? mod : "");
	free(pin);
	free(mod);
	return out;
}

/* estd.conf: every setting with its default, so the file documents itself. */
static char *config_text(const struct estd_init_opts *o, int has_chain)
{
	char *key = ca_key_lines(o), *text;

	if (key == NULL)
		return NULL;
	text = estd_strfmt(
		"# estd.conf - written by `estd init`; see estd.conf(5) and estd(8).\n"
		"# Relative paths are relative to the directory of this file.\n"
		"# `kill -HUP` reloads labels, profiles, users and log_level; other\n"
		"# settings need a restart.\n"
		"\n[server]\n"
		"# HOST:PORT or [V6]:PORT\nlisten = %s\n"
		"# server certificate (then its chain) and key\ntls_cert = tls.pem\ntls_key = tls.key\n"
		"# event-loop threads, 0 = one per core\nio_threads = 0\n"
		"# backend threads (signing, store), 0 = 2 x cores\njob_threads = 0\n"
		"# queued jobs before answering 503 + Retry-After\njob_queue = 1024\n"
		"# request body limit in bytes (413 above)\nmax_body = 65536\n"
		"# request header limit in bytes\nmax_headers = 16384\n"
		"max_connections = 4096\n"
		"# connections one IPv4 address or IPv6 /64 may hold, 0 = no limit\n"
		"max_connections_per_address = 64\n"
		"# seconds for reads, writes and idle connections\ntimeout = 30\n"
		"# error | warn | info | debug\nlog_level = info\n"
		"\n[ca]\n"
		"# the CA certificate (the clients' trust anchor) and its key (0600)\n"
		"cert = ca.pem\n%s"
		"# optional: intermediates up to the root, sent in /cacerts after the CA\n"
		"chain = %s\n"
		"# sign in a separate process that alone holds the key (process) or in estd (inline)\n"
		"signer = process\n"
		"# signer worker processes (0 = one per CPU, at most 8); seconds per signature\n"
		"signer_workers = 0\nsigner_timeout = 10\n"
		"\n[store]\n# SQLite database of every issued certificate\npath = estd.db\n"
		"\n[auth]\n"
		"# HTTP users (Basic and Digest): manage with `estd user`\nusers = users\n"
		"# changing the realm invalidates the Digest HA1 values: set passwords again\n"
		"realm = estkit\n"
		"# HTTP authentication offered: basic (RFC 7617), digest (RFC 7616, SHA-256, MD5)\n"
		"methods = basic, digest\n"
		"# Digest nonce key (32 random bytes, 0600); nodes sharing it accept each\n"
		"# other's nonces. Created at start when missing.\n"
		"digest_secret_file = digest.key\n"
		"# seconds a Digest nonce is valid; nonce-counts remembered against replay\n"
		"digest_nonce_lifetime = 300\n"
		"digest_nonce_table = 4096\n"
		"# more trust anchors for TLS client certificates (this CA always is one)\n"
		"client_ca =\n"
		"# RFC 7030 4.2.2: /simplereenroll needs the certificate being renewed\n"
		"reenroll_requires_cert = yes\n"
		"\n# What issued certificates look like. rsa:N means at least N bits.\n"
		"[profile default]\n"
		"validity_days = 365\n"
		"key_usage = digitalSignature, keyEncipherment\n"
		"extended_key_usage = clientAuth\n"
		"allowed_keys = ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519\n"
		"copy_sans = yes\n"
		"\n# The default label: https://HOST:PORT/.well-known/est/<operation>\n"
		"[label]\nprofile = default\n"
		"\n# A named label: /.well-known/est/routers/<operation>\n"
		"# [label routers]\n# profile = default\n",
		o->listen != NULL ? o->listen : ESTD_INIT_DEFAULT_LISTEN, key,
		has_chain ? "chain.pem" : "");
	free(key);
	return text;
}

static enum estkit_status write_file(const char *dir, const char *name, const char *text,
				     mode_t mode, char **err)
{
	char *path = estd_path_join(dir, name);
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (path != NULL && text != NULL)
		rc = estkit_file_write_atomic(path, text, strlen(text), mode);
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("cannot write %s: %s", path ? path : name, estkit_strerror(rc));
	free(path);
	return rc;
}

/* A fresh HTTP Digest nonce key (see digest_key.h). */
static enum estkit_status write_digest_key(const char *dir, char **err)
{
	unsigned char key[ESTD_DIGEST_KEY_LEN];
	char *path = estd_path_join(dir, "digest.key");
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (path != NULL)
		rc = RAND_bytes(key, sizeof(key)) == 1
			     ? estkit_file_write_atomic(path, key, sizeof(key), 0600)
			     : ESTKIT_ECRYPTO;
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("cannot write %s: %s", path ? path : "digest.key",
				   estkit_strerror(rc));
	OPENSSL_cleanse(key, sizeof(key));
	free(path);
	return rc;
}

/* The key and certificate files. */
static enum estkit_status write_pki(const char *dir, struct init_state *s, char **err)
{
	STACK_OF(X509) *tls = sk_X509_new_null();
	enum estkit_status rc = ESTKIT_ENOMEM;
	const char *what = "tls.pem";
	char *p[5] = { estd_path_join(dir, "ca.key"), estd_path_join(dir, "ca.pem"),
		       estd_path_join(dir, "tls.key"), estd_path_join(dir, "tls.pem"),
		       estd_path_join(dir, "chain.pem") };
	int i;

	if (tls == NULL || p[0] == NULL || p[1] == NULL || p[2] == NULL || p[3] == NULL ||
	    p[4] == NULL || !sk_X509_push(tls, s->tls_cert) || !sk_X509_push(tls, s->ca_cert))
		goto out;
	/* The TLS chain is leaf then CA, so clients can build the path (RFC 8446 4.4.2). */
	if (!s->ca_on_token && (rc = estkit_key_save(p[0], s->ca_key)) != ESTKIT_OK) {
		what = "ca.key";
	} else if ((rc = estkit_cert_save(p[1], s->ca_cert)) != ESTKIT_OK) {
		what = "ca.pem";
	} else if ((rc = estkit_key_save(p[2], s->tls_key)) != ESTKIT_OK) {
		what = "tls.key";
	} else if ((rc = estkit_certs_save(p[3], tls)) == ESTKIT_OK &&
		   sk_X509_num(s->chain) > 0) {
		what = "chain.pem";
		rc = estkit_certs_save(p[4], s->chain);
	}
out:
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("cannot write %s in %s: %s", what, dir, estkit_strerror(rc));
	sk_X509_free(tls); /* borrowed certificates */
	for (i = 0; i < 5; i++)
		free(p[i]);
	return rc;
}

/* Creates the store and records the TLS certificate: the store knows every certificate. */
static enum estkit_status write_store(const char *dir, struct init_state *s, char **err)
{
	struct estd_store *st = NULL;
	struct estd_cert_record rec;
	char *path = estd_path_join(dir, "estd.db");
	char *serr = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	memset(&rec, 0, sizeof(rec));
	if (path == NULL)
		goto out;
	rc = estd_store_open(path, &st, &serr);
	if (rc != ESTKIT_OK) {
		if (err != NULL)
			*err = estd_strfmt("cannot create the store: %s",
					   serr ? serr : estkit_strerror(rc));
		goto out;
	}
	rc = estd_record_build(s->tls_csr, s->tls_cert, "local:estd init", "", "init", &rec);
	if (rc == ESTKIT_OK)
		rc = estd_store_cert_insert(st, &rec);
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("cannot record the TLS certificate in %s: %s", path,
				   estd_store_errmsg(st));
out:
	estd_record_clear(&rec);
	estd_store_close(st);
	free(serr);
	free(path);
	return rc;
}

static void print_summary(FILE *out, const struct estd_init_opts *o, struct init_state *s)
{
	char fp[65] = "?", until[ESTD_TIME_BUFLEN] = "?";
	char *subject = NULL, *sans = NULL;
	struct tm tm;
	int i;

	if (out == NULL)
		return;
	if (estkit_cert_fingerprint(s->ca_cert, fp) != ESTKIT_OK)
		snprintf(fp, sizeof(fp), "?");
	if (estkit_name_oneline(X509_get_subject_name(s->ca_cert), &subject) != ESTKIT_OK)
		subject = NULL;
	if (estkit_cert_sans(s->tls_cert, &sans) != ESTKIT_OK)
		sans = NULL;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(s->ca_cert), &tm) == 1)
		estd_fmt_time((long long)timegm(&tm), ' ', until, sizeof(until));
	fprintf(out, "estd init: created %s\n", o->dir);
	if (s->ca_on_token)
		fprintf(out, "  (no ca.key: the CA key stays on the token, %s)\n", o->ca_key);
	else
		fprintf(out, "  ca.key     CA private key (mode 0600)\n");
	fprintf(out, "  ca.pem     CA certificate %s%s, valid until %s UTC\n",
		subject ? subject : "?", o->ca_cert ? " (imported)" : "", until);
	if (sk_X509_num(s->chain) > 0)
		fprintf(out, "  chain.pem  %d chain certificate(s) from %s\n", sk_X509_num(s->chain),
			o->ca_cert);
	fprintf(out, "  tls.key    TLS server key (mode 0600)\n");
	fprintf(out, "  tls.pem    TLS server certificate for %s, then the CA\n", sans ? sans : "?");
	fprintf(out, "  estd.conf  configuration, listening on %s\n",
		o->listen ? o->listen : ESTD_INIT_DEFAULT_LISTEN);
	fprintf(out, "  users      HTTP Basic/Digest users (none yet, mode 0600)\n");
	fprintf(out, "  digest.key HTTP Digest nonce key (mode 0600)\n");
	fprintf(out, "  estd.db    certificate store\n\n");
	fprintf(out, "CA fingerprint (SHA-256): ");
	for (i = 0; i < 64; i += 2)
		fprintf(out, "%.2s%s", fp + i, i < 62 ? ":" : "\n");
	fprintf(out, "\nNext steps:\n"
		     "  estd user add -c %s/estd.conf NAME     # an account for Basic auth\n"
		     "  estd run -c %s/estd.conf               # start the server\n",
		o->dir, o->dir);
	estkit_free(subject);
	estkit_free(sans);
}

static void state_free(struct init_state *s)
{
	estd_ca_free(s->ca);
	EVP_PKEY_free(s->ca_key);
	EVP_PKEY_free(s->tls_key);
	X509_free(s->ca_cert);
	X509_free(s->tls_cert);
	X509_REQ_free(s->tls_csr);
	sk_X509_pop_free(s->chain, X509_free);
}

/* The written estd.conf must load: what init makes, run accepts. */
static enum estkit_status self_check(const char *dir, char **err)
{
	struct estd_config *cfg = NULL;
	char *path = estd_path_join(dir, "estd.conf");
	char *cerr = NULL;
	enum estkit_status rc = ESTKIT_ENOMEM;

	if (path != NULL)
		rc = estd_config_load(path, &cfg, &cerr);
	if (rc != ESTKIT_OK && err != NULL)
		*err = estd_strfmt("the written configuration does not load: %s",
				   cerr ? cerr : estkit_strerror(rc));
	estd_config_free(cfg);
	free(cerr);
	free(path);
	return rc;
}

enum estkit_status estd_init(const struct estd_init_opts *o, FILE *out, char **err)
{
	struct init_state s;
	char *conf = NULL;
	enum estkit_status rc;

	memset(&s, 0, sizeof(s));
	if (err != NULL)
		*err = NULL;
	if (o == NULL)
		return ESTKIT_EINVAL;
	rc = check_opts(o, err);
	if (rc == ESTKIT_OK)
		rc = o->ca_cert != NULL ? import_ca(o, &s, err) : create_ca(o, &s, err);
	if (rc == ESTKIT_OK)
		rc = make_tls(o, &s, err);
	/* Only touch the directory once everything is built. */
	if (rc == ESTKIT_OK)
		rc = prepare_dir(o, err);
	if (rc == ESTKIT_OK)
		rc = write_pki(o->dir, &s, err);
	if (rc == ESTKIT_OK) {
		conf = config_text(o, sk_X509_num(s.chain) > 0);
		rc = conf != NULL ? write_file(o->dir, "estd.conf", conf, 0644, err)
				  : errout(err, ESTKIT_EIO,
					   estd_strfmt("cannot resolve --ca-key-pin-file or "
						       "--pkcs11-module"));
	}
	if (rc == ESTKIT_OK)
		rc = write_file(o->dir, "users", "", 0600, err);
	if (rc == ESTKIT_OK)
		rc = write_digest_key(o->dir, err);
	if (rc == ESTKIT_OK)
		rc = write_store(o->dir, &s, err);
	if (rc == ESTKIT_OK)
		rc = self_check(o->dir, err);
	if (rc == ESTKIT_OK)
		print_summary(out, o, &s);
	free(conf);
	state_free(&s);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: estd init --dir DIR [--key-type SPEC] [--hostname NAME]...\n"
		   "                 [--listen HOST:PORT] [--ca-subject SUBJECT] [--ca-days N]\n"
		   "                 [--ca-cert FILE --ca-key FILE] [--force]\n"
		   "                 [--ca-key pkcs11:URI [--ca-cert FILE] [--ca-key-pin-file FILE]\n"
		   "                  [--pkcs11-module LIB]]\n");
}

/* Fills o from argv; hosts receives the --hostname values. -1 to go on, else an exit code. */
static int parse_init_args(int argc, char **argv, struct estd_init_opts *o, const char **hosts)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "listen", required_argument, NULL, 'l' },
		{ "ca-subject", required_argument, NULL, 's' },
		{ "ca-days", required_argument, NULL, 'D' },
		{ "ca-cert", required_argument, NULL, 'C' },
		{ "ca-key", required_argument, NULL, 'K' },
		{ "force", no_argument, NULL, 'f' },
		{ "ca-key-pin-file", required_argument, NULL, 'P' },
		{ "pkcs11-module", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long days;
	int c;

	optind = 0; /* GNU getopt: full re-initialisation */
	while ((c = getopt_long(argc, argv, "d:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'k': o->key_type = optarg; break;
		case 'l': o->listen = optarg; break;
		case 's': o->ca_subject = optarg; break;
		case 'C': o->ca_cert = optarg; break;
		case 'K': o->ca_key = optarg; break;
		case 'f': o->force = 1; break;
		case 'P': o->ca_key_pin_file = optarg; break;
		case 'M': o->pkcs11_module = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'H':
			if (o->nhostnames >= MAX_HOSTNAMES) {
				fprintf(stderr, "estd init: at most %d --hostname options\n",
					MAX_HOSTNAMES);
				return 2;
			}
			hosts[o->nhostnames++] = optarg;
			break;
		case 'D':
			if (estd_parse_ll(optarg, 1, 36500, &days) != 0) {
				fprintf(stderr, "estd init: --ca-days '%s' is not a number of days "
						"between 1 and 36500\n", optarg);
				return 2;
			}
			o->ca_days = (int)days;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || o->dir == NULL) {
		fprintf(stderr, optind < argc ? "estd init: unexpected argument '%s'\n"
					      : "estd init: --dir is required%s\n",
			optind < argc ? argv[optind] : "");
		usage(stderr);
		return 2;
	}
	return -1;
}

int estd_cmd_init(int argc, char **argv)
{
	struct estd_init_opts o;
	const char *hosts[MAX_HOSTNAMES];
	char *err = NULL;
	enum estkit_status rc;
	int ret;

	memset(&o, 0, sizeof(o));
	o.hostnames = hosts;
	ret = parse_init_args(argc, argv, &o, hosts);
	if (ret >= 0)
		return ret;
	rc = estd_init(&o, stdout, &err);
	if (rc == ESTKIT_OK)
		return 0;
	fprintf(stderr, "estd init: %s\n", err != NULL ? err : estkit_strerror(rc));
	free(err);
	return rc == ESTKIT_EINVAL ? 2 : 1;
}
