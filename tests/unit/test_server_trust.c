/*
 * test_server_trust.c - reloading the client-certificate trust anchors
 * (lib/server/trust.c, estkit_server_trust_reload()): real TLS handshakes in
 * memory (BIO pairs) with SSLs set up as the accept path does
 * (ek_trust_attach()), then ek_peer_get() as a request would. A reload swaps
 * the anchors new handshakes verify against and bumps the generation; a
 * kept connection, a handshake begun before the reload and a resumed session
 * of a removed CA's certificate lose their certificate on the next request;
 * a bad file (missing, empty, no PEM, damaged, no certificate) keeps the old
 * anchors; anchors added at run time survive a reload; handshakes on other
 * threads while reloads run.
 */
#include "test_server_fixture.h"
#include <openssl/err.h>
#include "server/server_internal.h"
#include "tlspair_testutil.h"

static char a_pem[300], a_dev[300], a_key[300], b_pem[300], b_dev[300], b_key[300];
static char anchors[300], implicit[300];
static X509 *a_ca, *b_ca;

/* A partner CA (written to pem) and a device certificate it issued (dev, key). */
static X509 *make_partner(const char *name, char *pem, char *dev, char *key)
{
	EVP_PKEY *tk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *dk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca = NULL, *dc = NULL;

	assert_non_null(tk);
	assert_non_null(dk);
	snprintf(pem, 300, "%s/%s-ca.pem", dir, name);
	snprintf(dev, 300, "%s/%s-dev.pem", dir, name);
	snprintf(key, 300, "%s/%s-dev.key", dir, name);
	ca = make_cert(tk, name, NULL, NULL, NULL, 1);
	dc = make_cert(dk, "device", ca, tk, "DNS:device.example", 0);
	write_pem(pem, ca, NULL);
	write_pem(dev, dc, NULL);
	write_pem(key, NULL, dk);
	X509_free(dc);
	EVP_PKEY_free(tk);
	EVP_PKEY_free(dk);
	return ca;
}

static int group_setup(void **state)
{
	(void)state;
	if (fixture_setup() != 0)
		return -1;
	a_ca = make_partner("partner-a", a_pem, a_dev, a_key);
	b_ca = make_partner("partner-b", b_pem, b_dev, b_key);
	snprintf(anchors, sizeof(anchors), "%s/anchors.pem", dir);
	snprintf(implicit, sizeof(implicit), "%s/implicit.pem", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	X509_free(a_ca);
	X509_free(b_ca);
	return fixture_teardown();
}

/* Writes text to path (replacing it). */
static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	fclose(f);
}

/* Replaces path with the concatenation of the files a and b (b may be NULL). */
static void put_files(const char *path, const char *a, const char *b)
{
	char buf[8192], *all = NULL;
	size_t n = 0, len = 0;
	const char *src[2] = {a, b};
	int i;

	all = calloc(1, 1);
	for (i = 0; i < 2 && src[i] != NULL; i++) {
		FILE *f = fopen(src[i], "r");

		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		all = realloc(all, len + n + 1);
		assert_non_null(all);
		memcpy(all + len, buf, n);
		len += n;
		all[len] = '\0';
	}
	put(path, all);
	free(all);
}

/* Replaces path with the file first (NULL: nothing), then text. */
static void append_after(const char *path, const char *first, const char *text)
{
	FILE *f = NULL;

	if (first != NULL)
		put_files(path, first, NULL);
	else
		put(path, "");
	f = fopen(path, "a");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0 || text[0] == '\0');
	fclose(f);
}

/* 1 when a new connection with cert/key completes its handshake with srv. */
static int handshake_ok(struct estkit_server *srv, const char *cert, const char *key)
{
	struct tlp_conn k;
	int ok;

	tlp_conn_new(&k, srv, cert, key, 0, NULL);
	ok = tlp_pump(k.c, k.s);
	tlp_conn_free(&k);
	return ok;
}

static unsigned gen_of(struct estkit_server *srv)
{
	return __atomic_load_n(&srv->trust_gen, __ATOMIC_ACQUIRE);
}

/* A removed CA: new handshakes fail, the added one works, kept connections lose it. */
static void test_reload_applies_to_new_and_kept_connections(void **state)
{
	struct estkit_server *srv = NULL;
	struct tlp_conn kept, early, sess;
	SSL_SESSION *saved = NULL;
	struct ek_peer *p = NULL;
	X509_STORE *before = NULL;
	unsigned gen;

	(void)state;
	put_files(anchors, a_pem, NULL);
	srv = tlp_server_new(anchors, NULL);
	assert_int_equal(handshake_ok(srv, a_dev, a_key), 1);
	assert_int_equal(handshake_ok(srv, b_dev, b_key), 0);
	tlp_conn_new(&kept, srv, a_dev, a_key, 0, NULL);
	assert_int_equal(tlp_pump(kept.c, kept.s), 1);
	p = ek_peer_get(srv, kept.s);
	assert_non_null(p);
	assert_non_null(p->cert);
	assert_int_equal(__atomic_load_n(&srv->peer_reverifications, __ATOMIC_RELAXED), 0);
	saved = SSL_get1_session(kept.c);
	assert_non_null(saved);
	/* accepted before the reload, handshake after it: keeps the anchors it got */
	tlp_conn_new(&early, srv, a_dev, a_key, 0, NULL);

	put_files(anchors, b_pem, NULL);
	gen = gen_of(srv);
	before = srv->verify_store;
	assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_OK);
	assert_int_not_equal(gen_of(srv), gen);
	assert_ptr_not_equal(srv->verify_store, before);
	assert_int_equal(handshake_ok(srv, a_dev, a_key), 0);
	assert_int_equal(handshake_ok(srv, b_dev, b_key), 1);
	assert_int_equal(handshake_ok(srv, cli_pem, cli_key), 1); /* the CA's own, always */

	p = ek_peer_get(srv, kept.s);
	assert_non_null(p);
	assert_null(p->cert);
	assert_null(p->identity);
	assert_int_equal(p->gen, gen_of(srv));
	assert_int_equal(__atomic_load_n(&srv->peer_reverifications, __ATOMIC_RELAXED), 1);
	assert_ptr_equal(ek_peer_get(srv, kept.s), p); /* once per generation */
	assert_int_equal(__atomic_load_n(&srv->peer_reverifications, __ATOMIC_RELAXED), 1);

	assert_int_equal(tlp_pump(early.c, early.s), 1);
	p = ek_peer_get(srv, early.s);
	assert_non_null(p);
	assert_null(p->cert);

	/* a resumed session skips verification: its certificate is checked here */
	tlp_conn_new(&sess, srv, a_dev, a_key, 0, saved);
	assert_int_equal(tlp_pump(sess.c, sess.s), 1);
	assert_int_equal(SSL_session_reused(sess.s), 1);
	p = ek_peer_get(srv, sess.s);
	assert_non_null(p);
	assert_null(p->cert);
	tlp_conn_free(&sess);
	tlp_conn_free(&early);
	tlp_conn_free(&kept);
	SSL_SESSION_free(saved);
	estkit_server_free(srv);
}

/* Files that do not load: the old anchors stay, nothing else changes. */
static void test_reload_bad_file_keeps_old(void **state)
{
	static const char damaged[] = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG\n"
	                              "-----END CERTIFICATE-----\n";
	static const char keyonly[] = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ"
	                              "+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n"
	                              "-----END PRIVATE KEY-----\n";
	static const struct {
		const char *name;
		int which;        /* 0: extra file, 1: implicit file */
		int missing;      /* the file is removed */
		const char *text; /* content (after a good certificate with after_good) */
		int after_good;
		const char *want; /* in errmsg */
	} t[] = {
	    {"missing", 0, 1, NULL, 0, "cannot read"},
	    {"empty", 0, 0, "", 0, "no certificate"},
	    {"not PEM", 0, 0, "hello\nworld\n", 0, "no certificate"},
	    {"damaged PEM", 0, 0, damaged, 0, "damaged PEM after 0"},
	    {"good then damaged", 0, 0, damaged, 1, "damaged PEM after 1"},
	    {"a key, no certificate", 0, 0, keyonly, 0, "no certificate"},
	    {"implicit missing", 1, 1, NULL, 0, "cannot read"},
	    {"implicit damaged", 1, 0, damaged, 1, "damaged PEM"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct estkit_server *srv = NULL;
		const char *file = t[i].which == 0 ? anchors : implicit;
		X509_STORE *before = NULL;
		unsigned gen;

		put_files(anchors, a_pem, NULL);
		put_files(implicit, b_pem, NULL);
		srv = tlp_server_new(anchors, implicit);
		gen = gen_of(srv);
		before = srv->verify_store;
		if (t[i].missing) {
			assert_int_equal(unlink(file), 0);
		} else {
			append_after(file, t[i].after_good ? a_pem : NULL, t[i].text);
		}
		assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_EINVAL);
		if (strstr(estkit_server_errmsg(srv), t[i].want) == NULL ||
		    strstr(estkit_server_errmsg(srv), "stay in use") == NULL)
			fail_msg("%s: errmsg \"%s\"", t[i].name, estkit_server_errmsg(srv));
		assert_int_equal(gen_of(srv), gen);
		assert_ptr_equal(srv->verify_store, before);
		if (!handshake_ok(srv, a_dev, a_key) || !handshake_ok(srv, b_dev, b_key))
			fail_msg("%s: the old anchors are gone", t[i].name);
		estkit_server_free(srv);
		/* the same file refuses to start a server */
		if (!t[i].missing || t[i].which == 0) {
			struct estkit_server_config cfg;
			char *err = NULL;

			estkit_server_config_init(&cfg);
			cfg.listen = "127.0.0.1:0";
			cfg.cert_file = srv_pem;
			cfg.key_file = srv_key;
			cfg.client_ca_file = ca_pem;
			cfg.extra_ca_file = anchors;
			cfg.implicit_ca_file = implicit;
			if (t[i].missing)
				unlink(anchors);
			assert_null(estkit_server_new(&cfg, &test_backend, &err));
			assert_non_null(err);
			if (strstr(err, t[i].want) == NULL)
				fail_msg("%s: start error \"%s\"", t[i].name, err);
			estkit_free(err);
		}
	}
}

/* The explicit/implicit split follows the reloaded files; a rollover's root stays explicit. */
static void test_reload_keeps_added_and_split(void **state)
{
	struct estkit_server *srv = NULL;
	struct tlp_conn kept;
	struct ek_peer *p = NULL;

	(void)state;
	put_files(anchors, a_pem, NULL);
	put_files(implicit, b_pem, NULL);
	srv = tlp_server_new(anchors, implicit);
	tlp_conn_new(&kept, srv, b_dev, b_key, 0, NULL);
	assert_int_equal(tlp_pump(kept.c, kept.s), 1);
	p = ek_peer_get(srv, kept.s);
	assert_non_null(p);
	assert_int_equal(p->implicit, 1);

	/* B moves to the explicit file: the kept connection's next request sees it */
	put_files(anchors, a_pem, b_pem);
	put_files(implicit, a_pem, NULL);
	assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_OK);
	p = ek_peer_get(srv, kept.s);
	assert_non_null(p);
	assert_non_null(p->cert);
	assert_int_equal(p->implicit, 0);

	/* and back to implicit; then a rollover adds it at run time: explicit across reloads */
	put_files(anchors, a_pem, NULL);
	put_files(implicit, b_pem, NULL);
	assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_OK);
	p = ek_peer_get(srv, kept.s);
	assert_int_equal(p->implicit, 1);
	assert_int_equal(estkit_server_add_client_ca(srv, b_ca), ESTKIT_OK);
	assert_int_equal(estkit_server_add_client_ca(srv, b_ca), ESTKIT_OK); /* estd: each SIGHUP */
	assert_int_equal(sk_X509_num(srv->added_cas), 1);
	assert_int_equal(ek_peer_get(srv, kept.s)->implicit, 0);
	put_files(implicit, a_pem, NULL); /* B gone from the files */
	assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_OK);
	p = ek_peer_get(srv, kept.s);
	assert_non_null(p->cert);
	assert_int_equal(p->implicit, 0);
	assert_int_equal(handshake_ok(srv, b_dev, b_key), 1);
	tlp_conn_free(&kept);
	estkit_server_free(srv);
}

/* Nothing to reload: an error, no change. */
static void test_reload_without_anchors(void **state)
{
	struct estkit_server_config cfg;
	struct estkit_server *srv = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(estkit_server_trust_reload(NULL), ESTKIT_EINVAL);
	estkit_server_config_init(&cfg);
	cfg.listen = "127.0.0.1:0";
	cfg.cert_file = srv_pem;
	cfg.key_file = srv_key;
	srv = estkit_server_new(&cfg, &test_backend, &err);
	assert_non_null(srv);
	assert_int_equal(estkit_server_trust_reload(srv), ESTKIT_EINVAL);
	assert_non_null(strstr(estkit_server_errmsg(srv), "no client certificate trust anchors"));
	assert_int_equal(gen_of(srv), 0);
	estkit_server_free(srv);
}

struct worker {
	struct estkit_server *srv;
	int ok, failed;
};

static void *handshakes(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 40; i++) {
		struct tlp_conn k;

		tlp_conn_new(&k, w->srv, a_dev, a_key, 0, NULL);
		if (tlp_pump(k.c, k.s) && ek_peer_get(w->srv, k.s) != NULL &&
		    ek_peer_get(w->srv, k.s)->cert != NULL)
			w->ok++;
		else
			w->failed++;
		tlp_conn_free(&k);
	}
	return NULL;
}

/* Handshakes on two threads while the anchors are reloaded (A stays in every version). */
static void test_reload_while_handshaking(void **state)
{
	struct estkit_server *srv = NULL;
	struct worker w[2];
	pthread_t th[2];
	int i, reloads = 0;

	(void)state;
	put_files(anchors, a_pem, NULL);
	srv = tlp_server_new(anchors, implicit);
	put_files(implicit, b_pem, NULL);
	for (i = 0; i < 2; i++) {
		w[i].srv = srv;
		w[i].ok = w[i].failed = 0;
		assert_int_equal(pthread_create(&th[i], NULL, handshakes, &w[i]), 0);
	}
	for (i = 0; i < 60; i++) {
		put_files(anchors, a_pem, i % 2 ? b_pem : NULL);
		if (estkit_server_trust_reload(srv) == ESTKIT_OK)
			reloads++;
		usleep(1000);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(w[0].failed + w[1].failed, 0);
	assert_int_equal(w[0].ok + w[1].ok, 80);
	assert_true(reloads > 0);
	estkit_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reload_applies_to_new_and_kept_connections),
	    cmocka_unit_test(test_reload_bad_file_keeps_old),
	    cmocka_unit_test(test_reload_keeps_added_and_split),
	    cmocka_unit_test(test_reload_without_anchors),
	    cmocka_unit_test(test_reload_while_handshaking),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
