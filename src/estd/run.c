/*
 * run.c - starting the server: configuration, CA, store, users, backend,
 * listener; then the main thread waits for signals (SIGHUP reload,
 * SIGTERM/SIGINT graceful stop) while the library's threads serve.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <estkit/pki.h>
#include <estkit/server.h>

#include "admin/admin.h"
#include "backend/ca.h"
#include "backend/authz.h"
#include "ca/issue.h"
#include "ca/signer.h"
#include "ca/signer_pkcs11.h"
#include "ca/signer_proc.h"
#include "ca/token_open.h"
#include "config.h"
#include "digest_key.h"
#include "run.h"
#include "store/store.h"
#include "users.h"
#include "util.h"

/* Seconds requests in flight get to finish on SIGTERM/SIGINT. */
#define SHUTDOWN_GRACE 10
/* HMAC label deriving the TLS-SRP seed key from the Digest key file. */
#define SRP_SEED_LABEL "estkit TLS-SRP salts of unknown users"

struct estd_running {
	struct estd_ca *ca;
	struct estd_store *store;
	struct estd_backend_ca *backend;
	struct estkit_server *srv;
	int started;
	const char *pidfile;
	struct estd_signer_proc *signer; /* [ca] signer = process: the CA keys live there */
	const char *config;              /* the estd.conf given, for the signer's reload */
	unsigned char digest_key[ESTD_DIGEST_KEY_LEN]; /* wiped in teardown */
	unsigned char srp_seed[32];      /* TLS-SRP seed key (wiped in teardown) */
	int srp;                         /* [auth] srp_verifier_file set: reread it on SIGHUP */
	EVP_PKEY *tls_key;               /* a pkcs11: [server] tls_key; NULL: a file */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: estd run [-c FILE] [--pidfile FILE]\n"
		   "       estd -c FILE\n"
		   "FILE defaults to $ESTD_CONF, else /etc/estd/estd.conf.\n");
}

/* Prints "estd: MSG" and frees msg. Returns 1 (the startup-failure exit status). */
static int fail(char *msg)
{
	fprintf(stderr, "estd: %s\n", msg != NULL ? msg : "out of memory");
	free(msg);
	return 1;
}

static int load_ca(const struct estd_config *cfg, struct estd_running *r)
{
	struct estd_signer *signer = NULL;
	X509 *cert = NULL;
	char *err = NULL;
	enum estkit_status rc;
	int ret = 1;

	rc = estkit_cert_load(cfg->ca_cert, &cert);
	if (rc != ESTKIT_OK)
		return fail(estd_strfmt("cannot read CA certificate %s: %s", cfg->ca_cert,
					estkit_strerror(rc)));
	if (estd_signer_load_cfg(cfg->ca_key, cfg, &signer, &err) != ESTKIT_OK) {
		ret = fail(err);
		goto out;
	}
	rc = estd_ca_new(cert, signer, &r->ca);
	if (rc == ESTKIT_EINVAL)
		ret = fail(estd_strfmt("CA key %s does not match CA certificate %s", cfg->ca_key,
				       cfg->ca_cert));
	else if (rc != ESTKIT_OK)
		ret = fail(estd_strfmt("%s is not a CA certificate", cfg->ca_cert));
	else
		ret = 0;
	if (rc == ESTKIT_OK)
		signer = NULL; /* now the CA's */
out:
	estd_signer_free(signer);
	X509_free(cert);
	return ret;
}

/* Routes the signer process's messages (a worker replaced, ...) to estd's log. */
static void signer_log(void *ctx, int level, const char *msg)
{
	struct estd_running *r = ctx;

	estd_backend_ca_log(r->backend, (enum estkit_log_level)level, "%s", msg);
}

/*
 * [ca] signer = process: fork the signer before anything else (no thread,
 * no socket, no secret exists yet); from then on this process never reads
 * a CA key (docs/security.md).
 */
static int start_signer(const struct estd_config *cfg, struct estd_running *r)
{
	char *err = NULL;

	if (cfg->ca_signer_inline)
		return 0;
	if (estd_signer_proc_start(cfg, &r->signer, &err) != ESTKIT_OK)
		return fail(err);
	estd_signer_proc_install(r->signer);
	return 0;
}

/* The listener's settings from [server] and [auth]; strings borrowed from cfg. */
static void server_config(const struct estd_config *cfg, struct estkit_server_config *sc)
{
	estkit_server_config_init(sc);
	sc->listen = cfg->listen;
	sc->cert_file = cfg->tls_cert;
	sc->key_file = cfg->tls_key;
	/* Certificates this CA issued authenticate their holders (re-enrollment, RFC 7030 3.3.2). */
	sc->client_ca_file = cfg->ca_cert;
	sc->extra_ca_file = cfg->client_ca;
	sc->io_threads = cfg->io_threads;
	sc->job_threads = cfg->job_threads;
	sc->job_queue_max = cfg->job_queue;
	sc->max_body = cfg->max_body;
	sc->max_headers = cfg->max_headers;
	sc->max_connections = cfg->max_connections;
	sc->max_connections_per_address = cfg->max_connections_per_address;
	sc->timeout = cfg->timeout;
	sc->reenroll_requires_cert = cfg->reenroll_requires_cert;
	sc->realm = cfg->realm;
	sc->otp_basic_user = ESTD_TOKEN_BASIC_USER; /* one-time tokens (backend/authz.c) */
	sc->auth_methods = (unsigned)cfg->auth_methods;
	sc->digest_nonce_lifetime = cfg->digest_nonce_lifetime;
	sc->digest_nonce_table = cfg->digest_nonce_table;
	sc->auth_fail_limit = cfg->auth_fail_limit;
	sc->auth_fail_window = cfg->auth_fail_window;
	sc->auth_fail_lockout = cfg->auth_fail_lockout;
	sc->auth_fail_table = cfg->auth_fail_table;
	sc->auth_fail_delay_ms = cfg->auth_fail_delay;
	/* RFC 7030 3.6: the implicit database can be switched off */
	sc->implicit_ca_file = cfg->implicit_ca_enabled != 0 ? cfg->implicit_ca : NULL;
}

/* The Digest nonce key, shared by the nodes serving the same directory; made if absent. */
static int load_digest_key(const struct estd_config *cfg, struct estd_running *r,
			   struct estkit_server_config *sc)
{
	char *err = NULL;

	if (!(cfg->auth_methods & ESTKIT_AUTH_DIGEST))
		return 0;
	if (estd_digest_key_load(cfg->digest_secret_file, r->digest_key, &err) != ESTKIT_OK)
		return fail(err);
	sc->digest_secret = r->digest_key;
	sc->digest_secret_len = sizeof(r->digest_key);
	return 0;
}

/*
 * TLS-SRP (RFC 7030 3.3.3). The key of the simulated salts of unknown users
 * (RFC 5054 2.5.1.3) is derived from the Digest key file, which the nodes
 * serving one directory share: they all answer an unknown name alike.
 */
static int srp_config(const struct estd_config *cfg, struct estd_running *r,
		      struct estkit_server_config *sc)
{
	static const char label[] = SRP_SEED_LABEL;
	size_t n = sizeof(r->srp_seed);
	char *err = NULL;

	if (cfg->srp_verifier_file == NULL)
		return 0;
	if (!(cfg->auth_methods & ESTKIT_AUTH_DIGEST) &&
	    estd_digest_key_load(cfg->digest_secret_file, r->digest_key, &err) != ESTKIT_OK)
		return fail(err);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, r->digest_key, sizeof(r->digest_key),
		      (const unsigned char *)label, sizeof(label) - 1, r->srp_seed, n, &n) == NULL)
		return fail(estd_strfmt("cannot derive the TLS-SRP seed key"));
	sc->srp_verifier_file = cfg->srp_verifier_file;
	sc->srp_seed = r->srp_seed;
	sc->srp_seed_len = n;
	r->srp = 1;
	return 0;
}

struct tls_token {
	const struct estd_config *cfg;
	EVP_PKEY **key;
};

static enum estkit_status try_tls_key(void *arg, char **err)
{
	const struct tls_token *t = arg;

	return estd_signer_pkcs11_load_tls(t->cfg->tls_key, t->cfg->ca_pkcs11_module,
					   t->cfg->tls_key_pin_file, t->key, err);
}

/*
 * A [server] tls_key on a PKCS#11 token: opened here, in the process that
 * serves TLS, after the signer was forked; the key stays on the token. As
 * the signer's workers do, one process at a time opens the token, with a
 * few tries (ca/token_open.h).
 */
static int load_tls_key(const struct estd_config *cfg, struct estd_running *r,
			struct estkit_server_config *sc)
{
	struct tls_token t = { cfg, &r->tls_key };
	char *err = NULL, *what = NULL;
	enum estkit_status rc = ESTKIT_EINVAL;

	if (!estd_signer_is_pkcs11(cfg->tls_key))
		return 0;
	what = estd_strfmt("the TLS key %s", cfg->tls_key);
	rc = estd_token_open_locked(cfg->path, ESTD_TOKEN_ATTEMPTS, ESTD_TOKEN_RETRY_US,
				    try_tls_key, &t, what, &err);
	free(what);
	if (rc != ESTKIT_OK)
		return fail(err);
	free(err);
	sc->key = r->tls_key;
	sc->key_file = NULL;
	return 0;
}

/* Everything up to a backend; on success the backend owns cfg. */
static int build_backend(struct estd_config *cfg, struct estd_running *r)
{
	struct estd_users *users = NULL;
	char *err = NULL, *msg = NULL;

	if (load_ca(cfg, r) != 0)
		return 1;
	if (estd_store_open(cfg->store_path, &r->store, &err) != ESTKIT_OK) {
		msg = estd_strfmt("cannot open the store: %s", err != NULL ? err : "failed");
		free(err);
		return fail(msg);
	}
	estd_store_set_connections(r->store, cfg->store_connections);
	if (estd_users_load(cfg->users_file, &users, &err) != ESTKIT_OK) {
		msg = estd_strfmt("cannot read users file %s: %s", cfg->users_file,
				  err != NULL ? err : "failed");
		free(err);
		return fail(msg);
	}
	if (estd_backend_ca_new(cfg, users, r->store, r->ca, &r->backend, &err) != ESTKIT_OK) {
		estd_users_free(users);
		return fail(err);
	}
	return 0;
}

/* RFC 7030 4.1.3: certificates of the rollover's new CA authenticate too (TLS client certs). */
static void trust_next_root(struct estd_running *r)
{
	X509 *next = estd_backend_ca_next_root(r->backend);
	enum estkit_status rc;

	if (next == NULL)
		return;
	rc = estkit_server_add_client_ca(r->srv, next);
	if (rc != ESTKIT_OK)
		estd_backend_ca_log(r->backend, ESTKIT_LOG_ERROR,
				    "cannot trust the new CA for TLS client certificates: %s",
				    estkit_strerror(rc));
	X509_free(next);
}

static int start_server(const struct estkit_server_config *sc, struct estd_running *r)
{
	struct estkit_backend vt;
	char *err = NULL;

	estd_backend_ca_vtable(r->backend, &vt);
	r->srv = estkit_server_new(sc, &vt, &err);
	if (r->srv == NULL) {
		fprintf(stderr, "estd: %s\n", err != NULL ? err : "cannot create the server");
		estkit_free(err);
		return 1;
	}
	trust_next_root(r);
	if (estkit_server_start(r->srv) != ESTKIT_OK) {
		fprintf(stderr, "estd: cannot start the server: %s\n", estkit_server_errmsg(r->srv));
		return 1;
	}
	r->started = 1;
	return 0;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	enum estkit_status rc = estkit_file_write_atomic(path, buf, (size_t)n, 0644);

	if (rc != ESTKIT_OK)
		return fail(estd_strfmt("cannot write pid file %s: %s", path, estkit_strerror(rc)));
	return 0;
}

/* The signer process takes a new [ca] next_key first, so the backend's reload finds it. */
static void reload_signer(struct estd_running *r)
{
	struct estd_config *cfg = NULL;
	char *err = NULL;

	if (r->signer == NULL)
		return;
	if (estd_config_load(r->config, &cfg, &err) == ESTKIT_OK)
		estd_signer_proc_reload(r->signer, cfg, &err);
	if (err != NULL)
		estd_backend_ca_log(r->backend, ESTKIT_LOG_ERROR, "signer reload: %s", err);
	free(err);
	estd_config_free(cfg);
}

/* The main thread's job once serving: wait for signals until told to stop. */
static void signal_loop(struct estd_running *r, const sigset_t *set)
{
	int sig = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			estd_backend_ca_log(r->backend, ESTKIT_LOG_INFO, "SIGHUP: reloading");
			reload_signer(r);
			/* before the rollover's next root is added: that one is kept in any case */
			if (estkit_server_trust_reload(r->srv) != ESTKIT_OK)
				estd_backend_ca_log(r->backend, ESTKIT_LOG_ERROR, "SIGHUP: %s",
						    estkit_server_errmsg(r->srv));
			if (estd_backend_ca_reload(r->backend) == ESTKIT_OK)
				trust_next_root(r);
			if (r->srp && estkit_server_srp_reload(r->srv) != ESTKIT_OK)
				estd_backend_ca_log(r->backend, ESTKIT_LOG_ERROR, "SIGHUP: %s",
						    estkit_server_errmsg(r->srv));
			continue;
		}
		estd_backend_ca_log(r->backend, ESTKIT_LOG_INFO, "shutting down (%s)",
				    sig == SIGINT ? "SIGINT" : "SIGTERM");
		return;
	}
}

static void teardown(struct estd_running *r)
{
	if (r->started) {
		estkit_server_shutdown(r->srv, SHUTDOWN_GRACE);
		estkit_server_wait(r->srv);
	}
	estkit_server_free(r->srv);
	estd_backend_ca_free(r->backend);
	r->backend = NULL; /* signer_log() may still run: estd_signer_proc_free() logs a kill */
	estd_store_close(r->store);
	estd_ca_free(r->ca);
	estd_signer_proc_install(NULL);
	estd_signer_proc_free(r->signer);
	EVP_PKEY_free(r->tls_key);
	OPENSSL_cleanse(r->digest_key, sizeof(r->digest_key));
	OPENSSL_cleanse(r->srp_seed, sizeof(r->srp_seed));
}

static int parse_args(int argc, char **argv, const char **config, const char **pidfile)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0; /* GNU getopt: full re-initialisation */
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': *config = optarg; break;
		case 'p': *pidfile = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "estd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* Like the admin commands: $ESTD_CONF, else the system file. */
	if (*config == NULL)
		*config = estd_admin_default_conf();
	return -1;
}

int estd_cmd_run(int argc, char **argv)
{
	struct estd_running r;
	struct estd_config *cfg = NULL;
	struct estkit_server_config sc;
	const char *config = NULL;
	sigset_t set;
	char *err = NULL;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = parse_args(argc, argv, &config, &r.pidfile);
	if (ret >= 0)
		return ret;
	if (estd_config_load(config, &cfg, &err) != ESTKIT_OK)
		return fail(err);
	r.config = config;
	server_config(cfg, &sc); /* cfg lives on in the backend's first snapshot */
	ret = start_signer(cfg, &r);
	if (ret == 0)
		ret = load_digest_key(cfg, &r, &sc);
	if (ret == 0)
		ret = load_tls_key(cfg, &r, &sc);
	if (ret == 0)
		ret = srp_config(cfg, &r, &sc);
	if (ret != 0) {
		estd_config_free(cfg);
		goto out;
	}
	ret = build_backend(cfg, &r);
	if (ret != 0) {
		if (r.backend == NULL)
			estd_config_free(cfg);
		goto out;
	}
	if (r.signer != NULL) {
		estd_signer_proc_set_log(r.signer, signer_log, &r);
		estd_backend_ca_log(r.backend, ESTKIT_LOG_INFO,
				    "CA signing in the signer process (pid %ld); this process "
				    "holds no CA key", (long)estd_signer_proc_pid(r.signer));
	}
	/* Block before the library starts threads: they inherit the mask, only sigwait sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = start_server(&sc, &r);
	if (ret == 0 && r.pidfile != NULL)
		ret = write_pidfile(r.pidfile);
	if (ret == 0)
		signal_loop(&r, &set);
	if (r.pidfile != NULL && ret == 0)
		unlink(r.pidfile);
out:
	teardown(&r);
	return ret;
}
