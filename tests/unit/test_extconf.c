/*
 * test_extconf.c - backend = proxy | command settings: argv splitting
 * (quotes, escapes, limits, malformed lines), key values, [backend]
 * inheritance and the whole-section checks, through estd_config_load too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/extconf.h"
#include "config.h"

struct split_case {
	const char *line;
	int argc;                 /* -1: refused */
	const char *argv[5];
	const char *msg;          /* part of the message when refused */
};

static const struct split_case split_cases[] = {
	{ "/bin/prog", 1, { "/bin/prog" }, NULL },
	{ "  /bin/prog   a\tb  ", 3, { "/bin/prog", "a", "b" }, NULL },
	{ "/bin/prog 'a b' \"c d\"", 3, { "/bin/prog", "a b", "c d" }, NULL },
	{ "/bin/prog 'it''s' x\\ y", 3, { "/bin/prog", "its", "x y" }, NULL },
	{ "/bin/prog \"a \\\"q\\\" \\\\ \\n\"", 2, { "/bin/prog", "a \"q\" \\ \\n" }, NULL },
	{ "/bin/prog '$HOME' `id` ;rm", 4, { "/bin/prog", "$HOME", "`id`", ";rm" }, NULL },
	{ "/bin/prog ''", 2, { "/bin/prog", "" }, NULL },
	{ "/bin/prog 'open", -1, { NULL }, "unterminated" },
	{ "/bin/prog \"open", -1, { NULL }, "unterminated" },
	{ "", -1, { NULL }, "program is required" },
	{ "   \t ", -1, { NULL }, "program is required" },
	{ "'' arg", -1, { NULL }, "program is required" },
};

static void test_argv_split_table(void **state)
{
	size_t i;
	int j;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		char **argv = NULL;
		char msg[256] = "";
		int n = estd_ext_argv_split(c->line, &argv, msg, sizeof(msg));

		if (n != c->argc)
			fail_msg("case %zu '%s': %d words (%s), want %d", i, c->line, n, msg, c->argc);
		if (n < 0) {
			assert_null(argv);
			assert_non_null(strstr(msg, c->msg));
			continue;
		}
		for (j = 0; j < n; j++)
			assert_string_equal(argv[j], c->argv[j]);
		assert_null(argv[n]);
		estd_ext_argv_free(argv);
	}
}

static void test_argv_split_limits(void **state)
{
	size_t big = ESTD_EXT_MAX_ARG + 10, i;
	char *line = malloc(big + 16), **argv = NULL, msg[256];

	assert_non_null(line);
	/* one word too long */
	memcpy(line, "/bin/x ", 7);
	memset(line + 7, 'a', big);
	line[7 + big] = '\0';
	assert_int_equal(estd_ext_argv_split(line, &argv, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "longer"));
	/* exactly the limit is fine */
	line[7 + ESTD_EXT_MAX_ARG] = '\0';
	assert_int_equal(estd_ext_argv_split(line, &argv, msg, sizeof(msg)), 2);
	estd_ext_argv_free(argv);
	free(line);
	/* too many words */
	line = malloc(3 * (ESTD_EXT_MAX_ARGS + 2));
	assert_non_null(line);
	for (i = 0; i < ESTD_EXT_MAX_ARGS + 1; i++)
		memcpy(line + 2 * i, "a ", 2);
	line[2 * (ESTD_EXT_MAX_ARGS + 1)] = '\0';
	assert_int_equal(estd_ext_argv_split(line, &argv, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "more than"));
	free(line);
}

struct set_case {
	const char *key, *value;
	int ok;
};

static const struct set_case set_cases[] = {
	{ "backend", "proxy", 1 },       { "backend", "command", 1 },
	{ "backend", "ca", 1 },          { "backend", "Proxy", 0 },
	{ "backend", "", 0 },            { "upstream_url", "https://ca:8443/x", 1 },
	{ "upstream_url", "http://ca", 0 }, { "upstream_url", "https://a b", 0 },
	{ "upstream_timeout", "0", 0 },  { "upstream_timeout", "601", 0 },
	{ "upstream_timeout", "5", 1 },  { "upstream_timeout", "5s", 0 },
	{ "upstream_user", "ra", 1 },    { "upstream_user", "r:a", 0 },
	{ "command_input", "der", 1 },   { "command_input", "pem", 0 },
	{ "command_max_output", "100", 0 }, { "command_max_output", "99999999999", 0 },
	{ "command_max_output", "4096", 1 }, { "command_concurrency", "-1", 0 },
	{ "command", "'unterminated", 0 }, { "nosuchkey", "1", 0 },
	{ "upstream_keepalive", "0", 1 }, { "upstream_keepalive", "3600", 1 },
	{ "upstream_keepalive", "3601", 0 }, { "upstream_keepalive", "-1", 0 },
	{ "upstream_keepalive", "15s", 0 }, { "upstream_keepalive", "", 0 },
};

static void test_set_values_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		struct estd_ext_conf *c = NULL;
		char msg[256] = "";
		int ok = estd_ext_conf_set(&c, set_cases[i].key, set_cases[i].value, "/etc/estd", msg,
					   sizeof(msg));

		if (ok != set_cases[i].ok)
			fail_msg("%s = '%s': %d (%s)", set_cases[i].key, set_cases[i].value, ok, msg);
		estd_ext_conf_free(c);
	}
}

static void test_duplicate_key_and_relative_paths(void **state)
{
	struct estd_ext_conf *c = NULL;
	char msg[256];

	assert_true(estd_ext_conf_set(&c, "command", "bin/sign 'a b'", "/etc/estd", msg, 256));
	assert_string_equal(c->argv[0], "/etc/estd/bin/sign");
	assert_string_equal(c->argv[1], "a b");
	assert_int_equal(c->argc, 2);
	assert_false(estd_ext_conf_set(&c, "command", "/bin/x", "/etc/estd", msg, 256));
	assert_non_null(strstr(msg, "duplicate"));
	assert_true(estd_ext_conf_set(&c, "upstream_trust", "up.pem", "/etc/estd", msg, 256));
	assert_string_equal(c->upstream_trust, "/etc/estd/up.pem");
	/* defaults */
	assert_int_equal(c->command_timeout, 30);
	assert_int_equal(c->command_max_output, 1024 * 1024);
	assert_int_equal(c->upstream_timeout, 20);
	assert_int_equal(c->upstream_keepalive, 15);
	assert_int_equal(c->command_der, 0);
	estd_ext_conf_free(c);
}

static void test_finish_inherits_and_checks(void **state)
{
	struct estd_ext_conf *g = NULL, *l = NULL, *l2 = NULL, *bad = NULL;
	char msg[256];

	assert_true(estd_ext_conf_set(&g, "backend", "proxy", "/d", msg, 256));
	assert_true(estd_ext_conf_set(&g, "upstream_url", "https://up", "/d", msg, 256));
	assert_true(estd_ext_conf_set(&g, "upstream_trust", "t.pem", "/d", msg, 256));
	assert_true(estd_ext_conf_set(&g, "upstream_timeout", "7", "/d", msg, 256));
	/* a label with nothing of its own takes everything */
	assert_true(estd_ext_conf_finish(&l, g, msg, 256));
	assert_non_null(l);
	assert_int_equal(l->kind, ESTD_EXT_PROXY);
	assert_string_equal(l->upstream_url, "https://up");
	assert_int_equal(l->upstream_timeout, 7);
	/* a label's own key wins; backend = ca opts out */
	assert_true(estd_ext_conf_set(&l2, "upstream_timeout", "3", "/d", msg, 256));
	assert_true(estd_ext_conf_finish(&l2, g, msg, 256));
	assert_int_equal(l2->upstream_timeout, 3);
	assert_string_equal(l2->upstream_trust, "/d/t.pem");
	estd_ext_conf_free(l2);
	l2 = NULL;
	assert_true(estd_ext_conf_set(&l2, "backend", "ca", "/d", msg, 256));
	assert_true(estd_ext_conf_finish(&l2, g, msg, 256));
	assert_null(l2);
	/* no global, no keys: the CA */
	assert_true(estd_ext_conf_finish(&l2, NULL, msg, 256));
	assert_null(l2);
	/* whole-section rules */
	assert_true(estd_ext_conf_set(&bad, "backend", "command", "/d", msg, 256));
	assert_false(estd_ext_conf_finish(&bad, NULL, msg, 256));
	assert_non_null(strstr(msg, "needs command"));
	estd_ext_conf_free(bad);
	bad = NULL;
	assert_true(estd_ext_conf_set(&bad, "upstream_cert", "ra.pem", "/d", msg, 256));
	assert_false(estd_ext_conf_finish(&bad, g, msg, 256));
	assert_non_null(strstr(msg, "go together"));
	estd_ext_conf_free(bad);
	estd_ext_conf_free(l);
	estd_ext_conf_free(g);
}

/* Through the real loader: [backend] defaults, a label, line numbers in errors. */
static void test_config_file(void **state)
{
	char dir[] = "/tmp/estd-extconf-XXXXXX", path[PATH_MAX];
	const char *text =
		"[server]\ntls_cert = tls.pem\ntls_key = tls.key\n"
		"[ca]\ncert = ca.pem\nkey = ca.key\n"
		"[backend]\nbackend = proxy\nupstream_url = https://ca.example\n"
		"upstream_trust = up.pem\n"
		"[label]\n"
		"[label local]\nbackend = ca\n"
		"[label sign]\nbackend = command\ncommand = /usr/bin/sign \"x y\"\n"
		"command_timeout = 5\n";
	struct estd_config *cfg = NULL;
	char *err = NULL;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/estd.conf", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	if (estd_config_load(path, &cfg, &err) != ESTKIT_OK)
		fail_msg("%s", err);
	assert_int_equal(estd_config_label(cfg, "")->ext->kind, ESTD_EXT_PROXY);
	assert_null(estd_config_label(cfg, "local")->ext);
	assert_int_equal(estd_config_label(cfg, "sign")->ext->kind, ESTD_EXT_COMMAND);
	assert_string_equal(estd_config_label(cfg, "sign")->ext->argv[1], "x y");
	assert_int_equal(estd_config_label(cfg, "sign")->ext->command_timeout, 5);
	estd_config_free(cfg);
	/* a bad value names its line; a key in [server] stays unknown */
	fp = fopen(path, "w");
	fputs("[server]\ntls_cert = t\ntls_key = k\n[ca]\ncert = c\nkey = k\n"
	      "[label x]\ncommand_timeout = 0\n", fp);
	fclose(fp);
	assert_int_equal(estd_config_load(path, &cfg, &err), ESTKIT_EINVAL);
	assert_non_null(strstr(err, ":8: command_timeout"));
	free(err);
	fp = fopen(path, "w");
	fputs("[server]\ntls_cert = t\ntls_key = k\nbackend = proxy\n[ca]\ncert = c\nkey = k\n", fp);
	fclose(fp);
	assert_int_equal(estd_config_load(path, &cfg, &err), ESTKIT_EPARSE);
	assert_non_null(strstr(err, "unknown key 'backend'"));
	free(err);
	fp = fopen(path, "w");
	fputs("[server]\ntls_cert = t\ntls_key = k\n[ca]\ncert = c\nkey = k\n"
	      "[label p]\nbackend = proxy\n", fp);
	fclose(fp);
	assert_int_equal(estd_config_load(path, &cfg, &err), ESTKIT_EINVAL);
	assert_non_null(strstr(err, "needs upstream_url"));
	free(err);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_split_table),
		cmocka_unit_test(test_argv_split_limits),
		cmocka_unit_test(test_set_values_table),
		cmocka_unit_test(test_duplicate_key_and_relative_paths),
		cmocka_unit_test(test_finish_inherits_and_checks),
		cmocka_unit_test(test_config_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
