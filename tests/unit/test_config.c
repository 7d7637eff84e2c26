/* test_config.c - estd.conf loading: valid files, defaults, paths, and every way to get it wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define REQUIRED                                                                               \
	"[server]\ntls_cert = tls.pem\ntls_key = tls.key\n"                                       \
	"[ca]\ncert = ca.pem\nkey = ca.key\n"

static char tmpdir[1024];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/estd-config-XXXXXX", base ? base : P_tmpdir);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_conf(const char *name, const char *text, size_t len)
{
	static char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static struct estd_config *load_ok(const char *text)
{
	struct estd_config *cfg = NULL;
	char *err = NULL;
	const char *path = write_conf("estd.conf", text, strlen(text));
	enum estkit_status rc = estd_config_load(path, &cfg, &err);

	if (rc != ESTKIT_OK)
		fail_msg("load failed: %s", err ? err : "(no message)");
	assert_null(err);
	return cfg;
}

static void test_full_file_sets_every_key(void **state)
{
	struct estd_config *cfg = load_ok(
		"; a full configuration\n"
		"[server]\nlisten = [::1]:9443\ntls_cert = tls.pem\ntls_key = /etc/estd/tls.key\n"
		"io_threads = 4\njob_threads = 8\njob_queue = 10\nmax_body = 1024\n"
		"max_headers = 2048\nmax_connections = 7\nmax_connections_per_address = 3\n"
		"timeout = 3600  ; seconds\n"
		"log_level = debug\n"
		"[ca]\ncert = ca.pem\nkey = ca.key\nchain = chain.pem\n"
		"[store]\npath = sqlite:data/estd.db\n"
		"[auth]\nusers = users.txt\nrealm = my realm\nclient_ca = extra.pem\n"
		"reenroll_requires_cert = off\n"
		"[profile strict]\nvalidity_days = 30\nkey_usage = digitalSignature\n"
		"extended_key_usage = serverAuth, clientAuth, 1.3.6.1.5.5.7.3.9\n"
		"allowed_keys = ec:P-384, rsa:3072, ed448\ncopy_sans = no\n"
		"[label]\nprofile = strict\n"
		"[label routers]\nprofile = default\n");
	char want[PATH_MAX + 64];

	assert_string_equal(cfg->listen, "[::1]:9443");
	snprintf(want, sizeof(want), "%s/tls.pem", cfg->dir);
	assert_string_equal(cfg->tls_cert, want);
	assert_string_equal(cfg->tls_key, "/etc/estd/tls.key");
	assert_int_equal(cfg->io_threads, 4);
	assert_int_equal(cfg->job_threads, 8);
	assert_int_equal(cfg->job_queue, 10);
	assert_int_equal(cfg->max_body, 1024);
	assert_int_equal(cfg->max_headers, 2048);
	assert_int_equal(cfg->max_connections, 7);
	assert_int_equal(cfg->max_connections_per_address, 3);
	assert_int_equal(cfg->timeout, 3600);
	assert_string_equal(cfg->log_level, "debug");
	snprintf(want, sizeof(want), "%s/chain.pem", cfg->dir);
	assert_string_equal(cfg->ca_chain, want);
	snprintf(want, sizeof(want), "sqlite:%s/data/estd.db", cfg->dir);
	assert_string_equal(cfg->store_path, want);
	snprintf(want, sizeof(want), "%s/users.txt", cfg->dir);
	assert_string_equal(cfg->users_file, want);
	assert_string_equal(cfg->realm, "my realm");
	assert_non_null(cfg->client_ca);
	assert_int_equal(cfg->reenroll_requires_cert, 0);

	const struct estd_profile *pr = estd_config_profile(cfg, "strict");
	assert_non_null(pr);
	assert_int_equal(pr->validity_days, 30);
	assert_string_equal(pr->key_usage, "digitalSignature");
	assert_string_equal(pr->ext_key_usage, "serverAuth, clientAuth, 1.3.6.1.5.5.7.3.9");
	assert_string_equal(pr->allowed_keys, "ec:P-384, rsa:3072, ed448");
	assert_int_equal(pr->copy_sans, 0);
	/* "default" exists although not written: labels may name it */
	assert_non_null(estd_config_profile(cfg, "default"));
	assert_int_equal(cfg->nprofiles, 2);
	assert_int_equal(cfg->nlabels, 2);
	assert_string_equal(estd_config_label(cfg, "")->profile, "strict");
	assert_string_equal(estd_config_label(cfg, "routers")->profile, "default");
	assert_null(estd_config_label(cfg, "nosuch"));
	estd_config_free(cfg);
}

static void test_minimal_file_gets_documented_defaults(void **state)
{
	struct estd_config *cfg = load_ok(REQUIRED);
	const struct estd_profile *pr;
	const struct estd_label *lab;
	char want[PATH_MAX + 64];

	assert_string_equal(cfg->listen, "127.0.0.1:8443");
	assert_int_equal(cfg->io_threads, 0);
	assert_int_equal(cfg->job_threads, 0);
	assert_int_equal(cfg->job_queue, 1024);
	assert_int_equal(cfg->max_body, 65536);
	assert_int_equal(cfg->max_headers, 16384);
	assert_int_equal(cfg->max_connections, 4096);
	assert_int_equal(cfg->max_connections_per_address, 64);
	assert_int_equal(cfg->timeout, 30);
	assert_string_equal(cfg->log_level, "info");
	assert_null(cfg->ca_chain);
	assert_null(cfg->client_ca);
	assert_string_equal(cfg->realm, "estkit");
	assert_int_equal(cfg->reenroll_requires_cert, 1);
	snprintf(want, sizeof(want), "%s/estd.db", cfg->dir);
	assert_string_equal(cfg->store_path, want);
	snprintf(want, sizeof(want), "%s/users", cfg->dir);
	assert_string_equal(cfg->users_file, want);
	snprintf(want, sizeof(want), "%s/estd.conf", cfg->dir);
	assert_string_equal(cfg->path, want);

	assert_int_equal(cfg->nlabels, 1);
	lab = estd_config_label(cfg, "");
	assert_non_null(lab);
	assert_string_equal(lab->profile, "default");
	assert_int_equal(cfg->nprofiles, 1);
	pr = estd_config_profile(cfg, "default");
	assert_non_null(pr);
	assert_int_equal(pr->validity_days, 365);
	assert_string_equal(pr->key_usage, "digitalSignature, keyEncipherment");
	assert_string_equal(pr->ext_key_usage, "clientAuth");
	assert_string_equal(pr->allowed_keys, "ec:P-256, ec:P-384, ec:P-521, rsa:2048, ed25519");
	assert_int_equal(pr->copy_sans, 1);
	estd_config_free(cfg);
}

static void test_booleans_accept_every_documented_word(void **state)
{
	static const struct {
		const char *word;
		int value;
	} cases[] = {
		{"yes", 1}, {"true", 1}, {"on", 1}, {"1", 1},
		{"no", 0},  {"false", 0}, {"off", 0}, {"0", 0},
	};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_config *cfg;

		snprintf(text, sizeof(text), REQUIRED "[auth]\nreenroll_requires_cert = %s\n",
			 cases[i].word);
		cfg = load_ok(text);
		assert_int_equal(cfg->reenroll_requires_cert, cases[i].value);
		estd_config_free(cfg);
	}
}

static void test_listen_accepts_names_addresses_and_port_zero(void **state)
{
	static const char *const good[] = {"127.0.0.1:0", "localhost:8443", "0.0.0.0:65535",
					   "[::]:443", "[::1]:8443", "[fe80::1]:1"};
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct estd_config *cfg;

		snprintf(text, sizeof(text), "[server]\nlisten = %s\ntls_cert = a\ntls_key = b\n"
					     "[ca]\ncert = c\nkey = d\n",
			 good[i]);
		cfg = load_ok(text);
		assert_string_equal(cfg->listen, good[i]);
		estd_config_free(cfg);
	}
}

static void test_byte_order_mark_before_the_first_section_is_ignored(void **state)
{
	struct estd_config *cfg = load_ok("\xef\xbb\xbf" REQUIRED);

	assert_non_null(cfg->tls_cert);
	estd_config_free(cfg);
}

static void test_postgresql_store_uri_is_kept_as_written(void **state)
{
	static const char *const uris[] = {
		"postgresql://estd@db.example.net:5433/estd?sslmode=verify-full",
		"postgres://estd@127.0.0.1/estd",
	};
	size_t i;

	for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		char text[512];
		struct estd_config *cfg = NULL;

		snprintf(text, sizeof(text),
			 REQUIRED "[store]\npath = %s\nconnections = 32\npool_wait = %d\n", uris[i],
			 i == 0 ? 1 : 300);
		cfg = load_ok(text);
		assert_string_equal(cfg->store_path, uris[i]);
		assert_int_equal(cfg->store_connections, 32);
		assert_int_equal(cfg->store_pool_wait, i == 0 ? 1 : 300);
		estd_config_free(cfg);
	}
	{
		struct estd_config *cfg = load_ok(REQUIRED);

		assert_int_equal(cfg->store_connections, 8);
		assert_int_equal(cfg->store_pool_wait, 10);
		estd_config_free(cfg);
	}
}

static void test_paths_resolve_against_the_files_directory(void **state)
{
	struct estd_config *cfg = NULL;
	char *err = NULL, sub[1100], conf[PATH_MAX], want[PATH_MAX + 64], cwd[PATH_MAX];
	char *real = NULL;
	const char *text = "[server]\ntls_cert = ../certs/tls.pem\ntls_key = k\n"
			   "[ca]\ncert = ./ca.pem\nkey = /abs/ca.key\n[store]\npath = db\n";
	FILE *fp;

	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/estd.conf", sub);
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	/* loaded through a relative name from another working directory */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(estd_config_load("etc/estd.conf", &cfg, &err), ESTKIT_OK);
	assert_int_equal(chdir(cwd), 0);
	real = realpath(sub, NULL);
	assert_non_null(real);
	assert_string_equal(cfg->dir, real);
	snprintf(want, sizeof(want), "%s/../certs/tls.pem", real);
	assert_string_equal(cfg->tls_cert, want);
	snprintf(want, sizeof(want), "%s/./ca.pem", real);
	assert_string_equal(cfg->ca_cert, want);
	assert_string_equal(cfg->ca_key, "/abs/ca.key");
	snprintf(want, sizeof(want), "%s/db", real);
	assert_string_equal(cfg->store_path, want);
	snprintf(want, sizeof(want), "%s/estd.conf", real);
	assert_string_equal(cfg->path, want);
	assert_true(cfg->path[0] == '/');
	free(real);
	estd_config_free(cfg);
}

static void test_missing_file_is_an_io_error(void **state)
{
	struct estd_config *cfg = NULL;
	char *err = NULL, path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nosuch.conf", tmpdir);
	assert_int_equal(estd_config_load(path, &cfg, &err), ESTKIT_EIO);
	assert_null(cfg);
	assert_non_null(err);
	assert_non_null(strstr(err, "nosuch.conf: cannot open"));
	free(err);
	assert_int_equal(estd_config_load(NULL, &cfg, &err), ESTKIT_EINVAL);
}

struct bad_case {
	const char *why;
	const char *text;
	enum estkit_status rc;
	const char *msg; /* substring of the error, with the line number */
};

static const struct bad_case bad_cases[] = {
	{"empty file", "", ESTKIT_EINVAL, "estd.conf: [server] tls_cert is required"},
	{"explicit_ca and client_ca differ", REQUIRED "[auth]\nclient_ca = a.pem\nexplicit_ca = b.pem\n",
	 ESTKIT_EINVAL, "explicit_ca and client_ca are one setting"},
	{"identity proof without a secret", REQUIRED "[label]\ncmc_require_identity_proof = yes\n",
	 ESTKIT_EINVAL, "cmc_require_identity_proof needs cmc_identity_secret_file"},
	{"identity proof flag not a bool", REQUIRED "[label]\ncmc_require_identity_proof = sure\n",
	 ESTKIT_EINVAL, "cmc_require_identity_proof: 'sure' is not"},
	{"implicit_ca_enabled not a bool", REQUIRED "[auth]\nimplicit_ca_enabled = maybe\n",
	 ESTKIT_EINVAL, "implicit_ca_enabled: 'maybe' is not yes/no"},
	{"srp_verifier_file in [server]", "[server]\nsrp_verifier_file = v\n",
	 ESTKIT_EPARSE, ":2: unknown key 'srp_verifier_file' in [server]"},
	{"only comments", "; nothing\n# here\n\n", ESTKIT_EINVAL, "[server] tls_cert is required"},
	{"no tls_key", "[server]\ntls_cert = a\n[ca]\ncert = c\nkey = k\n", ESTKIT_EINVAL,
	 "[server] tls_key is required"},
	{"no ca cert", "[server]\ntls_cert = a\ntls_key = b\n[ca]\nkey = k\n", ESTKIT_EINVAL,
	 "[ca] cert is required"},
	{"no ca key", "[server]\ntls_cert = a\ntls_key = b\n[ca]\ncert = c\n", ESTKIT_EINVAL,
	 "[ca] key is required"},
	{"empty required path", REQUIRED "[auth]\nusers =\n", ESTKIT_EINVAL,
	 ":8: users: a path is required"},
	{"section [server] twice", REQUIRED "[server]\n", ESTKIT_EPARSE,
	 ":7: duplicate section [server]"},
	{"unknown key in [server]", "[server]\ntls_cert = a\nlisen = x:1\n", ESTKIT_EPARSE,
	 ":3: unknown key 'lisen' in [server]"},
	{"unknown key in [ca]", "[ca]\ncertificate = x\n", ESTKIT_EPARSE,
	 ":2: unknown key 'certificate' in [ca]"},
	{"unknown key in [store]", "[store]\nfile = x\n", ESTKIT_EPARSE,
	 ":2: unknown key 'file' in [store]"},
	{"unknown key in [auth]", "[auth]\npassword = x\n", ESTKIT_EPARSE,
	 ":2: unknown key 'password' in [auth]"},
	{"unknown key in [profile]", "[profile p]\nvalidity = 3\n", ESTKIT_EPARSE,
	 ":2: unknown key 'validity' in [profile p]"},
	{"unknown key in [label]", "[label]\nprofil = default\n", ESTKIT_EPARSE,
	 ":2: unknown key 'profil' in [label]"},
	{"unknown section", REQUIRED "[servr]\nlisten = a:1\n", ESTKIT_EPARSE,
	 ":7: unknown section [servr]"},
	{"unknown empty section", "\n[logging]\n", ESTKIT_EPARSE, ":2: unknown section [logging]"},
	{"name on an unnamed section", "[server main]\n", ESTKIT_EPARSE,
	 ":1: unknown section [server main]"},
	{"profile without a name", "[profile]\n", ESTKIT_EPARSE,
	 ":1: section [profile] needs a name"},
	{"label name starting with a dot", "[label .hidden]\n", ESTKIT_EPARSE,
	 ":1: invalid name '.hidden'"},
	{"label name with a slash", "[label a/b]\n", ESTKIT_EPARSE, ":1: invalid name 'a/b'"},
	{"label name of 65 characters",
	 "[label aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
	 ESTKIT_EPARSE, ":1: invalid name"},
	{"three words in a header", "[label a b]\n", ESTKIT_EPARSE, ":1: invalid name 'a b'"},
	{"duplicate label", REQUIRED "[label a]\n[label b]\n[label a]\n", ESTKIT_EPARSE,
	 ":9: duplicate section [label a]"},
	{"duplicate default label", REQUIRED "[label]\n\n[label]\n", ESTKIT_EPARSE,
	 ":9: duplicate section [label]"},
	{"duplicate profile", "[profile x]\n[profile x]\n", ESTKIT_EPARSE,
	 ":2: duplicate section [profile x]"},
	{"duplicate key", "[server]\ntimeout = 3\ntimeout = 4\n", ESTKIT_EPARSE,
	 ":3: duplicate key 'timeout' in [server]"},
	{"key before any section", "timeout = 3\n", ESTKIT_EPARSE,
	 ":1: key 'timeout' outside of a section"},
	{"line without =", "[server]\ngarbage\n", ESTKIT_EPARSE, ":2: syntax error"},
	{"header without ]", "[server\n", ESTKIT_EPARSE, ":1: syntax error"},
	{"continuation line", "[server]\ntls_cert = a\n  b\n", ESTKIT_EPARSE,
	 ":3: indented line"},
	{"label without its profile", REQUIRED "[label r]\nprofile = nosuch\n", ESTKIT_EINVAL,
	 ":8: label 'r': no section [profile nosuch]"},
	{"default label without its profile", REQUIRED "[label]\nprofile = gone\n",
	 ESTKIT_EINVAL, ":8: label '(default)': no section [profile gone]"},
	{"empty profile reference", "[label]\nprofile =\n", ESTKIT_EINVAL,
	 ":2: profile: invalid value ''"},
	{"timeout zero", "[server]\ntimeout = 0\n", ESTKIT_EINVAL,
	 ":2: timeout: '0' is not a whole number in 1..3600"},
	{"timeout too big", "[server]\ntimeout = 3601\n", ESTKIT_EINVAL, ":2: timeout: '3601'"},
	{"timeout not a number", "[server]\ntimeout = abc\n", ESTKIT_EINVAL, ":2: timeout: 'abc'"},
	{"timeout trailing garbage", "[server]\ntimeout = 10s\n", ESTKIT_EINVAL,
	 ":2: timeout: '10s'"},
	{"timeout hex", "[server]\ntimeout = 0x10\n", ESTKIT_EINVAL, ":2: timeout: '0x10'"},
	{"timeout empty", "[server]\ntimeout =\n", ESTKIT_EINVAL, ":2: timeout: ''"},
	{"timeout overflow", "[server]\ntimeout = 99999999999999999999999\n", ESTKIT_EINVAL,
	 ":2: timeout:"},
	{"io_threads negative", "[server]\nio_threads = -1\n", ESTKIT_EINVAL,
	 ":2: io_threads: '-1' is not a whole number in 0..256"},
	{"job_threads too many", "[server]\njob_threads = 257\n", ESTKIT_EINVAL,
	 ":2: job_threads: '257'"},
	{"job_queue zero", "[server]\njob_queue = 0\n", ESTKIT_EINVAL, ":2: job_queue: '0'"},
	{"max_body under 1 KiB", "[server]\nmax_body = 1023\n", ESTKIT_EINVAL,
	 ":2: max_body: '1023' is not a whole number in 1024..16777216"},
	{"max_body over 16 MiB", "[server]\nmax_body = 16777217\n", ESTKIT_EINVAL,
	 ":2: max_body: '16777217'"},
	{"postgresql store without //", "[store]\npath = postgresql:estd:s3cret@h/estd\n",
	 ESTKIT_EINVAL, ":2: path: a PostgreSQL store is written postgresql://"},
	{"postgres store without //", "[store]\npath = postgres:/h/estd\n", ESTKIT_EINVAL,
	 ":2: path: a PostgreSQL store is written postgresql://"},
	{"pool_wait zero", "[store]\npool_wait = 0\n", ESTKIT_EINVAL,
	 ":2: pool_wait: '0' is not a whole number in 1..300"},
	{"pool_wait over 300", "[store]\npool_wait = 301\n", ESTKIT_EINVAL, ":2: pool_wait: '301'"},
	{"pool_wait negative", "[store]\npool_wait = -5\n", ESTKIT_EINVAL, ":2: pool_wait: '-5'"},
	{"pool_wait with a unit", "[store]\npool_wait = 10s\n", ESTKIT_EINVAL,
	 ":2: pool_wait: '10s'"},
	{"pool_wait empty", "[store]\npool_wait =\n", ESTKIT_EINVAL, ":2: pool_wait"},
	{"max_connections zero", "[server]\nmax_connections = 0\n", ESTKIT_EINVAL,
	 ":2: max_connections: '0'"},
	{"max_connections_per_address negative", "[server]\nmax_connections_per_address = -1\n",
	 ESTKIT_EINVAL, ":2: max_connections_per_address: '-1' is not a whole number in 0..1000000"},
	{"max_connections_per_address not a number",
	 "[server]\nmax_connections_per_address = 64k\n", ESTKIT_EINVAL,
	 ":2: max_connections_per_address: '64k'"},
	{"validity_days zero", "[profile p]\nvalidity_days = 0\n", ESTKIT_EINVAL,
	 ":2: validity_days: '0'"},
	{"boolean maybe", "[profile p]\ncopy_sans = maybe\n", ESTKIT_EINVAL,
	 ":2: copy_sans: 'maybe' is not yes/no"},
	{"boolean uppercase", "[auth]\nreenroll_requires_cert = YES\n", ESTKIT_EINVAL,
	 ":2: reenroll_requires_cert: 'YES'"},
	{"unknown log level", "[server]\nlog_level = verbose\n", ESTKIT_EINVAL,
	 ":2: log_level: invalid value 'verbose'"},
	{"listen without port", "[server]\nlisten = localhost\n", ESTKIT_EINVAL,
	 ":2: listen: invalid value 'localhost'"},
	{"listen port negative", "[server]\nlisten = h:-1\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen port with a sign", "[server]\nlisten = h:+80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen wildcard host", "[server]\nlisten = *:80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen two colons", "[server]\nlisten = a:b:80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen port too big", "[server]\nlisten = h:65536\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen unclosed v6", "[server]\nlisten = [::1:80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen bad v6", "[server]\nlisten = [zz]:80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"listen no host", "[server]\nlisten = :80\n", ESTKIT_EINVAL, ":2: listen:"},
	{"realm with a quote", "[auth]\nrealm = a\"b\n", ESTKIT_EINVAL, ":2: realm:"},
	{"unknown key usage", "[profile p]\nkey_usage = digitalSignature, signEverything\n",
	 ESTKIT_EINVAL, ":2: profile p: key_usage: unknown key usage 'signEverything'"},
	{"CA key usage in an end-entity profile", "[profile p]\nkey_usage = keyCertSign\n",
	 ESTKIT_EINVAL, ":2: profile p: key_usage: 'keyCertSign' is for CA certificates"},
	{"key usage with an empty item", "[profile p]\nkey_usage = digitalSignature,,\n",
	 ESTKIT_EINVAL, ":2: profile p: key_usage: empty entry"},
	{"unknown extended key usage", "[profile p]\nextended_key_usage = clientAuthh\n",
	 ESTKIT_EINVAL, ":2: profile p: extended_key_usage:"},
	{"rsa key too small", "[profile p]\nallowed_keys = rsa:512\n", ESTKIT_EINVAL,
	 ":2: profile p: allowed_keys: bad key type 'rsa:512'"},
	{"unknown curve", "[profile p]\nallowed_keys = ec:P-999\n", ESTKIT_EINVAL,
	 ":2: profile p: allowed_keys: bad key type 'ec:P-999'"},
	{"no allowed keys", "[profile p]\nallowed_keys =\n", ESTKIT_EINVAL,
	 ":2: profile p: allowed_keys: empty"},
	{"empty sqlite path", "[store]\npath = sqlite:\n", ESTKIT_EINVAL,
	 ":2: path: a path is required"},
	{"store connections zero", "[store]\nconnections = 0\n", ESTKIT_EINVAL, ":2: connections:"},
	{"store connections huge", "[store]\nconnections = 1025\n", ESTKIT_EINVAL,
	 ":2: connections:"},
	{"store connections word", "[store]\nconnections = many\n", ESTKIT_EINVAL,
	 ":2: connections:"},
	{"serverkeygen rsa too small", "[label]\nserverkeygen_key = rsa:1024\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_key: invalid value 'rsa:1024'"},
	{"serverkeygen unknown curve", "[label]\nserverkeygen_key = ec:P-999\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_key: invalid value 'ec:P-999'"},
	{"serverkeygen dsa", "[label]\nserverkeygen_key = dsa:2048\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_key: invalid value"},
	{"kek without id", "[label]\nserverkeygen_kek = :kek.hex\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_kek: invalid value ':kek.hex' (ID:FILE"},
	{"kek without file", "[label]\nserverkeygen_kek = dev-1:\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_kek: invalid value"},
	{"kek without colon", "[label]\nserverkeygen_kek = kek.hex\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_kek: invalid value"},
	{"kek id with a space", "[label]\nserverkeygen_kek = my id:kek.hex\n", ESTKIT_EINVAL,
	 ":2: serverkeygen_kek: invalid value"},
	{"kek id too long",
	 "[label]\nserverkeygen_kek = "
	 "12345678901234567890123456789012345678901234567890123456789012345:k\n",
	 ESTKIT_EINVAL, ":2: serverkeygen_kek: invalid value"},
};

static void test_label_serverkeygen_keys(void **state)
{
	struct estd_config *cfg = load_ok(REQUIRED "[label]\nserverkeygen_key = ec:P-384\n"
					  "serverkeygen_kek = dev-kek-1:keys/kek.hex\n"
					  "[label plain]\n");
	const struct estd_label *def = estd_config_label(cfg, "");
	const struct estd_label *plain = estd_config_label(cfg, "plain");
	char want[PATH_MAX + 32];

	(void)state;
	snprintf(want, sizeof(want), "dev-kek-1:%s/keys/kek.hex", tmpdir);
	assert_non_null(def);
	assert_string_equal(def->serverkeygen_key, "ec:P-384");
	assert_string_equal(def->serverkeygen_kek, want);
	assert_non_null(plain);
	assert_null(plain->serverkeygen_key);
	assert_null(plain->serverkeygen_kek);
	estd_config_free(cfg);
}

static void test_malformed_files_are_refused_with_file_and_line(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct estd_config *cfg = NULL;
		char *err = NULL;
		const char *path = write_conf("estd.conf", c->text, strlen(c->text));
		enum estkit_status rc = estd_config_load(path, &cfg, &err);

		/* no message echoes a password ("s3cret" in the table) */
		if (rc != c->rc || err == NULL || strstr(err, c->msg) == NULL ||
		    strncmp(err, path, strlen(path)) != 0 || strstr(err, "s3cret") != NULL)
			fail_msg("case '%s': rc %d (want %d), err '%s' (want '%s')", c->why, rc,
				 c->rc, err ? err : "(null)", c->msg);
		assert_null(cfg);
		free(err);
	}
}

static void test_oversized_and_binary_lines_are_refused(void **state)
{
	static const struct {
		const char *why;
		size_t len;
		const char *msg;
	} cases[] = {
		{"line of 300 characters", 300, ":2: line too long"},
		{"line with a NUL byte", 0, ":2: NUL byte"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		size_t len;
		struct estd_config *cfg = NULL;
		char *err = NULL;
		const char *path;

		len = (size_t)snprintf(text, sizeof(text), "[server]\ntls_cert = ");
		if (cases[i].len > 0) {
			memset(text + len, 'a', cases[i].len);
			len += cases[i].len;
		} else {
			memcpy(text + len, "a\0b", 3);
			len += 3;
		}
		text[len++] = '\n';
		path = write_conf("estd.conf", text, len);
		assert_int_equal(estd_config_load(path, &cfg, &err), ESTKIT_EPARSE);
		if (err == NULL || strstr(err, cases[i].msg) == NULL)
			fail_msg("case '%s': err '%s'", cases[i].why, err ? err : "(null)");
		free(err);
	}
}

static void test_a_directory_is_not_a_config_file(void **state)
{
	struct estd_config *cfg = NULL;
	char *err = NULL;

	assert_int_equal(estd_config_load(tmpdir, &cfg, &err), ESTKIT_EIO);
	assert_non_null(err);
	free(err);
}

/* RFC 7030 3.6: explicit_ca aliases client_ca; the implicit database is apart and switchable. */
static void test_explicit_and_implicit_trust_anchor_keys(void **state)
{
	static const struct {
		const char *auth;
		const char *client_ca;   /* file name expected at the end of client_ca, NULL: unset */
		const char *implicit_ca; /* same for implicit_ca */
		int enabled;
	} cases[] = {
		{"", NULL, NULL, -1},
		{"explicit_ca = ex.pem\n", "/ex.pem", NULL, -1},
		{"client_ca = ex.pem\nexplicit_ca = ex.pem\n", "/ex.pem", NULL, -1},
		{"client_ca =\nexplicit_ca = ex.pem\n", "/ex.pem", NULL, -1},
		{"implicit_ca = im.pem\n", NULL, "/im.pem", -1},
		{"implicit_ca = im.pem\nimplicit_ca_enabled = no\n", NULL, "/im.pem", 0},
		{"implicit_ca_enabled = yes\n", NULL, NULL, 1},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct estd_config *cfg = NULL;
		const char *got = NULL;

		snprintf(text, sizeof(text), REQUIRED "[auth]\n%s", cases[i].auth);
		cfg = load_ok(text);
		got = cfg->client_ca;
		if (cases[i].client_ca == NULL)
			assert_null(got);
		else
			assert_true(got != NULL && strlen(got) > strlen(cases[i].client_ca) &&
				    strcmp(got + strlen(got) - strlen(cases[i].client_ca),
					   cases[i].client_ca) == 0);
		got = cfg->implicit_ca;
		if (cases[i].implicit_ca == NULL)
			assert_null(got);
		else
			assert_true(got != NULL && strstr(got, cases[i].implicit_ca) != NULL);
		assert_int_equal(cfg->implicit_ca_enabled, cases[i].enabled);
		assert_null(cfg->explicit_ca);
		estd_config_free(cfg);
	}
}

/* RFC 7030 3.3.3: [auth] srp_verifier_file, off unless set, relative to the file's directory. */
static void test_srp_verifier_file_is_optional_and_resolved(void **state)
{
	static const struct {
		const char *auth;
		const char *want; /* suffix of the path, NULL: unset */
	} cases[] = {
		{"", NULL},
		{"srp_verifier_file =\n", NULL},
		{"srp_verifier_file = srp/verifiers.txt\n", "/srp/verifiers.txt"},
		{"srp_verifier_file = /etc/estd/srp.v\n", "/etc/estd/srp.v"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct estd_config *cfg = NULL;
		const char *got = NULL;

		snprintf(text, sizeof(text), REQUIRED "[auth]\n%s", cases[i].auth);
		cfg = load_ok(text);
		got = cfg->srp_verifier_file;
		if (cases[i].want == NULL)
			assert_null(got);
		else if (cases[i].want[1] == 'e') /* absolute: kept */
			assert_string_equal(got, cases[i].want);
		else
			assert_true(got != NULL && strncmp(got, tmpdir, strlen(tmpdir)) == 0 &&
				    strcmp(got + strlen(got) - strlen(cases[i].want),
					   cases[i].want) == 0);
		estd_config_free(cfg);
	}
}

static void test_free_and_lookups_accept_null(void **state)
{
	estd_config_free(NULL);
	assert_null(estd_config_label(NULL, ""));
	assert_null(estd_config_profile(NULL, "default"));
}

/* [server] tls_key: a file (resolved), a pkcs11: URI (verbatim), its PIN file (resolved). */
static void test_tls_key_file_or_token(void **state)
{
	static const struct {
		const char *tls_key, *pin; /* pin NULL: no tls_key_pin_file line */
		const char *want_key, *want_pin; /* relative to tmpdir when not absolute */
	} cases[] = {
		{ "tls.key", NULL, "tls.key", NULL },
		{ "/abs/tls.key", NULL, "/abs/tls.key", NULL },
		{ "pkcs11:token=t;object=tls;type=private", "tls.pin",
		  "pkcs11:token=t;object=tls;type=private", "tls.pin" },
		{ "pkcs11:token=a%20b;object=k", "/etc/estd/tls.pin", "pkcs11:token=a%20b;object=k",
		  "/etc/estd/tls.pin" },
		{ "pkcs11:object=k;pin-value=1234", "", "pkcs11:object=k;pin-value=1234", NULL },
	};
	char text[1024], want[PATH_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estd_config *cfg = NULL;
		char *real = realpath(tmpdir, NULL);

		assert_non_null(real);
		snprintf(text, sizeof(text),
			 "[server]\ntls_cert = tls.pem\ntls_key = %s\n%s%s%s"
			 "[ca]\ncert = ca.pem\nkey = ca.key\n",
			 cases[i].tls_key, cases[i].pin != NULL ? "tls_key_pin_file = " : "",
			 cases[i].pin != NULL ? cases[i].pin : "", cases[i].pin != NULL ? "\n" : "");
		cfg = load_ok(text);
		if (cases[i].want_key[0] == '/' || strncmp(cases[i].want_key, "pkcs11:", 7) == 0)
			snprintf(want, sizeof(want), "%s", cases[i].want_key);
		else
			snprintf(want, sizeof(want), "%s/%s", real, cases[i].want_key);
		assert_string_equal(cfg->tls_key, want);
		if (cases[i].want_pin == NULL) {
			assert_null(cfg->tls_key_pin_file);
		} else {
			if (cases[i].want_pin[0] == '/')
				snprintf(want, sizeof(want), "%s", cases[i].want_pin);
			else
				snprintf(want, sizeof(want), "%s/%s", real, cases[i].want_pin);
			assert_string_equal(cfg->tls_key_pin_file, want);
		}
		estd_config_free(cfg);
		free(real);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_srp_verifier_file_is_optional_and_resolved,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgresql_store_uri_is_kept_as_written, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_minimal_file_gets_documented_defaults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_booleans_accept_every_documented_word, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listen_accepts_names_addresses_and_port_zero,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_byte_order_mark_before_the_first_section_is_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths_resolve_against_the_files_directory,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file_is_an_io_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_files_are_refused_with_file_and_line,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_and_binary_lines_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_directory_is_not_a_config_file, setup,
						teardown),
		cmocka_unit_test(test_free_and_lookups_accept_null),
		cmocka_unit_test_setup_teardown(test_explicit_and_implicit_trust_anchor_keys, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_label_serverkeygen_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_key_file_or_token, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
